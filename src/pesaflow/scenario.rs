//! Pesaflow's scenario vocabulary: the operations a rule's `when.operation`
//! names, what the engine sees of each request, the named faults a rule's
//! `fault.error` may choose, and the M-Pesa prompt outcomes.
//!
//! | operation        | what it is                                                  | facts                                   |
//! |------------------|-------------------------------------------------------------|-----------------------------------------|
//! | `checkout`       | `POST` of a checkout form, any of its paths                 | msisdn, amount, service, bill ref, client |
//! | `checkout_page`  | `GET /checkout?request_id=…`, the hosted page               | —                                       |
//! | `mpesa_prompt`   | a prompt from the page or `sendSTK=true`; outcome = result  | msisdn, amount, service, invoice, client |
//! | `validate`       | `POST /api/payment/validate`                                | amount, invoice, client                 |
//! | `confirm`        | `POST /api/payment/confirm`                                 | account, amount, invoice, client        |
//! | `status`         | the status query                                            | invoice, client                         |
//! | `notification`   | the instant payment notification (callback script applies)  | msisdn, amount, invoice, client         |
//! | `ussd_validate`  | the USSD validation request to the merchant                 | reference, service code                 |
//! | `token`          | `POST /api/oauth/generate/token`                            | —                                       |
//! | `invoice_create` | `POST /api/invoice/create`                                  | msisdn, amount, service, client ref     |
//!
//! Facts map onto the engine's common fields: `shortcode` is the service id,
//! `account_reference` the merchant's or Pesaflow's invoice reference, and
//! `initiator` the api_client_id.
//!
//! The gate's refusals are rendered in the envelope of the endpoint that was
//! refused: [`refuse`] answers in the `{"error": …}` envelope and marks the
//! answer, and [`gate`] moves a marked answer into the endpoint's envelope.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::error::{Envelope, ErrorKind, Maintenance, PesaflowError};
use super::params::Params;
use super::{Pesaflow, PROVIDER};
use crate::fields::Fields;
pub(crate) use crate::gate::Gate;
use crate::http::Fault;
use crate::ledger::Money;
use crate::provider::Refusal;
use crate::scenarios::{Facts, LimitError};
use crate::store::Tenant;

/// Every operation a Pesaflow scenario rule may name.
pub(crate) const OPERATIONS: &[&str] = &[
    "checkout",
    "checkout_page",
    "mpesa_prompt",
    "validate",
    "confirm",
    "status",
    "notification",
    "ussd_validate",
    "token",
    "invoice_create",
];

/// The named faults of `fault.error` on Pesaflow paths: the seed's error
/// table (400, 401, 403, 404, 500, 502, 503), by name.
pub(crate) const FAULTS: &[&str] = &[
    "maintenance_502",
    "maintenance_503",
    "failed",
    "forbidden",
    "unauthorized",
    "invalid_secure_hash",
    "invalid_request",
    "invoice_not_found",
    "bill_not_found",
];

/// The error a named fault answers with, in the failing endpoint's envelope.
pub(crate) fn named_fault(name: &str) -> Option<ErrorKind> {
    Some(match name {
        "maintenance_502" => ErrorKind::Maintenance(Maintenance::BadGateway),
        "maintenance_503" | "system_busy" => ErrorKind::Maintenance(Maintenance::Unavailable),
        "internal_error" => ErrorKind::Internal,
        "spike_arrest" | "quota_violation" => ErrorKind::TooManyRequests,
        "invalid_secure_hash" => ErrorKind::InvalidSecureHash,
        "invalid_request" => ErrorKind::BadRequest,
        "failed" => ErrorKind::Failed { message: "Failed" },
        "forbidden" => ErrorKind::Forbidden,
        "unauthorized" => ErrorKind::Unauthorized,
        "invoice_not_found" => ErrorKind::InvoiceNotFound,
        "bill_not_found" => ErrorKind::BillNotFound,
        _ => return None,
    })
}

/// The gate's refusal, in the `{"error": …}` envelope, marked so that [`gate`]
/// can move it into the refused endpoint's envelope.
pub(crate) fn refuse(refusal: Refusal<'_>) -> Response {
    let error = refusal_error(refusal);
    let mut response = error.clone().into_response();
    response.extensions_mut().insert(Refused(error));
    response
}

/// A refusal waiting for its endpoint's envelope.
#[derive(Clone)]
struct Refused(PesaflowError);

