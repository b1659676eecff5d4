//! API and web operators (initiators), their roles, credentials and status.
//!
//! The world names the operators a tenant starts with; their mutable state
//! (password, status, failed attempts) lives here, so the admin API can
//! rotate passwords, lock, unlock and disable them, and integrators can
//! prove their systems apply credentials per request.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use super::world::{CredentialMode, OperatorKind, OperatorStatus, Role, World};
use crate::crypto::credential::{self, CredentialError};

/// One operator's current state.
#[derive(Debug, Clone)]
pub struct Operator {
    pub name: String,
    pub kind: OperatorKind,
    pub password: SecretString,
    pub password_set_at: DateTime<Utc>,
    pub shortcodes: Vec<String>,
    pub roles: Vec<Role>,
    pub status: OperatorStatus,
    pub failed_attempts: u32,
}

/// An operator as the admin API shows it (never the password).
#[derive(Debug, Clone, Serialize)]
pub struct OperatorView {
    pub name: String,
    pub kind: &'static str,
    pub status: &'static str,
    pub roles: Vec<Role>,
    pub shortcodes: Vec<String>,
    pub password_set_at: DateTime<Utc>,
    pub failed_attempts: u32,
}

impl Operator {
    pub fn view(&self) -> OperatorView {
        OperatorView {
            name: self.name.clone(),
            kind: match self.kind {
                OperatorKind::Api => "api",
                OperatorKind::Web => "web",
            },
            status: match self.status {
                OperatorStatus::Active => "active",
                OperatorStatus::Locked => "locked",
                OperatorStatus::Disabled => "disabled",
            },
            roles: self.roles.clone(),
            shortcodes: self.shortcodes.clone(),
            password_set_at: self.password_set_at,
            failed_attempts: self.failed_attempts,
        }
    }
}

pub(crate) fn from_world(world: &World, now: DateTime<Utc>) -> BTreeMap<String, Operator> {
    world
        .initiators
        .values()
        .map(|i| {
            let operator = Operator {
                name: i.name.clone(),
                kind: i.kind,
                password: i.password.clone(),
                password_set_at: crate::clock::after(now, -Duration::days(i64::from(i.password_age_days))),
                shortcodes: i.shortcodes.clone(),
                roles: i.roles.clone(),
                status: i.status,
                failed_attempts: 0,
            };
            (i.name.clone(), operator)
        })
        .collect()
}

/// A refusal of an initiator, as the result callback reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub result_code: u32,
    /// What exactly was wrong, for the journal (never contains a secret).
    pub diagnosis: String,
}

fn refuse(result_code: u32, diagnosis: impl Into<String>) -> Refusal {
    Refusal { result_code, diagnosis: diagnosis.into() }
}

/// What a decrypted (or undecryptable) credential turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CredentialVerdict {
    Matches,
    /// Accepted without decrypting (lenient mode, foreign certificate).
    AcceptedUndecryptable,
    Wrong(String),
}

/// Compares a credential's plaintext with the operator's password and says
/// what was found when they differ.
pub(crate) fn judge_credential(
    decrypted: &Result<Vec<u8>, CredentialError>,
    password: &str,
    mode: CredentialMode,
) -> CredentialVerdict {
    use base64::Engine;
    let plain = match decrypted {
        Ok(plain) => plain,
        Err(CredentialError::NotBase64) => {
            return CredentialVerdict::Wrong("the SecurityCredential is not base64".into());
        }
        Err(e @ (CredentialError::WrongLength { .. } | CredentialError::Undecryptable)) => {
            if mode == CredentialMode::Lenient {
                return CredentialVerdict::AcceptedUndecryptable;
            }
            return CredentialVerdict::Wrong(format!(
                "the SecurityCredential {e}; it was probably encrypted with another certificate (Safaricom's?) instead of the sandbox's (GET /__sandbox/keys/daraja.pem), or set security_credential = \"lenient\""
            ));
        }
        Err(e) => return CredentialVerdict::Wrong(e.to_string()),
    };
    if plain.as_slice() == password.as_bytes() {
        return CredentialVerdict::Matches;
    }
    let as_text = String::from_utf8_lossy(plain);
    let lenient = mode == CredentialMode::Lenient;
    if base64::engine::general_purpose::STANDARD.encode(password.as_bytes()) == as_text {
        return match lenient {
            true => CredentialVerdict::Matches,
            false => CredentialVerdict::Wrong(
                "the SecurityCredential encrypts base64 of the initiator password; encrypt the raw password bytes"
                    .into(),
            ),
        };
    }
    if let Some(rest) = as_text.strip_prefix(password) {
        if rest.len() == 14 && rest.bytes().all(|b| b.is_ascii_digit()) {
            return match lenient {
                true => CredentialVerdict::Matches,
                false => CredentialVerdict::Wrong(
                    "the SecurityCredential encrypts the initiator password with a 14-digit timestamp appended; encrypt the password alone".into(),
                ),
            };
        }
    }
    CredentialVerdict::Wrong(format!(
        "the SecurityCredential decrypts to a {}-character password that is not the initiator's",
        as_text.chars().count()
    ))
}

