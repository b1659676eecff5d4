//! The engine: one lane of callbacks per tenant, served in turn, pooled
//! HTTP clients.
//!
//! Fairness: every tenant has its own lane (a queue and its own in-flight
//! count). Deliveries start one job from each ready lane in turn, a lane
//! may have at most `concurrency` deliveries in flight, and the engine at
//! most `max_in_flight` in all; so a tenant whose receivers hang fills only
//! its own slots, and the others keep theirs. They start where a slot or a
//! job appears, under the lanes' lock: when jobs are handed over and when a
//! delivery frees its slot. The dispatcher task looks after the lanes that
//! wait for a slot (and whatever was handed over outside the runtime).
//! Back-pressure is per tenant too: [`CallbackEngine::admit`] holds a
//! request only while its own tenant's lane is backed up.
//!
//! Receivers that do not answer: each attempt of a system-clock lane asks
//! the destination's circuit breaker first ([`super::breaker`]). A job whose
//! destination's circuit is open is journaled as failed without being sent
//! and takes no slot, so a lane whose slots are all held by a hanging
//! receiver still moves: while a lane waits for a slot, the dispatcher looks
//! at its next job every half breaker window.
//!
//! Order: the lane of a tenant on a virtual clock is sequential (one
//! delivery at a time, in the order the jobs were handed over, each
//! released out-of-order callback right after the delivery that released
//! it), so the journal of a virtual-clock run is deterministic. After such
//! a lane's last delivery, whatever that delivery made due (a C2B
//! validation answer) is settled and delivered too, a bounded number of
//! rounds.
//!
//! Ownership: delivery belongs to the engine's tasks, never to the request
//! that handed the jobs over; an admin call may wait for a lane to drain
//! ([`CallbackEngine::wait_idle`]), and dropping that wait loses nothing.

use std::collections::VecDeque;

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::FutureExt;
use serde::Serialize;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::allowlist::Destination;
use super::breaker::{Attempt, BreakerConfig, Breakers};
use super::deliver::{deliver, Clients};
use super::{journal_unsent, CallbackJob};
use crate::fastmap::HashMap;
use crate::journal::DeliveryOutcome;
use crate::store::Tenant;
use crate::supervisor::Health;

#[derive(Debug, Clone, Copy)]
pub struct EngineConfig {
    /// Callbacks one tenant may have waiting; requests of a tenant whose
    /// lane is more than half full wait for room.
    pub queue_capacity: usize,
    /// Deliveries one tenant may have in flight at once.
    pub concurrency: usize,
    /// Deliveries the engine may have in flight at once, all tenants together.
    pub max_in_flight: usize,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// How much of a receiver's answer is kept in the journal.
    pub response_capture_bytes: usize,
    /// When a destination that does not answer stops being tried for a while.
    pub breaker: BreakerConfig,
}

/// How many times a virtual-clock lane settles what its own deliveries made
/// due before it stops and waits for the clock to move again.
const FOLLOW_UP_ROUNDS: u32 = 16;

#[derive(Debug, Default)]
pub(super) struct Stats {
    pub(super) enqueued: AtomicU64,
    pub(super) delivered: AtomicU64,
    pub(super) failed: AtomicU64,
    pub(super) retries_scheduled: AtomicU64,
    pub(super) abandoned: AtomicU64,
    pub(super) short_circuited: AtomicU64,
}

/// Counters of the engine since start.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct EngineStats {
    pub enqueued: u64,
    pub delivered: u64,
    pub failed: u64,
    pub retries_scheduled: u64,
    pub abandoned: u64,
    /// Attempts failed at once, unsent, because their destination's circuit
    /// was open (counted in `failed` too).
    pub short_circuited: u64,
    pub in_flight: u64,
    /// Callbacks waiting behind the next one in line of their tenant's lane.
    pub queued: u64,
    /// Tenants with callbacks waiting or in flight.
    pub busy_tenants: u64,
}

