//! Server-to-server invoicing (reference §1.7):
//! * `POST /api/oauth/generate/token` with `{"key","secret"}` (live) or HTTP
//!   Basic `key:secret` (the Postman collection) → `{"token","expiry"}`, an
//!   HS256 JWT shaped like live ones;
//! * `POST /api/invoice/create` with that Bearer and line items → the same
//!   invoices a checkout makes, answered in the checkout's JSON shape.
//!
//! Both answer errors in the `{"status": n, "message": "…"}` envelope a live
//! 401 shows. A client without the Pesaflow.Invoice grant (`invoice_create =
//! false` in the world) gets the live 401 "has not been granted".

use axum::extract::State as AxumState;
use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Duration;
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use super::checks;
use super::error::{Envelope, ErrorKind, PesaflowError};
use super::extract::{tenant_of_key, Ctx, RawBody};
use super::prompt::{self, PromptOrigin};
use super::scenario;
use super::token::jwt;
use super::wire::{normalise_msisdn, CheckoutResponse, InvoiceCreateRequest, TokenRequest, TokenResponse};
use super::{invoice_link, Pesaflow, PROVIDER};
use crate::app_state::AppState;
use crate::auth::{bearer_grant, TokenProblem};
use crate::http::Diagnosis;
use crate::httpauth;
use crate::store::Grant;

pub(crate) const OPERATION_TOKEN: &str = "token";
pub(crate) const OPERATION_CREATE: &str = "invoice_create";

const ENVELOPE: Envelope = Envelope::StatusMessage;

fn unauthorized(why: impl Into<String>) -> PesaflowError {
    PesaflowError::new(ErrorKind::Unauthorized, ENVELOPE, why)
}

/// `POST /api/oauth/generate/token`.
pub(crate) async fn token(
    AxumState(app): AxumState<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    body: Result<RawBody, PesaflowError>,
) -> Result<Response, PesaflowError> {
    let params = body.map_err(in_envelope)?.params(ENVELOPE)?;
    let (key, secret) = if params.get("key").is_some() || params.get("secret").is_some() {
        let request = TokenRequest::parse(&params).map_err(|e| PesaflowError::field(ENVELOPE, &e, &params))?;
        (request.key, request.secret.expose_secret().to_owned())
    } else {
        httpauth::basic(headers.get(AUTHORIZATION).map(|v| v.as_bytes())).map_err(|problem| {
            unauthorized(format!(
                "{problem}; send the JSON body {{\"key\": …, \"secret\": …}} (or HTTP Basic key:secret)"
            ))
        })?
    };
    let tenant = tenant_of_key(&app, &ctx, &key);
    let now = tenant.now();
    let world = tenant.world_of::<Pesaflow>();
    checks::maintenance(&world, now, ENVELOPE)?;
    let client = world.client_by_key(&key);
    let subject = client.map_or(key.as_str(), |c| c.api_client_id.as_str());
    if let scenario::Gate::Refuse(refused) = scenario::gate(&tenant, subject, OPERATION_TOKEN, &params, ENVELOPE) {
        return Ok(refused);
    }
    let client = client.ok_or_else(|| unauthorized("no client of the world's [pesaflow] clients has this key"))?;
    let expected = client.hash_key().secret;
    if !bool::from(expected.as_bytes().ct_eq(secret.as_bytes())) {
        return Err(unauthorized(format!(
            "the secret is not api client {}'s secret (the key is right)",
            client.api_client_id
        )));
    }
    let token = jwt(&client.api_client_id, now, expected.as_bytes());
    let ttl = i64::try_from(world.token_ttl_secs).unwrap_or(3599);
    let expires_at = now.checked_add_signed(Duration::seconds(ttl)).unwrap_or(now);
    app.tenants.grant(
        token.clone(),
        Grant {
            tenant: tenant.id.as_str().into(),
            provider: PROVIDER,
            subject: client.api_client_id.as_str().into(),
            expires_at,
        },
    );
    Ok(Json(TokenResponse { token, expiry: world.token_ttl_secs }).into_response())
}

/// `POST /api/invoice/create`.
pub(crate) async fn create(
    AxumState(app): AxumState<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    body: Result<RawBody, PesaflowError>,
) -> Result<Response, PesaflowError> {
    let header = headers.get(AUTHORIZATION).map(|v| v.as_bytes());
    let (grant, tenant) = bearer_grant::<Pesaflow>(&app, header, &ctx).map_err(|problem| {
        let why = match problem {
            TokenProblem::Header(p) => {
                format!("{p}; send `Authorization: Bearer <token>` from POST /api/oauth/generate/token")
            }
            TokenProblem::OtherProvider(_) => format!("{problem}, not Pesaflow"),
            other => other.to_string(),
        };
        unauthorized(why)
    })?;
    let now = tenant.now();
    let world = tenant.world_of::<Pesaflow>();
    checks::maintenance(&world, now, ENVELOPE)?;
    let params = body.map_err(in_envelope)?.params(ENVELOPE)?;
    if params.flag("send_stk").unwrap_or(false) {
        app.callbacks.admit(&tenant).await;
    }
    if let scenario::Gate::Refuse(refused) =
        scenario::gate(&tenant, &grant.subject, OPERATION_CREATE, &params, ENVELOPE)
    {
        return Ok(refused);
    }
    let request = InvoiceCreateRequest::parse(&params).map_err(|e| PesaflowError::field(ENVELOPE, &e, &params))?;
    let client = world
        .client(&grant.subject)
        .ok_or_else(|| unauthorized(format!("api client {} is no longer in the world", grant.subject)))?;
    let service = checks::invoice_create(&world, client, &request)?;
    let new = checks::created_invoice(&request, client, service);
    let msisdn = request.msisdn.as_deref().and_then(normalise_msisdn);
    let (invoice, prompted) = tenant.with::<Pesaflow, _>(|core, mine| {
        let number = mine.invoices.create(new, &mut core.ids, world.invoice_number_length, now).number().to_owned();
        let prompted = if request.send_stk {
            prompt::send_stk(core, mine, &number, msisdn.as_deref(), PromptOrigin::InvoiceCreate, now)
        } else {
            None
        };
        (mine.invoices.get(&number).cloned(), prompted)
    });
    let invoice = invoice.ok_or_else(|| {
        PesaflowError::new(ErrorKind::Internal, ENVELOPE, "the invoice was forgotten as soon as it was made")
    })?;
    let mut response = Json(CheckoutResponse::new(
        &invoice.number,
        &invoice_link(&app.base_url, &invoice.request_id),
        invoice.details.amount_net,
        invoice.details.commission,
    ))
    .into_response();
    let mut notes = Vec::new();
    match prompted {
        Some(Err(refusal)) => notes.push(format!("send_stk: no prompt was sent: {refusal}")),
        None if request.send_stk => {
            notes.push("send_stk: no prompt was sent: msisdn is not a Kenyan mobile number".to_owned())
        }
        _ => {}
    }
    let items_total = request.items_total();
    if !request.items.is_empty() && items_total != invoice.details.amount_net {
        notes.push(format!(
            "the items add up to {items_total}, the invoice bills {} (amount_net, or amount_expected without it)",
            invoice.details.amount_net
        ));
    }
    if !notes.is_empty() {
        response.extensions_mut().insert(Diagnosis(notes.join("; ")));
    }
    Ok(response)
}

/// A body the extractor refused, in the server-to-server envelope.
fn in_envelope(error: PesaflowError) -> PesaflowError {
    PesaflowError { envelope: ENVELOPE, ..error }
}
