//! Tenants and their state.
//!
//! A tenant is an isolated world: its own ledger, transactions, identifiers,
//! clock, timeline of due events and journals.
//! Requests reach their tenant through their credentials (a consumer key, a
//! token); nothing a tenant does is visible to another.
//!
//! Concurrency: each tenant's mutable state sits behind one `std::sync::Mutex`
//! ([`Tenant::with_state`]). Critical sections are short and never cross an
//! `.await`, so a blocking mutex is the right tool (a Tokio mutex is only
//! needed when a lock is held across an await point).
//! The timeline is the single place where "something happens later" is
//! recorded; the scheduler task wakes up for the earliest due event of every
//! tenant whose clock is the system clock.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use secrecy::SecretString;

use crate::callbacks::CallbackJob;
use crate::clock::Clock;
use crate::ids::IdGen;
use crate::journal::Journal;
use crate::ledger::{Account, Ledger, Money, OrgAccount};
use crate::scenarios::{Decision, Facts, LimitError, RateLimit, ScenarioSet};
use crate::world::World;

/// The id of the tenant every request reaches unless its credentials say otherwise.
pub const DEFAULT_TENANT: &str = "default";

/// Sizes that bound a tenant's memory.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Entries kept in each journal (callbacks, requests).
    pub journal_entries: usize,
    /// Postings kept in the ledger history.
    pub ledger_history: usize,
    /// Finished transactions kept per provider for queries.
    pub transactions: usize,
}

/// Something a tenant must do at a given sandbox time.
#[derive(Debug)]
pub enum Due {
    Daraja(crate::daraja::Due),
    /// Hand a callback to the engine.
    Deliver(CallbackJob),
    /// Journal a callback the scenario drops (never sent).
    Dropped(CallbackJob),
    /// Hold a callback until a later transaction's callback has been sent.
    Hold(CallbackJob),
    /// Send a held callback now if nothing released it earlier.
    ReleaseHeld {
        callback_id: String,
        copy: u32,
    },
    /// A receiver answered a callback whose answer matters.
    Reply {
        reply_to: crate::callbacks::ReplyTo,
        reply: crate::callbacks::Reply,
    },
}

/// A tenant's due events in time order; ties keep insertion order, so
/// advancing a clock releases them deterministically.
#[derive(Debug, Default)]
pub struct Timeline {
    events: BTreeMap<(DateTime<Utc>, u64), Due>,
    seq: u64,
}

impl Timeline {
    pub fn schedule(&mut self, at: DateTime<Utc>, due: Due) {
        self.seq += 1;
        self.events.insert((at, self.seq), due);
    }

    /// Removes and returns every event due at or before `now`, in order.
    pub fn pop_due(&mut self, now: DateTime<Utc>) -> Vec<(DateTime<Utc>, Due)> {
        let mut due = Vec::new();
        while let Some(entry) = self.events.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let ((at, _), event) = entry.remove_entry();
            due.push((at, event));
        }
        due
    }

    pub fn earliest(&self) -> Option<DateTime<Utc>> {
        self.events.keys().next().map(|(at, _)| *at)
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Removes everything; returns how many events were pending.
    pub fn clear(&mut self) -> usize {
        let n = self.events.len();
        self.events.clear();
        n
    }
}

/// Everything about a tenant that changes, behind one lock.
#[derive(Debug)]
pub struct TenantState {
    pub world: Arc<World>,
    pub ledger: Ledger,
    pub ids: IdGen,
    pub timeline: Timeline,
    pub limits: Limits,
    /// When the tenant's state was (re)created, stamped on opening postings.
    opened_at: DateTime<Utc>,
    /// Scenarios loaded into this tenant, evaluated before the default one.
    pub scenarios: ScenarioSet,
    /// Token buckets by (app, provider, operation, limit index).
    buckets: HashMap<(String, &'static str, &'static str, usize), Bucket>,
    /// Callbacks held back to be delivered out of order.
    pub held: Vec<CallbackJob>,
    /// The secret callbacks are signed with, when the world asks for signing.
    pub signing_secret: Option<SecretString>,
    pub daraja: crate::daraja::State,
}

