//! Mobile-money markets: the countries whose subscribers the sandbox serves,
//! their MSISDN rules and their currencies.
//!
//! A subscriber is one person with one wallet per market: the ledger keys a
//! customer's account by market and MSISDN, so every provider of a market
//! (Daraja and Pesaflow's M-Pesa prompts in Kenya) moves the same money, and
//! providers of different markets can never touch each other's wallets.
//!
//! **Invariant:** an MSISDN belongs to at most one market (country codes do
//! not prefix each other), and every check here is total.

use std::fmt;

use serde::Serialize;

/// An ISO 4217 currency the ledger keeps accounts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Currency {
    #[serde(rename = "KES")]
    Kes,
    #[serde(rename = "MZN")]
    Mzn,
    #[serde(rename = "GHS")]
    Ghs,
    #[serde(rename = "TZS")]
    Tzs,
    #[serde(rename = "LSL")]
    Lsl,
    #[serde(rename = "USD")]
    Usd,
}

impl Currency {
    pub const ALL: [Currency; 6] =
        [Currency::Kes, Currency::Mzn, Currency::Ghs, Currency::Tzs, Currency::Lsl, Currency::Usd];

    /// The ISO 4217 code (`KES`).
    pub fn code(self) -> &'static str {
        match self {
            Currency::Kes => "KES",
            Currency::Mzn => "MZN",
            Currency::Ghs => "GHS",
            Currency::Tzs => "TZS",
            Currency::Lsl => "LSL",
            Currency::Usd => "USD",
        }
    }

    pub fn parse(code: &str) -> Option<Currency> {
        Currency::ALL.into_iter().find(|c| c.code().eq_ignore_ascii_case(code.trim()))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A country whose mobile-money subscribers the sandbox knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Market {
    #[serde(rename = "KE")]
    Kenya,
    #[serde(rename = "MZ")]
    Mozambique,
    #[serde(rename = "GH")]
    Ghana,
    #[serde(rename = "TZ")]
    Tanzania,
    #[serde(rename = "LS")]
    Lesotho,
    #[serde(rename = "CD")]
    DrCongo,
}

impl Market {
    pub const ALL: [Market; 6] =
        [Market::Kenya, Market::Mozambique, Market::Ghana, Market::Tanzania, Market::Lesotho, Market::DrCongo];

    /// The ISO 3166 alpha-2 code (`KE`).
    pub fn code(self) -> &'static str {
        match self {
            Market::Kenya => "KE",
            Market::Mozambique => "MZ",
            Market::Ghana => "GH",
            Market::Tanzania => "TZ",
            Market::Lesotho => "LS",
            Market::DrCongo => "CD",
        }
    }

    /// The international dialling code, without `+`.
    pub fn country_code(self) -> &'static str {
        match self {
            Market::Kenya => "254",
            Market::Mozambique => "258",
            Market::Ghana => "233",
            Market::Tanzania => "255",
            Market::Lesotho => "266",
            Market::DrCongo => "243",
        }
    }

    /// Digits after the country code in a subscriber's number.
    pub fn subscriber_digits(self) -> usize {
        match self {
            Market::Lesotho => 8,
            _ => 9,
        }
    }

    /// The currency wallets of this market hold.
    pub fn currency(self) -> Currency {
        match self {
            Market::Kenya => Currency::Kes,
            Market::Mozambique => Currency::Mzn,
            Market::Ghana => Currency::Ghs,
            Market::Tanzania => Currency::Tzs,
            Market::Lesotho => Currency::Lsl,
            Market::DrCongo => Currency::Usd,
        }
    }

    /// Whether `msisdn` is a subscriber number of this market in
    /// international form without `+` (`254708374149`).
    pub fn is_msisdn(self, msisdn: &str) -> bool {
        msisdn.len() == self.country_code().len() + self.subscriber_digits()
            && msisdn.starts_with(self.country_code())
            && msisdn.bytes().all(|b| b.is_ascii_digit())
    }

    /// The market an MSISDN belongs to, if any.
    pub fn of_msisdn(msisdn: &str) -> Option<Market> {
        Market::ALL.into_iter().find(|m| m.is_msisdn(msisdn))
    }

    /// `KE`, `MZ`, ... or the country's name, case-insensitively.
    pub fn parse(text: &str) -> Option<Market> {
        let text = text.trim();
        Market::ALL.into_iter().find(|m| m.code().eq_ignore_ascii_case(text))
    }

    /// An example MSISDN, for messages that explain the rule.
    pub fn example(self) -> String {
        format!("{}{}", self.country_code(), "7".repeat(self.subscriber_digits()))
    }
}

impl fmt::Display for Market {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn msisdns_belong_to_their_market() {
        assert_eq!(Market::of_msisdn("254708374149"), Some(Market::Kenya));
        assert_eq!(Market::of_msisdn("258843330333"), Some(Market::Mozambique));
        assert_eq!(Market::of_msisdn("26650000000"), Some(Market::Lesotho));
        assert_eq!(Market::of_msisdn("25470837414"), None, "one digit short");
        assert_eq!(Market::of_msisdn("+254708374149"), None, "no plus sign");
        assert_eq!(Market::of_msisdn("0708374149"), None, "not international");
    }

    #[test]
    fn country_codes_do_not_prefix_each_other() {
        for a in Market::ALL {
            for b in Market::ALL {
                if a != b {
                    assert!(!a.country_code().starts_with(b.country_code()), "{a} and {b}");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn an_msisdn_has_at_most_one_market(text in "[0-9+ ]{0,16}") {
            let markets = Market::ALL.into_iter().filter(|m| m.is_msisdn(&text)).count();
            prop_assert!(markets <= 1);
        }
    }
}
