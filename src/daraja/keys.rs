//! Daraja's published test keys: the certificate clients encrypt initiator
//! passwords with, and the private key the sandbox decrypts with.

use crate::crypto::keys::{KeyError, KeyPair};

/// The X.509 certificate Daraja clients encrypt initiator passwords with
/// (RSA-2048, self-signed, valid until 2051).
pub const CERTIFICATE_PEM: &str = include_str!("keys/test-cert.pem");
const KEY_PEM: &str = include_str!("keys/test-key.pem");

/// The Daraja test key pair.
pub fn pair() -> Result<KeyPair, KeyError> {
    KeyPair::from_pem(CERTIFICATE_PEM, KEY_PEM)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_committed_certificate_matches_its_private_key() {
        let pair = super::pair().expect("committed keys load");
        assert!(pair.cert_pem.contains("BEGIN CERTIFICATE"));
    }
}
