//! The registry: the one file that names every provider.
//!
//! It composes each provider's parts (see [`crate::provider::Provider`])
//! into closed types the core can hold: [`ProviderId`], the per-tenant
//! [`States`], the timeline's [`Due`] events, the sandbox-wide [`Shared`]
//! resources, the [`World`] and its document [`WorldDoc`], and the
//! [`Credentials`] document; and it dispatches to the owning provider with
//! exhaustive `match`es, so a provider added here and forgotten somewhere
//! does not compile.
//!
//! Adding a provider: a folder `src/<name>/` implementing `Provider`, then
//! one entry in each list below (search for `Daraja`). ARCHITECTURE.md has
//! the recipe.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::Router;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::admin::{AdminError, CallbackCredentials};
use crate::app_state::AppState;
use crate::callbacks::Reply;
use crate::daraja::{self, Daraja};
use crate::ecitizen::{self, Ecitizen};
use crate::http::WireError;
use crate::ids::IdGen;
use crate::pesaflow::{self, Pesaflow};
use crate::provider::{CredentialContext, Provider, Registered, TransactionRow, VariantSpec};
use crate::scenarios::doc::RateLimitDoc;
use crate::store::{Core, Tenant};
use crate::vodafone::{self, Vodafone};
use crate::world::{CallbackSettingsDoc, Common, CommonDoc, CustomerDefaultsDoc, CustomerDoc, WorldError};

// ---------------------------------------------------------------------------
// Identity

/// Every provider served on the port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderId {
    Daraja,
    Vodafone,
    Pesaflow,
    Ecitizen,
}

impl ProviderId {
    pub const ALL: [ProviderId; 4] =
        [ProviderId::Daraja, ProviderId::Vodafone, ProviderId::Pesaflow, ProviderId::Ecitizen];

    pub fn name(self) -> &'static str {
        match self {
            ProviderId::Daraja => Daraja::NAME,
            ProviderId::Vodafone => Vodafone::NAME,
            ProviderId::Pesaflow => Pesaflow::NAME,
            ProviderId::Ecitizen => Ecitizen::NAME,
        }
    }

    pub fn parse(name: &str) -> Option<ProviderId> {
        ProviderId::ALL.into_iter().find(|p| p.name() == name)
    }

    pub fn prefixes(self) -> &'static [&'static str] {
        match self {
            ProviderId::Daraja => Daraja::PREFIXES,
            ProviderId::Vodafone => Vodafone::PREFIXES,
            ProviderId::Pesaflow => Pesaflow::PREFIXES,
            ProviderId::Ecitizen => Ecitizen::PREFIXES,
        }
    }

    pub fn operations(self) -> &'static [&'static str] {
        match self {
            ProviderId::Daraja => Daraja::OPERATIONS,
            ProviderId::Vodafone => Vodafone::OPERATIONS,
            ProviderId::Pesaflow => Pesaflow::OPERATIONS,
            ProviderId::Ecitizen => Ecitizen::OPERATIONS,
        }
    }

    pub fn variants(self) -> &'static [VariantSpec] {
        match self {
            ProviderId::Daraja => Daraja::VARIANTS,
            ProviderId::Vodafone => Vodafone::VARIANTS,
            ProviderId::Pesaflow => Pesaflow::VARIANTS,
            ProviderId::Ecitizen => Ecitizen::VARIANTS,
        }
    }

    pub fn faults(self) -> &'static [&'static str] {
        match self {
            ProviderId::Daraja => Daraja::FAULTS,
            ProviderId::Pesaflow => Pesaflow::FAULTS,
            ProviderId::Vodafone => Vodafone::FAULTS,
            ProviderId::Ecitizen => Ecitizen::FAULTS,
        }
    }

    pub fn default_scenario(self) -> Option<&'static str> {
        match self {
            ProviderId::Daraja => Daraja::DEFAULT_SCENARIO,
            ProviderId::Vodafone => Vodafone::DEFAULT_SCENARIO,
            ProviderId::Pesaflow => Pesaflow::DEFAULT_SCENARIO,
            ProviderId::Ecitizen => Ecitizen::DEFAULT_SCENARIO,
        }
    }

    /// The provider's envelope for an error the router raised itself.
    pub fn bare_error(self, status: StatusCode) -> Arc<dyn WireError> {
        match self {
            ProviderId::Daraja => Daraja::bare_error(status),
            ProviderId::Vodafone => Vodafone::bare_error(status),
            ProviderId::Pesaflow => Pesaflow::bare_error(status),
            ProviderId::Ecitizen => Ecitizen::bare_error(status),
        }
    }
}

