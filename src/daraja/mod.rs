//! Safaricom Daraja (M-Pesa Kenya).
//!
//! Endpoints:
//! * `GET  /oauth/v1/generate?grant_type=client_credentials`: access tokens ([`oauth`]).
//! * `POST /mpesa/stkpush/v1/processrequest`: M-Pesa Express ([`stk`]).
//! * `POST /mpesa/stkpushquery/v1/query`: M-Pesa Express query ([`stk`]).
//! * `POST /pulltransactions/v1/register`, `/query`: Pull Transactions ([`pull`]).
//! * `POST /mpesa/qrcode/v1/generate`: Dynamic QR ([`qr`]).
//!
//! This module owns Daraja's wire types ([`wire`]), its error envelope
//! ([`error`]), its identifier formats ([`ids`]) and its per-tenant state
//! ([`State`]). It shares the ledger, clock, store, scenarios and callback
//! engine with other providers, and never imports another provider.

pub mod c2b;
pub mod error;
pub mod extract;
pub mod ids;
pub mod oauth;
pub mod operators;
pub mod pull;
pub mod qr;
pub mod records;
pub mod requests;
pub mod results;
pub mod scenario;
pub mod stk;
pub mod wire;

use axum::routing::{get, post};
use axum::Router;

pub use error::{DarajaError, ErrorKind};
pub use stk::{answer, Answer, AnswerError};

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::app::AppState;
use crate::store::TenantState;
use crate::world::World;

pub const PROVIDER: &str = "daraja";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/oauth/v1/generate", get(oauth::generate))
        .route("/mpesa/stkpush/v1/processrequest", post(stk::push))
        .route("/mpesa/stkpushquery/v1/query", post(stk::query))
        .route("/mpesa/c2b/v1/registerurl", post(c2b::register_v1))
        .route("/mpesa/c2b/v2/registerurl", post(c2b::register_v2))
        .route("/mpesa/c2b/v1/simulate", post(c2b::simulate))
        .route("/mpesa/c2b/v2/simulate", post(c2b::simulate))
        .route("/mpesa/b2c/v1/paymentrequest", post(requests::b2c_v1))
        .route("/mpesa/b2c/v3/paymentrequest", post(requests::b2c_v3))
        .route("/mpesa/b2pochi/v1/paymentrequest", post(requests::b2pochi))
        .route("/mpesa/b2b/v1/paymentrequest", post(requests::b2b))
        .route("/mpesa/b2b/v1/remittax", post(requests::remit_tax))
        .route("/mpesa/reversal/v1/request", post(requests::reversal))
        .route("/mpesa/transactionstatus/v1/query", post(requests::transaction_status))
        .route("/mpesa/accountbalance/v1/query", post(requests::account_balance))
        .route("/pulltransactions/v1/register", post(pull::register))
        .route("/pulltransactions/v1/query", post(pull::query))
        .route("/mpesa/qrcode/v1/generate", post(qr::generate))
}

/// Daraja's per-tenant state.
#[derive(Debug)]
pub struct State {
    pub stk: stk::StkState,
    pub operators: BTreeMap<String, operators::Operator>,
    pub requests: requests::Requests,
    pub records: records::Records,
    pub c2b: c2b::C2bState,
    pub pull: pull::PullState,
}

impl State {
    pub fn new(world: &World, now: DateTime<Utc>) -> State {
        State {
            stk: stk::StkState::default(),
            operators: operators::from_world(world, now),
            requests: requests::Requests::default(),
            records: records::Records::default(),
            c2b: c2b::C2bState::default(),
            pull: pull::PullState::default(),
        }
    }
}

/// Daraja events on a tenant's timeline.
#[derive(Debug)]
pub enum Due {
    SettleStk { checkout_request_id: String },
    SettleRequest { conversation_id: String },
    C2bArrive { trans_id: String },
}

/// Acts on a due Daraja event.
pub fn on_due(state: &mut TenantState, due: Due, at: DateTime<Utc>) {
    match due {
        Due::SettleStk { checkout_request_id } => stk::settle(state, &checkout_request_id, at),
        Due::SettleRequest { conversation_id } => requests::settle(state, &conversation_id, at),
        Due::C2bArrive { trans_id } => c2b::arrive(state, &trans_id, at),
    }
}

/// Acts on a receiver's answer: today only C2B validation answers matter.
pub fn on_reply(state: &mut TenantState, key: &str, reply: &crate::callbacks::Reply, at: DateTime<Utc>) {
    c2b::on_validation_reply(state, key, reply, at);
}
