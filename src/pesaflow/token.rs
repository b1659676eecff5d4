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

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header every live token carries, in its key order.
const HEADER: &str = r#"{"typ":"JWT","alg":"HS256"}"#;

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
}
