//! Lipa na M-Pesa Online (M-Pesa Express) password and timestamp.
//!
//! `Password = base64(BusinessShortCode + Passkey + Timestamp)`, with
//! `Timestamp` as `YYYYMMDDHHmmss` in the client's local time.
//! [`check_password`] does not just say "wrong": it says which of the three
//! parts differs, without ever echoing the passkey.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::NaiveDateTime;

/// Derives the password a client should send.
pub fn password(shortcode: &str, passkey: &str, timestamp: &str) -> String {
    STANDARD.encode(format!("{shortcode}{passkey}{timestamp}"))
}

/// Why a `Password` does not match; each variant is safe to show a developer
/// (no variant carries the passkey).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordMismatch {
    #[error("Password is not valid base64")]
    NotBase64,
    #[error("Password does not start with the BusinessShortCode {expected} (it decodes to {len} bytes starting with {found:?})")]
    ShortcodeDiffers { expected: String, found: String, len: usize },
    #[error("Password does not end with the Timestamp field {expected} (it ends with {found:?}); use the same timestamp in both")]
    TimestampDiffers { expected: String, found: String },
    #[error("Password has the right shortcode and timestamp, but the passkey in the middle is not the passkey of shortcode {shortcode} ({found_len} characters, expected {expected_len})")]
    PasskeyDiffers { shortcode: String, found_len: usize, expected_len: usize },
}

/// Checks a `Password` against the shortcode's passkey and the request's
/// `Timestamp`.
pub fn check_password(given: &str, shortcode: &str, passkey: &str, timestamp: &str) -> Result<(), PasswordMismatch> {
    let decoded = STANDARD.decode(given.trim()).map_err(|_| PasswordMismatch::NotBase64)?;
    // The usual case, compared as bytes: a password that matches is the
    // three texts one after the other. Anything else is read as text below
    // to say what differs.
    let (s, p, t) = (shortcode.as_bytes(), passkey.as_bytes(), timestamp.as_bytes());
    if decoded.len() == s.len().saturating_add(p.len()).saturating_add(t.len())
        && decoded.starts_with(s)
        && decoded.ends_with(t)
        && decoded.get(s.len()..decoded.len().saturating_sub(t.len())) == Some(p)
    {
        return Ok(());
    }
    let decoded = String::from_utf8_lossy(&decoded);
    if !decoded.starts_with(shortcode) {
        return Err(PasswordMismatch::ShortcodeDiffers {
            expected: shortcode.to_owned(),
            found: decoded.chars().take(shortcode.len()).collect(),
            len: decoded.len(),
        });
    }
    if !decoded.ends_with(timestamp) || decoded.len() < shortcode.len() + timestamp.len() {
        let tail: String = {
            let chars: Vec<char> = decoded.chars().collect();
            chars[chars.len().saturating_sub(timestamp.len())..].iter().collect()
        };
        return Err(PasswordMismatch::TimestampDiffers { expected: timestamp.to_owned(), found: tail });
    }
    let middle = &decoded[shortcode.len()..decoded.len() - timestamp.len()];
    if middle != passkey {
        return Err(PasswordMismatch::PasskeyDiffers {
            shortcode: shortcode.to_owned(),
            found_len: middle.chars().count(),
            expected_len: passkey.chars().count(),
        });
    }
    Ok(())
}

/// Why a `Timestamp` is not `YYYYMMDDHHmmss`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    #[error("Timestamp must be 14 digits, YYYYMMDDHHmmss (got {0} characters)")]
    Length(usize),
    #[error("Timestamp must contain only digits, YYYYMMDDHHmmss")]
    NotDigits,
    #[error("Timestamp is not a real date and time (month 01-12, day of that month, hour 00-23)")]
    NotADate,
}