/// The error a refusal of the gate answers with.
fn refusal_error(refusal: Refusal<'_>) -> PesaflowError {
    match refusal {
        Refusal::RateLimited { limit, why } => {
            let what = match limit {
                LimitError::SpikeArrest => "spike arrest",
                LimitError::QuotaViolation => "quota",
            };
            PesaflowError::new(ErrorKind::TooManyRequests, Envelope::Error, format!("{why} ({what})"))
        }
        Refusal::Scripted { error, message, status, why } => {
            let named = error.and_then(named_fault);
            let kind = match (named, error, status) {
                // A maintenance page keeps its HTML whatever status is asked for.
                (Some(ErrorKind::Maintenance(_)), _, Some(s)) if s == StatusCode::BAD_GATEWAY => {
                    ErrorKind::Maintenance(Maintenance::BadGateway)
                }
                (Some(kind @ ErrorKind::Maintenance(_)), _, _) => kind,
                (Some(kind), _, None) => kind,
                (Some(kind), _, Some(s)) if s == kind.status() => kind,
                (Some(kind), _, Some(s)) => {
                    ErrorKind::Custom { status: s, message: message.map_or_else(|| kind.message(), str::to_owned) }
                }
                // A raw code: its message, or the code itself.
                (None, Some(code), s) => ErrorKind::Custom {
                    status: s.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    message: message.unwrap_or(code).to_owned(),
                },
                (None, None, Some(s)) if s == StatusCode::BAD_GATEWAY => {
                    ErrorKind::Maintenance(Maintenance::BadGateway)
                }
                (None, None, Some(s)) if s == StatusCode::SERVICE_UNAVAILABLE => {
                    ErrorKind::Maintenance(Maintenance::Unavailable)
                }
                (None, None, Some(s)) => ErrorKind::Custom {
                    status: s,
                    message: message.map_or_else(|| s.canonical_reason().unwrap_or("Error").to_owned(), str::to_owned),
                },
                (None, None, None) => ErrorKind::Internal,
            };
            PesaflowError::new(kind, Envelope::Error, why)
        }
    }
}

/// Applies rate limits (per api_client_id) and scripted faults to a Pesaflow
/// request; a refusal comes back in `envelope`, the endpoint's own.
pub(crate) fn gate(
    tenant: &Tenant,
    client: &str,
    operation: &'static str,
    params: &Params,
    envelope: Envelope,
) -> Gate {
    gate_with(tenant, client, &facts(params).into_facts(operation, Some(params)), envelope)
}

/// [`gate`] with facts the handler assembled itself (the page's prompt form
/// names an invoice, not a service or a client).
pub(crate) fn gate_with(tenant: &Tenant, client: &str, facts: &Facts<'_>, envelope: Envelope) -> Gate {
    match crate::gate::gate::<Pesaflow>(tenant, client, facts) {
        Gate::Refuse(mut response) => {
            if let Some(Refused(error)) = response.extensions_mut().remove::<Refused>() {
                let error = PesaflowError { envelope, ..error };
                response.extensions_mut().insert(Fault(Arc::new(error)));
            }
            Gate::Refuse(response)
        }
        pass => pass,
    }
}

/// M-Pesa prompt results a rule's `outcome.result_code` may give, with the
/// description the M-Pesa platform sends and the page shows.
pub(crate) const PROMPT_RESULTS: &[(i64, &str)] = &[
    (0, "The service request is processed successfully."),
    (1, "The balance is insufficient for the transaction."),
    (1032, "Request cancelled by user"),
    (1037, "DS timeout user cannot be reached"),
    (2001, "The initiator information is invalid."),
];

/// The description of a prompt result; unknown codes get a generic text.
pub(crate) fn prompt_result_text(code: i64) -> &'static str {
    PROMPT_RESULTS.iter().find(|(c, _)| *c == code).map(|(_, text)| *text).unwrap_or("The payment failed.")
}

/// What the scenario engine sees of a Pesaflow request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FactValues {
    pub(crate) msisdn: Option<String>,
    pub(crate) amount: Option<Money>,
    /// The service id.
    pub(crate) shortcode: Option<String>,
    /// The bill reference or invoice number.
    pub(crate) account_reference: Option<String>,
    /// The api_client_id.
    pub(crate) initiator: Option<String>,
}

/// The fields each fact is read from, first present wins, across every
/// Pesaflow request shape.
const MSISDN: &[&str] = &["clientMSISDN", "msisdn", "phone", "customer_account_number"];
const AMOUNT: &[&str] = &["amountExpected", "amount_expected", "amount"];
const SERVICE: &[&str] = &["serviceID", "account_id", "service_code"];
const REFERENCE: &[&str] = &["billRefNumber", "client_invoice_ref", "ref_no", "reference"];
const CLIENT: &[&str] = &["apiClientID", "api_client_id"];

impl FactValues {
    /// What the scenario engine matches on, for `operation`.
    pub(crate) fn into_facts<'a>(self, operation: &'static str, body: Option<&'a dyn Fields>) -> Facts<'a> {
        Facts {
            provider: PROVIDER,
            operation,
            body,
            msisdn: self.msisdn.map(Into::into),
            amount: self.amount,
            shortcode: self.shortcode.map(Into::into),
            account_reference: self.account_reference.map(Into::into),
            initiator: self.initiator.map(Into::into),
        }
    }
}

