//! Safaricom Daraja (M-Pesa Kenya).
//!
//! Endpoints:
//! * `GET  /oauth/v1/generate?grant_type=client_credentials`: access tokens ([`oauth`]).
//! * `POST /mpesa/stkpush/v1/processrequest`, `/mpesa/stkpushquery/v1/query`: M-Pesa Express ([`stk`]).
//! * `POST /mpesa/c2b/v{1,2}/registerurl`, `/simulate`: C2B ([`c2b`]).
//! * `POST /mpesa/b2c/...`, `/mpesa/b2b/...`, `/mpesa/reversal/...`, `/mpesa/transactionstatus/...`,
//!   `/mpesa/accountbalance/...`: the APIs answered through `ResultURL` ([`requests`]).
//! * `POST /pulltransactions/v1/register`, `/query`: Pull Transactions ([`pull`]).
//! * `POST /mpesa/qrcode/v1/generate`: Dynamic QR ([`qr`]).
//!
//! Admin views under `/__sandbox/daraja/` (and, as aliases, at the admin
//! root): operators and rotations, answering prompts, a customer paying
//! from the phone, statements ([`admin`], [`statement`]).
//!
//! This module owns Daraja's wire types ([`wire`]) and the golden shapes
//! they follow ([`shapes`]), its error envelope ([`error`]), its API
//! products ([`products`]), its identifier formats ([`ids`]), its part of
//! the world ([`world`]) and its per-tenant state ([`State`]). It shares the ledger,
//! clock, store, scenarios and callback engine with other providers through
//! the core, and never imports another provider.

pub(crate) mod admin;
pub(crate) mod c2b;
pub mod credentials;
pub(crate) mod error;
pub(crate) mod extract;
pub(crate) mod ids;
pub mod keys;
pub(crate) mod oauth;
pub(crate) mod operators;
pub(crate) mod organisations;
pub(crate) mod products;
pub(crate) mod pull;
pub(crate) mod qr;
pub(crate) mod records;
pub(crate) mod requests;
pub(crate) mod results;
pub(crate) mod scenario;
pub mod shapes;
pub(crate) mod statement;
pub(crate) mod stk;
pub(crate) mod wire;
pub(crate) mod world;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use secrecy::SecretString;

pub use credentials::DarajaCredentials;
pub use error::{DarajaError, ErrorKind};
pub(crate) use stk::{answer, AnswerError};
pub use world::World;

use crate::app_state::AppState;
use crate::callbacks::Reply;
use crate::crypto::credential::CredentialCache;
use crate::crypto::keys::KeyPair;
use crate::http::WireError;
use crate::ids::IdGen;
use crate::ledger::{Account, Money, OrgAccount};
use crate::markets::{Currency, Market};
use crate::provider::{CredentialContext, Provider, Refusal, TransactionRow, VariantSpec};
use crate::store::Core;

pub const PROVIDER: &str = "daraja";

/// The provider.
pub struct Daraja;

/// Daraja's per-tenant state.
#[derive(Debug)]
pub struct State {
    /// Daraja's part of the tenant's world (credentials rotated since start included).
    pub world: Arc<World>,
    pub stk: stk::StkState,
    pub operators: BTreeMap<String, operators::Operator>,
    pub requests: requests::Requests,
    pub records: records::Records,
    pub c2b: c2b::C2bState,
    pub pull: pull::PullState,
}

/// Daraja events on a tenant's timeline.
#[derive(Debug)]
pub enum Due {
    SettleStk { checkout_request_id: Arc<str> },
    SettleRequest { conversation_id: String },
    C2bArrive { trans_id: String },
}

/// Daraja's sandbox-wide resources.
pub struct Shared {
    /// The key pair behind the published test certificate.
    pub keys: KeyPair,
    /// Decrypted SecurityCredentials by ciphertext digest, shared by tenants.
    pub credential_cache: CredentialCache,
}

