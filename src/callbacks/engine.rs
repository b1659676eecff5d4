//! The engine: a bounded queue with back-pressure, a dispatcher that runs at
//! most `concurrency` deliveries at once, one pooled HTTP client.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::allowlist::Destination;
use super::deliver::deliver;
use super::{journal_unsent, CallbackJob};
use crate::journal::DeliveryOutcome;
use crate::store::Tenant;

#[derive(Debug, Clone, Copy)]
pub struct EngineConfig {
    pub queue_capacity: usize,
    pub concurrency: usize,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// How much of a receiver's answer is kept in the journal.
    pub response_capture_bytes: usize,
}

#[derive(Debug, Default)]
pub(super) struct Stats {
    pub(super) enqueued: AtomicU64,
    pub(super) delivered: AtomicU64,
    pub(super) failed: AtomicU64,
    pub(super) retries_scheduled: AtomicU64,
    pub(super) abandoned: AtomicU64,
    pub(super) in_flight: AtomicU64,
    /// Signalled whenever the dispatcher takes a job off the queue.
    room: tokio::sync::Notify,
}

/// Counters of the engine since start.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct EngineStats {
    pub enqueued: u64,
    pub delivered: u64,
    pub failed: u64,
    pub retries_scheduled: u64,
    pub abandoned: u64,
    pub in_flight: u64,
    pub queued: u64,
}

struct Delivery {
    tenant: Arc<Tenant>,
    job: CallbackJob,
}

#[derive(Clone)]
pub struct CallbackEngine {
    tx: mpsc::Sender<Delivery>,
    stats: Arc<Stats>,
    capacity: usize,
    client: reqwest::Client,
    capture: usize,
    allow: Arc<[Destination]>,
}

impl CallbackEngine {
    /// Starts the dispatcher on `tracker`; it runs until `close` is cancelled,
    /// then delivers what is already queued and stops.
    pub fn start(
        config: EngineConfig,
        allow: Vec<Destination>,
        tracker: &TaskTracker,
        close: CancellationToken,
    ) -> Result<CallbackEngine, reqwest::Error> {
        let allow: Arc<[Destination]> = Arc::from(allow);
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(config.concurrency)
            .no_proxy()
            .user_agent(concat!("pesa-sandbox/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let capacity = config.queue_capacity.max(1);
        let (tx, rx) = mpsc::channel(capacity);
        let stats = Arc::new(Stats::default());
        let dispatcher = Dispatcher {
            allow: allow.clone(),
            client: client.clone(),
            rx,
            requeue: tx.clone(),
            permits: Arc::new(Semaphore::new(config.concurrency.max(1))),
            tracker: tracker.clone(),
            stats: stats.clone(),
            capture: config.response_capture_bytes,
        };
        tracker.spawn(dispatcher.run(close));
        Ok(CallbackEngine { tx, stats, capacity, client, capture: config.response_capture_bytes, allow })
    }

    /// Waits while the queue is more than half full: a request that will
    /// produce callbacks is admitted only when the engine keeps up, so under
    /// sustained load acceptance slows to the delivery rate instead of the
    /// queue stalling the scheduler (which would leave pushes unsettled and
    /// their customers locked). Not a sleep: it wakes as the queue drains.
    pub async fn admit(&self) {
        loop {
            let room = self.stats.room.notified();
            if self.tx.capacity() * 2 >= self.capacity || self.tx.is_closed() {
                return;
            }
            room.await;
        }
    }

    /// Queues a job; waits while the queue is full (back-pressure).
    /// A job offered after shutdown is journaled as abandoned.
    pub async fn enqueue(&self, tenant: Arc<Tenant>, job: CallbackJob) {
        self.stats.enqueued.fetch_add(1, Ordering::Relaxed);
        if let Err(mpsc::error::SendError(delivery)) = self.tx.send(Delivery { tenant, job }).await {
            self.stats.abandoned.fetch_add(1, Ordering::Relaxed);
            journal_unsent(
                &delivery.tenant,
                &delivery.job,
                DeliveryOutcome::Abandoned,
                "the sandbox was shutting down",
            );
        }
    }

    /// Delivers jobs one after another on the caller's task, each released
    /// out-of-order callback right after the delivery that released it, so
    /// the order of attempts is deterministic. Used when a virtual clock is
    /// moved; returns the number of attempts made.
    pub async fn deliver_in_order(&self, tenant: &Arc<Tenant>, jobs: Vec<CallbackJob>) -> usize {
        let mut pending: std::collections::VecDeque<CallbackJob> = jobs.into();
        let mut attempts = 0;
        while let Some(job) = pending.pop_front() {
            self.stats.enqueued.fetch_add(1, Ordering::Relaxed);
            self.stats.in_flight.fetch_add(1, Ordering::Relaxed);
            let released = deliver(&self.client, &self.stats, self.capture, &self.allow, tenant.clone(), job).await;
            self.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
            attempts += 1;
            for (i, job) in released.into_iter().enumerate() {
                pending.insert(i, job);
            }
        }
        attempts
    }

    pub fn stats(&self) -> EngineStats {
        let s = &self.stats;
        EngineStats {
            enqueued: s.enqueued.load(Ordering::Relaxed),
            delivered: s.delivered.load(Ordering::Relaxed),
            failed: s.failed.load(Ordering::Relaxed),
            retries_scheduled: s.retries_scheduled.load(Ordering::Relaxed),
            abandoned: s.abandoned.load(Ordering::Relaxed),
            in_flight: s.in_flight.load(Ordering::Relaxed),
            queued: (self.capacity - self.tx.capacity()) as u64,
        }
    }
}

struct Dispatcher {
    allow: Arc<[Destination]>,
    client: reqwest::Client,
    rx: mpsc::Receiver<Delivery>,
    /// Where released out-of-order callbacks go back in.
    requeue: mpsc::Sender<Delivery>,
    permits: Arc<Semaphore>,
    tracker: TaskTracker,
    stats: Arc<Stats>,
    capture: usize,
}

impl Dispatcher {
    async fn run(mut self, close: CancellationToken) {
        loop {
            let delivery = tokio::select! {
                biased;
                d = self.rx.recv() => d,
                _ = close.cancelled() => None,
            };
            let Some(delivery) = delivery else { break };
            self.stats.room.notify_waiters();
            self.spawn(delivery).await;
        }
        // Shutting down: refuse new jobs, deliver what was already queued.
        self.rx.close();
        self.stats.room.notify_waiters();
        while let Some(delivery) = self.rx.recv().await {
            self.spawn(delivery).await;
        }
    }

    async fn spawn(&self, delivery: Delivery) {
        // The semaphore is never closed, so acquiring cannot fail.
        let Ok(permit) = self.permits.clone().acquire_owned().await else { return };
        let client = self.client.clone();
        let stats = self.stats.clone();
        let capture = self.capture;
        let requeue = self.requeue.clone();
        let allow = self.allow.clone();
        stats.in_flight.fetch_add(1, Ordering::Relaxed);
        self.tracker.spawn(async move {
            let tenant = delivery.tenant.clone();
            let released = deliver(&client, &stats, capture, &allow, delivery.tenant, delivery.job).await;
            stats.in_flight.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
            for job in released {
                if let Err(mpsc::error::SendError(d)) = requeue.send(Delivery { tenant: tenant.clone(), job }).await {
                    stats.abandoned.fetch_add(1, Ordering::Relaxed);
                    journal_unsent(&d.tenant, &d.job, DeliveryOutcome::Abandoned, "the sandbox was shutting down");
                }
            }
        });
    }
}
