//! Daraja's wire types: what goes over HTTP, field for field.
//!
//! Requests are read leniently ([`crate::fields`]): numbers may arrive as
//! strings, integers or floats, unknown fields are ignored, and each parser
//! reports the first invalid field the way the gateway does
//! (`Bad Request - Invalid <Field>`), plus a precise diagnosis.
//!
//! Every body Daraja sends is a struct here whose fields are declared in the
//! order captured traffic has its keys (serde writes fields in declaration
//! order), with the value types captured traffic shows; a handful whose key
//! names vary with a variant write themselves with a map serializer, still
//! in wire order. None is a `json!` map, which would sort its keys.
//! Responses leave through [`reply`] and callbacks through [`callback`],
//! each naming the golden [`Shape`] the body follows.
//!
//! **Invariant:** every Daraja JSON response carries
//! `Content-Type: application/json;charset=UTF-8`, as the gateway's do.

use std::borrow::Cow;
use std::ops::Deref;
use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use compact_str::CompactString;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use super::error::{DarajaError, ErrorKind};
use super::shapes::Shape;
use crate::callbacks::CallbackJob;
use crate::fields::{self, Field, FieldProblem, Object};
use crate::ledger::Money;
use crate::scenarios::ResultCode;

/// The `Content-Type` of the gateway's JSON answers, as captured.
pub(crate) const CONTENT_TYPE: &str = "application/json;charset=UTF-8";

/// Apigee's own faults (spike arrest, SOAP faults) were never captured with
/// their headers; this is Apigee's default.
pub(crate) const APIGEE_CONTENT_TYPE: &str = "application/json";

/// The buffer an answer is written into first: an M-Pesa Express
/// acknowledgement is about 250 bytes.
const REPLY_CAPACITY: usize = 512;

/// A 200 answer with the gateway's content type.
pub(crate) fn reply<T: Serialize>(shape: Shape, body: &T) -> Response {
    reply_as(shape, StatusCode::OK, CONTENT_TYPE, body)
}

/// An answer of any status and content type, its body serialized once.
pub(crate) fn reply_as<T: Serialize>(
    shape: Shape,
    status: StatusCode,
    content_type: &'static str,
    body: &T,
) -> Response {
    // Sized for the gateway's usual answers, so most are written without
    // growing the buffer (`to_vec` starts at 128 bytes).
    let mut bytes = Vec::with_capacity(REPLY_CAPACITY);
    match serde_json::to_writer(&mut bytes, body) {
        Ok(()) => {
            tracing::trace!(shape = shape.name(), "daraja answers");
            (status, [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], bytes).into_response()
        }
        Err(e) => DarajaError::new(ErrorKind::Internal, format!("the {} body could not be written: {e}", shape.name()))
            .into_response(),
    }
}

/// A callback POSTing `body` as JSON, in the shape it follows.
pub(crate) fn callback(
    shape: Shape,
    id: CompactString,
    kind: &'static str,
    correlation_id: impl Into<Arc<str>>,
    url: impl Into<Arc<str>>,
    body: &impl Serialize,
) -> CallbackJob {
    tracing::trace!(shape = shape.name(), kind, "daraja calls back");
    CallbackJob::new(id, super::PROVIDER, kind, correlation_id, url, body)
}

/// A value of a `{"Key", "Value"}` or `{"Name", "Value"}` item: real
/// traffic mixes strings, integers (dates, phone numbers, codes) and
/// decimals (balances).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub(crate) enum Scalar {
    Text(String),
    Integer(u64),
    Decimal(f64),
}

impl Scalar {
    pub(crate) fn text(text: impl Into<String>) -> Scalar {
        Scalar::Text(text.into())
    }

    /// Digits as a JSON number, as Daraja sends dates, phone numbers and
    /// all-digit references; anything else (a hash, a reference with
    /// letters, or digits whose leading zero a number would lose) as a string.
    pub(crate) fn digits(text: &str) -> Scalar {
        let numeric = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        let keeps_every_digit = text == "0" || !text.starts_with('0');
        match text.parse::<u64>() {
            Ok(n) if numeric && keeps_every_digit => Scalar::Integer(n),
            _ => Scalar::Text(text.to_owned()),
        }
    }

    /// Whole amounts as integers (`1`), others as decimals (`1.5`).
    pub(crate) fn amount(amount: Money) -> Scalar {
        match u64::try_from(amount.cents() / 100) {
            Ok(shillings) if amount.is_whole_shillings() => Scalar::Integer(shillings),
            _ => Scalar::Decimal(amount.as_f64()),
        }
    }

