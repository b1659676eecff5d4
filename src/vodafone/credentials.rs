//! The provider's section of a tenant's credentials document
//! (`GET /__sandbox/credentials`, tenant creation, `Sandbox::credentials`).

use secrecy::ExposeSecret;
use serde::Serialize;

use super::api::{Api, Environment, PORTAL_PREFIX};
use super::{Shared, State};
use crate::provider::CredentialContext;

#[derive(Debug, Clone, Serialize)]
pub struct VodafoneCredentials {
    /// The public key clients encrypt API keys and session ids with: one
    /// line of Base64 DER `SubjectPublicKeyInfo`, as the portal prints it.
    pub public_key: String,
    /// 4096 (as the real gateways) or 2048 (the world's `key_size`).
    pub key_size: usize,
    /// Where the public key is served, as text and (`.pem`) as PEM.
    pub public_key_url: String,
    /// The first portal account's API key and service provider code, for
    /// the common single-account case.
    pub api_key: String,
    pub service_provider_code: String,
    /// The portal's path prefix (`/ipg/v1x/`).
    pub portal_path: String,
    pub accounts: Vec<AccountCredentials>,
    pub apps: Vec<AppCredentials>,
}

/// A portal developer account.
#[derive(Debug, Clone, Serialize)]
pub struct AccountCredentials {
    pub name: String,
    pub api_key: String,
    pub service_provider_code: String,
    /// The customers' market (`vodacomMOZ`).
    pub market: String,
    /// The Asynchronous Response URL; `None` answers synchronously.
    pub async_url: Option<String>,
    pub active: bool,
    /// The reversal's `input_InitiatorIdentifier` and `input_SecurityCredential`.
    pub initiator_identifier: String,
    pub security_credential: String,
}

/// An OpenAPI application.
#[derive(Debug, Clone, Serialize)]
pub struct AppCredentials {
    pub name: String,
    pub api_key: String,
    /// The market context (`vodacomTZN`) and what requests send as
    /// `input_Country` and `input_Currency`.
    pub market: String,
    pub country: String,
    pub currency: String,
    /// `/sandbox/ipg/v2/{market}/` (`/openapi/...` is served too).
    pub path: String,
    pub products: Vec<&'static str>,
    pub async_url: Option<String>,
    pub activation_delay_ms: u64,
    pub session_lifetime_secs: u64,
}

/// The provider's credentials in a tenant.
pub(crate) fn of(ctx: &CredentialContext<'_>, shared: &Shared, mine: &State) -> VodafoneCredentials {
    let world = &mine.world;
    let keys = shared.keys(world.key_size);
    let accounts: Vec<AccountCredentials> = world
        .accounts
        .iter()
        .map(|a| AccountCredentials {
            name: a.name.clone(),
            api_key: a.api_key.expose_secret().to_owned(),
            service_provider_code: a.service_provider_code.clone(),
            market: a.market.context().to_owned(),
            async_url: a.async_url.as_ref().map(|u| u.to_string()),
            active: a.active,
            initiator_identifier: a.initiator_identifier.clone(),
            security_credential: a.security_credential.expose_secret().to_owned(),
        })
        .collect();
    let apps = world
        .apps
        .iter()
        .map(|a| AppCredentials {
            name: a.name.clone(),
            api_key: a.api_key.expose_secret().to_owned(),
            market: a.market.context().to_owned(),
            country: a.market.country().to_owned(),
            currency: a.market.currency().to_owned(),
            path: Api::GetSession.openapi_path(Environment::Sandbox, a.market).replace("getSession/", ""),
            products: Api::ALL.into_iter().filter(|api| a.enables(*api)).map(Api::operation).collect(),
            async_url: a.async_url.as_ref().map(|u| u.to_string()),
            activation_delay_ms: a.activation_delay_ms,
            session_lifetime_secs: a.session_lifetime_secs,
        })
        .collect();
    let first = accounts.first();
    VodafoneCredentials {
        public_key: keys.spki_base64.to_owned(),
        key_size: keys.size.bits(),
        public_key_url: format!("{}/vodafone/public-key", ctx.admin_url),
        api_key: first.map(|a| a.api_key.clone()).unwrap_or_default(),
        service_provider_code: first.map(|a| a.service_provider_code.clone()).unwrap_or_default(),
        portal_path: PORTAL_PREFIX.to_owned(),
        accounts,
        apps,
    }
}
