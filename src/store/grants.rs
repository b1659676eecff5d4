//! Issued bearer tokens: by value for lookups, and in issue order per
//! subject so the oldest can be revoked.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::fastmap::HashMap;

use chrono::{DateTime, Utc};

/// A bearer token's meaning.
#[derive(Debug, Clone)]
pub struct Grant {
    /// Shared, as is the subject: a lookup per request clones the grant.
    pub tenant: Arc<str>,
    pub provider: &'static str,
    /// Who the token was issued to (a consumer key).
    pub subject: Arc<str>,
    pub expires_at: DateTime<Utc>,
}

/// Live tokens of each app and tenant: more than this and the oldest is
/// revoked, so a client that fetches a token per request (they exist) cannot
/// grow memory for the token's whole lifetime.
pub const MAX_TOKENS_PER_APP: usize = 1_000;

/// Whose tokens: (tenant, provider, subject).
type App = (Arc<str>, &'static str, Arc<str>);

/// Issued tokens: by value for lookups, and in issue order per app.
#[derive(Default)]
pub(super) struct Grants {
    pub(super) by_token: HashMap<String, Grant>,
    /// (tenant, provider, subject) → its tokens, oldest first.
    issued: HashMap<App, VecDeque<String>>,
}

impl Grants {
    pub(super) fn insert(&mut self, token: String, grant: Grant) {
        let key = (grant.tenant.clone(), grant.provider, grant.subject.clone());
        let order = self.issued.entry(key).or_default();
        order.push_back(token.clone());
        while order.len() > MAX_TOKENS_PER_APP {
            if let Some(oldest) = order.pop_front() {
                self.by_token.remove(&oldest);
            }
        }
        self.by_token.insert(token, grant);
    }

    /// Forgets one token; returns whether it existed.
    pub(super) fn remove(&mut self, token: &str) -> bool {
        let Some(grant) = self.by_token.remove(token) else { return false };
        let key = (grant.tenant, grant.provider, grant.subject);
        if let Some(order) = self.issued.get_mut(&key) {
            order.retain(|t| t != token);
            if order.is_empty() {
                self.issued.remove(&key);
            }
        }
        true
    }

    pub(super) fn retain(&mut self, keep: impl Fn(&Grant) -> bool) {
        self.by_token.retain(|_, g| keep(g));
        let by_token = &self.by_token;
        self.issued.retain(|_, order| {
            order.retain(|t| by_token.contains_key(t));
            !order.is_empty()
        });
    }
}