    /// A balance as a decimal (`4998500.0`), as B2C results show them.
    pub(crate) fn decimal(amount: Money) -> Scalar {
        Scalar::Decimal(amount.as_f64())
    }
}

// ---------------------------------------------------------------------------
// OAuth

/// `expires_in` as a string (real traffic) or a number (documentation).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum ExpiresIn {
    Text(String),
    Number(u64),
}

/// `{"access_token", "expires_in"}`.
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
    pub business_short_code: CompactString,
    pub password: String,
    pub timestamp: CompactString,
    pub transaction_type: TransactionType,
    pub amount: Money,
    pub party_b: CompactString,
    pub phone_number: CompactString,
    /// Shared with the transaction and its callbacks.
    pub callback_url: Arc<str>,
    pub account_reference: CompactString,
    pub transaction_desc: Option<CompactString>,
}

impl StkPushRequest {
    pub(crate) const FIRST_FIELD: &'static str = "BusinessShortCode";

    /// Reads the push, taking each field out of the body's fields (the
    /// gate has read what it needs before); strings are borrowed from the
    /// body while they are checked, and what the request keeps is copied
    /// once (short ones inline, without an allocation).
    pub(crate) fn parse(mut body: Object<'_>) -> Result<StkPushRequest, DarajaError> {
        let body = &mut body;
        fn take<'a>(body: &mut Object<'a>, field: &'static str) -> Result<Cow<'a, str>, DarajaError> {
            body.take_text(field).map_err(|p| problem(field, p))
        }
        let business_short_code = shortcode_text("BusinessShortCode", take(body, "BusinessShortCode")?)?;
        let password = take(body, "Password")?;
        let timestamp = take(body, "Timestamp")?;
        crate::crypto::lnm::parse_timestamp(&timestamp).map_err(|e| DarajaError::field("Timestamp", e.to_string()))?;
        let transaction_type = match &*take(body, "TransactionType")? {
            "CustomerPayBillOnline" => TransactionType::CustomerPayBillOnline,
            "CustomerBuyGoodsOnline" => TransactionType::CustomerBuyGoodsOnline,
            other => {
                return Err(DarajaError::field(
                    "TransactionType",
                    format!("TransactionType {other:?} is neither CustomerPayBillOnline nor CustomerBuyGoodsOnline"),
                ))
            }
        };
        let amount = whole_amount_text("Amount", &take(body, "Amount")?)?;
        // PartyA is checked (the paying phone) but the prompt goes to PhoneNumber.
        msisdn_text("PartyA", take(body, "PartyA")?)?;
        let party_b = shortcode_text("PartyB", take(body, "PartyB")?)?;
        let phone_number = msisdn_text("PhoneNumber", take(body, "PhoneNumber")?)?;
        let callback_url = shared_url_text("CallBackURL", &take(body, "CallBackURL")?)?;
        // A null AccountReference or TransactionDesc is refused as Remarks (captured 2026).
        for field in ["AccountReference", "TransactionDesc"] {
            if matches!(body.get(field), Some(Field::Null)) {
                return Err(DarajaError::field(
                    "Remarks",
                    format!("{field} is null; the gateway reports a null AccountReference or TransactionDesc as Invalid Remarks"),
                ));
            }
        }
        let account_reference = take(body, "AccountReference")?;
        let transaction_desc = body
            .take_optional_text("TransactionDesc")
            .map_err(|p| problem("TransactionDesc", p))?
            .map(CompactString::from);
        Ok(StkPushRequest {
            business_short_code: business_short_code.into(),
            password: password.into_owned(),
            timestamp: timestamp.into(),
            transaction_type,
            amount,
            party_b: party_b.into(),
            phone_number: phone_number.into(),
            callback_url,
            account_reference: account_reference.into(),
            transaction_desc,
        })
    }
}