/// A callback that was never delivered, as the shutdown report lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UnsentCallback {
    pub tenant: String,
    pub provider: &'static str,
    pub kind: &'static str,
    /// The transaction's id the receiver correlates on.
    pub correlation_id: String,
    pub url: String,
    /// `queued`, `in_flight`, `due` (on the timeline, its time passed) or
    /// `scheduled` (on the timeline, not yet due).
    pub state: &'static str,
}

impl UnsentCallback {
    pub(crate) fn of(tenant: &str, job: &CallbackJob, state: &'static str) -> UnsentCallback {
        UnsentCallback {
            tenant: tenant.to_owned(),
            provider: job.provider,
            kind: job.kind,
            correlation_id: job.correlation_id.to_string(),
            url: job.url.to_string(),
            state,
        }
    }
}

/// Settles what is due on a tenant's clock and returns the callbacks it
/// released (the scheduler's job, handed to the engine at start so the
/// engine does not depend on the scheduler).
pub(crate) type Settle = Arc<dyn Fn(&Arc<Tenant>) -> Vec<CallbackJob> + Send + Sync>;

/// One tenant's lane.
struct Lane {
    tenant: Arc<Tenant>,
    queue: VecDeque<CallbackJob>,
    /// Deliveries in flight, by delivery number.
    in_flight: HashMap<u64, CallbackJob>,
    /// Jobs refused by their circuit and being journaled (they hold no slot).
    not_sent: usize,
    /// One delivery at a time, in order (a virtual clock).
    ordered: bool,
    /// Whether the lane is in the ready ring.
    ready: bool,
    /// Whether the lane is in the list of lanes waiting for a slot.
    capped: bool,
    follow_up_rounds: u32,
    /// Signalled when a job leaves the queue (admission waits on it).
    room: Arc<crate::signal::Signal>,
    /// Signalled when the lane has nothing queued or in flight.
    idle: Arc<Notify>,
}

impl Lane {
    /// Tells admission how many jobs wait now; called after every change to the queue.
    fn counted(&self) {
        self.tenant.callback_backlog.store(self.queue.len(), Ordering::Relaxed);
    }

    fn is_idle(&self) -> bool {
        self.queue.is_empty() && self.in_flight.is_empty() && self.not_sent == 0
    }
}

#[derive(Default)]
struct Lanes {
    by_tenant: HashMap<String, Lane>,
    /// Tenants whose lane has a job and a free slot, in turn order.
    ring: VecDeque<String>,
    /// Tenants whose lane has jobs but no free slot: their next job may
    /// still go if its destination's circuit is open (it needs no slot).
    capped: Vec<String>,
    in_flight: usize,
    queued: usize,
    next_delivery: u64,
    closed: bool,
}

impl Lanes {
    fn lane(&mut self, tenant: &Arc<Tenant>) -> &mut Lane {
        self.by_tenant.entry(tenant.id.clone()).or_insert_with(|| Lane {
            tenant: tenant.clone(),
            queue: VecDeque::new(),
            in_flight: HashMap::default(),
            not_sent: 0,
            ordered: tenant.clock.is_virtual(),
            ready: false,
            capped: false,
            follow_up_rounds: 0,
            room: Arc::new(crate::signal::Signal::default()),
            idle: Arc::new(Notify::new()),
        })
    }

    /// Puts a lane in the ring if it has a job and a free slot, or among
    /// the capped lanes if it has jobs and no slot.
    fn refresh(&mut self, tenant: &str, per_tenant: usize) {
        let Some(lane) = self.by_tenant.get_mut(tenant) else { return };
        let cap = if lane.ordered { 1 } else { per_tenant };
        if lane.ready || lane.queue.is_empty() {
            return;
        }
        if lane.in_flight.len() < cap {
            lane.ready = true;
            self.ring.push_back(tenant.to_owned());
        } else if !lane.ordered && !lane.capped {
            lane.capped = true;
            self.capped.push(tenant.to_owned());
        }
    }

