//! Where Daraja meets the scenario engine: the facts of each operation, the
//! payload variants its rules may ask for, and what a refusal of the gate
//! looks like on Daraja's wire.
//!
//! The gate sits where Apigee sits on the real system: after the token check,
//! before the API validates the body. An empty spike-arrest bucket answers
//! as the live gateway does, HTTP 429 with Apigee's fault naming the rate
//! (`[daraja] spike_arrest = "envelope"` gives the `500.003.02` envelope).

use axum::response::IntoResponse;

use super::error::{DarajaError, ErrorKind};
use super::world::SpikeArrestStyle;
use super::{Daraja, PROVIDER};
use crate::fields::Fields;
use crate::gate::Throttled;
pub(crate) use crate::gate::{delayed, Gate};
use crate::ledger::Money;
use crate::provider::{Refusal, VariantSpec};
use crate::scenarios::{Facts, LimitError, RateLimit};
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
    VariantSpec {
        key: "stk_query_description",
        values: &["current", "legacy"],
        doc: "STK query ResponseDescription: \"...accepted successfully\" (2026) or \"...successsfully\" (2018-2023)",
    },
    VariantSpec {
        key: "c2b_register_ack",
        values: &["current", "legacy"],
        doc: "C2B v1 register acknowledgement: today's, or the 2017-2019 {ConversationID, OriginatorCoversationID, ResponseDescription}",
    },
    VariantSpec {
        key: "result_shape",
        values: &["captured", "documentation"],
        doc: "B2B and tax failures and balance successes as captured, or as the portal's samples",
    },
    VariantSpec {
        key: "pull_id_key",
        values: &["RequestID", "ResponseRefID"],
        doc: "the key of a Pull Transactions query's id: RequestID (captured) or ResponseRefID (the portal's sample)",
    },
    VariantSpec {
        key: "pull_msisdn",
        values: &["local", "international"],
        doc: "a pulled transaction's msisdn: 722000000 (the portal's sample) or 254722000000",
    },
    VariantSpec {
        key: "failed_transaction_id",
        values: &["placeholder", "receipt", "zeros"],
        doc: "a failed result's TransactionID: receipt prefix and zeros (SG20000000), a receipt, or sixteen zeros",
    },
];

/// The rate of the one spike arrest captured live (June 2026, STK query):
/// what a scripted `spike_arrest` fault names, having no bucket of its own.
pub(crate) const CAPTURED_SPIKE_ARREST: &str =
    "Spike arrest violation. Allowed rate : MessageRate{messagesPerPeriod=5, periodInMicroseconds=60000000, maxBurstMessageCount=1.0}";

/// Apigee's `faultstring` for a bucket: its refill per period, the period in
/// microseconds, and its capacity as the burst (written with `.0`).
pub(crate) fn spike_arrest_faultstring(rate: &RateLimit) -> String {
    format!(
        "Spike arrest violation. Allowed rate : MessageRate{{messagesPerPeriod={}, periodInMicroseconds={}, maxBurstMessageCount={}.0}}",
        rate.refill,
        rate.period_ms.saturating_mul(1000),
        rate.capacity
    )
}

/// What the scenario engine sees of a Daraja request.
pub(crate) fn facts<'a>(operation: &'static str, body: Option<&'a dyn Fields>) -> Facts<'a> {
    let read = |names: &[&str]| body.and_then(|b| names.iter().find_map(|n| b.text_ref(n)));
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
pub(crate) fn gate(tenant: &Tenant, app: &str, operation: &'static str, body: Option<&dyn Fields>) -> Gate {
    match crate::gate::gate::<Daraja>(tenant, app, &facts(operation, body)) {
        Gate::Refuse(response) => match response.extensions().get::<Throttled>() {
            // The bucket is known here, and so is the tenant's world: say the
            // rate in the form the world asks for.
            Some(Throttled(rate)) if rate.error == LimitError::SpikeArrest => {
                let why = format!("{app:?} exceeded a spike arrest limit on {operation} (token bucket empty)");
                let kind = match tenant.world_of::<Daraja>().settings.spike_arrest {
                    SpikeArrestStyle::Apigee => {
                        ErrorKind::ApigeeSpikeArrest { faultstring: spike_arrest_faultstring(rate) }
                    }
                    SpikeArrestStyle::Envelope => ErrorKind::SpikeArrest,
                };
                Gate::Refuse(DarajaError::new(kind, why).into_response())
            }
            _ => Gate::Refuse(response),
        },
        pass => pass,
    }
}

/// The gate's refusal as a Daraja error.
pub(crate) fn refusal(refusal: Refusal<'_>) -> DarajaError {
    match refusal {
        Refusal::RateLimited { limit, why } => {
            let kind = match limit {
                LimitError::SpikeArrest => ErrorKind::ApigeeSpikeArrest { faultstring: CAPTURED_SPIKE_ARREST.into() },
                LimitError::QuotaViolation => ErrorKind::QuotaViolation,
            };
            DarajaError::new(kind, why)
        }
        Refusal::Scripted { error, message, status, why } => {
            let kind = match (error, message) {
                (Some("spike_arrest"), _) => ErrorKind::ApigeeSpikeArrest { faultstring: CAPTURED_SPIKE_ARREST.into() },
                // The raw code alone is the envelope form of spike arrest.
                (Some("500.003.02"), None) => ErrorKind::SpikeArrest,
                (error, _) => match error {
                    Some("quota_violation") => ErrorKind::QuotaViolation,
                    Some("internal_error") => ErrorKind::Internal,
                    Some("system_busy") | None => ErrorKind::SystemBusy,
                    Some(code) => ErrorKind::Custom {
                        code: code.to_owned(),
                        message: message.map_or_else(|| "Error Occurred".to_owned(), str::to_owned),
                    },
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
    /// The 2018-2023 STK query description ("successsfully").
    pub legacy_query_description: bool,
    /// The 2017-2019 C2B register acknowledgement.
    pub legacy_register_ack: bool,
    /// Result bodies as the portal's samples show them, where they differ from captures.
    pub documented_results: bool,
    /// `ResponseRefID` instead of `RequestID` in a Pull Transactions query.
    pub pull_id_key: Option<&'static str>,
    /// A pulled transaction's msisdn with its `254`.
    pub pull_msisdn_international: bool,
    pub failed_transaction_id: FailedTransactionId,
}

/// How a failed result's `TransactionID` reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FailedTransactionId {
    /// The first three characters of a receipt and zeros (`SG20000000`).
    #[default]
    Placeholder,
    /// A real-looking receipt (2021 and 2024 `2001` failures).
    Receipt,
    /// Sixteen zeros (a 2024 `17 System internal error.`).
    Zeros,
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
            legacy_query_description: v.get("stk_query_description") == Some("legacy"),
            legacy_register_ack: v.get("c2b_register_ack") == Some("legacy"),
            documented_results: v.get("result_shape") == Some("documentation"),
            pull_id_key: v.get("pull_id_key").map(|k| if k == "ResponseRefID" { "ResponseRefID" } else { "RequestID" }),
            pull_msisdn_international: v.get("pull_msisdn") == Some("international"),
            failed_transaction_id: match v.get("failed_transaction_id") {
                Some("receipt") => FailedTransactionId::Receipt,
                Some("zeros") => FailedTransactionId::Zeros,
                _ => FailedTransactionId::Placeholder,
            },
        }
    }
}
