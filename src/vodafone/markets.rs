//! The markets of the M-Pesa OpenAPI and the portal's own (Mozambique).
//!
//! Data only, so it can move into the core's generic markets module: the
//! OpenAPI context segment, the `input_Country` and `input_Currency` values
//! the documentation's market table pairs with it (§1), the ISO country, the
//! MSISDN rule (country calling code and subscriber digits) and the UTC
//! offset of the market's business day.
//! Currencies all have two minor units in the ledger (`Money` is cents).

/// One market.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Market {
    Ghana,
    Tanzania,
    Lesotho,
    DrCongo,
    Mozambique,
}

impl Market {
    pub(crate) const ALL: [Market; 5] =
        [Market::Ghana, Market::Tanzania, Market::Lesotho, Market::DrCongo, Market::Mozambique];

    /// The OpenAPI URL context value (`{market}` in the path).
    pub(crate) fn context(self) -> &'static str {
        match self {
            Market::Ghana => "vodafoneGHA",
            Market::Tanzania => "vodacomTZN",
            Market::Lesotho => "vodacomLES",
            Market::DrCongo => "vodacomDRC",
            Market::Mozambique => "vodacomMOZ",
        }
    }

    pub(crate) fn from_context(context: &str) -> Option<Market> {
        Market::ALL.into_iter().find(|m| m.context() == context)
    }

    /// The market's name, for people.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Market::Ghana => "Vodafone Ghana",
            Market::Tanzania => "Vodacom Tanzania",
            Market::Lesotho => "Vodacom Lesotho",
            Market::DrCongo => "Vodacom DR Congo",
            Market::Mozambique => "Vodacom Mozambique",
        }
    }

    /// `input_Country` as the documentation's market table spells it.
    pub(crate) fn country(self) -> &'static str {
        match self {
            Market::Ghana => "GHA",
            Market::Tanzania => "TZN",
            Market::Lesotho => "LES",
            Market::DrCongo => "DRC",
            Market::Mozambique => "MOZ",
        }
    }

    /// `input_Currency` and the ledger currency (DR Congo's M-Pesa runs in USD).
    pub(crate) fn currency(self) -> &'static str {
        match self {
            Market::Ghana => "GHS",
            Market::Tanzania => "TZS",
            Market::Lesotho => "LSL",
            Market::DrCongo => "USD",
            Market::Mozambique => "MZN",
        }
    }

    /// The country calling code an MSISDN starts with.
    pub(crate) fn calling_code(self) -> &'static str {
        match self {
            Market::Ghana => "233",
            Market::Tanzania => "255",
            Market::Lesotho => "266",
            Market::DrCongo => "243",
            Market::Mozambique => "258",
        }
    }

    /// Subscriber digits after the calling code (Lesotho numbers are 8
    /// digits; a Lesotho integrator's notes confirm 266 + 8).
    pub(crate) fn subscriber_digits(self) -> usize {
        match self {
            Market::Lesotho => 8,
            _ => 9,
        }
    }

    /// Whether `msisdn` is this market's international form without `+`.
    pub(crate) fn is_msisdn(self, msisdn: &str) -> bool {
        msisdn
            .strip_prefix(self.calling_code())
            .is_some_and(|rest| rest.len() == self.subscriber_digits() && rest.bytes().all(|b| b.is_ascii_digit()))
    }

    /// The international form of an MSISDN written either internationally
    /// (`258843330333`) or locally without the trunk prefix (`843330333`),
    /// as the portal's SDKs accept it (paymentsds validates
    /// `^((00|\+)?258)?8[45][0-9]{7}$` and sends the value unchanged).
    pub(crate) fn normalize_msisdn(self, msisdn: &str) -> Option<String> {
        if self.is_msisdn(msisdn) {
            return Some(msisdn.to_owned());
        }
        let local = msisdn.len() == self.subscriber_digits() && msisdn.bytes().all(|b| b.is_ascii_digit());
        local.then(|| format!("{}{msisdn}", self.calling_code()))
    }

    /// The core's market: the ledger keys customers' wallets by it.
    pub(crate) fn core(self) -> crate::markets::Market {
        match self {
            Market::Ghana => crate::markets::Market::Ghana,
            Market::Tanzania => crate::markets::Market::Tanzania,
            Market::Lesotho => crate::markets::Market::Lesotho,
            Market::DrCongo => crate::markets::Market::DrCongo,
            Market::Mozambique => crate::markets::Market::Mozambique,
        }
    }

    /// The ledger currency of the market's wallets.
    pub(crate) fn ledger_currency(self) -> crate::markets::Currency {
        self.core().currency()
    }

    /// The market's calendar day at an instant (its business day).
    pub(crate) fn today(self, at: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDate {
        self.local(at).date_naive()
    }

    /// An instant in the market's local time.
    pub(crate) fn local(self, at: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::FixedOffset> {
        use chrono::Offset;
        let offset =
            chrono::FixedOffset::east_opt(self.utc_offset_minutes().saturating_mul(60)).unwrap_or(chrono::Utc.fix());
        at.with_timezone(&offset)
    }

    /// The market's business-day offset from UTC, in minutes (DR Congo: Kinshasa).
    pub(crate) fn utc_offset_minutes(self) -> i32 {
        match self {
            Market::Ghana => 0,
            Market::DrCongo => 60,
            Market::Lesotho | Market::Mozambique => 120,
            Market::Tanzania => 180,
        }
    }
}

impl std::fmt::Display for Market {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.context())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_market_table_pairs_context_country_and_currency_as_documented() {
        let table: Vec<_> = Market::ALL.iter().map(|m| (m.context(), m.country(), m.currency())).collect();
        assert_eq!(
            table,
            [
                ("vodafoneGHA", "GHA", "GHS"),
                ("vodacomTZN", "TZN", "TZS"),
                ("vodacomLES", "LES", "LSL"),
                ("vodacomDRC", "DRC", "USD"),
                ("vodacomMOZ", "MOZ", "MZN"),
            ]
        );
        assert_eq!(Market::from_context("vodacomMZ"), None, "a third-party spelling is not a market");
    }

    #[test]
    fn msisdns_need_the_calling_code_and_the_right_number_of_digits() {
        assert!(Market::Mozambique.is_msisdn("258843330333"));
        assert!(!Market::Mozambique.is_msisdn("25884333033"));
        assert!(!Market::Mozambique.is_msisdn("843330333"));
        assert!(Market::Lesotho.is_msisdn("26658001234"));
        assert!(!Market::Lesotho.is_msisdn("266580012345"));
        assert!(!Market::Ghana.is_msisdn("233-24123456"));
        assert!(!Market::Tanzania.is_msisdn("000000000001"));
    }

    #[test]
    fn each_market_keeps_its_wallets_in_its_documented_currency() {
        for m in Market::ALL {
            assert_eq!(m.ledger_currency().code(), m.currency(), "{m}");
            assert_eq!(m.core().country_code(), m.calling_code(), "{m}");
        }
    }

    #[test]
    fn local_numbers_gain_the_calling_code_and_nothing_else_is_guessed() {
        let mz = Market::Mozambique;
        assert_eq!(mz.normalize_msisdn("843330333").as_deref(), Some("258843330333"));
        assert_eq!(mz.normalize_msisdn("258843330333").as_deref(), Some("258843330333"));
        assert_eq!(mz.normalize_msisdn("+258843330333"), None);
        assert_eq!(mz.normalize_msisdn("0843330333"), None);
    }
}