    /// Moves the capped lanes whose next job's circuit is open into the
    /// ring (that job fails at once and needs no slot), and those with a
    /// free slot again.
    fn sweep(&mut self, per_tenant: usize, shed_at: usize, breakers: &Breakers) {
        for id in std::mem::take(&mut self.capped) {
            let Some(lane) = self.by_tenant.get_mut(&id) else { continue };
            lane.capped = false;
            if lane.ready || lane.queue.is_empty() {
                continue;
            }
            let backed_up = lane.queue.len() >= shed_at;
            if lane.queue.front().is_some_and(|job| breakers.check(&job.url, backed_up).is_some()) {
                lane.ready = true;
                self.ring.push_back(id);
            } else {
                self.refresh(&id, per_tenant);
            }
        }
    }

    /// The next job to start (or to fail at once, its circuit open),
    /// taking lanes in turn.
    /// A lane with `shed_at` jobs waiting is backed up: its requests are
    /// about to be held, so a silent destination's jobs fail rather than wait.
    fn next(&mut self, limits: (usize, usize, usize), breakers: &Arc<Breakers>) -> Option<Next> {
        let (per_tenant, max_in_flight, shed_at) = limits;
        if self.closed || self.in_flight >= max_in_flight {
            return None;
        }
        while let Some(id) = self.ring.pop_front() {
            let Some(lane) = self.by_tenant.get_mut(&id) else { continue };
            lane.ready = false;
            let cap = if lane.ordered { 1 } else { per_tenant };
            let permit = if lane.ordered {
                if lane.in_flight.len() >= cap {
                    continue;
                }
                Ok(None)
            } else {
                let backed_up = lane.queue.len() >= shed_at;
                let Some(job) = lane.queue.front() else { continue };
                // With a slot free, admitting it checks its circuit too
                // (one turn of the breakers' lock); without, an open
                // circuit still fails it at once rather than have it wait.
                if lane.in_flight.len() < cap {
                    breakers.admit(&job.url, backed_up)
                } else if let Some(why) = breakers.check(&job.url, backed_up) {
                    Err(why)
                } else {
                    self.refresh(&id, per_tenant);
                    continue;
                }
            };
            let Some(job) = lane.queue.pop_front() else { continue };
            lane.counted();
            lane.room.notify_waiters();
            let tenant = lane.tenant.clone();
            self.queued = self.queued.saturating_sub(1);
            self.in_flight = self.in_flight.saturating_add(1);
            let next = match permit {
                // Not sent: it takes no slot of its lane.
                Err(why) => {
                    lane.not_sent = lane.not_sent.saturating_add(1);
                    Next::NotSent { tenant, job, why }
                }
                Ok(attempt) => {
                    self.next_delivery = self.next_delivery.wrapping_add(1);
                    let number = self.next_delivery;
                    lane.in_flight.insert(number, job.clone());
                    Next::Start { number, tenant, job, attempt }
                }
            };
            self.refresh(&id, per_tenant);
            return Some(next);
        }
        None
    }
}

/// What the dispatcher does next.
enum Next {
    /// A delivery in slot `number`, with the breaker's leave.
    Start { number: u64, tenant: Arc<Tenant>, job: CallbackJob, attempt: Option<Attempt> },
    /// A job whose destination's circuit is open: journaled as failed, unsent.
    NotSent { tenant: Arc<Tenant>, job: CallbackJob, why: String },
}

struct Inner {
    lanes: Mutex<Lanes>,
    /// Wakes the dispatcher: a job arrived or a slot freed.
    wake: Notify,
    stats: Stats,
    clients: Clients,
    capture: usize,
    allow: Arc<[Destination]>,
    breakers: Arc<Breakers>,
    /// The breaker's window, for the dispatcher's look at capped lanes.
    window: Duration,
    capacity: usize,
    per_tenant: usize,
    max_in_flight: usize,
    settle: Settle,
    health: Arc<Health>,
    /// Where deliveries run, so shutdown can wait for them.
    tasks: TaskTracker,
}

