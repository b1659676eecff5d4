//! Daraja's part of the world: apps, shortcodes, operators and settings.
//!
//! Daraja was the first provider, so its tables sit at the top level of the
//! world document (`[[apps]]`, `[[shortcodes]]`, `[[initiators]]`, `[daraja]`);
//! the registry hands them here as one [`WorldDoc`]. Entries merge by key
//! (apps by consumer key, shortcodes by number, initiators by name) and every
//! number is range-checked where it is read.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::ledger::Money;
use crate::world::{amount, bounded, upsert, WorldError};

/// The embedded default world's Daraja part.
pub(crate) const DEFAULT_TOML: &str = include_str!("default-world.toml");

/// Daraja's tables of a world document.
#[derive(Debug, Clone, Default)]
pub(crate) struct WorldDoc {
    pub apps: Vec<AppDoc>,
    pub shortcodes: Vec<ShortcodeDoc>,
    pub initiators: Vec<InitiatorDoc>,
    pub settings: Option<DarajaSettingsDoc>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppDoc {
    pub name: Option<String>,
    pub consumer_key: String,
    pub consumer_secret: SecretString,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShortcodeKind {
    /// A paybill: customers pay it with an account number; holds a passkey for M-Pesa Express.
    Paybill,
    /// A Buy Goods store number: used in API calls on behalf of its tills.
    Store,
    /// A Buy Goods till: what customers pay; never used in API calls itself.
    Till,
    /// A bulk disbursement (B2C) shortcode.
    B2c,
    /// A head office: the parent of store numbers; never used in API calls.
    HeadOffice,
}

impl ShortcodeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ShortcodeKind::Paybill => "paybill",
            ShortcodeKind::Store => "store",
            ShortcodeKind::Till => "till",
            ShortcodeKind::B2c => "b2c",
            ShortcodeKind::HeadOffice => "head_office",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShortcodeDoc {
    pub number: String,
    pub kind: ShortcodeKind,
    pub name: Option<String>,
    pub passkey: Option<SecretString>,
    /// For a till: the store number it belongs to.
    pub store: Option<String>,
    /// For a store number: its head office.
    pub head_office: Option<String>,
    /// Opening balance of the utility account, in shillings.
    pub balance: Option<f64>,
    /// Opening balance of the working account (B2B pays from it), in shillings.
    pub working_balance: Option<f64>,
    /// Whether C2B payments go through the merchant's ValidationURL first.
    pub external_validation: Option<bool>,
    /// Whether C2B URLs can be registered (false for an M-Pesa Express-only shortcode).
    pub c2b: Option<bool>,
    /// Whether a paid M-Pesa Express push also sends the C2B confirmation.
    pub stk_confirmation: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatorKind {
    /// An API operator (initiator): calls APIs, never logs into the portal.
    Api,
    /// A web operator: logs into the portal; its password expires.
    Web,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatorStatus {
    Active,
    /// The security credential is locked (8006).
    Locked,
    Disabled,
}

/// What an operator may do, as the org portal assigns roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    B2c,
    B2b,
    TaxRemittance,
    Reversal,
    TransactionStatus,
    AccountBalance,
}

impl Role {
    pub const ALL: [Role; 6] =
        [Role::B2c, Role::B2b, Role::TaxRemittance, Role::Reversal, Role::TransactionStatus, Role::AccountBalance];
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitiatorDoc {
    pub name: String,
    pub password: SecretString,
    /// The shortcodes this operator acts for.
    #[serde(default)]
    pub shortcodes: Vec<String>,
    /// `api` (default) or `web`.
    pub kind: Option<OperatorKind>,
    /// Every role when omitted.
    pub roles: Option<Vec<Role>>,
    /// `active` (default), `locked` or `disabled`.
    pub status: Option<OperatorStatus>,
    /// How many days ago the password was set (web passwords expire).
    pub password_age_days: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpiresInFormat {
    /// `"expires_in": "3599"`, as real traffic shows.
    String,
    /// `"expires_in": 3599`, as the documentation shows.
    Number,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum StkQueryPending {
    /// `500.001.1001 The transaction is being processed` (the long-standing behaviour).
    #[serde(rename = "error")]
    Error,
    /// A 200 answer with `ResultCode` `4999` (seen on the sandbox since 2024).
    #[serde(rename = "4999")]
    ResultCode4999,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DarajaSettingsDoc {
    pub token_ttl_secs: Option<u64>,
    pub expires_in: Option<ExpiresInFormat>,
    /// Issuing a token revokes the app's earlier tokens (the documentation claims so).
    pub single_active_token: Option<bool>,
    /// How far a `Timestamp` may be from the sandbox clock, beyond the spread of
    /// time zones (UTC-12 to UTC+14). `0` turns the window check off.
    pub timestamp_window_secs: Option<u64>,
    /// How long a simulated customer takes to answer a prompt.
    pub stk_answer_delay_ms: Option<u64>,
    /// How long a prompt waits before it times out (result 1037).
    pub stk_timeout_secs: Option<u64>,
    pub stk_query_pending: Option<StkQueryPending>,
    pub stk_min_amount: Option<i64>,
    pub stk_max_amount: Option<i64>,
    /// How long results of B2C, B2B, reversal, status and balance requests take.
    pub result_delay_ms: Option<u64>,
    /// `strict` (default): a SecurityCredential must decrypt, with the sandbox
    /// key, to the initiator's password. `lenient`: ciphertexts the sandbox
    /// cannot decrypt (made with Safaricom's certificate) are accepted.
    pub security_credential: Option<CredentialMode>,
    /// Production rules: https-only URLs, C2B URLs registered once, no simulate.
    pub production_rules: Option<bool>,
    /// How long the sandbox waits for a C2B ValidationURL before applying ResponseType.
    pub c2b_validation_timeout_ms: Option<u64>,
    /// Wrong credentials in a row that lock an initiator (0: never).
    pub lockout_after_failures: Option<u32>,
    /// Days after which a web operator's password expires.
    pub web_password_days: Option<u32>,
    pub b2c_min_amount: Option<i64>,
    pub b2c_max_amount: Option<i64>,
    /// Flat charges per transaction, in shillings, paid from the charges account.
    pub charges: Option<ChargesDoc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialMode {
    Strict,
    Lenient,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChargesDoc {
    pub b2c: Option<f64>,
    pub b2b: Option<f64>,
}

// ---------------------------------------------------------------------------
// The resolved form.

#[derive(Debug, Clone)]
pub struct App {
    pub name: String,
    pub consumer_key: String,
    pub consumer_secret: SecretString,
}

#[derive(Debug, Clone)]
pub struct Shortcode {
    pub number: String,
    pub kind: ShortcodeKind,
    pub name: String,
    pub passkey: Option<SecretString>,
    pub store: Option<String>,
    pub head_office: Option<String>,
    pub opening_balance: Money,
    pub opening_working_balance: Money,
    pub external_validation: bool,
    pub c2b: bool,
    pub stk_confirmation: bool,
}

impl Shortcode {
    /// Paybills, B2C shortcodes and store numbers may be named in API calls;
    /// tills and head offices may not.
    pub fn usable_in_api(&self) -> bool {
        matches!(self.kind, ShortcodeKind::Paybill | ShortcodeKind::B2c | ShortcodeKind::Store)
    }
}

#[derive(Debug, Clone)]
pub struct Initiator {
    pub name: String,
    pub password: SecretString,
    pub shortcodes: Vec<String>,
    pub kind: OperatorKind,
    pub roles: Vec<Role>,
    pub status: OperatorStatus,
    pub password_age_days: u32,
}

#[derive(Debug, Clone)]
pub struct DarajaSettings {
    pub token_ttl_secs: u64,
    pub expires_in: ExpiresInFormat,
    pub single_active_token: bool,
    pub timestamp_window_secs: u64,
    pub stk_answer_delay_ms: u64,
    pub stk_timeout_secs: u64,
    pub stk_query_pending: StkQueryPending,
    pub stk_min_amount: i64,
    pub stk_max_amount: i64,
    pub result_delay_ms: u64,
    pub security_credential: CredentialMode,
    pub production_rules: bool,
    pub c2b_validation_timeout_ms: u64,
    pub lockout_after_failures: u32,
    pub web_password_days: u32,
    pub b2c_min_amount: i64,
    pub b2c_max_amount: i64,
    pub b2c_charge: Money,
    pub b2b_charge: Money,
}

/// Daraja's resolved world.
#[derive(Debug, Clone)]
pub struct World {
    pub apps: Vec<App>,
    pub shortcodes: BTreeMap<String, Shortcode>,
    pub initiators: BTreeMap<String, Initiator>,
    pub settings: DarajaSettings,
}

impl World {
    pub fn app_by_key(&self, consumer_key: &str) -> Option<&App> {
        self.apps.iter().find(|a| a.consumer_key == consumer_key)
    }
}

impl WorldDoc {
    /// Merges an overlay over this document, entry by entry.
    pub(crate) fn merge(&mut self, overlay: WorldDoc) {
        upsert(&mut self.apps, overlay.apps, |a| a.consumer_key.clone());
        upsert(&mut self.shortcodes, overlay.shortcodes, |s| s.number.clone());
        upsert(&mut self.initiators, overlay.initiators, |i| i.name.clone());
        if let Some(d) = overlay.settings {
            let b = self.settings.get_or_insert_with(DarajaSettingsDoc::default);
            b.token_ttl_secs = d.token_ttl_secs.or(b.token_ttl_secs);
            b.expires_in = d.expires_in.or(b.expires_in);
            b.single_active_token = d.single_active_token.or(b.single_active_token);
            b.timestamp_window_secs = d.timestamp_window_secs.or(b.timestamp_window_secs);
            b.stk_answer_delay_ms = d.stk_answer_delay_ms.or(b.stk_answer_delay_ms);
            b.stk_timeout_secs = d.stk_timeout_secs.or(b.stk_timeout_secs);
            b.stk_query_pending = d.stk_query_pending.or(b.stk_query_pending);
            b.stk_min_amount = d.stk_min_amount.or(b.stk_min_amount);
            b.stk_max_amount = d.stk_max_amount.or(b.stk_max_amount);
            b.result_delay_ms = d.result_delay_ms.or(b.result_delay_ms);
            b.security_credential = d.security_credential.or(b.security_credential);
            b.production_rules = d.production_rules.or(b.production_rules);
            b.c2b_validation_timeout_ms = d.c2b_validation_timeout_ms.or(b.c2b_validation_timeout_ms);
            b.lockout_after_failures = d.lockout_after_failures.or(b.lockout_after_failures);
            b.web_password_days = d.web_password_days.or(b.web_password_days);
            b.b2c_min_amount = d.b2c_min_amount.or(b.b2c_min_amount);
            b.b2c_max_amount = d.b2c_max_amount.or(b.b2c_max_amount);
            b.charges = d.charges.or(b.charges.take());
        }
    }

    /// Validates and resolves Daraja's part of a world.
    pub(crate) fn resolve(self, origin: &str) -> Result<World, WorldError> {
        let invalid = |message: String| WorldError::invalid(origin, message);
        let mut apps = Vec::new();
        for app in self.apps {
            if app.consumer_key.trim().is_empty() || app.consumer_secret.expose_secret().is_empty() {
                return Err(invalid("apps: consumer_key and consumer_secret must not be empty".into()));
            }
            if app.consumer_key.contains(':') || app.consumer_key.len() > 256 {
                return Err(invalid(format!(
                    "apps: consumer_key {:?} must be at most 256 characters without ':'",
                    app.consumer_key.chars().take(40).collect::<String>()
                )));
            }
            apps.push(App {
                name: app.name.unwrap_or_else(|| "App".into()),
                consumer_key: app.consumer_key,
                consumer_secret: app.consumer_secret,
            });
        }
        let shortcodes = resolve_shortcodes(&self.shortcodes, origin)?;
        let mut initiators = BTreeMap::new();
        for i in self.initiators {
            let what = format!("initiators.{}.password_age_days", i.name);
            initiators.insert(
                i.name.clone(),
                Initiator {
                    password_age_days: bounded(i.password_age_days, 0, 0..=36_500, &what, origin)?,
                    name: i.name,
                    password: i.password,
                    shortcodes: i.shortcodes,
                    kind: i.kind.unwrap_or(OperatorKind::Api),
                    roles: i.roles.unwrap_or_else(|| Role::ALL.to_vec()),
                    status: i.status.unwrap_or(OperatorStatus::Active),
                },
            );
        }
        let settings = resolve_settings(self.settings.unwrap_or_default(), origin)?;
        Ok(World { apps, shortcodes, initiators, settings })
    }
}

fn resolve_shortcodes(docs: &[ShortcodeDoc], origin: &str) -> Result<BTreeMap<String, Shortcode>, WorldError> {
    let invalid = |message: String| WorldError::invalid(origin, message);
    let mut shortcodes = BTreeMap::new();
    for sc in docs {
        if !(5..=7).contains(&sc.number.len()) || !sc.number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(format!(
                "shortcodes: number {:?} must be 5 to 7 digits",
                sc.number.chars().take(40).collect::<String>()
            )));
        }
        let what = format!("shortcodes.{}", sc.number);
        shortcodes.insert(
            sc.number.clone(),
            Shortcode {
                number: sc.number.clone(),
                kind: sc.kind,
                name: sc.name.clone().unwrap_or_else(|| format!("Shortcode {}", sc.number)),
                passkey: sc.passkey.clone(),
                store: sc.store.clone(),
                head_office: sc.head_office.clone(),
                opening_balance: amount(sc.balance, &format!("{what}.balance"), origin)?,
                opening_working_balance: amount(sc.working_balance, &format!("{what}.working_balance"), origin)?,
                external_validation: sc.external_validation.unwrap_or(false),
                c2b: sc.c2b.unwrap_or(true),
                stk_confirmation: sc.stk_confirmation.unwrap_or(false),
            },
        );
    }
    for sc in shortcodes.values() {
        match (sc.kind, &sc.store) {
            (ShortcodeKind::Till, None) => {
                return Err(invalid(format!("shortcodes.{}: a till needs `store = \"<store number>\"`", sc.number)))
            }
            (ShortcodeKind::Till, Some(store)) => {
                let ok = shortcodes.get(store).is_some_and(|s| s.kind == ShortcodeKind::Store);
                if !ok {
                    return Err(invalid(format!(
                        "shortcodes.{}: store {store:?} is not a shortcode of kind \"store\"",
                        sc.number
                    )));
                }
            }
            (_, Some(_)) => return Err(invalid(format!("shortcodes.{}: only a till has a `store`", sc.number))),
            _ => {}
        }
    }
    Ok(shortcodes)
}

/// The longest delay a world may ask for: a day, in milliseconds.
const MAX_DELAY_MS: u64 = 86_400_000;

fn resolve_settings(d: DarajaSettingsDoc, origin: &str) -> Result<DarajaSettings, WorldError> {
    let ms = |value: Option<u64>, default: u64, name: &str| {
        bounded(value, default, 0..=MAX_DELAY_MS, &format!("daraja.{name}"), origin)
    };
    let amount_limit = |value: Option<i64>, default: i64, name: &str| {
        bounded(value, default, 1..=1_000_000_000, &format!("daraja.{name}"), origin)
    };
    let charges = d.charges.unwrap_or_default();
    let settings = DarajaSettings {
        token_ttl_secs: bounded(d.token_ttl_secs, 3600, 1..=31_536_000, "daraja.token_ttl_secs", origin)?,
        expires_in: d.expires_in.unwrap_or(ExpiresInFormat::String),
        single_active_token: d.single_active_token.unwrap_or(false),
        timestamp_window_secs: bounded(
            d.timestamp_window_secs,
            3600,
            0..=31_536_000,
            "daraja.timestamp_window_secs",
            origin,
        )?,
        stk_answer_delay_ms: ms(d.stk_answer_delay_ms, 1000, "stk_answer_delay_ms")?,
        stk_timeout_secs: bounded(d.stk_timeout_secs, 60, 1..=86_400, "daraja.stk_timeout_secs", origin)?,
        stk_query_pending: d.stk_query_pending.unwrap_or(StkQueryPending::Error),
        stk_min_amount: amount_limit(d.stk_min_amount, 1, "stk_min_amount")?,
        stk_max_amount: amount_limit(d.stk_max_amount, 250_000, "stk_max_amount")?,
        result_delay_ms: ms(d.result_delay_ms, 1000, "result_delay_ms")?,
        security_credential: d.security_credential.unwrap_or(CredentialMode::Strict),
        production_rules: d.production_rules.unwrap_or(false),
        c2b_validation_timeout_ms: ms(d.c2b_validation_timeout_ms, 8000, "c2b_validation_timeout_ms")?,
        lockout_after_failures: bounded(
            d.lockout_after_failures,
            0,
            0..=1_000_000,
            "daraja.lockout_after_failures",
            origin,
        )?,
        web_password_days: bounded(d.web_password_days, 90, 1..=36_500, "daraja.web_password_days", origin)?,
        b2c_min_amount: amount_limit(d.b2c_min_amount, 10, "b2c_min_amount")?,
        b2c_max_amount: amount_limit(d.b2c_max_amount, 250_000, "b2c_max_amount")?,
        b2c_charge: amount(charges.b2c, "daraja.charges.b2c", origin)?,
        b2b_charge: amount(charges.b2b, "daraja.charges.b2b", origin)?,
    };
    if settings.stk_min_amount > settings.stk_max_amount {
        return Err(WorldError::invalid(origin, "daraja: stk_min_amount is greater than stk_max_amount"));
    }
    if settings.b2c_min_amount > settings.b2c_max_amount {
        return Err(WorldError::invalid(origin, "daraja: b2c_min_amount is greater than b2c_max_amount"));
    }
    Ok(settings)
}
