//! Daraja's wire types: what goes over HTTP, field for field.
//!
//! Requests are read leniently ([`crate::fields`]): numbers may arrive as
//! strings, integers or floats, unknown fields are ignored, and each parser
//! reports the first invalid field the way the gateway does
//! (`Bad Request - Invalid <Field>`), plus a precise diagnosis.

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::error::DarajaError;
use crate::fields::{self, FieldProblem};
use crate::ledger::Money;
use crate::scenarios::ResultCode;

// ---------------------------------------------------------------------------
// OAuth

/// `expires_in` as a string (real traffic) or a number (documentation).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum ExpiresIn {
    Text(String),
    Number(u64),
}

#[derive(Debug, Serialize)]
pub(crate) struct TokenResponse {
    pub access_token: String,
    pub expires_in: ExpiresIn,
}

// ---------------------------------------------------------------------------
// M-Pesa Express

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransactionType {
    CustomerPayBillOnline,
    CustomerBuyGoodsOnline,
}

/// A syntactically valid STK push; the world and the clock are checked later.
#[derive(Debug, Clone)]
pub(crate) struct StkPushRequest {
    pub business_short_code: String,
    pub password: String,
    pub timestamp: String,
    pub transaction_type: TransactionType,
    pub amount: Money,
    pub party_b: String,
    pub phone_number: String,
    pub callback_url: String,
    pub account_reference: String,
    pub transaction_desc: Option<String>,
}

impl StkPushRequest {
    pub(crate) const FIRST_FIELD: &'static str = "BusinessShortCode";

    pub(crate) fn parse(body: &Map<String, Value>) -> Result<StkPushRequest, DarajaError> {
        let business_short_code = shortcode(body, "BusinessShortCode")?;
        let password = required(body, "Password")?;
        let timestamp = required(body, "Timestamp")?;
        crate::crypto::lnm::parse_timestamp(&timestamp).map_err(|e| DarajaError::field("Timestamp", e.to_string()))?;
        let transaction_type = match required(body, "TransactionType")?.as_str() {
            "CustomerPayBillOnline" => TransactionType::CustomerPayBillOnline,
            "CustomerBuyGoodsOnline" => TransactionType::CustomerBuyGoodsOnline,
            other => {
                return Err(DarajaError::field(
                    "TransactionType",
                    format!("TransactionType {other:?} is neither CustomerPayBillOnline nor CustomerBuyGoodsOnline"),
                ))
            }
        };
        let amount = whole_amount(body, "Amount")?;
        // PartyA is checked (the paying phone) but the prompt goes to PhoneNumber.
        msisdn(body, "PartyA")?;
        let party_b = shortcode(body, "PartyB")?;
        let phone_number = msisdn(body, "PhoneNumber")?;
        let callback_url = url(body, "CallBackURL")?;
        let account_reference = required(body, "AccountReference")?;
        if account_reference.chars().count() > 12 {
            return Err(DarajaError::field(
                "AccountReference",
                format!("AccountReference is {} characters, at most 12 are allowed", account_reference.chars().count()),
            ));
        }
        let transaction_desc =
            fields::optional_text(body, "TransactionDesc").map_err(|p| problem("TransactionDesc", p))?;
        if let Some(desc) = &transaction_desc {
            if desc.chars().count() > 13 {
                return Err(DarajaError::field(
                    "TransactionDesc",
                    format!("TransactionDesc is {} characters, at most 13 are allowed", desc.chars().count()),
                ));
            }
        }
        Ok(StkPushRequest {
            business_short_code,
            password,
            timestamp,
            transaction_type,
            amount,
            party_b,
            phone_number,
            callback_url,
            account_reference,
            transaction_desc,
        })
    }
}

#[derive(Debug, Clone)]
pub(crate) struct StkQueryRequest {
    pub business_short_code: String,
    pub password: String,
    pub timestamp: String,
    pub checkout_request_id: String,
}

impl StkQueryRequest {
    pub(crate) const FIRST_FIELD: &'static str = "BusinessShortCode";