impl Provider for Daraja {
    const NAME: &'static str = PROVIDER;
    const PREFIXES: &'static [&'static str] = &["/oauth/v1", "/mpesa", "/pulltransactions"];
    const OPERATIONS: &'static [&'static str] = &[
        oauth::OPERATION,
        stk::OPERATION_PUSH,
        stk::OPERATION_QUERY,
        c2b::OPERATION_REGISTER,
        c2b::OPERATION_SIMULATE,
        c2b::OPERATION_PAYMENT,
        "b2c",
        "b2pochi",
        "b2b",
        "tax_remittance",
        "reversal",
        "transaction_status",
        "account_balance",
        pull::OPERATION_REGISTER,
        pull::OPERATION_QUERY,
        qr::OPERATION,
    ];
    const VARIANTS: &'static [VariantSpec] = scenario::VARIANTS;
    const DEFAULT_SCENARIO: Option<&'static str> = Some(include_str!("../../scenarios/default.toml"));

    type World = World;
    type State = State;
    type Due = Due;
    type Shared = Shared;
    type Credentials = DarajaCredentials;

    fn shared() -> Result<Shared, String> {
        let keys = keys::pair().map_err(|e| format!("the committed test keys do not load: {e}"))?;
        Ok(Shared { keys, credential_cache: CredentialCache::new(10_000) })
    }

    fn new_state(core: &mut Core, world: Arc<World>) -> State {
        for sc in world.shortcodes.values() {
            accounts::open(core, sc);
        }
        let now = core.opened_at();
        State {
            operators: operators::from_world(&world, now),
            world,
            stk: stk::StkState::default(),
            requests: requests::Requests::default(),
            records: records::Records::default(),
            c2b: c2b::C2bState::default(),
            pull: pull::PullState::default(),
        }
    }

    fn world(state: &State) -> &Arc<World> {
        &state.world
    }

    fn routing_keys(world: &World) -> Vec<String> {
        world.apps.iter().map(|a| a.consumer_key.clone()).collect()
    }

    fn fresh_credentials(world: &mut World, defaults: &World, ids: &mut IdGen) {
        for app in &mut world.apps {
            if defaults.app_by_key(&app.consumer_key).is_some() {
                app.consumer_key = ids.alnum(48);
                app.consumer_secret = SecretString::from(ids.alnum(64));
            }
        }
    }

    fn on_due(core: &mut Core, mine: &mut State, due: Due, at: DateTime<Utc>) {
        match due {
            Due::SettleStk { checkout_request_id } => stk::settle(core, mine, &checkout_request_id, at),
            Due::SettleRequest { conversation_id } => requests::settle(core, mine, &conversation_id, at),
            Due::C2bArrive { trans_id } => c2b::arrive(core, mine, &trans_id, at),
        }
    }

    /// Only C2B validation answers matter to Daraja.
    fn on_reply(core: &mut Core, mine: &mut State, key: &str, reply: &Reply, at: DateTime<Utc>) {
        c2b::on_validation_reply(core, mine, key, reply, at);
    }

    fn routes() -> Router<AppState> {
        Router::new()
            .route("/oauth/v1/generate", get(oauth::generate))
            .route("/mpesa/stkpush/v1/processrequest", post(stk::push))
            .route("/mpesa/stkpushquery/v1/query", post(stk::query))
            .route("/mpesa/c2b/v1/registerurl", post(c2b::register_v1))
            .route("/mpesa/c2b/v2/registerurl", post(c2b::register_v2))
            .route("/mpesa/c2b/v1/simulate", post(c2b::simulate_v1))
            .route("/mpesa/c2b/v2/simulate", post(c2b::simulate_v2))
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

    fn admin_routes() -> Router<AppState> {
        admin::routes()
    }

    fn bare_error(status: StatusCode) -> Arc<dyn WireError> {
        let (kind, why) = match status {
            StatusCode::NOT_FOUND => (ErrorKind::ResourceNotFound, "no Daraja API at this path"),
            StatusCode::METHOD_NOT_ALLOWED => (
                ErrorKind::MethodNotAllowed,
                "this API exists but not for this method (all M-Pesa APIs are POST, the token API is GET)",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => {
                (ErrorKind::PayloadTooLarge, "the request body is larger than the sandbox accepts")
            }
            StatusCode::REQUEST_TIMEOUT => {
                (ErrorKind::Internal, "the request took longer than the sandbox's request timeout")
            }
            _ => (ErrorKind::Internal, "the router refused the request"),
        };
        Arc::new(DarajaError::new(kind, why))
    }

    fn refuse(refusal: Refusal<'_>) -> Response {
        scenario::refusal(refusal).into_response()
    }

    fn transactions(mine: &State, out: &mut Vec<TransactionRow>) {
        admin::transactions(mine, out);
    }

    fn credentials(ctx: &CredentialContext<'_>, shared: &Shared, _core: &Core, mine: &State) -> DarajaCredentials {
        credentials::of(ctx, shared, mine)
    }
}

/// Daraja's ledger accounts: Kenyan customers and the shortcodes' accounts.
pub mod accounts {
    use super::*;

    pub fn customer(msisdn: &str) -> Account {
        Account::customer(Market::Kenya, msisdn)
    }

    pub fn org(shortcode: &str, account: OrgAccount) -> Account {
        Account::org(PROVIDER, shortcode, account)
    }

    pub fn utility(shortcode: &str) -> Account {
        org(shortcode, OrgAccount::Utility)
    }

    /// Opens a shortcode's utility, working and charges-paid accounts with their opening balances.
    pub(crate) fn open(core: &mut Core, sc: &world::Shortcode) {
        core.ledger.open(utility(&sc.number), Currency::Kes, sc.opening_balance);
        core.ledger.open(org(&sc.number, OrgAccount::Working), Currency::Kes, sc.opening_working_balance);
        core.ledger.open(org(&sc.number, OrgAccount::ChargesPaid), Currency::Kes, Money(0));
    }
}
