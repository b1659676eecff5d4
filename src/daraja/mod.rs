//! Safaricom Daraja (M-Pesa Kenya).
//!
//! Endpoints:
//! * `GET  /oauth/v1/generate?grant_type=client_credentials`: access tokens ([`oauth`]).
//! * `POST /mpesa/stkpush/v1/processrequest`: M-Pesa Express ([`stk`]).
//! * `POST /mpesa/stkpushquery/v1/query`: M-Pesa Express query ([`stk`]).
//!
//! This module owns Daraja's wire types ([`wire`]), its error envelope
//! ([`error`]), its identifier formats ([`ids`]) and its per-tenant state
//! ([`State`]). It shares the ledger, clock, store, scenarios and callback
//! engine with other providers, and never imports another provider.

pub mod error;
pub mod extract;
pub mod ids;
pub mod oauth;
pub mod results;
pub mod scenario;
pub mod stk;
pub mod wire;

use axum::routing::{get, post};
use axum::Router;

pub use error::{DarajaError, ErrorKind};
pub use stk::{answer, on_due, Answer, AnswerError, Due, State};

use crate::app::AppState;

pub const PROVIDER: &str = "daraja";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/oauth/v1/generate", get(oauth::generate))
        .route("/mpesa/stkpush/v1/processrequest", post(stk::push))
        .route("/mpesa/stkpushquery/v1/query", post(stk::query))
}