/// Parses `YYYYMMDDHHmmss` into a wall-clock reading (no zone: clients send
/// their local time).
pub fn parse_timestamp(s: &str) -> Result<NaiveDateTime, TimestampError> {
    if s.len() != 14 {
        return Err(TimestampError::Length(s.chars().count()));
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TimestampError::NotDigits);
    }
    // Fourteen ASCII digits: read the fields straight (as `%Y%m%d%H%M%S`
    // reads them, without interpreting a format string on every push).
    let field = |range: std::ops::Range<usize>| s[range].parse::<u32>().unwrap_or(u32::MAX);
    let year = i32::try_from(field(0..4)).map_err(|_| TimestampError::NotADate)?;
    chrono::NaiveDate::from_ymd_opt(year, field(4..6), field(6..8))
        .and_then(|date| date.and_hms_opt(field(8..10), field(10..12), field(12..14)))
        .ok_or(TimestampError::NotADate)
}

/// Formats a wall-clock reading as `YYYYMMDDHHmmss`.
pub fn format_timestamp(at: NaiveDateTime) -> String {
    crate::clock::digits(at, b"YmdHMS")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PASSKEY: &str = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919";

    #[test]
    fn password_matches_the_documented_sample() {
        assert_eq!(
            password("174379", PASSKEY, "20160216165627"),
            "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGExZWQyYzkxOTIwMTYwMjE2MTY1NjI3"
        );
    }

    #[test]
    fn each_wrong_part_is_named() {
        let ts = "20240101120000";
        let wrong_shortcode = password("174378", PASSKEY, ts);
        assert!(matches!(
            check_password(&wrong_shortcode, "174379", PASSKEY, ts),
            Err(PasswordMismatch::ShortcodeDiffers { .. })
        ));
        let wrong_ts = password("174379", PASSKEY, "20240101120001");
        assert!(matches!(
            check_password(&wrong_ts, "174379", PASSKEY, ts),
            Err(PasswordMismatch::TimestampDiffers { .. })
        ));
        let wrong_key = password("174379", "nope", ts);
        let err = check_password(&wrong_key, "174379", PASSKEY, ts).unwrap_err();
        assert!(matches!(err, PasswordMismatch::PasskeyDiffers { .. }));
        assert!(!err.to_string().contains(PASSKEY), "the diagnosis never echoes the passkey");
        assert_eq!(check_password("%%%", "174379", PASSKEY, ts), Err(PasswordMismatch::NotBase64));
    }

    #[test]
    fn timestamps_must_be_real_dates() {
        assert!(parse_timestamp("20240229235959").is_ok());
        assert_eq!(parse_timestamp("20230229235959"), Err(TimestampError::NotADate));
        assert_eq!(parse_timestamp("2024-01-01"), Err(TimestampError::Length(10)));
        assert_eq!(parse_timestamp("2024010112000a"), Err(TimestampError::NotDigits));
    }

    proptest! {
        #[test]
        fn a_derived_password_always_checks_out(
            shortcode in "[0-9]{5,7}",
            passkey in "[a-f0-9]{1,64}",
            secs in 0i64..4_000_000_000,
        ) {
            let at = chrono::DateTime::from_timestamp(secs, 0).unwrap().naive_utc();
            let ts = format_timestamp(at);
            prop_assert_eq!(parse_timestamp(&ts).unwrap(), at);
            prop_assert!(check_password(&password(&shortcode, &passkey, &ts), &shortcode, &passkey, &ts).is_ok());
        }

        #[test]
        fn checking_any_input_never_panics(given in ".*", shortcode in ".*", passkey in ".*", ts in ".*") {
            let _ = check_password(&given, &shortcode, &passkey, &ts);
            let _ = parse_timestamp(&ts);
        }

        #[test]
        fn a_password_with_another_passkey_is_rejected(
            passkey in "[a-f0-9]{64}", other in "[a-f0-9]{64}",
        ) {
            prop_assume!(passkey != other);
            let ts = "20240101120000";
            prop_assert!(check_password(&password("174379", &other, ts), "174379", &passkey, ts).is_err());
        }
    }
}