impl StkPushRequest {
    /// The documented lengths (`field_limits = "documented"`): at most 12
    /// characters of `AccountReference` and 13 of `TransactionDesc`.
    pub(crate) fn check_documented_lengths(&self) -> Result<(), DarajaError> {
        let reference = self.account_reference.chars().count();
        if reference > 12 {
            return Err(DarajaError::field(
                "AccountReference",
                format!("AccountReference is {reference} characters, at most 12 are allowed"),
            ));
        }
        let desc = self.transaction_desc.as_deref().map_or(0, |d| d.chars().count());
        if desc > 13 {
            return Err(DarajaError::field(
                "TransactionDesc",
                format!("TransactionDesc is {desc} characters, at most 13 are allowed"),
            ));
        }
        Ok(())
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
    pub merchant_request_id: Arc<str>,
    #[serde(rename = "CheckoutRequestID")]
    pub checkout_request_id: Arc<str>,
    pub response_code: std::borrow::Cow<'static, str>,
    pub response_description: &'static str,
    pub customer_message: &'static str,
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

/// The body POSTed to `CallBackURL`: `{"Body": {"stkCallback": {...}}}`.
#[derive(Debug, Serialize)]
pub(crate) struct StkCallbackEnvelope<'a> {
    #[serde(rename = "Body")]
    pub body: StkCallbackBody<'a>,
}

#[derive(Debug, Serialize)]
pub(crate) struct StkCallbackBody<'a> {
    #[serde(rename = "stkCallback")]
    pub stk_callback: StkCallback<'a>,
}

/// The callback proper: success with `CallbackMetadata` last, failure without.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StkCallback<'a> {
    #[serde(rename = "MerchantRequestID")]
    pub merchant_request_id: &'a str,
    #[serde(rename = "CheckoutRequestID")]
    pub checkout_request_id: &'a str,
    pub result_code: &'a ResultCode,
    pub result_desc: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_metadata: Option<CallbackMetadata>,
}

#[derive(Debug, Serialize)]
pub(crate) struct CallbackMetadata {
    #[serde(rename = "Item")]
    pub item: Vec<NamedItem>,
}

/// `{"Name", "Value"}`, or `{"Name"}` alone (the value-less `Balance`).
#[derive(Debug, Serialize)]
pub(crate) struct NamedItem {
    #[serde(rename = "Name")]
    pub name: &'static str,
    #[serde(rename = "Value", skip_serializing_if = "Option::is_none")]
    pub value: Option<Scalar>,
}

/// The callback of a settled push, in the shape it follows.
pub(crate) fn stk_callback<'a>(result: &StkResult<'a>) -> (Shape, StkCallbackEnvelope<'a>) {
    let (shape, callback_metadata) = match &result.paid {
        None => (Shape::StkCallbackFailure, None),
        Some(paid) => {
            let phone = Scalar::digits(paid.phone_number);
            let shape = match (&phone, paid.balance_item) {
                (Scalar::Text(_), _) => Shape::StkCallbackSuccessHashedPhone,
                (_, false) => Shape::StkCallbackSuccessNoBalance,
                _ => Shape::StkCallbackSuccess,
            };
            // Five items at most, so the list is allocated once.
            let mut item = Vec::with_capacity(5);
            item.push(NamedItem { name: "Amount", value: Some(Scalar::amount(paid.amount)) });
            item.push(NamedItem { name: "MpesaReceiptNumber", value: Some(Scalar::text(paid.receipt)) });
            if paid.balance_item {
                item.push(NamedItem { name: "Balance", value: None });
            }
            item.push(NamedItem { name: "TransactionDate", value: Some(Scalar::digits(paid.transaction_date)) });
            item.push(NamedItem { name: "PhoneNumber", value: Some(phone) });
            (shape, Some(CallbackMetadata { item }))
        }
    };
    let body = StkCallbackEnvelope {
        body: StkCallbackBody {
            stk_callback: StkCallback {
                merchant_request_id: result.merchant_request_id,
                checkout_request_id: result.checkout_request_id,
                result_code: result.result_code,
                result_desc: result.result_desc,
                callback_metadata,
            },
        },
    };
    (shape, body)
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
    shortcode_text(field, required(body, field)?)
}

fn shortcode_text<S: Deref<Target = str>>(field: &'static str, value: S) -> Result<S, DarajaError> {
    if !(5..=7).contains(&value.len()) || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DarajaError::field(field, format!("{field} {:?} is not a shortcode (5 to 7 digits)", &*value)));
    }
    Ok(value)
}

pub(super) fn msisdn(body: &Map<String, Value>, field: &'static str) -> Result<String, DarajaError> {
    msisdn_text(field, required(body, field)?)
}

