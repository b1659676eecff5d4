//! The admin API under `/__sandbox/`: inspect and drive the sandbox.
//!
//! * `GET  /__sandbox/health`: liveness, version, callback engine counters.
//! * `GET  /__sandbox/credentials`: the default tenant's credentials for every provider.
//! * `GET  /__sandbox/keys/daraja.pem`: the certificate Daraja clients encrypt with.
//! * `GET  /__sandbox/transactions`: transactions and their state.
//! * `GET  /__sandbox/accounts`: ledger balances.
//! * `GET  /__sandbox/callbacks`: the callback journal (filterable).
//! * `GET  /__sandbox/callbacks/wait`: long-poll until matching deliveries exist.
//! * `GET  /__sandbox/requests`: the request journal, with diagnoses.
//! * `POST /__sandbox/reset`: back to the initial world.
//!
//! Admin types are a stable surface (serialized for clients in any language).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::app::AppState;
use crate::http::{fault_response, RequestContext, WireError};
use crate::journal::{CallbackAttempt, DeliveryOutcome, RequestRecord};
use crate::ledger::Account;
use crate::store::Tenant;
use crate::world::ShortcodeKind;

pub const PREFIX: &str = "/__sandbox";

/// Longest a long-poll may wait.
const MAX_WAIT: Duration = Duration::from_secs(30);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/credentials", get(get_credentials))
        .route("/keys/daraja.pem", get(daraja_certificate))
        .route("/transactions", get(transactions))
        .route("/accounts", get(accounts))
        .route("/callbacks", get(callbacks))
        .route("/callbacks/wait", get(wait_for_callbacks))
        .route("/requests", get(requests))
        .route("/reset", post(reset))
}

// ---------------------------------------------------------------------------
// Errors

/// The admin API's error: `{"error": {"code", "message"}}`.
#[derive(Debug, Clone)]
pub struct AdminError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl AdminError {
    pub fn bad_request(message: impl Into<String>) -> AdminError {
        AdminError { status: StatusCode::BAD_REQUEST, code: "bad_request", message: message.into() }
    }

    pub fn from_status(status: StatusCode) -> AdminError {
        let (code, message) = match status {
            StatusCode::NOT_FOUND => ("not_found", "no admin endpoint at this path; see the README's admin API table"),
            StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "this admin endpoint does not take this method"),
            StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large"),
            _ => ("error", "the request could not be served"),
        };
        AdminError { status, code, message: message.into() }
    }
}

impl WireError for AdminError {
    fn provider(&self) -> &'static str {
        "admin"
    }

    fn code(&self) -> String {
        self.code.to_owned()
    }

    fn diagnosis(&self) -> Option<String> {
        Some(self.message.clone())
    }

    fn request_id(&self, ctx: &RequestContext) -> String {
        ctx.seq.to_string()
    }

    fn render(&self, _ctx: &RequestContext) -> Response {
        (self.status, Json(json!({ "error": { "code": self.code, "message": self.message } }))).into_response()
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        fault_response(self.status, self)
    }
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, AdminError> {
    q.map(|Query(t)| t).map_err(|e| AdminError::bad_request(e.body_text()))
}

// ---------------------------------------------------------------------------
// Health and credentials

async fn health(State(app): State<AppState>) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "seed": app.seed,
        "tenants": app.tenants.all().len(),
        "callbacks": app.callbacks.stats(),
    }))
}

/// Credentials of one tenant for every provider (the shape tenant creation returns too).
#[derive(Debug, Clone, Serialize)]
pub struct Credentials {
    pub tenant: String,
    pub base_url: String,
    pub daraja: DarajaCredentials,
}

