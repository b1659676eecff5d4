//! Amounts and currencies as Pesaflow reads and writes them.
//!
//! An [`Amount`] keeps the exact text a client sent next to its value in
//! minor units, because Pesaflow hashes the text (`"5"` and `"5.00"` sign
//! differently) and computes with the value.
//! Pesaflow writes invoice amounts with two decimals (`"105.00"`) and, in
//! notifications, paid amounts in their shortest form (`"5"`); both
//! spellings are here so wire types never format money themselves.
//!
//! **Invariant:** no floats; arithmetic on [`Money`] saturates.

use std::fmt;

use crate::ledger::Money;

/// The largest amount accepted anywhere: 99,999,999.99, the ceiling a
/// university's eCitizen module enforces, and far below `i64` overflow.
pub(crate) const MAX_AMOUNT: Money = Money(9_999_999_999);

/// An amount as sent (for hashing) and as a value (for the ledger).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Amount {
    text: String,
    money: Money,
}

/// Why a text is not an acceptable amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AmountProblem {
    /// Not a plain decimal number (`"1e3"`, `"ten"`, `"1,000"`, `""`).
    #[error("is not a decimal number: {0:?}")]
    NotANumber(String),
    /// More than two decimals (`"1.005"`).
    #[error("has more than two decimals: {0:?}")]
    TooManyDecimals(String),
    /// Zero or negative where a payment is expected.
    #[error("must be greater than zero, got {0:?}")]
    NotPositive(String),
    /// Above [`MAX_AMOUNT`].
    #[error("is above the largest amount accepted (99999999.99): {0:?}")]
    TooLarge(String),
}

impl Amount {
    /// A positive amount.
    pub(crate) fn parse(text: &str) -> Result<Amount, AmountProblem> {
        let amount = Amount::parse_allowing_zero(text)?;
        if amount.money.cents() == 0 {
            return Err(AmountProblem::NotPositive(text.to_owned()));
        }
        Ok(amount)
    }

    /// A non-negative amount (`amount_settled_offline` may be `"0"`).
    pub(crate) fn parse_allowing_zero(text: &str) -> Result<Amount, AmountProblem> {
        let trimmed = text.trim();
        if let Some(rest) = trimmed.strip_prefix('-') {
            if Money::parse(rest).is_some() {
                return Err(AmountProblem::NotPositive(text.to_owned()));
            }
        }
        let (whole, fraction) = trimmed.split_once('.').unwrap_or((trimmed, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if !whole.is_empty() && digits(whole) && digits(fraction) && fraction.len() > 2 {
            return Err(AmountProblem::TooManyDecimals(text.to_owned()));
        }
        if whole.len() > 12 && digits(whole) {
            return Err(AmountProblem::TooLarge(text.to_owned()));
        }
        let money = Money::parse(trimmed).ok_or_else(|| AmountProblem::NotANumber(text.to_owned()))?;
        if money > MAX_AMOUNT {
            return Err(AmountProblem::TooLarge(text.to_owned()));
        }
        Ok(Amount { text: text.to_owned(), money })
    }

    /// Exactly what the client sent; this is what gets hashed.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    pub(crate) fn money(&self) -> Money {
        self.money
    }
}

/// `"105.00"`: how Pesaflow writes invoice amounts.
pub(crate) fn two_decimals(money: Money) -> String {
    money.to_string()
}

/// `"5"`, `"5.5"`, `"5.25"`: how Pesaflow writes paid amounts in notifications.
pub(crate) fn shortest(money: Money) -> String {
    let two = money.to_string();
    match two.split_once('.') {
        Some((whole, "00")) => whole.to_owned(),
        Some((whole, fraction)) => format!("{whole}.{}", fraction.trim_end_matches('0')),
        None => two,
    }
}

/// `a + b`, saturating at [`MAX_AMOUNT`]'s type limits rather than wrapping.
pub(crate) fn add(a: Money, b: Money) -> Money {
    Money(a.cents().saturating_add(b.cents()))
}

/// `a - b`, never below zero.
pub(crate) fn sub_floor_zero(a: Money, b: Money) -> Money {
    Money(a.cents().saturating_sub(b.cents()).max(0))
}

/// The currencies Pesaflow deployments bill in (Kenya, the East African
/// white-labels, and the dollar some services invoice in).
pub(crate) const CURRENCIES: &[&str] = &["KES", "TZS", "UGX", "RWF", "BIF", "SSP", "ETB", "USD", "EUR", "GBP"];

/// A known ISO 4217 code, upper case, exactly as Pesaflow expects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Currency(&'static str);

impl Currency {
    pub(crate) const KES: Currency = Currency("KES");

