//! Seeded identifiers.
//!
//! Every identifier, receipt number, token and random choice the sandbox makes
//! comes from an [`IdGen`], a ChaCha generator seeded from the run's seed and
//! the tenant's id.
//! The same seed and the same sequence of requests therefore give the same
//! identifiers, byte for byte.
//! Provider modules turn these primitives into their own wire formats.

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const HEX: &[u8] = b"0123456789abcdef";

/// Where secrets come from: bearer tokens, generated consumer secrets and
/// passkeys, callback signing secrets, admin tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Secrets {
    /// From the operating system when the sandbox listens beyond loopback,
    /// from the seed on loopback.
    #[default]
    Auto,
    /// From the run's seed, like identifiers: reproducible, and predictable
    /// to anyone who knows the seed (the banner prints it).
    Seeded,
    /// From the operating system's randomness.
    Random,
}

impl Secrets {
    /// `Auto` resolved for a sandbox that listens beyond loopback, or not.
    pub fn resolve(self, beyond_loopback: bool) -> Secrets {
        match self {
            Secrets::Auto if beyond_loopback => Secrets::Random,
            Secrets::Auto => Secrets::Seeded,
            other => other,
        }
    }
}

#[derive(Debug, Clone)]
pub struct IdGen {
    rng: ChaCha8Rng,
    counter: u64,
}

impl IdGen {
    /// A generator for one stream (a tenant, or the sandbox-wide stream),
    /// derived from the run's seed and the stream's name.
    pub fn new(seed: u64, stream: &str) -> IdGen {
        let mut hasher = Sha256::new();
        hasher.update(seed.to_be_bytes());
        hasher.update(stream.as_bytes());
        let digest: [u8; 32] = hasher.finalize().into();
        IdGen { rng: ChaCha8Rng::from_seed(digest), counter: 0 }
    }

    /// A generator seeded from the operating system's randomness, for
    /// secrets nobody may predict.
    pub fn from_entropy() -> IdGen {
        IdGen { rng: ChaCha8Rng::from_entropy(), counter: 0 }
    }

    /// The generator for secrets of a stream: seeded like [`IdGen::new`],
    /// or from the operating system.
    pub fn for_secrets(secrets: Secrets, seed: u64, stream: &str) -> IdGen {
        match secrets {
            Secrets::Random => IdGen::from_entropy(),
            Secrets::Auto | Secrets::Seeded => IdGen::new(seed, stream),
        }
    }

    /// A monotonically increasing number, starting at 1.
    pub fn next_seq(&mut self) -> u64 {
        self.counter = self.counter.wrapping_add(1);
        self.counter
    }

    /// The id of a callback job, `cb-<next_seq>`, written into a string of
    /// its size (one per settled transaction; `format!` grew its string).
    /// `cb-` and a decimal sequence number: at most 23 bytes, held inline
    /// (no allocation to make, share or free with the callback's journal).
    pub fn callback_id(&mut self) -> compact_str::CompactString {
        use std::fmt::Write;
        let mut id = compact_str::CompactString::const_new("cb-");
        let _ = write!(id, "{}", self.next_seq());
        id
    }

    pub fn hex(&mut self, len: usize) -> String {
        let mut out = String::with_capacity(len);
        self.push_hex(&mut out, len);
        out
    }

    /// Appends `len` hex digits to `out` (the same draws as [`IdGen::hex`]):
    /// sixteen digits from each 64-bit draw, every digit uniform.
    pub fn push_hex(&mut self, out: &mut String, len: usize) {
        out.reserve(len);
        let mut left = len;
        while left > 0 {
            let digits = left.min(16);
            let mut bits = self.rng.next_u64();
            for _ in 0..digits {
                out.push(char::from(HEX[(bits & 0xf) as usize]));
                bits >>= 4;
            }
            left = left.saturating_sub(digits);
        }
    }

    pub fn upper_alnum(&mut self, len: usize) -> String {
        self.pick(UPPER_ALNUM, len)
    }

    /// [`IdGen::upper_alnum`], appended to `out` (the same draws).
    pub fn push_upper_alnum(&mut self, out: &mut impl Extend<char>, len: usize) {
        self.push_from(UPPER_ALNUM, out, len);
    }

    pub fn alnum(&mut self, len: usize) -> String {
        self.pick(ALNUM, len)
    }

    pub fn digits(&mut self, len: usize) -> String {
        self.pick(b"0123456789", len)
    }

    /// A uniform choice in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        self.rng.gen_range(low..=high)
    }

    fn pick(&mut self, alphabet: &[u8], len: usize) -> String {
        let mut out = String::with_capacity(len);
        self.push_from(alphabet, &mut out, len);
        out
    }

    /// Appends `len` characters drawn from `alphabet` (one of the constants above).
    fn push_from(&mut self, alphabet: &[u8], out: &mut impl Extend<char>, len: usize) {
        out.extend((0..len).map(|_| char::from(alphabet[self.rng.gen_range(0..alphabet.len())])));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_ids_count_up_as_decimal() {
        let mut ids = IdGen::new(7, "default");
        assert_eq!(ids.callback_id(), "cb-1");
        for _ in 0..8 {
            ids.next_seq();
        }
        assert_eq!(ids.callback_id(), "cb-10");
        ids.counter = u64::MAX - 1;
        assert_eq!(ids.callback_id(), format!("cb-{}", u64::MAX));
        assert_eq!(ids.callback_id(), "cb-0");
    }

    #[test]
    fn hex_digits_are_lower_case_and_each_is_drawn() {
        let mut ids = IdGen::new(7, "default");
        for len in [0, 1, 15, 16, 17, 33] {
            assert_eq!(ids.hex(len).len(), len);
        }
        let many = ids.hex(16 * 1024);
        assert!(many.bytes().all(|b| HEX.contains(&b)), "{many}");
        for digit in HEX {
            // 1,024 expected of each; a fair draw stays well within half and double.
            let n = many.bytes().filter(|b| b == digit).count();
            assert!((512..2048).contains(&n), "{} drawn {n} times", char::from(*digit));
        }
    }

    #[test]
    fn same_seed_and_stream_give_the_same_ids() {
        let mut a = IdGen::new(7, "default");
        let mut b = IdGen::new(7, "default");
        assert_eq!(a.hex(12), b.hex(12));
        assert_eq!(a.upper_alnum(10), b.upper_alnum(10));
    }

    #[test]
    fn random_secrets_differ_between_generators_and_seeded_ones_repeat() {
        let mut a = IdGen::for_secrets(Secrets::Random, 7, "default");
        let mut b = IdGen::for_secrets(Secrets::Random, 7, "default");
        assert_ne!(a.alnum(32), b.alnum(32));
        let mut c = IdGen::for_secrets(Secrets::Seeded, 7, "default");
        assert_eq!(c.alnum(32), IdGen::new(7, "default").alnum(32));
        assert_eq!(Secrets::Auto.resolve(true), Secrets::Random);
        assert_eq!(Secrets::Auto.resolve(false), Secrets::Seeded);
        assert_eq!(Secrets::Seeded.resolve(true), Secrets::Seeded);
    }

    #[test]
    fn different_streams_diverge() {
        let mut a = IdGen::new(7, "default");
        let mut b = IdGen::new(7, "tenant-2");
        assert_ne!(a.alnum(28), b.alnum(28));
    }
}
