//! The provider's admin views, under `/__sandbox/vodafone/` (and
//! `/__sandbox/tenants/{id}/vodafone/`):
//! * `GET /public-key` (one line of Base64 SPKI, as the portal prints it) and
//!   `GET /public-key.pem`;
//! * `GET /accounts`; `POST /accounts/{name}/async-url` (`{"url": ...}`, the
//!   portal's Asynchronous Response URL: https and a port in [11000, 19000],
//!   or `""` for synchronous answers); `POST /accounts/{name}/renew-key` (the
//!   old key fails with `INS-2` at once); `POST /accounts/{name}/status`
//!   (`{"active": false}`: `INS-4`);
//! * `GET /apps`; `POST /apps/{name}/async-url`; `POST /apps/{name}/renew-key`;
//! * `GET /sessions`: OpenAPI sessions and where they stand;
//! * `GET /mandates`; `POST /mandates/{id}/status` (`{"status": "active"}`);
//! * `GET /reports?owner=&from=&to=&format=csv`: an account's or
//!   application's transactions over a period, counted and summed per API
//!   and result (the portal's Reports tab).
//!
//! Also here: the provider's rows of the generic transactions view.

use std::collections::BTreeMap;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};

use super::openapi::SessionState;
use super::state::{MandateStatus, State as VodafoneState, Transaction};
use super::world::check_async_url;
use super::{new_api_key, Vodafone};
use crate::admin::{json_body, path_param, AdminError, TenantRef};
use crate::app_state::AppState;
use crate::provider::TransactionRow;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/public-key", get(public_key))
        .route("/public-key.pem", get(public_key_pem))
        .route("/accounts", get(accounts))
        .route("/accounts/{name}/async-url", post(account_async_url))
        .route("/accounts/{name}/renew-key", post(renew_account_key))
        .route("/accounts/{name}/status", post(account_status))
        .route("/apps", get(apps))
        .route("/apps/{name}/async-url", post(app_async_url))
        .route("/apps/{name}/renew-key", post(renew_app_key))
        .route("/sessions", get(sessions))
        .route("/mandates", get(mandates))
        .route("/mandates/{id}/status", post(mandate_status))
        .route("/reports", get(reports))
}

fn not_found(what: &str, name: &str) -> AdminError {
    AdminError::new(StatusCode::NOT_FOUND, "not_found", format!("no {what} is named {name:?} in this tenant"))
}

async fn public_key(State(app): State<AppState>, TenantRef(tenant): TenantRef) -> Response {
    let size = tenant.world_of::<Vodafone>().key_size;
    let line = app.shared::<Vodafone>().keys(size).spki_base64;
    ([(header::CONTENT_TYPE, "text/plain")], format!("{line}\n")).into_response()
}

async fn public_key_pem(State(app): State<AppState>, TenantRef(tenant): TenantRef) -> Response {
    let size = tenant.world_of::<Vodafone>().key_size;
    let pem = app.shared::<Vodafone>().keys(size).public_pem();
    ([(header::CONTENT_TYPE, "application/x-pem-file")], pem).into_response()
}

fn account_view(a: &super::world::Account) -> Value {
    json!({
        "name": a.name,
        "api_key": a.api_key.expose_secret(),
        "service_provider_code": a.service_provider_code,
        "market": a.market.context(),
        "origins": a.origins,
        "async_url": a.async_url.as_ref().map(|u| u.to_string()),
        "active": a.active,
    })
}

fn app_view(a: &super::world::App) -> Value {
    json!({
        "name": a.name,
        "api_key": a.api_key.expose_secret(),
        "market": a.market.context(),
        "market_name": a.market.name(),
        "origins": a.origins,
        "products": super::api::Api::ALL.into_iter().filter(|api| a.enables(*api)).map(super::api::Api::operation).collect::<Vec<_>>(),
        "async_url": a.async_url.as_ref().map(|u| u.to_string()),
        "session_lifetime_secs": a.session_lifetime_secs,
        "activation_delay_ms": a.activation_delay_ms,
    })
}

async fn accounts(TenantRef(tenant): TenantRef) -> Json<Value> {
    let world = tenant.world_of::<Vodafone>();
    Json(json!({ "accounts": world.accounts.iter().map(account_view).collect::<Vec<_>>() }))
}

