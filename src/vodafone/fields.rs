//! Reading `input_*` fields the way the gateways validate them.
//!
//! The rules are the documentation's regexes (wire contract §3), written as
//! character classes and lengths rather than with a regex engine:
//! `^[0-9a-zA-Z \w+]{1,20}$` is "1 to 20 letters, digits, spaces, `_` or `+`"
//! ([`Charset::Text`]), and so on. Values are not trimmed: the gateways are
//! strict about references (an integrator's `" T12344C"` failed until the
//! space went), so a value with a space where the class has none fails.
//!
//! Failures map to codes in one order, the same for every API:
//! 1. a body that is not a JSON object: `INS-21`;
//! 2. any required field missing, `null` or empty: `INS-20`, naming all of them;
//! 3. the first field, in documented order, whose value breaks its rule: the
//!    field's own code where the API's table has one (`INS-13` shortcodes,
//!    `INS-15` amounts, `INS-17` transaction references, `INS-19` third-party
//!    references, ...), `INS-21` otherwise.
//!
//! Values may arrive as JSON strings or numbers (abdulmueid's PHP client and
//! the Dart SDK send `input_Amount` as a number); a number reads as its
//! decimal text. Booleans, arrays and objects break the rule.
//! Unknown fields are ignored, as real gateways ignore them: several SDKs
//! send extra ones (paymentsds JS sends `input_Amount` to the reversal).

use serde_json::{Map, Value};

use crate::ledger::Money;
use crate::vodafone::api::{Api, Profile};
use crate::vodafone::codes::Ins;
use crate::vodafone::error::VodafoneError;

/// The characters a rule allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Charset {
    /// `[0-9]`.
    Digits,
    /// `[0-9A-Za-z]`.
    Alnum,
    /// `[0-9a-zA-Z \w+]`: letters, digits, space, `_` and `+`.
    Text,
    /// `[a-zA-Z]`.
    Letters,
    /// `[0-1]`.
    Bit,
    /// `[0-9a-zA-Z \w=]`: the MSISDN token's class.
    Token,
}

impl Charset {
    fn allows(self, b: u8) -> bool {
        match self {
            Charset::Digits => b.is_ascii_digit(),
            Charset::Alnum => b.is_ascii_alphanumeric(),
            Charset::Text => b.is_ascii_alphanumeric() || matches!(b, b' ' | b'_' | b'+'),
            Charset::Letters => b.is_ascii_alphabetic(),
            Charset::Bit => matches!(b, b'0' | b'1'),
            Charset::Token => b.is_ascii_alphanumeric() || matches!(b, b' ' | b'_' | b'='),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Charset::Digits => "digits",
            Charset::Alnum => "letters or digits",
            Charset::Text => "letters, digits, spaces, '_' or '+'",
            Charset::Letters => "letters",
            Charset::Bit => "'0' or '1'",
            Charset::Token => "letters, digits, spaces, '_' or '='",
        }
    }
}

/// A documented field rule: a character class and a length range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rule {
    pub(crate) charset: Charset,
    pub(crate) min: usize,
    pub(crate) max: usize,
}

impl Rule {
    pub(crate) const fn new(charset: Charset, min: usize, max: usize) -> Rule {
        Rule { charset, min, max }
    }

    pub(crate) fn check(&self, value: &str) -> bool {
        (self.min..=self.max).contains(&value.len()) && value.bytes().all(|b| self.charset.allows(b))
    }

    pub(crate) fn describe(&self) -> String {
        if self.min == self.max {
            format!("exactly {} {}", self.min, self.charset.describe())
        } else {
            format!("{} to {} {}", self.min, self.max, self.charset.describe())
        }
    }
}

/// The documented rules (§3), by what they constrain.
pub(crate) mod rules {
    use super::{Charset, Rule};