/// Checks an initiator for an API call: exists, is an API operator, is
/// active, holds the role, acts for the shortcode, and its credential
/// matches. A wrong credential counts towards the lockout. An accepted
/// call may come with a note for the diagnosis header (a credential
/// accepted without decrypting).
pub(crate) fn authorize(
    operators: &mut BTreeMap<String, Operator>,
    world: &World,
    name: &str,
    decrypted: &Result<Vec<u8>, CredentialError>,
    role: Role,
    shortcode: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>, Refusal> {
    let settings = &world.settings;
    let Some(operator) = operators.get_mut(name) else {
        return Err(refuse(2001, format!("no operator named {name:?} exists in this tenant")));
    };
    match operator.status {
        OperatorStatus::Locked => {
            return Err(refuse(8006, format!("operator {name:?} is locked; unlock it through the admin API")))
        }
        OperatorStatus::Disabled => return Err(refuse(2001, format!("operator {name:?} is disabled"))),
        OperatorStatus::Active => {}
    }
    if operator.kind == OperatorKind::Web {
        let expires =
            crate::clock::after(operator.password_set_at, Duration::days(i64::from(settings.web_password_days)));
        if now >= expires {
            return Err(refuse(2001, format!("web operator {name:?}'s password expired at {}", expires.to_rfc3339())));
        }
        return Err(refuse(21, format!("{name:?} is a web operator; APIs accept only API operators (initiators)")));
    }
    if !operator.roles.contains(&role) {
        return Err(refuse(21, format!("operator {name:?} does not hold the {role:?} role")));
    }
    if !operator.shortcodes.iter().any(|s| s == shortcode) {
        return Err(refuse(21, format!("operator {name:?} does not act for shortcode {shortcode}")));
    }
    match judge_credential(decrypted, operator.password.expose_secret(), settings.security_credential) {
        CredentialVerdict::Matches => {
            operator.failed_attempts = 0;
            Ok(None)
        }
        CredentialVerdict::AcceptedUndecryptable => {
            operator.failed_attempts = 0;
            Ok(Some(
                "the SecurityCredential does not decrypt with the sandbox key (made with Safaricom's certificate?); accepted unchecked because security_credential = \"lenient\"".into(),
            ))
        }
        CredentialVerdict::Wrong(why) => {
            operator.failed_attempts = operator.failed_attempts.saturating_add(1);
            let limit = settings.lockout_after_failures;
            if limit > 0 && operator.failed_attempts >= limit {
                operator.status = OperatorStatus::Locked;
            }
            Err(refuse(2001, why))
        }
    }
}

/// The M-Pesa password policy: a capital letter, a digit and a special
/// character (`@` does not count), at least 8 characters.
pub(crate) fn check_policy(password: &str) -> Result<(), String> {
    let mut missing = Vec::new();
    if password.chars().count() < 8 {
        missing.push("at least 8 characters");
    }
    if !password.chars().any(|c| c.is_ascii_uppercase()) {
        missing.push("a capital letter");
    }
    if !password.chars().any(|c| c.is_ascii_digit()) {
        missing.push("a digit");
    }
    if !password.chars().any(|c| !c.is_ascii_alphanumeric() && c != '@' && !c.is_whitespace()) {
        missing.push("a special character other than '@'");
    }
    match missing.is_empty() {
        true => Ok(()),
        false => Err(format!("the password needs {}", missing.join(", "))),
    }
}

/// Decrypts through the shared cache (a repeated credential costs a hash).
pub(crate) fn decrypt_cached(
    cache: &credential::CredentialCache,
    keys: &crate::crypto::keys::KeyPair,
    security_credential: &str,
) -> Result<Vec<u8>, CredentialError> {
    cache.decrypt(&keys.private, security_credential)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_wants_a_capital_a_digit_and_a_special_other_than_at() {
        assert!(check_policy("Safaricom999!*!").is_ok());
        assert!(check_policy("Safaricom999@").unwrap_err().contains("special character other than '@'"));
        assert!(check_policy("safaricom999!").unwrap_err().contains("capital"));
        assert!(check_policy("Safaricom!!!").unwrap_err().contains("digit"));
        assert!(check_policy("S9!").unwrap_err().contains("8 characters"));
    }

    #[test]
    fn wrong_credentials_say_what_was_encrypted() {
        use base64::Engine;
        let strict = CredentialMode::Strict;
        let pw = "Safaricom999!*!";
        assert_eq!(judge_credential(&Ok(pw.as_bytes().to_vec()), pw, strict), CredentialVerdict::Matches);
        let b64 = base64::engine::general_purpose::STANDARD.encode(pw);
        let verdict = judge_credential(&Ok(b64.into_bytes()), pw, strict);
        assert!(matches!(verdict, CredentialVerdict::Wrong(w) if w.contains("base64 of the initiator password")));
        let stamped = format!("{pw}20240101120000");
        let verdict = judge_credential(&Ok(stamped.clone().into_bytes()), pw, strict);
        assert!(matches!(verdict, CredentialVerdict::Wrong(w) if w.contains("timestamp appended")));
        assert_eq!(
            judge_credential(&Ok(stamped.into_bytes()), pw, CredentialMode::Lenient),
            CredentialVerdict::Matches
        );
        let verdict = judge_credential(&Err(CredentialError::Undecryptable), pw, strict);
        assert!(matches!(verdict, CredentialVerdict::Wrong(w) if w.contains("another certificate")));
        assert_eq!(
            judge_credential(&Err(CredentialError::Undecryptable), pw, CredentialMode::Lenient),
            CredentialVerdict::AcceptedUndecryptable
        );
        let verdict = judge_credential(&Ok(b"nope".to_vec()), pw, strict);
        assert!(matches!(verdict, CredentialVerdict::Wrong(w) if w.contains("4-character") && !w.contains(pw)));
    }
}
