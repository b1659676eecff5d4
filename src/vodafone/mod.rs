//! Vodafone / Vodacom M-Pesa: the `vodafone` provider.
//!
//! Two profiles share this provider, its keys, its INS codes and its ledger:
//! * `portal`: the Vodacom Mozambique M-Pesa Payments Gateway of the seed
//!   (`developer.mpesa.vm.co.mz`): `/ipg/v1x/{api}/`, one port per API on the
//!   real host, `Authorization: Bearer base64(RSA(api key))` on every call.
//! * `openapi`: the multi-market M-Pesa OpenAPI (`openapi.m-pesa.com`):
//!   `/{sandbox|openapi}/ipg/v2/{market}/{api}/`, a `getSession` step, then
//!   `Authorization: Bearer base64(RSA(session id))`.
//!
//! Endpoints (every path also without its trailing slash):
//! * portal: `POST /ipg/v1x/c2bPayment/singleStage/`, `POST /ipg/v1x/b2cPayment/`,
//!   `POST /ipg/v1x/b2bPayment/`, `PUT /ipg/v1x/reversal/`,
//!   `GET /ipg/v1x/queryTransactionStatus/`;
//! * OpenAPI, under `/{sandbox|openapi}/ipg/v2/{market}/`: `GET getSession/`,
//!   `POST c2bPayment/singleStage/`, `POST b2cPayment/`, `POST b2bPayment/`,
//!   `PUT reversal/`, `GET queryTransactionStatus/`, `POST directDebitCreation/`,
//!   `POST directDebitPayment/`, `GET queryDirectDebit/`, `PUT directDebitCancel/`,
//!   `GET queryBeneficiaryName/`.
//!
//! Admin views under `/__sandbox/vodafone/` ([`admin`]): the public key,
//! accounts (Asynchronous Response URL, renewing the API key, activation),
//! applications, sessions, mandates and reports.
//!
//! The pure layer (no I/O, no clock, no randomness of its own): keys
//! ([`keys`]), bearer decoding ([`bearer`]), the INS code tables ([`codes`]),
//! the error envelope ([`error`]), the request parsers and wire bodies
//! ([`portal`], [`openapi`], [`direct_debit`], [`fields`], [`wire`]), the
//! markets ([`markets`]), the identifier formats ([`ids`]) and the
//! `[vodafone]` world table ([`world`]). The handling: the request pipeline
//! ([`handler`], [`auth`], [`scenario`]), sessions ([`sessions`]), the money
//! APIs and settlement ([`payments`], [`limits`]), queries ([`queries`]),
//! direct debits ([`mandates`]), and the per-tenant state ([`state`]).
//!
//! **Invariant:** no function here panics on request, world or scenario
//! data; every refusal is a typed value in the provider's envelope.
//! **Invariant:** bearers are decrypted before any tenant lock is taken.

pub(crate) mod admin;
pub(crate) mod api;
pub(crate) mod auth;
pub(crate) mod bearer;
pub(crate) mod codes;
pub mod credentials;
pub(crate) mod direct_debit;
pub(crate) mod error;
pub(crate) mod fields;
pub(crate) mod handler;
pub(crate) mod ids;
pub(crate) mod keys;
pub(crate) mod limits;
pub(crate) mod mandates;
pub(crate) mod markets;
pub(crate) mod openapi;
pub(crate) mod payments;
pub(crate) mod portal;
pub(crate) mod queries;
pub(crate) mod scenario;
pub(crate) mod sessions;
pub(crate) mod state;
pub(crate) mod wire;
pub mod world;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::any;
use axum::Router;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

pub use credentials::VodafoneCredentials;

use crate::app_state::AppState;
use crate::callbacks::Reply;
use crate::http::WireError;
use crate::ids::IdGen;
use crate::provider::{CredentialContext, Provider, Refusal, TransactionRow, VariantSpec};
use crate::store::Core;

/// The provider.
pub(crate) struct Vodafone;

pub(crate) use auth::Shared;
pub(crate) use state::State;
pub use world::World;

/// The provider's events on a tenant's timeline.
#[derive(Debug)]
pub enum Due {
    /// An asynchronous request's result is due.
    Settle { conversation_id: String },
}