    /// `input_ServiceProviderCode`, `input_PrimaryPartyCode`, `input_ReceiverPartyCode`.
    pub(crate) const SHORTCODE: Rule = Rule::new(Charset::Alnum, 4, 12);
    /// `input_CustomerMSISDN` (`^[0-9]{12,14}$`; 11 admitted for Lesotho's
    /// `266` + 8 digits, which the documented rule would refuse).
    pub(crate) const MSISDN: Rule = Rule::new(Charset::Digits, 11, 14);
    pub(crate) const CURRENCY: Rule = Rule::new(Charset::Letters, 1, 3);
    pub(crate) const TRANSACTION_REFERENCE: Rule = Rule::new(Charset::Text, 1, 20);
    pub(crate) const THIRD_PARTY_CONVERSATION_ID: Rule = Rule::new(Charset::Text, 1, 40);
    pub(crate) const ITEMS_DESC: Rule = Rule::new(Charset::Text, 1, 256);
    /// `input_ThirdPartyReference` of direct debits and of the portal.
    pub(crate) const THIRD_PARTY_REFERENCE: Rule = Rule::new(Charset::Alnum, 1, 32);
    pub(crate) const TRANSACTION_ID: Rule = Rule::new(Charset::Alnum, 1, 20);
    /// `input_QueryReference`: the three alternatives of the documented
    /// regex together are 1 to 32 alphanumerics.
    pub(crate) const QUERY_REFERENCE: Rule = Rule::new(Charset::Alnum, 1, 32);
    pub(crate) const AGREED_TC: Rule = Rule::new(Charset::Bit, 1, 1);
    pub(crate) const DATE: Rule = Rule::new(Charset::Digits, 8, 8);
    pub(crate) const TWO_DIGITS: Rule = Rule::new(Charset::Digits, 2, 2);
    pub(crate) const MSISDN_TOKEN: Rule = Rule::new(Charset::Token, 1, 26);
    pub(crate) const MANDATE_ID: Rule = Rule::new(Charset::Digits, 1, 12);
    /// The portal's initiator identifier and security credential (plain
    /// text issued by Vodacom, e.g. `MPesa2018` / `Mpesa2019`).
    pub(crate) const PORTAL_SECRET: Rule = Rule::new(Charset::Text, 1, 64);
    /// The portal's `input_QueryReference`: its documentation's examples
    /// include `AG_20180206_00005e7dccc6da08efa8`, with underscores.
    pub(crate) const PORTAL_QUERY_REFERENCE: Rule = Rule::new(Charset::Text, 1, 40);
}

/// The wire names of the request fields.
pub(crate) mod names {
    pub(crate) const AMOUNT: &str = "input_Amount";
    pub(crate) const CUSTOMER_MSISDN: &str = "input_CustomerMSISDN";
    pub(crate) const COUNTRY: &str = "input_Country";
    pub(crate) const CURRENCY: &str = "input_Currency";
    pub(crate) const SERVICE_PROVIDER_CODE: &str = "input_ServiceProviderCode";
    pub(crate) const PRIMARY_PARTY_CODE: &str = "input_PrimaryPartyCode";
    pub(crate) const RECEIVER_PARTY_CODE: &str = "input_ReceiverPartyCode";
    pub(crate) const TRANSACTION_REFERENCE: &str = "input_TransactionReference";
    pub(crate) const THIRD_PARTY_REFERENCE: &str = "input_ThirdPartyReference";
    pub(crate) const THIRD_PARTY_CONVERSATION_ID: &str = "input_ThirdPartyConversationID";
    pub(crate) const PURCHASED_ITEMS_DESC: &str = "input_PurchasedItemsDesc";
    pub(crate) const PAYMENT_ITEMS_DESC: &str = "input_PaymentItemsDesc";
    pub(crate) const TRANSACTION_ID: &str = "input_TransactionID";
    pub(crate) const REVERSAL_AMOUNT: &str = "input_ReversalAmount";
    pub(crate) const SECURITY_CREDENTIAL: &str = "input_SecurityCredential";
    pub(crate) const INITIATOR_IDENTIFIER: &str = "input_InitiatorIdentifier";
    pub(crate) const QUERY_REFERENCE: &str = "input_QueryReference";
    pub(crate) const KYC_QUERY_TYPE: &str = "input_KycQueryType";
    /// The spelling of the documentation's query-string sample.
    pub(crate) const KYC_QUERY_TYPE_SAMPLE: &str = "input_KYCQueryType";
    pub(crate) const AGREED_TC: &str = "input_AgreedTC";
    pub(crate) const FIRST_PAYMENT_DATE: &str = "input_FirstPaymentDate";
    pub(crate) const FREQUENCY: &str = "input_Frequency";
    pub(crate) const START_RANGE_OF_DAYS: &str = "input_StartRangeOfDays";
    pub(crate) const END_RANGE_OF_DAYS: &str = "input_EndRangeOfDays";
    pub(crate) const EXPIRY_DATE: &str = "input_ExpiryDate";
    pub(crate) const MSISDN_TOKEN: &str = "input_MsisdnToken";
    pub(crate) const MANDATE_ID: &str = "input_MandateID";
    pub(crate) const QUERY_BALANCE_AMOUNT: &str = "input_QueryBalanceAmount";
    pub(crate) const BALANCE_AMOUNT: &str = "input_BalanceAmount";
}

