//! HTTPS serving for every provider: a committed test CA and a `localhost`
//! certificate it signed (for `localhost`, `127.0.0.1` and `::1`), or a
//! certificate and key of the user's.
//!
//! Real SDKs of some providers set only a host and always speak TLS to fixed
//! ports; with `--tls` they run unmodified against the sandbox once their
//! machine (or their HTTP client) trusts [`CA_PEM`], which the CLI prints
//! (`pesa-sandbox tls-ca`) and the admin API serves (`/__sandbox/tls/ca.pem`).
//! The CA's private key was discarded after signing, so nothing else can
//! chain to it; the certificates are test material, public by design.
//!
//! **Invariant:** pure functions of their inputs; errors are typed.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The test CA clients trust (valid until 2126).
pub const CA_PEM: &str = include_str!("ca.pem");
/// The `localhost` certificate the CA signed.
pub const LOCALHOST_CERT_PEM: &str = include_str!("localhost.pem");
/// Its private key (P-256, PKCS#8).
pub const LOCALHOST_KEY_PEM: &str = include_str!("localhost-key.pem");

/// A certificate chain and its key, as PEM text.
#[derive(Clone)]
pub struct TlsIdentity {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity").field("key_pem", &"[redacted]").finish_non_exhaustive()
    }
}

impl TlsIdentity {
    /// The committed `localhost` certificate and key.
    pub fn test_localhost() -> TlsIdentity {
        TlsIdentity { cert_pem: LOCALHOST_CERT_PEM.to_owned(), key_pem: LOCALHOST_KEY_PEM.to_owned() }
    }
}

/// Why a certificate or key could not be served.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate PEM holds no certificate, or one that does not parse.
    #[error("the certificate PEM holds no readable certificate: {0}")]
    Certificate(String),
    /// The key PEM holds no private key rustls can use.
    #[error("the key PEM holds no usable private key: {0}")]
    Key(String),
    /// rustls refused the pair (a key that does not match, an unsupported algorithm).
    #[error("the certificate and key cannot be served: {0}")]
    Config(String),
}

/// A server configuration for an identity: TLS 1.2 and 1.3, HTTP/1.1 and h2.
pub fn server_config(identity: &TlsIdentity) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(identity.cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Certificate(e.to_string()))?;
    if chain.is_empty() {
        return Err(TlsError::Certificate("no CERTIFICATE block".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(identity.key_pem.as_bytes()).map_err(|e| TlsError::Key(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Whether the first byte a client sent opens a TLS handshake (a
/// `ContentType::Handshake` record), so one port can serve both.
pub(crate) fn is_handshake(first: u8) -> bool {
    first == 0x16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_identity_loads() {
        assert!(server_config(&TlsIdentity::test_localhost()).is_ok());
        assert!(CA_PEM.starts_with("-----BEGIN CERTIFICATE-----"));
    }

    #[test]
    fn garbage_is_refused_with_what_was_wrong() {
        let bad = TlsIdentity { cert_pem: "nope".into(), key_pem: LOCALHOST_KEY_PEM.into() };
        assert!(matches!(server_config(&bad), Err(TlsError::Certificate(_))));
        let bad = TlsIdentity { cert_pem: LOCALHOST_CERT_PEM.into(), key_pem: "nope".into() };
        assert!(matches!(server_config(&bad), Err(TlsError::Key(_))));
        let wrong = TlsIdentity { cert_pem: CA_PEM.into(), key_pem: LOCALHOST_KEY_PEM.into() };
        assert!(server_config(&wrong).is_err(), "a key that is not the certificate's");
        assert!(is_handshake(0x16) && !is_handshake(b'G'));
    }
}
