//! Tenants and their state.
//!
//! A tenant is an isolated world: its own ledger, transactions, identifiers,
//! clock, timeline of due events and journals.
//! Requests reach their tenant through their credentials (a routing key of
//! a provider, such as a consumer key, or a token); nothing a tenant does is
//! visible to another.
//!
//! Concurrency: each tenant's mutable state sits behind one `std::sync::Mutex`
//! ([`Tenant::with_state`]). Critical sections are short and never cross an
//! `.await`, so a blocking mutex is the right tool (a Tokio mutex is only
//! needed when a lock is held across an await point).
//! The timeline is the single place where "something happens later" is
//! recorded; the scheduler task wakes up for the earliest due event of every
//! tenant whose clock is the system clock.

// Time, money and counts from outside: every computation here saturates or
// is checked, and the lint keeps it so.
#![warn(clippy::arithmetic_side_effects)]

mod core;
mod grants;
mod timeline;
mod wakeups;

use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use chrono::{DateTime, Utc};

pub(crate) use self::core::{Core, TenantState};
pub(crate) use grants::Grant;
pub use grants::MAX_TOKENS_PER_APP;
pub(crate) use timeline::Event;
pub(crate) use wakeups::Wakeups;

use crate::clock::Clock;
use crate::fastmap::HashMap;
use crate::ids::Secrets;
use crate::journal::Journal;
use crate::provider::Registered;
use crate::providers::{ProviderId, World};
use crate::scenarios::ScenarioSet;
use grants::Grants;

/// The id of the tenant every request reaches unless its credentials say otherwise.
pub(crate) const DEFAULT_TENANT: &str = "default";

/// Sizes that bound a tenant's memory.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Entries kept in each journal (callbacks, requests).
    pub journal_entries: usize,
    /// Postings kept in the ledger history.
    pub ledger_history: usize,
    /// Finished transactions kept per provider for queries.
    pub transactions: usize,
    /// Bytes each journal may hold (bodies, paths and diagnoses are cut
    /// first); the oldest entries go beyond it.
    pub journal_bytes: usize,
    /// Tenants the sandbox holds at once, the default one included.
    pub max_tenants: usize,
}

pub struct Tenant {
    pub id: String,
    pub clock: Clock,
    pub journal: Journal,
    /// The token that opens this tenant's own admin views (and no other's),
    /// set when the sandbox's admin API requires a token.
    admin_token: std::sync::OnceLock<secrecy::SecretString>,
    seed: u64,
    state: Mutex<TenantState>,
    wakeups: Arc<Wakeups>,
    /// The callbacks waiting in the engine's lane for this tenant, as the
    /// engine last counted them under its lock: admission reads it without
    /// taking that lock when the lane is far from full (nearly always).
    pub(crate) callback_backlog: std::sync::atomic::AtomicUsize,
    /// How many callbacks are held back to arrive out of order, as last
    /// counted under the tenant's lock: a delivery releases held callbacks
    /// without taking the lock when there are none (nearly always).
    pub(crate) held_callbacks: std::sync::atomic::AtomicUsize,
    /// The core's callback signing secret, copied whenever the core is
    /// (re)built, so a delivery reads it without the tenant's lock.
    signing_secret: RwLock<Option<secrecy::SecretString>>,
}

impl std::fmt::Debug for Tenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenant").field("id", &self.id).finish_non_exhaustive()
    }
}

impl Tenant {
    /// Runs `f` on the tenant's state under its lock, then re-arms the
    /// scheduler for the tenant's earliest due event if that moved.
    pub fn with_state<R>(&self, f: impl FnOnce(&mut TenantState) -> R) -> R {
        self.locked(false, f)
    }

    /// [`Tenant::with_state`] for settling events the scheduler took as
    /// due: those are no longer in its wakeups, so the tenant's earliest
    /// event is armed again whether or not it moved.
    pub(crate) fn with_state_rearmed<R>(&self, f: impl FnOnce(&mut TenantState) -> R) -> R {
        self.locked(true, f)
    }