/// Paths outside every provider's prefixes get this provider's envelope
/// (the most common client).
pub(crate) const FALLBACK: ProviderId = ProviderId::Daraja;

impl Registered for Daraja {
    const ID: ProviderId = ProviderId::Daraja;

    fn state(states: &States) -> &daraja::State {
        &states.daraja
    }

    fn state_mut(states: &mut States) -> &mut daraja::State {
        &mut states.daraja
    }

    fn due(due: daraja::Due) -> Due {
        Due::Daraja(due)
    }

    fn shared_part(shared: &Shared) -> &daraja::Shared {
        &shared.daraja
    }

    fn world_part(world: &World) -> &Arc<daraja::World> {
        &world.daraja
    }
}

impl Registered for Vodafone {
    const ID: ProviderId = ProviderId::Vodafone;

    fn state(states: &States) -> &vodafone::State {
        &states.vodafone
    }

    fn state_mut(states: &mut States) -> &mut vodafone::State {
        &mut states.vodafone
    }

    fn due(due: vodafone::Due) -> Due {
        Due::Vodafone(due)
    }

    fn shared_part(shared: &Shared) -> &vodafone::Shared {
        &shared.vodafone
    }

    fn world_part(world: &World) -> &Arc<vodafone::World> {
        &world.vodafone
    }
}

impl Registered for Pesaflow {
    const ID: ProviderId = ProviderId::Pesaflow;

    fn state(states: &States) -> &pesaflow::State {
        &states.pesaflow
    }

    fn state_mut(states: &mut States) -> &mut pesaflow::State {
        &mut states.pesaflow
    }

    fn due(due: pesaflow::Due) -> Due {
        Due::Pesaflow(due)
    }

    fn shared_part(shared: &Shared) -> &() {
        &shared.pesaflow
    }

    fn world_part(world: &World) -> &Arc<pesaflow::World> {
        &world.pesaflow
    }
}

impl Registered for Ecitizen {
    const ID: ProviderId = ProviderId::Ecitizen;

    fn state(states: &States) -> &ecitizen::State {
        &states.ecitizen
    }

    fn state_mut(states: &mut States) -> &mut ecitizen::State {
        &mut states.ecitizen
    }

    fn due(due: ecitizen::Due) -> Due {
        Due::Ecitizen(due)
    }

    fn shared_part(shared: &Shared) -> &ecitizen::oidc::Oidc {
        &shared.ecitizen
    }

    fn world_part(world: &World) -> &Arc<ecitizen::world::World> {
        &world.ecitizen
    }
}

// ---------------------------------------------------------------------------
// Paths on the one port

/// The API surfaces served on the one port, told apart by path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Surface {
    Admin,
    Provider(ProviderId),
}

impl Surface {
    /// The admin prefix, then the provider with the longest prefix of the
    /// path, then [`FALLBACK`].
    pub(crate) fn of_path(path: &str) -> Surface {
        if under(path, crate::admin::PREFIX) {
            return Surface::Admin;
        }
        Surface::Provider(owner(path).unwrap_or(FALLBACK))
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Surface::Admin => "admin",
            Surface::Provider(p) => p.name(),
        }
    }

    /// Admin calls are not journaled: the journal is for the APIs under test.
    pub(crate) fn is_journaled(self) -> bool {
        self != Surface::Admin
    }

    /// The surface's own error for a status the router produced by itself.
    pub(crate) fn bare_error(self, status: StatusCode) -> Arc<dyn WireError> {
        match self {
            Surface::Admin => Arc::new(AdminError::from_status(status)),
            Surface::Provider(p) => p.bare_error(status),
        }
    }
}

/// Whether `path` is `prefix` or lies below it.
fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The provider owning the longest prefix of `path`, if any.
pub(crate) fn owner(path: &str) -> Option<ProviderId> {
    // Every provider's prefixes, longest first, so the first that fits is
    // the longest (every request asks).
    static LONGEST_FIRST: std::sync::LazyLock<Vec<(&'static str, ProviderId)>> = std::sync::LazyLock::new(|| {
        let mut all: Vec<_> =
            ProviderId::ALL.into_iter().flat_map(|p| p.prefixes().iter().map(move |prefix| (*prefix, p))).collect();
        all.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        all
    });
    LONGEST_FIRST.iter().find(|(prefix, _)| under(path, prefix)).map(|(_, p)| *p)
}