impl Inner {
    fn lanes(&self) -> MutexGuard<'_, Lanes> {
        self.lanes.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Clone)]
pub struct CallbackEngine {
    inner: Arc<Inner>,
}

impl CallbackEngine {
    /// Starts the dispatcher on `tracker`; it runs until `close` is
    /// cancelled. `settle` settles a tenant's due events (for the follow-up
    /// rounds of virtual-clock lanes).
    pub(crate) fn start(
        config: EngineConfig,
        allow: Vec<Destination>,
        tracker: &TaskTracker,
        close: CancellationToken,
        settle: Settle,
        health: Arc<Health>,
    ) -> Result<CallbackEngine, reqwest::Error> {
        let clients = Clients::new(config.timeout, config.connect_timeout, config.concurrency)?;
        let per_tenant = config.concurrency.max(1);
        let inner = Arc::new(Inner {
            lanes: Mutex::new(Lanes::default()),
            wake: Notify::new(),
            stats: Stats::default(),
            clients,
            capture: config.response_capture_bytes,
            allow: Arc::from(allow),
            breakers: Arc::new(Breakers::new(config.breaker)),
            window: config.breaker.window,
            capacity: config.queue_capacity.max(1),
            per_tenant,
            max_in_flight: config.max_in_flight.max(per_tenant),
            settle,
            health: health.clone(),
            tasks: tracker.clone(),
        });
        let engine = CallbackEngine { inner };
        let dispatcher = engine.clone();
        crate::supervisor::supervise(tracker, health, "callback dispatcher", close.clone(), move || {
            dispatcher.clone().dispatch(close.clone())
        });
        Ok(engine)
    }

    /// Waits while this tenant's lane is more than half full: a request
    /// that will produce callbacks is admitted only when the engine keeps
    /// up with its tenant, so under sustained load acceptance slows to that
    /// tenant's delivery rate, and other tenants are not held.
    /// Not a sleep: it wakes as the lane drains.
    pub async fn admit(&self, tenant: &Tenant) {
        // The job next in line is not a backlog.
        let limit = (self.inner.capacity / 2).saturating_add(1);
        // Far from full as last counted: no need for the engine's lock. A lane
        // filling meanwhile admits one request more, as it could right after
        // the locked look below.
        if tenant.callback_backlog.load(Ordering::Relaxed) <= limit {
            return;
        }
        loop {
            let room = {
                let lanes = self.inner.lanes();
                match lanes.by_tenant.get(&tenant.id) {
                    Some(lane) if !lanes.closed && lane.queue.len() > limit => lane.room.clone(),
                    _ => return,
                }
            };
            let _waiting = room.waiting();
            let notified = room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let still_full = {
                let lanes = self.inner.lanes();
                lanes.by_tenant.get(&tenant.id).is_some_and(|lane| !lanes.closed && lane.queue.len() > limit)
            };
            if !still_full {
                return;
            }
            notified.await;
        }
    }

