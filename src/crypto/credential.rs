//! `SecurityCredential`: an initiator password encrypted with RSA PKCS#1 v1.5
//! to the provider's certificate, then base64-encoded.
//!
//! Clients encrypt with the public key; the sandbox decrypts with the private
//! key and compares with the initiator's password.
//! Decryption is the expensive step (about a millisecond for RSA-2048), so
//! callers cache results by ciphertext digest.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rsa::{Pkcs1v15Encrypt, RsaPrivateKey, RsaPublicKey};

/// Why a `SecurityCredential` could not be turned back into a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// The field is not standard base64.
    #[error("not valid base64")]
    NotBase64,
    /// The ciphertext length does not match the key size, so it was made for a
    /// key of another size (or is not a ciphertext at all).
    #[error("ciphertext is {got} bytes, a {expected}-byte ciphertext was expected")]
    WrongLength { got: usize, expected: usize },
    /// The padding did not check out: encrypted to another certificate, or
    /// corrupted.
    #[error("could not be decrypted with the sandbox key (encrypted to another certificate?)")]
    Undecryptable,
    /// The plaintext is longer than PKCS#1 v1.5 allows for this key.
    #[error("password is too long to encrypt with this key")]
    TooLong,
}

/// Encrypts a password exactly as Daraja client libraries do: PKCS#1 v1.5 over
/// the raw UTF-8 bytes, then standard base64.
pub fn encrypt(
    public: &RsaPublicKey,
    password: &[u8],
    rng: &mut impl rsa::rand_core::CryptoRngCore,
) -> Result<String, CredentialError> {
    // PKCS#1 v1.5 only fails for messages longer than the key allows (k - 11 bytes).
    let ciphertext = public.encrypt(rng, Pkcs1v15Encrypt, password).map_err(|_| CredentialError::TooLong)?;
    Ok(STANDARD.encode(ciphertext))
}

/// Decodes and decrypts a `SecurityCredential`, returning the plaintext bytes.
pub fn decrypt(private: &RsaPrivateKey, credential: &str) -> Result<Vec<u8>, CredentialError> {
    use rsa::traits::PublicKeyParts;
    let ciphertext = STANDARD.decode(credential.trim()).map_err(|_| CredentialError::NotBase64)?;
    let expected = private.size();
    if ciphertext.len() != expected {
        return Err(CredentialError::WrongLength { got: ciphertext.len(), expected });
    }
    private.decrypt(Pkcs1v15Encrypt, &ciphertext).map_err(|_| CredentialError::Undecryptable)
}

/// Decryption results by SHA-256 of the credential text.
///
/// PKCS#1 v1.5 encryption is randomised, so only a client that reuses its
/// ciphertext hits the cache; most SDKs compute the credential once per
/// configuration, so most do. Failures are cached too: a bad credential
/// sent in a loop costs a hash, not a decryption. When full, the cache
/// starts over (a new entry is rare next to the hits it serves).
type Entries = crate::fastmap::HashMap<[u8; 32], Result<Vec<u8>, CredentialError>>;

pub struct CredentialCache {
    entries: std::sync::Mutex<Entries>,
    capacity: usize,
}

impl CredentialCache {
    pub fn new(capacity: usize) -> CredentialCache {
        CredentialCache { entries: std::sync::Mutex::new(Entries::default()), capacity: capacity.max(1) }
    }

    pub fn decrypt(&self, private: &RsaPrivateKey, credential: &str) -> Result<Vec<u8>, CredentialError> {
        let digest = Self::digest(credential);
        if let Some(hit) = self.lock().get(&digest) {
            return hit.clone();
        }
        // Decrypt outside the lock: it takes about a millisecond.
        let result = decrypt(private, credential);
        let mut entries = self.lock();
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(digest, result.clone());
        result
    }

    /// The cached result for a credential, without decrypting: callers on
    /// an async runtime decrypt a miss on a blocking thread (an RSA-4096
    /// decryption holds a core for about 9 ms).
    pub fn peek(&self, credential: &str) -> Option<Result<Vec<u8>, CredentialError>> {
        self.lock().get(&Self::digest(credential)).cloned()
    }

    fn digest(credential: &str) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        Sha256::digest(credential.trim().as_bytes()).into()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for CredentialCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialCache").field("entries", &self.len()).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_encrypted_to_the_certificate_decrypts_to_the_password() {
        let pair = crate::crypto::keys::test_pair();
        let credential = encrypt(&pair.public, b"Safaricom999!*!", &mut rand::rngs::OsRng).unwrap();
        assert_eq!(credential.len(), 344);
        assert_eq!(decrypt(&pair.private, &credential).unwrap(), b"Safaricom999!*!");
    }

    #[test]
    fn the_cache_answers_a_repeated_credential_without_decrypting() {
        let pair = crate::crypto::keys::test_pair();
        let cache = CredentialCache::new(2);
        let credential = encrypt(&pair.public, b"pw", &mut rand::rngs::OsRng).unwrap();
        assert_eq!(cache.decrypt(&pair.private, &credential).unwrap(), b"pw");
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.peek(&credential), Some(Ok(b"pw".to_vec())));
        assert_eq!(cache.peek("AAAA"), None);
        assert_eq!(cache.decrypt(&pair.private, &credential).unwrap(), b"pw");
        assert_eq!(cache.len(), 1);
        assert!(cache.decrypt(&pair.private, "AAAA").is_err());
        assert!(cache.decrypt(&pair.private, "AAAB").is_err());
        assert_eq!(cache.len(), 1, "a full cache starts over");
    }

    #[test]
    fn garbage_is_rejected_with_a_reason() {
        let pair = crate::crypto::keys::test_pair();
        assert_eq!(decrypt(&pair.private, "not base64!"), Err(CredentialError::NotBase64));
        assert_eq!(decrypt(&pair.private, "AAAA"), Err(CredentialError::WrongLength { got: 3, expected: 256 }));
        let zeros = STANDARD.encode([0u8; 256]);
        assert_eq!(decrypt(&pair.private, &zeros), Err(CredentialError::Undecryptable));
    }
}
