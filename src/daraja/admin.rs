//! Daraja's admin views, under `/__sandbox/daraja/` (and, as they were
//! before providers had their own prefixes, at the admin root):
//! * `GET /keys/daraja.pem`: the certificate clients encrypt initiator passwords with;
//! * operators (create, rotate, lock, disable), consumer secret and passkey rotation;
//! * answering a pending M-Pesa Express prompt as the customer would;
//! * a customer paying a shortcode from the phone (C2B, the production path),
//!   and forgetting a shortcode's C2B URLs;
//! * an organisation account's reconciliation statement as CSV ([`super::statement`]).
//!
//! Integrators use these to prove their systems apply credentials per
//! request and survive rotations. Also here: Daraja's rows of the generic
//! transactions view.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{json, Value};

use super::c2b::{start_payment, PayRequest};
use super::operators::{check_policy, Operator};
use super::world::{OperatorKind, OperatorStatus, Role};
use super::{Daraja, State as DarajaState};
use crate::admin::{json_body, path_param, AdminError, TenantRef};
use crate::app_state::AppState;
use crate::handset::PromptAnswer;
use crate::ledger::Money;
use crate::markets::Market;
use crate::provider::TransactionRow;
use crate::scheduler::{settle_due_with, Release};

/// Daraja's admin views, relative to where they are mounted.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/keys/daraja.pem", get(certificate))
        .route("/stk/{checkout_request_id}/answer", post(answer_stk))
        .route("/operators", get(list).post(create))
        .route("/operators/{name}/password", post(set_password))
        .route("/operators/{name}/status", post(set_status))
        .route("/apps/{consumer_key}/secret", post(rotate_secret))
        .route("/shortcodes/{number}/passkey", post(rotate_passkey))
        .route("/c2b/pay", post(customer_pays))
        .route("/c2b/{shortcode}/unregister", post(unregister))
        .route("/statements/{shortcode}", get(super::statement::statement))
}

async fn certificate(State(app): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "application/x-pem-file")], app.shared::<Daraja>().keys.cert_pem).into_response()
}

