//! The published test keys.
//!
//! The key pairs were generated once with openssl and committed; the sandbox
//! never generates keys at startup (RSA key generation costs tens of
//! milliseconds to seconds, and clients need a stable certificate to encrypt
//! against).
//! They are test keys: public by design, worthless outside the sandbox.

use rsa::pkcs8::DecodePrivateKey;
use rsa::{RsaPrivateKey, RsaPublicKey};
use x509_cert::der::{Decode, DecodePem, Encode};
use x509_cert::Certificate;

/// The X.509 certificate Daraja clients encrypt initiator passwords with
/// (RSA-2048, self-signed, valid until 2051).
pub const DARAJA_CERT_PEM: &str = include_str!("keys/daraja-test-cert.pem");
const DARAJA_KEY_PEM: &str = include_str!("keys/daraja-test-key.pem");

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The certificate PEM could not be parsed as X.509.
    #[error("certificate is not valid X.509 PEM: {0}")]
    Certificate(String),
    /// The certificate's public key is not an RSA key.
    #[error("certificate does not carry an RSA public key: {0}")]
    PublicKey(String),
    /// The private key PEM could not be parsed as PKCS#8 RSA.
    #[error("private key is not valid PKCS#8 RSA PEM: {0}")]
    PrivateKey(String),
    /// The certificate and the private key do not belong together.
    #[error("certificate and private key do not match")]
    Mismatch,
}

/// A certificate and the private key that decrypts what was encrypted to it.
#[derive(Clone)]
pub struct KeyPair {
    pub cert_pem: &'static str,
    pub public: RsaPublicKey,
    pub private: RsaPrivateKey,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair").field("private", &"[redacted]").finish_non_exhaustive()
    }
}

impl KeyPair {
    /// The Daraja test key pair.
    pub fn daraja() -> Result<KeyPair, KeyError> {
        let public = public_key_from_certificate(DARAJA_CERT_PEM)?;
        let private = RsaPrivateKey::from_pkcs8_pem(DARAJA_KEY_PEM).map_err(|e| KeyError::PrivateKey(e.to_string()))?;
        if RsaPublicKey::from(&private) != public {
            return Err(KeyError::Mismatch);
        }
        Ok(KeyPair { cert_pem: DARAJA_CERT_PEM, public, private })
    }
}

/// Reads the RSA public key out of an X.509 certificate, the way a client does
/// before encrypting a credential.
pub fn public_key_from_certificate(pem: &str) -> Result<RsaPublicKey, KeyError> {
    let cert = Certificate::from_pem(pem.as_bytes()).map_err(|e| KeyError::Certificate(e.to_string()))?;
    let spki_der =
        cert.tbs_certificate.subject_public_key_info.to_der().map_err(|e| KeyError::PublicKey(e.to_string()))?;
    let spki = x509_cert::spki::SubjectPublicKeyInfoRef::from_der(&spki_der)
        .map_err(|e| KeyError::PublicKey(e.to_string()))?;
    RsaPublicKey::try_from(spki).map_err(|e| KeyError::PublicKey(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_daraja_certificate_matches_its_private_key() {
        let pair = KeyPair::daraja().expect("committed keys load");
        assert!(pair.cert_pem.contains("BEGIN CERTIFICATE"));
    }
}
