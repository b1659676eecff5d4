//! Loading the published test keys.
//!
//! Each provider commits the key pairs its clients encrypt to (generated
//! once with openssl); the sandbox never generates keys at startup (RSA key
//! generation costs tens of milliseconds to seconds, and clients need a
//! stable certificate to encrypt against).
//! They are test keys: public by design, worthless outside the sandbox.

use rsa::pkcs8::DecodePrivateKey;
use rsa::{RsaPrivateKey, RsaPublicKey};
use x509_cert::der::{Decode, DecodePem, Encode};
use x509_cert::Certificate;

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
    /// A certificate (PEM) and its PKCS#8 private key (PEM), checked to
    /// belong together.
    pub fn from_pem(cert_pem: &'static str, key_pem: &str) -> Result<KeyPair, KeyError> {
        let public = public_key_from_certificate(cert_pem)?;
        let private = RsaPrivateKey::from_pkcs8_pem(key_pem).map_err(|e| KeyError::PrivateKey(e.to_string()))?;
        if RsaPublicKey::from(&private) != public {
            return Err(KeyError::Mismatch);
        }
        Ok(KeyPair { cert_pem, public, private })
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

/// A committed key pair for this module's own tests (the first provider's).
#[cfg(test)]
pub(crate) fn test_pair() -> KeyPair {
    KeyPair::from_pem(include_str!("../daraja/keys/test-cert.pem"), include_str!("../daraja/keys/test-key.pem"))
        .expect("the committed test keys load")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_and_a_key_that_do_not_belong_together_are_refused() {
        let cert = test_pair().cert_pem;
        let err = KeyPair::from_pem(cert, "not a key").unwrap_err();
        assert!(matches!(err, KeyError::PrivateKey(_)), "{err}");
        assert!(matches!(KeyPair::from_pem("not a certificate", "x").unwrap_err(), KeyError::Certificate(_)));
    }
}
