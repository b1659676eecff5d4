//! Pesaflow's admin views, under `/__sandbox/pesaflow/` (and
//! `/__sandbox/tenants/{id}/pesaflow/`):
//! * `GET /invoices` (`?status=pending|partial|settled`, `?client=`,
//!   `?client_invoice_ref=`): invoices, newest first, with their payments;
//!   `GET /invoices/{number}`: one invoice with its payments and prompts;
//! * `POST /prompts/{id}/answer` `{"action": "pay"|"cancel"|"wrong_pin"|"timeout"}`:
//!   answers a pending M-Pesa prompt as the customer would;
//! * `POST /ussd` `{"reference", "service_code", "msisdn", "amount"?}`: a
//!   customer dials the USSD channel with reference R for service code S
//!   (the merchant's validation URL is asked, then a payment follows);
//!   `GET /ussd` and `GET /ussd/{id}`: the sessions and what came of them.
//!
//! Also here: Pesaflow's rows of the generic transactions view.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State as AxumState};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::amount::{self, Amount};
use super::invoice::Invoice;
use super::prompt::{self, AnswerError, Prompt};
use super::ussd::{self, Dial, UssdSession};
use super::{invoice_link, Pesaflow, State};
use crate::admin::{json_body, path_param, query, AdminError, TenantRef};
use crate::app_state::AppState;
use crate::handset::PromptAnswer;
use crate::provider::TransactionRow;
use crate::scheduler::{settle_due_with, Release};

/// Pesaflow's admin views, relative to where they are mounted.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/invoices", get(invoices))
        .route("/invoices/{number}", get(invoice))
        .route("/prompts/{id}/answer", post(answer))
        .route("/ussd", post(dial).get(sessions))
        .route("/ussd/{id}", get(session))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InvoiceFilter {
    status: Option<String>,
    client: Option<String>,
    client_invoice_ref: Option<String>,
}

/// An invoice as the admin views show it.
#[derive(Debug, Serialize)]
struct InvoiceView {
    invoice_number: String,
    invoice_link: String,
    status: &'static str,
    origin: &'static str,
    api_client_id: String,
    service_id: String,
    client_invoice_ref: String,
    currency: &'static str,
    amount_net: String,
    commission: String,
    amount_expected: String,
    amount_paid: String,
    balance: String,
    client_name: String,
    client_msisdn: Option<String>,
    notification_url: Option<String>,
    callback_url_on_success: Option<String>,
    created_at: chrono::DateTime<chrono::Utc>,
    payments: Vec<PaymentView>,
}

#[derive(Debug, Serialize)]
struct PaymentView {
    reference: String,
    channel: &'static str,
    amount: String,
    paid_at: chrono::DateTime<chrono::Utc>,
    payer: Option<String>,
    payer_name: Option<String>,
}

fn invoice_view(base_url: &str, invoice: &Invoice) -> InvoiceView {
    let d = &invoice.details;
    InvoiceView {
        invoice_number: invoice.number.clone(),
        invoice_link: invoice_link(base_url, &invoice.request_id),
        status: invoice.status().as_str(),
        origin: d.origin.as_str(),
        api_client_id: d.api_client_id.clone(),
        service_id: d.service_id.clone(),
        client_invoice_ref: d.client_invoice_ref.clone(),
        currency: d.currency.as_str(),
        amount_net: amount::two_decimals(d.amount_net),
        commission: amount::two_decimals(d.commission),
        amount_expected: amount::two_decimals(invoice.amount_expected),
        amount_paid: amount::two_decimals(invoice.amount_paid()),
        balance: amount::two_decimals(invoice.balance()),
        client_name: d.client_name.clone(),
        client_msisdn: d.client_msisdn.clone(),
        notification_url: d.notification_url.clone(),
        callback_url_on_success: d.callback_url_on_success.clone(),
        created_at: invoice.created_at,
        payments: invoice
            .payments()
            .iter()
            .map(|p| PaymentView {
                reference: p.reference.clone(),
                channel: p.channel.as_str(),
                amount: amount::two_decimals(p.amount),
                paid_at: p.paid_at,
                payer: p.payer.clone(),
                payer_name: p.payer_name.clone(),
            })
            .collect(),
    }
}

/// A prompt as the admin views show it.
fn prompt_view(p: &Prompt) -> Value {
    json!({
        "id": p.id,
        "invoice_number": p.invoice_number,
        "origin": p.origin.as_str(),
        "status": p.status.as_str(),
        "msisdn": p.msisdn,
        "amount": amount::two_decimals(p.amount),
        "api_client_id": p.api_client_id,
        "result_code": p.result_code,
        "result_desc": p.result_desc,
        "outcome_reason": p.outcome_reason,
        "awaiting_customer": p.awaiting_customer,
        "receipt": p.receipt,
        "created_at": p.created_at,
        "settles_at": p.settles_at,
        "settled_at": p.settled_at,
    })
}

