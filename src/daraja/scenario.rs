//! Where Daraja meets the scenario engine: the facts of each operation, the
//! gate every request passes (rate limits, scripted faults), and what a
//! scripted fault looks like on Daraja's wire.
//!
//! The gate sits where Apigee sits on the real system: after the token check,
//! before the API validates the body.

use std::time::Duration;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::error::{DarajaError, ErrorKind};
use super::PROVIDER;
use crate::fields;
use crate::http::ResponseDelay;
use crate::ledger::Money;
use crate::scenarios::{Decision, Facts, Fault, LimitError};
use crate::store::Tenant;

/// What the scenario engine sees of a Daraja request.
pub fn facts<'a>(operation: &'static str, body: Option<&'a Map<String, Value>>) -> Facts<'a> {
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

/// What the gate lets through.
// A `Gate` lives for one statement per request; boxing the decision would
// cost an allocation on every request to save stack space nobody needs.
#[allow(clippy::large_enum_variant)]
pub enum Gate {
    /// Serve the request, acting on the decision if a rule matched.
    Pass(Option<Decision>),
    /// Send this instead (a rate-limit error or a scripted fault).
    Refuse(Response),
}

/// Applies rate limits and scripted faults.
pub fn gate(tenant: &Tenant, app: &str, operation: &'static str, body: Option<&Map<String, Value>>) -> Gate {
    let now = tenant.now();
    let facts = facts(operation, body);
    tenant.with_state(|state| {
        if let Err(limit) = state.take_token(app, PROVIDER, operation, now) {
            let kind = match limit {
                LimitError::SpikeArrest => ErrorKind::SpikeArrest,
                LimitError::QuotaViolation => ErrorKind::QuotaViolation,
            };
            let why = format!("app {app:?} exceeded a rate limit on {operation} (token bucket empty)");
            return Gate::Refuse(DarajaError::new(kind, why).into_response());
        }
        let decision = state.decide(&facts);
        if let Some((decision, fault)) = decision.as_ref().and_then(|d| d.fault.as_ref().map(|f| (d, f))) {
            if fault.replaces_answer() {
                return Gate::Refuse(delayed(fault_response(fault, &decision.rule), Some(decision)));
            }
        }
        Gate::Pass(decision)
    })
}

/// Adds the scenario's response delay, if any, to a response.
pub fn delayed(mut response: Response, decision: Option<&Decision>) -> Response {
    if let Some(ms) = decision.and_then(|d| d.fault.as_ref()).and_then(|f| f.delay_ms) {
        response.extensions_mut().insert(ResponseDelay(Duration::from_millis(ms)));
    }
    response
}

fn fault_response(fault: &Fault, rule: &str) -> Response {
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
    let kind = match fault.error.as_deref() {
        Some("spike_arrest") => ErrorKind::SpikeArrest,
        Some("quota_violation") => ErrorKind::QuotaViolation,
        Some("internal_error") => ErrorKind::Internal,
        Some("system_busy") | None => ErrorKind::SystemBusy,
        Some(code) => ErrorKind::Custom {
            code: code.to_owned(),
            message: fault.error_message.clone().unwrap_or_else(|| "Error Occurred".into()),
        },
    };
    DarajaError { status, ..DarajaError::new(kind, format!("scripted by scenario rule {rule}")) }.into_response()
}
