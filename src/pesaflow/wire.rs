//! Pesaflow's wire types: what goes over HTTP, field for field.
//!
//! Requests are parsed from a [`Params`] (form data or JSON, both work live)
//! into typed structs declared in the order the fields appear on the wire;
//! each parser returns the first wrong field as a [`FieldError`] naming it.
//! Every hashed field keeps the exact text sent, and each request can list
//! the values of its hash recipe in order (`hash_values`).
//! Responses and the notification are `Serialize` structs in the key order
//! of captured traffic (which is not always the documentation's).
//!
//! Where spellings differ between the documentation and live integrations
//! (`callBackURLOnSuccess`/`callBackURLONSuccess`, `pictureURL`/`PictureURL`),
//! [`FieldNames::Lenient`] accepts both and records the respelling;
//! [`FieldNames::Strict`] refuses the variant, as the live server is
//! suspected to.

use chrono::NaiveDateTime;
use secrecy::SecretString;
use serde::Serialize;
use serde_json::Value;

use super::amount::{self, Amount, Currency};
use super::params::{type_name, url_field, value_text, FieldError, FieldProblem, Params};
use crate::ledger::Money;

// ---------------------------------------------------------------------------
// Checkout

/// The paths a checkout arrives on; all create the same invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CheckoutPath {
    /// `POST /PaymentAPI/iframev2.1.php`: what every live integration calls.
    Iframe,
    /// `POST /api/PaymentAPI/checkout`: what the official guide documents.
    Documented,
    /// `POST /PaymentAPI/invoice/checkout`: a Tanzanian white-label's path.
    WhiteLabel,
}

impl CheckoutPath {
    pub(crate) const ALL: [CheckoutPath; 3] =
        [CheckoutPath::Iframe, CheckoutPath::Documented, CheckoutPath::WhiteLabel];

    pub(crate) fn path(self) -> &'static str {
        match self {
            CheckoutPath::Iframe => "/PaymentAPI/iframev2.1.php",
            CheckoutPath::Documented => "/api/PaymentAPI/checkout",
            CheckoutPath::WhiteLabel => "/PaymentAPI/invoice/checkout",
        }
    }

    pub(crate) fn from_path(path: &str) -> Option<CheckoutPath> {
        CheckoutPath::ALL.into_iter().find(|p| p.path() == path)
    }

    /// The guide marks the contact and URL fields mandatory; live clients
    /// (the SDKs) send them empty on the iframe path and are served.
    fn requires_contact_fields(self) -> bool {
        matches!(self, CheckoutPath::Documented)
    }
}

/// What a checkout answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CheckoutFormat {
    /// The payment page (the guide's default).
    Html,
    /// The payment page, meant for an `<iframe>` (the SDKs' default).
    Iframe,
    /// `{invoice_number, invoice_link, commission, amount_net, amount_expected}`.
    Json,
}

/// How strictly field names are matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum FieldNames {
    /// Accept the variant spellings seen in integrations; record them.
    #[default]
    Lenient,
    /// Refuse them with a 422, naming the expected spelling.
    Strict,
}

/// Variant spellings seen in integrations, and the field they stand for.
const RESPELLINGS: &[(&str, &str)] =
    &[("callBackURLONSuccess", "callBackURLOnSuccess"), ("PictureURL", "pictureURL"), ("pictueURL", "pictureURL")];

/// Fields some integrations send that Pesaflow does not read; kept so the
/// page can offer a way back, never required.
const FAILURE_URLS: &[&str] = &["callBackURLOnFailure", "callBackURLOnFail", "callBackURLOnTimeout"];

const CHECKOUT_FIELDS: &[&str] = &[
    "apiClientID",
    "serviceID",
    "billDesc",
    "currency",
    "billRefNumber",
    "clientMSISDN",
    "clientName",
    "clientIDNumber",
    "clientEmail",
    "callBackURLOnSuccess",
    "amountExpected",
    "notificationURL",
    "pictureURL",
    "format",
    "sendSTK",
    "secureHash",
];

/// A syntactically valid checkout, in the order the guide's form lists it.
/// Whether the client, service and hash are right is checked later.
#[derive(Debug, Clone)]
pub(crate) struct CheckoutRequest {
    pub(crate) api_client_id: String,
    pub(crate) service_id: String,
    pub(crate) bill_desc: String,
    pub(crate) currency: Currency,
    pub(crate) bill_ref_number: String,
    /// As sent; see [`CheckoutRequest::msisdn`] for the normalised number.
    pub(crate) client_msisdn: Option<String>,
    pub(crate) client_name: String,
    pub(crate) client_id_number: String,
    pub(crate) client_email: Option<String>,
    pub(crate) callback_url_on_success: Option<String>,
    pub(crate) amount_expected: Amount,
    pub(crate) notification_url: Option<String>,
    pub(crate) picture_url: Option<String>,
    pub(crate) format: CheckoutFormat,
    pub(crate) send_stk: bool,
    pub(crate) secure_hash: String,
    /// `callBackURLOnFailure` and its variants: not Pesaflow's, but sent.
    pub(crate) callback_url_on_failure: Option<String>,
    /// `(as sent, as Pesaflow spells it)` for each variant spelling accepted.
    pub(crate) respelled: Vec<(String, &'static str)>,
    /// Fields Pesaflow does not know, ignored.
    pub(crate) ignored: Vec<String>,
}

impl CheckoutRequest {
    pub(crate) fn parse(params: &Params, path: CheckoutPath, names: FieldNames) -> Result<CheckoutRequest, FieldError> {
        let mut respelled = Vec::new();
        for (variant, canonical) in RESPELLINGS {
            if params.get(variant).is_some() {
                if names == FieldNames::Strict {
                    return Err(FieldError::new(*variant, FieldProblem::Misspelled { expected: canonical }));
                }
                respelled.push(((*variant).to_owned(), *canonical));
            }
        }
        // The canonical spelling wins over a variant when both are sent.
        let spelled = |canonical: &str| -> Result<Option<String>, FieldError> {
            if let Some(v) = params.optional(canonical)? {
                return Ok(Some(v));
            }
            for (variant, c) in RESPELLINGS {
                if *c == canonical {
                    if let Some(v) = params.optional(variant)? {
                        return Ok(Some(v));
                    }
                }
            }
            Ok(None)
        };
        let spelled_url = |canonical: &'static str| -> Result<Option<String>, FieldError> {
            spelled(canonical)?.map(|text| url_field(canonical, text)).transpose()
        };

