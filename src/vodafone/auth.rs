//! Who is calling: the bearer decrypted (off the async runtime when it is
//! not cached), then the API key or session id it carries, back to a tenant
//! and to a portal account, an OpenAPI application or a live session.
//!
//! Decryption happens before any tenant lock is taken: an RSA-4096
//! decryption costs about 9 ms, so a miss runs on a blocking thread and a
//! reused bearer costs a hash ([`BearerDecoder`]'s cache).

use std::sync::Arc;

use super::bearer::{describe_mismatch, BearerDecoder, BearerError, Secret};
use super::keys::{KeySize, ProviderKeys};
use crate::httpauth;

/// The provider's sandbox-wide resources: one decoder (and cache) per
/// committed key pair, so a world may publish either.
pub(crate) struct Shared {
    pub(crate) rsa4096: Arc<BearerDecoder>,
    pub(crate) rsa2048: Arc<BearerDecoder>,
    /// Decryptions running at once, one per core: the first requests of a
    /// client that reuses its bearer arrive together, and without this each
    /// would decrypt it; with it, the others find the first one's result.
    decrypting: tokio::sync::Semaphore,
}

/// Decrypted bearers kept per key pair.
const CACHE_CAPACITY: usize = 10_000;

impl Shared {
    pub(crate) fn load() -> Result<Shared, String> {
        let load = |size: KeySize| {
            ProviderKeys::load(size)
                .map(|keys| Arc::new(BearerDecoder::new(keys, CACHE_CAPACITY)))
                .map_err(|e| format!("the committed RSA-{} test keys do not load: {e}", size.bits()))
        };
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Ok(Shared {
            rsa4096: load(KeySize::Rsa4096)?,
            rsa2048: load(KeySize::Rsa2048)?,
            decrypting: tokio::sync::Semaphore::new(cores),
        })
    }

    pub(crate) fn keys(&self, size: KeySize) -> &ProviderKeys {
        match size {
            KeySize::Rsa4096 => self.rsa4096.keys(),
            KeySize::Rsa2048 => self.rsa2048.keys(),
        }
    }

    /// The decoder for a token: its length says which key it was made for
    /// (344 base64 characters for RSA-2048, 684 for RSA-4096).
    fn for_token(&self, token: &str) -> &Arc<BearerDecoder> {
        if token.len() < 500 {
            &self.rsa2048
        } else {
            &self.rsa4096
        }
    }
}

/// The secret a bearer carries and the key size it was encrypted for.
pub(crate) async fn decode(shared: &Shared, header: Option<&[u8]>) -> Result<(String, KeySize), BearerError> {
    let token = httpauth::bearer(header).map_err(BearerError::Header)?.trim().to_owned();
    let decoder = shared.for_token(&token).clone();
    let size = decoder.keys().size;
    if let Some(hit) = decoder.cached_token(&token) {
        return hit.map(|secret| (secret, size));
    }
    // The semaphore is never closed; were it, decrypting unguarded is still correct.
    let _permit = shared.decrypting.acquire().await.ok();
    if let Some(hit) = decoder.cached_token(&token) {
        return hit.map(|secret| (secret, size));
    }
    let result = tokio::task::spawn_blocking(move || decoder.decode_token(&token))
        .await
        .unwrap_or(Err(BearerError::Undecryptable { key: size }));
    result.map(|secret| (secret, size))
}

/// Checks that a bearer was made with the key the tenant's world publishes.
pub(crate) fn check_key_size(used: KeySize, published: KeySize) -> Result<(), String> {
    if used == published {
        return Ok(());
    }
    Err(BearerError::WrongLength { got: used.ciphertext_len(), key: published }.to_string())
}

/// Why a decrypted API key reached nobody.
pub(crate) fn unknown_key(secret: &str) -> String {
    describe_mismatch(secret, Secret::ApiKey)
}

/// Why a decrypted session id reached no session.
pub(crate) fn unknown_session(secret: &str) -> String {
    describe_mismatch(secret, Secret::SessionId)
}
