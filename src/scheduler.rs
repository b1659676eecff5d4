//! Releases due events from tenants' timelines.
//!
//! [`settle_due`] pops every event whose time has come on a tenant's clock,
//! lets the owning provider act on it (settle a payment, ...), and hands the
//! resulting callbacks to the callback engine, in timeline order.
//! [`run`] is the background task that calls it for system-clock tenants when
//! their earliest event falls due; virtual-clock tenants are settled when
//! their clock is moved.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::app_state::AppState;
use crate::callbacks;
use crate::journal::DeliveryOutcome;
use crate::providers;
use crate::store::{Event, Tenant};

/// How released callbacks reach the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Release {
    /// Through the engine's queue, concurrently (the normal path).
    Queue,
    /// One after another, awaited, in timeline order (moving a virtual clock).
    InOrder,
}

/// Settles every event due on the tenant's clock and hands the callbacks to
/// the engine through its queue; returns how many callbacks were released.
pub(crate) async fn settle_due(app: &AppState, tenant: &Arc<Tenant>) -> usize {
    settle_due_with(app, tenant, Release::Queue).await
}

/// Like [`settle_due`], choosing how callbacks are released.
pub(crate) async fn settle_due_with(app: &AppState, tenant: &Arc<Tenant>, release: Release) -> usize {
    let now = tenant.now();
    let (jobs, dropped, judged) = tenant.with_state(|state| {
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
            for (at, event) in due {
                match event {
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
                }
            }
        }
        (jobs, dropped, std::mem::take(&mut core.acknowledgements))
    });
    for (seq, acknowledgement) in judged {
        tenant.journal.acknowledge(seq, acknowledgement);
    }
    for job in &dropped {
        callbacks::journal_unsent(tenant, job, DeliveryOutcome::Dropped, "dropped by the scenario");
    }
    match release {
        Release::InOrder => {
            let mut attempts = app.callbacks.deliver_in_order(tenant, jobs).await;
            // Answers to what was just delivered (a C2B validation) are due now
            // too; settle them, a bounded number of rounds.
            for _ in 0..16 {
                let now = tenant.now();
                let due = tenant.with_core(|core| core.timeline.earliest().is_some_and(|at| at <= now));
                if !due {
                    break;
                }
                attempts += Box::pin(settle_due_with(app, tenant, Release::InOrder)).await;
            }
            attempts
        }
        Release::Queue => {
            let n = jobs.len();
            for job in jobs {
                app.callbacks.enqueue(tenant.clone(), job).await;
            }
            n
        }
    }
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
            Some(at) => (at - chrono::Utc::now()).to_std().unwrap_or_default(),
            None => std::time::Duration::from_secs(3600),
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = notified => continue,
            _ = tokio::time::sleep(sleep) => {}
        }
        for tenant_id in wakeups.take_due(chrono::Utc::now()) {
            if let Some(tenant) = app.tenants.get(&tenant_id) {
                settle_due(&app, &tenant).await;
            }
        }
    }
}