        let api_client_id = params.required("apiClientID")?;
        let service_id = params.required("serviceID")?;
        let bill_desc = params.required("billDesc")?;
        let currency = params.currency("currency")?;
        let bill_ref_number = params.required("billRefNumber")?;
        let client_msisdn = params.optional("clientMSISDN")?;
        let client_name = params.required("clientName")?;
        let client_id_number = params.required("clientIDNumber")?;
        let client_email = params.optional("clientEmail")?;
        let callback_url_on_success = spelled_url("callBackURLOnSuccess")?;
        let amount_expected = params.amount("amountExpected")?;
        let notification_url = params.url("notificationURL")?;
        let picture_url = spelled("pictureURL")?;
        let format = checkout_format(params, names)?;
        let send_stk = params.flag("sendSTK")?;
        let secure_hash = params.required("secureHash")?;
        let mut callback_url_on_failure = None;
        for name in FAILURE_URLS {
            if let Some(url) = params.url(name)? {
                callback_url_on_failure = Some(url);
                break;
            }
        }

        if path.requires_contact_fields() {
            let present = [
                ("clientMSISDN", client_msisdn.is_some()),
                ("clientEmail", client_email.is_some()),
                ("callBackURLOnSuccess", callback_url_on_success.is_some()),
                ("notificationURL", notification_url.is_some()),
            ];
            if let Some((field, _)) = present.iter().find(|(_, present)| !present) {
                return Err(FieldError::new(*field, missing_or_empty(params, field)));
            }
        }
        if send_stk {
            match &client_msisdn {
                None => return Err(FieldError::new("clientMSISDN", missing_or_empty(params, "clientMSISDN"))),
                Some(text) if normalise_msisdn(text).is_none() => {
                    return Err(FieldError::new("clientMSISDN", FieldProblem::NotAPhoneNumber(text.clone())))
                }
                Some(_) => {}
            }
        }

        let known = |name: &str| {
            CHECKOUT_FIELDS.contains(&name)
                || FAILURE_URLS.contains(&name)
                || RESPELLINGS.iter().any(|(variant, _)| *variant == name)
        };
        let ignored = params.names().filter(|n| !known(n)).map(str::to_owned).collect();

        Ok(CheckoutRequest {
            api_client_id,
            service_id,
            bill_desc,
            currency,
            bill_ref_number,
            client_msisdn,
            client_name,
            client_id_number,
            client_email,
            callback_url_on_success,
            amount_expected,
            notification_url,
            picture_url,
            format,
            send_stk,
            secure_hash,
            callback_url_on_failure,
            respelled,
            ignored,
        })
    }

    /// The checkout recipe's values, in order (the secret is added by the hash).
    pub(crate) fn hash_values(&self) -> [&str; 8] {
        [
            &self.api_client_id,
            self.amount_expected.text(),
            &self.service_id,
            &self.client_id_number,
            self.currency.as_str(),
            &self.bill_ref_number,
            &self.bill_desc,
            &self.client_name,
        ]
    }

    /// `clientMSISDN` as `2547XXXXXXXX`, if it is a Kenyan mobile number.
    pub(crate) fn msisdn(&self) -> Option<String> {
        self.client_msisdn.as_deref().and_then(normalise_msisdn)
    }
}

fn checkout_format(params: &Params, names: FieldNames) -> Result<CheckoutFormat, FieldError> {
    let Some(text) = params.optional("format")? else {
        return Ok(CheckoutFormat::Html);
    };
    let folded = match names {
        // Integrations send `JSON`; the lenient server folds case.
        FieldNames::Lenient => text.trim().to_ascii_lowercase(),
        FieldNames::Strict => text.clone(),
    };
    match folded.as_str() {
        "html" => Ok(CheckoutFormat::Html),
        "iframe" => Ok(CheckoutFormat::Iframe),
        "json" => Ok(CheckoutFormat::Json),
        _ => {
            Err(FieldError::new("format", FieldProblem::NotOneOf { allowed: "html, iframe, json".into(), given: text }))
        }
    }
}

fn missing_or_empty(params: &Params, field: &str) -> FieldProblem {
    match params.required(field) {
        Err(e) => e.problem,
        Ok(_) => FieldProblem::from(crate::fields::FieldProblem::Empty),
    }
}

/// `2547XXXXXXXX` from the forms integrations send: `2547…`, `+2547…`,
/// `07…`, `7…`, and the same with `1` (`2541…`, `01…`); `None` otherwise.
pub(crate) fn normalise_msisdn(text: &str) -> Option<String> {
    let compact: String = text.trim().chars().filter(|c| *c != ' ' && *c != '-').collect();
    let digits = compact.strip_prefix('+').unwrap_or(&compact);
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let national = match digits.len() {
        12 => digits.strip_prefix("254")?,
        10 => digits.strip_prefix('0')?,
        9 => digits,
        _ => return None,
    };
    matches!(national.as_bytes().first(), Some(b'7' | b'1')).then(|| format!("254{national}"))
}

/// `format=json`: every value a string, amounts with two decimals
/// (captured from test.pesaflow.com).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct CheckoutResponse {
    pub(crate) invoice_number: String,
    /// `https://<host>/checkout?request_id=<20 characters>`.
    pub(crate) invoice_link: String,
    pub(crate) commission: String,
    pub(crate) amount_net: String,
    pub(crate) amount_expected: String,
}

impl CheckoutResponse {
    pub(crate) fn new(
        invoice_number: &str,
        invoice_link: &str,
        amount_net: Money,
        commission: Money,
    ) -> CheckoutResponse {
        CheckoutResponse {
            invoice_number: invoice_number.to_owned(),
            invoice_link: invoice_link.to_owned(),
            commission: amount::two_decimals(commission),
            amount_net: amount::two_decimals(amount_net),
            amount_expected: amount::two_decimals(amount::add(amount_net, commission)),
        }
    }
}