/// One token bucket: tokens left and when it was last refilled.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: u64,
    refilled_at: DateTime<Utc>,
}

impl TenantState {
    fn new(
        world: Arc<World>,
        seed: u64,
        tenant_id: &str,
        limits: Limits,
        scenarios: ScenarioSet,
        now: DateTime<Utc>,
    ) -> TenantState {
        let mut ledger = Ledger::new(limits.ledger_history);
        for sc in world.shortcodes.values() {
            ledger.open(Account::utility(&sc.number), sc.opening_balance);
            ledger.open(Account::org(&sc.number, OrgAccount::Working), sc.opening_working_balance);
            ledger.open(Account::org(&sc.number, OrgAccount::ChargesPaid), Money(0));
        }
        ledger.open(Account::Revenue, Money(0));
        ledger.open(Account::Outside, Money(0));
        for c in world.customers.values() {
            ledger.open(Account::Customer(c.msisdn.clone()), c.opening_balance);
        }
        let mut ids = IdGen::new(seed, tenant_id);
        let signing_secret = world.callbacks.signing.then(|| match &world.callbacks.signing_secret {
            Some(secret) => secret.clone(),
            None => SecretString::from(format!("whsec_{}", STANDARD.encode(ids.alnum(32)))),
        });
        TenantState {
            ledger,
            ids,
            timeline: Timeline::default(),
            scenarios,
            buckets: HashMap::new(),
            held: Vec::new(),
            signing_secret,
            opened_at: now,
            daraja: crate::daraja::State::new(&world, now),
            limits,
            world,
        }
    }

    /// The decision of the first matching rule: loaded scenarios first, then
    /// the built-in default scenario. `None` means the provider's default.
    pub fn decide(&self, facts: &Facts<'_>) -> Option<Decision> {
        self.scenarios.decide(facts).or_else(|| default_scenarios().decide(facts)).cloned()
    }

    /// Takes one token from every bucket that limits this app's operation;
    /// the first empty bucket refuses the request. Runs under the tenant
    /// lock, so N concurrent requests against capacity C let exactly C pass.
    pub fn take_token(
        &mut self,
        app: &str,
        provider: &'static str,
        operation: &'static str,
        now: DateTime<Utc>,
    ) -> Result<(), LimitError> {
        let limits: Vec<RateLimit> = self
            .world
            .rate_limits
            .iter()
            .chain(self.scenarios.rate_limits())
            .filter(|l| l.applies_to(provider, operation))
            .cloned()
            .collect();
        for (idx, limit) in limits.iter().enumerate() {
            let bucket = self
                .buckets
                .entry((app.to_owned(), provider, operation, idx))
                .or_insert(Bucket { tokens: limit.initial, refilled_at: now });
            let elapsed = (now - bucket.refilled_at).num_milliseconds().max(0) as u64;
            let periods = elapsed / limit.period_ms;
            if periods > 0 {
                bucket.tokens = limit.capacity.min(bucket.tokens.saturating_add(periods.saturating_mul(limit.refill)));
                let advanced = (periods.saturating_mul(limit.period_ms)).min(i64::MAX as u64) as i64;
                bucket.refilled_at += chrono::Duration::milliseconds(advanced);
            }
            if bucket.tokens == 0 {
                return Err(limit.error);
            }
        }
        for idx in 0..limits.len() {
            if let Some(bucket) = self.buckets.get_mut(&(app.to_owned(), provider, operation, idx)) {
                bucket.tokens -= 1;
            }
        }
        Ok(())
    }

    /// Makes sure a customer exists: anyone with a well-formed line can be
    /// prompted, so an unknown MSISDN becomes a customer with the world's
    /// default balance.
    pub fn ensure_customer(&mut self, msisdn: &str) -> Money {
        let account = Account::Customer(msisdn.to_owned());
        if let Some(balance) = self.ledger.balance(&account) {
            return balance;
        }
        self.ledger.open(account.clone(), Money(0));
        let opening = self.world.customer_defaults.balance;
        if opening.0 > 0 {
            // Funded from outside M-Pesa, so the opening is a balanced posting.
            let at = self.opened_at;
            let _ = self.ledger.transfer("OPENING", "Opening balance", at, &Account::Outside, &account, opening);
        }
        opening
    }

