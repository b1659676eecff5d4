//! The OpenAPI's direct debits: mandate creation (`POST directDebitCreation/`),
//! payment (`POST directDebitPayment/`), query (`GET queryDirectDebit/`) and
//! cancellation (`PUT directDebitCancel/`).
//!
//! Fields and codes are the documentation's (wire contract §4.6–§4.10).
//! The frequency rules of mandate creation are checked here, against the
//! market's calendar day passed in by the caller:
//! * no `input_Frequency`: `input_FirstPaymentDate`, `input_StartRangeOfDays`
//!   and `input_EndRangeOfDays` must be empty (`INS-39`, `INS-41`, `INS-42`);
//! * `01` once off, `02` daily, `03` weekly, `08` on demand: the first payment
//!   date defaults to today and the day range must be empty;
//! * `04` monthly, `05` quarterly, `06` half yearly, `07` yearly: the first
//!   payment date defaults to today and the day range is optional (days
//!   `01`–`31`, start not after end).
//!
//! Dates are `YYYYMMDD` calendar dates; a first payment before today is
//! `INS-39`, an expiry before the first payment (or today) is `INS-43`.
//! Payments, queries and cancellations name the customer by
//! `input_CustomerMSISDN`, `input_MsisdnToken` or both; neither is `INS-57`.
//! Whether a token and an MSISDN match (`INS-50`) and whether a mandate is
//! active (`INS-58`) depend on state and are the handler's to check.

use chrono::NaiveDate;

use crate::ledger::Money;
use crate::vodafone::api::Api;
use crate::vodafone::codes::Ins;
use crate::vodafone::fields::{names, rules, Reader};
use crate::vodafone::markets::Market;
use crate::vodafone::openapi::{country, currency, third_party_conversation_id};

type Refusal = crate::vodafone::error::VodafoneError;

/// How often a mandate may be collected (`input_Frequency`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Frequency {
    OnceOff,
    Daily,
    Weekly,
    Monthly,
    Quarterly,
    HalfYearly,
    Yearly,
    OnDemand,
}

impl Frequency {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Frequency::OnceOff => "01",
            Frequency::Daily => "02",
            Frequency::Weekly => "03",
            Frequency::Monthly => "04",
            Frequency::Quarterly => "05",
            Frequency::HalfYearly => "06",
            Frequency::Yearly => "07",
            Frequency::OnDemand => "08",
        }
    }

    pub(crate) fn from_code(code: &str) -> Option<Frequency> {
        let frequency = match code {
            "01" => Frequency::OnceOff,
            "02" => Frequency::Daily,
            "03" => Frequency::Weekly,
            "04" => Frequency::Monthly,
            "05" => Frequency::Quarterly,
            "06" => Frequency::HalfYearly,
            "07" => Frequency::Yearly,
            "08" => Frequency::OnDemand,
            _ => return None,
        };
        Some(frequency)
    }

    /// Whether a day range within the month may be given.
    fn takes_day_range(self) -> bool {
        matches!(self, Frequency::Monthly | Frequency::Quarterly | Frequency::HalfYearly | Frequency::Yearly)
    }
}

