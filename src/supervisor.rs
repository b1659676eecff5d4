//! Supervision: a panic in a background task, an event or a request handler
//! is caught, logged with its context, reported by `/__sandbox/health`, and
//! the work goes on.
//!
//! Panics are bugs: every input is range-checked where it is parsed and no
//! code path is meant to panic.
//! Supervision is the second line: one tenant's event that trips a bug must
//! not stop settlement for every other tenant, and a bug must be visible
//! (health says `degraded`, with the reason) rather than silent.
//!
//! **Invariant:** a supervised task that panics is restarted (after a short
//! pause, so a task that panics at once cannot spin); one that returns is
//! done.

// Time, money and counts from outside: every computation here saturates or
// is checked, and the lint keeps it so.
#![warn(clippy::arithmetic_side_effects)]

use std::any::Any;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How many recent problems health keeps (older ones are only counted).
const KEPT_PROBLEMS: usize = 16;

/// How long a supervised task that panicked waits before it restarts.
const RESTART_PAUSE: Duration = Duration::from_millis(100);

/// The longest panic message kept: a message may quote input.
const MAX_MESSAGE_CHARS: usize = 500;

/// One caught panic.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Problem {
    /// What was running: `scheduler`, `callback dispatcher`, `request handler`, ...
    pub(crate) task: String,
    /// The tenant whose work it was, when known.
    pub(crate) tenant: Option<String>,
    /// The panic message (cut to a bounded length).
    pub(crate) message: String,
    /// Wall-clock time it happened.
    pub(crate) at: DateTime<Utc>,
}

/// What the sandbox knows of its own health: the panics it caught.
#[derive(Debug, Default)]
pub(crate) struct Health {
    total: AtomicU64,
    recent: Mutex<VecDeque<Problem>>,
}

/// Health as `/__sandbox/health` shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct HealthView {
    /// `ok`, or `degraded` once a panic was caught.
    pub(crate) status: &'static str,
    /// Panics caught since start.
    pub(crate) problems_total: u64,
    /// The most recent ones, newest last.
    pub(crate) problems: Vec<Problem>,
}

impl Health {
    /// Records a caught panic and logs it with its context.
    pub(crate) fn record(&self, task: &str, tenant: Option<&str>, payload: &(dyn Any + Send)) {
        let message = panic_message(payload);
        tracing::error!(task, tenant = tenant.unwrap_or(""), message = %message, "caught a panic; the sandbox goes on (degraded)");
        self.total.fetch_add(1, Ordering::Relaxed);
        let problem = Problem { task: task.to_owned(), tenant: tenant.map(str::to_owned), message, at: Utc::now() };
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() == KEPT_PROBLEMS {
            recent.pop_front();
        }
        recent.push_back(problem);
    }

    pub(crate) fn view(&self) -> HealthView {
        let total = self.total.load(Ordering::Relaxed);
        let problems = self.recent.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect();
        HealthView { status: if total == 0 { "ok" } else { "degraded" }, problems_total: total, problems }
    }
}

/// The text of a panic payload (`panic!("...")` gives a `&str` or a `String`).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    let text = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    };
    if text.chars().count() <= MAX_MESSAGE_CHARS {
        return text;
    }
    let mut cut: String = text.chars().take(MAX_MESSAGE_CHARS).collect();
    cut.push_str("…[cut]");
    cut
}

/// Runs the task `make` builds on `tracker`, restarting it whenever it
/// panics, until it returns or `stop` is cancelled.
pub(crate) fn supervise<F, Fut>(
    tracker: &TaskTracker,
    health: std::sync::Arc<Health>,
    name: &'static str,
    stop: CancellationToken,
    make: F,
) where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let inner = tracker.clone();
    tracker.spawn(async move {
        loop {
            match inner.spawn(make()).await {
                Ok(()) => return,
                Err(e) if e.is_panic() => {
                    health.record(name, None, e.into_panic().as_ref());
                    if stop.is_cancelled() {
                        return;
                    }
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(RESTART_PAUSE) => {}
                    }
                    tracing::warn!(task = name, "restarting after a panic");
                }
                // Cancelled: the runtime is going away.
                Err(_) => return,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn a_task_that_panics_is_restarted_and_health_says_why() {
        let health = Arc::new(Health::default());
        let tracker = TaskTracker::new();
        let stop = CancellationToken::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let done_tx = Arc::new(Mutex::new(Some(done_tx)));
        let counter = runs.clone();
        supervise(&tracker, health.clone(), "test task", stop.clone(), move || {
            let counter = counter.clone();
            let done_tx = done_tx.clone();
            async move {
                if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                    panic!("boom on the first run");
                }
                if let Some(tx) = done_tx.lock().unwrap().take() {
                    let _ = tx.send(());
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(10), done_rx).await.expect("restarted").unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        let view = health.view();
        assert_eq!(view.status, "degraded");
        assert_eq!(view.problems_total, 1);
        assert_eq!(view.problems[0].task, "test task");
        assert_eq!(view.problems[0].message, "boom on the first run");
        tracker.close();
        tracker.wait().await;
    }

    #[test]
    fn long_panic_messages_are_cut() {
        let long = "x".repeat(10_000);
        let message = panic_message(&long);
        assert!(message.len() < 600 && message.ends_with("…[cut]"), "{}", message.len());
        assert_eq!(panic_message(&42u8), "a panic without a message");
    }
}