    pub(crate) fn parse(body: &Map<String, Value>) -> Result<StkQueryRequest, DarajaError> {
        let business_short_code = shortcode(body, "BusinessShortCode")?;
        let password = required(body, "Password")?;
        let timestamp = required(body, "Timestamp")?;
        crate::crypto::lnm::parse_timestamp(&timestamp).map_err(|e| DarajaError::field("Timestamp", e.to_string()))?;
        let checkout_request_id = required(body, "CheckoutRequestID")?;
        Ok(StkQueryRequest { business_short_code, password, timestamp, checkout_request_id })
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StkPushResponse {
    #[serde(rename = "MerchantRequestID")]
    pub merchant_request_id: String,
    #[serde(rename = "CheckoutRequestID")]
    pub checkout_request_id: String,
    pub response_code: String,
    pub response_description: String,
    pub customer_message: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StkQueryResponse {
    pub response_code: String,
    pub response_description: String,
    #[serde(rename = "MerchantRequestID")]
    pub merchant_request_id: String,
    #[serde(rename = "CheckoutRequestID")]
    pub checkout_request_id: String,
    pub result_code: String,
    pub result_desc: String,
}

/// What a settled STK push reports in its callback.
pub(crate) struct StkResult<'a> {
    pub merchant_request_id: &'a str,
    pub checkout_request_id: &'a str,
    pub result_code: &'a ResultCode,
    pub result_desc: &'a str,
    /// Present only on success.
    pub paid: Option<StkPaid<'a>>,
}

pub(crate) struct StkPaid<'a> {
    pub amount: Money,
    pub receipt: &'a str,
    /// `YYYYMMDDHHmmss` in EAT.
    pub transaction_date: &'a str,
    /// Digits (sent as a number) or a hash (sent as a string).
    pub phone_number: &'a str,
    /// Whether to include the value-less `Balance` item real traffic shows.
    pub balance_item: bool,
}

/// The body POSTed to `CallBackURL`: success with `CallbackMetadata`
/// (including the value-less `Balance` item real traffic shows), failure without.
pub(crate) fn stk_callback(result: &StkResult<'_>) -> Value {
    let mut callback = json!({
        "MerchantRequestID": result.merchant_request_id,
        "CheckoutRequestID": result.checkout_request_id,
        "ResultCode": result.result_code,
        "ResultDesc": result.result_desc,
    });
    if let Some(paid) = &result.paid {
        let mut items = vec![
            json!({ "Name": "Amount", "Value": amount_value(paid.amount) }),
            json!({ "Name": "MpesaReceiptNumber", "Value": paid.receipt }),
        ];
        if paid.balance_item {
            items.push(json!({ "Name": "Balance" }));
        }
        items.push(json!({ "Name": "TransactionDate", "Value": number_value(paid.transaction_date) }));
        items.push(json!({ "Name": "PhoneNumber", "Value": number_value(paid.phone_number) }));
        callback["CallbackMetadata"] = json!({ "Item": items });
    }
    json!({ "Body": { "stkCallback": callback } })
}

/// Whole amounts as integers (`1`), others as decimals (`1.5`).
pub(super) fn amount_value(amount: Money) -> Value {
    if amount.is_whole_shillings() {
        json!(amount.cents() / 100)
    } else {
        json!(amount.as_f64())
    }
}

/// Digits as a JSON number, as Daraja sends dates and phone numbers.
pub(super) fn number_value(digits: &str) -> Value {
    digits.parse::<u64>().map(Value::from).unwrap_or_else(|_| Value::from(digits))
}

// ---------------------------------------------------------------------------
// Field readers shared by the parsers above.

pub(super) fn problem(field: &'static str, p: FieldProblem) -> DarajaError {
    DarajaError::field(field, format!("{field} {p}"))
}

pub(super) fn required(body: &Map<String, Value>, field: &'static str) -> Result<String, DarajaError> {
    fields::text(body, field).map_err(|p| problem(field, p))
}

pub(super) fn shortcode(body: &Map<String, Value>, field: &'static str) -> Result<String, DarajaError> {
    let value = required(body, field)?;
    if !(5..=7).contains(&value.len()) || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DarajaError::field(field, format!("{field} {value:?} is not a shortcode (5 to 7 digits)")));
    }
    Ok(value)
}

pub(super) fn msisdn(body: &Map<String, Value>, field: &'static str) -> Result<String, DarajaError> {
    let value = required(body, field)?;
    if !crate::markets::Market::Kenya.is_msisdn(&value) {
        return Err(DarajaError::field(
            field,
            format!("{field} {value:?} is not an MSISDN in the form 2547XXXXXXXX (12 digits, no '+', no leading 0)"),
        ));
    }
    Ok(value)
}

pub(super) fn whole_amount(body: &Map<String, Value>, field: &'static str) -> Result<Money, DarajaError> {
    let value = required(body, field)?;
    let amount = Money::parse(&value)
        .filter(|a| a.cents() > 0)
        .ok_or_else(|| DarajaError::field(field, format!("{field} {value:?} is not a positive number")))?;
    if !amount.is_whole_shillings() {
        return Err(DarajaError::field(
            field,
            format!("{field} {value} has cents; M-Pesa amounts are whole shillings"),
        ));
    }
    Ok(amount)
}

