//! Releases due events from tenants' timelines.
//!
//! [`settle`] pops every event whose time has come on a tenant's clock and
//! lets the owning provider act on it (settle a payment, ...); the
//! resulting callbacks go to the callback engine, in timeline order
//! ([`settle_due`]). [`run`] is the background task that settles
//! system-clock tenants when their earliest event falls due; virtual-clock
//! tenants are settled when their clock is moved.
//!
//! **Invariant:** one event that trips a bug (a panic) is logged, reported
//! by health and skipped; the tenant's other events and every other tenant
//! go on.

// Time, money and counts from outside: every computation here saturates or
// is checked, and the lint keeps it so.
#![warn(clippy::arithmetic_side_effects)]

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::app_state::AppState;
use crate::callbacks::{self, CallbackJob};
use crate::journal::DeliveryOutcome;
use crate::providers;
use crate::store::{Event, Tenant};
use crate::supervisor::Health;

/// How released callbacks reach the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Release {
    /// Hand them to the engine and return.
    Queue,
    /// Hand them to the engine and wait (bounded) until the tenant's lane
    /// has delivered them; on a virtual clock they go one by one, in
    /// timeline order.
    InOrder,
}

/// How long [`Release::InOrder`] waits for deliveries by default.
pub(crate) const DEFAULT_WAIT: Duration = Duration::from_secs(30);

/// Settles every event due on the tenant's clock and hands the callbacks to
/// the engine; returns how many callbacks were released.
pub(crate) async fn settle_due(app: &AppState, tenant: &Arc<Tenant>) -> usize {
    settle_due_with(app, tenant, Release::Queue).await
}

/// Like [`settle_due`], choosing whether to wait for the deliveries; with
/// [`Release::InOrder`], returns the number of attempts made while waiting.
pub(crate) async fn settle_due_with(app: &AppState, tenant: &Arc<Tenant>, release: Release) -> usize {
    match release {
        Release::Queue => {
            let jobs = settle(&app.health, tenant);
            let n = jobs.len();
            app.callbacks.hand_over(tenant, jobs);
            n
        }
        Release::InOrder => settle_and_wait(app, tenant, DEFAULT_WAIT).await.attempts,
    }
}

/// What a settle-and-wait achieved.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Waited {
    /// Callback attempts journaled while waiting.
    pub(crate) attempts: usize,
    /// Whether the tenant's lane drained within the wait.
    pub(crate) drained: bool,
}

/// Settles what is due, hands the callbacks to the engine and waits, at
/// most `wait`, until the tenant's lane has drained. The deliveries belong
/// to the engine: if the caller goes away, nothing is lost.
pub(crate) async fn settle_and_wait(app: &AppState, tenant: &Arc<Tenant>, wait: Duration) -> Waited {
    let before = tenant.journal.callbacks_recorded();
    let jobs = settle(&app.health, tenant);
    app.callbacks.hand_over(tenant, jobs);
    let drained = app.callbacks.wait_idle(&tenant.id, wait).await;
    let attempts = tenant.journal.callbacks_recorded().saturating_sub(before);
    Waited { attempts: usize::try_from(attempts).unwrap_or(usize::MAX), drained }
}

/// Pops every event due on the tenant's clock, lets its owner act on it,
/// journals the callbacks a scenario drops, and returns the callbacks to
/// deliver, in timeline order.
pub(crate) fn settle(health: &Health, tenant: &Arc<Tenant>) -> Vec<CallbackJob> {
    let now = tenant.now();
    let (jobs, dropped, judged) = tenant.with_state_rearmed(|state| {
        let mut jobs = Vec::new();
        let mut dropped = Vec::new();
        let (core, states) = (&mut state.core, &mut state.providers);
        // Acting on an event may schedule more events that are already due
        // (a callback with no extra delay), so keep going until nothing is due.
        loop {
            let due = core.timeline.pop_due(now);
            if due.is_empty() {
                break;
            }
            // Most events due under load are callbacks to deliver.
            jobs.reserve(due.len());
            for (at, event) in due {
                // A panic is caught here, inside the lock, so the lock is not
                // poisoned and the next event still runs.
                let acted = std::panic::catch_unwind(AssertUnwindSafe(|| match event {
                    Event::Deliver(job) => jobs.push(job),
                    Event::Dropped(job) => dropped.push(job),
                    Event::Hold(job) => core.held.push(job),
                    Event::ReleaseHeld { callback_id, copy } => {
                        if let Some(i) = core.held.iter().position(|h| h.id == callback_id && h.copy == copy) {
                            jobs.push(core.held.remove(i));
                        }
                    }
                    Event::Provider(due) => providers::on_due(core, states, due, at),
                    Event::Reply { reply_to, reply } => {
                        providers::on_reply(core, states, reply_to.provider, &reply_to.key, &reply, at)
                    }
                    #[cfg(test)]
                    Event::Fail(why) => panic!("{why}"),
                }));
                if let Err(panic) = acted {
                    health.record("settling due events", Some(&tenant.id), panic.as_ref());
                }
            }
        }
        tenant.held_callbacks.store(core.held.len(), std::sync::atomic::Ordering::Relaxed);
        (jobs, dropped, std::mem::take(&mut core.acknowledgements))
    });
    for (seq, acknowledgement) in judged {
        tenant.journal.acknowledge(seq, acknowledgement);
    }
    for job in &dropped {
        callbacks::journal_unsent(tenant, job, DeliveryOutcome::Dropped, "dropped by the scenario");
    }
    jobs
}

