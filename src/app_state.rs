//! What every handler can reach: cheap handles to the tenants, the callback
//! engine and the providers' sandbox-wide resources.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::callbacks::CallbackEngine;
use crate::provider::Registered;
use crate::providers::Shared;
use crate::store::Tenants;
use crate::supervisor::Health;

/// Everything a handler can reach; cheap to clone: one reference count,
/// since axum clones the state for every layer and handler a request passes.
#[derive(Clone)]
pub struct AppState(Arc<AppParts>);

/// What [`AppState`] shares.
pub struct AppParts {
    pub tenants: Arc<Tenants>,
    pub callbacks: CallbackEngine,
    /// Every provider's sandbox-wide resources (keys, caches).
    pub shared: Arc<Shared>,
    pub seed: u64,
    pub base_url: Arc<str>,
    /// Required by the admin API when set.
    pub admin_token: Option<Arc<str>>,
    /// Panics caught in background tasks, events and handlers.
    pub(crate) health: Arc<Health>,
    /// How long a request may take; a scripted delay reaching it answers 408.
    pub(crate) request_timeout: std::time::Duration,
    /// The largest request body a provider reads.
    pub(crate) body_limit: usize,
    request_seq: AtomicU64,
}

impl AppParts {
    /// The parts, with a request timeout of a minute.
    pub(crate) fn new(
        tenants: Arc<Tenants>,
        callbacks: CallbackEngine,
        shared: Shared,
        seed: u64,
        base_url: Arc<str>,
        admin_token: Option<Arc<str>>,
        health: Arc<Health>,
    ) -> AppParts {
        AppParts {
            tenants,
            callbacks,
            shared: Arc::new(shared),
            seed,
            base_url,
            admin_token,
            health,
            request_timeout: std::time::Duration::from_secs(60),
            body_limit: crate::config::DEFAULT_BODY_LIMIT_BYTES,
            request_seq: AtomicU64::new(0),
        }
    }
}

impl From<AppParts> for AppState {
    fn from(parts: AppParts) -> AppState {
        AppState(Arc::new(parts))
    }
}

impl AppState {
    pub fn next_request_seq(&self) -> u64 {
        self.request_seq.fetch_add(1, Ordering::Relaxed).wrapping_add(1)
    }

    /// One provider's sandbox-wide resources.
    pub fn shared<P: Registered>(&self) -> &P::Shared {
        P::shared_part(&self.shared)
    }
}

impl std::ops::Deref for AppState {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.0
    }
}
