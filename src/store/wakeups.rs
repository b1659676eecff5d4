//! When each system-clock tenant next has something due: what the
//! scheduler sleeps towards.

use std::collections::BTreeSet;

use crate::fastmap::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

/// When each system-clock tenant next has something due.
#[derive(Debug, Default)]
pub struct Wakeups {
    inner: Mutex<WakeInner>,
    /// Signalled when a tenant's earliest due time moves earlier than
    /// everything the scheduler is sleeping towards.
    pub notify: Notify,
    /// Tenants taken as due and not yet settled: while one is, its later
    /// events are not armed yet, and shutdown must not take the quiet for
    /// the end.
    settling: AtomicUsize,
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
        // Counted before the lock is released, so no reader sees the
        // tenants neither armed nor settling.
        self.settling.fetch_add(due.len(), Ordering::SeqCst);
        due
    }

    /// One tenant taken by [`Wakeups::take_due`] is settled, its callbacks
    /// handed over and its later events armed.
    pub fn settled(&self) {
        let _ = self.settling.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| Some(n.saturating_sub(1)));
    }

    /// Whether nothing is due before `horizon`, nor being settled.
    pub fn quiet_until(&self, horizon: DateTime<Utc>) -> bool {
        // The due time first: a tenant taken after it was read is counted
        // as settling before the count is read.
        let next = self.next();
        self.settling.load(Ordering::SeqCst) == 0 && next.is_none_or(|at| at > horizon)
    }
}
