//! Banks and aggregators: `POST /api/payment/validate` checks that an invoice
//! exists before a payment is taken, `POST /api/payment/confirm` records a
//! payment taken elsewhere. Both are hash-checked and answer in the guide's
//! `{"status": n, "description": "…"}` envelope.
//!
//! A confirmation is idempotent by `gateway_transaction_id`: a repeat answers
//! success again and pays nothing. A recorded payment is funded from outside
//! mobile money into the service's collection account (when the ledger keeps
//! the invoice's currency) and notified like any other.

use axum::extract::State as AxumState;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::checks;
use super::error::{Envelope, ErrorKind, PesaflowError};
use super::extract::{Ctx, RawBody, Routed};
use super::invoice::Paid;
use super::scenario::Gate;
use super::wire::{ConfirmRequest, ConfirmResponse, ValidateRequest, ValidateResponse};
use super::{accounts, notify, Pesaflow};
use crate::app_state::AppState;
use crate::http::{Diagnosis, RequestContext};
use crate::ledger::Account;

pub(crate) const OPERATION_VALIDATE: &str = "validate";
pub(crate) const OPERATION_CONFIRM: &str = "confirm";

const ENVELOPE: Envelope = Envelope::StatusDescription;

/// `POST /api/payment/validate`.
pub(crate) async fn validate(
    AxumState(app): AxumState<AppState>,
    Ctx(ctx): Ctx,
    body: Result<RawBody, PesaflowError>,
) -> Result<Response, PesaflowError> {
    let Routed { params, tenant, .. } = match routed(&app, &ctx, body, OPERATION_VALIDATE)? {
        Ok(routed) => routed,
        Err(refused) => return Ok(refused),
    };
    let request = ValidateRequest::parse(&params).map_err(|e| PesaflowError::field(ENVELOPE, &e, &params))?;
    let answer = tenant.with::<Pesaflow, _>(|_, mine| {
        let invoice = checks::validate(&mine.world, &mine.invoices, &request)?;
        Ok::<_, PesaflowError>(ValidateResponse::found(
            invoice.balance(),
            &invoice.details.client_name,
            invoice.details.currency,
        ))
    })?;
    Ok(Json(answer).into_response())
}

/// `POST /api/payment/confirm`.
pub(crate) async fn confirm(
    AxumState(app): AxumState<AppState>,
    Ctx(ctx): Ctx,
    body: Result<RawBody, PesaflowError>,
) -> Result<Response, PesaflowError> {
    let Routed { params, tenant, now, .. } = match routed(&app, &ctx, body, OPERATION_CONFIRM)? {
        Ok(routed) => routed,
        Err(refused) => return Ok(refused),
    };
    app.callbacks.admit(&tenant).await;
    let request = ConfirmRequest::parse(&params).map_err(|e| PesaflowError::field(ENVELOPE, &e, &params))?;
    let diagnosis = tenant.with::<Pesaflow, _>(|core, mine| {
        let (number, payment) = checks::confirm(&mine.world, &mine.invoices, &request, now)?;
        let (amount, currency) = (payment.payment.amount, payment.currency);
        match mine.invoices.pay(&number, payment) {
            Ok(Paid::Recorded(receipt)) => {
                let service_id = mine.invoices.get(&number).map(|i| i.details.service_id.clone()).unwrap_or_default();
                if let Some(ledger_currency) = accounts::ledger_currency(currency) {
                    let details = format!(
                        "Pesaflow invoice {number} paid at a bank or aggregator, transaction {}",
                        request.gateway_transaction_id
                    );
                    // Money from outside mobile money cannot run short; an
                    // account the world did not open is only logged.
                    if let Err(e) = core.ledger.transfer(
                        &request.gateway_transaction_id,
                        &details,
                        now,
                        &Account::Outside(ledger_currency),
                        &accounts::collection(&service_id),
                        amount,
                    ) {
                        tracing::warn!(error = %e, "an aggregator payment could not post");
                    }
                }
                if receipt.notify {
                    notify::payment(core, mine, &number, now);
                }
                Ok(None)
            }
            Ok(Paid::Repeated(earlier)) => Ok(Some(format!(
                "gateway_transaction_id {} was already recorded on invoice {}: nothing was paid twice",
                earlier.reference, earlier.invoice_number
            ))),
            Err(refusal) => Err(PesaflowError::new(
                ErrorKind::Failed { message: "Failed" },
                ENVELOPE,
                format!("the payment was not recorded: {refusal}"),
            )),
        }
    })?;
    let mut response = Json(ConfirmResponse::SUCCESS).into_response();
    if let Some(diagnosis) = diagnosis {
        response.extensions_mut().insert(Diagnosis(diagnosis));
    }
    Ok(response)
}

/// An aggregator request routed by its `api_client_id`, past the maintenance
/// window and the gate (whose refusal is the inner `Err`).
fn routed(
    app: &AppState,
    ctx: &RequestContext,
    body: Result<RawBody, PesaflowError>,
    operation: &'static str,
) -> Result<Result<Routed, Response>, PesaflowError> {
    let params = body.map_err(in_envelope)?.params(ENVELOPE)?;
    let routed = Routed::new(app, ctx, params, "api_client_id", ENVELOPE)?;
    Ok(match routed.gate(operation, ENVELOPE) {
        Gate::Pass(_) => Ok(routed),
        Gate::Refuse(refused) => Err(refused),
    })
}

/// A body the extractor refused, in the aggregator envelope.
fn in_envelope(error: PesaflowError) -> PesaflowError {
    PesaflowError { envelope: ENVELOPE, ..error }
}
