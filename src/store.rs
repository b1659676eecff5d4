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

use crate::callbacks::CallbackJob;
use crate::clock::Clock;
use crate::ids::IdGen;
use crate::journal::Journal;
use crate::ledger::{Account, Ledger, Money};
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
    Deliver(CallbackJob),
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
    pub daraja: crate::daraja::State,
}

impl TenantState {
    fn new(world: Arc<World>, seed: u64, tenant_id: &str, limits: Limits) -> TenantState {
        let mut ledger = Ledger::new(limits.ledger_history);
        for sc in world.shortcodes.values() {
            ledger.open(Account::utility(&sc.number), sc.opening_balance);
        }
        for c in world.customers.values() {
            ledger.open(Account::Customer(c.msisdn.clone()), c.opening_balance);
        }
        TenantState {
            ledger,
            ids: IdGen::new(seed, tenant_id),
            timeline: Timeline::default(),
            daraja: crate::daraja::State::default(),
            limits,
            world,
        }
    }

    /// Makes sure a customer exists: anyone with a well-formed line can be
    /// prompted, so an unknown MSISDN becomes a customer with the world's
    /// default balance.
    pub fn ensure_customer(&mut self, msisdn: &str) -> Money {
        let opening = self.world.customer_defaults.balance;
        self.ledger.open(Account::Customer(msisdn.to_owned()), opening)
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
            let dropped = state.timeline.len();
            *state = TenantState::new(world, self.seed, &self.id, self.limits);
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

/// All tenants, and the indexes that route requests to them.
pub struct Tenants {
    tenants: RwLock<HashMap<String, Arc<Tenant>>>,
    grants: Mutex<HashMap<String, Grant>>,
    pub wakeups: Arc<Wakeups>,
    seed: u64,
    limits: Limits,
}

impl Tenants {
    pub fn new(seed: u64, world: Arc<World>, clock: Clock, limits: Limits) -> Tenants {
        let tenants = Tenants {
            tenants: RwLock::new(HashMap::new()),
            grants: Mutex::new(HashMap::new()),
            wakeups: Arc::new(Wakeups::default()),
            seed,
            limits,
        };
        tenants.create(DEFAULT_TENANT, world, clock);
        tenants
    }

    /// Creates (or replaces) a tenant.
    pub fn create(&self, id: &str, world: Arc<World>, clock: Clock) -> Arc<Tenant> {
        let tenant = Arc::new(Tenant {
            id: id.to_owned(),
            clock,
            journal: Journal::new(self.limits.journal_entries),
            seed: self.seed,
            limits: self.limits,
            state: Mutex::new(TenantState::new(world, self.seed, id, self.limits)),
            wakeups: self.wakeups.clone(),
        });
        self.tenants.write().unwrap_or_else(|e| e.into_inner()).insert(id.to_owned(), tenant.clone());
        tenant
    }

    pub fn get(&self, id: &str) -> Option<Arc<Tenant>> {
        self.tenants.read().unwrap_or_else(|e| e.into_inner()).get(id).cloned()
    }

    pub fn default_tenant(&self) -> Arc<Tenant> {
        // The default tenant is created in `new` and never removed.
        self.get(DEFAULT_TENANT).expect("the default tenant always exists")
    }

    pub fn all(&self) -> Vec<Arc<Tenant>> {
        let mut all: Vec<_> = self.tenants.read().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// The tenant whose world has an app with this consumer key.
    pub fn by_consumer_key(&self, consumer_key: &str) -> Option<Arc<Tenant>> {
        self.all().into_iter().find(|t| t.world().app_by_key(consumer_key).is_some())
    }

    pub fn grant(&self, token: String, grant: Grant) {
        let mut grants = self.grants.lock().unwrap_or_else(|e| e.into_inner());
        grants.insert(token, grant);
    }

    /// Revokes every token issued to `subject` in `tenant` for `provider`.
    pub fn revoke(&self, tenant: &str, provider: &str, subject: &str) {
        let mut grants = self.grants.lock().unwrap_or_else(|e| e.into_inner());
        grants.retain(|_, g| !(g.tenant == tenant && g.provider == provider && g.subject == subject));
    }

    /// The grant behind a token, with its tenant, if the token exists.
    /// Expiry is the caller's business (it depends on the tenant's clock).
    pub fn lookup(&self, token: &str) -> Option<(Grant, Arc<Tenant>)> {
        let grant = self.grants.lock().unwrap_or_else(|e| e.into_inner()).get(token).cloned()?;
        let tenant = self.get(&grant.tenant)?;
        Some((grant, tenant))
    }

    /// Forgets tokens whose expiry has passed on their tenant's clock.
    pub fn purge_expired_grants(&self) -> usize {
        let mut grants = self.grants.lock().unwrap_or_else(|e| e.into_inner());
        let before = grants.len();
        let now_by_tenant: HashMap<String, DateTime<Utc>> =
            self.all().into_iter().map(|t| (t.id.clone(), t.now())).collect();
        grants.retain(|_, g| now_by_tenant.get(&g.tenant).is_some_and(|now| *now < g.expires_at));
        before - grants.len()
    }

    pub fn grant_count(&self) -> usize {
        self.grants.lock().unwrap_or_else(|e| e.into_inner()).len()
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