pub(crate) async fn list(TenantRef(tenant): TenantRef) -> Json<Value> {
    let operators: Vec<Value> =
        tenant.with::<Daraja, _>(|_, mine| mine.operators.values().map(|o| json!(o.view())).collect());
    Json(json!({ "operators": operators }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewOperator {
    name: String,
    password: String,
    /// `api` (default) or `web`.
    kind: Option<OperatorKind>,
    roles: Option<Vec<Role>>,
    #[serde(default)]
    shortcodes: Vec<String>,
}

/// `POST /operators`: creates an operator; the password must meet the policy.
pub(crate) async fn create(
    TenantRef(tenant): TenantRef,
    request: Result<Json<NewOperator>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), AdminError> {
    let request = json_body(request)?;
    check_policy(&request.password).map_err(|why| AdminError::new(StatusCode::BAD_REQUEST, "weak_password", why))?;
    let now = tenant.now();
    let view = tenant.with::<Daraja, _>(|_, mine| {
        if mine.operators.contains_key(&request.name) {
            return Err(AdminError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("operator {:?} exists", request.name),
            ));
        }
        let operator = Operator {
            name: request.name.clone(),
            kind: request.kind.unwrap_or(OperatorKind::Api),
            password: SecretString::from(request.password.clone()),
            password_set_at: now,
            shortcodes: request.shortcodes.clone(),
            roles: request.roles.clone().unwrap_or_else(|| Role::ALL.to_vec()),
            status: OperatorStatus::Active,
            failed_attempts: 0,
        };
        let view = operator.view();
        mine.operators.insert(request.name.clone(), operator);
        Ok(view)
    })?;
    Ok((StatusCode::CREATED, Json(json!(view))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewPassword {
    password: String,
}

/// `POST /operators/{name}/password`: rotates a password (which also unlocks it).
pub(crate) async fn set_password(
    TenantRef(tenant): TenantRef,
    Path(params): Path<Vec<(String, String)>>,
    request: Result<Json<NewPassword>, JsonRejection>,
) -> Result<Json<Value>, AdminError> {
    let request = json_body(request)?;
    let name = path_param(&params, "name");
    check_policy(&request.password).map_err(|why| AdminError::new(StatusCode::BAD_REQUEST, "weak_password", why))?;
    let now = tenant.now();
    let view = tenant.with::<Daraja, _>(|_, mine| {
        let operator = mine.operators.get_mut(&name).ok_or_else(|| unknown_operator(&name))?;
        operator.password = SecretString::from(request.password.clone());
        operator.password_set_at = now;
        operator.failed_attempts = 0;
        if operator.status == OperatorStatus::Locked {
            operator.status = OperatorStatus::Active;
        }
        Ok::<_, AdminError>(operator.view())
    })?;
    Ok(Json(json!(view)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewStatus {
    /// `active`, `locked` or `disabled`.
    status: OperatorStatus,
}

/// `POST /operators/{name}/status`: locks, disables or reactivates an operator.
pub(crate) async fn set_status(
    TenantRef(tenant): TenantRef,
    Path(params): Path<Vec<(String, String)>>,
    request: Result<Json<NewStatus>, JsonRejection>,
) -> Result<Json<Value>, AdminError> {
    let request = json_body(request)?;
    let name = path_param(&params, "name");
    let view = tenant.with::<Daraja, _>(|_, mine| {
        let operator = mine.operators.get_mut(&name).ok_or_else(|| unknown_operator(&name))?;
        operator.status = request.status;
        if request.status == OperatorStatus::Active {
            operator.failed_attempts = 0;
        }
        Ok::<_, AdminError>(operator.view())
    })?;
    Ok(Json(json!(view)))
}

fn unknown_operator(name: &str) -> AdminError {
    AdminError::new(StatusCode::NOT_FOUND, "unknown_operator", format!("no operator named {name:?} in this tenant"))
}

/// `POST /apps/{consumer_key}/secret`: a new consumer secret; tokens already
/// issued stay valid until they expire.
pub(crate) async fn rotate_secret(
    TenantRef(tenant): TenantRef,
    Path(params): Path<Vec<(String, String)>>,
) -> Result<Json<Value>, AdminError> {
    let key = path_param(&params, "consumer_key");
    let secret = tenant.with::<Daraja, _>(|core, mine| {
        let secret = core.secrets().alnum(64);
        let mut world = (*mine.world).clone();
        let app = world.apps.iter_mut().find(|a| a.consumer_key == key).ok_or_else(|| {
            AdminError::new(
                StatusCode::NOT_FOUND,
                "unknown_app",
                format!("no app has the consumer key {key:?} in this tenant"),
            )
        })?;
        app.consumer_secret = SecretString::from(secret.clone());
        mine.world = Arc::new(world);
        Ok::<_, AdminError>(secret)
    })?;
    Ok(Json(json!({ "consumer_key": key, "consumer_secret": secret })))
}

/// `POST /shortcodes/{number}/passkey`: a new Lipa na M-Pesa passkey.
pub(crate) async fn rotate_passkey(
    TenantRef(tenant): TenantRef,
    Path(params): Path<Vec<(String, String)>>,
) -> Result<Json<Value>, AdminError> {
    let number = path_param(&params, "number");
    let passkey = tenant.with::<Daraja, _>(|core, mine| {
        let passkey = core.secrets().hex(64);
        let mut world = (*mine.world).clone();
        let shortcode = world.shortcodes.get_mut(&number).filter(|sc| sc.passkey.is_some()).ok_or_else(|| {
            AdminError::new(
                StatusCode::NOT_FOUND,
                "unknown_shortcode",
                format!("no shortcode {number:?} with a Lipa na M-Pesa passkey in this tenant"),
            )
        })?;
        shortcode.passkey = Some(SecretString::from(passkey.clone()));
        mine.world = Arc::new(world);
        Ok::<_, AdminError>(passkey)
    })?;
    Ok(Json(json!({ "shortcode": number, "passkey": passkey })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CustomerPays {
    shortcode: String,
    msisdn: String,
    amount: f64,
    #[serde(default)]
    bill_ref_number: String,
}

/// `POST /c2b/pay`: a customer pays a paybill or a till from the phone; the
/// payment then goes through validation and confirmation like any other.
pub(crate) async fn customer_pays(
    State(_app): State<AppState>,
    TenantRef(tenant): TenantRef,
    request: Result<Json<CustomerPays>, JsonRejection>,
) -> Result<Json<Value>, AdminError> {
    let request = json_body(request)?;
    if !Market::Kenya.is_msisdn(&request.msisdn) {
        return Err(AdminError::bad_request(format!("msisdn {:?} is not 254 and 9 digits", request.msisdn)));
    }
    if !(request.amount >= 1.0 && request.amount <= 1e9) {
        return Err(AdminError::bad_request("amount must be at least 1"));
    }
    let amount = Money::from_decimal(request.amount);
    let now = tenant.now();
    let trans_id = tenant.with::<Daraja, _>(|core, mine| {
        let decision = core.decide(&super::c2b::payment_facts(
            &request.msisdn,
            amount,
            &request.shortcode,
            &request.bill_ref_number,
        ));
        let pay = PayRequest {
            shortcode: request.shortcode.clone(),
            msisdn: request.msisdn.clone(),
            amount,
            bill_ref_number: request.bill_ref_number.clone(),
            buy_goods: None,
        };
        start_payment(core, mine, pay, now, decision.as_ref()).map_err(AdminError::bad_request)
    })?;
    Ok(Json(json!({ "trans_id": trans_id, "status": "initiated" })))
}

/// `POST /c2b/{shortcode}/unregister`: forgets a shortcode's C2B URLs (the
/// portal's URL management, needed to re-register under production rules).
pub(crate) async fn unregister(
    TenantRef(tenant): TenantRef,
    Path(params): Path<Vec<(String, String)>>,
) -> Result<Json<Value>, AdminError> {
    let shortcode = path_param(&params, "shortcode");
    let removed = tenant.with::<Daraja, _>(|_, mine| mine.c2b.registrations.remove(&shortcode).is_some());
    Ok(Json(json!({ "shortcode": shortcode, "unregistered": removed })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AnswerBody {
    /// `pay`, `wrong_pin`, `cancel` or `timeout`.
    action: String,
}

/// `POST /stk/{checkout_request_id}/answer`: answers a pending M-Pesa
/// Express prompt as the customer would.
pub(crate) async fn answer_stk(
    State(app): State<AppState>,
    TenantRef(tenant): TenantRef,
    Path(params): Path<Vec<(String, String)>>,
    body: Result<Json<AnswerBody>, JsonRejection>,
) -> Result<Json<Value>, AdminError> {
    let body = json_body(body)?;
    let checkout_request_id = path_param(&params, "checkout_request_id");
    let answer = PromptAnswer::parse(&body.action).map_err(AdminError::bad_request)?;
    let now = tenant.now();
    tenant.with::<Daraja, _>(|core, mine| super::answer(core, mine, &checkout_request_id, answer, now)).map_err(
        |e| match e {
            super::AnswerError::Unknown(_) => {
                AdminError::new(StatusCode::NOT_FOUND, "unknown_transaction", e.to_string())
            }
            super::AnswerError::Settled(_) => AdminError::new(StatusCode::CONFLICT, "already_settled", e.to_string()),
        },
    )?;
    let release = if tenant.clock.is_virtual() { Release::InOrder } else { Release::Queue };
    settle_due_with(&app, &tenant, release).await;
    let (status, result_code) = tenant.with::<Daraja, _>(|_, mine| {
        mine.stk
            .txs
            .get(&checkout_request_id)
            .map(|tx| (tx.status.as_str(), tx.result_code.clone()))
            .unwrap_or(("forgotten", None))
    });
    Ok(Json(json!({ "checkout_request_id": checkout_request_id, "status": status, "result_code": result_code })))
}

/// Daraja's rows of `GET /__sandbox/transactions`.
pub(crate) fn transactions(mine: &DarajaState, out: &mut Vec<TransactionRow>) {
    out.extend(mine.stk.txs.values().map(|tx| {
        TransactionRow {
            at: tx.created_at,
            ids: [Some(&*tx.checkout_request_id), Some(&*tx.merchant_request_id), tx.receipt.as_deref()]
                .into_iter()
                .flatten()
                .map(str::to_owned)
                .collect(),
            row: json!({
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
            }),
        }
    }));
    out.extend(mine.requests.by_conversation.values().map(|r| {
        TransactionRow {
            at: r.accepted_at,
            ids: [Some(&r.conversation_id), Some(&r.originator_conversation_id), r.receipt.as_ref()]
                .into_iter()
                .flatten()
                .cloned()
                .collect(),
            row: json!({
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
            }),
        }
    }));
    out.extend(mine.c2b.payments.values().map(|p| TransactionRow {
        at: p.initiated_at,
        ids: vec![p.trans_id.clone()],
        row: json!({
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
        }),
    }));
}