// ---------------------------------------------------------------------------
// Aggregators and banks: validate and confirm

/// `POST /api/payment/validate` (documented only; no live capture).
#[derive(Debug, Clone)]
pub(crate) struct ValidateRequest {
    pub(crate) api_client_id: String,
    pub(crate) ref_no: String,
    pub(crate) currency: Currency,
    pub(crate) amount: Amount,
    pub(crate) secure_hash: String,
}

impl ValidateRequest {
    pub(crate) fn parse(params: &Params) -> Result<ValidateRequest, FieldError> {
        Ok(ValidateRequest {
            api_client_id: params.required("api_client_id")?,
            ref_no: params.required("ref_no")?,
            currency: params.currency("currency")?,
            amount: params.amount("amount")?,
            secure_hash: params.required("secure_hash")?,
        })
    }

    /// The validate recipe: the currency is sent but not hashed.
    pub(crate) fn hash_values(&self) -> [&str; 3] {
        [&self.api_client_id, &self.ref_no, self.amount.text()]
    }
}

/// `200 {"status":200,"description":"Bill Found","data":{…}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ValidateResponse {
    pub(crate) status: u16,
    pub(crate) description: &'static str,
    pub(crate) data: BillData,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct BillData {
    /// What is still to pay, two decimals.
    pub(crate) amount: String,
    pub(crate) name: String,
    pub(crate) currency: String,
}

impl ValidateResponse {
    pub(crate) fn found(balance: Money, name: &str, currency: Currency) -> ValidateResponse {
        ValidateResponse {
            status: 200,
            description: "Bill Found",
            data: BillData {
                amount: amount::two_decimals(balance),
                name: name.to_owned(),
                currency: currency.as_str().to_owned(),
            },
        }
    }
}

/// The documented format of `gateway_transaction_date`.
pub(crate) const GATEWAY_DATE_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// `POST /api/payment/confirm` (documented only; no live capture).
#[derive(Debug, Clone)]
pub(crate) struct ConfirmRequest {
    pub(crate) api_client_id: String,
    pub(crate) ref_no: String,
    pub(crate) amount: Amount,
    pub(crate) currency: Currency,
    pub(crate) gateway_transaction_id: String,
    /// As sent (hashed); it must read as a date and time, but the sandbox
    /// dates the payment by its own clock (the aggregator sends no zone).
    pub(crate) gateway_transaction_date: String,
    pub(crate) customer_name: String,
    pub(crate) customer_account_number: String,
    pub(crate) secure_hash: String,
}

impl ConfirmRequest {
    pub(crate) fn parse(params: &Params) -> Result<ConfirmRequest, FieldError> {
        let api_client_id = params.required("api_client_id")?;
        let ref_no = params.required("ref_no")?;
        let amount = params.amount("amount")?;
        let currency = params.currency("currency")?;
        let gateway_transaction_id = params.required("gateway_transaction_id")?;
        let gateway_transaction_date = params.required("gateway_transaction_date")?;
        NaiveDateTime::parse_from_str(&gateway_transaction_date, GATEWAY_DATE_FORMAT).map_err(|_| {
            FieldError::new(
                "gateway_transaction_date",
                FieldProblem::NotADateTime {
                    format: "Y-m-d H:i:s (2019-08-01 08:30:08)",
                    given: gateway_transaction_date.clone(),
                },
            )
        })?;
        Ok(ConfirmRequest {
            api_client_id,
            ref_no,
            amount,
            currency,
            gateway_transaction_id,
            gateway_transaction_date,
            customer_name: params.required("customer_name")?,
            customer_account_number: params.required("customer_account_number")?,
            secure_hash: params.required("secure_hash")?,
        })
    }

    pub(crate) fn hash_values(&self) -> [&str; 8] {
        [
            &self.api_client_id,
            &self.ref_no,
            self.amount.text(),
            self.currency.as_str(),
            &self.gateway_transaction_id,
            &self.gateway_transaction_date,
            &self.customer_name,
            &self.customer_account_number,
        ]
    }
}

/// `200 {"status":200,"description":"Success"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ConfirmResponse {
    pub(crate) status: u16,
    pub(crate) description: &'static str,
}

impl ConfirmResponse {
    pub(crate) const SUCCESS: ConfirmResponse = ConfirmResponse { status: 200, description: "Success" };
}

// ---------------------------------------------------------------------------
// Instant payment notification

/// An amount in a notification: a string as live traffic shows (`"5"`,
/// `"5.00"`), or a JSON number as the Postman collection shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub(crate) enum AmountValue {
    Text(String),
    Number(serde_json::Number),
}

impl AmountValue {
    /// The text that is hashed: the string, or the number's JSON spelling.
    pub(crate) fn hash_text(&self) -> String {
        match self {
            AmountValue::Text(s) => s.clone(),
            AmountValue::Number(n) => n.to_string(),
        }
    }
}

/// One payment towards the invoice, as the live `payment_reference` array lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct PaymentReferenceEntry {
    pub(crate) payment_reference: String,
    /// `2025-05-29T23:16:03Z`.
    pub(crate) payment_date: String,
    /// `2025-05-29T20:16:03`: naive, and three hours behind on live traffic.
    pub(crate) inserted_at: String,
    pub(crate) currency: String,
    pub(crate) amount: AmountValue,
}

/// `payment_reference`: an array of payments (live) or one reference (Postman).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub(crate) enum PaymentReferences {
    List(Vec<PaymentReferenceEntry>),
    Single(String),
}

/// The instant payment notification POSTed to `notificationURL`, in the key
/// order of a real production notification (2025-05-30).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Notification {
    /// `settled`, `partial` (or `SUCCESS`/`PENDING` in the legacy vocabulary).
    pub(crate) status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) secure_hash: Option<String>,
    /// The documentation's name for the signature; off by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) token_hash: Option<String>,
    pub(crate) phone_number: String,
    pub(crate) payment_reference: PaymentReferences,
    pub(crate) payment_date: String,
    pub(crate) payment_channel: String,
    pub(crate) last_payment_amount: AmountValue,
    pub(crate) invoice_number: String,
    pub(crate) invoice_amount: AmountValue,
    pub(crate) currency: String,
    pub(crate) client_invoice_ref: String,
    pub(crate) amount_paid: AmountValue,
}

