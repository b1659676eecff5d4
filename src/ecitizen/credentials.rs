//! eCitizen's section of a tenant's credentials document
//! (`GET /__sandbox/credentials`, tenant creation, `Sandbox::credentials`):
//! where to point a relying party, its clients, and the test users.

use secrecy::ExposeSecret;
use serde::Serialize;

use super::world::{ClientKind, PkcePolicy};
use super::{oidc, paths, State, NAME};
use crate::provider::CredentialContext;
use crate::scenarios::ResultCode;

#[derive(Debug, Clone, Serialize)]
pub struct EcitizenCredentials {
    /// Configure an OpenID Connect relying party with this URL.
    pub discovery_url: String,
    pub issuer: String,
    pub authorize_url: String,
    pub token_url: String,
    pub introspection_url: String,
    /// The guide's `/api/userinfo`; `/api/user-info` answers the same.
    pub userinfo_url: String,
    pub jwks_url: String,
    /// The first client's id and secret, for the common single-client case.
    pub client_id: String,
    pub client_secret: Option<String>,
    pub clients: Vec<EcitizenClient>,
    /// The test users a login can pick (no password needed).
    pub users: Vec<EcitizenUser>,
    /// Test users whose requests fail on purpose, and how (the default scenario).
    pub test_users: Vec<EcitizenTestUser>,
    /// The admin view that lists, adds and changes users at runtime.
    pub users_url: String,
    /// The admin helper that computes a PKCE pair.
    pub pkce_url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EcitizenClient {
    pub client_id: String,
    /// Absent for a public client.
    pub client_secret: Option<String>,
    pub name: String,
    /// `confidential` or `public`.
    pub kind: &'static str,
    pub redirect_uris: Vec<String>,
    /// `required` or `optional`.
    pub pkce: &'static str,
    /// The user logged in without a page, if any.
    pub auto_approve_user: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EcitizenUser {
    pub id: u64,
    pub name: String,
    pub id_number: String,
    pub email: String,
    pub account_type: String,
    pub active: bool,
    pub mobile_verified: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct EcitizenTestUser {
    pub id: u64,
    /// What the rule does to their requests at which endpoint.
    pub operations: Vec<String>,
    /// `access_denied`, `invalid_grant`, `inactive`, `fault temporarily_unavailable`, `delay 3000 ms`.
    pub answer: String,
    /// The rule, as `default#<name>`.
    pub rule: String,
}

pub(crate) fn of(ctx: &CredentialContext<'_>, mine: &State) -> EcitizenCredentials {
    let issuer = oidc::issuer(ctx.base_url);
    let url = |path: &str| format!("{issuer}{path}");
    let world = &mine.world;
    let clients: Vec<EcitizenClient> = world
        .clients
        .iter()
        .map(|c| EcitizenClient {
            client_id: c.client_id.clone(),
            client_secret: c.client_secret.as_ref().map(|s| s.expose_secret().to_owned()),
            name: c.name.clone(),
            kind: match c.kind {
                ClientKind::Confidential => "confidential",
                ClientKind::Public => "public",
            },
            redirect_uris: c.redirect_uris.clone(),
            pkce: match c.pkce {
                PkcePolicy::Required => "required",
                PkcePolicy::Optional => "optional",
            },
            auto_approve_user: c.auto_approve_user,
        })
        .collect();
    let users = world
        .users
        .values()
        .map(|u| EcitizenUser {
            id: u.id,
            name: u.display_name(),
            id_number: u.id_number.clone(),
            email: u.email.clone(),
            account_type: u.account_type.clone(),
            active: u.active,
            mobile_verified: u.mobile_verified,
        })
        .collect();
    let admin = format!("{}/{NAME}", ctx.admin_url);
    EcitizenCredentials {
        discovery_url: url(paths::DISCOVERY),
        authorize_url: url(paths::AUTHORIZE),
        token_url: url(paths::TOKEN),
        introspection_url: url(paths::INTROSPECT),
        userinfo_url: url(paths::USERINFO),
        jwks_url: url(paths::JWKS),
        client_id: clients.first().map(|c| c.client_id.clone()).unwrap_or_default(),
        client_secret: clients.first().and_then(|c| c.client_secret.clone()),
        issuer,
        clients,
        users,
        test_users: test_users(),
        users_url: format!("{admin}/users"),
        pkce_url: format!("{admin}/pkce"),
    }
}

/// The test users of the built-in default scenario: its eCitizen rules that
/// match one user.
fn test_users() -> Vec<EcitizenTestUser> {
    crate::scenarios::default()
        .rules
        .iter()
        .filter(|r| r.when.provider.as_deref() == Some(NAME))
        .filter_map(|r| {
            let users = r.when.fields.get("user")?;
            let [user] = users.as_slice() else { return None };
            let id = user.parse().ok()?;
            let decision = &r.decision;
            let answer = match (&decision.outcome, &decision.fault) {
                (Some(outcome), _) => match &outcome.result_code {
                    ResultCode::Text(code) => code.clone(),
                    ResultCode::Number(n) => n.to_string(),
                },
                (None, Some(fault)) => match (&fault.error, fault.delay_ms) {
                    (Some(error), _) => format!("fault {error}"),
                    (None, Some(ms)) => format!("delay {ms} ms"),
                    (None, None) => "fault".to_owned(),
                },
                (None, None) => return None,
            };
            Some(EcitizenTestUser { id, operations: r.when.operations.clone(), answer, rule: decision.rule.clone() })
        })
        .collect()
}
