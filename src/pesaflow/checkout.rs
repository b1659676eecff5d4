//! The online checkout and the hosted payment page.
//!
//! * `POST /PaymentAPI/iframev2.1.php`, `/api/PaymentAPI/checkout`,
//!   `/PaymentAPI/invoice/checkout`: a hashed form (or JSON) becomes an
//!   invoice; `format=json` answers the captured JSON, `html` and `iframe`
//!   the payment page. `sendSTK=true` sends the M-Pesa prompt at once.
//! * `GET /checkout?request_id=…`: the page of an invoice (its `invoice_link`).
//! * `POST /checkout/prompt`: the page's form, an M-Pesa prompt to a phone for
//!   any amount up to the balance (partial payments).
//! * `GET /checkout/status?request_id=…`: what the page's script polls.
//!
//! Check order: the body, the maintenance window, the gate (rate limits and
//! scripted faults), the fields, then the client, its hash, the service and
//! the currency ([`super::checks`]).

use std::sync::Arc;

use axum::extract::{RawQuery, State as AxumState};
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::amount::{self, Amount};
use super::checks;
use super::error::{Envelope, ErrorKind, PesaflowError};
use super::extract::{tenant_of_link, Ctx, RawBody, Routed};
use super::invoice::Invoice;
use super::page::{self, CheckoutPage, Notice};
use super::params::Params;
use super::prompt::{self, PromptOrigin, PromptRequest, PromptStatus};
use super::scenario::{self, FactValues};
use super::wire::{normalise_msisdn, CheckoutFormat, CheckoutPath, CheckoutRequest, CheckoutResponse};
use super::{invoice_link, Pesaflow, State, PAGE_STATUS_PATH, PROMPT_PATH};
use crate::app_state::AppState;
use crate::http::Diagnosis;
use crate::scheduler::settle_due;
use crate::store::Tenant;

/// The scenario operation of a checkout.
pub(crate) const OPERATION: &str = "checkout";
/// The scenario operation of the hosted page (and what its script polls).
pub(crate) const PAGE_OPERATION: &str = "checkout_page";

/// `POST` of a checkout, on any of its paths.
pub(crate) async fn checkout(
    AxumState(app): AxumState<AppState>,
    uri: Uri,
    Ctx(ctx): Ctx,
    body: Result<RawBody, PesaflowError>,
) -> Result<Response, PesaflowError> {
    let path = CheckoutPath::from_path(uri.path())
        .ok_or_else(|| PesaflowError::new(ErrorKind::NotFound, Envelope::Error, "no checkout at this path"))?;
    let routed = Routed::new(&app, &ctx, body?.params(Envelope::Error)?, "apiClientID", Envelope::Error)?;
    if !routed.world.serves_checkout(path) {
        return Err(PesaflowError::new(
            ErrorKind::NotFound,
            Envelope::Error,
            format!("{} is turned off by the world's [pesaflow.paths]", path.path()),
        ));
    }
    if routed.params.flag("sendSTK").unwrap_or(false) {
        app.callbacks.admit(&routed.tenant).await;
    }
    if let scenario::Gate::Refuse(refused) = routed.gate(OPERATION, Envelope::Error) {
        return Ok(refused);
    }
    let Routed { params, tenant, now, world, .. } = routed;
    let request = CheckoutRequest::parse(&params, path, world.field_names)
        .map_err(|e| PesaflowError::field(Envelope::Error, &e, &params))?;
    let (_, service) = checks::checkout(&world, &request, &params)?;
    let service_name = service.name.clone();
    let new = checks::checkout_invoice(&request, service, path);
    let msisdn = request.msisdn();

    let (invoice, reused, prompted) = tenant.with::<Pesaflow, _>(|core, mine| {
        let created = mine.invoices.create(new, &mut core.ids, world.invoice_number_length, now);
        let number = created.number().to_owned();
        let prompted = if request.send_stk {
            prompt::send_stk(core, mine, &number, msisdn.as_deref(), PromptOrigin::SendStk, now)
        } else {
            None
        };
        let reused = matches!(created, super::invoice::Created::Reused(_));
        (mine.invoices.get(&number).cloned(), reused, prompted)
    });
    let invoice = invoice.ok_or_else(|| {
        PesaflowError::new(ErrorKind::Internal, Envelope::Error, "the invoice was forgotten as soon as it was made")
    })?;

    let mut notes = Vec::new();
    for (sent, canonical) in &request.respelled {
        notes.push(format!("{sent} was read as {canonical} (field_names = \"lenient\")"));
    }
    if !request.ignored.is_empty() {
        notes.push(format!("fields Pesaflow does not read were ignored: {}", request.ignored.join(", ")));
    }
    if reused {
        notes.push(format!(
            "the same checkout for billRefNumber {:?} is still unpaid: its invoice {} is answered again",
            request.bill_ref_number, invoice.number
        ));
    }
    let notice = match &prompted {
        Some(Ok(_)) => msisdn.clone().map(|msisdn| Notice::PromptSent { msisdn }),
        Some(Err(refusal)) => {
            notes.push(format!("sendSTK: no prompt was sent: {refusal}"));
            None
        }
        None => None,
    };

    let mut response = match request.format {
        CheckoutFormat::Json => Json(CheckoutResponse::new(
            &invoice.number,
            &invoice_link(&app.base_url, &invoice.request_id),
            invoice.details.amount_net,
            invoice.details.commission,
        ))
        .into_response(),
        CheckoutFormat::Html | CheckoutFormat::Iframe => html(StatusCode::OK, &invoice, &service_name, notice),
    };
    if !notes.is_empty() {
        response.extensions_mut().insert(Diagnosis(notes.join("; ")));
    }
    Ok(response)
}