impl Provider for Vodafone {
    const NAME: &'static str = PROVIDER;
    const PREFIXES: &'static [&'static str] = &["/ipg", "/sandbox/ipg", "/openapi/ipg"];
    const OPERATIONS: &'static [&'static str] = OPERATIONS;
    const VARIANTS: &'static [VariantSpec] = scenario::VARIANTS;
    const DEFAULT_SCENARIO: Option<&'static str> = Some(DEFAULT_SCENARIO_TOML);

    type World = World;
    type State = State;
    type Due = Due;
    type Shared = Shared;
    type Credentials = VodafoneCredentials;

    fn shared() -> Result<Shared, String> {
        Shared::load()
    }

    fn new_state(core: &mut Core, world: Arc<World>) -> State {
        for org in &world.organisations {
            core.ledger.open(accounts::org(org.market, &org.code), org.market.ledger_currency(), org.opening_balance);
        }
        State::new(world)
    }

    fn world(state: &State) -> &Arc<World> {
        &state.world
    }

    fn routing_keys(world: &World) -> Vec<String> {
        let accounts = world.accounts.iter().map(|a| a.api_key.expose_secret().to_owned());
        accounts.chain(world.apps.iter().map(|a| a.api_key.expose_secret().to_owned())).collect()
    }

    fn fresh_credentials(world: &mut World, defaults: &World, ids: &mut IdGen) {
        let taken = |key: &SecretString| {
            defaults.account_by_key(key.expose_secret()).is_some() || defaults.app_by_key(key.expose_secret()).is_some()
        };
        for account in &mut world.accounts {
            if taken(&account.api_key) {
                account.api_key = SecretString::from(new_api_key(ids));
            }
        }
        for app in &mut world.apps {
            if taken(&app.api_key) {
                app.api_key = SecretString::from(new_api_key(ids));
            }
        }
    }

    fn on_due(core: &mut Core, mine: &mut State, due: Due, at: DateTime<Utc>) {
        match due {
            Due::Settle { conversation_id } => payments::settle(core, mine, &conversation_id, at),
        }
    }

    fn on_reply(core: &mut Core, mine: &mut State, key: &str, reply: &Reply, _at: DateTime<Utc>) {
        payments::on_reply(core, mine, key, reply);
    }

    fn routes() -> Router<AppState> {
        Router::new()
            .route("/ipg/{*rest}", any(handler::serve))
            .route("/sandbox/ipg/{*rest}", any(handler::serve))
            .route("/openapi/ipg/{*rest}", any(handler::serve))
    }

    fn admin_routes() -> Router<AppState> {
        admin::routes()
    }

    fn bare_error(status: StatusCode) -> Arc<dyn WireError> {
        Arc::new(error::VodafoneError::bare(None, status))
    }

    fn refuse(refusal: Refusal<'_>) -> Response {
        scenario::refusal(refusal)
    }

    fn transactions(mine: &State, out: &mut Vec<TransactionRow>) {
        admin::transactions(mine, out);
    }

    fn credentials(ctx: &CredentialContext<'_>, shared: &Shared, _core: &Core, mine: &State) -> VodafoneCredentials {
        credentials::of(ctx, shared, mine)
    }
}

/// A new 32-character API key, as the portal issues them (lower case).
pub(crate) fn new_api_key(ids: &mut IdGen) -> String {
    ids.alnum(32).to_ascii_lowercase()
}

/// The provider's ledger accounts: customers' wallets by market, and the
/// service providers' accounts, one per code and market (a code such as the
/// OpenAPI's `000000` exists in every market, each in its currency).
pub(crate) mod accounts {
    use crate::ledger::{Account, OrgAccount};

    use super::markets::Market;

    pub(crate) fn customer(market: Market, msisdn: &str) -> Account {
        Account::customer(market.core(), msisdn)
    }

    /// `MOZ:171717`: the admin API's `shortcode` for this account.
    pub(crate) fn org(market: Market, code: &str) -> Account {
        Account::org(super::PROVIDER, &org_id(market, code), OrgAccount::Utility)
    }

    pub(crate) fn org_id(market: Market, code: &str) -> String {
        format!("{}:{code}", market.country())
    }
}

/// The provider's name: journals, scenario files, `/__sandbox/vodafone/...`.
pub(crate) const PROVIDER: &str = "vodafone";

