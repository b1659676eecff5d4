//! RS256-signed JSON Web Tokens (RFC 7515/7519) and what a verifier needs to
//! check them: the public key as JWK members (RFC 7517/7518), its RFC 7638
//! thumbprint as a stable key id, and the OpenID Connect `at_hash`.
//!
//! The signing itself is `jsonwebtoken`'s; this module only loads a PKCS#8
//! key (providers commit theirs), fixes the algorithm and the header, and
//! exposes the public half in the form a JWKS document needs.
//!
//! **Invariant:** the private key never leaves [`RsaJwtSigner`]; its `Debug`
//! output redacts it.
//! **Invariant:** pure: no I/O, no clock; the caller puts `iat`/`exp` in the
//! claims.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The only algorithm this module signs with: RSASSA-PKCS1-v1_5 with SHA-256,
/// the algorithm every OpenID Connect relying party must support.
pub const ALGORITHM: &str = "RS256";

/// Why a key could not be loaded or a token signed.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    /// The PEM is not a PKCS#8 RSA private key.
    #[error("private key is not valid PKCS#8 RSA PEM: {0}")]
    Key(String),
    /// The claims could not be serialized or the signature computed.
    #[error("could not sign the token: {0}")]
    Sign(String),
}

/// An RSA private key that signs RS256 tokens, with its key id.
#[derive(Clone)]
pub struct RsaJwtSigner {
    kid: String,
    encoding: EncodingKey,
    n: String,
    e: String,
}

impl std::fmt::Debug for RsaJwtSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaJwtSigner").field("kid", &self.kid).field("private", &"[redacted]").finish()
    }
}

impl RsaJwtSigner {
    /// Loads a PKCS#8 PEM RSA private key; the key id is the RFC 7638
    /// thumbprint of its public half, so it is stable for as long as the key
    /// is, and changes by itself if the key ever does.
    pub fn from_pkcs8_pem(pem: &str) -> Result<RsaJwtSigner, JwtError> {
        let private = RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| JwtError::Key(e.to_string()))?;
        let der = private.to_pkcs1_der().map_err(|e| JwtError::Key(e.to_string()))?;
        let n = URL_SAFE_NO_PAD.encode(private.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(private.e().to_bytes_be());
        let kid = rsa_thumbprint(&n, &e);
        Ok(RsaJwtSigner { kid, encoding: EncodingKey::from_rsa_der(der.as_bytes()), n, e })
    }

    /// The `kid` header of every token this key signs.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The modulus, unpadded base64url of its big-endian bytes (JWK `n`).
    pub fn modulus(&self) -> &str {
        &self.n
    }

    /// The public exponent, unpadded base64url (JWK `e`; `AQAB` for 65537).
    pub fn exponent(&self) -> &str {
        &self.e
    }

    /// Signs `claims` as a compact JWS with header `{"typ":"JWT","alg":"RS256","kid":…}`.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, JwtError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|e| JwtError::Sign(e.to_string()))
    }
}

/// The RFC 7638 JWK thumbprint of an RSA public key: SHA-256 over the
/// required members in lexicographic order, without whitespace.
pub fn rsa_thumbprint(n: &str, e: &str) -> String {
    // RFC 7638 §3.2 fixes this exact serialization; n and e are base64url and
    // so need no JSON escaping.
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The OpenID Connect `at_hash` (Core §3.1.3.6) for an RS256 ID token: the
/// left half of the SHA-256 of the access token's ASCII, base64url-encoded.
pub fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};
    use serde::Deserialize;

    /// A throwaway 1024-bit key from a seeded generator: small so the test
    /// is fast, seeded so every run signs with the same key.
    fn key() -> String {
        use rand::SeedableRng;
        use rsa::pkcs8::{EncodePrivateKey, LineEnding};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let private = RsaPrivateKey::new(&mut rng, 1024).expect("key generation");
        private.to_pkcs8_pem(LineEnding::LF).expect("PEM encoding").to_string()
    }

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Claims {
        sub: String,
        aud: String,
        exp: i64,
    }

    #[test]
    fn a_signed_token_verifies_with_the_public_components_alone() {
        let signer = RsaJwtSigner::from_pkcs8_pem(&key()).expect("the key loads");
        let claims = Claims { sub: "1".into(), aud: "client".into(), exp: 4_102_444_800 };
        let token = signer.sign(&claims).expect("signing works");

        let header = jsonwebtoken::decode_header(&token).expect("header decodes");
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(header.kid.as_deref(), Some(signer.kid()));

        let key = DecodingKey::from_rsa_components(signer.modulus(), signer.exponent()).expect("components decode");
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&["client"]);
        let decoded = jsonwebtoken::decode::<Claims>(&token, &key, &validation).expect("signature verifies");
        assert_eq!(decoded.claims, claims);
    }

    #[test]
    fn rs256_signatures_are_deterministic() {
        // PKCS#1 v1.5 has no randomness in its output, so the same claims
        // signed twice give the same token: seeded runs stay byte-identical.
        let signer = RsaJwtSigner::from_pkcs8_pem(&key()).expect("the key loads");
        let claims = Claims { sub: "1".into(), aud: "client".into(), exp: 1 };
        assert_eq!(signer.sign(&claims).unwrap(), signer.sign(&claims).unwrap());
    }

    #[test]
    fn the_thumbprint_matches_the_rfc_7638_example() {
        // RFC 7638 §3.1's example key and its published thumbprint.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(rsa_thumbprint(n, "AQAB"), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn the_public_members_are_unpadded_base64url_and_debug_hides_the_key() {
        let signer = RsaJwtSigner::from_pkcs8_pem(&key()).expect("the key loads");
        assert_eq!(signer.exponent(), "AQAB");
        assert_eq!(URL_SAFE_NO_PAD.decode(signer.modulus()).unwrap().len(), 128);
        assert!(!format!("{signer:?}").contains("BEGIN"));
    }

    #[test]
    fn a_malformed_key_is_an_error_not_a_panic() {
        assert!(matches!(RsaJwtSigner::from_pkcs8_pem("not a key"), Err(JwtError::Key(_))));
    }

    #[test]
    fn at_hash_is_the_left_half_of_the_sha256() {
        // 16 bytes of digest make 22 base64url characters.
        let hash = at_hash("48wJCHeJpUpeGUrDsLXc1AC8gzhgn7HX");
        assert_eq!(hash.len(), 22);
        let digest = Sha256::digest(b"48wJCHeJpUpeGUrDsLXc1AC8gzhgn7HX");
        assert_eq!(URL_SAFE_NO_PAD.decode(&hash).unwrap(), digest[..16].to_vec());
    }
}
