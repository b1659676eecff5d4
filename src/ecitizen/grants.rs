//! Authorization codes and access tokens of one tenant: the provider's
//! per-tenant state, as plain data.
//!
//! A code is bound to the client, the exact redirect URI, the user, the
//! scope, the nonce and the PKCE challenge of its authorization request, and
//! expires by the sandbox clock. It is single use (RFC 6749 §4.1.2): the
//! first successful exchange marks it redeemed and remembers the tokens it
//! issued; presenting it again is refused and revokes those tokens, and the
//! refusal says which tokens were revoked so indexes outside this state
//! (the core's token-to-tenant routing) can forget them too.
//!
//! **Invariant:** time only comes in as `now`; expiry arithmetic saturates.
//! **Invariant:** memory is bounded: at most [`MAX_CODES`] codes and
//! [`MAX_TOKENS`] tokens per tenant; the oldest go first.
//! **Invariant:** `Debug` never shows a code or a token.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};

use crate::crypto::pkce::{self, ChallengeMethod, PkceError};
use crate::fastmap::HashMap;
use crate::ids::IdGen;

/// Codes a tenant keeps at most (outstanding and redeemed).
pub(crate) const MAX_CODES: usize = 10_000;
/// Access tokens a tenant keeps at most.
pub(crate) const MAX_TOKENS: usize = 10_000;
/// Length of an access token: the guide's example `48wJCHeJpUpeGUrDsLXc1AC8gzhgn7HX` has 32.
pub(crate) const TOKEN_LEN: usize = 32;
/// Length of an authorization code.
pub(crate) const CODE_LEN: usize = 40;

/// A PKCE challenge stored with a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredChallenge {
    pub challenge: String,
    pub method: ChallengeMethod,
}

/// What the user approved: everything a code is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Authorization {
    pub client_id: String,
    pub redirect_uri: String,
    pub user_id: u64,
    pub scope: String,
    pub nonce: Option<String>,
    pub challenge: Option<StoredChallenge>,
    /// When the user pressed Proceed (the ID token's `auth_time`).
    pub auth_time: DateTime<Utc>,
}

/// A token request's claim on a code (the checked parts of the form).
#[derive(Clone, Copy)]
pub(crate) struct Redemption<'a> {
    pub code: &'a str,
    /// The authenticated client.
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub code_verifier: Option<&'a str>,
}

/// Why a code cannot be exchanged; every case is `invalid_grant`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RedeemError {
    /// No such code (never issued, or forgotten after it expired).
    Unknown,
    /// The code was issued to another client; it stays usable by its own.
    OtherClient,
    /// The code was exchanged before; these tokens were revoked because of it.
    Replayed { revoked: Vec<String> },
    /// The code's lifetime has passed.
    Expired { expired_at: DateTime<Utc> },
    /// `redirect_uri` differs from the authorization request's.
    RedirectUriMismatch { expected: String },
    /// The authorization request had a `code_challenge`, the token request no `code_verifier`.
    VerifierMissing,
    /// A `code_verifier` without a `code_challenge` in the authorization
    /// request (RFC 9700 §4.8.2: the PKCE downgrade defence).
    VerifierUnexpected,
    /// The verifier is malformed or does not match the challenge.
    Pkce(PkceError),
}

impl RedeemError {
    /// What went wrong, in plain words, without the code or the verifier.
    pub(crate) fn diagnosis(&self) -> String {
        match self {
            RedeemError::Unknown => {
                "the code is unknown: it was never issued by this tenant, or it expired and was forgotten".into()
            }
            RedeemError::OtherClient => "the code was issued to another client_id".into(),
            RedeemError::Replayed { revoked } => format!(
                "the code was already exchanged; codes are single use (RFC 6749 §4.1.2), so the {} token(s) it issued are now revoked",
                revoked.len()
            ),
            RedeemError::Expired { expired_at } => format!(
                "the code expired at {} (sandbox clock); exchange codes right after the redirect",
                expired_at.to_rfc3339()
            ),
            RedeemError::RedirectUriMismatch { expected } => format!(
                "redirect_uri differs from the one of the authorization request ({expected:?}); it must be identical"
            ),
            RedeemError::VerifierMissing => {
                "the authorization request had a code_challenge, so the token request needs its code_verifier".into()
            }
            RedeemError::VerifierUnexpected => {
                "a code_verifier was sent but the authorization request had no code_challenge (RFC 9700 §4.8.2)".into()
            }
            RedeemError::Pkce(problem) => problem.to_string(),
        }
    }
}