async fn apps(TenantRef(tenant): TenantRef) -> Json<Value> {
    let world = tenant.world_of::<Vodafone>();
    Json(json!({ "apps": world.apps.iter().map(app_view).collect::<Vec<_>>() }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AsyncUrl {
    /// `""` (or null) for synchronous answers.
    url: Option<String>,
}

/// Which of a world's entries an admin call changes.
#[derive(Debug, Clone, Copy)]
enum Owner {
    Account,
    App,
}

impl Owner {
    fn word(self) -> &'static str {
        match self {
            Owner::Account => "account",
            Owner::App => "application",
        }
    }
}

fn set_async_url(tenant: &crate::store::Tenant, owner: Owner, name: &str, url: &str) -> Result<Value, AdminError> {
    tenant.with::<Vodafone, _>(|_, mine| {
        let loopback = mine.world.loopback_async_urls;
        let checked = check_async_url(url, loopback).map_err(|why| {
            AdminError::new(
                StatusCode::BAD_REQUEST,
                "invalid_url",
                format!("the Asynchronous Response URL is refused: {why}"),
            )
        })?;
        let world = std::sync::Arc::make_mut(&mut mine.world);
        match owner {
            Owner::Account => {
                let account =
                    world.accounts.iter_mut().find(|a| a.name == name).ok_or_else(|| not_found("account", name))?;
                account.async_url = checked;
                Ok(account_view(account))
            }
            Owner::App => {
                let app =
                    world.apps.iter_mut().find(|a| a.name == name).ok_or_else(|| not_found("application", name))?;
                app.async_url = checked;
                Ok(app_view(app))
            }
        }
    })
}

async fn account_async_url(
    TenantRef(tenant): TenantRef,
    Path(params): Path<Vec<(String, String)>>,
    request: Result<Json<AsyncUrl>, JsonRejection>,
) -> Result<Json<Value>, AdminError> {
    let request = json_body(request)?;
    let name = path_param(&params, "name");
    set_async_url(&tenant, Owner::Account, &name, request.url.as_deref().unwrap_or("")).map(Json)
}

async fn app_async_url(
    TenantRef(tenant): TenantRef,
    Path(params): Path<Vec<(String, String)>>,
    request: Result<Json<AsyncUrl>, JsonRejection>,
) -> Result<Json<Value>, AdminError> {
    let request = json_body(request)?;
    let name = path_param(&params, "name");
    set_async_url(&tenant, Owner::App, &name, request.url.as_deref().unwrap_or("")).map(Json)
}

/// Gives an account or application a new API key; the old one stops
/// routing (and so fails with `INS-2` / `INS-989`) at once.
fn renew(app: &AppState, tenant: &crate::store::Tenant, owner: Owner, name: &str) -> Result<Value, AdminError> {
    let (old, new) = tenant.with::<Vodafone, _>(|core, mine| {
        let new = new_api_key(&mut core.ids);
        let world = std::sync::Arc::make_mut(&mut mine.world);
        let key = match owner {
            Owner::Account => world.accounts.iter_mut().find(|a| a.name == name).map(|a| &mut a.api_key),
            Owner::App => world.apps.iter_mut().find(|a| a.name == name).map(|a| &mut a.api_key),
        };
        let key = key.ok_or_else(|| not_found(owner.word(), name))?;
        let old = std::mem::replace(key, SecretString::from(new.clone()));
        Ok::<_, AdminError>((old.expose_secret().to_owned(), new))
    })?;
    app.tenants
        .reroute::<Vodafone>(&tenant.id, &old, &new)
        .map_err(|e| AdminError::new(StatusCode::CONFLICT, "conflict", e.to_string()))?;
    Ok(json!({ owner.word(): name, "api_key": new }))
}

async fn renew_account_key(
    State(app): State<AppState>,
    TenantRef(tenant): TenantRef,
    Path(params): Path<Vec<(String, String)>>,
) -> Result<Json<Value>, AdminError> {
    renew(&app, &tenant, Owner::Account, &path_param(&params, "name")).map(Json)
}

async fn renew_app_key(
    State(app): State<AppState>,
    TenantRef(tenant): TenantRef,
    Path(params): Path<Vec<(String, String)>>,
) -> Result<Json<Value>, AdminError> {
    renew(&app, &tenant, Owner::App, &path_param(&params, "name")).map(Json)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ActiveFlag {
    active: bool,
}

async fn account_status(
    TenantRef(tenant): TenantRef,
    Path(params): Path<Vec<(String, String)>>,
    request: Result<Json<ActiveFlag>, JsonRejection>,
) -> Result<Json<Value>, AdminError> {
    let request = json_body(request)?;
    let name = path_param(&params, "name");
    tenant
        .with::<Vodafone, _>(|_, mine| {
            let world = std::sync::Arc::make_mut(&mut mine.world);
            let account =
                world.accounts.iter_mut().find(|a| a.name == name).ok_or_else(|| not_found("account", &name))?;
            account.active = request.active;
            Ok(account_view(account))
        })
        .map(Json)
}

async fn sessions(TenantRef(tenant): TenantRef) -> Json<Value> {
    let now = tenant.now();
    let rows: Vec<Value> = tenant.with::<Vodafone, _>(|_, mine| {
        mine.session_order
            .iter()
            .filter_map(|id| mine.sessions.get(id))
            .map(|s| {
                let state = match s.times.state(now) {
                    SessionState::NotYetLive => "not_yet_live",
                    SessionState::Live => "live",
                    SessionState::Expired => "expired",
                };
                json!({
                    "session_id": s.id,
                    "app": s.app,
                    "market": s.market.context(),
                    "state": state,
                    "issued_at": s.times.issued_at,
                    "live_from": s.times.live_from,
                    "expires_at": s.times.expires_at,
                    "transactions": s.usage.count,
                    "value": s.usage.value.to_string(),
                })
            })
            .collect()
    });
    Json(json!({ "sessions": rows }))
}

async fn mandates(TenantRef(tenant): TenantRef) -> Json<Value> {
    let now = tenant.now();
    let rows: Vec<Value> = tenant.with::<Vodafone, _>(|_, mine| {
        mine.mandates
            .values()
            .map(|m| {
                json!({
                    "mandate_id": m.mandate_id,
                    "app": m.app,
                    "market": m.market.context(),
                    "msisdn": m.msisdn,
                    "msisdn_token": m.token,
                    "service_provider_code": m.service_provider_code,
                    "third_party_reference": m.third_party_reference,
                    "transaction_reference": m.transaction_reference,
                    "status": m.status_on(m.market.today(now)).as_str(),
                    "frequency": m.frequency.map(|f| f.code()),
                    "first_payment_date": m.first_payment_date,
                    "expiry_date": m.expiry_date,
                    "payments": m.payments,
                    "created_at": m.created_at,
                })
            })
            .collect()
    });
    Json(json!({ "mandates": rows }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewMandateStatus {
    /// `created`, `active`, `cancelled` or `expired`.
    status: String,
}

async fn mandate_status(
    TenantRef(tenant): TenantRef,
    Path(params): Path<Vec<(String, String)>>,
    request: Result<Json<NewMandateStatus>, JsonRejection>,
) -> Result<Json<Value>, AdminError> {
    let request = json_body(request)?;
    let id = path_param(&params, "id");
    let status = MandateStatus::parse(&request.status).ok_or_else(|| {
        AdminError::bad_request(format!("status {:?} is not created, active, cancelled or expired", request.status))
    })?;
    tenant.with::<Vodafone, _>(|_, mine| {
        let mandate = mine.mandates.get_mut(&id).ok_or_else(|| not_found("mandate", &id))?;
        mandate.status = status;
        Ok(Json(json!({ "mandate_id": id, "status": status.as_str() })))
    })
}

/// The provider's rows of the generic transactions view.
pub(crate) fn transactions(mine: &VodafoneState, out: &mut Vec<TransactionRow>) {
    for tx in mine.transactions.values() {
        let mut ids = vec![tx.conversation_id.clone(), tx.third_party.clone()];
        ids.extend(tx.transaction_id.clone());
        out.push(TransactionRow { at: tx.at, ids, row: row(tx) });
    }
}

fn row(tx: &Transaction) -> Value {
    json!({
        "provider": super::PROVIDER,
        "kind": tx.api.operation(),
        "id": tx.conversation_id,
        "status": tx.status.as_str(),
        "msisdn": tx.msisdn,
        "profile": tx.profile.as_str(),
        "market": tx.market.context(),
        "owner": tx.owner,
        "transaction_id": tx.transaction_id.as_ref().filter(|_| tx.status.is_final()),
        "third_party": tx.third_party,
        "service_provider_code": tx.service_provider_code,
        "amount": tx.amount.map(|a| a.to_string()),
        "currency": tx.market.currency(),
        "reversed": tx.reversed.to_string(),
        "result_code": tx.result.as_ref().map(|(c, _)| c),
        "result_desc": tx.result.as_ref().map(|(_, d)| d),
        "reason": tx.reason,
        "rule": tx.planned.rule,
        "async_url": tx.async_url,
        "acknowledgement": tx.ack.as_ref().map(|a| json!({ "accepted": a.accepted, "remark": a.remark })),
        "at": tx.at,
        "settled_at": tx.settled_at,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReportQuery {
    /// An account's or application's name; the first account by default.
    owner: Option<String>,
    /// RFC 3339; the beginning of time by default.
    from: Option<String>,
    /// RFC 3339, exclusive; the sandbox clock's now by default.
    to: Option<String>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

fn instant(text: Option<&str>, field: &str) -> Result<Option<DateTime<Utc>>, AdminError> {
    text.map(|t| {
        DateTime::parse_from_rfc3339(t)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|_| AdminError::bad_request(format!("{field} {t:?} is not an RFC 3339 time")))
    })
    .transpose()
}

/// `GET /reports`: counts and amounts per API and result over a period.
async fn reports(
    TenantRef(tenant): TenantRef,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> Result<Response, AdminError> {
    let q = crate::admin::query(q)?;
    let from = instant(q.from.as_deref(), "from")?;
    let to = instant(q.to.as_deref(), "to")?.unwrap_or_else(|| tenant.now());
    let (owner, currency, rows) = tenant.with::<Vodafone, _>(|_, mine| {
        let owner = q.owner.clone().or_else(|| mine.world.accounts.first().map(|a| a.name.clone())).unwrap_or_default();
        let currency = mine
            .world
            .accounts
            .iter()
            .find(|a| a.name == owner)
            .map(|a| a.market)
            .or_else(|| mine.world.apps.iter().find(|a| a.name == owner).map(|a| a.market))
            .map(|m| m.currency());
        let mut rows: BTreeMap<(&'static str, String), (u64, i64)> = BTreeMap::new();
        for tx in mine.transactions.values() {
            if tx.owner != owner || from.is_some_and(|f| tx.at < f) || tx.at >= to {
                continue;
            }
            let result = tx.result.as_ref().map(|(c, _)| c.clone()).unwrap_or_else(|| "pending".into());
            let entry = rows.entry((tx.api.operation(), result)).or_default();
            entry.0 = entry.0.saturating_add(1);
            entry.1 = entry.1.saturating_add(tx.amount.map_or(0, |a| a.0));
        }
        (owner, currency, rows)
    });
    if currency.is_none() {
        return Err(not_found("account or application", &owner));
    }
    let lines: Vec<(String, String, u64, String)> = rows
        .into_iter()
        .map(|((api, result), (count, cents))| (api.to_owned(), result, count, crate::ledger::Money(cents).to_string()))
        .collect();
    if q.format.as_deref() == Some("csv") {
        let mut writer = csv::Writer::from_writer(Vec::new());
        let _ = writer.write_record(["api", "result_code", "count", "amount", "currency"]);
        for (api, result, count, amount) in &lines {
            let _ = writer.write_record([
                api.as_str(),
                result.as_str(),
                &count.to_string(),
                amount.as_str(),
                currency.unwrap_or(""),
            ]);
        }
        let bytes = writer.into_inner().unwrap_or_default();
        return Ok(([(header::CONTENT_TYPE, "text/csv")], bytes).into_response());
    }
    let rows: Vec<Value> = lines
        .into_iter()
        .map(|(api, result, count, amount)| json!({ "api": api, "result_code": result, "count": count, "amount": amount }))
        .collect();
    Ok(Json(json!({ "owner": owner, "currency": currency, "from": from, "to": to, "rows": rows })).into_response())
}