fn session_view(s: &UssdSession) -> Value {
    let display_info: serde_json::Map<String, Value> =
        s.display_info.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    json!({
        "id": s.id,
        "status": s.status.as_str(),
        "reference": s.reference,
        "service_code": s.service_code,
        "service_id": s.service_id,
        "api_client_id": s.api_client_id,
        "msisdn": s.msisdn,
        "amount": s.amount.map(amount::two_decimals),
        "validation_url": s.validation_url,
        "display_info": display_info,
        "reason": s.reason,
        "invoice_number": s.invoice_number,
        "prompt_id": s.prompt_id,
        "created_at": s.created_at,
        "answered_at": s.answered_at,
    })
}

/// `GET /invoices`: newest first.
pub(crate) async fn invoices(
    AxumState(app): AxumState<AppState>,
    TenantRef(tenant): TenantRef,
    q: Result<Query<InvoiceFilter>, QueryRejection>,
) -> Result<Json<Value>, AdminError> {
    let filter = query(q)?;
    let views = tenant.with::<Pesaflow, _>(|_, mine| {
        let mut views: Vec<InvoiceView> = mine
            .invoices
            .all()
            .filter(|i| filter.status.as_deref().is_none_or(|s| s == i.status().as_str()))
            .filter(|i| filter.client.as_deref().is_none_or(|c| c == i.details.api_client_id))
            .filter(|i| filter.client_invoice_ref.as_deref().is_none_or(|r| r == i.details.client_invoice_ref))
            .map(|i| invoice_view(&app.base_url, i))
            .collect();
        views.reverse();
        (views, mine.invoices.len())
    });
    let (views, kept) = views;
    Ok(Json(json!({ "invoices": views, "kept": kept })))
}

