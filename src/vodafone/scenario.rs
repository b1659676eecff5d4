//! Where the provider meets the scenario engine: the facts of a request and
//! how the gate's refusals look on its wire.
//!
//! Facts are read from the raw fields, before the parser, as an API gateway
//! sees them: `msisdn` is `input_CustomerMSISDN` (on the portal in its
//! international form when the local form was sent), `amount`
//! `input_Amount`, `shortcode` the service provider or primary party code,
//! `account_reference` the client's reference. Rules match any other field
//! by name (`fields = { input_ReceiverPartyCode = "000002" }`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::api::{Api, Profile};
use super::codes::Ins;
use super::error::VodafoneError;
use super::fields::{names, parse_amount};
use super::markets::Market;
use crate::fields;
use crate::provider::{Refusal, VariantSpec};
use crate::scenarios::{Facts, LimitError};

/// The provider declares no payload variants yet.
pub(crate) const VARIANTS: &[VariantSpec] = &[];

/// What the scenario engine sees of a request.
pub(crate) fn facts<'a>(profile: Profile, api: Api, market: Market, body: &'a Map<String, Value>) -> Facts<'a> {
    let read = |names: &[&str]| names.iter().find_map(|n| fields::text_ref(body, n));
    let msisdn = read(&[names::CUSTOMER_MSISDN]).map(|m| match profile {
        Profile::Portal => market.normalize_msisdn(&m).map_or(m, std::borrow::Cow::Owned),
        Profile::OpenApi => m,
    });
    Facts {
        provider: super::PROVIDER,
        operation: api.operation(),
        body: Some(body),
        msisdn,
        amount: read(&[names::AMOUNT]).and_then(|a| parse_amount(&a).ok()).map(|a| a.0),
        shortcode: read(&[names::SERVICE_PROVIDER_CODE, names::PRIMARY_PARTY_CODE]),
        account_reference: read(&[names::THIRD_PARTY_REFERENCE, names::THIRD_PARTY_CONVERSATION_ID]),
        initiator: read(&[names::INITIATOR_IDENTIFIER]),
    }
}

/// The gate's refusal. The gate does not say which profile the request
/// spoke, so codes are worded from the portal's table, then the OpenAPI's
/// (the bodies are the same shape): a rate limit and `system_busy` are
/// `INS-16` (temporary overloading, 503), `internal_error` `INS-1`; a raw
/// `INS-*` code keeps its description; a scenario's status wins.
pub(crate) fn refusal(refusal: Refusal<'_>) -> Response {
    let error = match refusal {
        Refusal::RateLimited { limit, why } => {
            let what = match limit {
                LimitError::SpikeArrest => "spike arrest",
                LimitError::QuotaViolation => "quota",
            };
            VodafoneError::new(Profile::Portal, None, Ins::OVERLOADED, format!("{what}: {why}"))
        }
        Refusal::Scripted { error, message, status, why } => {
            let mut refused = match error {
                Some("internal_error") => VodafoneError::new(Profile::Portal, None, Ins::INTERNAL_ERROR, why),
                Some("spike_arrest" | "quota_violation" | "system_busy") | None => {
                    VodafoneError::new(Profile::Portal, None, Ins::OVERLOADED, why)
                }
                Some(code) => match (Ins::parse(code), message) {
                    (Some(ins), None) => VodafoneError::new(Profile::Portal, None, ins, why),
                    (_, message) => VodafoneError::custom(
                        Profile::Portal,
                        None,
                        code,
                        message.unwrap_or("Internal Error"),
                        status.unwrap_or(StatusCode::BAD_REQUEST),
                    ),
                },
            };
            if let Some(status) = status {
                refused.status = Some(status);
            }
            refused
        }
    };
    error.into_response()
}
