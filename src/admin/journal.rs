//! The journals: callback attempts (with a long-poll wait) and requests.

use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;

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
    /// Entries per page, or listed by a wait (default 1,000, at most 10,000).
    limit: Option<usize>,
}

impl CallbackFilter {
    fn matches(&self, entry: &CallbackAttempt) -> bool {
        let correlation = self.correlation_id.as_deref().or(self.checkout_request_id.as_deref());
        correlation.is_none_or(|c| c == &*entry.correlation_id)
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

/// How many entries a list answers with when the client does not say.
pub(crate) const DEFAULT_LIMIT: usize = 1_000;

/// The most entries one page may hold.
pub(crate) const MAX_LIMIT: usize = 10_000;

/// A page size from a `limit` query parameter (1 to [`MAX_LIMIT`]).
pub(crate) fn page_size(limit: Option<usize>) -> Result<usize, AdminError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(AdminError::bad_request(format!("limit {n} is out of range: it must be from 1 to {MAX_LIMIT}"))),
    }
}

/// Up to `limit` matching entries in journal order, and the cursor of the
/// next page (`after_seq` of the last entry) when more match.
fn page<'a, T: 'a + Clone>(
    entries: impl Iterator<Item = &'a T>,
    limit: usize,
    seq: impl Fn(&T) -> u64,
) -> (Vec<T>, Option<u64>) {
    let mut page = Vec::new();
    let mut more = false;
    for entry in entries {
        if page.len() == limit {
            more = true;
            break;
        }
        page.push(entry.clone());
    }
    let next = if more { page.last().map(&seq) } else { None };
    (page, next)
}

/// A page of the callback journal, serialized straight from the entries.
#[derive(Serialize)]
struct CallbackPage<T: Serialize> {
    callbacks: Vec<T>,
    evicted: u64,
    /// Pass as `after_seq` for the next page; `null` on the last page.
    next_after_seq: Option<u64>,
}

pub(crate) async fn callbacks(
    TenantRef(tenant): TenantRef,
    q: Result<Query<CallbackFilter>, QueryRejection>,
) -> Result<Response, AdminError> {
    let filter = query(q)?;
    let limit = page_size(filter.limit)?;
    let ((mut entries, next_after_seq), evicted) = tenant
        .journal
        .read(|j| (page(j.callbacks.iter().filter(|e| filter.matches(e)), limit, |e| e.seq), j.callbacks.evicted()));
    if filter.stable.unwrap_or(false) {
        let callbacks = stable(&mut entries);
        return Ok(Json(CallbackPage { callbacks, evicted, next_after_seq }).into_response());
    }
    Ok(Json(CallbackPage { callbacks: entries, evicted, next_after_seq }).into_response())
}

/// The journal without what depends on scheduling and wall time (journal
/// sequence numbers, latencies), ordered by sandbox time and callback id:
/// identical for identical seeds and request sequences on a virtual clock.
/// A page is ordered on its own.
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

#[derive(Serialize)]
struct Waited {
    satisfied: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    wanted: Option<usize>,
    callbacks: Vec<CallbackAttempt>,
}

/// Answers when at least `count` journal entries match the filter (200), or
/// when the timeout passes (408, with what was found so far), listing at
/// most `limit` of them.
pub(crate) async fn wait_for_callbacks(
    TenantRef(tenant): TenantRef,
    q: Result<Query<CallbackFilter>, QueryRejection>,
) -> Result<Response, AdminError> {
    let filter = query(q)?;
    let count = filter.count.unwrap_or(1).max(1);
    let limit = page_size(filter.limit)?.max(count.min(MAX_LIMIT));
    let timeout = Duration::from_millis(filter.timeout_ms.unwrap_or(5000)).min(MAX_WAIT);
    let matching = |j: &crate::journal::Journals| -> (usize, Vec<CallbackAttempt>) {
        let all = j.callbacks.iter().filter(|e| filter.matches(e));
        let (found, listed) = all.fold((0usize, Vec::new()), |(n, mut listed), e| {
            if listed.len() < limit {
                listed.push(e.clone());
            }
            (n.saturating_add(1), listed)
        });
        (found, listed)
    };
    let found = tenant
        .journal
        .wait_for(timeout, |j| {
            let (n, listed) = matching(j);
            (n >= count).then_some(listed)
        })
        .await;
    Ok(match found {
        Some(callbacks) => (StatusCode::OK, Json(Waited { satisfied: true, wanted: None, callbacks })).into_response(),
        None => {
            let (_, callbacks) = tenant.journal.read(matching);
            (StatusCode::REQUEST_TIMEOUT, Json(Waited { satisfied: false, wanted: Some(count), callbacks }))
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
    /// Entries per page (default 1,000, at most 10,000).
    limit: Option<usize>,
}

#[derive(Serialize)]
pub(crate) struct RequestPage {
    requests: Vec<RequestRecord>,
    evicted: u64,
    /// Pass as `after_seq` for the next page; `null` on the last page.
    next_after_seq: Option<u64>,
}

pub(crate) async fn requests(
    TenantRef(tenant): TenantRef,
    q: Result<Query<RequestFilter>, QueryRejection>,
) -> Result<Json<RequestPage>, AdminError> {
    let filter = query(q)?;
    let limit = page_size(filter.limit)?;
    let ((requests, next_after_seq), evicted) = tenant.journal.read(|j| {
        let matching = j
            .requests
            .iter()
            .filter(|r| !filter.errors.unwrap_or(false) || r.error_code.is_some())
            .filter(|r| filter.after_seq.is_none_or(|s| r.seq > s));
        (page(matching, limit, |r| r.seq), j.requests.evicted())
    });
    Ok(Json(RequestPage { requests, evicted, next_after_seq }))
}