fn msisdn_text<S: Deref<Target = str>>(field: &'static str, value: S) -> Result<S, DarajaError> {
    if !crate::markets::Market::Kenya.is_msisdn(&value) {
        return Err(DarajaError::field(
            field,
            format!(
                "{field} {:?} is not an MSISDN in the form 2547XXXXXXXX (12 digits, no '+', no leading 0)",
                &*value
            ),
        ));
    }
    Ok(value)
}

pub(super) fn whole_amount(body: &Map<String, Value>, field: &'static str) -> Result<Money, DarajaError> {
    whole_amount_text(field, &required(body, field)?)
}

fn whole_amount_text(field: &'static str, value: &str) -> Result<Money, DarajaError> {
    let amount = Money::parse(value)
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

thread_local! {
    /// The last few URLs this thread accepted: a client sends the same
    /// callback URLs on every request, and their WHATWG parse cost more than
    /// every other field check of a push together. Only accepted URLs are
    /// kept (a parse's verdict depends on the text alone), shared, so a
    /// push's callback URL is a reference count rather than a copy.
    static ACCEPTED_URLS: std::cell::RefCell<crate::recent::Recent<4>> =
        const { std::cell::RefCell::new(crate::recent::Recent::new()) };
}

/// A URL field that is accepted (see [`url_text`]), as a shared string: the
/// one this thread accepted last time when it is the same.
fn shared_url_text(field: &'static str, value: &str) -> Result<Arc<str>, DarajaError> {
    let known = ACCEPTED_URLS.with(|accepted| accepted.borrow().find(value.as_bytes()).cloned());
    match known {
        Some(url) => Ok(url),
        None => url_text(field, value).map(|_| ACCEPTED_URLS.with(|accepted| accepted.borrow_mut().share(value))),
    }
}

pub(super) fn url(body: &Map<String, Value>, field: &'static str) -> Result<String, DarajaError> {
    url_text(field, required(body, field)?)
}

fn url_text<S: Deref<Target = str>>(field: &'static str, value: S) -> Result<S, DarajaError> {
    if ACCEPTED_URLS.with(|accepted| accepted.borrow().find(value.as_bytes()).is_some()) {
        return Ok(value);
    }
    match url::Url::parse(&value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            ACCEPTED_URLS.with(|accepted| accepted.borrow_mut().share(&value));
            Ok(value)
        }
        Ok(u) => Err(DarajaError::field(
            field,
            format!("{field} must be an http(s) URL with a host, got scheme {:?}", u.scheme()),
        )),
        Err(e) => Err(DarajaError::field(field, format!("{field} {:?} is not a URL: {e}", &*value))),
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
// C2B

/// The acknowledgement of register and simulate. The originator key is the
/// contract's misspelt `OriginatorCoversationID` unless a variant names
/// another spelling, so this one writes itself, in wire order.
#[derive(Debug)]
pub(crate) struct C2bAck {
    pub originator_key: String,
    pub originator_conversation_id: String,
    pub response_code: String,
    pub response_description: String,
}

impl Serialize for C2bAck {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry(&self.originator_key, &self.originator_conversation_id)?;
        map.serialize_entry("ResponseCode", &self.response_code)?;
        map.serialize_entry("ResponseDescription", &self.response_description)?;
        map.end()
    }
}

/// The register acknowledgement the sandbox sent from 2017 to 2019:
/// `{"ConversationID": "", "OriginatorCoversationID": "", "ResponseDescription": "success"}`.
#[derive(Debug, Serialize)]
pub(crate) struct C2bLegacyRegisterAck {
    #[serde(rename = "ConversationID")]
    pub conversation_id: &'static str,
    #[serde(rename = "OriginatorCoversationID")]
    pub originator_coversation_id: &'static str,
    #[serde(rename = "ResponseDescription")]
    pub response_description: &'static str,
}

/// The validation and confirmation body; every value is a string.
#[derive(Debug, Serialize)]
pub(crate) struct C2bNotification {
    #[serde(rename = "TransactionType")]
    pub transaction_type: &'static str,
    #[serde(rename = "TransID")]
    pub trans_id: String,
    #[serde(rename = "TransTime")]
    pub trans_time: String,
    #[serde(rename = "TransAmount")]
    pub trans_amount: String,
    #[serde(rename = "BusinessShortCode")]
    pub business_short_code: String,
    #[serde(rename = "BillRefNumber")]
    pub bill_ref_number: String,
    #[serde(rename = "InvoiceNumber")]
    pub invoice_number: String,
    #[serde(rename = "OrgAccountBalance")]
    pub org_account_balance: String,
    #[serde(rename = "ThirdPartyTransID")]
    pub third_party_trans_id: String,
    #[serde(rename = "MSISDN")]
    pub msisdn: String,
    #[serde(rename = "FirstName")]
    pub first_name: String,
    #[serde(rename = "MiddleName")]
    pub middle_name: String,
    #[serde(rename = "LastName")]
    pub last_name: String,
}

/// The Apigee SOAP fault the real sandbox answers a URL registration on an
/// M-Pesa Express-only shortcode with.
#[derive(Debug, Serialize)]
pub(crate) struct SoapFault {
    #[serde(rename = "Envelope")]
    pub envelope: SoapEnvelope,
}

#[derive(Debug, Serialize)]
pub(crate) struct SoapEnvelope {
    #[serde(rename = "encodingStyle")]
    pub encoding_style: &'static str,
    #[serde(rename = "Body")]
    pub body: SoapBody,
}

#[derive(Debug, Serialize)]
pub(crate) struct SoapBody {
    #[serde(rename = "Fault")]
    pub fault: SoapFaultBody,
}

#[derive(Debug, Serialize)]
pub(crate) struct SoapFaultBody {
    pub faultcode: &'static str,
    pub faultstring: &'static str,
    /// An empty object, as captured.
    pub faultactor: Empty,
    pub detail: SoapDetail,
}

/// `{}`.
#[derive(Debug, Serialize)]
pub(crate) struct Empty {}

#[derive(Debug, Serialize)]
pub(crate) struct SoapDetail {
    pub source: ErrorCodeOnly,
}

#[derive(Debug, Serialize)]
pub(crate) struct ErrorCodeOnly {
    pub errorcode: &'static str,
}

impl SoapFault {
    pub(crate) fn url_vault() -> SoapFault {
        SoapFault {
            envelope: SoapEnvelope {
                encoding_style: "http://schemas.xmlsoap.org/soap/encoding/",
                body: SoapBody {
                    fault: SoapFaultBody {
                        faultcode: "soap:Server",
                        faultstring: "Execution of ServiceCallout SCO-AddURLVault failed. Reason: ResponseCode 409 is treated as error",
                        faultactor: Empty {},
                        detail: SoapDetail { source: ErrorCodeOnly { errorcode: "steps.servicecallout.ExecutionFailed" } },
                    },
                },
            },
        }
    }
}

// ---------------------------------------------------------------------------
// Errors the gateway (Apigee) answers itself

/// Apigee's spike arrest: `{"fault": {"faultstring", "detail": {"errorcode"}}}`.
#[derive(Debug, Serialize)]
pub(crate) struct ApigeeFault {
    pub fault: ApigeeFaultBody,
}

#[derive(Debug, Serialize)]
pub(crate) struct ApigeeFaultBody {
    pub faultstring: String,
    pub detail: ApigeeDetail,
}

#[derive(Debug, Serialize)]
pub(crate) struct ApigeeDetail {
    pub errorcode: &'static str,
}

// ---------------------------------------------------------------------------
// Pull Transactions and Dynamic QR

/// `{"ResponseRefID", "ResponseStatus", "ShortCode", "ResponseDescription"}`.
#[derive(Debug, Serialize)]
pub(crate) struct PullRegisterAck {
    #[serde(rename = "ResponseRefID")]
    pub response_ref_id: String,
    #[serde(rename = "ResponseStatus")]
    pub response_status: &'static str,
    #[serde(rename = "ShortCode")]
    pub short_code: String,
    #[serde(rename = "ResponseDescription")]
    pub response_description: &'static str,
}

/// A query's answer: its id under `RequestID` (captured) or `ResponseRefID`
/// (the portal's sample), the code and message, and the transactions in the
/// contract's nested array when there are any.
#[derive(Debug)]
pub(crate) struct PullQueryAnswer {
    pub id_key: &'static str,
    pub id: String,
    pub response_code: &'static str,
    pub response_message: &'static str,
    pub response: Option<Vec<Vec<PullTransaction>>>,
}

impl Serialize for PullQueryAnswer {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry(self.id_key, &self.id)?;
        map.serialize_entry("ResponseCode", self.response_code)?;
        map.serialize_entry("ResponseMessage", self.response_message)?;
        if let Some(response) = &self.response {
            map.serialize_entry("Response", response)?;
        }
        map.end()
    }
}