/// Sleeps until the earliest due event of any system-clock tenant, settles
/// it, and repeats until `stop` is cancelled.
pub(crate) async fn run(app: AppState, stop: CancellationToken) {
    let wakeups = app.tenants.wakeups.clone();
    loop {
        // Ask to be notified before reading the next due time, so an earlier
        // event armed in between still wakes us.
        let notified = wakeups.notify.notified();
        let sleep = match wakeups.next() {
            Some(at) => at.signed_duration_since(chrono::Utc::now()).to_std().unwrap_or_default(),
            None => Duration::from_secs(3600),
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = notified => continue,
            _ = tokio::time::sleep(sleep) => {}
        }
        let due = wakeups.take_due(chrono::Utc::now());
        // Each tenant taken counts as settling until done, even if this
        // task panics or is stopped first.
        let mut guards: Vec<Settling<'_>> = due.iter().map(|_| Settling(&wakeups)).collect();
        for tenant_id in due {
            if let Some(tenant) = app.tenants.get(&tenant_id) {
                settle_due(&app, &tenant).await;
                // Whatever is left (later events) is armed again by the
                // tenant's lock; after a caught panic too.
            }
            guards.pop();
        }
    }
}

/// Marks one tenant taken as due settled when dropped.
struct Settling<'a>(&'a crate::store::Wakeups);

impl Drop for Settling<'_> {
    fn drop(&mut self) {
        self.0.settled();
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;

    use super::*;
    use crate::callbacks::CallbackJob;
    use crate::clock::Clock;
    use crate::scenarios::ScenarioSet;

    fn job(url: &str, id: &str) -> CallbackJob {
        CallbackJob::new(id, "test", "test_callback", id, url, &json!({ "id": id }))
    }

    #[tokio::test]
    async fn a_panicking_event_of_one_tenant_stops_neither_it_nor_the_others() {
        let sandbox = crate::Sandbox::start(crate::Config::local().with_seed(1)).await.unwrap();
        let app = sandbox.state().clone();
        let world = crate::world::World::default_world();
        let mut other_world = world.clone();
        let mut ids = crate::ids::IdGen::new(1, "test");
        other_world.fresh_credentials(&world, &mut ids);
        let bad = app.tenants.create("bad", other_world, Clock::System, ScenarioSet::default()).unwrap();
        let good = app.tenants.default_tenant();
        // A receiver that refuses connections: the attempt is journaled as failed.
        let now = Utc::now();
        bad.with_core(|core| {
            core.timeline.schedule(now, Event::Fail("a bug in one event"));
            core.timeline.schedule(now, Event::Deliver(job("http://127.0.0.1:9/bad", "bad-1")));
        });
        good.with_core(|core| core.timeline.schedule(now, Event::Deliver(job("http://127.0.0.1:9/good", "good-1"))));
        let waited = |tenant: Arc<Tenant>| async move {
            tenant.journal.wait_for(Duration::from_secs(10), |j| (j.callbacks.len() == 1).then_some(())).await.is_some()
        };
        assert!(waited(good.clone()).await, "the other tenant's callback went out");
        assert!(waited(bad.clone()).await, "the same tenant's next event still ran");
        let health = app.health.view();
        assert_eq!(health.status, "degraded");
        assert_eq!(health.problems[0].tenant.as_deref(), Some("bad"));
        assert!(health.problems[0].message.contains("a bug in one event"));
        // The scheduler still runs: a later event is settled too.
        good.with_core(|core| {
            core.timeline.schedule(Utc::now(), Event::Deliver(job("http://127.0.0.1:9/good", "good-2")))
        });
        assert!(good
            .journal
            .wait_for(Duration::from_secs(10), |j| (j.callbacks.len() == 2).then_some(()))
            .await
            .is_some());
        sandbox.shutdown().await;
    }
}