/// The scenario vocabulary (`when.operation`); both profiles share it, so a
/// rule about `c2b_payment` applies to the portal and to the OpenAPI alike.
pub(crate) const OPERATIONS: &[&str] = &[
    "get_session",
    "c2b_payment",
    "b2c_payment",
    "b2b_payment",
    "reversal",
    "query_transaction_status",
    "direct_debit_create",
    "direct_debit_payment",
    "query_direct_debit",
    "direct_debit_cancel",
    "query_beneficiary_name",
];

/// The default scenario: the OpenAPI sandbox's fixed trigger values and the
/// portal's test MSISDNs (the file's comments hold the table). It uses the
/// core scenario format with `provider = "vodafone"` and [`OPERATIONS`].
pub(crate) const DEFAULT_SCENARIO_TOML: &str = include_str!("default-scenario.toml");

/// The embedded default `[vodafone]` world table.
pub(crate) const DEFAULT_WORLD_TOML: &str = include_str!("default.toml");

/// The OpenAPI sandbox's query reference whose transaction reads as reversed
/// (`output_Reversed` `True`); every other successful status query reads as
/// not reversed. The scenario format has no field for this, so it is data here.
pub(crate) const SANDBOX_REVERSED_QUERY_REFERENCE: &str = "000000000000000000001";

/// The OpenAPI sandbox's Query Direct Debit answers by `input_CustomerMSISDN`:
/// `output_AccountStatus` (every other customer is `Active`).
pub(crate) const SANDBOX_ACCOUNT_STATUS: &[(&str, &str)] = &[
    ("000000000001", "Active"),
    ("000000000002", "Pending Approval"),
    ("000000000003", "Locked"),
    ("000000000004", "Inactive"),
];

/// ... and by `input_MandateID`: `output_MandateStatus`.
pub(crate) const SANDBOX_MANDATE_STATUS: &[(&str, &str)] =
    &[("000001", "Active"), ("000002", "Pending Approval"), ("000003", "Cancelled"), ("000004", "Expired")];

/// ... and the balance the sandbox's test customers hold for
/// `input_QueryBalanceAmount`: `600` reads as insufficient, `100` as sufficient.
pub(crate) const SANDBOX_BALANCE_THRESHOLD: crate::ledger::Money = crate::ledger::Money(50_000);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vodafone::api::Api;

    #[test]
    fn every_api_names_an_operation_of_the_vocabulary() {
        for api in Api::ALL {
            assert!(OPERATIONS.contains(&api.operation()), "{api:?}");
        }
        assert_eq!(OPERATIONS.len(), Api::ALL.len());
    }

    #[test]
    fn the_default_scenario_speaks_only_this_providers_vocabulary_and_codes() {
        use crate::scenarios::doc::{ResultCodeDoc, ScenarioDoc};
        use crate::vodafone::api::Profile;
        use crate::vodafone::codes::{self, Ins};
        let doc: ScenarioDoc = toml::from_str(DEFAULT_SCENARIO_TOML).expect("the scenario format reads it");
        assert!(doc.rules.len() > 60);
        for rule in &doc.rules {
            let name = rule.name.clone().unwrap_or_default();
            let provider = rule.when.provider.as_ref().map(|p| p.get_ref().as_str());
            assert_eq!(provider, Some(PROVIDER), "{name}");
            let operations = rule.when.operation.as_ref().map(|o| o.get_ref().clone().into_vec()).unwrap_or_default();
            assert!(!operations.is_empty() && operations.iter().all(|o| OPERATIONS.contains(&o.as_str())), "{name}");
            let code = match rule.outcome.as_ref().map(|o| &o.result_code) {
                Some(ResultCodeDoc::Text(code)) => Ins::parse(code),
                _ => None,
            };
            let listed = code.is_some_and(|c| {
                codes::listed(Profile::OpenApi).contains(&c) || codes::listed(Profile::Portal).contains(&c)
            });
            assert!(listed, "{name}: every outcome is a listed INS code");
        }
    }

    #[test]
    fn the_sandbox_balance_threshold_splits_the_matrix_values() {
        assert!(crate::ledger::Money(60_000) > SANDBOX_BALANCE_THRESHOLD);
        assert!(crate::ledger::Money(10_000) <= SANDBOX_BALANCE_THRESHOLD);
    }
}