/// Every provider's API.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().merge(Daraja::routes()).merge(Vodafone::routes()).merge(Pesaflow::routes()).merge(Ecitizen::routes())
}

/// Every provider's admin views, each under `/{name}` (mounted per tenant).
pub(crate) fn admin_routes() -> Router<AppState> {
    Router::new()
        .nest(&format!("/{}", Daraja::NAME), Daraja::admin_routes())
        .nest(&format!("/{}", Vodafone::NAME), Vodafone::admin_routes())
        .nest(&format!("/{}", Pesaflow::NAME), Pesaflow::admin_routes())
        .nest(&format!("/{}", Ecitizen::NAME), Ecitizen::admin_routes())
}

/// Daraja's admin views were served at the admin root before providers had
/// their own prefixes; they stay there as aliases (a documented surface).
pub(crate) fn admin_aliases() -> Router<AppState> {
    Daraja::admin_routes()
}

// ---------------------------------------------------------------------------
// Per-tenant state and events

/// Every provider's per-tenant state.
#[derive(Debug)]
pub struct States {
    daraja: daraja::State,
    vodafone: vodafone::State,
    pesaflow: pesaflow::State,
    ecitizen: ecitizen::State,
}

impl States {
    /// Fresh states over a world; each provider opens its ledger accounts.
    pub fn new(core: &mut Core, world: &World) -> States {
        States {
            daraja: Daraja::new_state(core, world.daraja.clone()),
            vodafone: Vodafone::new_state(core, world.vodafone.clone()),
            pesaflow: Pesaflow::new_state(core, world.pesaflow.clone()),
            ecitizen: Ecitizen::new_state(core, world.ecitizen.clone()),
        }
    }

    /// The world the states were made from (with credentials rotated since).
    pub fn worlds(&self, common: Arc<Common>) -> World {
        World {
            common,
            daraja: Daraja::world(&self.daraja).clone(),
            vodafone: Vodafone::world(&self.vodafone).clone(),
            pesaflow: Pesaflow::world(&self.pesaflow).clone(),
            ecitizen: Ecitizen::world(&self.ecitizen).clone(),
        }
    }

    /// Every provider's transactions, for the admin API.
    pub fn transactions(&self) -> Vec<TransactionRow> {
        let mut rows = Vec::new();
        Daraja::transactions(&self.daraja, &mut rows);
        Vodafone::transactions(&self.vodafone, &mut rows);
        Pesaflow::transactions(&self.pesaflow, &mut rows);
        Ecitizen::transactions(&self.ecitizen, &mut rows);
        rows
    }
}

/// Every provider's events on a tenant's timeline.
#[derive(Debug)]
pub enum Due {
    Daraja(daraja::Due),
    Vodafone(vodafone::Due),
    Pesaflow(pesaflow::Due),
    Ecitizen(ecitizen::Due),
}

/// Acts on a provider's event that fell due.
pub(crate) fn on_due(core: &mut Core, states: &mut States, due: Due, at: DateTime<Utc>) {
    match due {
        Due::Daraja(due) => Daraja::on_due(core, &mut states.daraja, due, at),
        Due::Vodafone(due) => Vodafone::on_due(core, &mut states.vodafone, due, at),
        Due::Pesaflow(due) => Pesaflow::on_due(core, &mut states.pesaflow, due, at),
        Due::Ecitizen(due) => Ecitizen::on_due(core, &mut states.ecitizen, due, at),
    }
}

/// Hands a receiver's answer to the provider that asked for it.
pub(crate) fn on_reply(
    core: &mut Core,
    states: &mut States,
    to: ProviderId,
    key: &str,
    reply: &Reply,
    at: DateTime<Utc>,
) {
    match to {
        ProviderId::Daraja => Daraja::on_reply(core, &mut states.daraja, key, reply, at),
        ProviderId::Vodafone => Vodafone::on_reply(core, &mut states.vodafone, key, reply, at),
        ProviderId::Pesaflow => Pesaflow::on_reply(core, &mut states.pesaflow, key, reply, at),
        ProviderId::Ecitizen => Ecitizen::on_reply(core, &mut states.ecitizen, key, reply, at),
    }
}

