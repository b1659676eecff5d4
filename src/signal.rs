//! A `Notify` that costs its notifier nothing while nobody waits.
//!
//! `Notify::notify_waiters` takes the notify's lock and counts the
//! notification on a shared word every time, waiters or not; notified on
//! every request by whichever worker served it (a journal entry appended, a
//! callback taken from its lane), that moved two cache lines between the
//! cores per notification. A [`Signal`] counts its waiters and notifies only
//! when there are some, so a notifier with nobody waiting only reads a word
//! both cores can keep.
//!
//! **Invariant:** a waiter counts itself ([`Signal::waiting`]) before it
//! checks its condition, and a notifier changes the condition before it
//! notifies, both under a lock the condition is read under: a waiter that
//! finds the condition unmet is then counted by the time the change that
//! would meet it is notified.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::futures::Notified;
use tokio::sync::Notify;

#[derive(Debug, Default)]
pub(crate) struct Signal {
    notify: Notify,
    waiting: AtomicUsize,
}

/// A waiter, counted until dropped.
pub(crate) struct Waiting<'a> {
    signal: &'a Signal,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.signal.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Signal {
    /// Counts a waiter until the guard drops; take it before checking the
    /// condition, and keep it while waiting for [`Signal::notified`].
    pub(crate) fn waiting(&self) -> Waiting<'_> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        Waiting { signal: self }
    }

    /// The next notification (enable it before checking the condition).
    pub(crate) fn notified(&self) -> Notified<'_> {
        self.notify.notified()
    }

    /// Wakes every waiter, if any is counted.
    pub(crate) fn notify_waiters(&self) {
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.notify.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;

    /// A condition under a lock, a waiter and a notifier racing on it,
    /// many times: the waiter never misses the change.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_counted_waiter_never_misses_a_change() {
        for _ in 0..2_000 {
            let state = Arc::new((Mutex::new(false), Signal::default()));
            let waiter = {
                let state = state.clone();
                tokio::spawn(async move {
                    let (flag, signal) = &*state;
                    let _waiting = signal.waiting();
                    loop {
                        let notified = signal.notified();
                        tokio::pin!(notified);
                        notified.as_mut().enable();
                        if *flag.lock().unwrap() {
                            return;
                        }
                        notified.await;
                    }
                })
            };
            tokio::task::yield_now().await;
            *state.0.lock().unwrap() = true;
            state.1.notify_waiters();
            tokio::time::timeout(Duration::from_secs(5), waiter).await.expect("woken").expect("no panic");
        }
    }

    #[test]
    fn nobody_waiting_is_no_notification_and_a_waiter_is_counted_until_dropped() {
        let signal = Signal::default();
        signal.notify_waiters();
        assert_eq!(signal.waiting.load(Ordering::SeqCst), 0);
        {
            let _one = signal.waiting();
            let _two = signal.waiting();
            assert_eq!(signal.waiting.load(Ordering::SeqCst), 2);
        }
        assert_eq!(signal.waiting.load(Ordering::SeqCst), 0);
    }
}