/// One transaction of a query, with the contract's lower-case keys.
#[derive(Debug, Serialize)]
pub(crate) struct PullTransaction {
    #[serde(rename = "transactionId")]
    pub transaction_id: String,
    #[serde(rename = "trxDate")]
    pub trx_date: String,
    pub msisdn: Scalar,
    pub sender: String,
    pub transactiontype: &'static str,
    pub billreference: String,
    pub amount: String,
    pub organizationname: String,
}

/// `{"ResponseCode": "00", "ResponseDescription", "QRCode"}`.
#[derive(Debug, Serialize)]
pub(crate) struct QrResponse {
    #[serde(rename = "ResponseCode")]
    pub response_code: &'static str,
    #[serde(rename = "ResponseDescription")]
    pub response_description: &'static str,
    #[serde(rename = "QRCode")]
    pub qr_code: String,
}

// ---------------------------------------------------------------------------
// Results (B2C, B2B, reversal, transaction status, account balance)

/// The acknowledgement of B2C (v1, v3) and B2Pochi: `ConversationID` first.
#[derive(Debug, Serialize)]
pub(crate) struct B2cAck {
    #[serde(rename = "ConversationID")]
    pub conversation_id: String,
    #[serde(rename = "OriginatorConversationID")]
    pub originator_conversation_id: String,
    #[serde(rename = "ResponseCode")]
    pub response_code: String,
    #[serde(rename = "ResponseDescription")]
    pub response_description: &'static str,
}