/// Every provider's sandbox-wide resources.
pub struct Shared {
    daraja: daraja::Shared,
    vodafone: vodafone::Shared,
    pesaflow: <Pesaflow as Provider>::Shared,
    ecitizen: ecitizen::oidc::Oidc,
}

impl Shared {
    pub fn new() -> Result<Shared, (ProviderId, String)> {
        Ok(Shared {
            daraja: Daraja::shared().map_err(|e| (ProviderId::Daraja, e))?,
            vodafone: Vodafone::shared().map_err(|e| (ProviderId::Vodafone, e))?,
            pesaflow: Pesaflow::shared().map_err(|e| (ProviderId::Pesaflow, e))?,
            ecitizen: Ecitizen::shared().map_err(|e| (ProviderId::Ecitizen, e))?,
        })
    }
}

// ---------------------------------------------------------------------------
// Credentials

/// Credentials of one tenant for every provider (the shape tenant creation returns too).
#[derive(Debug, Clone, Serialize)]
pub struct Credentials {
    pub tenant: String,
    pub base_url: String,
    /// Where this tenant's admin endpoints live.
    pub admin_url: String,
    /// The token that opens this tenant's admin views (and no other's), on
    /// a sandbox whose admin API requires a token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_token: Option<String>,
    pub callbacks: CallbackCredentials,
    pub daraja: <Daraja as Provider>::Credentials,
    pub vodafone: vodafone::VodafoneCredentials,
    pub pesaflow: <Pesaflow as Provider>::Credentials,
    pub ecitizen: ecitizen::EcitizenCredentials,
}

/// A tenant's credentials document.
pub(crate) fn credentials(app: &AppState, tenant: &Tenant) -> Credentials {
    let admin_url = crate::admin::tenant_url(&app.base_url, &tenant.id);
    let ctx = CredentialContext { base_url: &app.base_url, admin_url: &admin_url };
    let shared = &app.shared;
    tenant.with_state(|state| {
        let core = &state.core;
        Credentials {
            tenant: tenant.id.clone(),
            base_url: app.base_url.to_string(),
            admin_url: admin_url.clone(),
            admin_token: tenant.admin_token().map(|t| secrecy::ExposeSecret::expose_secret(t).to_owned()),
            callbacks: CallbackCredentials::of(core),
            daraja: Daraja::credentials(&ctx, &shared.daraja, core, &state.providers.daraja),
            vodafone: Vodafone::credentials(&ctx, &shared.vodafone, core, &state.providers.vodafone),
            pesaflow: Pesaflow::credentials(&ctx, &shared.pesaflow, core, &state.providers.pesaflow),
            ecitizen: Ecitizen::credentials(&ctx, &shared.ecitizen, core, &state.providers.ecitizen),
        }
    })
}

// ---------------------------------------------------------------------------
// The world document

/// A world document (TOML): the common tables, then every provider's.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldDoc {
    pub version: Option<u32>,
    /// Start from an empty world instead of the default one.
    #[serde(default)]
    pub replace_default: bool,

    // Common tables.
    #[serde(default)]
    pub customers: Vec<CustomerDoc>,
    pub customer_defaults: Option<CustomerDefaultsDoc>,
    pub callbacks: Option<CallbackSettingsDoc>,
    /// Token buckets for this world's apps (none by default).
    #[serde(default)]
    pub rate_limits: Vec<RateLimitDoc>,

    // Daraja's tables, at the top level (it was the first provider).
    #[serde(default)]
    pub apps: Vec<daraja::world::AppDoc>,
    #[serde(default)]
    pub shortcodes: Vec<daraja::world::ShortcodeDoc>,
    #[serde(default)]
    pub initiators: Vec<daraja::world::InitiatorDoc>,
    pub daraja: Option<daraja::world::DarajaSettingsDoc>,

    // Vodafone's table.
    pub vodafone: Option<vodafone::world::WorldDoc>,
    // Pesaflow's tables, under [pesaflow].
    pub pesaflow: Option<pesaflow::world::WorldDoc>,
    // eCitizen's table.
    pub(crate) ecitizen: Option<ecitizen::world::WorldDoc>,
}

/// A document split into its common part and every provider's part.
#[derive(Debug, Clone, Default)]
struct Parts {
    common: CommonDoc,
    daraja: daraja::world::WorldDoc,
    vodafone: vodafone::world::WorldDoc,
    pesaflow: pesaflow::world::WorldDoc,
    ecitizen: ecitizen::world::WorldDoc,
}