    /// The customer's display names (first, middle, last).
    pub fn customer_names(&self, msisdn: &str) -> (String, String, String) {
        match self.world.customers.get(msisdn) {
            Some(c) => (c.first_name.clone(), c.middle_name.clone(), c.last_name.clone()),
            None => {
                let d = &self.world.customer_defaults;
                (d.first_name.clone(), String::new(), d.last_name.clone())
            }
        }
    }
}

pub struct Tenant {
    pub id: String,
    pub clock: Clock,
    pub journal: Journal,
    seed: u64,
    limits: Limits,
    state: Mutex<TenantState>,
    wakeups: Arc<Wakeups>,
}

impl std::fmt::Debug for Tenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenant").field("id", &self.id).finish_non_exhaustive()
    }
}

impl Tenant {
    /// Runs `f` on the tenant's state under its lock, then re-arms the
    /// scheduler for the tenant's earliest due event.
    pub fn with_state<R>(&self, f: impl FnOnce(&mut TenantState) -> R) -> R {
        let mut state = self.lock();
        let res = f(&mut state);
        let earliest = state.timeline.earliest();
        drop(state);
        if !self.clock.is_virtual() {
            self.wakeups.arm(&self.id, earliest);
        }
        res
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn world(&self) -> Arc<World> {
        self.lock().world.clone()
    }

    /// Back to the tenant's initial world: ledger, transactions, identifiers,
    /// timeline and journals start over. Issued tokens stay valid, so clients
    /// that cache tokens keep working.
    pub fn reset(&self) -> usize {
        let dropped = self.with_state(|state| {
            let world = state.world.clone();
            let scenarios = state.scenarios.clone();
            let dropped = state.timeline.len();
            *state = TenantState::new(world, self.seed, &self.id, self.limits, scenarios, self.clock.now());
            dropped
        });
        self.journal.clear();
        dropped
    }

    fn lock(&self) -> MutexGuard<'_, TenantState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A bearer token's meaning.
#[derive(Debug, Clone)]
pub struct Grant {
    pub tenant: String,
    pub provider: &'static str,
    /// Who the token was issued to (a consumer key).
    pub subject: String,
    pub expires_at: DateTime<Utc>,
}

/// Why a tenant could not be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantError {
    #[error("tenant {0:?} already exists")]
    Exists(String),
    #[error("tenant id {0:?} must be 1 to 64 characters of a-z, 0-9, '-' and '_'")]
    BadId(String),
    #[error("consumer key {key:?} already belongs to tenant {tenant:?}; every tenant needs its own")]
    KeyTaken { key: String, tenant: String },
    #[error("the default tenant cannot be deleted")]
    Default,
}

/// All tenants, and the indexes that route requests to them.
pub struct Tenants {
    tenants: RwLock<HashMap<String, Arc<Tenant>>>,
    /// Consumer key → tenant id. Lock order: `tenants`, then `app_index`.
    app_index: RwLock<HashMap<String, String>>,
    grants: Mutex<Grants>,
    purge_threshold: std::sync::atomic::AtomicUsize,
    id_counter: std::sync::atomic::AtomicU64,
    pub wakeups: Arc<Wakeups>,
    seed: u64,
    limits: Limits,
}

/// Token count below which expired tokens are not worth purging.
const MIN_PURGE_THRESHOLD: usize = 10_000;

impl Tenants {
    pub fn new(seed: u64, world: Arc<World>, clock: Clock, limits: Limits, scenarios: ScenarioSet) -> Tenants {
        let tenants = Tenants {
            tenants: RwLock::new(HashMap::new()),
            app_index: RwLock::new(HashMap::new()),
            grants: Mutex::new(Grants::default()),
            purge_threshold: std::sync::atomic::AtomicUsize::new(MIN_PURGE_THRESHOLD),
            id_counter: std::sync::atomic::AtomicU64::new(0),
            wakeups: Arc::new(Wakeups::default()),
            seed,
            limits,
        };
        // The default world's keys cannot collide with an empty registry.
        let _ = tenants.create(DEFAULT_TENANT, world, clock, scenarios);
        tenants
    }

