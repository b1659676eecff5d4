//! The `[ecitizen]` table of the world document: registered clients, test
//! users and the switches that choose between what the sources disagree on.
//!
//! [`WorldDoc`] is the document form (a stable surface: unknown keys are
//! refused, every field is optional so a user's table merges over the
//! embedded default field by field, clients by `client_id` and users by
//! `id`). [`World`] is the validated form the provider reads.
//!
//! **Invariant:** every number is range-checked here, where it is parsed;
//! every error names the table, the entry and the field.
//! **Invariant:** client secrets stay in [`SecretString`] and never appear in
//! `Debug` output or in an error.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The embedded default `[ecitizen]` table.
pub(crate) const DEFAULT_WORLD_TOML: &str = include_str!("default-world.toml");

/// The largest id JavaScript clients can hold exactly (2^53 - 1); user ids
/// are JSON numbers on the wire.
pub(crate) const MAX_USER_ID: u64 = 9_007_199_254_740_991;
/// Longest text accepted in any field, so a hostile world file cannot make
/// every page and token huge.
const MAX_TEXT: usize = 256;
/// Longest redirect URI accepted.
const MAX_URI: usize = 2048;
/// Range of `code_ttl_secs`: a second to a day.
const CODE_TTL_RANGE: std::ops::RangeInclusive<u64> = 1..=86_400;
/// Range of `token_ttl_secs`: a second to a year.
const TOKEN_TTL_RANGE: std::ops::RangeInclusive<u64> = 1..=31_536_000;

/// The `[ecitizen]` table as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WorldDoc {
    /// Authorization code lifetime (default 600: RFC 6749 §4.1.2's ten minutes).
    pub code_ttl_secs: Option<u64>,
    /// Access token and ID token lifetime (default 3600).
    pub token_ttl_secs: Option<u64>,
    /// Refuse an authorization request without `state` (default true: the
    /// eCitizen guide marks it "Yes (recommended)").
    pub require_state: Option<bool>,
    /// Put `expiration_date` in the token response (default true: the guide shows it).
    pub token_expiration_date: Option<bool>,
    /// Put `expires_in` in the token response (default true: standard clients read it).
    pub token_expires_in: Option<bool>,
    /// Put `id_token` in the token response (default true: the guide says it is there).
    pub token_id_token: Option<bool>,
    /// How `expiration_date` is written (default `rfc3339`).
    pub expiration_date_format: Option<ExpirationDateFormat>,
    /// User-info key spelling (default `seed`: `Gender`, `Kra_pin_number`).
    pub userinfo_keys: Option<UserInfoKeys>,
    /// Add OpenID Connect's `sub` to user info (default true: OIDC clients require it).
    pub userinfo_sub: Option<bool>,
    /// How user info refuses a bad token (default `seed`: 400 `invalid_request`).
    pub userinfo_errors: Option<UserInfoErrors>,
    /// HTTP statuses of token endpoint errors (default `rfc6749`).
    pub error_statuses: Option<ErrorStatuses>,
    /// Introspection reports the granted scope instead of `null` (default false: the guide shows `null`).
    pub introspection_scope: Option<bool>,
    /// Serve `/.well-known/openid-configuration` and the JWKS (default true).
    pub discovery: Option<bool>,
    #[serde(default)]
    pub clients: Vec<ClientDoc>,
    #[serde(default)]
    pub users: Vec<UserDoc>,
}

/// One `[[ecitizen.clients]]` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClientDoc {
    pub client_id: String,
    /// Absent for a public client.
    pub client_secret: Option<SecretString>,
    /// The "formal application name" the consent page shows.
    pub name: Option<String>,
    /// Exact redirect URIs; at least one.
    pub redirect_uris: Option<Vec<String>>,
    /// `confidential` when a secret is given, else `public`.
    pub kind: Option<ClientKind>,
    /// `required` (the default): every authorization request needs an S256
    /// `code_challenge`. A confidential client may be relaxed to `optional`
    /// (checked when sent), for integrations that send no PKCE.
    pub pkce: Option<PkcePolicy>,
    /// Accept `code_challenge_method=plain` (default false).
    pub allow_plain_pkce: Option<bool>,
    /// Log this user in without showing the page (a non-interactive CI path).
    pub auto_approve_user: Option<u64>,
}

