//! `Authorization: Bearer base64(RSA-PKCS#1 v1.5(secret))`: the API key on the
//! portal and at `getSession`, the session id on every other OpenAPI call.
//!
//! The recipe is the seed's Java sample (`Cipher.getInstance("RSA")`, which is
//! PKCS#1 v1.5 padding, over the UTF-8 bytes, Base64 without line breaks),
//! and every SDK does the same: Python portalsdk (`PKCS1_v1_5`), paymentsds
//! (`RSA_PKCS1_PADDING` / `OPENSSL_PKCS1_PADDING`), Go (`EncryptPKCS1v15`).
//! Encryption is randomised, so the sandbox decrypts and compares; it never
//! compares ciphertexts.
//!
//! An RSA-4096 decryption costs about 9 ms with the `rsa` crate, so results
//! are cached by digest of the ciphertext ([`CredentialCache`]); SDKs that
//! build the bearer once per client then cost a hash per call.
//! **Invariant:** errors and diagnoses describe the shape of what was sent,
//! never the decrypted secret.

use crate::crypto::credential::{CredentialCache, CredentialError};
use crate::httpauth::{self, AuthProblem};
use crate::vodafone::keys::{KeySize, ProviderKeys};

/// Why a bearer could not be turned back into a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BearerError {
    /// No `Authorization` header, not `Bearer`, or nothing after the scheme.
    #[error("{0}")]
    Header(AuthProblem),
    /// The token is not standard Base64 on one line.
    #[error("the bearer is not standard base64 (line breaks, URL-safe alphabet or a stray character?)")]
    NotBase64,
    /// The ciphertext's length is not the key's size.
    #[error("{}", wrong_length(*got, *key))]
    WrongLength { got: usize, key: KeySize },
    /// The padding did not check out with the sandbox's private key.
    #[error(
        "the bearer does not decrypt with the sandbox's RSA-{} key: encrypted to another public key \
         (Vodacom's published one?) or with a padding other than PKCS#1 v1.5 (OAEP?)",
        key.bits()
    )]
    Undecryptable { key: KeySize },
    /// The plaintext is not UTF-8, so it cannot be an API key or session id.
    #[error("the bearer decrypts to bytes that are not text")]
    NotText,
}

fn wrong_length(got: usize, key: KeySize) -> String {
    let expected = key.ciphertext_len();
    let hint = match (got, key) {
        (256, KeySize::Rsa4096) => " (encrypted with a 2048-bit key? this world publishes the 4096-bit one)",
        (512, KeySize::Rsa2048) => " (encrypted with a 4096-bit key? this world publishes the 2048-bit one)",
        _ => "",
    };
    format!("the bearer decodes to {got} bytes; an RSA-{} ciphertext is {expected} bytes{hint}", key.bits())
}

/// What a bearer is expected to carry, for the wording of a mismatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Secret {
    ApiKey,
    SessionId,
}

/// Decrypts bearers with one key pair, caching by ciphertext digest.
///
/// One decoder per key pair: a cached failure such as a wrong length is only
/// true of the key it was computed with.
#[derive(Debug)]
pub(crate) struct BearerDecoder {
    keys: ProviderKeys,
    cache: CredentialCache,
}

impl BearerDecoder {
    pub(crate) fn new(keys: ProviderKeys, cache_capacity: usize) -> BearerDecoder {
        BearerDecoder { keys, cache: CredentialCache::new(cache_capacity) }
    }

    pub(crate) fn keys(&self) -> &ProviderKeys {
        &self.keys
    }

    /// The secret an `Authorization` header carries.
    pub(crate) fn decode(&self, header: Option<&[u8]>) -> Result<String, BearerError> {
        let token = httpauth::bearer(header).map_err(BearerError::Header)?;
        self.decode_token(token)
    }

    /// The secret a bare token (without `Bearer `) carries.
    pub(crate) fn decode_token(&self, token: &str) -> Result<String, BearerError> {
        self.finish(self.cache.decrypt(&self.keys.private, token))
    }

    /// The secret a token carries if its decryption is cached: a hash, no RSA.
    pub(crate) fn cached_token(&self, token: &str) -> Option<Result<String, BearerError>> {
        self.cache.peek(token).map(|result| self.finish(result))
    }

    fn finish(&self, result: Result<Vec<u8>, CredentialError>) -> Result<String, BearerError> {
        let key = self.keys.size;
        let plaintext = result.map_err(|e| match e {
            CredentialError::NotBase64 => BearerError::NotBase64,
            CredentialError::WrongLength { got, .. } => BearerError::WrongLength { got, key },
            CredentialError::Undecryptable | CredentialError::TooLong => BearerError::Undecryptable { key },
        })?;
        String::from_utf8(plaintext).map_err(|_| BearerError::NotText)
    }

    #[cfg(test)]
    pub(crate) fn cached(&self) -> usize {
        self.cache.len()
    }
}

/// Encrypts a secret exactly as the seed's Java sample does.
#[cfg(test)]
pub(crate) fn encrypt(
    keys: &ProviderKeys,
    secret: &str,
    rng: &mut impl rsa::rand_core::CryptoRngCore,
) -> Result<String, CredentialError> {
    crate::crypto::credential::encrypt(&keys.public, secret.as_bytes(), rng)
}