pub(super) fn url(body: &Map<String, Value>, field: &'static str) -> Result<String, DarajaError> {
    let value = required(body, field)?;
    match url::Url::parse(&value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(value),
        Ok(u) => Err(DarajaError::field(
            field,
            format!("{field} must be an http(s) URL with a host, got scheme {:?}", u.scheme()),
        )),
        Err(e) => Err(DarajaError::field(field, format!("{field} {value:?} is not a URL: {e}"))),
    }
}

/// An optional text field of at most `max` characters (at least `min` when present).
pub(super) fn bounded(
    body: &Map<String, Value>,
    field: &'static str,
    min: usize,
    max: usize,
) -> Result<Option<String>, DarajaError> {
    let value = fields::optional_text(body, field).map_err(|p| problem(field, p))?;
    if let Some(v) = &value {
        let n = v.chars().count();
        if n < min || n > max {
            return Err(DarajaError::field(field, format!("{field} is {n} characters; {min} to {max} are allowed")));
        }
    }
    Ok(value)
}

/// The first of several spellings a field arrives under (documented typos,
/// SDK variants), with the spelling found.
pub(super) fn any_of(body: &Map<String, Value>, names: &[&'static str]) -> Option<(&'static str, String)> {
    names.iter().find_map(|n| fields::text(body, n).ok().map(|v| (*n, v)))
}

// ---------------------------------------------------------------------------
// Results (B2C, B2B, reversal, transaction status, account balance)

/// The synchronous acknowledgement of a request answered through ResultURL.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RequestAck {
    #[serde(rename = "ConversationID")]
    pub conversation_id: String,
    #[serde(rename = "OriginatorConversationID")]
    pub originator_conversation_id: String,
    pub response_code: String,
    pub response_description: String,
}

/// A parameter of `ResultParameters`: a key, and a value that may be absent.
pub(crate) type Param = (&'static str, Option<Value>);

/// What the common `{"Result": {...}}` envelope carries.
pub(crate) struct ResultBody<'a> {
    pub result_code: &'a ResultCode,
    pub result_desc: &'a str,
    pub originator_conversation_id: &'a str,
    pub conversation_id: &'a str,
    pub transaction_id: &'a str,
    /// Codes as strings (`"0"`) rather than numbers (B2B, balance in the documentation).
    pub codes_as_text: bool,
    /// `ResultType`: 0 completed, 1 waiting for further messages (a queue timeout).
    pub result_type: u32,
    pub parameters: Vec<Param>,
    /// A single parameter as an object rather than an array.
    pub single_parameter_as_object: bool,
    pub reference: Vec<Param>,
}

pub(crate) fn result_callback(r: &ResultBody<'_>) -> Value {
    let item = |key: &str, value: &Option<Value>, key_name: &str| match value {
        Some(v) => json!({ key_name: key, "Value": v }),
        None => json!({ key_name: key }),
    };
    let (result_type, result_code) = match r.codes_as_text {
        true => (json!(r.result_type.to_string()), json!(code_text(r.result_code))),
        false => (json!(r.result_type), serde_json::to_value(r.result_code).unwrap_or(Value::Null)),
    };
    let mut result = json!({
        "ResultType": result_type,
        "ResultCode": result_code,
        "ResultDesc": r.result_desc,
        "OriginatorConversationID": r.originator_conversation_id,
        "ConversationID": r.conversation_id,
        "TransactionID": r.transaction_id,
    });
    if !r.parameters.is_empty() {
        let items: Vec<Value> = r.parameters.iter().map(|(k, v)| item(k, v, "Key")).collect();
        let parameter = match (r.single_parameter_as_object, items.as_slice()) {
            (true, [one]) => one.clone(),
            _ => Value::Array(items),
        };
        result["ResultParameters"] = json!({ "ResultParameter": parameter });
    }
    if !r.reference.is_empty() {
        let items: Vec<Value> = r.reference.iter().map(|(k, v)| item(k, v, "Key")).collect();
        let reference = match items.as_slice() {
            [one] => one.clone(),
            _ => Value::Array(items),
        };
        result["ReferenceData"] = json!({ "ReferenceItem": reference });
    }
    json!({ "Result": result })
}

pub(crate) fn code_text(code: &ResultCode) -> String {
    match code {
        ResultCode::Number(n) => n.to_string(),
        ResultCode::Text(t) => t.clone(),
    }
}
