//! Where Daraja meets the scenario engine: the facts of each operation, the
//! payload variants its rules may ask for, and what a refusal of the gate
//! looks like on Daraja's wire.
//!
//! The gate sits where Apigee sits on the real system: after the token check,
//! before the API validates the body.

use serde_json::{Map, Value};

use super::error::{DarajaError, ErrorKind};
use super::{Daraja, PROVIDER};
use crate::fields;
pub(crate) use crate::gate::{delayed, Gate};
use crate::ledger::Money;
use crate::provider::{Refusal, VariantSpec};
use crate::scenarios::{Facts, LimitError};
use crate::store::Tenant;

/// The payload variants Daraja's scenario rules may ask for.
pub(crate) const VARIANTS: &[VariantSpec] = &[
    VariantSpec { key: "expires_in", values: &["string", "number"], doc: "token expires_in: \"3599\" or 3599" },
    VariantSpec {
        key: "response_code",
        values: &["0", "00000000"],
        doc: "acknowledgement ResponseCode: \"0\" or \"00000000\"",
    },
    VariantSpec::switch("balance_item", "whether the STK callback carries the value-less Balance item"),
    VariantSpec { key: "phone_number", values: &["full", "hashed"], doc: "STK callback PhoneNumber" },
    VariantSpec {
        key: "result_parameter",
        values: &["object", "array"],
        doc: "a single ResultParameter as an object or in an array",
    },
    VariantSpec { key: "msisdn", values: &["masked", "full", "hashed"], doc: "C2B notification MSISDN" },
    VariantSpec {
        key: "originator_key",
        values: &["OriginatorCoversationID", "OriginatorConversationID", "OriginatorConverstionID"],
        doc: "the key C2B acknowledgements spell the originator id with",
    },
];

/// What the scenario engine sees of a Daraja request.
pub(crate) fn facts<'a>(operation: &'static str, body: Option<&'a Map<String, Value>>) -> Facts<'a> {
    let read = |names: &[&str]| body.and_then(|b| names.iter().find_map(|n| fields::text(b, n).ok()));
    Facts {
        provider: PROVIDER,
        operation,
        body,
        msisdn: read(&["PhoneNumber", "PartyA", "Msisdn", "MSISDN"]),
        amount: read(&["Amount"]).and_then(|a| Money::parse(&a)),
        shortcode: read(&["BusinessShortCode", "ShortCode", "PartyA"]),
        account_reference: read(&["AccountReference", "BillRefNumber"]),
        initiator: read(&["Initiator", "InitiatorName"]),
    }
}

/// Applies rate limits and scripted faults to a Daraja request of `app` (a consumer key).
pub(crate) fn gate(tenant: &Tenant, app: &str, operation: &'static str, body: Option<&Map<String, Value>>) -> Gate {
    crate::gate::gate::<Daraja>(tenant, app, &facts(operation, body))
}

/// The gate's refusal as a Daraja error.
pub(crate) fn refusal(refusal: Refusal<'_>) -> DarajaError {
    match refusal {
        Refusal::RateLimited { limit, why } => {
            let kind = match limit {
                LimitError::SpikeArrest => ErrorKind::SpikeArrest,
                LimitError::QuotaViolation => ErrorKind::QuotaViolation,
            };
            DarajaError::new(kind, why)
        }
        Refusal::Scripted { error, message, status, why } => {
            let kind = match error {
                Some("spike_arrest") => ErrorKind::SpikeArrest,
                Some("quota_violation") => ErrorKind::QuotaViolation,
                Some("internal_error") => ErrorKind::Internal,
                Some("system_busy") | None => ErrorKind::SystemBusy,
                Some(code) => ErrorKind::Custom {
                    code: code.to_owned(),
                    message: message.map_or_else(|| "Error Occurred".to_owned(), str::to_owned),
                },
            };
            DarajaError { status, ..DarajaError::new(kind, why) }
        }
    }
}

/// Daraja's payload variants, read from a decision's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Variants {
    pub expires_in: Option<ExpiresIn>,
    pub response_code: Option<String>,
    pub balance_item: Option<bool>,
    pub phone_number: Option<PhoneNumberForm>,
    pub result_parameter_object: Option<bool>,
    pub msisdn: Option<MsisdnForm>,
    pub originator_key: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiresIn {
    String,
    Number,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneNumberForm {
    Full,
    Hashed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsisdnForm {
    Masked,
    Full,
    Hashed,
}

impl Variants {
    /// Reads the keys of [`VARIANTS`] (validated when the scenario loaded).
    pub fn of(decision: Option<&crate::scenarios::Decision>) -> Variants {
        let Some(v) = decision.map(|d| &d.variants) else { return Variants::default() };
        Variants {
            expires_in: v.get("expires_in").map(|e| if e == "number" { ExpiresIn::Number } else { ExpiresIn::String }),
            response_code: v.get("response_code").map(str::to_owned),
            balance_item: v.flag("balance_item"),
            phone_number: v.get("phone_number").map(|p| match p {
                "hashed" => PhoneNumberForm::Hashed,
                _ => PhoneNumberForm::Full,
            }),
            result_parameter_object: v.get("result_parameter").map(|p| p == "object"),
            msisdn: v.get("msisdn").map(|m| match m {
                "full" => MsisdnForm::Full,
                "hashed" => MsisdnForm::Hashed,
                _ => MsisdnForm::Masked,
            }),
            originator_key: v.get("originator_key").map(str::to_owned),
        }
    }
}