/// An amount as the gateways take it: decimal text, in the market's minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Amount(pub(crate) Money);

/// Why an amount was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AmountProblem {
    #[error("is not a decimal number (`^\\d*\\.?\\d+$`: digits, at most one '.', a digit last)")]
    NotDecimal,
    #[error("has more than two decimals")]
    TooManyDecimals,
    #[error("is zero")]
    Zero,
    #[error("is too large")]
    TooLarge,
}

/// Parses `10`, `10.5`, `.5`, `10.50`, `10.500` exactly (no floats);
/// refuses `10.`, `-1`, `1e3`, `0`, and a third significant decimal.
pub(crate) fn parse_amount(text: &str) -> Result<Amount, AmountProblem> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let has_dot = text.contains('.');
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(frac) || (has_dot && frac.is_empty()) || (whole.is_empty() && frac.is_empty()) {
        return Err(AmountProblem::NotDecimal);
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > 2 {
        return Err(AmountProblem::TooManyDecimals);
    }
    let whole = whole.trim_start_matches('0');
    if whole.len() > 13 {
        return Err(AmountProblem::TooLarge);
    }
    let units: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| AmountProblem::TooLarge)? };
    let cents: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().map_err(|_| AmountProblem::NotDecimal)?.saturating_mul(10),
        _ => frac.parse().map_err(|_| AmountProblem::NotDecimal)?,
    };
    let total = units.checked_mul(100).and_then(|u| u.checked_add(cents)).ok_or(AmountProblem::TooLarge)?;
    if total == 0 {
        return Err(AmountProblem::Zero);
    }
    Ok(Amount(Money(total)))
}

/// The parameters of a GET request, as a map like a JSON body's (first
/// occurrence wins; `+` and `%20` both read as a space, as form decoding does).
pub(crate) fn query_map(query: Option<&str>) -> Map<String, Value> {
    let mut map = Map::new();
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        map.entry(key.into_owned()).or_insert_with(|| Value::String(value.into_owned()));
    }
    map
}