    /// Hands a tenant's jobs to its lane, in order. Never waits; a job
    /// handed over after shutdown is journaled as abandoned.
    pub(crate) fn hand_over(&self, tenant: &Arc<Tenant>, jobs: Vec<CallbackJob>) {
        if jobs.is_empty() {
            return;
        }
        let count = u64::try_from(jobs.len()).unwrap_or(u64::MAX);
        self.inner.stats.enqueued.fetch_add(count, Ordering::Relaxed);
        let refused = {
            let mut lanes = self.inner.lanes();
            if lanes.closed {
                Err(jobs)
            } else {
                let lane = lanes.lane(tenant);
                lane.follow_up_rounds = FOLLOW_UP_ROUNDS;
                lane.queue.extend(jobs);
                lane.counted();
                lanes.queued = lanes.queued.saturating_add(usize::try_from(count).unwrap_or(usize::MAX));
                lanes.refresh(&tenant.id, self.inner.per_tenant);
                // Start what can start here, as the dispatcher's round would,
                // rather than wake the dispatcher for it (a task switch per
                // callback). Lanes left waiting for a slot are its business.
                let started_here = tokio::runtime::Handle::try_current().is_ok();
                if started_here {
                    self.start_ready(&mut lanes);
                }
                Ok(!started_here || !lanes.capped.is_empty())
            }
        };
        match refused {
            Err(jobs) => {
                for job in jobs {
                    self.inner.stats.abandoned.fetch_add(1, Ordering::Relaxed);
                    journal_unsent(tenant, &job, DeliveryOutcome::Abandoned, "the sandbox was shutting down");
                }
            }
            Ok(true) => self.inner.wake.notify_one(),
            Ok(false) => {}
        }
    }

    /// Starts every delivery the lanes allow now, lanes in turn; returns
    /// whether it started any.
    fn start_ready(&self, lanes: &mut Lanes) -> bool {
        let mut started = false;
        while let Some(next) = self.next_ready(lanes) {
            let engine = self.clone();
            self.inner.tasks.spawn(async move { engine.run_deliveries(next).await });
            started = true;
        }
        started
    }

    /// The next delivery the lanes allow now, lanes in turn.
    fn next_ready(&self, lanes: &mut Lanes) -> Option<Next> {
        let inner = &self.inner;
        // Where admission starts holding a tenant's requests.
        let shed_at = inner.capacity / 2;
        lanes.next((inner.per_tenant, inner.max_in_flight, shed_at), &inner.breakers)
    }

