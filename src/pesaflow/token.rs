//! The server-to-server token of `POST /api/oauth/generate/token`.
//!
//! Live tokens are HS256 JWTs with the header `{"typ":"JWT","alg":"HS256"}`
//! and the payload `{"id":"<api_client_id><YYYYMMDDHH><MM><unix seconds>"}`
//! (for example `5882026021116021770827500`: client 588, 2026-02-11 16h UTC,
//! month 02 again, likely a `%m` written for minutes, then the Unix time of
//! issue). The sandbox issues the same shape, signed with a key of its own,
//! and recognises its tokens by looking them up, never by decoding what a
//! client sends, so no JWT library is needed: the token is two base64url
//! JSON texts and an HMAC over them.
//!
//! **Invariant:** expiry is decided by the sandbox clock passed in.

use std::collections::{HashMap, VecDeque};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header every live token carries, in its key order.
const HEADER: &str = r#"{"typ":"JWT","alg":"HS256"}"#;

/// A token the sandbox issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IssuedToken {
    pub(crate) token: String,
    pub(crate) api_client_id: String,
    pub(crate) expires_at: DateTime<Utc>,
}

/// Why a bearer token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TokenProblem {
    /// Not a token this sandbox issued (or one it has forgotten).
    #[error("the bearer token was not issued by POST /api/oauth/generate/token")]
    Unknown,
    /// Issued, but its lifetime is over.
    #[error("the bearer token expired at {0}")]
    Expired(DateTime<Utc>),
}

/// The payload's `id`, as live tokens spell it.
pub(crate) fn token_id(api_client_id: &str, at: DateTime<Utc>) -> String {
    format!("{api_client_id}{}{}", at.format("%Y%m%d%H%m"), at.timestamp())
}

/// An HS256 JWT for `api_client_id`, signed with `signing_key`.
pub(crate) fn jwt(api_client_id: &str, at: DateTime<Utc>, signing_key: &[u8]) -> String {
    // The id is digits and the client id; serde_json escapes whatever else.
    let payload = serde_json::json!({ "id": token_id(api_client_id, at) }).to_string();
    let signing_input = format!("{}.{}", URL_SAFE_NO_PAD.encode(HEADER), URL_SAFE_NO_PAD.encode(payload));
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(signing_key).expect("HMAC takes any key length");
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// The tokens a tenant has issued, bounded: the oldest are forgotten first.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tokens {
    by_token: HashMap<String, IssuedToken>,
    order: VecDeque<String>,
    cap: usize,
}

impl Tokens {
    pub(crate) fn new(cap: usize) -> Tokens {
        Tokens { cap: cap.max(1), ..Tokens::default() }
    }

    /// Issues a token valid for `ttl_secs` from `at`.
    pub(crate) fn issue(
        &mut self,
        api_client_id: &str,
        at: DateTime<Utc>,
        ttl_secs: u64,
        signing_key: &[u8],
    ) -> IssuedToken {
        let ttl = Duration::seconds(i64::try_from(ttl_secs).unwrap_or(i64::MAX).min(86_400));
        let issued = IssuedToken {
            token: jwt(api_client_id, at, signing_key),
            api_client_id: api_client_id.to_owned(),
            expires_at: at.checked_add_signed(ttl).unwrap_or(at),
        };
        while self.by_token.len() >= self.cap {
            let Some(oldest) = self.order.pop_front() else { break };
            self.by_token.remove(&oldest);
        }
        // Two tokens issued in the same second for the same client are the
        // same text; the newer replaces the older.
        if self.by_token.insert(issued.token.clone(), issued.clone()).is_none() {
            self.order.push_back(issued.token.clone());
        }
        issued
    }

    /// The token's record if it is known and unexpired at `at`.
    pub(crate) fn check(&self, token: &str, at: DateTime<Utc>) -> Result<&IssuedToken, TokenProblem> {
        let issued = self.by_token.get(token).ok_or(TokenProblem::Unknown)?;
        if at >= issued.expires_at {
            return Err(TokenProblem::Expired(issued.expires_at));
        }
        Ok(issued)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).single().unwrap()
    }

    #[test]
    fn the_token_has_the_live_header_and_payload() {
        // 2026-02-11T16:31:40Z, the issue time of a captured live token.
        let token = jwt("588", at(1_770_827_500), b"sandbox");
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9", "the live header, byte for byte");
        assert_eq!(parts[1], "eyJpZCI6IjU4ODIwMjYwMjExMTYwMjE3NzA4Mjc1MDAifQ", "the live payload, byte for byte");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"sandbox").unwrap();
        mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
        assert!(mac.verify_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).is_ok());
    }

    #[test]
    fn a_token_is_valid_until_it_expires() {
        let mut tokens = Tokens::new(10);
        let issued = tokens.issue("1", at(1_000), 3599, b"k");
        assert_eq!(issued.expires_at, at(4_599));
        assert_eq!(tokens.check(&issued.token, at(4_598)).map(|t| t.api_client_id.as_str()), Ok("1"));
        assert_eq!(tokens.check(&issued.token, at(4_599)), Err(TokenProblem::Expired(at(4_599))));
        assert_eq!(tokens.check("eyJ.forged.token", at(1_000)), Err(TokenProblem::Unknown));
    }

    #[test]
    fn the_oldest_tokens_are_forgotten_past_the_cap() {
        let mut tokens = Tokens::new(2);
        let first = tokens.issue("1", at(1), 60, b"k");
        tokens.issue("1", at(2), 60, b"k");
        tokens.issue("1", at(3), 60, b"k");
        assert_eq!(tokens.check(&first.token, at(3)), Err(TokenProblem::Unknown));
        let again = tokens.issue("1", at(3), 60, b"k");
        assert!(tokens.check(&again.token, at(3)).is_ok());
    }
}
