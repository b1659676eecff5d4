//! A tenant's state: transactions, balances, reset, clock, scenarios, and
//! acting as the customer.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{query, AdminBytes, AdminError, AdminJson, TenantRef};
use crate::app_state::AppState;
use crate::ledger::Account;
use crate::provider::TransactionRow;
use crate::scenarios::{Scenario, ScenarioError, ScenarioSet};
use crate::scheduler::settle_and_wait;
use crate::store::Tenant;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TransactionFilter {
    /// `stk_push`, `b2c`, `b2b`, `reversal`, `c2b_payment`, ...
    kind: Option<String>,
    /// `daraja`, ...
    provider: Option<String>,
    status: Option<String>,
    msisdn: Option<String>,
    id: Option<String>,
    /// Rows per page (default 1,000, at most 10,000).
    limit: Option<usize>,
    /// The `next_after` of the previous page.
    after: Option<String>,
}

/// Where a page of transactions ends: the time and id of its last row.
fn transaction_cursor(at: chrono::DateTime<chrono::Utc>, id: &str) -> String {
    format!("{}|{id}", at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
}

fn parse_transaction_cursor(text: &str) -> Result<(chrono::DateTime<chrono::Utc>, String), AdminError> {
    let bad = || AdminError::bad_request("after is not a next_after this endpoint returned");
    let (at, id) = text.split_once('|').ok_or_else(bad)?;
    let at = chrono::DateTime::parse_from_rfc3339(at).map_err(|_| bad())?.with_timezone(&chrono::Utc);
    Ok((at, id.to_owned()))
}

pub(crate) async fn transactions(
    TenantRef(tenant): TenantRef,
    q: Result<Query<TransactionFilter>, QueryRejection>,
) -> Result<Json<Value>, AdminError> {
    let filter = query(q)?;
    let limit = super::journal::page_size(filter.limit)?;
    let after = filter.after.as_deref().map(parse_transaction_cursor).transpose()?;
    let mut rows = tenant.with_state(|state| state.providers.transactions());
    let text = |row: &Value, key: &str| row.get(key).and_then(Value::as_str).map(str::to_owned);
    rows.retain(|TransactionRow { row, ids, .. }| {
        let matches_id = |id: &str| ids.iter().any(|known| known == id);
        filter.status.as_deref().is_none_or(|s| text(row, "status").as_deref() == Some(s))
            && filter.msisdn.as_deref().is_none_or(|m| text(row, "msisdn").as_deref() == Some(m))
            && filter.kind.as_deref().is_none_or(|k| text(row, "kind").as_deref() == Some(k))
            && filter.provider.as_deref().is_none_or(|p| text(row, "provider").as_deref() == Some(p))
            && filter.id.as_deref().is_none_or(matches_id)
    });
    let mut keyed: Vec<_> = rows.into_iter().map(|r| ((r.at, text(&r.row, "id").unwrap_or_default()), r.row)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(after) = &after {
        keyed.retain(|(key, _)| key > after);
    }
    let next_after = (keyed.len() > limit).then(|| keyed.get(limit.saturating_sub(1))).flatten();
    let next_after = next_after.map(|((at, id), _)| transaction_cursor(*at, id));
    keyed.truncate(limit);
    let rows: Vec<Value> = keyed.into_iter().map(|(_, row)| row).collect();
    Ok(Json(json!({ "transactions": rows, "next_after": next_after })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccountFilter {
    msisdn: Option<String>,
    /// An organisation account's id (a shortcode, a service provider code).
    shortcode: Option<String>,
    provider: Option<String>,
    /// `KES`, `MZN`, ...
    currency: Option<String>,
}

pub(crate) async fn accounts(
    TenantRef(tenant): TenantRef,
    q: Result<Query<AccountFilter>, QueryRejection>,
) -> Result<Json<Value>, AdminError> {
    let filter = query(q)?;
    let rows: Vec<Value> = tenant.with_core(|core| {
        let mut accounts: Vec<_> = core.ledger.accounts().collect();
        accounts.sort_by(|a, b| a.0.cmp(b.0));
        let unfiltered = filter.msisdn.is_none() && filter.shortcode.is_none() && filter.provider.is_none();
        accounts
            .into_iter()
            .filter(|(_, currency, _)| filter.currency.as_deref().is_none_or(|c| c.eq_ignore_ascii_case(currency.code())))
            .filter_map(|(account, currency, balance)| match account {
                Account::Customer { market, msisdn } => {
                    let wanted = filter.shortcode.is_none()
                        && filter.provider.is_none()
                        && filter.msisdn.as_deref().is_none_or(|m| m == msisdn);
                    wanted.then(|| {
                        json!({ "msisdn": msisdn, "market": market, "currency": currency, "balance": balance.to_string() })
                    })
                }
                Account::Org { provider, id, account } => {
                    let wanted = filter.msisdn.is_none()
                        && filter.shortcode.as_deref().is_none_or(|s| s == id)
                        && filter.provider.as_deref().is_none_or(|p| p == *provider);
                    wanted.then(|| {
                        json!({ "provider": provider, "shortcode": id, "account": account.label(), "currency": currency, "balance": balance.to_string() })
                    })
                }
                Account::Revenue(_) => unfiltered
                    .then(|| json!({ "account": "Charges collected", "currency": currency, "balance": balance.to_string() })),
                Account::Outside(_) => unfiltered
                    .then(|| json!({ "account": "Outside M-Pesa", "currency": currency, "balance": balance.to_string() })),
            })
            .collect()
    });
    Ok(Json(json!({ "accounts": rows })))
}

pub(crate) async fn reset(TenantRef(tenant): TenantRef) -> Json<Value> {
    let dropped = tenant.reset();
    Json(json!({ "tenant": tenant.id, "reset": true, "pending_events_dropped": dropped }))
}

// ---------------------------------------------------------------------------
// Clock

pub(crate) async fn get_clock(TenantRef(tenant): TenantRef) -> Json<Value> {
    Json(clock_view(&tenant))
}

fn clock_view(tenant: &Tenant) -> Value {
    let now = tenant.now();
    json!({
        "tenant": tenant.id,
        "mode": if tenant.clock.is_virtual() { "virtual" } else { "system" },
        "now": now,
        "eat": crate::crypto::lnm::format_timestamp(crate::clock::eat(now)),
        "pending_events": tenant.with_core(|core| core.timeline.len()),
    })
}

/// The furthest one call may move a clock: ten years.
pub(crate) const MAX_ADVANCE_MS: u64 = 10 * 365 * 86_400_000;

/// The longest a clock move may wait for its callbacks.
pub(crate) const MAX_WAIT_MS: u64 = 60_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MoveClock {
    /// Moves the clock forward by this many milliseconds.
    advance_ms: Option<u64>,
    /// Sets the clock to this RFC 3339 time.
    set: Option<String>,
    /// How long to wait for the released callbacks before answering
    /// (default 30,000; 0 answers at once; at most 60,000). The callbacks
    /// are delivered either way.
    wait_ms: Option<u64>,
}

/// A validated clock move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClockMove {
    Advance(chrono::Duration),
    Set(chrono::DateTime<chrono::Utc>),
}

impl MoveClock {
    /// Checks the body: exactly one of `advance_ms` (at most ten years) and
    /// `set` (an RFC 3339 time), and a bounded `wait_ms`.
    pub(crate) fn validate(self) -> Result<(ClockMove, std::time::Duration), AdminError> {
        let wait = match self.wait_ms {
            None => crate::scheduler::DEFAULT_WAIT,
            Some(ms) if ms > MAX_WAIT_MS => {
                return Err(AdminError::bad_request(format!(
                    "wait_ms {ms} is out of range: at most {MAX_WAIT_MS} (a minute)"
                )))
            }
            Some(ms) => std::time::Duration::from_millis(ms),
        };
        let change = match (self.advance_ms, self.set) {
            (Some(ms), None) if ms > MAX_ADVANCE_MS => {
                return Err(AdminError::bad_request(format!(
                    "advance_ms {ms} is out of range: at most {MAX_ADVANCE_MS} (ten years)"
                )))
            }
            (Some(ms), None) => ClockMove::Advance(crate::clock::millis(ms)),
            (None, Some(text)) => {
                let at = chrono::DateTime::parse_from_rfc3339(&text).map_err(|e| {
                    AdminError::bad_request(format!(
                        "set {:?} is not an RFC 3339 time: {e}",
                        text.chars().take(64).collect::<String>()
                    ))
                })?;
                ClockMove::Set(at.with_timezone(&chrono::Utc))
            }
            _ => {
                return Err(AdminError::bad_request(
                    "send exactly one of {\"advance_ms\": N} or {\"set\": \"RFC 3339 time\"}",
                ))
            }
        };
        Ok((change, wait))
    }
}

/// Moves a virtual clock, settles everything that fell due and hands the
/// callbacks to the engine, which delivers them one by one, in timeline
/// order; answers once they are delivered (or `wait_ms` passed). The
/// deliveries are the engine's: a client that gives up loses nothing.
pub(crate) async fn move_clock(
    State(app): State<AppState>,
    TenantRef(tenant): TenantRef,
    AdminJson(body): AdminJson<MoveClock>,
) -> Result<Json<Value>, AdminError> {
    let (change, wait) = body.validate()?;
    if !tenant.clock.is_virtual() {
        return Err(AdminError::new(
            StatusCode::CONFLICT,
            "clock_not_virtual",
            format!("tenant {:?} runs on the system clock; start it with --clock virtual or create a tenant with \"clock\": {{\"mode\": \"virtual\"}}", tenant.id),
        ));
    }
    match change {
        ClockMove::Advance(by) => tenant.clock.advance(by),
        ClockMove::Set(at) => tenant.clock.set(at),
    };
    let waited = settle_and_wait(&app, &tenant, wait).await;
    let mut view = clock_view(&tenant);
    view["callbacks_attempted"] = json!(waited.attempts);
    view["callbacks_pending"] = json!(!waited.drained);
    Ok(Json(view))
}

// ---------------------------------------------------------------------------
// Scenarios

pub(crate) async fn catalogue() -> Json<Value> {
    let shipped: Vec<Value> = crate::scenarios::catalogue()
        .iter()
        .map(|s| json!({ "name": s.name, "description": s.description, "origin": s.origin }))
        .collect();
    Json(json!({ "scenarios": shipped, "default": { "name": "default", "rules": crate::scenarios::default().rules } }))
}

pub(crate) async fn list_scenarios(TenantRef(tenant): TenantRef) -> Json<Value> {
    let loaded = tenant.with_core(|core| core.scenarios.clone());
    Json(json!({ "tenant": tenant.id, "scenarios": loaded.scenarios, "then": "default" }))
}

pub(crate) async fn replace_scenarios(
    TenantRef(tenant): TenantRef,
    headers: HeaderMap,
    AdminBytes(body): AdminBytes,
) -> Result<Json<Value>, AdminError> {
    let scenarios = parse_scenarios(&headers, &body)?;
    crate::scenarios::check_limits(scenarios.iter().map(|s| &**s)).map_err(too_many)?;
    tenant.with_core(|core| core.scenarios = ScenarioSet { scenarios });
    Ok(list_scenarios(TenantRef(tenant)).await)
}

pub(crate) async fn append_scenarios(
    TenantRef(tenant): TenantRef,
    headers: HeaderMap,
    AdminBytes(body): AdminBytes,
) -> Result<Json<Value>, AdminError> {
    let scenarios = parse_scenarios(&headers, &body)?;
    // Checked and appended under the tenant's lock, so two appends cannot
    // together pass the limit.
    tenant.with_core(|core| {
        crate::scenarios::check_limits(core.scenarios.scenarios.iter().chain(&scenarios).map(|s| &**s))
            .map_err(too_many)?;
        core.scenarios.scenarios.extend(scenarios);
        Ok::<(), AdminError>(())
    })?;
    Ok(list_scenarios(TenantRef(tenant)).await)
}

pub(crate) async fn clear_scenarios(TenantRef(tenant): TenantRef) -> Json<Value> {
    tenant.with_core(|core| core.scenarios = ScenarioSet::default());
    Json(json!({ "tenant": tenant.id, "scenarios": [], "then": "default" }))
}

/// Scenarios sent to the admin API: a TOML document as the body, or JSON
/// `{"names": ["shipped-name", ...], "documents": ["TOML", ...]}`.
/// Nothing changes unless every one of them is valid.
pub(crate) fn parse_scenarios(headers: &HeaderMap, body: &[u8]) -> Result<Vec<Arc<Scenario>>, AdminError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim_start().starts_with("application/json"));
    let text = std::str::from_utf8(body).map_err(|_| AdminError::bad_request("the scenario document is not UTF-8"))?;
    if !is_json {
        let scenario = Scenario::parse(text, "request body").map_err(|e| invalid_scenario(&e))?;
        return Ok(vec![Arc::new(scenario)]);
    }
    let request: ScenarioRequest =
        serde_json::from_str(text).map_err(|e| AdminError::bad_request(format!("request body: {e}")))?;
    scenarios_from(&request)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScenarioRequest {
    #[serde(default)]
    pub names: Vec<String>,
    #[serde(default)]
    pub documents: Vec<String>,
}

pub(crate) fn scenarios_from(request: &ScenarioRequest) -> Result<Vec<Arc<Scenario>>, AdminError> {
    let mut scenarios = Vec::new();
    for name in &request.names {
        let scenario = crate::scenarios::shipped(name).ok_or_else(|| {
            let known: Vec<String> = crate::scenarios::catalogue().iter().map(|s| s.name.clone()).collect();
            AdminError::new(
                StatusCode::BAD_REQUEST,
                "invalid_scenario",
                format!("no shipped scenario is named {name:?}; known: {known:?}"),
            )
        })?;
        scenarios.push(scenario);
    }
    for (i, text) in request.documents.iter().enumerate() {
        let origin = format!("documents[{i}]");
        scenarios.push(Arc::new(Scenario::parse(text, &origin).map_err(|e| invalid_scenario(&e))?));
    }
    Ok(scenarios)
}

/// A tenant would pass a limit: 409 `limit_reached`, saying which.
pub(crate) fn too_many(message: String) -> AdminError {
    AdminError::new(StatusCode::CONFLICT, "limit_reached", message)
}

fn invalid_scenario(e: &ScenarioError) -> AdminError {
    AdminError::new(StatusCode::BAD_REQUEST, "invalid_scenario", e.to_string())
}