/// A freshly minted access token.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct IssuedToken {
    pub token: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"[redacted]")
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// What a live access token means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AccessToken {
    pub client_id: String,
    pub user_id: u64,
    pub scope: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct Code {
    /// The login's public name (`login-1`, ...), for the admin API; the code
    /// itself is a credential and is never shown.
    login_id: String,
    authorization: Authorization,
    expires_at: DateTime<Utc>,
    /// `Some` once exchanged: the tokens it issued.
    redeemed: Option<Vec<String>>,
    /// Presented again after it was exchanged.
    replayed: bool,
}

/// Entries (codes and tokens) below which purging expired ones is not worth it.
const MIN_PURGE_AT: usize = 1_024;

/// A tenant's codes and tokens.
#[derive(Default, Clone)]
pub(crate) struct Grants {
    codes: HashMap<String, Code>,
    tokens: HashMap<String, AccessToken>,
    /// Issue order, oldest first, for the size bounds.
    code_order: VecDeque<String>,
    token_order: VecDeque<String>,
    /// Logins so far (numbers the login ids).
    logins: u64,
    /// Purge expired entries when codes and tokens together reach this many
    /// (doubling after each purge, so purging stays amortised constant time).
    purge_at: usize,
}

/// One login, as the admin API's transactions list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoginView {
    pub login_id: String,
    pub authorization: Authorization,
    pub code_expires_at: DateTime<Utc>,
    /// `code_issued`, `exchanged` or `replayed`.
    pub status: &'static str,
    /// Access tokens issued for it (none left after a replay revoked them).
    pub tokens: usize,
}

impl std::fmt::Debug for Grants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grants").field("codes", &self.codes.len()).field("tokens", &self.tokens.len()).finish()
    }
}

impl Grants {
    /// Issues a code for an approved authorization, valid for `ttl_secs`.
    pub(crate) fn issue_code(
        &mut self,
        ids: &mut IdGen,
        authorization: Authorization,
        now: DateTime<Utc>,
        ttl_secs: u64,
    ) -> String {
        let code = fresh(ids, CODE_LEN, |c| self.codes.contains_key(c));
        let expires_at = expiry(now, ttl_secs);
        self.logins = self.logins.saturating_add(1);
        let login_id = format!("login-{}", self.logins);
        self.codes.insert(code.clone(), Code { login_id, authorization, expires_at, redeemed: None, replayed: false });
        self.code_order.push_back(code.clone());
        while self.codes.len() > MAX_CODES {
            let Some(oldest) = self.code_order.pop_front() else { break };
            self.codes.remove(&oldest);
        }
        self.purge_if_due(now);
        code
    }

    /// The user who approved a code, if the code exists (whatever its state):
    /// what the scenario engine matches a token request on.
    pub(crate) fn user_of_code(&self, code: &str) -> Option<u64> {
        self.codes.get(code).map(|c| c.authorization.user_id)
    }

    /// A token's record, live or expired (for the scenario engine's facts).
    pub(crate) fn token_record(&self, token: &str) -> Option<&AccessToken> {
        self.tokens.get(token)
    }

    /// Every login whose code is still held, oldest first.
    pub(crate) fn logins(&self) -> Vec<LoginView> {
        self.code_order
            .iter()
            .filter_map(|code| self.codes.get(code))
            .map(|c| LoginView {
                login_id: c.login_id.clone(),
                authorization: c.authorization.clone(),
                code_expires_at: c.expires_at,
                status: match (&c.redeemed, c.replayed) {
                    (_, true) => "replayed",
                    (Some(_), false) => "exchanged",
                    (None, false) => "code_issued",
                },
                tokens: c.redeemed.as_ref().map_or(0, |issued| issued.len()),
            })
            .collect()
    }

    fn purge_if_due(&mut self, now: DateTime<Utc>) {
        let len = self.codes.len().saturating_add(self.tokens.len());
        if len >= self.purge_at.max(MIN_PURGE_AT) {
            self.purge(now);
            let kept = self.codes.len().saturating_add(self.tokens.len());
            self.purge_at = kept.saturating_mul(2).max(MIN_PURGE_AT);
        }
    }

