//! The journals: callback attempts (with a long-poll wait) and requests.

use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{query, AdminError, TenantRef};
use crate::journal::{CallbackAttempt, DeliveryOutcome, RequestRecord};

/// Longest a long-poll may wait.
const MAX_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CallbackFilter {
    /// `CheckoutRequestID`, `ConversationID`, ...: whatever the receiver correlates on.
    correlation_id: Option<String>,
    /// Alias of `correlation_id` for M-Pesa Express.
    checkout_request_id: Option<String>,
    kind: Option<String>,
    outcome: Option<String>,
    /// A substring of the receiver URL.
    url: Option<String>,
    /// Only entries with a journal sequence number above this.
    after_seq: Option<u64>,
    /// Only entries whose answer the provider has judged (`true`) or not
    /// (`false`): an acknowledgement contract's verdict.
    judged: Option<bool>,
    /// Wait only: how many matching entries to wait for (default 1).
    count: Option<usize>,
    /// Wait only: how long to wait, in milliseconds (default 5000, at most 30000).
    timeout_ms: Option<u64>,
    /// List only: the deterministic form (see [`stable`]).
    stable: Option<bool>,
}

impl CallbackFilter {
    fn matches(&self, entry: &CallbackAttempt) -> bool {
        let correlation = self.correlation_id.as_deref().or(self.checkout_request_id.as_deref());
        correlation.is_none_or(|c| c == entry.correlation_id)
            && self.kind.as_deref().is_none_or(|k| k == entry.kind)
            && self.outcome.as_deref().is_none_or(|o| o == outcome_name(entry.outcome))
            && self.url.as_deref().is_none_or(|u| entry.url.contains(u))
            && self.after_seq.is_none_or(|s| entry.seq > s)
            && self.judged.is_none_or(|j| entry.acknowledgement.is_some() == j)
    }
}

fn outcome_name(outcome: DeliveryOutcome) -> &'static str {
    match outcome {
        DeliveryOutcome::Delivered => "delivered",
        DeliveryOutcome::Failed => "failed",
        DeliveryOutcome::Abandoned => "abandoned",
        DeliveryOutcome::Dropped => "dropped",
        DeliveryOutcome::Refused => "refused",
    }
}

pub(crate) async fn callbacks(
    TenantRef(tenant): TenantRef,
    q: Result<Query<CallbackFilter>, QueryRejection>,
) -> Result<Json<Value>, AdminError> {
    let filter = query(q)?;
    let (mut entries, evicted) = tenant.journal.read(|j| {
        let entries: Vec<CallbackAttempt> = j.callbacks.iter().filter(|e| filter.matches(e)).cloned().collect();
        (entries, j.callbacks.evicted())
    });
    if filter.stable.unwrap_or(false) {
        return Ok(Json(json!({ "callbacks": stable(&mut entries), "evicted": evicted })));
    }
    Ok(Json(json!({ "callbacks": entries, "evicted": evicted })))
}

/// The journal without what depends on scheduling and wall time (journal
/// sequence numbers, latencies), ordered by sandbox time and callback id:
/// identical for identical seeds and request sequences on a virtual clock.
fn stable(entries: &mut [CallbackAttempt]) -> Vec<Value> {
    let id_number = |id: &str| id.rsplit('-').next().and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
    entries.sort_by(|a, b| {
        (a.at, id_number(&a.callback_id), a.copy, a.attempt).cmp(&(b.at, id_number(&b.callback_id), b.copy, b.attempt))
    });
    entries
        .iter()
        .map(|e| {
            let mut v = serde_json::to_value(e).unwrap_or_default();
            if let Some(map) = v.as_object_mut() {
                map.remove("seq");
                map.remove("latency_ms");
            }
            v
        })
        .collect()
}

/// Answers when at least `count` journal entries match the filter (200), or
/// when the timeout passes (408, with what was found so far).
pub(crate) async fn wait_for_callbacks(
    TenantRef(tenant): TenantRef,
    q: Result<Query<CallbackFilter>, QueryRejection>,
) -> Result<Response, AdminError> {
    let filter = query(q)?;
    let count = filter.count.unwrap_or(1).max(1);
    let timeout = Duration::from_millis(filter.timeout_ms.unwrap_or(5000)).min(MAX_WAIT);
    let matching = |j: &crate::journal::Journals| -> Vec<CallbackAttempt> {
        j.callbacks.iter().filter(|e| filter.matches(e)).cloned().collect()
    };
    let found = tenant
        .journal
        .wait_for(timeout, |j| {
            let entries = matching(j);
            (entries.len() >= count).then_some(entries)
        })
        .await;
    Ok(match found {
        Some(entries) => (StatusCode::OK, Json(json!({ "satisfied": true, "callbacks": entries }))).into_response(),
        None => {
            let so_far = tenant.journal.read(matching);
            (StatusCode::REQUEST_TIMEOUT, Json(json!({ "satisfied": false, "wanted": count, "callbacks": so_far })))
                .into_response()
        }
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RequestFilter {
    /// Only refused requests.
    errors: Option<bool>,
    after_seq: Option<u64>,
}

pub(crate) async fn requests(
    TenantRef(tenant): TenantRef,
    q: Result<Query<RequestFilter>, QueryRejection>,
) -> Result<Json<Value>, AdminError> {
    let filter = query(q)?;
    let (entries, evicted) = tenant.journal.read(|j| {
        let entries: Vec<RequestRecord> = j
            .requests
            .iter()
            .filter(|r| !filter.errors.unwrap_or(false) || r.error_code.is_some())
            .filter(|r| filter.after_seq.is_none_or(|s| r.seq > s))
            .cloned()
            .collect();
        (entries, j.requests.evicted())
    });
    Ok(Json(json!({ "requests": entries, "evicted": evicted })))
}