/// One `[[ecitizen.users]]` entry: every field of the guide's user info.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserDoc {
    pub id: u64,
    pub id_number: Option<String>,
    pub email: Option<String>,
    pub active: Option<bool>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub surname: Option<String>,
    /// `citizen`, `alien` (foreign resident), `visitor` or `diplomat`.
    pub account_type: Option<String>,
    /// International form without `+`, e.g. `254711000000`.
    pub mobile_number: Option<String>,
    pub mobile_verified: Option<bool>,
    pub gender: Option<String>,
    pub kra_pin_number: Option<String>,
    /// `YYYY-MM-DD`.
    pub dob: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ClientKind {
    /// Has a secret and authenticates at the token endpoint.
    Confidential,
    /// A browser or mobile app: no secret, PKCE required.
    Public,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PkcePolicy {
    /// Every authorization request needs a `code_challenge`.
    Required,
    /// A `code_challenge` is checked when sent (integrations without PKCE exist).
    Optional,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ExpirationDateFormat {
    /// `2026-01-31T09:15:00Z`.
    Rfc3339,
    /// `2026-01-31T09:15:00` (UTC, as an Ecto naive timestamp encodes).
    Naive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum UserInfoKeys {
    /// The guide's spelling: `Gender`, `Kra_pin_number`.
    Seed,
    /// All lower case: `gender`, `kra_pin_number` (what one Laravel client reads).
    SnakeCase,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum UserInfoErrors {
    /// HTTP 400 with the guide's `invalid_request` body.
    Seed,
    /// HTTP 401 with `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750 §3.1).
    Rfc6750,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ErrorStatuses {
    /// 400, and 401 for `invalid_client` (RFC 6749 §5.2).
    Rfc6749,
    /// 422 for `invalid_client`, `invalid_grant` and `unsupported_grant_type`,
    /// as the Elixir library ExOauth2Provider answers (a guess about eCitizen).
    ExOauth2Provider,
}

/// Why the `[ecitizen]` table was refused: the path of the field, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ecitizen.{path}: {message}")]
pub(crate) struct WorldError {
    pub path: String,
    pub message: String,
}

/// The most users a tenant's world may hold, from a world document or the
/// admin API: every login page lists them, and the world is cloned when one
/// changes.
pub(crate) const MAX_USERS: usize = 10_000;

impl WorldError {
    fn new(path: impl Into<String>, message: impl Into<String>) -> WorldError {
        WorldError { path: path.into(), message: message.into() }
    }
}

// ---------------------------------------------------------------------------
// The resolved world.

/// The validated `[ecitizen]` table.
#[derive(Debug, Clone)]
pub(crate) struct World {
    pub settings: Settings,
    pub clients: Vec<Client>,
    pub users: BTreeMap<u64, User>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settings {
    pub code_ttl_secs: u64,
    pub token_ttl_secs: u64,
    pub require_state: bool,
    pub token_expiration_date: bool,
    pub token_expires_in: bool,
    pub token_id_token: bool,
    pub expiration_date_format: ExpirationDateFormat,
    pub userinfo_keys: UserInfoKeys,
    pub userinfo_sub: bool,
    pub userinfo_errors: UserInfoErrors,
    pub error_statuses: ErrorStatuses,
    pub introspection_scope: bool,
    pub discovery: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub kind: ClientKind,
    pub pkce: PkcePolicy,
    pub allow_plain_pkce: bool,
    pub auto_approve_user: Option<u64>,
}

impl Client {
    /// Exact string comparison, as RFC 6749 §3.1.2.3 asks when full URIs are
    /// registered (no normalisation: a trailing slash matters).
    pub(crate) fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|registered| registered == uri)
    }
}

/// A test user: every field of the guide's user-info answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct User {
    pub id: u64,
    pub id_number: String,
    pub email: String,
    pub active: bool,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub surname: Option<String>,
    pub account_type: String,
    pub mobile_number: Option<String>,
    pub mobile_verified: bool,
    pub gender: Option<String>,
    pub kra_pin_number: Option<String>,
    pub dob: Option<String>,
}

impl User {
    /// The name the login page shows: first, last and surname, in the
    /// order of the guide's user-info fields.
    pub(crate) fn display_name(&self) -> String {
        let parts = [&self.first_name, &self.last_name, &self.surname];
        let name: Vec<&str> = parts.iter().filter_map(|p| p.as_deref()).collect();
        if name.is_empty() {
            self.email.clone()
        } else {
            name.join(" ")
        }
    }

    /// Whether a `login_hint` names this user: by id, ID number or e-mail
    /// address (case-insensitively).
    pub(crate) fn matches_hint(&self, hint: &str) -> bool {
        let hint = hint.trim();
        hint == self.id.to_string() || hint == self.id_number || hint.eq_ignore_ascii_case(&self.email)
    }
}

impl WorldDoc {
    /// The embedded default table.
    #[cfg(test)]
    pub(crate) fn embedded_default() -> Result<WorldDoc, WorldError> {
        WorldDoc::parse_fragment(DEFAULT_WORLD_TOML)
    }

    /// Reads a TOML document whose only table is `[ecitizen]` (the embedded
    /// default, or a test's fragment).
    #[cfg(test)]
    pub(crate) fn parse_fragment(text: &str) -> Result<WorldDoc, WorldError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Fragment {
            ecitizen: Option<WorldDoc>,
        }
        let fragment: Fragment = toml::from_str(text).map_err(|e| WorldError::new("", e.to_string()))?;
        Ok(fragment.ecitizen.unwrap_or_default())
    }

    /// Merges `overlay` over `self`: settings it sets win, clients merge by
    /// `client_id` and users by `id`, field by field.
    pub(crate) fn merge(&mut self, overlay: WorldDoc) {
        let WorldDoc {
            code_ttl_secs,
            token_ttl_secs,
            require_state,
            token_expiration_date,
            token_expires_in,
            token_id_token,
            expiration_date_format,
            userinfo_keys,
            userinfo_sub,
            userinfo_errors,
            error_statuses,
            introspection_scope,
            discovery,
            clients,
            users,
        } = overlay;
        self.code_ttl_secs = code_ttl_secs.or(self.code_ttl_secs);
        self.token_ttl_secs = token_ttl_secs.or(self.token_ttl_secs);
        self.require_state = require_state.or(self.require_state);
        self.token_expiration_date = token_expiration_date.or(self.token_expiration_date);
        self.token_expires_in = token_expires_in.or(self.token_expires_in);
        self.token_id_token = token_id_token.or(self.token_id_token);
        self.expiration_date_format = expiration_date_format.or(self.expiration_date_format);
        self.userinfo_keys = userinfo_keys.or(self.userinfo_keys);
        self.userinfo_sub = userinfo_sub.or(self.userinfo_sub);
        self.userinfo_errors = userinfo_errors.or(self.userinfo_errors);
        self.error_statuses = error_statuses.or(self.error_statuses);
        self.introspection_scope = introspection_scope.or(self.introspection_scope);
        self.discovery = discovery.or(self.discovery);
        for client in clients {
            match self.clients.iter_mut().find(|c| c.client_id == client.client_id) {
                Some(base) => base.merge(client),
                None => self.clients.push(client),
            }
        }
        for user in users {
            match self.users.iter_mut().find(|u| u.id == user.id) {
                Some(base) => base.merge(user),
                None => self.users.push(user),
            }
        }
    }
}

impl ClientDoc {
    fn merge(&mut self, overlay: ClientDoc) {
        let ClientDoc {
            client_id: _,
            client_secret,
            name,
            redirect_uris,
            kind,
            pkce,
            allow_plain_pkce,
            auto_approve_user,
        } = overlay;
        self.client_secret = client_secret.or(self.client_secret.take());
        self.name = name.or(self.name.take());
        self.redirect_uris = redirect_uris.or(self.redirect_uris.take());
        self.kind = kind.or(self.kind);
        self.pkce = pkce.or(self.pkce);
        self.allow_plain_pkce = allow_plain_pkce.or(self.allow_plain_pkce);
        self.auto_approve_user = auto_approve_user.or(self.auto_approve_user);
    }
}

impl UserDoc {
    /// Fields the overlay sets win; the others keep their value. Also what an
    /// admin `PUT` of a partial user does.
    pub(crate) fn merge(&mut self, overlay: UserDoc) {
        let UserDoc {
            id: _,
            id_number,
            email,
            active,
            first_name,
            last_name,
            surname,
            account_type,
            mobile_number,
            mobile_verified,
            gender,
            kra_pin_number,
            dob,
        } = overlay;
        self.id_number = id_number.or(self.id_number.take());
        self.email = email.or(self.email.take());
        self.active = active.or(self.active);
        self.first_name = first_name.or(self.first_name.take());
        self.last_name = last_name.or(self.last_name.take());
        self.surname = surname.or(self.surname.take());
        self.account_type = account_type.or(self.account_type.take());
        self.mobile_number = mobile_number.or(self.mobile_number.take());
        self.mobile_verified = mobile_verified.or(self.mobile_verified);
        self.gender = gender.or(self.gender.take());
        self.kra_pin_number = kra_pin_number.or(self.kra_pin_number.take());
        self.dob = dob.or(self.dob.take());
    }
}

impl World {
    /// The embedded default table with each overlay merged over it, in order.
    #[cfg(test)]
    pub(crate) fn from_overlays(overlays: &[WorldDoc]) -> Result<World, WorldError> {
        let mut merged = WorldDoc::embedded_default()?;
        for overlay in overlays {
            merged.merge(overlay.clone());
        }
        World::resolve(merged)
    }

    /// Validates a merged table and fills in defaults.
    pub(crate) fn resolve(doc: WorldDoc) -> Result<World, WorldError> {
        let settings = Settings {
            code_ttl_secs: in_range(doc.code_ttl_secs.unwrap_or(600), CODE_TTL_RANGE, "code_ttl_secs")?,
            token_ttl_secs: in_range(doc.token_ttl_secs.unwrap_or(3600), TOKEN_TTL_RANGE, "token_ttl_secs")?,
            require_state: doc.require_state.unwrap_or(true),
            token_expiration_date: doc.token_expiration_date.unwrap_or(true),
            token_expires_in: doc.token_expires_in.unwrap_or(true),
            token_id_token: doc.token_id_token.unwrap_or(true),
            expiration_date_format: doc.expiration_date_format.unwrap_or(ExpirationDateFormat::Rfc3339),
            userinfo_keys: doc.userinfo_keys.unwrap_or(UserInfoKeys::Seed),
            userinfo_sub: doc.userinfo_sub.unwrap_or(true),
            userinfo_errors: doc.userinfo_errors.unwrap_or(UserInfoErrors::Seed),
            error_statuses: doc.error_statuses.unwrap_or(ErrorStatuses::Rfc6749),
            introspection_scope: doc.introspection_scope.unwrap_or(false),
            discovery: doc.discovery.unwrap_or(true),
        };

        let mut users = BTreeMap::new();
        for user in doc.users {
            let user = resolve_user(user)?;
            users.insert(user.id, user);
        }
        if users.len() > MAX_USERS {
            return Err(WorldError::new(
                "users",
                format!("{} users is too many: a world holds at most {MAX_USERS}", users.len()),
            ));
        }

        let mut clients: Vec<Client> = Vec::new();
        for client in doc.clients {
            let client = resolve_client(client, &users)?;
            clients.push(client);
        }
        Ok(World { settings, clients, users })
    }

    pub(crate) fn client(&self, client_id: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }

    pub(crate) fn user(&self, id: u64) -> Option<&User> {
        self.users.get(&id)
    }

    /// The user a `login_hint` names, if exactly one does.
    pub(crate) fn user_by_hint(&self, hint: &str) -> Option<&User> {
        let mut matches = self.users.values().filter(|u| u.matches_hint(hint));
        let first = matches.next()?;
        matches.next().is_none().then_some(first)
    }
}

impl From<&User> for UserDoc {
    /// The document form of a resolved user, for the admin view to merge a
    /// partial change over.
    fn from(user: &User) -> UserDoc {
        UserDoc {
            id: user.id,
            id_number: Some(user.id_number.clone()),
            email: Some(user.email.clone()),
            active: Some(user.active),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            surname: user.surname.clone(),
            account_type: Some(user.account_type.clone()),
            mobile_number: user.mobile_number.clone(),
            mobile_verified: Some(user.mobile_verified),
            gender: user.gender.clone(),
            kra_pin_number: user.kra_pin_number.clone(),
            dob: user.dob.clone(),
        }
    }
}

/// Validates one user and fills in defaults; also what the admin view uses
/// to add or change a user at runtime.
pub(crate) fn resolve_user(doc: UserDoc) -> Result<User, WorldError> {
    let at = format!("users[id={}]", doc.id);
    let field = |name: &str| format!("{at}.{name}");
    if doc.id == 0 || doc.id > MAX_USER_ID {
        return Err(WorldError::new(field("id"), format!("{} must be 1 to {MAX_USER_ID}", doc.id)));
    }
    let id_number = required_text(doc.id_number, &field("id_number"))?;
    let email = required_text(doc.email, &field("email"))?;
    if !email.contains('@') {
        return Err(WorldError::new(field("email"), format!("{email:?} is not an e-mail address")));
    }
    let mobile_number = optional_text(doc.mobile_number, &field("mobile_number"))?;
    if let Some(number) = &mobile_number {
        let digits = number.bytes().all(|b| b.is_ascii_digit());
        if !digits || !(7..=15).contains(&number.len()) {
            return Err(WorldError::new(
                field("mobile_number"),
                format!("{number:?} must be 7 to 15 digits in international form without '+', e.g. 254711000000"),
            ));
        }
    }
    let dob = optional_text(doc.dob, &field("dob"))?;
    if let Some(date) = &dob {
        if NaiveDate::parse_from_str(date, "%Y-%m-%d").is_err() {
            return Err(WorldError::new(field("dob"), format!("{date:?} is not a date written YYYY-MM-DD")));
        }
    }
    Ok(User {
        id: doc.id,
        id_number,
        email,
        active: doc.active.unwrap_or(true),
        first_name: optional_text(doc.first_name, &field("first_name"))?,
        last_name: optional_text(doc.last_name, &field("last_name"))?,
        surname: optional_text(doc.surname, &field("surname"))?,
        account_type: optional_text(doc.account_type, &field("account_type"))?.unwrap_or_else(|| "citizen".into()),
        mobile_verified: doc.mobile_verified.unwrap_or(true),
        mobile_number,
        gender: optional_text(doc.gender, &field("gender"))?,
        kra_pin_number: optional_text(doc.kra_pin_number, &field("kra_pin_number"))?,
        dob,
    })
}

fn resolve_client(doc: ClientDoc, users: &BTreeMap<u64, User>) -> Result<Client, WorldError> {
    let id = doc.client_id;
    let valid_id = !id.is_empty() && id.len() <= MAX_TEXT && id.bytes().all(|b| b.is_ascii_graphic() && b != b':');
    if !valid_id {
        return Err(WorldError::new(
            "clients.client_id",
            format!(
                "{:?} must be 1 to {MAX_TEXT} visible ASCII characters without ':'",
                id.chars().take(40).collect::<String>()
            ),
        ));
    }
    let at = format!("clients[client_id={id}]");
    let field = |name: &str| format!("{at}.{name}");
    if let Some(secret) = &doc.client_secret {
        let secret = secret.expose_secret();
        if secret.is_empty() || secret.len() > MAX_TEXT {
            return Err(WorldError::new(field("client_secret"), format!("must be 1 to {MAX_TEXT} characters")));
        }
    }
    let kind = match (doc.kind, doc.client_secret.is_some()) {
        (Some(ClientKind::Confidential), false) => {
            return Err(WorldError::new(field("client_secret"), "a confidential client needs a client_secret"))
        }
        (Some(ClientKind::Public), true) => {
            return Err(WorldError::new(field("client_secret"), "a public client has no client_secret"))
        }
        (Some(kind), _) => kind,
        (None, true) => ClientKind::Confidential,
        (None, false) => ClientKind::Public,
    };
    let pkce = match (kind, doc.pkce) {
        (ClientKind::Public, Some(PkcePolicy::Optional)) => {
            return Err(WorldError::new(
                field("pkce"),
                "a public client must use PKCE (RFC 9700 §2.1.1); remove pkce or set it to \"required\"",
            ))
        }
        (_, Some(policy)) => policy,
        // The sandbox enforces what eCitizen asks of relying parties (the
        // guide: "Yes (required for PKCE)"), stricter than generic mocks that
        // accept a missing verifier; a world relaxes it per client.
        (_, None) => PkcePolicy::Required,
    };
    let redirect_uris = doc.redirect_uris.unwrap_or_default();
    if redirect_uris.is_empty() {
        return Err(WorldError::new(field("redirect_uris"), "a client needs at least one redirect URI"));
    }
    for uri in &redirect_uris {
        check_redirect_uri(uri).map_err(|message| WorldError::new(field("redirect_uris"), message))?;
    }
    if let Some(user) = doc.auto_approve_user {
        if !users.contains_key(&user) {
            return Err(WorldError::new(field("auto_approve_user"), format!("no user has id {user}")));
        }
    }
    Ok(Client {
        name: optional_text(doc.name, &field("name"))?.unwrap_or_else(|| id.clone()),
        client_id: id,
        client_secret: doc.client_secret,
        redirect_uris,
        kind,
        pkce,
        allow_plain_pkce: doc.allow_plain_pkce.unwrap_or(false),
        auto_approve_user: doc.auto_approve_user,
    })
}

/// RFC 6749 §3.1.2: an absolute URI without a fragment.
fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let shown: String = uri.chars().take(80).collect();
    if uri.len() > MAX_URI {
        return Err(format!("{shown:?}... is longer than {MAX_URI} characters"));
    }
    let parsed = url::Url::parse(uri).map_err(|e| format!("{shown:?} is not an absolute URI ({e})"))?;
    if parsed.fragment().is_some() {
        return Err(format!("{shown:?} has a fragment; RFC 6749 §3.1.2 forbids one"));
    }
    Ok(())
}

fn in_range(value: u64, range: std::ops::RangeInclusive<u64>, name: &str) -> Result<u64, WorldError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(WorldError::new(name, format!("{value} is outside {}..={}", range.start(), range.end())))
    }
}