/// `GET /checkout?request_id=…`: the page of an invoice.
pub(crate) async fn page(
    AxumState(app): AxumState<AppState>,
    Ctx(ctx): Ctx,
    RawQuery(query): RawQuery,
) -> Result<Response, PesaflowError> {
    let params = Params::from_form(query.unwrap_or_default().as_bytes());
    let (tenant, number, client) = linked(&app, &ctx, &params)?;
    checks::maintenance(&tenant.world_of::<Pesaflow>(), tenant.now(), Envelope::Error)?;
    if let scenario::Gate::Refuse(refused) = scenario::gate(&tenant, &client, PAGE_OPERATION, &params, Envelope::Error)
    {
        return Ok(refused);
    }
    settle_due(&app, &tenant).await;
    let (invoice, service_name, notice) = tenant.with::<Pesaflow, _>(|_, mine| page_parts(mine, &number));
    let invoice = invoice.ok_or_else(|| not_resolved("the invoice was forgotten past the retention limit"))?;
    Ok(html(StatusCode::OK, &invoice, &service_name, notice))
}

/// `POST /checkout/prompt` (`request_id`, `phone`, `amount`): the page's form.
pub(crate) async fn prompt(
    AxumState(app): AxumState<AppState>,
    Ctx(ctx): Ctx,
    body: Result<RawBody, PesaflowError>,
) -> Result<Response, PesaflowError> {
    let params = body?.params(Envelope::Error)?;
    let (tenant, number, client) = linked(&app, &ctx, &params)?;
    let now = tenant.now();
    checks::maintenance(&tenant.world_of::<Pesaflow>(), now, Envelope::Error)?;
    app.callbacks.admit(&tenant).await;

    let phone = params.optional("phone").ok().flatten();
    let amount = match params.optional("amount").ok().flatten() {
        None => Ok(None),
        Some(text) => Amount::parse(&text).map(|a| Some(a.money())).map_err(|p| format!("The amount {p}.")),
    };
    let looked_up = tenant.with::<Pesaflow, _>(|_, mine| {
        mine.invoices.get(&number).map(|invoice| {
            let msisdn = phone.clone().or_else(|| invoice.details.client_msisdn.clone()).unwrap_or_default();
            let facts = FactValues {
                msisdn: Some(normalise_msisdn(&msisdn).unwrap_or_else(|| msisdn.clone())),
                amount: amount.clone().ok().flatten().or(Some(invoice.balance())),
                shortcode: Some(invoice.details.service_id.clone()),
                account_reference: Some(invoice.number.clone()),
                initiator: Some(invoice.details.api_client_id.clone()),
            };
            (msisdn, facts)
        })
    });
    let (msisdn, facts) =
        looked_up.ok_or_else(|| not_resolved("the invoice was forgotten past the retention limit"))?;
    let decision = match scenario::gate_with(
        &tenant,
        &client,
        &facts.into_facts(prompt::OPERATION, Some(&params)),
        Envelope::Error,
    ) {
        scenario::Gate::Pass(decision) => decision,
        scenario::Gate::Refuse(refused) => return Ok(refused),
    };

    let started = match amount {
        Err(why) => Err(why),
        Ok(amount) => tenant.with::<Pesaflow, _>(|core, mine| {
            let request =
                PromptRequest { invoice_number: &number, msisdn: &msisdn, amount, origin: PromptOrigin::Page };
            prompt::start(core, mine, &request, decision.as_ref(), now).map_err(|refusal| refusal.to_string())
        }),
    };
    let (invoice, service_name, notice) = tenant.with::<Pesaflow, _>(|_, mine| page_parts(mine, &number));
    let invoice = invoice.ok_or_else(|| not_resolved("the invoice was forgotten past the retention limit"))?;
    Ok(match started {
        Ok(_) => html(StatusCode::OK, &invoice, &service_name, notice),
        Err(reason) => {
            let mut response = html(
                StatusCode::UNPROCESSABLE_ENTITY,
                &invoice,
                &service_name,
                Some(Notice::Invalid { reason: reason.clone() }),
            );
            response.extensions_mut().insert(Diagnosis(format!("no prompt was sent: {reason}")));
            response
        }
    })
}

