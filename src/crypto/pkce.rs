//! Proof Key for Code Exchange (RFC 7636): verifier rules, the S256
//! transform, and the check an authorization server makes at the token
//! endpoint.
//!
//! A code verifier is 43 to 128 characters of the unreserved set
//! `[A-Za-z0-9-._~]` (§4.1).
//! The S256 challenge is `BASE64URL(SHA256(ASCII(verifier)))` without padding
//! (§4.2), so a valid S256 challenge is always exactly 43 characters.
//! `plain` (the challenge is the verifier itself) exists in the RFC but is
//! only for clients that cannot hash; callers decide whether to accept it.
//!
//! **Invariant:** no function here returns or formats a verifier or a
//! challenge inside an error; problems name positions and lengths only, so
//! they are safe to show in a diagnosis.
//! **Invariant:** the final comparison is constant-time, whatever the inputs.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The shortest verifier RFC 7636 §4.1 allows.
pub const MIN_VERIFIER_LEN: usize = 43;
/// The longest verifier RFC 7636 §4.1 allows.
pub const MAX_VERIFIER_LEN: usize = 128;
/// The length of every S256 challenge: 32 digest bytes in unpadded base64url.
pub const S256_CHALLENGE_LEN: usize = 43;

/// How the challenge was derived from the verifier (`code_challenge_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeMethod {
    /// `S256`: the challenge is the unpadded base64url SHA-256 of the verifier.
    S256,
    /// `plain`: the challenge is the verifier.
    Plain,
}

impl ChallengeMethod {
    /// Reads a `code_challenge_method` value; RFC 7636 §4.3 spells them
    /// `S256` and `plain`, and the comparison is case-sensitive.
    pub fn parse(value: &str) -> Option<ChallengeMethod> {
        match value {
            "S256" => Some(ChallengeMethod::S256),
            "plain" => Some(ChallengeMethod::Plain),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ChallengeMethod::S256 => "S256",
            ChallengeMethod::Plain => "plain",
        }
    }
}

/// Why a string is not a well-formed verifier (or `plain` challenge).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifierProblem {
    /// Fewer than 43 characters.
    #[error("is {len} characters long; RFC 7636 requires 43 to 128")]
    TooShort { len: usize },
    /// More than 128 characters.
    #[error("is {len} characters long; RFC 7636 requires 43 to 128")]
    TooLong { len: usize },
    /// A character outside `[A-Za-z0-9-._~]`.
    #[error("has a character outside A-Z a-z 0-9 - . _ ~ at position {position} (of {len})")]
    BadCharacter { position: usize, len: usize },
}

/// Why a `code_challenge` can never be satisfied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeProblem {
    /// An S256 challenge that is not 43 characters (often standard base64
    /// with `=` padding, or a hex digest).
    #[error("is {len} characters long; an S256 challenge is exactly 43 characters of unpadded base64url")]
    WrongLength { len: usize },
    /// An S256 challenge with a character outside the base64url alphabet
    /// (often `+`, `/` or `=` from standard base64).
    #[error("has a character outside the base64url alphabet at position {position}; use base64url without padding, not standard base64")]
    NotBase64Url { position: usize },
    /// A `plain` challenge breaks the verifier rules.
    #[error("is a plain challenge that {0}")]
    Plain(VerifierProblem),
}

/// Why a verifier does not prove possession of the challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PkceError {
    /// The verifier itself is malformed.
    #[error("code_verifier {0}")]
    Malformed(VerifierProblem),
    /// The verifier is well formed but does not transform into the challenge.
    #[error("code_verifier does not match the code_challenge of the authorization request ({method} transform)")]
    Mismatch { method: &'static str },
}

/// Checks the RFC 7636 §4.1 verifier rules.
pub fn check_verifier(verifier: &str) -> Result<(), VerifierProblem> {
    let len = verifier.len();
    // Bytes, not characters: any non-ASCII byte is refused below anyway, and
    // the position reported is then the byte offset of the first bad byte.
    if let Some(position) = verifier.bytes().position(|b| !is_unreserved(b)) {
        return Err(VerifierProblem::BadCharacter { position, len });
    }
    if len < MIN_VERIFIER_LEN {
        return Err(VerifierProblem::TooShort { len });
    }
    if len > MAX_VERIFIER_LEN {
        return Err(VerifierProblem::TooLong { len });
    }
    Ok(())
}