/// Reads fields of one request and words its refusals.
pub(crate) struct Reader<'a> {
    body: &'a Map<String, Value>,
    profile: Profile,
    api: Api,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(body: &'a Map<String, Value>, profile: Profile, api: Api) -> Reader<'a> {
        Reader { body, profile, api }
    }

    /// Parses a JSON body into the map the parsers read; an empty body is an
    /// empty map (so every field is missing: `INS-20`).
    pub(crate) fn body(bytes: &[u8], profile: Profile, api: Api) -> Result<Map<String, Value>, VodafoneError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Map::new());
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(other) => Err(VodafoneError::new(
                profile,
                Some(api),
                Ins::VALIDATION_FAILED,
                format!("the body is {}, not a JSON object of input_* fields", crate::fields::type_name(&other)),
            )),
            Err(e) => Err(VodafoneError::new(
                profile,
                Some(api),
                Ins::VALIDATION_FAILED,
                format!("the body is not JSON (error at line {} column {})", e.line(), e.column()),
            )),
        }
    }

    pub(crate) fn error(&self, ins: Ins, diagnosis: impl Into<String>) -> VodafoneError {
        VodafoneError::new(self.profile, Some(self.api), ins, diagnosis)
    }

    /// `INS-20` naming every listed field that is missing, null or empty.
    pub(crate) fn require(&self, names: &[&str]) -> Result<(), VodafoneError> {
        let missing: Vec<&str> = names.iter().copied().filter(|name| self.is_absent(name)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(self.error(Ins::MISSING_PARAMETERS, format!("missing or empty: {}", missing.join(", "))))
    }

    fn is_absent(&self, name: &str) -> bool {
        match self.body.get(name) {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.is_empty(),
            Some(_) => false,
        }
    }

    /// The field's text, `None` when absent. A boolean, array or object is
    /// refused with `invalid`.
    pub(crate) fn text(&self, name: &str, invalid: Ins) -> Result<Option<String>, VodafoneError> {
        match self.body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(_)) => Ok(crate::fields::text(self.body, name).ok()),
            Some(other) => {
                Err(self.error(invalid, format!("{name} is {}; it must be a string", crate::fields::type_name(other))))
            }
        }
    }

    /// A field that [`Reader::require`] has checked, against its rule.
    pub(crate) fn required(&self, name: &str, rule: Rule, invalid: Ins) -> Result<String, VodafoneError> {
        match self.optional(name, rule, invalid)? {
            Some(value) => Ok(value),
            None => Err(self.error(Ins::MISSING_PARAMETERS, format!("missing or empty: {name}"))),
        }
    }

    pub(crate) fn optional(&self, name: &str, rule: Rule, invalid: Ins) -> Result<Option<String>, VodafoneError> {
        let Some(value) = self.text(name, invalid)? else { return Ok(None) };
        if rule.check(&value) {
            return Ok(Some(value));
        }
        Err(self.error(invalid, format!("{name} must be {} ({})", rule.describe(), shape(&value))))
    }

    pub(crate) fn amount(&self, name: &str, invalid: Ins) -> Result<Amount, VodafoneError> {
        match self.optional_amount(name, invalid)? {
            Some(amount) => Ok(amount),
            None => Err(self.error(Ins::MISSING_PARAMETERS, format!("missing or empty: {name}"))),
        }
    }

    pub(crate) fn optional_amount(&self, name: &str, invalid: Ins) -> Result<Option<Amount>, VodafoneError> {
        let Some(value) = self.text(name, invalid)? else { return Ok(None) };
        parse_amount(&value)
            .map(Some)
            .map_err(|problem| self.error(invalid, format!("{name} {problem} ({})", shape(&value))))
    }

    /// A flag written `True`/`False` (any case) or as a JSON boolean.
    pub(crate) fn flag(&self, name: &str, invalid: Ins) -> Result<Option<bool>, VodafoneError> {
        if let Some(Value::Bool(b)) = self.body.get(name) {
            return Ok(Some(*b));
        }
        let Some(value) = self.text(name, invalid)? else { return Ok(None) };
        match value.to_ascii_lowercase().as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            _ => Err(self.error(invalid, format!("{name} must be True or False ({})", shape(&value)))),
        }
    }

    /// The first of several spellings present (the documentation spells
    /// `input_KycQueryType` two ways).
    pub(crate) fn spelled<'n>(&self, names: &[&'n str]) -> &'n str {
        names.iter().copied().find(|name| !self.is_absent(name)).unwrap_or(names.first().copied().unwrap_or(""))
    }

    pub(crate) fn api(&self) -> Api {
        self.api
    }
}

