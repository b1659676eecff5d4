//! The seam between the core and the providers: what a provider is.
//!
//! A provider (Daraja, ...) is a folder of its own that implements
//! [`Provider`]: its name and the paths it owns, its scenario vocabulary,
//! its part of the world, its per-tenant state, the events it puts on a
//! tenant's timeline, its routes and admin views, its envelope for errors
//! the router raises and for refusals the gate decides, its credentials and
//! transactions for the admin API.
//!
//! The trait is used statically: the registry (`crate::providers`) names
//! every provider once, composes their parts into closed types (`States`,
//! `Due`, `World`, ...) and dispatches with exhaustive `match`es, so adding
//! a provider is a new folder plus entries there, and the compiler points at
//! anything forgotten. [`Registered`] is how the core reaches one provider's
//! part of those composed types; the registry implements it.
//!
//! **Invariant:** the core names no provider; a provider names no other
//! provider and never the registry. A provider's code gets the tenant's
//! [`Core`] and its own state, under the tenant's one lock.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use axum::Router;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::app_state::AppState;
use crate::callbacks::Reply;
use crate::http::WireError;
use crate::ids::IdGen;
use crate::providers::{Due, ProviderId, Shared, States, World};
use crate::scenarios::LimitError;
use crate::store::Core;

/// A payload variant a provider's scenario rules may ask for: its key in
/// `[rules.variants]` and the values it takes (`true`/`false` for a switch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VariantSpec {
    pub key: &'static str,
    pub values: &'static [&'static str],
    pub doc: &'static str,
}

impl VariantSpec {
    pub const fn switch(key: &'static str, doc: &'static str) -> VariantSpec {
        VariantSpec { key, values: &["true", "false"], doc }
    }
}

/// Why the gate refuses a request, for the provider to render in its envelope.
#[derive(Debug, Clone)]
pub enum Refusal<'a> {
    /// A token bucket is empty.
    RateLimited { limit: LimitError, why: String },
    /// A scenario rule scripts an error answer: a named error
    /// (`spike_arrest`, `system_busy`, `quota_violation`, `internal_error`),
    /// a raw code of the provider (`500.003.02`, `INS-9`), or only a status.
    Scripted { error: Option<&'a str>, message: Option<&'a str>, status: Option<StatusCode>, why: String },
}

/// One transaction in the admin API's list (`GET /__sandbox/transactions`).
/// `row` is a JSON object with at least `provider`, `kind`, `id` and
/// `status`, plus `msisdn` when a subscriber is involved; `ids` are every
/// identifier the transaction answers to in `?id=` (its id, the ids the
/// provider gave it, its receipt).
#[derive(Debug, Clone)]
pub struct TransactionRow {
    pub at: DateTime<Utc>,
    pub ids: Vec<String>,
    pub row: Value,
}

/// Where a tenant's credentials document points.
#[derive(Debug, Clone)]
pub struct CredentialContext<'a> {
    pub base_url: &'a str,
    /// `{base_url}/__sandbox` or `{base_url}/__sandbox/tenants/{id}`.
    pub admin_url: &'a str,
}

/// What a provider is. See the module documentation.
pub trait Provider: Sized + 'static {
    /// The provider's name in journals, scenario files and admin paths.
    const NAME: &'static str;
    /// Path prefixes this provider owns on the one port; the longest prefix
    /// of a path decides its owner, and no two providers claim the same one.
    const PREFIXES: &'static [&'static str];
    /// The operations its requests report to the scenario engine.
    const OPERATIONS: &'static [&'static str];
    /// The payload variants its scenario rules may ask for.
    const VARIANTS: &'static [VariantSpec];
    /// Named errors its scenario rules' `fault.error` may choose, besides the
    /// common ones every provider renders (`spike_arrest`, `system_busy`,
    /// `quota_violation`, `internal_error`) and raw error codes with a `.` or
    /// `-` (an OAuth code such as `temporarily_unavailable` needs naming here).
    /// A rule naming another provider may not use them.
    const FAULTS: &'static [&'static str] = &[];
    /// Its built-in default scenario (TOML), evaluated after a tenant's
    /// loaded scenarios: the test values that produce each outcome.
    const DEFAULT_SCENARIO: Option<&'static str>;

    /// Its resolved part of the world.
    type World: std::fmt::Debug + Clone + Send + Sync + 'static;
    /// Its per-tenant state (transactions, sessions, records, ...).
    type State: std::fmt::Debug + Send + 'static;
    /// Its events on a tenant's timeline.
    type Due: std::fmt::Debug + Send + 'static;
    /// Sandbox-wide resources (keys, caches), built once at start.
    type Shared: Send + Sync + 'static;
    /// Its section of the credentials document.
    type Credentials: Serialize + Clone + std::fmt::Debug + Send + Sync + 'static;

    fn shared() -> Result<Self::Shared, String>;

    /// A fresh state over its world; opens its ledger accounts in `core`.
    fn new_state(core: &mut Core, world: Arc<Self::World>) -> Self::State;
    /// The world a state was made from (kept across resets).
    fn world(state: &Self::State) -> &Arc<Self::World>;

    /// Credentials that identify a tenant (consumer keys, client ids).
    fn routing_keys(world: &Self::World) -> Vec<String>;
    /// Gives a new tenant's copy of the default world's credentials fresh
    /// values, so its requests find it rather than the default tenant.
    fn fresh_credentials(world: &mut Self::World, defaults: &Self::World, ids: &mut IdGen);

    /// Acts on one of its events when it falls due.
    fn on_due(core: &mut Core, mine: &mut Self::State, due: Self::Due, at: DateTime<Utc>);
    /// Acts on a receiver's answer to one of its callbacks that asked for it.
    fn on_reply(core: &mut Core, mine: &mut Self::State, key: &str, reply: &Reply, at: DateTime<Utc>);

    /// Its API on the public port.
    fn routes() -> Router<AppState>;
    /// Its admin views, mounted under `/__sandbox/{NAME}` for each tenant.
    fn admin_routes() -> Router<AppState>;

    /// Its envelope for an error the router raised on one of its paths
    /// (unknown path 404, method 405, body too large 413, timeout 408).
    fn bare_error(status: StatusCode) -> Arc<dyn WireError>;
    /// Its answer for a request the gate refuses.
    fn refuse(refusal: Refusal<'_>) -> Response;

    /// Its transactions, for the admin API.
    fn transactions(mine: &Self::State, out: &mut Vec<TransactionRow>);
    /// Its section of a tenant's credentials document.
    fn credentials(
        ctx: &CredentialContext<'_>,
        shared: &Self::Shared,
        core: &Core,
        mine: &Self::State,
    ) -> Self::Credentials;
}

/// How the core reaches one provider's part of the registry's composed
/// types. Implemented by the registry for every provider.
pub trait Registered: Provider {
    const ID: ProviderId;
    fn state(states: &States) -> &Self::State;
    fn state_mut(states: &mut States) -> &mut Self::State;
    fn due(due: Self::Due) -> Due;
    fn shared_part(shared: &Shared) -> &Self::Shared;
    fn world_part(world: &World) -> &Arc<Self::World>;
}