fn required_text(value: Option<String>, path: &str) -> Result<String, WorldError> {
    optional_text(value, path)?.ok_or_else(|| WorldError::new(path, "is missing"))
}

/// Trimmed text, `None` when absent or blank, refused when too long.
fn optional_text(value: Option<String>, path: &str) -> Result<Option<String>, WorldError> {
    match value.map(|v| v.trim().to_owned()) {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) if v.len() > MAX_TEXT => {
            Err(WorldError::new(path, format!("is {} characters long; at most {MAX_TEXT}", v.len())))
        }
        Some(v) => Ok(Some(v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(fragment: &str) -> Result<World, WorldError> {
        World::from_overlays(&[WorldDoc::parse_fragment(fragment)?])
    }

    #[test]
    fn a_world_with_more_users_than_the_cap_is_refused() {
        let user =
            |id: usize| format!("[[ecitizen.users]]\nid = {id}\nid_number = \"{id}\"\nemail = \"u{id}@example.com\"\n");
        let doc: String = (1..=MAX_USERS + 1).map(user).collect();
        let err = with(&doc).unwrap_err();
        assert_eq!(err.path, "users");
        assert!(err.message.contains("at most 10000"), "{}", err.message);
    }

    #[test]
    fn the_default_world_has_a_client_and_citizens_of_every_kind() {
        let world = World::from_overlays(&[]).expect("the embedded default is valid");
        let client = world.client("PesaSandboxEcitizenClient").expect("default client");
        assert_eq!(client.kind, ClientKind::Confidential);
        assert_eq!(client.pkce, PkcePolicy::Required, "PKCE is required unless a world relaxes it");
        assert!(client.has_redirect_uri("http://localhost:3000/callback"));
        assert!(!client.has_redirect_uri("http://localhost:3000/callback/"), "matching is exact");
        let kinds: Vec<&str> = world.users.values().map(|u| u.account_type.as_str()).collect();
        for kind in ["citizen", "alien", "visitor"] {
            assert!(kinds.contains(&kind), "{kind} missing");
        }
        assert!(world.users.values().any(|u| !u.active));
        assert!(world.users.values().any(|u| u.mobile_number.is_some() && !u.mobile_verified));
        assert_eq!(world.settings.code_ttl_secs, 600);
    }

    #[test]
    fn the_guide_example_user_is_user_1() {
        let world = World::from_overlays(&[]).unwrap();
        let user = world.user(1).unwrap();
        assert_eq!(user.id_number, "12345678");
        assert_eq!(user.kra_pin_number.as_deref(), Some("A1000121"));
        assert_eq!(user.dob.as_deref(), Some("1951-05-28"));
        assert_eq!(user.display_name(), "John Doe Blah");
    }

    #[test]
    fn an_overlay_changes_one_field_of_a_default_user_and_adds_a_client() {
        let world = with(
            r#"
            [ecitizen]
            token_ttl_secs = 60
            [[ecitizen.users]]
            id = 1
            active = false
            [[ecitizen.clients]]
            client_id = "spa"
            redirect_uris = ["http://localhost:5173/cb"]
            "#,
        )
        .unwrap();
        let user = world.user(1).unwrap();
        assert!(!user.active);
        assert_eq!(user.email, "user@ecitizen.com", "untouched fields keep their value");
        let spa = world.client("spa").unwrap();
        assert_eq!((spa.kind, spa.pkce), (ClientKind::Public, PkcePolicy::Required));
        assert_eq!(world.settings.token_ttl_secs, 60);
        assert_eq!(world.settings.code_ttl_secs, 600);
    }

    #[test]
    fn adding_a_redirect_uri_to_the_default_client_keeps_its_secret() {
        let world = with(
            r#"
            [[ecitizen.clients]]
            client_id = "PesaSandboxEcitizenClient"
            redirect_uris = ["https://app.example/cb"]
            "#,
        )
        .unwrap();
        let client = world.client("PesaSandboxEcitizenClient").unwrap();
        assert_eq!(client.redirect_uris, vec!["https://app.example/cb".to_owned()]);
        assert_eq!(
            client.client_secret.as_ref().map(|s| s.expose_secret().to_owned()).as_deref(),
            Some("PesaSandboxEcitizenSecret")
        );
    }

    #[test]
    fn numbers_are_range_checked_and_errors_name_the_field() {
        let err = with("[ecitizen]\ncode_ttl_secs = 0\n").unwrap_err();
        assert_eq!(err.path, "code_ttl_secs");
        let err = with("[ecitizen]\ntoken_ttl_secs = 99999999999\n").unwrap_err();
        assert_eq!(err.path, "token_ttl_secs");
        let err = with("[[ecitizen.users]]\nid = 9007199254740992\nid_number = \"1\"\nemail = \"a@b\"\n").unwrap_err();
        assert_eq!(err.path, "users[id=9007199254740992].id");
    }

    #[test]
    fn a_new_user_needs_an_id_number_and_an_email() {
        let err = with("[[ecitizen.users]]\nid = 77\nemail = \"a@b.c\"\n").unwrap_err();
        assert_eq!(err.to_string(), "ecitizen.users[id=77].id_number: is missing");
    }

    #[test]
    fn bad_user_fields_are_refused() {
        let base = "[[ecitizen.users]]\nid = 77\nid_number = \"1\"\nemail = \"a@b.c\"\n";
        let err = with(&format!("{base}dob = \"28/05/1951\"\n")).unwrap_err();
        assert_eq!(err.path, "users[id=77].dob");
        let err = with(&format!("{base}mobile_number = \"+254711000000\"\n")).unwrap_err();
        assert_eq!(err.path, "users[id=77].mobile_number");
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name() {
        let err = with("[ecitizen]\ncolour = 1\n").unwrap_err();
        assert!(err.message.contains("colour"), "{err}");
        let err = with("[[ecitizen.users]]\nid = 1\nGender = \"m\"\n").unwrap_err();
        assert!(err.message.contains("Gender"), "{err}");
    }

    #[test]
    fn client_rules_are_enforced() {
        let err = with("[[ecitizen.clients]]\nclient_id = \"c\"\nredirect_uris = [\"/relative\"]\n").unwrap_err();
        assert_eq!(err.path, "clients[client_id=c].redirect_uris");
        let err =
            with("[[ecitizen.clients]]\nclient_id = \"c\"\nredirect_uris = [\"http://x/cb#frag\"]\n").unwrap_err();
        assert!(err.message.contains("fragment"), "{err}");
        let err = with("[[ecitizen.clients]]\nclient_id = \"c\"\n").unwrap_err();
        assert_eq!(err.path, "clients[client_id=c].redirect_uris");
        let err =
            with("[[ecitizen.clients]]\nclient_id = \"c\"\nredirect_uris = [\"http://x/cb\"]\npkce = \"optional\"\n")
                .unwrap_err();
        assert_eq!(err.path, "clients[client_id=c].pkce");
        let err = with(
            "[[ecitizen.clients]]\nclient_id = \"c\"\nredirect_uris = [\"http://x/cb\"]\nauto_approve_user = 404\n",
        )
        .unwrap_err();
        assert_eq!(err.path, "clients[client_id=c].auto_approve_user");
        let err = with("[[ecitizen.clients]]\nclient_id = \"a:b\"\nredirect_uris = [\"http://x/cb\"]\n").unwrap_err();
        assert_eq!(err.path, "clients.client_id");
    }

    #[test]
    fn login_hints_name_users_by_id_id_number_or_email() {
        let world = World::from_overlays(&[]).unwrap();
        assert_eq!(world.user_by_hint("2").map(|u| u.id), Some(2));
        assert_eq!(world.user_by_hint("28765432").map(|u| u.id), Some(2));
        assert_eq!(world.user_by_hint("WANJIKU.KAMAU@example.com").map(|u| u.id), Some(2));
        assert_eq!(world.user_by_hint("nobody"), None);
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let world = World::from_overlays(&[]).unwrap();
        assert!(!format!("{world:?}").contains("PesaSandboxEcitizenSecret"));
    }
}