    /// Waits until the tenant's lane has nothing queued or in flight, at
    /// most `timeout`; returns whether it did.
    pub(crate) async fn wait_idle(&self, tenant: &str, timeout: Duration) -> bool {
        let deadline = crate::clock::deadline(timeout);
        loop {
            let idle = {
                let lanes = self.inner.lanes();
                match lanes.by_tenant.get(tenant) {
                    Some(lane) if !lane.is_idle() => lane.idle.clone(),
                    _ => return true,
                }
            };
            let notified = idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.inner.lanes().by_tenant.get(tenant).is_none_or(Lane::is_idle) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.inner.lanes().by_tenant.get(tenant).is_none_or(Lane::is_idle);
            }
        }
    }

    /// Whether no lane has anything queued or in flight.
    pub(crate) fn is_idle(&self) -> bool {
        let lanes = self.inner.lanes();
        lanes.queued == 0 && lanes.in_flight == 0
    }

    /// Forgets a deleted tenant's lane; its waiting jobs are dropped.
    pub(crate) fn forget(&self, tenant: &str) {
        let removed = {
            let mut lanes = self.inner.lanes();
            let removed = lanes.by_tenant.remove(tenant);
            if let Some(lane) = &removed {
                lanes.queued = lanes.queued.saturating_sub(lane.queue.len());
                lane.tenant.callback_backlog.store(0, Ordering::Relaxed);
            }
            removed
        };
        if let Some(lane) = removed {
            lane.room.notify_waiters();
            lane.idle.notify_waiters();
        }
    }

    /// Stops starting deliveries; returns what was still queued or in
    /// flight (journaling the queued ones as abandoned). Deliveries in
    /// flight finish on their own if the runtime lets them.
    pub(crate) fn close(&self) -> Vec<UnsentCallback> {
        let mut unsent = Vec::new();
        let mut abandoned = Vec::new();
        {
            let mut lanes = self.inner.lanes();
            lanes.closed = true;
            lanes.queued = 0;
            lanes.ring.clear();
            lanes.capped.clear();
            for lane in lanes.by_tenant.values_mut() {
                for job in lane.in_flight.values() {
                    unsent.push(UnsentCallback::of(&lane.tenant.id, job, "in_flight"));
                }
                for job in lane.queue.drain(..) {
                    unsent.push(UnsentCallback::of(&lane.tenant.id, &job, "queued"));
                    abandoned.push((lane.tenant.clone(), job));
                }
                lane.counted();
                lane.room.notify_waiters();
                lane.idle.notify_waiters();
            }
        }
        for (tenant, job) in abandoned {
            self.inner.stats.abandoned.fetch_add(1, Ordering::Relaxed);
            journal_unsent(&tenant, &job, DeliveryOutcome::Abandoned, "the sandbox stopped before delivering it");
        }
        self.inner.wake.notify_one();
        unsent
    }

    pub fn stats(&self) -> EngineStats {
        let s = &self.inner.stats;
        let (in_flight, queued, busy) = {
            let lanes = self.inner.lanes();
            let busy = lanes.by_tenant.values().filter(|l| !l.is_idle()).count();
            // The job next in line of each lane is not a backlog (as admission counts).
            let heads = lanes.by_tenant.values().filter(|l| !l.queue.is_empty()).count();
            (lanes.in_flight, lanes.queued.saturating_sub(heads), busy)
        };
        let as_u64 = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        EngineStats {
            enqueued: s.enqueued.load(Ordering::Relaxed),
            delivered: s.delivered.load(Ordering::Relaxed),
            failed: s.failed.load(Ordering::Relaxed),
            retries_scheduled: s.retries_scheduled.load(Ordering::Relaxed),
            abandoned: s.abandoned.load(Ordering::Relaxed),
            short_circuited: s.short_circuited.load(Ordering::Relaxed),
            in_flight: as_u64(in_flight),
            queued: as_u64(queued),
            busy_tenants: as_u64(busy),
        }
    }

    /// The dispatcher: starts deliveries, lanes in turn, until `close`.
    /// While a lane waits for a slot, it looks again every half window:
    /// its next job may meanwhile be refused by its destination's circuit.
    async fn dispatch(self, close: CancellationToken) {
        let inner = &self.inner;
        let tick = inner.window.checked_div(2).unwrap_or_default().max(Duration::from_millis(10));
        loop {
            let woken = inner.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            // Rounds until nothing starts: a capped lane whose next job was
            // refused by its circuit is looked at again at once.
            let capped = loop {
                let mut lanes = inner.lanes();
                lanes.sweep(inner.per_tenant, inner.capacity / 2, &inner.breakers);
                if !self.start_ready(&mut lanes) {
                    break !lanes.capped.is_empty();
                }
            };
            tokio::select! {
                _ = close.cancelled() => return,
                _ = woken => {}
                _ = tokio::time::sleep(tick), if capped => {}
            }
        }
    }

    /// Deliveries one after another: each freed slot's next job is taken
    /// by the task that freed it, sparing a task spawned, scheduled and
    /// freed per callback (a tenth of a delivery's time in `perf`); other
    /// slots free at once get tasks of their own.
    async fn run_deliveries(self, next: Next) {
        let mut next = Some(next);
        while let Some(now) = next.take() {
            next = self.run_delivery(now).await;
        }
    }

    /// One delivery, then the lane's bookkeeping (even if the delivery
    /// panicked): released callbacks go back into the lane, an ordered
    /// lane's follow-ups are settled, the slot is freed and the next
    /// delivery it allows is returned for this task to make.
    async fn run_delivery(&self, next: Next) -> Option<Next> {
        let inner = &self.inner;
        let (number, tenant, job, permit) = match next {
            Next::Start { number, tenant, job, attempt } => (Some(number), tenant, job, Ok(attempt)),
            Next::NotSent { tenant, job, why } => (None, tenant, job, Err(why)),
        };
        // Boxed: its state (over 3 KiB, the HTTP exchange's) would otherwise
        // make this task's future as large, copied whole when it is spawned
        // and again as the task's stage changes.
        let delivery =
            Box::pin(deliver(&inner.clients, &inner.stats, inner.capture, &inner.allow, permit, tenant.clone(), job));
        let released = match AssertUnwindSafe(delivery).catch_unwind().await {
            Ok(released) => released,
            Err(panic) => {
                inner.health.record("callback delivery", Some(&tenant.id), panic.as_ref());
                Vec::new()
            }
        };
        // An ordered lane's last delivery may have made more due (a
        // validation answer whose confirmation follows at once). Only a
        // virtual-clock tenant's lane is ordered (a tenant's clock never
        // changes kind), so no other delivery takes the lanes' lock for it.
        let last = tenant.clock.is_virtual()
            && inner.lanes().by_tenant.get(&tenant.id).is_some_and(|lane| {
                lane.ordered
                    && lane.queue.is_empty()
                    && released.is_empty()
                    && lane.in_flight.len() == 1
                    && lane.follow_up_rounds > 0
            });
        // The tenant's lock is never taken under the lanes' lock.
        let follow_ups = last && {
            let now = tenant.now();
            tenant.with_core(|core| core.timeline.earliest().is_some_and(|at| at <= now))
        };
        if follow_ups {
            if let Some(lane) = inner.lanes().by_tenant.get_mut(&tenant.id) {
                lane.follow_up_rounds = lane.follow_up_rounds.saturating_sub(1);
            }
        }
        let more = if follow_ups {
            match std::panic::catch_unwind(AssertUnwindSafe(|| (inner.settle)(&tenant))) {
                Ok(jobs) => jobs,
                Err(panic) => {
                    inner.health.record("settling due events", Some(&tenant.id), panic.as_ref());
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        let (idle, closed_with, wake, mine) = {
            let mut lanes = inner.lanes();
            lanes.in_flight = lanes.in_flight.saturating_sub(1);
            let closed = lanes.closed;
            let added = released.len().saturating_add(more.len());
            // The tenant was deleted while this was in flight: its lane is gone
            // and what this delivery released goes with it.
            let Some(lane) = lanes.by_tenant.get_mut(&tenant.id) else {
                drop(lanes);
                inner.wake.notify_one();
                return None;
            };
            match number {
                Some(number) => {
                    lane.in_flight.remove(&number);
                }
                None => lane.not_sent = lane.not_sent.saturating_sub(1),
            }
            let mut closed_with = Vec::new();
            if closed {
                closed_with.extend(released.into_iter().chain(more));
            } else {
                // Released callbacks go first on an ordered lane, right
                // after the delivery that released them.
                for (i, job) in released.into_iter().enumerate() {
                    if lane.ordered {
                        lane.queue.insert(i, job);
                    } else {
                        lane.queue.push_back(job);
                    }
                }
                lane.queue.extend(more);
                lane.counted();
            }
            let idle = lane.is_idle().then(|| lane.idle.clone());
            if !closed {
                lanes.queued = lanes.queued.saturating_add(added);
            }
            lanes.refresh(&tenant.id, inner.per_tenant);
            // The freed slot goes to the next job at once, in this task;
            // any other slot free goes to a task of its own, and the
            // dispatcher is woken only for lanes still waiting for a slot.
            let (mine, wake) = if closed {
                (None, false)
            } else {
                let mine = self.next_ready(&mut lanes);
                self.start_ready(&mut lanes);
                (mine, !lanes.capped.is_empty())
            };
            (idle, closed_with, wake, mine)
        };
        for job in closed_with {
            inner.stats.abandoned.fetch_add(1, Ordering::Relaxed);
            journal_unsent(&tenant, &job, DeliveryOutcome::Abandoned, "the sandbox was shutting down");
        }
        if let Some(idle) = idle {
            idle.notify_waiters();
        }
        if wake {
            inner.wake.notify_one();
        }
        mine
    }
}