#[derive(Debug, Clone, Serialize)]
pub struct DarajaCredentials {
    /// The first app's consumer key and secret, for the common single-app case.
    pub consumer_key: String,
    pub consumer_secret: String,
    pub apps: Vec<AppCredentials>,
    /// Shortcodes that accept M-Pesa Express, with their passkeys.
    pub lipa_na_mpesa: Vec<LipaNaMpesaCredentials>,
    pub shortcodes: Vec<ShortcodeInfo>,
    pub initiators: Vec<InitiatorCredentials>,
    /// Test MSISDNs and the M-Pesa Express outcome each produces.
    pub test_msisdns: Vec<TestMsisdn>,
    pub certificate_pem: String,
    pub certificate_url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AppCredentials {
    pub name: String,
    pub consumer_key: String,
    pub consumer_secret: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LipaNaMpesaCredentials {
    pub business_short_code: String,
    pub kind: &'static str,
    pub passkey: String,
    /// `CustomerPayBillOnline` or `CustomerBuyGoodsOnline`.
    pub transaction_type: &'static str,
    /// What to send as `PartyB` (the paybill itself, or a till of the store).
    pub party_b: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShortcodeInfo {
    pub number: String,
    pub kind: &'static str,
    pub name: String,
    pub store: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InitiatorCredentials {
    pub name: String,
    pub password: String,
    pub shortcodes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TestMsisdn {
    pub msisdn: String,
    pub result_code: u32,
    pub result_desc: &'static str,
}

pub fn credentials(app: &AppState, tenant: &Tenant) -> Credentials {
    let world = tenant.world();
    let apps: Vec<AppCredentials> = world
        .apps
        .iter()
        .map(|a| AppCredentials {
            name: a.name.clone(),
            consumer_key: a.consumer_key.clone(),
            consumer_secret: a.consumer_secret.expose_secret().to_owned(),
        })
        .collect();
    let first = apps.first();
    let lipa_na_mpesa = world
        .shortcodes
        .values()
        .filter_map(|sc| {
            let passkey = sc.passkey.as_ref()?.expose_secret().to_owned();
            let (transaction_type, party_b) = match sc.kind {
                ShortcodeKind::Paybill => ("CustomerPayBillOnline", vec![sc.number.clone()]),
                ShortcodeKind::Store => (
                    "CustomerBuyGoodsOnline",
                    world
                        .shortcodes
                        .values()
                        .filter(|t| t.store.as_deref() == Some(sc.number.as_str()))
                        .map(|t| t.number.clone())
                        .collect(),
                ),
                _ => return None,
            };
            Some(LipaNaMpesaCredentials {
                business_short_code: sc.number.clone(),
                kind: sc.kind.as_str(),
                passkey,
                transaction_type,
                party_b,
            })
        })
        .collect();
    let mut test_msisdns = vec![TestMsisdn {
        msisdn: "254708374149".into(),
        result_code: 0,
        result_desc: crate::daraja::results::stk_result_desc(0),
    }];
    test_msisdns.extend(crate::scenarios::TABLE_CODES.iter().map(|code| TestMsisdn {
        msisdn: format!("{}{code:04}", crate::scenarios::TEST_MSISDN_PREFIX),
        result_code: *code,
        result_desc: crate::daraja::results::stk_result_desc(*code),
    }));
    Credentials {
        tenant: tenant.id.clone(),
        base_url: app.base_url.to_string(),
        daraja: DarajaCredentials {
            consumer_key: first.map(|a| a.consumer_key.clone()).unwrap_or_default(),
            consumer_secret: first.map(|a| a.consumer_secret.clone()).unwrap_or_default(),
            apps,
            lipa_na_mpesa,
            shortcodes: world
                .shortcodes
                .values()
                .map(|sc| ShortcodeInfo {
                    number: sc.number.clone(),
                    kind: sc.kind.as_str(),
                    name: sc.name.clone(),
                    store: sc.store.clone(),
                })
                .collect(),
            initiators: world
                .initiators
                .values()
                .map(|i| InitiatorCredentials {
                    name: i.name.clone(),
                    password: i.password.expose_secret().to_owned(),
                    shortcodes: i.shortcodes.clone(),
                })
                .collect(),
            test_msisdns,
            certificate_pem: app.daraja_keys.cert_pem.to_owned(),
            certificate_url: format!("{}{PREFIX}/keys/daraja.pem", app.base_url),
        },
    }
}

async fn get_credentials(State(app): State<AppState>) -> Json<Credentials> {
    Json(credentials(&app, &app.tenants.default_tenant()))
}

async fn daraja_certificate(State(app): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "application/x-pem-file")], app.daraja_keys.cert_pem).into_response()
}

// ---------------------------------------------------------------------------
// State

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransactionFilter {
    status: Option<String>,
    msisdn: Option<String>,
    id: Option<String>,
}

async fn transactions(
    State(app): State<AppState>,
    q: Result<Query<TransactionFilter>, QueryRejection>,
) -> Result<Json<Value>, AdminError> {
    let filter = query(q)?;
    let tenant = app.tenants.default_tenant();
    let mut rows: Vec<Value> = tenant.with_state(|state| {
        let mut txs: Vec<_> = state.daraja.stk.values().collect();
        txs.sort_by(|a, b| (a.created_at, &a.checkout_request_id).cmp(&(b.created_at, &b.checkout_request_id)));
        txs.into_iter()
            .filter(|tx| filter.status.as_deref().is_none_or(|s| s == tx.status.as_str()))
            .filter(|tx| filter.msisdn.as_deref().is_none_or(|m| m == tx.phone_number))
            .filter(|tx| {
                filter.id.as_deref().is_none_or(|id| id == tx.checkout_request_id || id == tx.merchant_request_id)
            })
            .map(|tx| {
                json!({
                    "provider": "daraja",
                    "kind": "stk_push",
                    "checkout_request_id": tx.checkout_request_id,
                    "merchant_request_id": tx.merchant_request_id,
                    "status": tx.status.as_str(),
                    "result_code": tx.result_code,
                    "result_desc": tx.result_code.map(crate::daraja::results::stk_result_desc),
                    "outcome_reason": tx.outcome_reason,
                    "amount": tx.amount.to_string(),
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
                })
            })
            .collect()
    });
    rows.shrink_to_fit();
    Ok(Json(json!({ "transactions": rows })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountFilter {
    msisdn: Option<String>,
    shortcode: Option<String>,
}

async fn accounts(
    State(app): State<AppState>,
    q: Result<Query<AccountFilter>, QueryRejection>,
) -> Result<Json<Value>, AdminError> {
    let filter = query(q)?;
    let tenant = app.tenants.default_tenant();
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
            })
            .collect()
    });
    Ok(Json(json!({ "accounts": rows })))
}

async fn reset(State(app): State<AppState>) -> Json<Value> {
    let tenant = app.tenants.default_tenant();
    let dropped = tenant.reset();
    Json(json!({ "tenant": tenant.id, "reset": true, "pending_events_dropped": dropped }))
}

// ---------------------------------------------------------------------------
// Journals

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallbackFilter {
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
    /// Wait only: how many matching entries to wait for (default 1).
    count: Option<usize>,
    /// Wait only: how long to wait, in milliseconds (default 5000, at most 30000).
    timeout_ms: Option<u64>,
}

impl CallbackFilter {
    fn matches(&self, entry: &CallbackAttempt) -> bool {
        let correlation = self.correlation_id.as_deref().or(self.checkout_request_id.as_deref());
        correlation.is_none_or(|c| c == entry.correlation_id)
            && self.kind.as_deref().is_none_or(|k| k == entry.kind)
            && self.outcome.as_deref().is_none_or(|o| o == outcome_name(entry.outcome))
            && self.url.as_deref().is_none_or(|u| entry.url.contains(u))
            && self.after_seq.is_none_or(|s| entry.seq > s)
    }
}

fn outcome_name(outcome: DeliveryOutcome) -> &'static str {
    match outcome {
        DeliveryOutcome::Delivered => "delivered",
        DeliveryOutcome::Failed => "failed",
        DeliveryOutcome::Abandoned => "abandoned",
    }
}