    /// Only the exact upper-case code: the code is hashed as sent, and the
    /// service's currency is compared with it.
    pub(crate) fn parse(text: &str) -> Option<Currency> {
        CURRENCIES.iter().find(|c| **c == text).map(|c| Currency(c))
    }

    pub(crate) fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_sent_text_is_kept_next_to_the_value() {
        let five = Amount::parse("5").unwrap();
        let five_00 = Amount::parse("5.00").unwrap();
        assert_eq!(five.money(), five_00.money());
        assert_ne!(five.text(), five_00.text());
        assert_eq!(Amount::parse("100.5").unwrap().money(), Money(10050));
    }

    #[test]
    fn each_bad_amount_says_what_is_wrong() {
        assert_eq!(Amount::parse("ten"), Err(AmountProblem::NotANumber("ten".into())));
        assert_eq!(Amount::parse("1e3"), Err(AmountProblem::NotANumber("1e3".into())));
        assert_eq!(Amount::parse("1,000"), Err(AmountProblem::NotANumber("1,000".into())));
        assert_eq!(Amount::parse(""), Err(AmountProblem::NotANumber("".into())));
        assert_eq!(Amount::parse("1.005"), Err(AmountProblem::TooManyDecimals("1.005".into())));
        assert_eq!(Amount::parse("0"), Err(AmountProblem::NotPositive("0".into())));
        assert_eq!(Amount::parse("-5"), Err(AmountProblem::NotPositive("-5".into())));
        assert_eq!(Amount::parse("100000000"), Err(AmountProblem::TooLarge("100000000".into())));
        assert_eq!(Amount::parse("99999999999999999999"), Err(AmountProblem::TooLarge("99999999999999999999".into())));
        assert_eq!(Amount::parse_allowing_zero("0").unwrap().money(), Money(0));
        assert_eq!(Amount::parse("99999999.99").unwrap().money(), MAX_AMOUNT);
    }

    #[test]
    fn amounts_are_written_the_two_ways_pesaflow_writes_them() {
        assert_eq!(two_decimals(Money(10500)), "105.00");
        assert_eq!(shortest(Money(500)), "5");
        assert_eq!(shortest(Money(550)), "5.5");
        assert_eq!(shortest(Money(525)), "5.25");
        assert_eq!(shortest(Money(0)), "0");
    }

    #[test]
    fn currencies_are_exact_known_codes() {
        assert_eq!(Currency::parse("KES"), Some(Currency::KES));
        assert_eq!(Currency::parse("kes"), None);
        assert_eq!(Currency::parse("XYZ"), None);
        assert_eq!(Currency::parse("SSP").map(Currency::as_str), Some("SSP"));
    }

    #[test]
    fn money_arithmetic_saturates() {
        assert_eq!(add(Money(i64::MAX), Money(1)), Money(i64::MAX));
        assert_eq!(sub_floor_zero(Money(5), Money(7)), Money(0));
    }

    proptest! {
        #[test]
        fn any_text_parses_or_is_refused_without_panicking(text in ".{0,30}") {
            if let Ok(amount) = Amount::parse(&text) {
                prop_assert!(amount.money() > Money(0) && amount.money() <= MAX_AMOUNT);
                prop_assert_eq!(amount.text(), text.as_str());
            }
        }

        #[test]
        fn both_spellings_parse_back_to_the_same_value(cents in 1i64..=MAX_AMOUNT.0) {
            let money = Money(cents);
            prop_assert_eq!(Amount::parse(&two_decimals(money)).unwrap().money(), money);
            prop_assert_eq!(Amount::parse(&shortest(money)).unwrap().money(), money);
        }
    }
}