impl WorldDoc {
    fn into_parts(self) -> Parts {
        Parts {
            common: CommonDoc {
                customers: self.customers,
                customer_defaults: self.customer_defaults,
                callbacks: self.callbacks,
                rate_limits: self.rate_limits,
            },
            daraja: daraja::world::WorldDoc {
                apps: self.apps,
                shortcodes: self.shortcodes,
                initiators: self.initiators,
                settings: self.daraja,
            },
            vodafone: self.vodafone.unwrap_or_default(),
            pesaflow: self.pesaflow.unwrap_or_default(),
            ecitizen: self.ecitizen.unwrap_or_default(),
        }
    }
}

impl Parts {
    fn merge(&mut self, overlay: Parts) {
        self.common.merge(overlay.common);
        self.daraja.merge(overlay.daraja);
        self.vodafone.merge(overlay.vodafone);
        self.pesaflow.merge(overlay.pesaflow);
        self.ecitizen.merge(overlay.ecitizen);
    }
}

/// The fragments the embedded default world is made of, in merge order.
pub(crate) const DEFAULT_WORLD: &[(&str, &str)] = &[
    ("the default world (common)", crate::world::COMMON_DEFAULT_TOML),
    ("the default world (daraja)", daraja::world::DEFAULT_TOML),
    ("the default world (vodafone)", vodafone::DEFAULT_WORLD_TOML),
    ("the default world (pesaflow)", pesaflow::world::DEFAULT_TOML),
    ("the default world (ecitizen)", ecitizen::world::DEFAULT_WORLD_TOML),
];

/// A resolved world: the common part and every provider's part.
#[derive(Debug, Clone)]
pub struct World {
    pub common: Arc<Common>,
    pub daraja: Arc<daraja::World>,
    pub vodafone: Arc<vodafone::World>,
    pub pesaflow: Arc<pesaflow::World>,
    pub(crate) ecitizen: Arc<ecitizen::world::World>,
}

impl World {
    /// The embedded default world.
    pub fn default_world() -> World {
        // The embedded documents are checked by a unit test; this cannot fail.
        World::from_overlays(&[]).expect("the embedded default world is valid")
    }

    /// Parses a world document without resolving it.
    pub fn parse_doc(text: &str, origin: &str) -> Result<WorldDoc, WorldError> {
        let doc: WorldDoc = toml::from_str(text)
            .map_err(|e| WorldError::Syntax { origin: origin.to_owned(), message: e.to_string() })?;
        match doc.version {
            None | Some(crate::world::WORLD_VERSION) => Ok(doc),
            Some(v) => Err(WorldError::invalid(
                origin,
                format!("version {v} is not supported; this build reads version {}", crate::world::WORLD_VERSION),
            )),
        }
    }

    /// The default world with each overlay merged over it in order.
    pub fn from_overlays(overlays: &[(WorldDoc, String)]) -> Result<World, WorldError> {
        let mut merged = Parts::default();
        for (origin, text) in DEFAULT_WORLD {
            merged.merge(World::parse_doc(text, origin)?.into_parts());
        }
        for (doc, _origin) in overlays {
            if doc.replace_default {
                merged = Parts::default();
            }
            merged.merge(doc.clone().into_parts());
        }
        let origin = overlays.last().map(|(_, o)| o.as_str()).unwrap_or("the default world");
        Ok(World {
            common: Arc::new(Common::resolve(merged.common, origin)?),
            daraja: Arc::new(merged.daraja.resolve(origin)?),
            vodafone: Arc::new(
                vodafone::World::resolve(merged.vodafone).map_err(|e| WorldError::invalid(origin, e.to_string()))?,
            ),
            pesaflow: Arc::new(merged.pesaflow.resolve().map_err(|e| WorldError::invalid(origin, e.to_string()))?),
            ecitizen: Arc::new(
                ecitizen::world::World::resolve(merged.ecitizen)
                    .map_err(|e| WorldError::invalid(origin, e.to_string()))?,
            ),
        })
    }

    /// Every provider's credentials that identify this world's tenant.
    pub fn routing_keys(&self) -> Vec<(ProviderId, String)> {
        let mut keys = Vec::new();
        keys.extend(Daraja::routing_keys(&self.daraja).into_iter().map(|k| (ProviderId::Daraja, k)));
        keys.extend(Vodafone::routing_keys(&self.vodafone).into_iter().map(|k| (ProviderId::Vodafone, k)));
        keys.extend(Pesaflow::routing_keys(&self.pesaflow).into_iter().map(|k| (ProviderId::Pesaflow, k)));
        keys.extend(Ecitizen::routing_keys(&self.ecitizen).into_iter().map(|k| (ProviderId::Ecitizen, k)));
        keys
    }