/// How a refused value looks, without repeating it (it may be a credential):
/// its length and which kinds of character it holds.
pub(crate) fn shape(value: &str) -> String {
    let mut kinds = Vec::new();
    if value.bytes().any(|b| b.is_ascii_digit()) {
        kinds.push("digits");
    }
    if value.bytes().any(|b| b.is_ascii_alphabetic()) {
        kinds.push("letters");
    }
    if value.contains(' ') {
        kinds.push("spaces");
    }
    if value.chars().any(|c| !c.is_ascii_alphanumeric() && c != ' ') {
        kinds.push("punctuation or other characters");
    }
    format!("got {} characters: {}", value.chars().count(), kinds.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn amounts_parse_exactly_as_the_documented_regex_allows() {
        let ok = |s: &str| parse_amount(s).map(|a| a.0 .0);
        assert_eq!(ok("10"), Ok(1000));
        assert_eq!(ok("10.5"), Ok(1050));
        assert_eq!(ok(".5"), Ok(50));
        assert_eq!(ok("10.500"), Ok(1050));
        assert_eq!(ok("007.01"), Ok(701));
        assert_eq!(ok("9999999999999.99"), Ok(999_999_999_999_999));
        assert_eq!(ok("10."), Err(AmountProblem::NotDecimal));
        assert_eq!(ok("-1"), Err(AmountProblem::NotDecimal));
        assert_eq!(ok("1e3"), Err(AmountProblem::NotDecimal));
        assert_eq!(ok(" 10"), Err(AmountProblem::NotDecimal));
        assert_eq!(ok(""), Err(AmountProblem::NotDecimal));
        assert_eq!(ok("."), Err(AmountProblem::NotDecimal));
        assert_eq!(ok("1.2.3"), Err(AmountProblem::NotDecimal));
        assert_eq!(ok("0.00"), Err(AmountProblem::Zero));
        assert_eq!(ok("10.555"), Err(AmountProblem::TooManyDecimals));
        assert_eq!(ok("99999999999999"), Err(AmountProblem::TooLarge));
    }

    #[test]
    fn numbers_read_as_their_text_and_other_types_are_refused() {
        let body = map(json!({"input_Amount": 10.0, "input_X": 12.5, "input_B": true, "input_E": ""}));
        let r = Reader::new(&body, Profile::Portal, Api::C2bSingleStage);
        assert_eq!(r.amount("input_Amount", Ins::INVALID_AMOUNT).map(|a| a.0 .0), Ok(1000));
        assert_eq!(r.text("input_X", Ins::VALIDATION_FAILED).ok().flatten().as_deref(), Some("12.5"));
        assert_eq!(r.text("input_B", Ins::INVALID_AMOUNT).unwrap_err().code(), "INS-15");
        assert_eq!(r.text("input_E", Ins::VALIDATION_FAILED).ok().flatten(), None);
        assert_eq!(r.flag("input_B", Ins::VALIDATION_FAILED).ok().flatten(), Some(true));
    }

    #[test]
    fn missing_fields_are_named_together_with_ins_20() {
        let body = map(json!({"input_Amount": "10", "input_CustomerMSISDN": null}));
        let r = Reader::new(&body, Profile::Portal, Api::C2bSingleStage);
        let err = r.require(&["input_Amount", "input_CustomerMSISDN", "input_ThirdPartyReference"]).unwrap_err();
        assert_eq!(err.code(), "INS-20");
        assert_eq!(err.diagnosis.as_deref(), Some("missing or empty: input_CustomerMSISDN, input_ThirdPartyReference"));
    }

    #[test]
    fn a_rule_failure_names_the_rule_and_the_shape_but_not_the_value() {
        let body = map(json!({"input_TransactionReference": "Handbag, Black shoes"}));
        let r = Reader::new(&body, Profile::OpenApi, Api::C2bSingleStage);
        let err = r
            .required("input_TransactionReference", rules::TRANSACTION_REFERENCE, Ins::INVALID_TRANSACTION_REFERENCE)
            .unwrap_err();
        assert_eq!(err.code(), "INS-17");
        let diagnosis = err.diagnosis.unwrap_or_default();
        assert!(diagnosis.contains("1 to 20 letters, digits, spaces"), "{diagnosis}");
        assert!(diagnosis.contains("punctuation"), "{diagnosis}");
        assert!(!diagnosis.contains("Handbag"), "{diagnosis}");
    }

    #[test]
    fn bodies_that_are_not_json_objects_are_refused_with_ins_21() {
        let p = |b: &[u8]| Reader::body(b, Profile::Portal, Api::B2c).map_err(|e| e.code());
        assert_eq!(p(b""), Ok(Map::new()));
        assert_eq!(p(b"  \n"), Ok(Map::new()));
        assert_eq!(p(b"[1]").unwrap_err(), "INS-21");
        assert_eq!(p(b"input_Amount=10").unwrap_err(), "INS-21");
        assert!(p(br#"{"input_Amount":"10"}"#).is_ok());
    }

    #[test]
    fn query_strings_decode_like_forms_and_keep_the_first_value() {
        let m = query_map(Some("input_QueryReference=A%20B&input_ThirdPartyReference=x+y&input_QueryReference=C"));
        assert_eq!(m.get("input_QueryReference"), Some(&json!("A B")));
        assert_eq!(m.get("input_ThirdPartyReference"), Some(&json!("x y")));
        assert!(query_map(None).is_empty());
    }

    #[test]
    fn rules_check_class_and_length() {
        assert!(rules::TRANSACTION_REFERENCE.check("T12344C"));
        assert!(rules::TRANSACTION_REFERENCE.check("a b_c+d"));
        assert!(!rules::TRANSACTION_REFERENCE.check("123456789012345678901"));
        assert!(rules::SHORTCODE.check("171717"));
        assert!(!rules::SHORTCODE.check("171"));
        assert!(rules::MSISDN.check("000000000001"));
        assert!(!rules::MSISDN.check("+258843330333"));
        assert!(rules::MSISDN_TOKEN.check("cvgwUBZ3lAO9ivwhWAFeng=="));
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_as_an_amount_or_fails_cleanly(text in ".{0,40}") {
            let _ = parse_amount(&text);
        }
    }
}
