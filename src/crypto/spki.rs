//! RSA public keys as Base64 DER `SubjectPublicKeyInfo`, the single-line
//! format developer portals print and SDKs paste into a config file.
//!
//! A client turns such a line into a key by Base64-decoding it and reading the
//! DER (Java's `X509EncodedKeySpec`, Python's `RSA.importKey`, Go's
//! `x509.ParsePKIXPublicKey`, or PHP and Node wrapping it in PEM armour).
//! These functions do the same and its inverse, so the sandbox can check the
//! key it publishes against the private key it decrypts with.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rsa::pkcs8::{DecodePublicKey, EncodePublicKey};
use rsa::RsaPublicKey;

/// Why a line could not be read as an RSA public key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpkiError {
    /// The text is not standard Base64 (line breaks and PEM armour included).
    #[error("the public key is not standard base64 on one line")]
    NotBase64,
    /// The bytes are not a DER `SubjectPublicKeyInfo` holding an RSA key.
    #[error("the public key is not an RSA SubjectPublicKeyInfo: {0}")]
    NotRsaSpki(String),
}

/// The key as one line of standard Base64 over its DER `SubjectPublicKeyInfo`.
pub fn to_base64(public: &RsaPublicKey) -> Result<String, SpkiError> {
    let der = public.to_public_key_der().map_err(|e| SpkiError::NotRsaSpki(e.to_string()))?;
    Ok(STANDARD.encode(der.as_bytes()))
}

/// Reads a key printed by [`to_base64`] (surrounding whitespace is ignored,
/// as every SDK trims the pasted value).
pub fn from_base64(line: &str) -> Result<RsaPublicKey, SpkiError> {
    let der = STANDARD.decode(line.trim()).map_err(|_| SpkiError::NotBase64)?;
    RsaPublicKey::from_public_key_der(&der).map_err(|e| SpkiError::NotRsaSpki(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_survives_the_round_trip_through_one_base64_line() {
        let pair = crate::crypto::keys::test_pair();
        let line = to_base64(&pair.public).unwrap();
        assert!(line.starts_with("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"), "{line}");
        assert!(!line.contains('\n'));
        assert_eq!(from_base64(&format!(" {line}\n")).unwrap(), pair.public);
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        assert_eq!(from_base64("not base64!"), Err(SpkiError::NotBase64));
        assert!(matches!(from_base64("AAAA"), Err(SpkiError::NotRsaSpki(_))));
    }
}