/// How a request names the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Customer {
    Msisdn(String),
    Token(String),
    /// Both given; they must name the same customer (`INS-50`).
    Both {
        msisdn: String,
        token: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CreateRequest {
    pub(crate) customer_msisdn: String,
    pub(crate) service_provider_code: String,
    pub(crate) third_party_reference: String,
    pub(crate) third_party_conversation_id: String,
    /// `input_AgreedTC`: whether the customer accepted the terms.
    pub(crate) agreed_tc: bool,
    /// The schedule; `None` without `input_Frequency`.
    pub(crate) schedule: Option<Schedule>,
    pub(crate) expiry_date: Option<NaiveDate>,
}

/// A mandate's collection schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Schedule {
    pub(crate) frequency: Frequency,
    /// Given, or today.
    pub(crate) first_payment_date: NaiveDate,
    /// `(from, to)` days of the month, for monthly and longer frequencies.
    pub(crate) day_range: (Option<u8>, Option<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PaymentRequest {
    pub(crate) customer: Customer,
    pub(crate) service_provider_code: String,
    pub(crate) third_party_reference: String,
    pub(crate) third_party_conversation_id: String,
    pub(crate) amount: Money,
    pub(crate) mandate_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueryRequest {
    /// `Some` when `input_QueryBalanceAmount` is true: whether the customer
    /// holds this much is answered as `output_SufficientBalance`.
    pub(crate) balance_amount: Option<Money>,
    pub(crate) customer: Customer,
    pub(crate) service_provider_code: String,
    pub(crate) third_party_conversation_id: String,
    pub(crate) third_party_reference: String,
    pub(crate) mandate_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CancelRequest {
    pub(crate) customer: Customer,
    pub(crate) service_provider_code: String,
    pub(crate) third_party_reference: String,
    pub(crate) third_party_conversation_id: String,
    pub(crate) mandate_id: Option<String>,
}

/// Any direct-debit request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DirectDebitRequest {
    Create(CreateRequest),
    Payment(PaymentRequest),
    Query(QueryRequest),
    Cancel(CancelRequest),
}

/// Parses a direct-debit request of the reader's API.
pub(crate) fn parse(r: &Reader<'_>, market: Market, today: NaiveDate) -> Result<DirectDebitRequest, Refusal> {
    match r.api() {
        Api::DirectDebitCreate => parse_create(r, market, today).map(DirectDebitRequest::Create),
        Api::DirectDebitPayment => parse_payment(r, market).map(DirectDebitRequest::Payment),
        Api::QueryDirectDebit => parse_query(r, market).map(DirectDebitRequest::Query),
        Api::DirectDebitCancel => parse_cancel(r, market).map(DirectDebitRequest::Cancel),
        other => Err(r.error(Ins::API_NOT_ENABLED, format!("{} is not a direct-debit API", other.operation()))),
    }
}

fn parse_create(r: &Reader<'_>, market: Market, today: NaiveDate) -> Result<CreateRequest, Refusal> {
    r.require(&[
        names::CUSTOMER_MSISDN,
        names::COUNTRY,
        names::SERVICE_PROVIDER_CODE,
        names::THIRD_PARTY_REFERENCE,
        names::THIRD_PARTY_CONVERSATION_ID,
        names::AGREED_TC,
    ])?;
    let customer_msisdn = crate::vodafone::openapi::msisdn(r)?;
    country(r, market)?;
    let service_provider_code = r.required(names::SERVICE_PROVIDER_CODE, rules::SHORTCODE, Ins::INVALID_SHORTCODE)?;
    let third_party_reference = reference(r)?;
    let third_party_conversation_id = third_party_conversation_id(r)?;
    let agreed_tc = r.required(names::AGREED_TC, rules::AGREED_TC, Ins::INVALID_AGREED_TC)? == "1";
    let first = date(r, names::FIRST_PAYMENT_DATE, Ins::INVALID_FIRST_PAYMENT_DATE)?;
    let frequency = match r.optional(names::FREQUENCY, rules::TWO_DIGITS, Ins::INVALID_FREQUENCY)? {
        None => None,
        Some(code) => Some(Frequency::from_code(&code).ok_or_else(|| {
            r.error(Ins::INVALID_FREQUENCY, "input_Frequency must be 01 to 08 (once off ... on demand)")
        })?),
    };
    let start = day(r, names::START_RANGE_OF_DAYS, Ins::INVALID_START_RANGE_DAYS)?;
    let end = day(r, names::END_RANGE_OF_DAYS, Ins::INVALID_END_RANGE_DAYS)?;
    let expiry_date = date(r, names::EXPIRY_DATE, Ins::INVALID_EXPIRY_DATE)?;

    let schedule = match frequency {
        None => {
            if first.is_some() {
                return Err(r.error(Ins::INVALID_FIRST_PAYMENT_DATE, "input_FirstPaymentDate needs input_Frequency"));
            }
            no_day_range(r, start, end, "without input_Frequency")?;
            None
        }
        Some(frequency) => {
            if !frequency.takes_day_range() {
                no_day_range(r, start, end, "with a once-off, daily, weekly or on-demand frequency")?;
            }
            if let (Some(from), Some(to)) = (start, end) {
                if from > to {
                    return Err(
                        r.error(Ins::INVALID_END_RANGE_DAYS, "input_EndRangeOfDays is before input_StartRangeOfDays")
                    );
                }
            }
            let first_payment_date = first.unwrap_or(today);
            if first_payment_date < today {
                return Err(r.error(
                    Ins::INVALID_FIRST_PAYMENT_DATE,
                    format!("input_FirstPaymentDate is before today ({})", today.format("%Y%m%d")),
                ));
            }
            Some(Schedule { frequency, first_payment_date, day_range: (start, end) })
        }
    };
    if let Some(expiry) = expiry_date {
        let floor = schedule.map(|s| s.first_payment_date).unwrap_or(today);
        if expiry < floor {
            return Err(
                r.error(Ins::INVALID_EXPIRY_DATE, "input_ExpiryDate is before the first payment date (or today)")
            );
        }
    }
    Ok(CreateRequest {
        customer_msisdn,
        service_provider_code,
        third_party_reference,
        third_party_conversation_id,
        agreed_tc,
        schedule,
        expiry_date,
    })
}

fn parse_payment(r: &Reader<'_>, market: Market) -> Result<PaymentRequest, Refusal> {
    r.require(&[
        names::COUNTRY,
        names::SERVICE_PROVIDER_CODE,
        names::THIRD_PARTY_REFERENCE,
        names::THIRD_PARTY_CONVERSATION_ID,
        names::AMOUNT,
        names::CURRENCY,
    ])?;
    let customer = customer(r)?;
    country(r, market)?;
    let service_provider_code = r.required(names::SERVICE_PROVIDER_CODE, rules::SHORTCODE, Ins::INVALID_SHORTCODE)?;
    let third_party_reference = reference(r)?;
    let third_party_conversation_id = third_party_conversation_id(r)?;
    let amount = r.amount(names::AMOUNT, Ins::INVALID_AMOUNT)?.0;
    currency(r, market)?;
    let mandate_id = r.optional(names::MANDATE_ID, rules::MANDATE_ID, Ins::INVALID_MANDATE_ID)?;
    Ok(PaymentRequest {
        customer,
        service_provider_code,
        third_party_reference,
        third_party_conversation_id,
        amount,
        mandate_id,
    })
}

fn parse_query(r: &Reader<'_>, market: Market) -> Result<QueryRequest, Refusal> {
    r.require(&[
        names::QUERY_BALANCE_AMOUNT,
        names::COUNTRY,
        names::SERVICE_PROVIDER_CODE,
        names::THIRD_PARTY_CONVERSATION_ID,
        names::THIRD_PARTY_REFERENCE,
        names::CURRENCY,
    ])?;
    let query_balance = r.flag(names::QUERY_BALANCE_AMOUNT, Ins::VALIDATION_FAILED)?.unwrap_or(false);
    let balance_amount = r.optional_amount(names::BALANCE_AMOUNT, Ins::INVALID_BALANCE_AMOUNT)?;
    let balance_amount = match (query_balance, balance_amount) {
        (true, None) => {
            return Err(r.error(
                Ins::BALANCE_AMOUNT_REQUIRED,
                "input_BalanceAmount is required when input_QueryBalanceAmount is True",
            ));
        }
        (true, Some(amount)) => Some(amount.0),
        (false, _) => None,
    };
    country(r, market)?;
    let customer = customer(r)?;
    let service_provider_code = r.required(names::SERVICE_PROVIDER_CODE, rules::SHORTCODE, Ins::INVALID_SHORTCODE)?;
    let third_party_conversation_id = third_party_conversation_id(r)?;
    let third_party_reference = reference(r)?;
    let mandate_id = r.optional(names::MANDATE_ID, rules::MANDATE_ID, Ins::INVALID_MANDATE_ID)?;
    currency(r, market)?;
    Ok(QueryRequest {
        balance_amount,
        customer,
        service_provider_code,
        third_party_conversation_id,
        third_party_reference,
        mandate_id,
    })
}

fn parse_cancel(r: &Reader<'_>, market: Market) -> Result<CancelRequest, Refusal> {
    r.require(&[
        names::COUNTRY,
        names::SERVICE_PROVIDER_CODE,
        names::THIRD_PARTY_REFERENCE,
        names::THIRD_PARTY_CONVERSATION_ID,
    ])?;
    let customer = customer(r)?;
    country(r, market)?;
    Ok(CancelRequest {
        customer,
        service_provider_code: r.required(names::SERVICE_PROVIDER_CODE, rules::SHORTCODE, Ins::INVALID_SHORTCODE)?,
        third_party_reference: reference(r)?,
        third_party_conversation_id: third_party_conversation_id(r)?,
        mandate_id: r.optional(names::MANDATE_ID, rules::MANDATE_ID, Ins::INVALID_MANDATE_ID)?,
    })
}

fn reference(r: &Reader<'_>) -> Result<String, Refusal> {
    r.required(names::THIRD_PARTY_REFERENCE, rules::THIRD_PARTY_REFERENCE, Ins::INVALID_THIRD_PARTY_REFERENCE)
}

/// The MSISDN, the token, or both; neither is `INS-57`.
fn customer(r: &Reader<'_>) -> Result<Customer, Refusal> {
    let token = r.optional(names::MSISDN_TOKEN, rules::MSISDN_TOKEN, Ins::INVALID_MSISDN_TOKEN)?;
    let msisdn = r.optional(names::CUSTOMER_MSISDN, rules::MSISDN, Ins::MSISDN_INVALID)?;
    match (msisdn, token) {
        (Some(msisdn), Some(token)) => Ok(Customer::Both { msisdn, token }),
        (Some(msisdn), None) => Ok(Customer::Msisdn(msisdn)),
        (None, Some(token)) => Ok(Customer::Token(token)),
        (None, None) => Err(r.error(Ins::MSISDN_OR_TOKEN_REQUIRED, "give input_CustomerMSISDN or input_MsisdnToken")),
    }
}

/// An optional `YYYYMMDD` calendar date.
fn date(r: &Reader<'_>, name: &str, invalid: Ins) -> Result<Option<NaiveDate>, Refusal> {
    let Some(text) = r.optional(name, rules::DATE, invalid)? else { return Ok(None) };
    NaiveDate::parse_from_str(&text, "%Y%m%d")
        .map(Some)
        .map_err(|_| r.error(invalid, format!("{name} is not a calendar date in YYYYMMDD form")))
}

/// An optional day of the month, `01` to `31`.
fn day(r: &Reader<'_>, name: &str, invalid: Ins) -> Result<Option<u8>, Refusal> {
    let Some(text) = r.optional(name, rules::TWO_DIGITS, invalid)? else { return Ok(None) };
    match text.parse::<u8>() {
        Ok(day @ 1..=31) => Ok(Some(day)),
        _ => Err(r.error(invalid, format!("{name} must be a day of the month, 01 to 31"))),
    }
}

fn no_day_range(r: &Reader<'_>, start: Option<u8>, end: Option<u8>, when: &str) -> Result<(), Refusal> {
    if start.is_some() {
        return Err(r.error(Ins::INVALID_START_RANGE_DAYS, format!("input_StartRangeOfDays must be empty {when}")));
    }
    if end.is_some() {
        return Err(r.error(Ins::INVALID_END_RANGE_DAYS, format!("input_EndRangeOfDays must be empty {when}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vodafone::api::Profile;
    use serde_json::{json, Map, Value};

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 10).unwrap_or_default()
    }

    fn run(api: Api, v: Value) -> Result<DirectDebitRequest, String> {
        let body: Map<String, Value> = v.as_object().cloned().unwrap_or_default();
        parse(&Reader::new(&body, Profile::OpenApi, api), Market::Mozambique, today()).map_err(|e| e.code())
    }

    fn create(extra: Value) -> Value {
        let mut base = json!({"input_CustomerMSISDN":"000000000001","input_Country":"MOZ","input_ServiceProviderCode":"000000",
            "input_ThirdPartyReference":"00000000000000000001","input_ThirdPartyConversationID":"AAA001","input_AgreedTC":"1"});
        if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        base
    }

    #[test]
    fn a_mandate_without_frequency_has_no_schedule() {
        let Ok(DirectDebitRequest::Create(c)) = run(Api::DirectDebitCreate, create(json!({}))) else {
            panic!("the sample parses");
        };
        assert!(c.agreed_tc);
        assert_eq!(c.schedule, None);
        assert_eq!(
            run(Api::DirectDebitCreate, create(json!({"input_FirstPaymentDate":"20260401"}))).unwrap_err(),
            "INS-39"
        );
        assert_eq!(run(Api::DirectDebitCreate, create(json!({"input_StartRangeOfDays":"01"}))).unwrap_err(), "INS-41");
    }

    #[test]
    fn the_frequency_decides_which_dates_and_days_are_allowed() {
        let ok = |extra| run(Api::DirectDebitCreate, create(extra));
        let Ok(DirectDebitRequest::Create(c)) = ok(json!({"input_Frequency":"02"})) else {
            panic!("a daily mandate parses");
        };
        assert_eq!(c.schedule.map(|s| s.first_payment_date), Some(today()), "the first payment defaults to today");
        assert_eq!(ok(json!({"input_Frequency":"02","input_EndRangeOfDays":"05"})).unwrap_err(), "INS-42");
        assert!(ok(json!({"input_Frequency":"04","input_StartRangeOfDays":"01","input_EndRangeOfDays":"05"})).is_ok());
        assert_eq!(
            ok(json!({"input_Frequency":"04","input_StartRangeOfDays":"09","input_EndRangeOfDays":"05"})).unwrap_err(),
            "INS-42"
        );
        assert_eq!(ok(json!({"input_Frequency":"04","input_StartRangeOfDays":"32"})).unwrap_err(), "INS-41");
        assert_eq!(ok(json!({"input_Frequency":"09"})).unwrap_err(), "INS-40");
        assert_eq!(ok(json!({"input_Frequency":"1"})).unwrap_err(), "INS-40");
        assert_eq!(ok(json!({"input_Frequency":"01","input_FirstPaymentDate":"20260230"})).unwrap_err(), "INS-39");
        assert_eq!(ok(json!({"input_Frequency":"01","input_FirstPaymentDate":"20260309"})).unwrap_err(), "INS-39");
        assert_eq!(ok(json!({"input_Frequency":"01","input_ExpiryDate":"20260309"})).unwrap_err(), "INS-43");
        assert_eq!(ok(json!({"input_AgreedTC":"yes"})).unwrap_err(), "INS-36");
    }

    #[test]
    fn payments_need_an_msisdn_or_a_token() {
        let payment = json!({"input_Country":"MOZ","input_ServiceProviderCode":"000000","input_ThirdPartyReference":"00000000000000000001",
            "input_ThirdPartyConversationID":"AAA001","input_Amount":"10","input_Currency":"MZN"});
        assert_eq!(run(Api::DirectDebitPayment, payment.clone()).unwrap_err(), "INS-57");
        let mut with_token = payment.clone();
        with_token["input_MsisdnToken"] = json!("cvgwUBZ3lAO9ivwhWAFeng==");
        let Ok(DirectDebitRequest::Payment(p)) = run(Api::DirectDebitPayment, with_token.clone()) else {
            panic!("a tokenised payment parses");
        };
        assert_eq!(p.customer, Customer::Token("cvgwUBZ3lAO9ivwhWAFeng==".into()));
        with_token["input_MandateID"] = json!("15a");
        assert_eq!(run(Api::DirectDebitPayment, with_token).unwrap_err(), "INS-51");
    }

    #[test]
    fn a_balance_query_needs_the_amount_it_asks_about() {
        let query = |s: &str| {
            let map = crate::vodafone::fields::query_map(Some(s));
            parse(&Reader::new(&map, Profile::OpenApi, Api::QueryDirectDebit), Market::Mozambique, today())
                .map_err(|e| (e.code(), e.status().as_u16()))
        };
        let base = "input_Country=MOZ&input_CustomerMSISDN=000000000001&input_ServiceProviderCode=000000&input_ThirdPartyConversationID=A1&input_ThirdPartyReference=00000000000000000001&input_Currency=MZN";
        assert!(query(&format!("{base}&input_QueryBalanceAmount=False")).is_ok());
        assert_eq!(query(&format!("{base}&input_QueryBalanceAmount=True")).unwrap_err(), ("INS-55".into(), 401));
        let Ok(DirectDebitRequest::Query(q)) =
            query(&format!("{base}&input_QueryBalanceAmount=True&input_BalanceAmount=600"))
        else {
            panic!("a balance query parses");
        };
        assert_eq!(q.balance_amount, Some(Money(60_000)));
        assert_eq!(
            query(&format!("{base}&input_QueryBalanceAmount=True&input_BalanceAmount=x")).unwrap_err().0,
            "INS-54"
        );
    }

    #[test]
    fn a_cancellation_may_name_customer_and_mandate() {
        let cancel = json!({"input_Country":"MOZ","input_ServiceProviderCode":"000000","input_ThirdPartyReference":"00000000000000000001",
            "input_ThirdPartyConversationID":"AAA001","input_CustomerMSISDN":"000000000001","input_MsisdnToken":"abc=","input_MandateID":"15045"});
        let Ok(DirectDebitRequest::Cancel(c)) = run(Api::DirectDebitCancel, cancel) else {
            panic!("the cancellation parses");
        };
        assert_eq!(c.customer, Customer::Both { msisdn: "000000000001".into(), token: "abc=".into() });
        assert_eq!(c.mandate_id.as_deref(), Some("15045"));
    }
}