    /// Checks a code exchange in RFC 6749 §4.1.3 order and, if it holds,
    /// marks the code redeemed and returns what it was bound to. A failed
    /// check leaves the code as it was (a typo in `redirect_uri` does not
    /// burn it), except a replay, which revokes the code's tokens.
    pub(crate) fn redeem(
        &mut self,
        redemption: Redemption<'_>,
        now: DateTime<Utc>,
    ) -> Result<Authorization, RedeemError> {
        let Some(code) = self.codes.get_mut(redemption.code) else { return Err(RedeemError::Unknown) };
        if let Some(issued) = code.redeemed.as_mut() {
            // RFC 6749 §4.1.2: deny, and revoke what the code issued,
            // whoever presents it the second time.
            let revoked = std::mem::take(issued);
            code.replayed = true;
            for token in &revoked {
                self.tokens.remove(token);
            }
            return Err(RedeemError::Replayed { revoked });
        }
        let authorization = &code.authorization;
        if authorization.client_id != redemption.client_id {
            return Err(RedeemError::OtherClient);
        }
        if now >= code.expires_at {
            return Err(RedeemError::Expired { expired_at: code.expires_at });
        }
        if authorization.redirect_uri != redemption.redirect_uri {
            return Err(RedeemError::RedirectUriMismatch { expected: authorization.redirect_uri.clone() });
        }
        match (&authorization.challenge, redemption.code_verifier) {
            (Some(stored), Some(verifier)) => {
                pkce::verify(verifier, &stored.challenge, stored.method).map_err(RedeemError::Pkce)?
            }
            (Some(_), None) => return Err(RedeemError::VerifierMissing),
            (None, Some(_)) => return Err(RedeemError::VerifierUnexpected),
            (None, None) => {}
        }
        code.redeemed = Some(Vec::new());
        Ok(code.authorization.clone())
    }

    /// Mints an access token for a redeemed code, valid for `ttl_secs`, and
    /// records it against the code so a replay can revoke it.
    pub(crate) fn issue_token(
        &mut self,
        ids: &mut IdGen,
        code: &str,
        now: DateTime<Utc>,
        ttl_secs: u64,
    ) -> Option<IssuedToken> {
        let entry = self.codes.get(code)?;
        entry.redeemed.as_ref()?;
        let authorization = &entry.authorization;
        let record = AccessToken {
            client_id: authorization.client_id.clone(),
            user_id: authorization.user_id,
            scope: authorization.scope.clone(),
            issued_at: now,
            expires_at: expiry(now, ttl_secs),
        };
        let token = fresh(ids, TOKEN_LEN, |t| self.tokens.contains_key(t));
        if let Some(issued) = self.codes.get_mut(code).and_then(|c| c.redeemed.as_mut()) {
            issued.push(token.clone());
        }
        let expires_at = record.expires_at;
        self.tokens.insert(token.clone(), record);
        self.token_order.push_back(token.clone());
        while self.tokens.len() > MAX_TOKENS {
            let Some(oldest) = self.token_order.pop_front() else { break };
            self.tokens.remove(&oldest);
        }
        self.purge_if_due(now);
        Some(IssuedToken { token, issued_at: now, expires_at })
    }

    /// The token's record, if it exists and has not expired at `now`.
    pub(crate) fn live_token(&self, token: &str, now: DateTime<Utc>) -> Option<&AccessToken> {
        self.tokens.get(token).filter(|t| now < t.expires_at)
    }

    /// Revokes one token; whether it existed.
    pub(crate) fn revoke_token(&mut self, token: &str) -> bool {
        self.tokens.remove(token).is_some()
    }

    /// Forgets expired tokens, and codes that can no longer matter: never
    /// exchanged and expired, or exchanged and every token they issued gone.
    /// Returns how many entries were dropped.
    pub(crate) fn purge(&mut self, now: DateTime<Utc>) -> usize {
        let before = self.codes.len().saturating_add(self.tokens.len());
        self.tokens.retain(|_, t| now < t.expires_at);
        let tokens = &self.tokens;
        self.codes.retain(|_, code| match &code.redeemed {
            None => now < code.expires_at,
            Some(issued) => now < code.expires_at || issued.iter().any(|t| tokens.contains_key(t)),
        });
        let (codes, tokens) = (&self.codes, &self.tokens);
        self.code_order.retain(|c| codes.contains_key(c));
        self.token_order.retain(|t| tokens.contains_key(t));
        before.saturating_sub(self.codes.len().saturating_add(self.tokens.len()))
    }

