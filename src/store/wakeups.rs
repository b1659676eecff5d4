//! When each system-clock tenant next has something due: what the
//! scheduler sleeps towards.

use std::collections::{BTreeSet, HashMap};
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