/// The acknowledgement of B2B, tax, reversal, status and balance:
/// `OriginatorConversationID` first.
#[derive(Debug, Serialize)]
pub(crate) struct RequestAck {
    #[serde(rename = "OriginatorConversationID")]
    pub originator_conversation_id: String,
    #[serde(rename = "ConversationID")]
    pub conversation_id: String,
    #[serde(rename = "ResponseCode")]
    pub response_code: String,
    #[serde(rename = "ResponseDescription")]
    pub response_description: &'static str,
}

/// The common `{"Result": {...}}` envelope.
#[derive(Debug, Serialize)]
pub(crate) struct ResultEnvelope {
    #[serde(rename = "Result")]
    pub result: ResultBody,
}

#[derive(Debug, Serialize)]
pub(crate) struct ResultBody {
    /// 0 completed, 1 waiting for further messages (a queue timeout).
    #[serde(rename = "ResultType")]
    pub result_type: Code,
    #[serde(rename = "ResultCode")]
    pub result_code: Code,
    #[serde(rename = "ResultDesc")]
    pub result_desc: String,
    #[serde(rename = "OriginatorConversationID")]
    pub originator_conversation_id: String,
    #[serde(rename = "ConversationID")]
    pub conversation_id: String,
    #[serde(rename = "TransactionID")]
    pub transaction_id: String,
    #[serde(rename = "ResultParameters", skip_serializing_if = "Option::is_none")]
    pub result_parameters: Option<ResultParameters>,
    #[serde(rename = "ReferenceData", skip_serializing_if = "Option::is_none")]
    pub reference_data: Option<ReferenceData>,
}

/// A result code or type as a JSON number (`0`, `2001`) or a string (`"0"`, `"R000002"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub(crate) enum Code {
    Number(u32),
    Text(String),
}

