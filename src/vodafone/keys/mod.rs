//! The provider's published test keys: a 4096-bit pair (what the portal and
//! the OpenAPI really use) and a 2048-bit pair for load tests (a 2048-bit
//! decryption costs about a seventh of a 4096-bit one).
//!
//! Each pair is committed as a PKCS#8 PEM private key and the public key as
//! one line of Base64 DER `SubjectPublicKeyInfo`, exactly what the portal's
//! Account Profile page prints and what every SDK loads (the seed's Java
//! sample feeds it to `X509EncodedKeySpec`; Python's portalsdk to
//! `RSA.importKey`). The keys were generated once with openssl; the sandbox
//! never generates keys. They are test keys: public by design, worthless
//! outside the sandbox.

use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};

use crate::crypto::keys::KeyError;
use crate::crypto::spki;

const RSA4096_SPKI: &str = include_str!("rsa-4096-spki.b64");
const RSA4096_KEY_PEM: &str = include_str!("rsa-4096-key.pem");
const RSA2048_SPKI: &str = include_str!("rsa-2048-spki.b64");
const RSA2048_KEY_PEM: &str = include_str!("rsa-2048-key.pem");

/// Which committed pair a world uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) enum KeySize {
    /// 4096 bits, as the real portal and OpenAPI keys are (the default).
    #[default]
    Rsa4096,
    /// 2048 bits, for load tests where decryption cost matters.
    Rsa2048,
}

impl KeySize {
    pub(crate) fn bits(self) -> usize {
        match self {
            KeySize::Rsa4096 => 4096,
            KeySize::Rsa2048 => 2048,
        }
    }

    pub(crate) fn from_bits(bits: u64) -> Option<KeySize> {
        match bits {
            4096 => Some(KeySize::Rsa4096),
            2048 => Some(KeySize::Rsa2048),
            _ => None,
        }
    }

    /// Bytes of a ciphertext made with this key (512 or 256), and so of a
    /// decoded bearer.
    pub(crate) fn ciphertext_len(self) -> usize {
        self.bits() / 8
    }
}

/// A published public key and the private key that decrypts what was
/// encrypted to it.
#[derive(Clone)]
pub(crate) struct ProviderKeys {
    pub(crate) size: KeySize,
    /// The public key as the portal prints it: one line, no armour.
    pub(crate) spki_base64: &'static str,
    pub(crate) public: RsaPublicKey,
    pub(crate) private: RsaPrivateKey,
}

impl std::fmt::Debug for ProviderKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderKeys").field("size", &self.size).field("private", &"[redacted]").finish_non_exhaustive()
    }
}

impl ProviderKeys {
    /// Loads a committed pair and checks that its halves belong together.
    pub(crate) fn load(size: KeySize) -> Result<ProviderKeys, KeyError> {
        let (spki_text, pem) = match size {
            KeySize::Rsa4096 => (RSA4096_SPKI, RSA4096_KEY_PEM),
            KeySize::Rsa2048 => (RSA2048_SPKI, RSA2048_KEY_PEM),
        };
        let spki_base64 = spki_text.trim();
        let public = spki::from_base64(spki_base64).map_err(|e| KeyError::PublicKey(e.to_string()))?;
        let private = RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| KeyError::PrivateKey(e.to_string()))?;
        if RsaPublicKey::from(&private) != public || public.size() != size.ciphertext_len() {
            return Err(KeyError::Mismatch);
        }
        Ok(ProviderKeys { size, spki_base64, public, private })
    }

    /// The public key as a PEM `PUBLIC KEY` block, for clients (PHP's
    /// `openssl_get_publickey`, Node's `publicEncrypt`) that want armour.
    pub(crate) fn public_pem(&self) -> String {
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        let bytes = self.spki_base64.as_bytes();
        for line in bytes.chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_committed_pairs_load_and_print_the_portal_format() {
        let big = ProviderKeys::load(KeySize::Rsa4096).expect("the 4096-bit pair loads");
        assert_eq!(big.spki_base64.len(), 736);
        assert!(big.spki_base64.starts_with("MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEA"));
        let small = ProviderKeys::load(KeySize::Rsa2048).expect("the 2048-bit pair loads");
        assert_eq!(small.spki_base64.len(), 392);
        assert!(small.spki_base64.starts_with("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"));
        assert!(!format!("{big:?}").contains("BEGIN"));
    }

    #[test]
    fn the_pem_form_reads_back_to_the_same_key() {
        use rsa::pkcs8::DecodePublicKey;
        let keys = ProviderKeys::load(KeySize::Rsa2048).unwrap();
        let pem = keys.public_pem();
        assert!(pem.lines().all(|l| l.len() <= 64));
        assert_eq!(RsaPublicKey::from_public_key_pem(&pem).unwrap(), keys.public);
    }

    #[test]
    fn key_sizes_come_only_from_the_two_committed_pairs() {
        assert_eq!(KeySize::from_bits(4096), Some(KeySize::Rsa4096));
        assert_eq!(KeySize::from_bits(1024), None);
        assert_eq!(KeySize::Rsa2048.ciphertext_len(), 256);
    }
}