/// Describes a decrypted value that matched nothing, by its shape only, so
/// the diagnosis can say what the client got wrong without repeating it.
pub(crate) fn describe_mismatch(plaintext: &str, expected: Secret) -> String {
    let what = match expected {
        Secret::ApiKey => "an API key of an active account or application",
        Secret::SessionId => "a session id this sandbox issued",
    };
    let chars = plaintext.chars().count();
    if plaintext.is_empty() {
        return format!("the bearer decrypts to an empty value, not {what}");
    }
    if plaintext.trim() != plaintext {
        return format!("the bearer decrypts to a value with surrounding whitespace, not {what}");
    }
    if looks_like_base64_of_text(plaintext) {
        return format!(
            "the bearer decrypts to base64 text, not {what}: encrypt the value itself, not its base64 encoding"
        );
    }
    match expected {
        Secret::ApiKey if chars != 32 => {
            format!("the bearer decrypts to {chars} characters; an API key has 32 (a session id where the API key belongs?)")
        }
        Secret::ApiKey => format!(
            "the bearer decrypts to 32 characters that are not {what} (a renewed key, or one from another portal?)"
        ),
        Secret::SessionId => format!(
            "the bearer decrypts to {chars} characters that are not {what} (the API key where the session id belongs, \
             or a session from another sandbox run?)"
        ),
    }
}

/// Whether a value is Base64 of printable text (a common double encoding).
fn looks_like_base64_of_text(value: &str) -> bool {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    if value.len() < 8 || !value.len().is_multiple_of(4) || !value.ends_with('=') {
        return false;
    }
    STANDARD.decode(value).is_ok_and(|bytes| !bytes.is_empty() && bytes.iter().all(|b| b.is_ascii_graphic()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED_API_KEY: &str = "aaaab09uz9f3asdcjyk7els777ihmwv8";

    fn decoder(size: KeySize) -> BearerDecoder {
        BearerDecoder::new(ProviderKeys::load(size).expect("committed keys load"), 16)
    }

    #[test]
    fn a_bearer_made_by_the_seeds_java_sample_decodes_to_the_api_key() {
        // Made once by the seed's Java code (`Cipher.getInstance("RSA")`,
        // `X509EncodedKeySpec`) run against the committed public keys.
        for (size, bearer) in [
            (KeySize::Rsa4096, include_str!("testdata/java-bearer-4096.txt")),
            (KeySize::Rsa2048, include_str!("testdata/java-bearer-2048.txt")),
        ] {
            let header = format!("Bearer {}", bearer.trim());
            assert_eq!(decoder(size).decode(Some(header.as_bytes())), Ok(SEED_API_KEY.to_owned()));
        }
    }

    #[test]
    fn a_bearer_made_here_decodes_and_is_then_answered_from_the_cache() {
        let decoder = decoder(KeySize::Rsa2048);
        let bearer = encrypt(decoder.keys(), "session-1", &mut rand::rngs::OsRng).unwrap();
        assert_eq!(bearer.len(), 344);
        let header = format!("Bearer {bearer}");
        assert_eq!(decoder.decode(Some(header.as_bytes())).as_deref(), Ok("session-1"));
        assert_eq!(decoder.decode(Some(header.as_bytes())).as_deref(), Ok("session-1"));
        assert_eq!(decoder.cached(), 1);
    }

    #[test]
    fn each_malformed_bearer_is_refused_with_what_was_wrong() {
        let decoder = decoder(KeySize::Rsa4096);
        assert_eq!(decoder.decode(None), Err(BearerError::Header(AuthProblem::Missing)));
        assert!(matches!(
            decoder.decode(Some(b"Basic abc")),
            Err(BearerError::Header(AuthProblem::WrongScheme { .. }))
        ));
        assert_eq!(decoder.decode(Some(b"Bearer not*base64")), Err(BearerError::NotBase64));
        let short = crate::vodafone::bearer::encrypt(
            &ProviderKeys::load(KeySize::Rsa2048).unwrap(),
            SEED_API_KEY,
            &mut rand::rngs::OsRng,
        )
        .unwrap();
        let err = decoder.decode_token(&short).unwrap_err();
        assert_eq!(err, BearerError::WrongLength { got: 256, key: KeySize::Rsa4096 });
        assert!(err.to_string().contains("2048-bit key"), "{err}");
        use base64::Engine;
        let zeros = base64::engine::general_purpose::STANDARD.encode([0u8; 512]);
        assert_eq!(decoder.decode_token(&zeros), Err(BearerError::Undecryptable { key: KeySize::Rsa4096 }));
    }

    #[test]
    fn a_mismatch_is_described_by_its_shape_without_repeating_the_secret() {
        let secret = "abcdefghijabcdefghijabcdefghij12";
        let text = describe_mismatch(secret, Secret::ApiKey);
        assert!(!text.contains(secret));
        assert!(text.contains("renewed"), "{text}");
        assert!(describe_mismatch("short", Secret::ApiKey).contains("5 characters"));
        assert!(describe_mismatch(" padded ", Secret::ApiKey).contains("whitespace"));
        assert!(describe_mismatch("YWFhYWIwOXV6OWYzYXNkY2p5azdlbHM3NzdpaG13djg=", Secret::ApiKey).contains("base64"));
        assert!(describe_mismatch(secret, Secret::SessionId).contains("session"));
    }
}