    /// Gives every credential this world inherited from the default world a
    /// fresh value, so a new tenant's requests find it.
    pub fn fresh_credentials(&mut self, defaults: &World, ids: &mut IdGen) {
        Daraja::fresh_credentials(Arc::make_mut(&mut self.daraja), &defaults.daraja, ids);
        Pesaflow::fresh_credentials(Arc::make_mut(&mut self.pesaflow), &defaults.pesaflow, ids);
        // Each provider added later draws after the ones before it, so theirs
        // draw the ids they drew before it came.
        Vodafone::fresh_credentials(Arc::make_mut(&mut self.vodafone), &defaults.vodafone, ids);
        Ecitizen::fresh_credentials(Arc::make_mut(&mut self.ecitizen), &defaults.ecitizen, ids);
    }

    /// One provider's part.
    pub fn of<P: Registered>(&self) -> &Arc<P::World> {
        P::world_part(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_two_providers_claim_the_same_prefix() {
        let mut seen: Vec<(&str, ProviderId)> = Vec::new();
        for p in ProviderId::ALL {
            for prefix in p.prefixes() {
                assert!(prefix.starts_with('/') && !prefix.ends_with('/'), "{prefix:?} of {p:?}");
                assert!(!under(prefix, crate::admin::PREFIX), "{prefix:?} of {p:?} is under the admin prefix");
                if let Some((_, other)) = seen.iter().find(|(q, _)| q == prefix) {
                    panic!("{prefix:?} is claimed by {p:?} and {other:?}");
                }
                seen.push((prefix, p));
            }
        }
    }

    #[test]
    fn every_prefix_routes_to_its_provider_and_the_rest_falls_back() {
        for p in ProviderId::ALL {
            for prefix in p.prefixes() {
                assert_eq!(owner(prefix), Some(p));
                assert_eq!(owner(&format!("{prefix}/anything/below")), Some(p));
            }
        }
        assert_eq!(Surface::of_path("/__sandbox/health"), Surface::Admin);
        assert_eq!(Surface::of_path("/no/such/api"), Surface::Provider(FALLBACK));
        assert_eq!(owner("/mpesax"), None, "a prefix matches whole path segments only");
    }

    #[test]
    fn providers_sharing_first_segments_keep_their_own_paths() {
        // `/oauth/` is shared by Daraja and eCitizen, `/api/` by eCitizen
        // and Pesaflow: each path has the owner its provider's guide gives it
        // (the longest prefix wins, whatever the order of the registry's lists).
        let owned = [
            ("/oauth/v1/generate", Some(ProviderId::Daraja)),
            ("/mpesa/stkpush/v1/processrequest", Some(ProviderId::Daraja)),
            ("/oauth/authorize", Some(ProviderId::Ecitizen)),
            ("/oauth/access-token", Some(ProviderId::Ecitizen)),
            ("/api/oauth/token/introspect", Some(ProviderId::Ecitizen)),
            ("/api/userinfo", Some(ProviderId::Ecitizen)),
            ("/api/user-info", Some(ProviderId::Ecitizen)),
            ("/.well-known/openid-configuration", Some(ProviderId::Ecitizen)),
            ("/.well-known/jwks.json", Some(ProviderId::Ecitizen)),
            ("/api/oauth/generate/token", Some(ProviderId::Pesaflow)),
            ("/api/payment/validate", Some(ProviderId::Pesaflow)),
            ("/api/payment/confirm", Some(ProviderId::Pesaflow)),
            ("/api/invoice/create", Some(ProviderId::Pesaflow)),
            ("/api/invoice/payment/status", Some(ProviderId::Pesaflow)),
            ("/api/PaymentAPI/checkout", Some(ProviderId::Pesaflow)),
            ("/PaymentAPI/iframev2.1.php", Some(ProviderId::Pesaflow)),
            ("/ipg/v1x/c2bPayment/singleStage/", Some(ProviderId::Vodafone)),
            // Near misses belong to nobody: they get the fallback envelope.
            ("/oauth/v2/generate", None),
            ("/oauth/authorize-extra", None),
            ("/api/oauth", None),
            ("/api/oauth/tokens", None),
            ("/api/userinfo2", None),
            ("/.well-known/other", None),
        ];
        for (path, provider) in owned {
            assert_eq!(owner(path), provider, "{path}");
        }
    }

    #[test]
    fn names_and_operations_are_unique() {
        for p in ProviderId::ALL {
            assert_eq!(ProviderId::parse(p.name()), Some(p));
            let mut ops = p.operations().to_vec();
            ops.sort_unstable();
            ops.dedup();
            assert_eq!(ops.len(), p.operations().len(), "{p:?} repeats an operation");
        }
    }

    #[test]
    fn the_default_world_loads() {
        let world = World::default_world();
        assert!(world.ecitizen.client("PesaSandboxEcitizenClient").is_some());
        assert!(world.routing_keys().contains(&(ProviderId::Ecitizen, "PesaSandboxEcitizenClient".to_owned())));
        assert!(world.daraja.app_by_key("PesaSandboxConsumerKey").is_some());
        assert_eq!(world.daraja.shortcodes["174379"].kind, daraja::world::ShortcodeKind::Paybill);
        assert_eq!(world.daraja.shortcodes["500200"].store.as_deref(), Some("400200"));
        let customer = &world.common.customers["254708374149"];
        assert_eq!(customer.opening_balance, crate::ledger::Money::from_shillings(500_000));
    }

    #[test]
    fn an_overlay_overrides_by_key_and_adds_new_entries() {
        let doc = World::parse_doc(
            r#"
            [[customers]]
            msisdn = "254708374149"
            balance = 5
            [[customers]]
            msisdn = "254799999999"
            [daraja]
            stk_answer_delay_ms = 10
            "#,
            "test.toml",
        )
        .unwrap();
        let world = World::from_overlays(&[(doc, "test.toml".into())]).unwrap();
        assert_eq!(world.common.customers["254708374149"].opening_balance, crate::ledger::Money(500));
        assert!(world.common.customers.contains_key("254799999999"));
        assert_eq!(world.daraja.settings.stk_answer_delay_ms, 10);
        assert_eq!(world.daraja.settings.token_ttl_secs, 3600, "untouched settings keep their defaults");
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_line() {
        let err = World::parse_doc("[[apps]]\nconsumer_key = \"k\"\nconsumer_secret = \"s\"\ncolour = 1\n", "w.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("w.toml"), "{err}");
        assert!(err.contains("line 4"), "{err}");
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn a_till_must_point_at_a_store() {
        let doc =
            World::parse_doc("[[shortcodes]]\nnumber = \"123456\"\nkind = \"till\"\nstore = \"174379\"\n", "w.toml")
                .unwrap();
        let err = World::from_overlays(&[(doc, "w.toml".into())]).unwrap_err().to_string();
        assert!(err.contains("is not a shortcode of kind \"store\""), "{err}");
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let world = World::default_world();
        let debug = format!("{world:?}");
        assert!(!debug.contains("PesaSandboxConsumerSecret"));
        assert!(!debug.contains("bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"));
        assert!(!debug.contains("Safaricom999!*!"));
        assert!(!debug.contains("PesaSandboxEcitizenSecret"));
    }

    #[test]
    fn replace_default_starts_from_an_empty_world() {
        let doc =
            World::parse_doc("replace_default = true\n[[customers]]\nmsisdn = \"258843330333\"\n", "w.toml").unwrap();
        let world = World::from_overlays(&[(doc, "w.toml".into())]).unwrap();
        assert!(world.daraja.apps.is_empty() && world.daraja.shortcodes.is_empty());
        assert_eq!(world.common.customers.len(), 1);
    }

    #[test]
    fn a_hostile_number_in_a_world_is_refused_with_its_field_and_range() {
        let doc = World::parse_doc("[daraja]\ntoken_ttl_secs = 9223372036854775807\n", "w.toml").unwrap();
        let err = World::from_overlays(&[(doc, "w.toml".into())]).unwrap_err().to_string();
        assert!(err.contains("daraja.token_ttl_secs") && err.contains("out of range"), "{err}");
        let doc =
            World::parse_doc("[[initiators]]\nname = \"x\"\npassword = \"p\"\npassword_age_days = 4294967295\n", "w")
                .unwrap();
        let err = World::from_overlays(&[(doc, "w".into())]).unwrap_err().to_string();
        assert!(err.contains("password_age_days"), "{err}");
    }
}