/// `GET /invoices/{number}`: one invoice with its payments and prompts.
pub(crate) async fn invoice(
    AxumState(app): AxumState<AppState>,
    TenantRef(tenant): TenantRef,
    Path(params): Path<Vec<(String, String)>>,
) -> Result<Json<Value>, AdminError> {
    let number = path_param(&params, "number");
    let found = tenant.with::<Pesaflow, _>(|_, mine| {
        let invoice = mine.invoices.get(&number)?;
        let mut prompts: Vec<&Prompt> = mine.prompts.values().filter(|p| p.invoice_number == number).collect();
        prompts.sort_by_key(|p| p.created_at);
        Some(json!({
            "invoice": invoice_view(&app.base_url, invoice),
            "prompts": prompts.into_iter().map(prompt_view).collect::<Vec<_>>(),
        }))
    });
    found.map(Json).ok_or_else(|| {
        AdminError::new(
            StatusCode::NOT_FOUND,
            "unknown_invoice",
            format!("no invoice {number:?} in this tenant (or forgotten past the retention limit)"),
        )
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AnswerBody {
    /// `pay`, `wrong_pin`, `cancel` or `timeout`.
    action: String,
}

/// `POST /prompts/{id}/answer`: answers a pending prompt as the customer would.
pub(crate) async fn answer(
    AxumState(app): AxumState<AppState>,
    TenantRef(tenant): TenantRef,
    Path(params): Path<Vec<(String, String)>>,
    body: Result<Json<AnswerBody>, JsonRejection>,
) -> Result<Json<Value>, AdminError> {
    let body = json_body(body)?;
    let id = path_param(&params, "id");
    let action = PromptAnswer::parse(&body.action).map_err(AdminError::bad_request)?;
    let now = tenant.now();
    tenant.with::<Pesaflow, _>(|core, mine| prompt::answer(core, mine, &id, action, now)).map_err(|e| match e {
        AnswerError::Unknown(_) => AdminError::new(StatusCode::NOT_FOUND, "unknown_prompt", e.to_string()),
        AnswerError::Settled(_) => AdminError::new(StatusCode::CONFLICT, "already_settled", e.to_string()),
    })?;
    settle_due_with(&app, &tenant, release(&tenant)).await;
    let view = tenant.with::<Pesaflow, _>(|_, mine| mine.prompts.get(&id).map(prompt_view));
    Ok(Json(view.unwrap_or_else(|| json!({ "id": id, "status": "forgotten" }))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DialBody {
    reference: String,
    service_code: String,
    msisdn: String,
    /// What the customer pays once the merchant says the reference is valid;
    /// without it the session stops at the validation.
    amount: Option<Value>,
}

/// `POST /ussd`: a customer dials the USSD channel with a reference for a
/// service code.
pub(crate) async fn dial(
    AxumState(app): AxumState<AppState>,
    TenantRef(tenant): TenantRef,
    body: Result<Json<DialBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), AdminError> {
    let body = json_body(body)?;
    let amount = match &body.amount {
        None | Some(Value::Null) => None,
        Some(value) => {
            let text = super::params::value_text(value)
                .ok_or_else(|| AdminError::bad_request("amount must be a number or a decimal string"))?;
            Some(Amount::parse(&text).map_err(|p| AdminError::bad_request(format!("amount {p}")))?.money())
        }
    };
    app.callbacks.admit(&tenant).await;
    let now = tenant.now();
    let dialled = Dial { reference: body.reference, service_code: body.service_code, msisdn: body.msisdn, amount };
    let id = tenant.with::<Pesaflow, _>(|core, mine| ussd::dial(core, mine, dialled, now)).map_err(|e| match e {
        ussd::DialError::UnknownServiceCode(_) => {
            AdminError::new(StatusCode::NOT_FOUND, "unknown_service_code", e.to_string())
        }
        other => AdminError::bad_request(other.to_string()),
    })?;
    settle_due_with(&app, &tenant, release(&tenant)).await;
    let view = tenant.with::<Pesaflow, _>(|_, mine| mine.ussd.get(&id).map(session_view));
    Ok((StatusCode::CREATED, Json(view.unwrap_or_else(|| json!({ "id": id })))))
}

/// `GET /ussd`: every session kept, newest first.
pub(crate) async fn sessions(TenantRef(tenant): TenantRef) -> Json<Value> {
    let sessions: Vec<Value> = tenant.with::<Pesaflow, _>(|_, mine| {
        let mut all: Vec<&UssdSession> = mine.ussd.values().collect();
        all.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| b.id.cmp(&a.id)));
        all.into_iter().map(session_view).collect()
    });
    Json(json!({ "sessions": sessions }))
}

/// `GET /ussd/{id}`.
pub(crate) async fn session(
    TenantRef(tenant): TenantRef,
    Path(params): Path<Vec<(String, String)>>,
) -> Result<Json<Value>, AdminError> {
    let id = path_param(&params, "id");
    tenant.with::<Pesaflow, _>(|_, mine| mine.ussd.get(&id).map(session_view)).map(Json).ok_or_else(|| {
        AdminError::new(StatusCode::NOT_FOUND, "unknown_session", format!("no USSD session {id:?} in this tenant"))
    })
}

/// Virtual clocks deliver what is due in order, before the admin call answers.
fn release(tenant: &crate::store::Tenant) -> Release {
    if tenant.clock.is_virtual() {
        Release::InOrder
    } else {
        Release::Queue
    }
}

/// Pesaflow's rows of `GET /__sandbox/transactions`: invoices, prompts and
/// USSD sessions.
pub(crate) fn transactions(mine: &State, out: &mut Vec<TransactionRow>) {
    out.extend(mine.invoices.all().map(|i| {
        let mut ids = vec![i.number.clone(), i.request_id.clone(), i.details.client_invoice_ref.clone()];
        ids.extend(i.payments().iter().map(|p| p.reference.clone()));
        TransactionRow {
            at: i.created_at,
            ids,
            row: json!({
                "provider": super::PROVIDER,
                "kind": "invoice",
                "id": i.number,
                "status": i.status().as_str(),
                "origin": i.details.origin.as_str(),
                "msisdn": i.details.client_msisdn,
                "api_client_id": i.details.api_client_id,
                "service_id": i.details.service_id,
                "client_invoice_ref": i.details.client_invoice_ref,
                "currency": i.details.currency.as_str(),
                "amount_expected": amount::two_decimals(i.amount_expected),
                "amount_paid": amount::two_decimals(i.amount_paid()),
                "payments": i.payments().iter().map(|p| &p.reference).collect::<Vec<_>>(),
                "created_at": i.created_at,
            }),
        }
    }));
    out.extend(mine.prompts.values().map(|p| {
        let mut row = prompt_view(p);
        if let Some(object) = row.as_object_mut() {
            object.insert("provider".into(), json!(super::PROVIDER));
            object.insert("kind".into(), json!(prompt::OPERATION));
        }
        TransactionRow {
            at: p.created_at,
            ids: [Some(&p.id), Some(&p.invoice_number), p.receipt.as_ref()].into_iter().flatten().cloned().collect(),
            row,
        }
    }));
    out.extend(mine.ussd.values().map(|s| {
        let mut row = session_view(s);
        if let Some(object) = row.as_object_mut() {
            object.insert("provider".into(), json!(super::PROVIDER));
            object.insert("kind".into(), json!("ussd_session"));
        }
        TransactionRow {
            at: s.created_at,
            ids: [Some(&s.id), s.invoice_number.as_ref(), Some(&s.reference)].into_iter().flatten().cloned().collect(),
            row,
        }
    }));
}