    /// The wakeups' lock is shared by every tenant and taken here only when
    /// the earliest due time differs from what this tenant last armed (most
    /// requests leave it as it was). It is taken under the tenant's lock,
    /// so one tenant's arms reach the wakeups in the order its state
    /// changed (the wakeups never take a tenant's lock).
    fn locked<R>(&self, rearm: bool, f: impl FnOnce(&mut TenantState) -> R) -> R {
        let mut state = self.lock();
        let res = f(&mut state);
        if !self.clock.is_virtual() {
            let earliest = state.core.timeline.earliest();
            if rearm || state.armed != earliest {
                state.armed = earliest;
                self.wakeups.arm(&self.id, earliest);
            }
        }
        res
    }

    /// Runs `f` on the core and one provider's state, under the tenant's lock.
    pub fn with<P: Registered, R>(&self, f: impl FnOnce(&mut Core, &mut P::State) -> R) -> R {
        self.with_state(|state| f(&mut state.core, P::state_mut(&mut state.providers)))
    }

    /// Runs `f` on the core alone, under the tenant's lock.
    pub fn with_core<R>(&self, f: impl FnOnce(&mut Core) -> R) -> R {
        self.with_state(|state| f(&mut state.core))
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The tenant's own admin token, if it has one.
    pub fn admin_token(&self) -> Option<&secrecy::SecretString> {
        self.admin_token.get()
    }

    /// Gives the tenant its own admin token (once; later calls change nothing).
    pub fn set_admin_token(&self, token: secrecy::SecretString) {
        let _ = self.admin_token.set(token);
    }

    /// One provider's part of the tenant's world as it stands.
    pub fn world_of<P: Registered>(&self) -> Arc<P::World> {
        self.with::<P, _>(|_, mine| P::world(mine).clone())
    }

    /// The tenant's world as it stands (credentials rotated since start included).
    pub fn world(&self) -> World {
        self.with_state(|state| state.providers.worlds(state.core.world.clone()))
    }

    /// Back to the tenant's world: ledger, transactions, identifiers,
    /// timeline and journals start over. Issued tokens stay valid, so clients
    /// that cache tokens keep working.
    pub fn reset(&self) -> usize {
        let now = self.clock.now();
        let dropped = self.with_state(|state| {
            let dropped = state.reset(self.seed, &self.id, now);
            *self.signing_secret.write().unwrap_or_else(|e| e.into_inner()) = state.core.signing_secret.clone();
            dropped
        });
        self.journal.clear();
        dropped
    }

    /// The secret callbacks are signed with, if the world signs them.
    pub(crate) fn signing_secret(&self) -> Option<secrecy::SecretString> {
        self.signing_secret.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn lock(&self) -> MutexGuard<'_, TenantState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Why a tenant could not be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantError {
    #[error("tenant {0:?} already exists")]
    Exists(String),
    #[error("tenant id {0:?} must be 1 to 64 characters of a-z, 0-9, '-' and '_'")]
    BadId(String),
    #[error("{provider} credential {key:?} already belongs to tenant {tenant:?}; every tenant needs its own")]
    KeyTaken { provider: &'static str, key: String, tenant: String },
    #[error("the default tenant cannot be deleted")]
    Default,
    #[error("the sandbox holds {0} tenants, its limit (--max-tenants); delete one first")]
    TooMany(usize),
}

/// All tenants, and the indexes that route requests to them.
pub struct Tenants {
    tenants: RwLock<HashMap<String, Arc<Tenant>>>,
    /// A provider's routing key (consumer key, client id) → tenant id.
    /// Lock order: `tenants`, then `routes`.
    routes: RwLock<HashMap<(ProviderId, String), String>>,
    /// Read on every authenticated request, written when a token is issued
    /// or revoked: a read-write lock, so lookups on different cores do not
    /// wait for each other.
    grants: RwLock<Grants>,
    purge_threshold: std::sync::atomic::AtomicUsize,
    id_counter: std::sync::atomic::AtomicU64,
    pub wakeups: Arc<Wakeups>,
    seed: u64,
    limits: Limits,
    secrets: Secrets,
}

/// Token count below which expired tokens are not worth purging.
const MIN_PURGE_THRESHOLD: usize = 10_000;

impl Tenants {
    pub fn new(
        seed: u64,
        world: World,
        clock: Clock,
        limits: Limits,
        scenarios: ScenarioSet,
        secrets: Secrets,
    ) -> Tenants {
        let tenants = Tenants {
            tenants: RwLock::new(HashMap::default()),
            routes: RwLock::new(HashMap::default()),
            grants: RwLock::new(Grants::default()),
            purge_threshold: std::sync::atomic::AtomicUsize::new(MIN_PURGE_THRESHOLD),
            id_counter: std::sync::atomic::AtomicU64::new(0),
            wakeups: Arc::new(Wakeups::default()),
            seed,
            limits,
            secrets,
        };
        // The default world's keys cannot collide with an empty registry.
        let _ = tenants.create(DEFAULT_TENANT, world, clock, scenarios);
        tenants
    }

    /// Creates a tenant; its id and its providers' routing keys must be new.
    pub fn create(
        &self,
        id: &str,
        world: World,
        clock: Clock,
        scenarios: ScenarioSet,
    ) -> Result<Arc<Tenant>, TenantError> {
        let valid_id = !id.is_empty()
            && id.len() <= 64
            && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !valid_id {
            return Err(TenantError::BadId(id.chars().take(80).collect()));
        }
        let keys = world.routing_keys();
        // The state is built before anything is registered, so a failure
        // (or a bug) while building it leaves no half-made tenant behind.
        let now = clock.now();
        let state = TenantState::new(&world, self.seed, id, self.limits, scenarios, now, self.secrets);
        let mut tenants = self.tenants.write().unwrap_or_else(|e| e.into_inner());
        let mut routes = self.routes.write().unwrap_or_else(|e| e.into_inner());
        if tenants.contains_key(id) {
            return Err(TenantError::Exists(id.to_owned()));
        }
        if tenants.len() >= self.limits.max_tenants.max(1) {
            return Err(TenantError::TooMany(tenants.len()));
        }
        for (provider, key) in &keys {
            if let Some(owner) = routes.get(&(*provider, key.clone())) {
                return Err(TenantError::KeyTaken {
                    provider: provider.name(),
                    key: key.clone(),
                    tenant: owner.clone(),
                });
            }
        }
        for (provider, key) in keys {
            routes.insert((provider, key), id.to_owned());
        }
        let tenant = Arc::new(Tenant {
            id: id.to_owned(),
            clock,
            journal: Journal::new(self.limits.journal_entries, self.limits.journal_bytes),
            admin_token: std::sync::OnceLock::new(),
            seed: self.seed,
            signing_secret: RwLock::new(state.core.signing_secret.clone()),
            state: Mutex::new(state),
            wakeups: self.wakeups.clone(),
            callback_backlog: std::sync::atomic::AtomicUsize::new(0),
            held_callbacks: std::sync::atomic::AtomicUsize::new(0),
        });
        tenants.insert(id.to_owned(), tenant.clone());
        Ok(tenant)
    }

    /// Deletes a tenant, its routes and its tokens; its pending events are dropped.
    pub fn delete(&self, id: &str) -> Result<Option<Arc<Tenant>>, TenantError> {
        if id == DEFAULT_TENANT {
            return Err(TenantError::Default);
        }
        let mut tenants = self.tenants.write().unwrap_or_else(|e| e.into_inner());
        let mut routes = self.routes.write().unwrap_or_else(|e| e.into_inner());
        let Some(tenant) = tenants.remove(id) else { return Ok(None) };
        routes.retain(|_, owner| owner != id);
        drop(routes);
        drop(tenants);
        self.grants.write().unwrap_or_else(|e| e.into_inner()).retain(|g| &*g.tenant != id);
        self.wakeups.arm(id, None);
        Ok(Some(tenant))
    }

    pub fn get(&self, id: &str) -> Option<Arc<Tenant>> {
        self.tenants.read().unwrap_or_else(|e| e.into_inner()).get(id).cloned()
    }

    pub fn default_tenant(&self) -> Arc<Tenant> {
        // The default tenant is created in `new` and can never be deleted.
        self.get(DEFAULT_TENANT).expect("the default tenant always exists")
    }

    pub fn all(&self) -> Vec<Arc<Tenant>> {
        let mut all: Vec<_> = self.tenants.read().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// A fresh tenant id: `tenant-1`, `tenant-2`, ... (skipping taken ones).
    pub fn next_id(&self) -> String {
        loop {
            let n = self.id_counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed).saturating_add(1);
            let id = format!("tenant-{n}");
            if self.get(&id).is_none() {
                return id;
            }
        }
    }

    /// Where secrets come from in this sandbox.
    pub fn secrets(&self) -> Secrets {
        self.secrets
    }

    pub fn count(&self) -> usize {
        self.tenants.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The tenant one of a provider's routing keys (a consumer key, a client
    /// id) belongs to.
    pub fn by_key<P: Registered>(&self, key: &str) -> Option<Arc<Tenant>> {
        let id = self.routes.read().unwrap_or_else(|e| e.into_inner()).get(&(P::ID, key.to_owned())).cloned()?;
        self.get(&id)
    }

    /// Moves one of a provider's routing keys of a tenant to a new value (a
    /// renewed API key): the old key stops routing at once.
    pub fn reroute<P: Registered>(&self, tenant: &str, old: &str, new: &str) -> Result<(), TenantError> {
        let mut routes = self.routes.write().unwrap_or_else(|e| e.into_inner());
        if let Some(owner) = routes.get(&(P::ID, new.to_owned())) {
            if owner != tenant {
                return Err(TenantError::KeyTaken { provider: P::NAME, key: new.to_owned(), tenant: owner.clone() });
            }
        }
        if routes.get(&(P::ID, old.to_owned())).is_some_and(|owner| owner == tenant) {
            routes.remove(&(P::ID, old.to_owned()));
        }
        routes.insert((P::ID, new.to_owned()), tenant.to_owned());
        Ok(())
    }

    /// Records a token. Expired tokens are purged whenever the map has
    /// doubled since the last purge, so token churn cannot grow memory
    /// without bound.
    pub fn grant(&self, token: String, grant: Grant) {
        let len = {
            let mut grants = self.grants.write().unwrap_or_else(|e| e.into_inner());
            grants.insert(token, grant);
            grants.by_token.len()
        };
        let threshold = self.purge_threshold.load(std::sync::atomic::Ordering::Relaxed);
        if len >= threshold {
            let kept = len.saturating_sub(self.purge_expired_grants());
            self.purge_threshold
                .store(kept.saturating_mul(2).max(MIN_PURGE_THRESHOLD), std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Revokes every token issued to `subject` in `tenant` for `provider`.
    pub fn revoke(&self, tenant: &str, provider: &str, subject: &str) {
        let mut grants = self.grants.write().unwrap_or_else(|e| e.into_inner());
        grants.retain(|g| !(&*g.tenant == tenant && g.provider == provider && &*g.subject == subject));
    }

    /// Revokes one token; returns whether it existed.
    pub fn revoke_token(&self, token: &str) -> bool {
        let mut grants = self.grants.write().unwrap_or_else(|e| e.into_inner());
        grants.remove(token)
    }

    /// The grant behind a token, with its tenant, if the token exists.
    /// Expiry is the caller's business (it depends on the tenant's clock).
    pub fn lookup(&self, token: &str) -> Option<(Grant, Arc<Tenant>)> {
        let grant = self.grants.read().unwrap_or_else(|e| e.into_inner()).by_token.get(token).cloned()?;
        let tenant = self.get(&grant.tenant)?;
        Some((grant, tenant))
    }

    /// Forgets tokens whose expiry has passed on their tenant's clock.
    pub fn purge_expired_grants(&self) -> usize {
        let now_by_tenant: HashMap<String, DateTime<Utc>> =
            self.all().into_iter().map(|t| (t.id.clone(), t.now())).collect();
        let mut grants = self.grants.write().unwrap_or_else(|e| e.into_inner());
        let before = grants.by_token.len();
        grants.retain(|g| now_by_tenant.get(&*g.tenant).is_some_and(|now| *now < g.expires_at));
        before.saturating_sub(grants.by_token.len())
    }

    pub fn grant_count(&self) -> usize {
        self.grants.read().unwrap_or_else(|e| e.into_inner()).by_token.len()
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, Utc};

    use super::*;
    use crate::callbacks::CallbackJob;

    fn system_tenants() -> Tenants {
        Tenants::new(
            1,
            World::default_world(),
            Clock::System,
            crate::config::Config::local().limits,
            ScenarioSet::default(),
            crate::ids::Secrets::Seeded,
        )
    }

    fn event(id: &str) -> Event {
        Event::Deliver(CallbackJob::new(id, "test", "test", id, "http://127.0.0.1:9/", &id))
    }

    #[test]
    fn a_delivery_reads_the_signing_secret_the_core_holds_after_a_reset_too() {
        use secrecy::ExposeSecret;
        let mut world = World::default_world();
        std::sync::Arc::make_mut(&mut world.common).callbacks.signing = true;
        let tenants = Tenants::new(
            1,
            world,
            Clock::System,
            crate::config::Config::local().limits,
            ScenarioSet::default(),
            crate::ids::Secrets::Random,
        );
        let tenant = tenants.default_tenant();
        let held = || tenant.with_core(|core| core.signing_secret.as_ref().map(|s| s.expose_secret().to_owned()));
        let read = || tenant.signing_secret().map(|s| s.expose_secret().to_owned());
        let first = read();
        assert!(first.as_deref().is_some_and(|s| s.starts_with("whsec_")));
        assert_eq!(first, held());
        // A reset draws a new random secret; deliveries sign with it.
        tenant.reset();
        assert_ne!(read(), first);
        assert_eq!(read(), held());
    }

    #[test]
    fn the_wakeups_follow_the_earliest_event_and_a_settle_arms_again_what_the_scheduler_took() {
        let tenants = system_tenants();
        let tenant = tenants.default_tenant();
        let later = Utc::now() + Duration::hours(1);
        tenant.with_core(|core| core.timeline.schedule(later, event("a")));
        assert_eq!(tenants.wakeups.next(), Some(later));
        // An earlier event moves the wake-up; a later one does not.
        let sooner = later - Duration::minutes(30);
        tenant.with_core(|core| core.timeline.schedule(sooner, event("b")));
        assert_eq!(tenants.wakeups.next(), Some(sooner));
        tenant.with_core(|core| core.timeline.schedule(later + Duration::hours(1), event("c")));
        assert_eq!(tenants.wakeups.next(), Some(sooner));
        // The scheduler takes the tenant as due (here, before its time, as
        // after its clock moved back): a request that leaves the timeline
        // as it was does not arm it again, settling does.
        assert_eq!(tenants.wakeups.take_due(sooner), vec![DEFAULT_TENANT.to_owned()]);
        assert_eq!(tenants.wakeups.next(), None);
        tenant.with_core(|_| ());
        assert_eq!(tenants.wakeups.next(), None);
        tenant.with_state_rearmed(|_| ());
        tenants.wakeups.settled();
        assert_eq!(tenants.wakeups.next(), Some(sooner));
        // A reset empties the timeline, and the wake-up goes with it; an
        // event scheduled afterwards is armed.
        tenant.reset();
        assert_eq!(tenants.wakeups.next(), None);
        tenant.with_core(|core| core.timeline.schedule(later, event("d")));
        assert_eq!(tenants.wakeups.next(), Some(later));
    }
}
