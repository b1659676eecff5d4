//! `GET /api/invoice/payment/status?api_client_id&ref_no&secure_hash`: an
//! invoice's status, as test.pesaflow.com answers it; unknown invoices get
//! `404 {"error":"Invoice Not Found"}`.
//!
//! The guide's samples also send the fields as a JSON body (a GET with a
//! body, or a POST) to `/invoice/payment/status`; both are read, the query
//! string first. Whatever fell due on the tenant's clock is settled before
//! answering, so a poll never lags a payment.

use axum::extract::{RawQuery, State as AxumState};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::checks;
use super::error::{Envelope, ErrorKind, PesaflowError};
use super::extract::{Ctx, RawBody, Routed};
use super::notification::status_response;
use super::params::Params;
use super::scenario;
use super::wire::StatusQuery;
use super::{Pesaflow, UNPREFIXED_STATUS_PATH};
use crate::app_state::AppState;
use crate::crypto::secure_hash::Recipe;
use crate::scheduler::settle_due;

pub(crate) const OPERATION: &str = "status";

/// `GET` (or `POST`) of the status query.
pub(crate) async fn status(
    AxumState(app): AxumState<AppState>,
    uri: Uri,
    Ctx(ctx): Ctx,
    RawQuery(query): RawQuery,
    body: Result<RawBody, PesaflowError>,
) -> Result<Response, PesaflowError> {
    let mut params = Params::from_form(query.unwrap_or_default().as_bytes());
    params.fill_from(body?.params(Envelope::Error)?);
    let routed = Routed::new(&app, &ctx, params, "api_client_id", Envelope::Error)?;
    if uri.path() == UNPREFIXED_STATUS_PATH && !routed.world.paths.unprefixed_status {
        return Err(PesaflowError::new(
            ErrorKind::NotFound,
            Envelope::Error,
            "/invoice/payment/status is turned off by the world's [pesaflow.paths]; use /api/invoice/payment/status",
        ));
    }
    if let scenario::Gate::Refuse(refused) = routed.gate(OPERATION, Envelope::Error) {
        return Ok(refused);
    }
    let Routed { params, tenant, world, .. } = routed;
    let query = StatusQuery::parse(&params).map_err(|e| PesaflowError::field(Envelope::Error, &e, &params))?;
    checks::authenticate(
        &world,
        &query.api_client_id,
        Recipe::StatusQuery,
        &query.hash_values(),
        &query.secure_hash,
        "secure_hash",
        Envelope::Error,
    )?;
    settle_due(&app, &tenant).await;
    let answer = tenant.with::<Pesaflow, _>(|_, mine| {
        checks::find_invoice(&mine.world, &mine.invoices, &query.api_client_id, &query.ref_no).map(status_response)
    });
    let answer = answer.ok_or_else(|| {
        PesaflowError::new(
            ErrorKind::InvoiceNotFound,
            Envelope::Error,
            format!(
                "api client {} has no invoice {:?} (status_ref_no = {:?} in the world's [pesaflow] table)",
                query.api_client_id,
                query.ref_no,
                match world.status_ref_no {
                    super::world::StatusRefNo::InvoiceNumber => "invoice_number",
                    super::world::StatusRefNo::InvoiceNumberOrClientRef => "invoice_number_or_client_ref",
                }
            ),
        )
    })?;
    Ok(Json(answer).into_response())
}
