//! `Authorization` header parsing shared by every provider.
//!
//! Only the parsing lives here; what a failure means on the wire is each
//! provider's business.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// Why an `Authorization` header could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AuthProblem {
    #[error("no Authorization header")]
    Missing,
    #[error("the Authorization header is not valid text")]
    NotText,
    #[error("the Authorization header uses the {found:?} scheme, {expected} was expected")]
    WrongScheme { expected: &'static str, found: String },
    #[error("the Authorization header has no credentials after the scheme")]
    Empty,
    #[error("the Basic credentials are not valid base64")]
    NotBase64,
    #[error("the Basic credentials are not `key:secret` (no ':' after decoding)")]
    NoColon,
}

/// Splits `Scheme credentials`, matching the scheme case-insensitively.
fn credentials<'a>(header: Option<&'a [u8]>, scheme: &'static str) -> Result<&'a str, AuthProblem> {
    let header = header.ok_or(AuthProblem::Missing)?;
    let header = std::str::from_utf8(header).map_err(|_| AuthProblem::NotText)?.trim();
    let (found, rest) = header.split_once(' ').unwrap_or((header, ""));
    if !found.eq_ignore_ascii_case(scheme) {
        return Err(AuthProblem::WrongScheme { expected: scheme, found: found.chars().take(16).collect() });
    }
    let rest = rest.trim();
    if rest.is_empty() {
        return Err(AuthProblem::Empty);
    }
    Ok(rest)
}

/// `Basic base64(user:password)` → `(user, password)`.
pub(crate) fn basic(header: Option<&[u8]>) -> Result<(String, String), AuthProblem> {
    let encoded = credentials(header, "Basic")?;
    let decoded = STANDARD.decode(encoded).map_err(|_| AuthProblem::NotBase64)?;
    let decoded = String::from_utf8_lossy(&decoded);
    let (user, password) = decoded.split_once(':').ok_or(AuthProblem::NoColon)?;
    Ok((user.to_owned(), password.to_owned()))
}

/// `Bearer token` → `token`.
pub(crate) fn bearer(header: Option<&[u8]>) -> Result<&str, AuthProblem> {
    credentials(header, "Bearer")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn basic_credentials_decode() {
        let header = format!("Basic {}", STANDARD.encode("key:se:cret"));
        assert_eq!(basic(Some(header.as_bytes())), Ok(("key".into(), "se:cret".into())));
        assert_eq!(basic(None), Err(AuthProblem::Missing));
        assert_eq!(basic(Some(b"Basic !!")), Err(AuthProblem::NotBase64));
        assert!(matches!(basic(Some(b"Bearer abc")), Err(AuthProblem::WrongScheme { .. })));
    }

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        assert_eq!(bearer(Some(b"bearer abc")), Ok("abc"));
        assert_eq!(bearer(Some(b"Bearer ")), Err(AuthProblem::Empty));
        assert_eq!(bearer(Some(&[0xff, 0xfe])), Err(AuthProblem::NotText));
    }

    proptest! {
        #[test]
        fn any_header_parses_or_fails_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = basic(Some(&bytes));
            let _ = bearer(Some(&bytes));
        }
    }
}