/// Reads the facts of any Pesaflow request; absent or malformed fields are
/// simply not facts (the request's own parser reports them).
pub(crate) fn facts(params: &Params) -> FactValues {
    let first = |names: &[&str]| names.iter().find_map(|n| params.optional(n).ok().flatten());
    FactValues {
        msisdn: first(MSISDN).map(|m| super::wire::normalise_msisdn(&m).unwrap_or(m)),
        amount: first(AMOUNT).and_then(|a| Money::parse(&a)),
        shortcode: first(SERVICE),
        account_reference: first(REFERENCE),
        initiator: first(CLIENT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_fault_maps_to_an_error() {
        for name in FAULTS {
            assert!(named_fault(name).is_some(), "{name}");
        }
        assert_eq!(named_fault("maintenance_502").map(|k| k.status().as_u16()), Some(502));
        assert_eq!(named_fault("maintenance_503").map(|k| k.status().as_u16()), Some(503));
        assert_eq!(named_fault("spike_arrest"), Some(ErrorKind::TooManyRequests), "the common names work too");
        assert_eq!(named_fault("system_busy"), Some(ErrorKind::Maintenance(Maintenance::Unavailable)));
        assert!(named_fault("maintenance_504").is_none());
    }

    fn scripted(error: Option<&str>, status: Option<u16>) -> PesaflowError {
        refusal_error(Refusal::Scripted {
            error,
            message: None,
            status: status.and_then(|s| StatusCode::from_u16(s).ok()),
            why: "scripted by scenario rule t#r".into(),
        })
    }

    #[test]
    fn a_scripted_fault_answers_the_seeds_error_table() {
        assert_eq!(scripted(Some("maintenance_502"), None).parts().1, "text/html");
        assert_eq!(scripted(None, Some(502)).kind, ErrorKind::Maintenance(Maintenance::BadGateway));
        assert_eq!(scripted(None, Some(503)).kind, ErrorKind::Maintenance(Maintenance::Unavailable));
        assert_eq!(scripted(Some("maintenance_503"), Some(502)).kind, ErrorKind::Maintenance(Maintenance::BadGateway));
        assert_eq!(scripted(Some("bill_not_found"), None).status(), StatusCode::NOT_FOUND);
        assert_eq!(scripted(None, None).kind, ErrorKind::Internal);
        assert_eq!(
            scripted(Some("forbidden"), Some(418)).kind,
            ErrorKind::Custom { status: StatusCode::IM_A_TEAPOT, message: "Forbidden Access".into() }
        );
        assert_eq!(
            scripted(Some("PF-409"), Some(409)).kind,
            ErrorKind::Custom { status: StatusCode::CONFLICT, message: "PF-409".into() }
        );
        let limited = refusal_error(Refusal::RateLimited { limit: LimitError::SpikeArrest, why: "too fast".into() });
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    }

    #[test]
    fn a_pesaflow_fault_name_is_part_of_the_scenario_vocabulary() {
        let parsed = crate::scenarios::Scenario::parse(
            "[[rules]]\nwhen = { provider = \"pesaflow\", operation = \"status\" }\nfault = { error = \"maintenance_503\" }\n",
            "t.toml",
        );
        assert!(parsed.is_ok(), "{parsed:?}");
        let err = crate::scenarios::Scenario::parse("[[rules]]\nfault = { error = \"maintenance_504\" }\n", "t.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("maintenance_503") && err.contains("maintenance_504"), "{err}");
    }

    #[test]
    fn operations_are_unique_snake_case_names() {
        let mut seen = std::collections::HashSet::new();
        for op in OPERATIONS {
            assert!(op.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{op}");
            assert!(seen.insert(op), "{op} twice");
        }
    }

    #[test]
    fn facts_are_read_from_checkout_and_aggregator_requests() {
        let checkout = Params::from_form(
            b"apiClientID=1&serviceID=1001&billRefNumber=REF-1&clientMSISDN=0712345678&amountExpected=100.00",
        );
        assert_eq!(
            facts(&checkout),
            FactValues {
                msisdn: Some("254712345678".into()),
                amount: Some(Money(10000)),
                shortcode: Some("1001".into()),
                account_reference: Some("REF-1".into()),
                initiator: Some("1".into()),
            }
        );
        let confirm = Params::from_json(
            br#"{"api_client_id":"1","ref_no":"GWLQKD","amount":"ten","customer_account_number":"438485959"}"#,
        )
        .unwrap();
        let seen = facts(&confirm);
        assert_eq!(seen.account_reference.as_deref(), Some("GWLQKD"));
        assert_eq!(seen.amount, None, "a malformed amount is not a fact");
        assert_eq!(seen.msisdn.as_deref(), Some("438485959"), "an account number that is not a phone stays as sent");
    }

    #[test]
    fn prompt_results_have_texts() {
        assert_eq!(prompt_result_text(1032), "Request cancelled by user");
        assert_eq!(prompt_result_text(42), "The payment failed.");
    }
}