impl Notification {
    /// The notification as form fields, for receivers configured for form
    /// posts: the payment array cannot be flattened, so `payment_reference`
    /// carries the newest reference only.
    pub(crate) fn to_form_pairs(&self) -> Vec<(&'static str, String)> {
        let reference = match &self.payment_reference {
            PaymentReferences::Single(s) => s.clone(),
            PaymentReferences::List(entries) => entries.last().map(|e| e.payment_reference.clone()).unwrap_or_default(),
        };
        let mut pairs = vec![("status", self.status.clone())];
        if let Some(hash) = &self.secure_hash {
            pairs.push(("secure_hash", hash.clone()));
        }
        if let Some(hash) = &self.token_hash {
            pairs.push(("token_hash", hash.clone()));
        }
        pairs.extend([
            ("phone_number", self.phone_number.clone()),
            ("payment_reference", reference),
            ("payment_date", self.payment_date.clone()),
            ("payment_channel", self.payment_channel.clone()),
            ("last_payment_amount", self.last_payment_amount.hash_text()),
            ("invoice_number", self.invoice_number.clone()),
            ("invoice_amount", self.invoice_amount.hash_text()),
            ("currency", self.currency.clone()),
            ("client_invoice_ref", self.client_invoice_ref.clone()),
            ("amount_paid", self.amount_paid.hash_text()),
        ]);
        pairs
    }
}

// ---------------------------------------------------------------------------
// Status query

/// `GET /api/invoice/payment/status?api_client_id&ref_no&secure_hash`
/// (the guide's samples also POST it as JSON, without `/api`).
#[derive(Debug, Clone)]
pub(crate) struct StatusQuery {
    pub(crate) api_client_id: String,
    pub(crate) ref_no: String,
    pub(crate) secure_hash: String,
}

impl StatusQuery {
    pub(crate) fn parse(params: &Params) -> Result<StatusQuery, FieldError> {
        Ok(StatusQuery {
            api_client_id: params.required("api_client_id")?,
            ref_no: params.required("ref_no")?,
            secure_hash: params.required("secure_hash")?,
        })
    }

    /// The status recipe: no secret.
    pub(crate) fn hash_values(&self) -> [&str; 2] {
        [&self.api_client_id, &self.ref_no]
    }
}

/// `200`, in the key order of test.pesaflow.com's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct StatusResponse {
    /// `pending`, `partial` or `settled`.
    pub(crate) status: String,
    pub(crate) ref_no: String,
    /// `null` while nothing is paid; `2024-01-01 12:30:01` once paid.
    pub(crate) payment_date: Option<String>,
    pub(crate) name: String,
    pub(crate) currency: String,
    pub(crate) client_invoice_ref: String,
    pub(crate) amount_paid: String,
    pub(crate) amount_expected: String,
}

// ---------------------------------------------------------------------------
// USSD

/// What Pesaflow POSTs to a merchant's validation URL when a customer dials
/// the USSD channel with a reference for a service code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct UssdValidationRequest {
    pub(crate) reference: String,
    pub(crate) service_code: String,
    pub(crate) secure_hash: String,
}

/// The merchant's answer: `{"display_info":{"Name":"John Doe"},"valid":true}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UssdValidationAnswer {
    /// Lines shown to the customer, label and value, in the answer's order.
    pub(crate) display_info: Vec<(String, String)>,
    pub(crate) valid: bool,
}

impl UssdValidationAnswer {
    /// Reads a merchant's answer; `valid` must be a boolean (or the text
    /// `"true"`/`"false"`); `display_info` may be absent, and its values may
    /// be strings or numbers.
    pub(crate) fn parse(body: &[u8]) -> Result<UssdValidationAnswer, FieldError> {
        let params =
            Params::from_json(body).map_err(|e| FieldError::new("body", FieldProblem::NotAnObject(e.to_string())))?;
        let valid = match params.get("valid") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) if s == "true" => true,
            Some(Value::String(s)) if s == "false" => false,
            Some(other) => {
                return Err(FieldError::new(
                    "valid",
                    FieldProblem::NotABoolean(value_text(other).unwrap_or_else(|| type_name(other).into())),
                ))
            }
            None => return Err(FieldError::new("valid", crate::fields::FieldProblem::Missing.into())),
        };
        let display_info = match params.get("display_info") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| {
                    value_text(v).map(|text| (k.clone(), text)).ok_or_else(|| {
                        FieldError::new(
                            format!("display_info.{k}"),
                            crate::fields::FieldProblem::WrongType(type_name(v)).into(),
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(FieldError::new(
                    "display_info",
                    crate::fields::FieldProblem::WrongType(type_name(other)).into(),
                ))
            }
        };
        Ok(UssdValidationAnswer { display_info, valid })
    }
}

// ---------------------------------------------------------------------------
// Server-to-server: token and invoice/create

/// `POST /api/oauth/generate/token` with `{"key","secret"}` (live); HTTP
/// Basic `key:secret` (Postman) is read by the handler into the same type.
#[derive(Debug, Clone)]
pub(crate) struct TokenRequest {
    pub(crate) key: String,
    pub(crate) secret: SecretString,
}

impl TokenRequest {
    pub(crate) fn parse(params: &Params) -> Result<TokenRequest, FieldError> {
        Ok(TokenRequest { key: params.required("key")?, secret: SecretString::from(params.required("secret")?) })
    }
}

/// `200 {"token":"<HS256 JWT>","expiry":3599}`: not RFC 6749's shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct TokenResponse {
    pub(crate) token: String,
    pub(crate) expiry: u64,
}

/// Largest quantity of one invoice line.
pub(crate) const MAX_QUANTITY: u64 = 1_000_000;

