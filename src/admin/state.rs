//! A tenant's state: transactions, balances, reset, clock, scenarios, and
//! acting as the customer.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{query, AdminError, TenantRef};
use crate::app::AppState;
use crate::daraja;
use crate::ledger::Account;
use crate::scenarios::{Scenario, ScenarioError, ScenarioSet};
use crate::scheduler::{settle_due_with, Release};
use crate::store::Tenant;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransactionFilter {
    /// `stk_push`, `b2c`, `b2b`, `reversal`, `c2b_payment`, ...
    kind: Option<String>,
    status: Option<String>,
    msisdn: Option<String>,
    id: Option<String>,
}

pub async fn transactions(
    TenantRef(tenant): TenantRef,
    q: Result<Query<TransactionFilter>, QueryRejection>,
) -> Result<Json<Value>, AdminError> {
    let filter = query(q)?;
    let mut rows: Vec<(chrono::DateTime<chrono::Utc>, Value)> = tenant.with_state(|state| {
        let daraja = &state.daraja;
        let stk = daraja.stk.txs.values().map(|tx| {
            let row = json!({
                "provider": "daraja",
                "kind": "stk_push",
                "id": tx.checkout_request_id,
                "checkout_request_id": tx.checkout_request_id,
                "merchant_request_id": tx.merchant_request_id,
                "status": tx.status.as_str(),
                "result_code": tx.result_code,
                "result_desc": tx.result_desc,
                "outcome_reason": tx.outcome_reason,
                "awaiting_customer": tx.awaiting_customer,
                "amount": tx.amount.to_string(),
                "msisdn": tx.phone_number,
                "phone_number": tx.phone_number,
                "business_short_code": tx.business_short_code,
                "party_b": tx.party_b,
                "account_reference": tx.account_reference,
                "transaction_desc": tx.transaction_desc,
                "receipt": tx.receipt,
                "callback_url": tx.callback_url,
                "created_at": tx.created_at,
                "settles_at": tx.settles_at,
                "settled_at": tx.settled_at,
            });
            (tx.created_at, row)
        });
        let requests = daraja.requests.by_conversation.values().map(|r| {
            let row = json!({
                "provider": "daraja",
                "kind": r.kind.operation(),
                "id": r.conversation_id,
                "conversation_id": r.conversation_id,
                "originator_conversation_id": r.originator_conversation_id,
                "command_id": r.command_id,
                "initiator": r.initiator,
                "status": r.status.as_str(),
                "result_code": r.result.as_ref().map(|(c, _)| c),
                "result_desc": r.result.as_ref().map(|(_, d)| d),
                "outcome_reason": r.outcome_reason,
                "amount": r.amount.map(|a| a.to_string()),
                "party_a": r.party_a,
                "party_b": r.party_b,
                "msisdn": r.party_b,
                "transaction_id": r.transaction_id,
                "receipt": r.receipt,
                "result_url": r.result_url,
                "created_at": r.accepted_at,
                "settles_at": r.settles_at,
            });
            (r.accepted_at, row)
        });
        let payments = daraja.c2b.payments.values().map(|p| {
            let row = json!({
                "provider": "daraja",
                "kind": "c2b_payment",
                "id": p.trans_id,
                "trans_id": p.trans_id,
                "status": p.status.as_str(),
                "outcome_reason": p.outcome_reason,
                "amount": p.amount.to_string(),
                "msisdn": p.msisdn,
                "shortcode": p.shortcode,
                "bill_ref_number": p.bill_ref_number,
                "third_party_trans_id": p.third_party_trans_id,
                "created_at": p.initiated_at,
            });
            (p.initiated_at, row)
        });
        stk.chain(requests).chain(payments).collect()
    });
    let text = |row: &Value, key: &str| row.get(key).and_then(Value::as_str).map(str::to_owned);
    rows.retain(|(_, row)| {
        let matches_id = |id: &str| {
            ["id", "checkout_request_id", "merchant_request_id", "originator_conversation_id", "receipt"]
                .iter()
                .any(|k| text(row, k).as_deref() == Some(id))
        };
        filter.status.as_deref().is_none_or(|s| text(row, "status").as_deref() == Some(s))
            && filter.msisdn.as_deref().is_none_or(|m| text(row, "msisdn").as_deref() == Some(m))
            && filter.kind.as_deref().is_none_or(|k| text(row, "kind").as_deref() == Some(k))
            && filter.id.as_deref().is_none_or(matches_id)
    });
    rows.sort_by(|(a, ra), (b, rb)| (a, text(ra, "id")).cmp(&(b, text(rb, "id"))));
    let rows: Vec<Value> = rows.into_iter().map(|(_, row)| row).collect();
    Ok(Json(json!({ "transactions": rows })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountFilter {
    msisdn: Option<String>,
    shortcode: Option<String>,
}

pub async fn accounts(
    TenantRef(tenant): TenantRef,
    q: Result<Query<AccountFilter>, QueryRejection>,
) -> Result<Json<Value>, AdminError> {
    let filter = query(q)?;
    let rows: Vec<Value> = tenant.with_state(|state| {
        let mut accounts: Vec<_> = state.ledger.accounts().collect();
        accounts.sort();
        accounts
            .into_iter()
            .filter_map(|(account, balance)| match account {
                Account::Customer(msisdn) => {
                    let wanted = filter.shortcode.is_none() && filter.msisdn.as_deref().is_none_or(|m| m == msisdn);
                    wanted.then(|| json!({ "msisdn": msisdn, "balance": balance.to_string() }))
                }
                Account::Org { shortcode, account } => {
                    let wanted = filter.msisdn.is_none() && filter.shortcode.as_deref().is_none_or(|s| s == shortcode);
                    wanted.then(|| json!({ "shortcode": shortcode, "account": account.label(), "balance": balance.to_string() }))
                }
                Account::Revenue => (filter.msisdn.is_none() && filter.shortcode.is_none())
                    .then(|| json!({ "account": "Charges collected", "balance": balance.to_string() })),
                Account::Outside => (filter.msisdn.is_none() && filter.shortcode.is_none())
                    .then(|| json!({ "account": "Outside M-Pesa", "balance": balance.to_string() })),
            })
            .collect()
    });
    Ok(Json(json!({ "accounts": rows })))
}

pub async fn reset(TenantRef(tenant): TenantRef) -> Json<Value> {
    let dropped = tenant.reset();
    Json(json!({ "tenant": tenant.id, "reset": true, "pending_events_dropped": dropped }))
}

// ---------------------------------------------------------------------------
// Clock

pub async fn get_clock(TenantRef(tenant): TenantRef) -> Json<Value> {
    Json(clock_view(&tenant))
}

fn clock_view(tenant: &Tenant) -> Value {
    let now = tenant.now();
    json!({
        "tenant": tenant.id,
        "mode": if tenant.clock.is_virtual() { "virtual" } else { "system" },
        "now": now,
        "eat": crate::crypto::lnm::format_timestamp(crate::clock::eat(now)),
        "pending_events": tenant.with_state(|s| s.timeline.len()),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveClock {
    /// Moves the clock forward by this many milliseconds.
    advance_ms: Option<u64>,
    /// Sets the clock to this RFC 3339 time.
    set: Option<String>,
}

/// Moves a virtual clock, then settles everything that fell due and delivers
/// the resulting callbacks one by one, in timeline order, before answering.
pub async fn move_clock(
    State(app): State<AppState>,
    TenantRef(tenant): TenantRef,
    body: Result<Json<MoveClock>, JsonRejection>,
) -> Result<Json<Value>, AdminError> {
    let Json(body) = body.map_err(|e| AdminError::bad_request(e.body_text()))?;
    if !tenant.clock.is_virtual() {
        return Err(AdminError::new(
            StatusCode::CONFLICT,
            "clock_not_virtual",
            format!("tenant {:?} runs on the system clock; start it with --clock virtual or create a tenant with \"clock\": {{\"mode\": \"virtual\"}}", tenant.id),
        ));
    }
    match (body.advance_ms, body.set) {
        (Some(ms), None) => {
            let by = chrono::Duration::milliseconds(ms.min(i64::MAX as u64 / 2) as i64);
            tenant.clock.advance(by);
        }
        (None, Some(text)) => {
            let at = chrono::DateTime::parse_from_rfc3339(&text)
                .map_err(|e| AdminError::bad_request(format!("set {text:?} is not an RFC 3339 time: {e}")))?;
            tenant.clock.set(at.with_timezone(&chrono::Utc));
        }
        _ => {
            return Err(AdminError::bad_request(
                "send exactly one of {\"advance_ms\": N} or {\"set\": \"RFC 3339 time\"}",
            ))
        }
    }
    let delivered = settle_due_with(&app, &tenant, Release::InOrder).await;
    let mut view = clock_view(&tenant);
    view["callbacks_attempted"] = json!(delivered);
    Ok(Json(view))
}

// ---------------------------------------------------------------------------
// Scenarios

pub async fn catalogue() -> Json<Value> {
    let shipped: Vec<Value> = crate::scenarios::catalogue()
        .iter()
        .map(|s| json!({ "name": s.name, "description": s.description, "origin": s.origin }))
        .collect();
    Json(json!({ "scenarios": shipped, "default": { "name": "default", "rules": crate::scenarios::default().rules } }))
}

pub async fn list_scenarios(TenantRef(tenant): TenantRef) -> Json<Value> {
    let loaded = tenant.with_state(|s| s.scenarios.clone());
    Json(json!({ "tenant": tenant.id, "scenarios": loaded.scenarios, "then": "default" }))
}

pub async fn replace_scenarios(
    TenantRef(tenant): TenantRef,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, AdminError> {
    let scenarios = parse_scenarios(&headers, &body)?;
    tenant.with_state(|s| s.scenarios = ScenarioSet { scenarios });
    Ok(list_scenarios(TenantRef(tenant)).await)
}

pub async fn append_scenarios(
    TenantRef(tenant): TenantRef,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, AdminError> {
    let scenarios = parse_scenarios(&headers, &body)?;
    tenant.with_state(|s| s.scenarios.scenarios.extend(scenarios));
    Ok(list_scenarios(TenantRef(tenant)).await)
}

pub async fn clear_scenarios(TenantRef(tenant): TenantRef) -> Json<Value> {
    tenant.with_state(|s| s.scenarios = ScenarioSet::default());
    Json(json!({ "tenant": tenant.id, "scenarios": [], "then": "default" }))
}

/// Scenarios sent to the admin API: a TOML document as the body, or JSON
/// `{"names": ["shipped-name", ...], "documents": ["TOML", ...]}`.
/// Nothing changes unless every one of them is valid.
pub fn parse_scenarios(headers: &HeaderMap, body: &[u8]) -> Result<Vec<Arc<Scenario>>, AdminError> {
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
pub struct ScenarioRequest {
    #[serde(default)]
    pub names: Vec<String>,
    #[serde(default)]
    pub documents: Vec<String>,
}

pub fn scenarios_from(request: &ScenarioRequest) -> Result<Vec<Arc<Scenario>>, AdminError> {
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

fn invalid_scenario(e: &ScenarioError) -> AdminError {
    AdminError::new(StatusCode::BAD_REQUEST, "invalid_scenario", e.to_string())
}

// ---------------------------------------------------------------------------
// Acting as the customer

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    /// `pay`, `wrong_pin`, `cancel` or `timeout`.
    action: String,
}

/// Answers a pending M-Pesa Express prompt as the customer would.
pub async fn answer_stk(
    State(app): State<AppState>,
    TenantRef(tenant): TenantRef,
    Path(params): Path<Vec<(String, String)>>,
    body: Result<Json<AnswerBody>, JsonRejection>,
) -> Result<Json<Value>, AdminError> {
    let Json(body) = body.map_err(|e| AdminError::bad_request(e.body_text()))?;
    let checkout_request_id =
        params.iter().find(|(k, _)| k == "checkout_request_id").map(|(_, v)| v.clone()).unwrap_or_default();
    let answer = daraja::Answer::parse(&body.action).ok_or_else(|| {
        AdminError::bad_request(format!(
            "action {:?} is not one of \"pay\", \"wrong_pin\", \"cancel\", \"timeout\"",
            body.action
        ))
    })?;
    let now = tenant.now();
    tenant.with_state(|state| daraja::answer(state, &checkout_request_id, answer, now)).map_err(|e| match e {
        daraja::AnswerError::Unknown(_) => AdminError::new(StatusCode::NOT_FOUND, "unknown_transaction", e.to_string()),
        daraja::AnswerError::Settled(_) => AdminError::new(StatusCode::CONFLICT, "already_settled", e.to_string()),
    })?;
    let release = if tenant.clock.is_virtual() { Release::InOrder } else { Release::Queue };
    settle_due_with(&app, &tenant, release).await;
    let (status, result_code) = tenant.with_state(|s| {
        s.daraja
            .stk
            .txs
            .get(&checkout_request_id)
            .map(|tx| (tx.status.as_str(), tx.result_code.clone()))
            .unwrap_or(("forgotten", None))
    });
    Ok(Json(json!({ "checkout_request_id": checkout_request_id, "status": status, "result_code": result_code })))
}