/// Checks that a `code_challenge` can be satisfied by some verifier under
/// `method`, so a malformed challenge is refused at the authorization
/// endpoint instead of failing mysteriously at the token endpoint.
pub fn check_challenge(challenge: &str, method: ChallengeMethod) -> Result<(), ChallengeProblem> {
    match method {
        ChallengeMethod::S256 => {
            if let Some(position) = challenge.bytes().position(|b| !is_base64url(b)) {
                return Err(ChallengeProblem::NotBase64Url { position });
            }
            if challenge.len() != S256_CHALLENGE_LEN {
                return Err(ChallengeProblem::WrongLength { len: challenge.len() });
            }
            Ok(())
        }
        ChallengeMethod::Plain => check_verifier(challenge).map_err(ChallengeProblem::Plain),
    }
}

/// `BASE64URL(SHA256(ASCII(verifier)))`, unpadded (RFC 7636 §4.2).
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The token endpoint's check (RFC 7636 §4.6): the verifier must be well
/// formed and transform into the stored challenge.
pub fn verify(verifier: &str, challenge: &str, method: ChallengeMethod) -> Result<(), PkceError> {
    check_verifier(verifier).map_err(PkceError::Malformed)?;
    let computed = match method {
        ChallengeMethod::S256 => s256_challenge(verifier),
        ChallengeMethod::Plain => verifier.to_owned(),
    };
    // `ct_eq` on slices of different lengths is false without comparing
    // contents; lengths of challenges are not secret.
    if bool::from(computed.as_bytes().ct_eq(challenge.as_bytes())) {
        Ok(())
    } else {
        Err(PkceError::Mismatch { method: method.as_str() })
    }
}

/// A verifier and its S256 challenge, for clients and test helpers.
#[derive(Clone, PartialEq, Eq)]
pub struct PkcePair {
    pub verifier: String,
    pub challenge: String,
}

impl std::fmt::Debug for PkcePair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The verifier is the secret half; keep it out of logs.
        f.debug_struct("PkcePair").field("verifier", &"[redacted]").field("challenge", &self.challenge).finish()
    }
}

impl PkcePair {
    /// A fresh pair from 32 random bytes (a 43-character verifier, as RFC
    /// 7636 §4.1 recommends). The caller chooses the generator: the seeded
    /// one for reproducible tests, the operating system's for real secrecy.
    pub fn generate(rng: &mut impl RngCore) -> PkcePair {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        let verifier = URL_SAFE_NO_PAD.encode(bytes);
        let challenge = s256_challenge(&verifier);
        PkcePair { verifier, challenge }
    }

    /// The pair for a verifier the caller already has.
    pub fn from_verifier(verifier: &str) -> Result<PkcePair, VerifierProblem> {
        check_verifier(verifier)?;
        Ok(PkcePair { verifier: verifier.to_owned(), challenge: s256_challenge(verifier) })
    }
}