    /// Creates a tenant; its id and its apps' consumer keys must be new.
    pub fn create(
        &self,
        id: &str,
        world: Arc<World>,
        clock: Clock,
        scenarios: ScenarioSet,
    ) -> Result<Arc<Tenant>, TenantError> {
        let valid_id = !id.is_empty()
            && id.len() <= 64
            && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !valid_id {
            return Err(TenantError::BadId(id.chars().take(80).collect()));
        }
        let mut tenants = self.tenants.write().unwrap_or_else(|e| e.into_inner());
        let mut index = self.app_index.write().unwrap_or_else(|e| e.into_inner());
        if tenants.contains_key(id) {
            return Err(TenantError::Exists(id.to_owned()));
        }
        for app in &world.apps {
            if let Some(owner) = index.get(&app.consumer_key) {
                return Err(TenantError::KeyTaken { key: app.consumer_key.clone(), tenant: owner.clone() });
            }
        }
        for app in &world.apps {
            index.insert(app.consumer_key.clone(), id.to_owned());
        }
        let now = clock.now();
        let tenant = Arc::new(Tenant {
            id: id.to_owned(),
            clock,
            journal: Journal::new(self.limits.journal_entries),
            seed: self.seed,
            limits: self.limits,
            state: Mutex::new(TenantState::new(world, self.seed, id, self.limits, scenarios, now)),
            wakeups: self.wakeups.clone(),
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
        let mut index = self.app_index.write().unwrap_or_else(|e| e.into_inner());
        let Some(tenant) = tenants.remove(id) else { return Ok(None) };
        index.retain(|_, owner| owner != id);
        drop(index);
        drop(tenants);
        self.grants.lock().unwrap_or_else(|e| e.into_inner()).retain(|g| g.tenant != id);
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
            let n = self.id_counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            let id = format!("tenant-{n}");
            if self.get(&id).is_none() {
                return id;
            }
        }
    }

    pub fn count(&self) -> usize {
        self.tenants.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The tenant whose world has an app with this consumer key.
    pub fn by_consumer_key(&self, consumer_key: &str) -> Option<Arc<Tenant>> {
        let id = self.app_index.read().unwrap_or_else(|e| e.into_inner()).get(consumer_key).cloned()?;
        self.get(&id)
    }

    /// Records a token. Expired tokens are purged whenever the map has
    /// doubled since the last purge, so token churn cannot grow memory
    /// without bound.
    pub fn grant(&self, token: String, grant: Grant) {
        let len = {
            let mut grants = self.grants.lock().unwrap_or_else(|e| e.into_inner());
            grants.insert(token, grant);
            grants.by_token.len()
        };
        let threshold = self.purge_threshold.load(std::sync::atomic::Ordering::Relaxed);
        if len >= threshold {
            let kept = len - self.purge_expired_grants();
            self.purge_threshold.store((kept * 2).max(MIN_PURGE_THRESHOLD), std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Revokes every token issued to `subject` in `tenant` for `provider`.
    pub fn revoke(&self, tenant: &str, provider: &str, subject: &str) {
        let mut grants = self.grants.lock().unwrap_or_else(|e| e.into_inner());
        grants.retain(|g| !(g.tenant == tenant && g.provider == provider && g.subject == subject));
    }

    /// The grant behind a token, with its tenant, if the token exists.
    /// Expiry is the caller's business (it depends on the tenant's clock).
    pub fn lookup(&self, token: &str) -> Option<(Grant, Arc<Tenant>)> {
        let grant = self.grants.lock().unwrap_or_else(|e| e.into_inner()).by_token.get(token).cloned()?;
        let tenant = self.get(&grant.tenant)?;
        Some((grant, tenant))
    }

    /// Forgets tokens whose expiry has passed on their tenant's clock.
    pub fn purge_expired_grants(&self) -> usize {
        let now_by_tenant: HashMap<String, DateTime<Utc>> =
            self.all().into_iter().map(|t| (t.id.clone(), t.now())).collect();
        let mut grants = self.grants.lock().unwrap_or_else(|e| e.into_inner());
        let before = grants.by_token.len();
        grants.retain(|g| now_by_tenant.get(&g.tenant).is_some_and(|now| *now < g.expires_at));
        before - grants.by_token.len()
    }

    pub fn grant_count(&self) -> usize {
        self.grants.lock().unwrap_or_else(|e| e.into_inner()).by_token.len()
    }
}

/// Live tokens of each app and tenant: more than this and the oldest is
/// revoked, so a client that fetches a token per request (they exist) cannot
/// grow memory for the token's whole lifetime.
pub const MAX_TOKENS_PER_APP: usize = 1_000;

/// Issued tokens: by value for lookups, and in issue order per app.
#[derive(Default)]
struct Grants {
    by_token: HashMap<String, Grant>,
    /// (tenant, provider, subject) → its tokens, oldest first.
    issued: HashMap<(String, &'static str, String), std::collections::VecDeque<String>>,
}

impl Grants {
    fn insert(&mut self, token: String, grant: Grant) {
        let key = (grant.tenant.clone(), grant.provider, grant.subject.clone());
        let order = self.issued.entry(key).or_default();
        order.push_back(token.clone());
        while order.len() > MAX_TOKENS_PER_APP {
            if let Some(oldest) = order.pop_front() {
                self.by_token.remove(&oldest);
            }
        }
        self.by_token.insert(token, grant);
    }

    fn retain(&mut self, keep: impl Fn(&Grant) -> bool) {
        self.by_token.retain(|_, g| keep(g));
        let by_token = &self.by_token;
        self.issued.retain(|_, order| {
            order.retain(|t| by_token.contains_key(t));
            !order.is_empty()
        });
    }
}

/// When each system-clock tenant next has something due.
#[derive(Debug, Default)]
pub struct Wakeups {
    inner: Mutex<WakeInner>,
    /// Signalled when a tenant's earliest due time moves earlier than
    /// everything the scheduler is sleeping towards.
    pub notify: Notify,
}

#[derive(Debug, Default)]
struct WakeInner {
    by_tenant: HashMap<String, DateTime<Utc>>,
    queue: BTreeSet<(DateTime<Utc>, String)>,
}

impl Wakeups {
    pub fn arm(&self, tenant: &str, at: Option<DateTime<Utc>>) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let previous = inner.by_tenant.get(tenant).copied();
        if previous == at {
            return;
        }
        if let Some(prev) = previous {
            inner.queue.remove(&(prev, tenant.to_owned()));
            inner.by_tenant.remove(tenant);
        }
        let Some(at) = at else { return };
        let earliest_before = inner.queue.first().map(|(t, _)| *t);
        inner.queue.insert((at, tenant.to_owned()));
        inner.by_tenant.insert(tenant.to_owned(), at);
        drop(inner);
        if earliest_before.is_none_or(|e| at < e) {
            self.notify.notify_one();
        }
    }

    pub fn next(&self) -> Option<DateTime<Utc>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).queue.first().map(|(t, _)| *t)
    }

    /// Removes and returns the tenants due at or before `now`.
    pub fn take_due(&self, now: DateTime<Utc>) -> Vec<String> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut due = Vec::new();
        while let Some((at, _)) = inner.queue.first() {
            if *at > now {
                break;
            }
            if let Some((_, tenant)) = inner.queue.pop_first() {
                inner.by_tenant.remove(&tenant);
                due.push(tenant);
            }
        }
        due
    }
}

/// The built-in default scenario as a set of its own.
fn default_scenarios() -> &'static ScenarioSet {
    static DEFAULT: std::sync::OnceLock<ScenarioSet> = std::sync::OnceLock::new();
    DEFAULT.get_or_init(|| ScenarioSet { scenarios: vec![crate::scenarios::default()] })
}