async fn callbacks(
    State(app): State<AppState>,
    q: Result<Query<CallbackFilter>, QueryRejection>,
) -> Result<Json<Value>, AdminError> {
    let filter = query(q)?;
    let tenant = app.tenants.default_tenant();
    let (entries, evicted) = tenant.journal.read(|j| {
        let entries: Vec<CallbackAttempt> = j.callbacks.iter().filter(|e| filter.matches(e)).cloned().collect();
        (entries, j.callbacks.evicted())
    });
    Ok(Json(json!({ "callbacks": entries, "evicted": evicted })))
}

/// Answers when at least `count` journal entries match the filter (200), or
/// when the timeout passes (408, with what was found so far).
async fn wait_for_callbacks(
    State(app): State<AppState>,
    q: Result<Query<CallbackFilter>, QueryRejection>,
) -> Result<Response, AdminError> {
    let filter = query(q)?;
    let count = filter.count.unwrap_or(1).max(1);
    let timeout = Duration::from_millis(filter.timeout_ms.unwrap_or(5000)).min(MAX_WAIT);
    let tenant: Arc<Tenant> = app.tenants.default_tenant();
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
struct RequestFilter {
    /// Only refused requests.
    errors: Option<bool>,
    after_seq: Option<u64>,
}

async fn requests(
    State(app): State<AppState>,
    q: Result<Query<RequestFilter>, QueryRejection>,
) -> Result<Json<Value>, AdminError> {
    let filter = query(q)?;
    let tenant = app.tenants.default_tenant();
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