/// What the page's script reads.
#[derive(Debug, Serialize)]
pub(crate) struct PageStatus {
    invoice_number: String,
    status: &'static str,
    amount_paid: String,
    amount_expected: String,
    balance: String,
    prompt: Option<PromptView>,
}

#[derive(Debug, Serialize)]
pub(crate) struct PromptView {
    id: String,
    status: &'static str,
    msisdn: String,
    amount: String,
    result_desc: Option<String>,
    receipt: Option<String>,
}

/// `GET /checkout/status?request_id=…`: the invoice and its newest prompt.
pub(crate) async fn page_status(
    AxumState(app): AxumState<AppState>,
    Ctx(ctx): Ctx,
    RawQuery(query): RawQuery,
) -> Result<Json<PageStatus>, PesaflowError> {
    let params = Params::from_form(query.unwrap_or_default().as_bytes());
    let (tenant, number, _) = linked(&app, &ctx, &params)?;
    settle_due(&app, &tenant).await;
    tenant
        .with::<Pesaflow, _>(|_, mine| {
            let invoice = mine.invoices.get(&number)?;
            let prompt = mine.latest_prompt.get(&number).and_then(|id| mine.prompts.get(id)).map(|p| PromptView {
                id: p.id.clone(),
                status: p.status.as_str(),
                msisdn: p.msisdn.clone(),
                amount: amount::two_decimals(p.amount),
                result_desc: p.result_desc.clone(),
                receipt: p.receipt.clone(),
            });
            Some(PageStatus {
                invoice_number: invoice.number.clone(),
                status: invoice.status().as_str(),
                amount_paid: amount::two_decimals(invoice.amount_paid()),
                amount_expected: amount::two_decimals(invoice.amount_expected),
                balance: amount::two_decimals(invoice.balance()),
                prompt,
            })
        })
        .map(Json)
        .ok_or_else(|| not_resolved("the invoice was forgotten past the retention limit"))
}

/// The tenant, invoice number and client behind a request's `request_id`.
fn linked(
    app: &AppState,
    ctx: &crate::http::RequestContext,
    params: &Params,
) -> Result<(Arc<Tenant>, String, String), PesaflowError> {
    let request_id = params.optional("request_id").ok().flatten().ok_or_else(|| not_resolved("no request_id"))?;
    tenant_of_link(app, ctx, &request_id)
        .ok_or_else(|| not_resolved(&format!("no tenant holds an invoice with request_id {request_id:?}")))
}

fn not_resolved(why: &str) -> PesaflowError {
    PesaflowError::new(ErrorKind::CheckoutNotResolved, Envelope::Error, why)
}

/// The invoice, its service's name and what the page says of its newest prompt.
fn page_parts(mine: &State, number: &str) -> (Option<Invoice>, String, Option<Notice>) {
    let Some(invoice) = mine.invoices.get(number) else { return (None, String::new(), None) };
    let service_name = mine
        .world
        .service(&invoice.details.service_id)
        .map_or_else(|| invoice.details.service_id.clone(), |s| s.name.clone());
    let notice = mine.latest_prompt.get(number).and_then(|id| mine.prompts.get(id)).map(|p| match p.status {
        PromptStatus::Pending => Notice::PromptSent { msisdn: p.msisdn.clone() },
        PromptStatus::Paid => Notice::Paid { reference: p.receipt.clone().unwrap_or_default() },
        PromptStatus::Failed => Notice::Failed { reason: p.result_desc.clone().unwrap_or_default() },
    });
    (Some(invoice.clone()), service_name, notice)
}

/// The page as an HTML response.
fn html(status: StatusCode, invoice: &Invoice, service_name: &str, notice: Option<Notice>) -> Response {
    let status_url = format!("{PAGE_STATUS_PATH}?request_id={}", invoice.request_id);
    let body =
        page::render(&CheckoutPage { invoice, service_name, prompt_url: PROMPT_PATH, status_url: &status_url, notice });
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}