/// `POST /api/invoice/create` (Bearer), in the key order integrations send.
///
/// Every field is parsed, so a malformed one is refused naming it; the
/// sandbox bills the total and does not split settlements, so some fields
/// are read by nothing but that check.
#[allow(dead_code)]
#[derive(Debug, Clone)]
pub(crate) struct InvoiceCreateRequest {
    /// The service billed (some integrations send their api_client_id here).
    pub(crate) account_id: String,
    pub(crate) amount_expected: Amount,
    pub(crate) amount_net: Option<Amount>,
    pub(crate) amount_settled_offline: Option<Amount>,
    pub(crate) callback_url: Option<String>,
    pub(crate) client_invoice_ref: String,
    pub(crate) commission: Option<Amount>,
    pub(crate) currency: Currency,
    pub(crate) email: Option<String>,
    pub(crate) format: Option<String>,
    pub(crate) id_number: Option<String>,
    pub(crate) items: Vec<InvoiceItem>,
    pub(crate) msisdn: Option<String>,
    pub(crate) name: String,
    pub(crate) notification_url: Option<String>,
    pub(crate) payment_gateway_id: Option<u64>,
    pub(crate) send_stk: bool,
    /// Sent by the Tanzanian white-label besides `account_id`.
    pub(crate) api_client_id: Option<String>,
    pub(crate) desc: Option<String>,
}

/// One invoice line.
#[allow(dead_code)]
#[derive(Debug, Clone)]
pub(crate) struct InvoiceItem {
    pub(crate) account_id: Option<String>,
    pub(crate) desc: String,
    pub(crate) item_ref: Option<String>,
    pub(crate) price: Amount,
    pub(crate) quantity: u64,
    pub(crate) require_settlement: bool,
    pub(crate) currency: Option<Currency>,
    pub(crate) settlements: Vec<Settlement>,
}

/// A split of an item's price to another account.
#[allow(dead_code)]
#[derive(Debug, Clone)]
pub(crate) struct Settlement {
    pub(crate) account_number: String,
    pub(crate) desc: Option<String>,
    pub(crate) value: Amount,
}

impl InvoiceCreateRequest {
    pub(crate) fn parse(params: &Params) -> Result<InvoiceCreateRequest, FieldError> {
        let zero_ok = |name: &str| -> Result<Option<Amount>, FieldError> {
            match params.optional(name)? {
                None => Ok(None),
                Some(text) => Amount::parse_allowing_zero(&text).map(Some).map_err(|p| FieldError::new(name, p.into())),
            }
        };
        let account_id = params.required("account_id")?;
        let amount_expected = params.amount("amount_expected")?;
        let amount_net = match params.optional("amount_net")? {
            None => None,
            Some(_) => Some(params.amount("amount_net")?),
        };
        let amount_settled_offline = zero_ok("amount_settled_offline")?;
        let callback_url = params.url("callback_url")?;
        let client_invoice_ref = params.required("client_invoice_ref")?;
        let commission = zero_ok("commission")?;
        let currency = params.currency("currency")?;
        let email = params.optional("email")?;
        let format = params.optional("format")?;
        let id_number = params.optional("id_number")?;
        let items = match params.get("items") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| InvoiceItem::parse(item, &format!("items[{i}]")))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(FieldError::new("items", FieldProblem::NotAList)),
        };
        let msisdn = params.optional("msisdn")?;
        let name = params.required("name")?;
        let notification_url = params.url("notification_url")?;
        let payment_gateway_id = match params.optional("payment_gateway_id")? {
            None => None,
            Some(text) => Some(whole_number(&text, "payment_gateway_id", 0, u32::MAX.into())?),
        };
        Ok(InvoiceCreateRequest {
            account_id,
            amount_expected,
            amount_net,
            amount_settled_offline,
            callback_url,
            client_invoice_ref,
            commission,
            currency,
            email,
            format,
            id_number,
            items,
            msisdn,
            name,
            notification_url,
            payment_gateway_id,
            send_stk: params.flag("send_stk")?,
            api_client_id: params.optional("api_client_id")?,
            desc: params.optional("desc")?,
        })
    }

    /// The sum of `price × quantity` over the items, saturating.
    pub(crate) fn items_total(&self) -> Money {
        self.items.iter().fold(Money(0), |total, item| {
            let line = item.price.money().cents().saturating_mul(i64::try_from(item.quantity).unwrap_or(i64::MAX));
            amount::add(total, Money(line))
        })
    }
}

impl InvoiceItem {
    fn parse(value: &Value, at: &str) -> Result<InvoiceItem, FieldError> {
        let Value::Object(map) = value else {
            return Err(FieldError::new(at, FieldProblem::NotAList));
        };
        let item = Params::from_object(map.clone());
        let inside = |e: FieldError| FieldError::new(format!("{at}.{}", e.field), e.problem);
        let quantity = match item.optional("quantity").map_err(inside)? {
            None => 1,
            Some(text) => whole_number(&text, "quantity", 1, MAX_QUANTITY).map_err(inside)?,
        };
        let currency = match item.optional("currency").map_err(inside)? {
            None => None,
            Some(_) => Some(item.currency("currency").map_err(inside)?),
        };
        let settlements = match item.get("settlements") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) => list
                .iter()
                .enumerate()
                .map(|(i, s)| Settlement::parse(s, &format!("{at}.settlements[{i}]")))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(FieldError::new(format!("{at}.settlements"), FieldProblem::NotAList)),
        };
        Ok(InvoiceItem {
            account_id: item.optional("account_id").map_err(inside)?,
            desc: item.required("desc").map_err(inside)?,
            item_ref: item.optional("item_ref").map_err(inside)?,
            price: item.amount("price").map_err(inside)?,
            quantity,
            require_settlement: item.flag("require_settlement").map_err(inside)?,
            currency,
            settlements,
        })
    }
}

impl Settlement {
    fn parse(value: &Value, at: &str) -> Result<Settlement, FieldError> {
        let Value::Object(map) = value else {
            return Err(FieldError::new(at, FieldProblem::NotAList));
        };
        let fields = Params::from_object(map.clone());
        let inside = |e: FieldError| FieldError::new(format!("{at}.{}", e.field), e.problem);
        let value_text = fields.required("value").map_err(inside)?;
        Ok(Settlement {
            account_number: fields.required("account_number").map_err(inside)?,
            desc: fields.optional("desc").map_err(inside)?,
            value: Amount::parse_allowing_zero(&value_text)
                .map_err(|p| FieldError::new(format!("{at}.value"), p.into()))?,
        })
    }
}

