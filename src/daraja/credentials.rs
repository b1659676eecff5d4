//! Daraja's section of a tenant's credentials document
//! (`GET /__sandbox/credentials`, tenant creation, `Sandbox::credentials`).

use secrecy::ExposeSecret;
use serde::Serialize;

use super::world::{OperatorKind, ShortcodeKind};
use super::{Shared, State};
use crate::provider::CredentialContext;
use crate::scenarios::ResultCode;

#[derive(Debug, Clone, Serialize)]
pub struct DarajaCredentials {
    /// The first app's consumer key and secret, for the common single-app case.
    pub consumer_key: String,
    pub consumer_secret: String,
    pub apps: Vec<AppCredentials>,
    /// Shortcodes that accept M-Pesa Express, with their passkeys.
    pub lipa_na_mpesa: Vec<LipaNaMpesaCredentials>,
    pub shortcodes: Vec<ShortcodeInfo>,
    pub initiators: Vec<InitiatorCredentials>,
    /// Test MSISDNs and the M-Pesa Express outcome each produces.
    pub test_msisdns: Vec<TestMsisdn>,
    pub certificate_pem: String,
    pub certificate_url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AppCredentials {
    pub name: String,
    pub consumer_key: String,
    pub consumer_secret: String,
    /// The API products the app was created with.
    pub products: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LipaNaMpesaCredentials {
    pub business_short_code: String,
    pub kind: &'static str,
    pub passkey: String,
    /// `CustomerPayBillOnline` or `CustomerBuyGoodsOnline`.
    pub transaction_type: &'static str,
    /// What to send as `PartyB` (the paybill itself, or a till of the store).
    pub party_b: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShortcodeInfo {
    pub number: String,
    pub kind: &'static str,
    pub name: String,
    pub store: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InitiatorCredentials {
    pub name: String,
    pub password: String,
    pub shortcodes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TestMsisdn {
    pub msisdn: String,
    pub result_code: ResultCode,
    pub result_desc: String,
}

/// The test MSISDNs of the built-in default scenario.
fn default_test_msisdns() -> Vec<TestMsisdn> {
    crate::scenarios::default()
        .rules
        .iter()
        .filter(|r| r.when.operations.iter().any(|o| o == "stk_push") && r.when.msisdn.len() == 1)
        .filter_map(|r| {
            let outcome = r.decision.outcome.as_ref()?;
            let result_desc = match &outcome.result_code {
                ResultCode::Number(n) => super::results::stk_result_desc(*n).to_owned(),
                ResultCode::Text(_) => outcome.result_desc.clone().unwrap_or_default(),
            };
            Some(TestMsisdn { msisdn: r.when.msisdn[0].clone(), result_code: outcome.result_code.clone(), result_desc })
        })
        .collect()
}

/// Daraja's credentials in a tenant.
pub fn of(ctx: &CredentialContext<'_>, shared: &Shared, mine: &State) -> DarajaCredentials {
    let world = &mine.world;
    let apps: Vec<AppCredentials> = world
        .apps
        .iter()
        .map(|a| AppCredentials {
            name: a.name.clone(),
            consumer_key: a.consumer_key.clone(),
            consumer_secret: a.consumer_secret.expose_secret().to_owned(),
            products: a.products.iter().map(|p| p.as_str()).collect(),
        })
        .collect();
    let first = apps.first();
    let lipa_na_mpesa = world
        .shortcodes
        .values()
        .filter_map(|sc| {
            let passkey = sc.passkey.as_ref()?.expose_secret().to_owned();
            let (transaction_type, party_b) = match sc.kind {
                ShortcodeKind::Paybill => ("CustomerPayBillOnline", vec![sc.number.clone()]),
                ShortcodeKind::Store => (
                    "CustomerBuyGoodsOnline",
                    world
                        .shortcodes
                        .values()
                        .filter(|t| t.store.as_deref() == Some(sc.number.as_str()))
                        .map(|t| t.number.clone())
                        .collect(),
                ),
                _ => return None,
            };
            Some(LipaNaMpesaCredentials {
                business_short_code: sc.number.clone(),
                kind: sc.kind.as_str(),
                passkey,
                transaction_type,
                party_b,
            })
        })
        .collect();
    let mut test_msisdns = vec![TestMsisdn {
        msisdn: "254708374149".into(),
        result_code: ResultCode::Number(0),
        result_desc: super::results::stk_result_desc(0).to_owned(),
    }];
    test_msisdns.extend(default_test_msisdns());
    let initiators = mine
        .operators
        .values()
        .filter(|o| o.kind == OperatorKind::Api)
        .map(|o| InitiatorCredentials {
            name: o.name.clone(),
            password: o.password.expose_secret().to_owned(),
            shortcodes: o.shortcodes.clone(),
        })
        .collect();
    DarajaCredentials {
        consumer_key: first.map(|a| a.consumer_key.clone()).unwrap_or_default(),
        consumer_secret: first.map(|a| a.consumer_secret.clone()).unwrap_or_default(),
        apps,
        lipa_na_mpesa,
        shortcodes: world
            .shortcodes
            .values()
            .map(|sc| ShortcodeInfo {
                number: sc.number.clone(),
                kind: sc.kind.as_str(),
                name: sc.name.clone(),
                store: sc.store.clone(),
            })
            .collect(),
        initiators,
        test_msisdns,
        certificate_pem: shared.keys.cert_pem.to_owned(),
        certificate_url: format!("{}{}/keys/daraja.pem", ctx.base_url, crate::admin::PREFIX),
    }
}
