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

use super::error::{ErrorKind, Maintenance};
use super::params::Params;
use crate::ledger::Money;

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

/// The named faults of `fault.error` on Pesaflow paths.
pub(crate) const FAULTS: &[&str] = &[
    "maintenance_502",
    "maintenance_503",
    "internal_error",
    "failed",
    "forbidden",
    "unauthorized",
    "invoice_not_found",
    "bill_not_found",
];

/// The error a named fault answers with, in the failing endpoint's envelope.
pub(crate) fn named_fault(name: &str) -> Option<ErrorKind> {
    Some(match name {
        "maintenance_502" => ErrorKind::Maintenance(Maintenance::BadGateway),
        "maintenance_503" => ErrorKind::Maintenance(Maintenance::Unavailable),
        "internal_error" => ErrorKind::Internal,
        "failed" => ErrorKind::Failed { message: "Failed" },
        "forbidden" => ErrorKind::Forbidden,
        "unauthorized" => ErrorKind::Unauthorized,
        "invoice_not_found" => ErrorKind::InvoiceNotFound,
        "bill_not_found" => ErrorKind::BillNotFound,
        _ => return None,
    })
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
        assert!(named_fault("spike_arrest").is_none());
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