/// `unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"` (RFC 3986 §2.3).
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;

    // RFC 7636 Appendix B.
    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn the_rfc_7636_appendix_b_vector_verifies() {
        assert_eq!(s256_challenge(RFC_VERIFIER), RFC_CHALLENGE);
        assert_eq!(verify(RFC_VERIFIER, RFC_CHALLENGE, ChallengeMethod::S256), Ok(()));
    }

    #[test]
    fn a_wrong_verifier_is_a_mismatch() {
        let other = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK";
        assert_eq!(verify(other, RFC_CHALLENGE, ChallengeMethod::S256), Err(PkceError::Mismatch { method: "S256" }));
    }

    #[test]
    fn verifier_length_bounds_are_43_and_128() {
        assert_eq!(check_verifier(&"a".repeat(42)), Err(VerifierProblem::TooShort { len: 42 }));
        assert_eq!(check_verifier(&"a".repeat(43)), Ok(()));
        assert_eq!(check_verifier(&"a".repeat(128)), Ok(()));
        assert_eq!(check_verifier(&"a".repeat(129)), Err(VerifierProblem::TooLong { len: 129 }));
    }

    #[test]
    fn verifier_characters_are_the_unreserved_set() {
        assert_eq!(check_verifier(&format!("{}-._~", "Az09".repeat(10))), Ok(()));
        let with_plus = format!("{}+", "a".repeat(43));
        assert_eq!(check_verifier(&with_plus), Err(VerifierProblem::BadCharacter { position: 43, len: 44 }));
        let non_ascii = format!("é{}", "a".repeat(43));
        assert!(matches!(check_verifier(&non_ascii), Err(VerifierProblem::BadCharacter { position: 0, .. })));
    }

    #[test]
    fn a_malformed_verifier_is_refused_before_hashing() {
        assert_eq!(
            verify("short", RFC_CHALLENGE, ChallengeMethod::S256),
            Err(PkceError::Malformed(VerifierProblem::TooShort { len: 5 }))
        );
    }

    #[test]
    fn plain_compares_the_verifier_itself() {
        assert_eq!(verify(RFC_VERIFIER, RFC_VERIFIER, ChallengeMethod::Plain), Ok(()));
        assert!(verify(RFC_VERIFIER, RFC_CHALLENGE, ChallengeMethod::Plain).is_err());
    }

    #[test]
    fn padded_or_standard_base64_challenges_are_refused_with_the_reason() {
        let padded = format!("{RFC_CHALLENGE}=");
        assert_eq!(
            check_challenge(&padded, ChallengeMethod::S256),
            Err(ChallengeProblem::NotBase64Url { position: 43 })
        );
        assert_eq!(
            check_challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM", ChallengeMethod::S256),
            Err(ChallengeProblem::NotBase64Url { position: 40 })
        );
        assert_eq!(check_challenge("abc", ChallengeMethod::S256), Err(ChallengeProblem::WrongLength { len: 3 }));
        assert_eq!(check_challenge(RFC_CHALLENGE, ChallengeMethod::S256), Ok(()));
    }

    #[test]
    fn methods_are_case_sensitive() {
        assert_eq!(ChallengeMethod::parse("S256"), Some(ChallengeMethod::S256));
        assert_eq!(ChallengeMethod::parse("s256"), None);
        assert_eq!(ChallengeMethod::parse("plain"), Some(ChallengeMethod::Plain));
        assert_eq!(ChallengeMethod::parse("PLAIN"), None);
    }

    #[test]
    fn generated_pairs_are_valid_reproducible_and_keep_the_verifier_out_of_debug() {
        let mut a = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut b = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let pair = PkcePair::generate(&mut a);
        assert_eq!(pair, PkcePair::generate(&mut b));
        assert_eq!(pair.verifier.len(), 43);
        assert_eq!(verify(&pair.verifier, &pair.challenge, ChallengeMethod::S256), Ok(()));
        assert!(!format!("{pair:?}").contains(&pair.verifier));
        assert_eq!(PkcePair::from_verifier(RFC_VERIFIER).map(|p| p.challenge), Ok(RFC_CHALLENGE.to_owned()));
    }

    proptest! {
        #[test]
        fn any_input_is_judged_without_panicking(verifier in ".{0,200}", challenge in ".{0,80}") {
            let _ = verify(&verifier, &challenge, ChallengeMethod::S256);
            let _ = verify(&verifier, &challenge, ChallengeMethod::Plain);
            let _ = check_challenge(&challenge, ChallengeMethod::S256);
        }

        #[test]
        fn every_well_formed_verifier_verifies_against_its_own_challenge(verifier in "[A-Za-z0-9._~-]{43,128}") {
            let challenge = s256_challenge(&verifier);
            prop_assert_eq!(check_challenge(&challenge, ChallengeMethod::S256), Ok(()));
            prop_assert_eq!(verify(&verifier, &challenge, ChallengeMethod::S256), Ok(()));
        }
    }
}