    #[cfg(test)]
    pub(crate) fn code_count(&self) -> usize {
        self.codes.len()
    }

    #[cfg(test)]
    pub(crate) fn token_count(&self) -> usize {
        self.tokens.len()
    }
}

/// `now + ttl_secs`, saturating at the end of representable time.
pub(crate) fn expiry(now: DateTime<Utc>, ttl_secs: u64) -> DateTime<Utc> {
    crate::clock::after(now, crate::clock::seconds(ttl_secs))
}

/// A seeded identifier no existing entry uses. Collisions of 32 or more
/// alphanumerics do not happen in practice; the bound keeps the loop finite
/// anyway.
fn fresh(ids: &mut IdGen, len: usize, taken: impl Fn(&str) -> bool) -> String {
    let mut candidate = ids.alnum(len);
    for _ in 0..8 {
        if !taken(&candidate) {
            break;
        }
        candidate = ids.alnum(len);
    }
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::pkce::PkcePair;
    use chrono::{TimeDelta, TimeZone};

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).unwrap()
    }

    fn approved(challenge: Option<StoredChallenge>) -> Authorization {
        Authorization {
            client_id: "client".into(),
            redirect_uri: "http://localhost:3000/callback".into(),
            user_id: 1,
            scope: "openid".into(),
            nonce: Some("n-0S6_WzA2Mj".into()),
            challenge,
            auth_time: t0(),
        }
    }

    fn s256() -> Option<StoredChallenge> {
        let pair = PkcePair::from_verifier(VERIFIER).unwrap();
        Some(StoredChallenge { challenge: pair.challenge, method: ChallengeMethod::S256 })
    }

    fn redemption<'a>(code: &'a str, verifier: Option<&'a str>) -> Redemption<'a> {
        Redemption {
            code,
            client_id: "client",
            redirect_uri: "http://localhost:3000/callback",
            code_verifier: verifier,
        }
    }

    #[test]
    fn a_code_is_exchanged_once_and_its_token_lives_for_its_ttl() {
        let (mut grants, mut ids) = (Grants::default(), IdGen::new(1, "t"));
        let code = grants.issue_code(&mut ids, approved(s256()), t0(), 600);
        let authorization = grants.redeem(redemption(&code, Some(VERIFIER)), t0()).expect("redeems");
        assert_eq!(authorization.user_id, 1);
        let issued = grants.issue_token(&mut ids, &code, t0(), 3600).expect("token");
        assert_eq!(issued.token.len(), TOKEN_LEN);
        assert!(grants.live_token(&issued.token, t0() + TimeDelta::seconds(3599)).is_some());
        assert!(grants.live_token(&issued.token, t0() + TimeDelta::seconds(3600)).is_none());
    }

    #[test]
    fn a_replayed_code_is_refused_and_revokes_what_it_issued() {
        let (mut grants, mut ids) = (Grants::default(), IdGen::new(1, "t"));
        let code = grants.issue_code(&mut ids, approved(None), t0(), 600);
        grants.redeem(redemption(&code, None), t0()).unwrap();
        let issued = grants.issue_token(&mut ids, &code, t0(), 3600).unwrap();
        let err = grants.redeem(redemption(&code, None), t0()).unwrap_err();
        assert_eq!(err, RedeemError::Replayed { revoked: vec![issued.token.clone()] });
        assert!(grants.live_token(&issued.token, t0()).is_none());
        assert!(!err.diagnosis().contains(&issued.token));
        assert!(!err.diagnosis().contains(&code));
    }

    #[test]
    fn a_code_expires_by_the_clock_it_is_given() {
        let (mut grants, mut ids) = (Grants::default(), IdGen::new(1, "t"));
        let code = grants.issue_code(&mut ids, approved(None), t0(), 600);
        let late = t0() + TimeDelta::seconds(600);
        assert!(matches!(grants.redeem(redemption(&code, None), late), Err(RedeemError::Expired { .. })));
        assert!(grants.redeem(redemption(&code, None), late - TimeDelta::seconds(1)).is_ok());
    }

    #[test]
    fn pkce_is_enforced_both_ways() {
        let (mut grants, mut ids) = (Grants::default(), IdGen::new(1, "t"));
        let with = grants.issue_code(&mut ids, approved(s256()), t0(), 600);
        assert_eq!(grants.redeem(redemption(&with, None), t0()), Err(RedeemError::VerifierMissing));
        let wrong = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK";
        assert!(matches!(
            grants.redeem(redemption(&with, Some(wrong)), t0()),
            Err(RedeemError::Pkce(PkceError::Mismatch { .. }))
        ));
        assert!(grants.redeem(redemption(&with, Some(VERIFIER)), t0()).is_ok(), "failures do not burn the code");

        let without = grants.issue_code(&mut ids, approved(None), t0(), 600);
        assert_eq!(grants.redeem(redemption(&without, Some(VERIFIER)), t0()), Err(RedeemError::VerifierUnexpected));
    }

    #[test]
    fn the_code_is_bound_to_its_client_and_redirect_uri() {
        let (mut grants, mut ids) = (Grants::default(), IdGen::new(1, "t"));
        let code = grants.issue_code(&mut ids, approved(None), t0(), 600);
        let other = Redemption { client_id: "other", ..redemption(&code, None) };
        assert_eq!(grants.redeem(other, t0()), Err(RedeemError::OtherClient));
        let moved = Redemption { redirect_uri: "http://localhost:3000/callback/", ..redemption(&code, None) };
        assert!(matches!(grants.redeem(moved, t0()), Err(RedeemError::RedirectUriMismatch { .. })));
        assert_eq!(grants.redeem(redemption("nope", None), t0()), Err(RedeemError::Unknown));
    }

    #[test]
    fn ids_are_seeded() {
        let mut a = (Grants::default(), IdGen::new(9, "t"));
        let mut b = (Grants::default(), IdGen::new(9, "t"));
        let code_a = a.0.issue_code(&mut a.1, approved(None), t0(), 600);
        let code_b = b.0.issue_code(&mut b.1, approved(None), t0(), 600);
        assert_eq!(code_a, code_b);
    }

    #[test]
    fn expiry_saturates() {
        assert_eq!(expiry(t0(), u64::MAX), DateTime::<Utc>::MAX_UTC);
        assert_eq!(expiry(DateTime::<Utc>::MAX_UTC, 1), DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn purge_keeps_replay_evidence_while_its_tokens_live() {
        let (mut grants, mut ids) = (Grants::default(), IdGen::new(1, "t"));
        let code = grants.issue_code(&mut ids, approved(None), t0(), 60);
        grants.redeem(redemption(&code, None), t0()).unwrap();
        let issued = grants.issue_token(&mut ids, &code, t0(), 3600).unwrap();
        let _stale = grants.issue_code(&mut ids, approved(None), t0(), 60);
        assert_eq!(grants.purge(t0() + TimeDelta::seconds(120)), 1, "only the stale unexchanged code goes");
        assert!(matches!(grants.redeem(redemption(&code, None), t0()), Err(RedeemError::Replayed { .. })));
        assert!(grants.live_token(&issued.token, t0()).is_none());
        assert_eq!(grants.purge(t0() + TimeDelta::seconds(7200)), 1);
        assert_eq!((grants.code_count(), grants.token_count()), (0, 0));
    }

    #[test]
    fn codes_are_bounded() {
        let (mut grants, mut ids) = (Grants::default(), IdGen::new(1, "t"));
        let first = grants.issue_code(&mut ids, approved(None), t0(), 600);
        for _ in 0..MAX_CODES {
            grants.issue_code(&mut ids, approved(None), t0(), 600);
        }
        assert_eq!(grants.code_count(), MAX_CODES);
        assert_eq!(grants.redeem(redemption(&first, None), t0()), Err(RedeemError::Unknown));
    }

    #[test]
    fn debug_output_hides_codes_and_tokens() {
        let (mut grants, mut ids) = (Grants::default(), IdGen::new(1, "t"));
        let code = grants.issue_code(&mut ids, approved(None), t0(), 600);
        grants.redeem(redemption(&code, None), t0()).unwrap();
        let issued = grants.issue_token(&mut ids, &code, t0(), 60).unwrap();
        let debug = format!("{grants:?} {issued:?}");
        assert!(!debug.contains(&code) && !debug.contains(&issued.token), "{debug}");
    }
}
