//! The gate every provider request passes once its caller is known, as an
//! API gateway sits in front of the real systems: rate limits, then the
//! scenario's scripted faults, then the decision the handler acts on.
//!
//! What a refusal looks like on the wire is the provider's business
//! ([`Provider::refuse`]); dropping the connection, a raw body and a delay
//! are the same for every provider and are done here.

// Time, money and counts from outside: every computation here saturates or
// is checked, and the lint keeps it so.
#![warn(clippy::arithmetic_side_effects)]

use std::time::Duration;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::http::ResponseDelay;
use crate::provider::{Provider, Refusal};
use crate::scenarios::{Decision, Facts, Fault, LimitError, RateLimit};
use crate::store::Tenant;

/// What the gate lets through.
// A `Gate` lives for one statement per request; boxing the decision would
// cost an allocation on every request to save stack space nobody needs.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Gate {
    /// Serve the request, acting on the decision if a rule matched.
    Pass(Option<Decision>),
    /// Send this instead (a rate-limit error or a scripted fault).
    Refuse(Response),
}

/// Attached to the answer of a request an empty token bucket refused: the
/// bucket's limit, so a provider whose gateway words its refusal with the
/// numbers (Apigee's spike arrest does) can say them.
#[derive(Debug, Clone)]
pub(crate) struct Throttled(pub RateLimit);

/// Applies the rate limits of the caller `app` (a consumer key, a client id)
/// and the scripted faults of the first matching rule.
pub(crate) fn gate<P: Provider>(tenant: &Tenant, app: &str, facts: &Facts<'_>) -> Gate {
    let now = tenant.now();
    tenant.with_core(|core| {
        if let Err(rate) = core.take_token(app, P::NAME, facts.operation, now) {
            let what = match rate.error {
                LimitError::SpikeArrest => "a spike arrest",
                LimitError::QuotaViolation => "a quota",
            };
            let why = format!("{app:?} exceeded {what} limit on {} (token bucket empty)", facts.operation);
            let mut response = P::refuse(Refusal::RateLimited { limit: rate.error, why });
            response.extensions_mut().insert(Throttled(rate));
            return Gate::Refuse(response);
        }
        let decision = core.decide(facts);
        if let Some((decision, fault)) = decision.as_ref().and_then(|d| d.fault.as_ref().map(|f| (d, f))) {
            if fault.replaces_answer() {
                return Gate::Refuse(delayed(scripted::<P>(fault, &decision.rule), Some(decision)));
            }
        }
        Gate::Pass(decision)
    })
}

/// Adds the scenario's response delay, if any, to a response.
pub(crate) fn delayed(mut response: Response, decision: Option<&Decision>) -> Response {
    if let Some(ms) = decision.and_then(|d| d.fault.as_ref()).and_then(|f| f.delay_ms) {
        response.extensions_mut().insert(ResponseDelay(Duration::from_millis(ms)));
    }
    response
}

/// The answer a scripted fault replaces the normal one with.
fn scripted<P: Provider>(fault: &Fault, rule: &str) -> Response {
    if let Some(connection) = fault.connection {
        let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
        response.extensions_mut().insert(connection);
        return response;
    }
    let status = fault.status.and_then(|s| StatusCode::from_u16(s).ok());
    if let Some(body) = &fault.body {
        let content_type = fault.content_type.clone().unwrap_or_else(|| "text/plain".into());
        return (status.unwrap_or(StatusCode::OK), [(header::CONTENT_TYPE, content_type)], body.clone())
            .into_response();
    }
    P::refuse(Refusal::Scripted {
        error: fault.error.as_deref(),
        message: fault.error_message.as_deref(),
        status,
        why: format!("scripted by scenario rule {rule}"),
    })
}