impl Code {
    /// The code as real results of its kind write it.
    pub(crate) fn of(code: &ResultCode, as_text: bool) -> Code {
        match (code, as_text) {
            (ResultCode::Number(n), false) => Code::Number(*n),
            (ResultCode::Number(n), true) => Code::Text(n.to_string()),
            (ResultCode::Text(t), _) => Code::Text(t.clone()),
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct ResultParameters {
    #[serde(rename = "ResultParameter")]
    pub result_parameter: OneOrMany<Item>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ReferenceData {
    #[serde(rename = "ReferenceItem")]
    pub reference_item: OneOrMany<Item>,
}

/// A single object, or an array: real traffic sends either, and clients
/// must read both, so the shape is chosen per result kind, never by count.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

/// `{"Key", "Value"}`, or `{"Key"}` alone where real traffic has no value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Item {
    #[serde(rename = "Key")]
    pub key: &'static str,
    #[serde(rename = "Value", skip_serializing_if = "Option::is_none")]
    pub value: Option<Scalar>,
}

impl Item {
    pub(crate) fn new(key: &'static str, value: Scalar) -> Item {
        Item { key, value: Some(value) }
    }

    pub(crate) fn text(key: &'static str, value: impl Into<String>) -> Item {
        Item::new(key, Scalar::Text(value.into()))
    }

    pub(crate) fn bare(key: &'static str) -> Item {
        Item { key, value: None }
    }
}

pub(crate) fn code_text(code: &ResultCode) -> String {
    match code {
        ResultCode::Number(n) => n.to_string(),
        ResultCode::Text(t) => t.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_accepted_callback_url_is_shared_and_a_refused_one_is_not_kept() {
        let url = "http://127.0.0.1:9911/shared-url-test";
        let first = shared_url_text("CallBackURL", url).unwrap();
        assert_eq!(&*first, url);
        assert!(Arc::ptr_eq(&first, &shared_url_text("CallBackURL", url).unwrap()));
        assert!(url_text("CallBackURL", url).is_ok(), "known to the plain check as well");
        for refused in ["ftp://127.0.0.1/x", "not a url"] {
            assert!(shared_url_text("CallBackURL", refused).is_err(), "{refused}");
            assert!(shared_url_text("CallBackURL", refused).is_err(), "{refused} is not remembered");
        }
    }

    #[test]
    fn remembered_urls_answer_as_a_fresh_parse_would() {
        let body = |u: &str| serde_json::json!({ "CallBackURL": u }).as_object().cloned().unwrap_or_default();
        let good = body("https://example.com/cb");
        for _ in 0..2 {
            assert_eq!(url(&good, "CallBackURL").ok().as_deref(), Some("https://example.com/cb"));
        }
        // Refusals are never remembered, and five accepted URLs push the first out.
        for bad in ["ftp://example.com/cb", "not a url", "http://"] {
            for _ in 0..2 {
                assert!(url(&body(bad), "CallBackURL").is_err(), "{bad}");
            }
        }
        for i in 0..5 {
            let u = format!("http://127.0.0.1:{}/cb", 9000 + i);
            assert_eq!(url(&body(&u), "CallBackURL").ok(), Some(u));
        }
        assert!(url(&good, "CallBackURL").is_ok());
    }

    #[test]
    fn digits_become_numbers_unless_a_number_would_lose_something() {
        assert_eq!(Scalar::digits("353353"), Scalar::Integer(353_353));
        assert_eq!(Scalar::digits("0"), Scalar::Integer(0));
        assert_eq!(Scalar::digits("00123"), Scalar::text("00123"));
        assert_eq!(Scalar::digits("PRN1234XN"), Scalar::text("PRN1234XN"));
        assert_eq!(Scalar::digits("99999999999999999999999"), Scalar::text("99999999999999999999999"));
        assert_eq!(Scalar::digits("+254"), Scalar::text("+254"));
        assert_eq!(Scalar::digits(""), Scalar::text(""));
    }

    #[test]
    fn result_bodies_keep_the_envelope_order_and_optional_parts() {
        let body = ResultEnvelope {
            result: ResultBody {
                result_type: Code::Number(0),
                result_code: Code::of(&ResultCode::Number(2001), false),
                result_desc: "d".into(),
                originator_conversation_id: "o".into(),
                conversation_id: "c".into(),
                transaction_id: "t".into(),
                result_parameters: None,
                reference_data: Some(ReferenceData { reference_item: OneOrMany::One(Item::bare("Occasion")) }),
            },
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"Result":{"ResultType":0,"ResultCode":2001,"ResultDesc":"d","OriginatorConversationID":"o","ConversationID":"c","TransactionID":"t","ReferenceData":{"ReferenceItem":{"Key":"Occasion"}}}}"#
        );
    }

    #[test]
    fn variable_keys_are_written_in_wire_order() {
        let ack = C2bAck {
            originator_key: "OriginatorCoversationID".into(),
            originator_conversation_id: "x".into(),
            response_code: "0".into(),
            response_description: "Success".into(),
        };
        assert_eq!(
            serde_json::to_string(&ack).unwrap(),
            r#"{"OriginatorCoversationID":"x","ResponseCode":"0","ResponseDescription":"Success"}"#
        );
        let fault = serde_json::to_string(&SoapFault::url_vault()).unwrap();
        assert!(fault.starts_with(r#"{"Envelope":{"encodingStyle":"#), "{fault}");
        assert!(fault.contains(r#""faultactor":{},"detail":{"source":{"errorcode":"#), "{fault}");
    }
}
