//! The provider's identifier formats, made from the tenant's seeded generator.
//!
//! Shapes follow captured traffic and the documentation's samples:
//! * `output_ConversationID`: 32 lower-case hex digits
//!   (`7dc387c7926d46ecbee22efd26bd246c`, a live Mozambique answer logged in
//!   a public database dump; `fd1e9143d22544459f7c66e1860ef276` in the
//!   OpenAPI documentation).
//! * `output_TransactionID`: 12 lower-case alphanumerics, as the sandboxes
//!   answer (`8loxwg1xwt4c` in a portal SDK's test fixture, `hv9ahxcg4ccv`
//!   in the OpenAPI documentation). Live Mozambique ids are 11 upper-case
//!   alphanumerics (`8AL05GXL79O`).
//! * `output_SessionID`: 32 lower-case hex digits.
//! * Direct debit: `output_TransactionReference` 32 lower-case alphanumerics
//!   (`vgisfyn4b22w6tmqjftatq75lyuie6vc`), `output_MsisdnToken` 24 Base64
//!   characters ending `==` (`cvgwUBZ3lAO9ivwhWAFeng==`), `output_MandateID`
//!   5 digits (`15045`).

use sha2::{Digest, Sha256};

use crate::ids::IdGen;

pub(crate) fn conversation_id(ids: &mut IdGen) -> String {
    ids.hex(32)
}

pub(crate) fn transaction_id(ids: &mut IdGen) -> String {
    ids.upper_alnum(12).to_ascii_lowercase()
}

pub(crate) fn session_id(ids: &mut IdGen) -> String {
    ids.hex(32)
}

pub(crate) fn direct_debit_reference(ids: &mut IdGen) -> String {
    ids.upper_alnum(32).to_ascii_lowercase()
}

pub(crate) fn msisdn_token(ids: &mut IdGen) -> String {
    format!("{}==", ids.alnum(22))
}

pub(crate) fn mandate_id(ids: &mut IdGen) -> String {
    // Five digits without a leading zero, so the id reads the same as a number.
    format!("{}", 10_000 + ids.between(0, 89_999))
}

/// A conversation id for an error answered before any record exists:
/// derived from the run's seed and the sandbox-wide request number, so it
/// needs no generator and is the same on every run with the same seed.
pub(crate) fn request_conversation_id(seed: u64, seq: u64) -> String {
    let digest = Sha256::new()
        .chain_update(b"vodafone")
        .chain_update(seed.to_be_bytes())
        .chain_update(seq.to_be_bytes())
        .finalize();
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(s: &str, f: impl Fn(u8) -> bool) -> bool {
        s.bytes().all(f)
    }

    #[test]
    fn identifiers_have_the_captured_shapes() {
        let mut ids = IdGen::new(7, "tenant");
        let c = conversation_id(&mut ids);
        assert!(c.len() == 32 && all(&c, |b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{c}");
        let t = transaction_id(&mut ids);
        assert!(t.len() == 12 && all(&t, |b| b.is_ascii_lowercase() || b.is_ascii_digit()), "{t}");
        let token = msisdn_token(&mut ids);
        assert!(token.len() == 24 && token.ends_with("=="), "{token}");
        let mandate = mandate_id(&mut ids);
        assert!(mandate.len() == 5 && all(&mandate, |b| b.is_ascii_digit()), "{mandate}");
        assert_eq!(direct_debit_reference(&mut ids).len(), 32);
        assert_eq!(session_id(&mut ids).len(), 32);
    }

    #[test]
    fn the_same_seed_gives_the_same_identifiers() {
        let (mut a, mut b) = (IdGen::new(1, "t"), IdGen::new(1, "t"));
        assert_eq!(conversation_id(&mut a), conversation_id(&mut b));
        assert_eq!(request_conversation_id(1, 2), request_conversation_id(1, 2));
        assert_ne!(request_conversation_id(1, 2), request_conversation_id(1, 3));
        assert_eq!(request_conversation_id(1, 2).len(), 32);
    }
}