fn whole_number(text: &str, field: &str, min: u64, max: u64) -> Result<u64, FieldError> {
    match text.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(FieldError::new(field, FieldProblem::OutOfRange { min, max, given: text.to_owned() })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// The TruLoad run that test.pesaflow.com accepted (GWLQKD), as a form.
    const LIVE_FORM: &[u8] = b"apiClientID=588&serviceID=235330&billDesc=Test+Overload+Fine&currency=KES\
&billRefNumber=TEST-20260211170740&clientMSISDN=254700000000&clientName=Test+User&clientIDNumber=TEST-ID-001\
&clientEmail=test%40example.com&amountExpected=100.00\
&callBackURLOnSuccess=https%3A%2F%2Fshop.example%2Fok&notificationURL=https%3A%2F%2Fshop.example%2Fipn\
&secureHash=MDcwYzlhYzBlNzY5MmIyMWU2YzdiODQ0M2ZhMGI3YzE5MDVjZDU2YTM5NmFmNmQzM2RiMGRjMjYzMDA2OWIxNw%3D%3D\
&format=json&sendSTK=false";

    #[test]
    fn a_live_checkout_form_parses_in_wire_order_with_its_hash_values() {
        let request =
            CheckoutRequest::parse(&Params::from_form(LIVE_FORM), CheckoutPath::Iframe, FieldNames::Lenient).unwrap();
        assert_eq!(
            request.hash_values(),
            ["588", "100.00", "235330", "TEST-ID-001", "KES", "TEST-20260211170740", "Test Overload Fine", "Test User"]
        );
        assert_eq!(request.format, CheckoutFormat::Json);
        assert!(!request.send_stk);
        assert_eq!(request.msisdn().as_deref(), Some("254700000000"));
        assert!(request.ignored.is_empty() && request.respelled.is_empty());
    }

    #[test]
    fn the_same_checkout_as_json_reads_the_same() {
        let json = json!({
            "apiClientID": "588", "serviceID": "235330", "billDesc": "Test Overload Fine", "currency": "KES",
            "billRefNumber": "TEST-20260211170740", "clientMSISDN": "+254700000000", "clientName": "Test User",
            "clientIDNumber": "TEST-ID-001", "amountExpected": "100.00", "format": "JSON", "sendSTK": true,
            "secureHash": "x", "pictueURL": "", "callBackURLONSuccess": "https://shop.example/ok", "colour": "red"
        });
        let params = Params::from_json(json.to_string().as_bytes()).unwrap();
        let request = CheckoutRequest::parse(&params, CheckoutPath::Iframe, FieldNames::Lenient).unwrap();
        assert_eq!(request.format, CheckoutFormat::Json);
        assert!(request.send_stk);
        assert_eq!(request.msisdn().as_deref(), Some("254700000000"));
        assert_eq!(request.callback_url_on_success.as_deref(), Some("https://shop.example/ok"));
        assert_eq!(request.ignored, ["colour"]);
        assert!(request.respelled.contains(&("callBackURLONSuccess".into(), "callBackURLOnSuccess")));

        let strict = CheckoutRequest::parse(&params, CheckoutPath::Iframe, FieldNames::Strict).unwrap_err();
        assert_eq!(strict.field, "callBackURLONSuccess");
        assert_eq!(
            strict.to_string(),
            "callBackURLONSuccess is not a Pesaflow field; Pesaflow spells it callBackURLOnSuccess"
        );
    }

    #[test]
    fn the_documented_path_requires_the_contact_fields_the_iframe_path_does_not() {
        let params = Params::from_form(
            b"apiClientID=1&serviceID=2&billDesc=d&currency=KES&billRefNumber=r&clientName=n&clientIDNumber=i\
&amountExpected=5&secureHash=h&clientMSISDN=&clientEmail=",
        );
        assert!(CheckoutRequest::parse(&params, CheckoutPath::Iframe, FieldNames::Lenient).is_ok());
        let err = CheckoutRequest::parse(&params, CheckoutPath::Documented, FieldNames::Lenient).unwrap_err();
        assert_eq!(err.to_string(), "clientMSISDN is empty");
    }

    #[test]
    fn a_prompt_needs_a_phone_number() {
        let base = "apiClientID=1&serviceID=2&billDesc=d&currency=KES&billRefNumber=r&clientName=n&clientIDNumber=i\
&amountExpected=5&secureHash=h&sendSTK=True";
        let without = Params::from_form(base.as_bytes());
        let err = CheckoutRequest::parse(&without, CheckoutPath::Iframe, FieldNames::Lenient).unwrap_err();
        assert_eq!(err.to_string(), "clientMSISDN is missing");
        let wrong = Params::from_form(format!("{base}&clientMSISDN=12345").as_bytes());
        let err = CheckoutRequest::parse(&wrong, CheckoutPath::Iframe, FieldNames::Lenient).unwrap_err();
        assert_eq!(err.problem, FieldProblem::NotAPhoneNumber("12345".into()));
    }

    #[test]
    fn bad_checkout_fields_are_named() {
        let cases: &[(&str, &str)] = &[
            ("amountExpected=ten", "amountExpected is not a decimal number: \"ten\""),
            ("amountExpected=0", "amountExpected must be greater than zero, got \"0\""),
            (
                "currency=XYZ",
                "currency is not a currency Pesaflow bills in: \"XYZ\" (expected an upper-case code such as KES)",
            ),
            ("notificationURL=not-a-url", "notificationURL is not an absolute http(s) URL: \"not-a-url\""),
            ("format=pdf", "format must be one of html, iframe, json, got \"pdf\""),
            ("sendSTK=perhaps", "sendSTK must be true or false, got \"perhaps\""),
        ];
        for (change, expected) in cases {
            let (name, _) = change.split_once('=').unwrap();
            let mut body = String::from_utf8(LIVE_FORM.to_vec()).unwrap();
            body = body.split('&').filter(|kv| !kv.starts_with(&format!("{name}="))).collect::<Vec<_>>().join("&");
            body.push('&');
            body.push_str(change);
            let err =
                CheckoutRequest::parse(&Params::from_form(body.as_bytes()), CheckoutPath::Iframe, FieldNames::Lenient)
                    .unwrap_err();
            assert_eq!(err.to_string(), *expected);
        }
    }

    #[test]
    fn msisdns_normalise_from_every_form_integrations_send() {
        for text in ["254712345678", "+254712345678", "0712345678", "712345678", "0712 345 678"] {
            assert_eq!(normalise_msisdn(text).as_deref(), Some("254712345678"), "{text}");
        }
        assert_eq!(normalise_msisdn("0112345678").as_deref(), Some("254112345678"));
        for text in ["", "12345", "254812345678", "2547123456789", "07123456ab", "+"] {
            assert_eq!(normalise_msisdn(text), None, "{text}");
        }
    }

    #[test]
    fn the_checkout_response_serializes_as_captured() {
        let response = CheckoutResponse::new(
            "GWLQKD",
            "https://test.pesaflow.com/checkout?request_id=d8HbuZT_0nO3XLjH7nRy",
            Money(10000),
            Money(500),
        );
        assert_eq!(
            serde_json::to_string(&response).unwrap(),
            r#"{"invoice_number":"GWLQKD","invoice_link":"https://test.pesaflow.com/checkout?request_id=d8HbuZT_0nO3XLjH7nRy","commission":"5.00","amount_net":"100.00","amount_expected":"105.00"}"#
        );
    }

    #[test]
    fn validate_and_confirm_parse_the_documented_payloads() {
        let validate = ValidateRequest::parse(
            &Params::from_json(
                br#"{"api_client_id":"1","ref_no":"NWQTYU","currency":"KES","amount":"10","secure_hash":"h"}"#,
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(validate.hash_values(), ["1", "NWQTYU", "10"]);
        assert_eq!(
            serde_json::to_string(&ValidateResponse::found(Money(10500), "John Doe", Currency::KES)).unwrap(),
            r#"{"status":200,"description":"Bill Found","data":{"amount":"105.00","name":"John Doe","currency":"KES"}}"#
        );

        let confirm = Params::from_json(
            br#"{"api_client_id":"1","ref_no":"NWQTYU","amount":"10","currency":"SSP","gateway_transaction_id":"1234434",
                "gateway_transaction_date":"2021-01-26 15:30:01","customer_name":"JOHN DOE",
                "customer_account_number":"438485959","secure_hash":"h"}"#,
        )
        .unwrap();
        let confirm = ConfirmRequest::parse(&confirm).unwrap();
        assert_eq!(
            confirm.hash_values(),
            ["1", "NWQTYU", "10", "SSP", "1234434", "2021-01-26 15:30:01", "JOHN DOE", "438485959"]
        );
        assert_eq!(
            serde_json::to_string(&ConfirmResponse::SUCCESS).unwrap(),
            r#"{"status":200,"description":"Success"}"#
        );

        let bad_date = Params::from_json(
            br#"{"api_client_id":"1","ref_no":"R","amount":"10","currency":"KES","gateway_transaction_id":"1",
                "gateway_transaction_date":"2021-01-26T15:30:01Z","customer_name":"J","customer_account_number":"4","secure_hash":"h"}"#,
        )
        .unwrap();
        assert_eq!(ConfirmRequest::parse(&bad_date).unwrap_err().field, "gateway_transaction_date");
    }

    #[test]
    fn a_notification_serializes_in_the_real_key_order() {
        let notification = Notification {
            status: "settled".into(),
            secure_hash: Some("MzA5".into()),
            token_hash: None,
            phone_number: "254700000000".into(),
            payment_reference: PaymentReferences::List(vec![PaymentReferenceEntry {
                payment_reference: "TET6QMYYAK".into(),
                payment_date: "2025-05-29T23:16:03Z".into(),
                inserted_at: "2025-05-29T20:16:03".into(),
                currency: "KES".into(),
                amount: AmountValue::Text("5".into()),
            }]),
            payment_date: "2025-05-30 02:16:03+03:00 EAT Africa/Nairobi".into(),
            payment_channel: "MPESA".into(),
            last_payment_amount: AmountValue::Text("5".into()),
            invoice_number: "WQBGPWRR".into(),
            invoice_amount: AmountValue::Text("5.00".into()),
            currency: "KES".into(),
            client_invoice_ref: "RNH3B02".into(),
            amount_paid: AmountValue::Text("5".into()),
        };
        assert_eq!(
            serde_json::to_string(&notification).unwrap(),
            r#"{"status":"settled","secure_hash":"MzA5","phone_number":"254700000000","payment_reference":[{"payment_reference":"TET6QMYYAK","payment_date":"2025-05-29T23:16:03Z","inserted_at":"2025-05-29T20:16:03","currency":"KES","amount":"5"}],"payment_date":"2025-05-30 02:16:03+03:00 EAT Africa/Nairobi","payment_channel":"MPESA","last_payment_amount":"5","invoice_number":"WQBGPWRR","invoice_amount":"5.00","currency":"KES","client_invoice_ref":"RNH3B02","amount_paid":"5"}"#
        );
        let form = notification.to_form_pairs();
        assert!(form.contains(&("payment_reference", "TET6QMYYAK".into())));
        assert_eq!(form.first(), Some(&("status", "settled".into())));
    }

    #[test]
    fn the_status_query_reads_a_query_string_and_answers_in_live_order() {
        let query = StatusQuery::parse(&Params::from_form(
            b"api_client_id=588&ref_no=GWLQKD&secure_hash=Mzc1ODY1N2QxOTIxY2U0ODYwOGQ2NWU3N2U3ZjdmNjJhMTljODQ0MDVkNjlkMzQ1MTNlZDNkNDA4YzIyMThlMg%3D%3D",
        ))
        .unwrap();
        assert_eq!(query.hash_values(), ["588", "GWLQKD"]);
        assert!(query.secure_hash.ends_with("=="));
        let response = StatusResponse {
            status: "pending".into(),
            ref_no: "GWLQKD".into(),
            payment_date: None,
            name: "Test User".into(),
            currency: "KES".into(),
            client_invoice_ref: "TEST-20260211170740".into(),
            amount_paid: "0.00".into(),
            amount_expected: "105.00".into(),
        };
        assert_eq!(
            serde_json::to_string(&response).unwrap(),
            r#"{"status":"pending","ref_no":"GWLQKD","payment_date":null,"name":"Test User","currency":"KES","client_invoice_ref":"TEST-20260211170740","amount_paid":"0.00","amount_expected":"105.00"}"#
        );
    }

    #[test]
    fn a_merchants_ussd_answer_is_read_leniently_and_precisely() {
        let answer = UssdValidationAnswer::parse(
            br#"{ "display_info": { "Name": "John Doe", "Account": 123456789 }, "valid":true }"#,
        )
        .unwrap();
        assert!(answer.valid);
        assert!(answer.display_info.contains(&("Account".into(), "123456789".into())));
        assert!(!UssdValidationAnswer::parse(br#"{"display_info":{},"valid":"false"}"#).unwrap().valid);
        assert_eq!(UssdValidationAnswer::parse(br#"{"display_info":{}}"#).unwrap_err().to_string(), "valid is missing");
        assert_eq!(UssdValidationAnswer::parse(br#"{"valid":1}"#).unwrap_err().field, "valid");
        assert_eq!(
            UssdValidationAnswer::parse(br#"{"valid":true,"display_info":{"a":[]}}"#).unwrap_err().field,
            "display_info.a"
        );
        assert_eq!(UssdValidationAnswer::parse(b"OK").unwrap_err().field, "body");
        let request =
            UssdValidationRequest { reference: "ID1".into(), service_code: "S1".into(), secure_hash: "h".into() };
        assert_eq!(
            serde_json::to_string(&request).unwrap(),
            r#"{"reference":"ID1","service_code":"S1","secure_hash":"h"}"#
        );
    }

    #[test]
    fn the_token_exchange_keeps_the_secret_out_of_debug_output() {
        let request = TokenRequest::parse(&Params::from_json(br#"{"key":"k","secret":"s3cr3t"}"#).unwrap()).unwrap();
        assert_eq!(request.key, "k");
        assert!(!format!("{request:?}").contains("s3cr3t"));
        let response = TokenResponse { token: "a.b.c".into(), expiry: 3599 };
        assert_eq!(serde_json::to_string(&response).unwrap(), r#"{"token":"a.b.c","expiry":3599}"#);
    }

    #[test]
    fn invoice_create_reads_the_live_payload_and_its_line_items() {
        let body = json!({
            "account_id": "588", "amount_expected": "100.00", "amount_net": "100.00", "amount_settled_offline": 0,
            "callback_url": "http://localhost:4000/cb", "client_invoice_ref": "TEST-20260211163139", "commission": "0",
            "currency": "KES", "email": "test@truload-e2e.co.ke", "format": "json", "id_number": "TEST-ID-001",
            "items": [{"account_id": "588", "desc": "Test Overload Fine", "item_ref": "TEST-20260211163139",
                       "price": "100.00", "quantity": "1", "require_settlement": "true", "currency": "KES",
                       "settlements": [{"account_number": 4567898765434567u64, "desc": "VAT", "value": 0}]}],
            "msisdn": "254700000000", "name": "Pesaflow API Test User", "notification_url": "http://localhost:4000/ipn",
            "payment_gateway_id": 1, "send_stk": false
        });
        let request = InvoiceCreateRequest::parse(&Params::from_json(body.to_string().as_bytes()).unwrap()).unwrap();
        assert_eq!(request.items_total(), Money(10000));
        assert_eq!(request.amount_settled_offline.as_ref().map(Amount::money), Some(Money(0)));
        assert_eq!(request.items[0].settlements[0].account_number, "4567898765434567");
        assert!(request.items[0].require_settlement);
        assert_eq!(request.payment_gateway_id, Some(1));

        let bad = json!({"account_id":"1","amount_expected":"5","client_invoice_ref":"r","currency":"KES","name":"n",
                         "items":[{"desc":"d","price":"5"},{"desc":"d","price":"five"}]});
        let err = InvoiceCreateRequest::parse(&Params::from_json(bad.to_string().as_bytes()).unwrap()).unwrap_err();
        assert_eq!(err.to_string(), "items[1].price is not a decimal number: \"five\"");
        let bad = json!({"account_id":"1","amount_expected":"5","client_invoice_ref":"r","currency":"KES","name":"n",
                         "items":[{"desc":"d","price":"5","quantity":0}]});
        let err = InvoiceCreateRequest::parse(&Params::from_json(bad.to_string().as_bytes()).unwrap()).unwrap_err();
        assert_eq!(err.field, "items[0].quantity");
    }

    proptest! {
        #[test]
        fn any_form_body_is_parsed_or_refused_without_panicking(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let params = Params::from_form(&body);
            for path in CheckoutPath::ALL {
                let _ = CheckoutRequest::parse(&params, path, FieldNames::Lenient);
                let _ = CheckoutRequest::parse(&params, path, FieldNames::Strict);
            }
            let _ = ValidateRequest::parse(&params);
            let _ = ConfirmRequest::parse(&params);
            let _ = StatusQuery::parse(&params);
            let _ = TokenRequest::parse(&params);
            let _ = InvoiceCreateRequest::parse(&params);
            let _ = UssdValidationAnswer::parse(&body);
        }

        #[test]
        fn a_valid_live_form_with_one_field_mangled_never_panics(field in 0usize..16, value in ".{0,20}") {
            let mut params: Vec<(String, String)> = url::form_urlencoded::parse(LIVE_FORM).into_owned().collect();
            if let Some(slot) = params.get_mut(field) {
                slot.1 = value;
            }
            let body: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
            let _ = CheckoutRequest::parse(&Params::from_form(body.as_bytes()), CheckoutPath::Documented, FieldNames::Lenient);
        }
    }
}
