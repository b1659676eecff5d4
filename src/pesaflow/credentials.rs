//! Pesaflow's section of a tenant's credentials document
//! (`GET /__sandbox/credentials`, tenant creation, `Sandbox::credentials`):
//! the URLs to point a client at, every API client with its key and secret,
//! and the services each may bill.

use serde::Serialize;

use super::prompt::OPERATION as PROMPT_OPERATION;
use super::scenario::prompt_result_text;
use super::wire::CheckoutPath;
use super::State;
use crate::provider::CredentialContext;
use crate::scenarios::ResultCode;

#[derive(Debug, Clone, Serialize)]
pub struct PesaflowCredentials {
    /// `POST` here: what live integrations call (`ECITIZEN_GATEWAY_URL`).
    pub checkout_url: String,
    /// The guide's checkout path, served too.
    pub documented_checkout_url: String,
    pub status_url: String,
    pub validate_url: String,
    pub confirm_url: String,
    pub token_url: String,
    pub invoice_create_url: String,
    /// The first client's id, key and secret, for the common single-client case.
    pub api_client_id: String,
    pub key: String,
    pub secret: String,
    pub clients: Vec<PesaflowClient>,
    /// Test MSISDNs and the M-Pesa result each produces on a prompt.
    pub test_msisdns: Vec<PesaflowTestMsisdn>,
    /// Where the admin views of invoices and USSD sessions are.
    pub admin_url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PesaflowClient {
    pub api_client_id: String,
    pub name: String,
    /// The HMAC key of every secure hash.
    pub key: String,
    /// Appended to every hashed message but the status query's.
    pub secret: String,
    /// Whether `POST /api/invoice/create` is granted.
    pub invoice_create: bool,
    pub services: Vec<PesaflowService>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PesaflowService {
    pub service_id: String,
    pub name: String,
    pub currency: &'static str,
    /// The convenience fee on 100.00, as an example of the service's rule.
    pub commission_on_100: String,
    pub ussd_service_code: String,
    pub ussd_validation_url: Option<String>,
    pub notification_url: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PesaflowTestMsisdn {
    pub msisdn: String,
    pub result_code: ResultCode,
    pub result_desc: String,
}

/// A tenant's Pesaflow credentials.
pub(crate) fn of(ctx: &CredentialContext<'_>, mine: &State) -> PesaflowCredentials {
    let world = &mine.world;
    let base = ctx.base_url.trim_end_matches('/');
    let clients: Vec<PesaflowClient> = world
        .clients
        .values()
        .map(|c| {
            let key = c.hash_key();
            PesaflowClient {
                api_client_id: c.api_client_id.clone(),
                name: c.name.clone(),
                key: key.key.to_owned(),
                secret: key.secret.to_owned(),
                invoice_create: c.invoice_create,
                services: world
                    .services_of(&c.api_client_id)
                    .map(|s| PesaflowService {
                        service_id: s.service_id.clone(),
                        name: s.name.clone(),
                        currency: s.currency.as_str(),
                        commission_on_100: super::amount::two_decimals(s.commission.on(crate::ledger::Money(10_000))),
                        ussd_service_code: s.ussd_service_code.clone(),
                        ussd_validation_url: s.ussd_validation_url.clone(),
                        notification_url: s.notification_url.clone(),
                    })
                    .collect(),
            }
        })
        .collect();
    let first = clients.first();
    PesaflowCredentials {
        checkout_url: format!("{base}{}", CheckoutPath::Iframe.path()),
        documented_checkout_url: format!("{base}{}", CheckoutPath::Documented.path()),
        status_url: format!("{base}{}", super::STATUS_PATH),
        validate_url: format!("{base}{}", super::VALIDATE_PATH),
        confirm_url: format!("{base}{}", super::CONFIRM_PATH),
        token_url: format!("{base}{}", super::TOKEN_PATH),
        invoice_create_url: format!("{base}{}", super::INVOICE_CREATE_PATH),
        api_client_id: first.map(|c| c.api_client_id.clone()).unwrap_or_default(),
        key: first.map(|c| c.key.clone()).unwrap_or_default(),
        secret: first.map(|c| c.secret.clone()).unwrap_or_default(),
        test_msisdns: test_msisdns(),
        clients,
        admin_url: format!("{}/{}", ctx.admin_url, super::PROVIDER),
    }
}

/// The test MSISDNs of the built-in default scenario for prompts.
fn test_msisdns() -> Vec<PesaflowTestMsisdn> {
    crate::scenarios::default()
        .rules
        .iter()
        .filter(|r| r.when.provider.as_deref() == Some(super::PROVIDER))
        .filter(|r| r.when.operations.iter().any(|o| o == PROMPT_OPERATION) && r.when.msisdn.len() == 1)
        .filter_map(|r| {
            let outcome = r.decision.outcome.as_ref()?;
            let result_desc = match &outcome.result_code {
                ResultCode::Number(n) => prompt_result_text(i64::from(*n)).to_owned(),
                ResultCode::Text(_) => outcome.result_desc.clone().unwrap_or_default(),
            };
            Some(PesaflowTestMsisdn {
                msisdn: r.when.msisdn.first()?.clone(),
                result_code: outcome.result_code.clone(),
                result_desc,
            })
        })
        .collect()
}
