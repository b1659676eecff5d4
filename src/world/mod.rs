//! The world: the apps, shortcodes, operators and customers a tenant starts with.
//!
//! A world is described by a TOML document ([`WorldDoc`], a stable surface:
//! unknown keys are rejected, errors name the line and the field).
//! The embedded default world (`default.toml`) works with zero configuration;
//! a world file merges over it entry by entry, or replaces it with
//! `replace_default = true`.
//! [`World`] is the validated, resolved form the rest of the sandbox reads.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::ledger::Money;
use crate::scenarios::doc::RateLimitDoc;
use crate::scenarios::{RateLimit, ScenarioError};

/// The embedded default world, as text (also served for reference).
pub const DEFAULT_WORLD_TOML: &str = include_str!("default.toml");

/// The world document format version this build reads.
pub const WORLD_VERSION: u32 = 1;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct WorldDoc {
    pub version: Option<u32>,
    /// Start from an empty world instead of the default one.
    #[serde(default)]
    pub replace_default: bool,
    #[serde(default)]
    pub apps: Vec<AppDoc>,
    #[serde(default)]
    pub shortcodes: Vec<ShortcodeDoc>,
    #[serde(default)]
    pub initiators: Vec<InitiatorDoc>,
    #[serde(default)]
    pub customers: Vec<CustomerDoc>,
    pub customer_defaults: Option<CustomerDefaultsDoc>,
    pub daraja: Option<DarajaSettingsDoc>,
    pub callbacks: Option<CallbackSettingsDoc>,
    /// Token buckets for this world's apps (none by default).
    #[serde(default)]
    pub rate_limits: Vec<RateLimitDoc>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbackSettingsDoc {
    /// Sign every callback (Standard Webhooks headers).
    pub signing: Option<bool>,
    /// `whsec_` + base64 key; derived from the seed when omitted.
    pub signing_secret: Option<SecretString>,
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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerDoc {
    pub msisdn: String,
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    pub balance: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerDefaultsDoc {
    pub balance: Option<f64>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
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

/// Why a world document was refused.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    /// TOML syntax, an unknown key or a wrong type; the message names line, column and key.
    #[error("{origin}: {message}")]
    Syntax { origin: String, message: String },
    /// The document parsed but its content is inconsistent.
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
}

// ---------------------------------------------------------------------------
// The resolved world.

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
pub struct Customer {
    pub msisdn: String,
    pub first_name: String,
    pub middle_name: String,
    pub last_name: String,
    pub opening_balance: Money,
}

#[derive(Debug, Clone)]
pub struct CustomerDefaults {
    pub balance: Money,
    pub first_name: String,
    pub last_name: String,
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

#[derive(Debug, Clone, Default)]
pub struct CallbackSettings {
    pub signing: bool,
    pub signing_secret: Option<SecretString>,
}

#[derive(Debug, Clone)]
pub struct World {
    pub callbacks: CallbackSettings,
    pub rate_limits: Vec<RateLimit>,
    pub apps: Vec<App>,
    pub shortcodes: BTreeMap<String, Shortcode>,
    pub initiators: BTreeMap<String, Initiator>,
    pub customers: BTreeMap<String, Customer>,
    pub customer_defaults: CustomerDefaults,
    pub daraja: DarajaSettings,
}

impl World {
    /// The embedded default world.
    pub fn default_world() -> World {
        // The embedded document is checked by a unit test; it cannot fail here.
        World::from_overlays(&[]).expect("the embedded default world is valid")
    }

    /// Parses a world document without resolving it.
    pub fn parse_doc(text: &str, origin: &str) -> Result<WorldDoc, WorldError> {
        let doc: WorldDoc = toml::from_str(text)
            .map_err(|e| WorldError::Syntax { origin: origin.to_owned(), message: e.to_string() })?;
        match doc.version {
            None | Some(WORLD_VERSION) => Ok(doc),
            Some(v) => Err(WorldError::Invalid {
                origin: origin.to_owned(),
                message: format!("version {v} is not supported; this build reads version {WORLD_VERSION}"),
            }),
        }
    }

    /// The default world with each overlay merged over it in order.
    pub fn from_overlays(overlays: &[(WorldDoc, String)]) -> Result<World, WorldError> {
        let mut merged = World::parse_doc(DEFAULT_WORLD_TOML, "default world")?;
        for (doc, _origin) in overlays {
            merge(&mut merged, doc.clone());
        }
        let origin = overlays.last().map(|(_, o)| o.as_str()).unwrap_or("default world");
        resolve(merged, origin)
    }

    pub fn app_by_key(&self, consumer_key: &str) -> Option<&App> {
        self.apps.iter().find(|a| a.consumer_key == consumer_key)
    }
}

fn merge(base: &mut WorldDoc, overlay: WorldDoc) {
    if overlay.replace_default {
        *base = WorldDoc { version: base.version, ..WorldDoc::default() };
    }
    upsert(&mut base.apps, overlay.apps, |a| a.consumer_key.clone());
    upsert(&mut base.shortcodes, overlay.shortcodes, |s| s.number.clone());
    upsert(&mut base.initiators, overlay.initiators, |i| i.name.clone());
    upsert(&mut base.customers, overlay.customers, |c| c.msisdn.clone());
    if let Some(defaults) = overlay.customer_defaults {
        let base_defaults = base.customer_defaults.get_or_insert(CustomerDefaultsDoc {
            balance: None,
            first_name: None,
            last_name: None,
        });
        base_defaults.balance = defaults.balance.or(base_defaults.balance);
        base_defaults.first_name = defaults.first_name.or(base_defaults.first_name.take());
        base_defaults.last_name = defaults.last_name.or(base_defaults.last_name.take());
    }
    if let Some(c) = overlay.callbacks {
        let b = base.callbacks.get_or_insert_with(CallbackSettingsDoc::default);
        b.signing = c.signing.or(b.signing);
        b.signing_secret = c.signing_secret.or(b.signing_secret.take());
    }
    if !overlay.rate_limits.is_empty() {
        base.rate_limits = overlay.rate_limits;
    }
    if let Some(d) = overlay.daraja {
        let b = base.daraja.get_or_insert_with(DarajaSettingsDoc::default);
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

/// Replaces entries with the same key, appends new ones, keeps the order.
fn upsert<T>(base: &mut Vec<T>, overlay: Vec<T>, key: impl Fn(&T) -> String) {
    for item in overlay {
        match base.iter().position(|b| key(b) == key(&item)) {
            Some(i) => base[i] = item,
            None => base.push(item),
        }
    }
}

fn resolve(doc: WorldDoc, origin: &str) -> Result<World, WorldError> {
    let invalid = |message: String| WorldError::Invalid { origin: origin.to_owned(), message };
    let money = |amount: Option<f64>, what: &str| -> Result<Money, WorldError> {
        match amount {
            None => Ok(Money(0)),
            Some(a) if (0.0..1e13).contains(&a) => Ok(Money::from_decimal(a)),
            Some(a) => Err(invalid(format!("{what}: balance {a} must be a non-negative amount"))),
        }
    };

    let mut apps = Vec::new();
    for app in doc.apps {
        if app.consumer_key.trim().is_empty() || app.consumer_secret.expose_secret().is_empty() {
            return Err(invalid("apps: consumer_key and consumer_secret must not be empty".into()));
        }
        if app.consumer_key.contains(':') {
            return Err(invalid(format!("apps: consumer_key {:?} must not contain ':'", app.consumer_key)));
        }
        apps.push(App {
            name: app.name.unwrap_or_else(|| "App".into()),
            consumer_key: app.consumer_key,
            consumer_secret: app.consumer_secret,
        });
    }

    let mut shortcodes = BTreeMap::new();
    for sc in &doc.shortcodes {
        if !(5..=7).contains(&sc.number.len()) || !sc.number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(format!("shortcodes: number {:?} must be 5 to 7 digits", sc.number)));
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
                opening_balance: money(sc.balance, &what)?,
                opening_working_balance: money(sc.working_balance, &what)?,
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

    let mut initiators = BTreeMap::new();
    for i in doc.initiators {
        initiators.insert(
            i.name.clone(),
            Initiator {
                name: i.name,
                password: i.password,
                shortcodes: i.shortcodes,
                kind: i.kind.unwrap_or(OperatorKind::Api),
                roles: i.roles.unwrap_or_else(|| Role::ALL.to_vec()),
                status: i.status.unwrap_or(OperatorStatus::Active),
                password_age_days: i.password_age_days.unwrap_or(0),
            },
        );
    }

    let mut customers = BTreeMap::new();
    for c in doc.customers {
        if !is_msisdn(&c.msisdn) {
            return Err(invalid(format!("customers: msisdn {:?} must be 12 digits starting with 254", c.msisdn)));
        }
        let what = format!("customers.{}", c.msisdn);
        customers.insert(
            c.msisdn.clone(),
            Customer {
                opening_balance: money(c.balance, &what)?,
                msisdn: c.msisdn,
                first_name: c.first_name.unwrap_or_default(),
                middle_name: c.middle_name.unwrap_or_default(),
                last_name: c.last_name.unwrap_or_default(),
            },
        );
    }

    let defaults =
        doc.customer_defaults.unwrap_or(CustomerDefaultsDoc { balance: None, first_name: None, last_name: None });
    let customer_defaults = CustomerDefaults {
        balance: money(defaults.balance, "customer_defaults")?,
        first_name: defaults.first_name.unwrap_or_default(),
        last_name: defaults.last_name.unwrap_or_default(),
    };

    let d = doc.daraja.unwrap_or_default();
    let daraja = DarajaSettings {
        token_ttl_secs: d.token_ttl_secs.unwrap_or(3600).max(1),
        expires_in: d.expires_in.unwrap_or(ExpiresInFormat::String),
        single_active_token: d.single_active_token.unwrap_or(false),
        timestamp_window_secs: d.timestamp_window_secs.unwrap_or(3600),
        stk_answer_delay_ms: d.stk_answer_delay_ms.unwrap_or(1000),
        stk_timeout_secs: d.stk_timeout_secs.unwrap_or(60),
        stk_query_pending: d.stk_query_pending.unwrap_or(StkQueryPending::Error),
        stk_min_amount: d.stk_min_amount.unwrap_or(1),
        stk_max_amount: d.stk_max_amount.unwrap_or(250_000),
        result_delay_ms: d.result_delay_ms.unwrap_or(1000),
        security_credential: d.security_credential.unwrap_or(CredentialMode::Strict),
        production_rules: d.production_rules.unwrap_or(false),
        c2b_validation_timeout_ms: d.c2b_validation_timeout_ms.unwrap_or(8000),
        lockout_after_failures: d.lockout_after_failures.unwrap_or(0),
        web_password_days: d.web_password_days.unwrap_or(90),
        b2c_min_amount: d.b2c_min_amount.unwrap_or(10),
        b2c_max_amount: d.b2c_max_amount.unwrap_or(250_000),
        b2c_charge: money(d.charges.as_ref().and_then(|c| c.b2c), "daraja.charges.b2c")?,
        b2b_charge: money(d.charges.as_ref().and_then(|c| c.b2b), "daraja.charges.b2b")?,
    };
    if daraja.stk_min_amount > daraja.stk_max_amount {
        return Err(invalid("daraja: stk_min_amount is greater than stk_max_amount".into()));
    }

    let callbacks_doc = doc.callbacks.unwrap_or_default();
    let callbacks = CallbackSettings {
        signing: callbacks_doc.signing.unwrap_or(false),
        signing_secret: callbacks_doc.signing_secret,
    };
    let plain = |_: std::ops::Range<usize>, message: String| ScenarioError { origin: origin.to_owned(), message };
    let rate_limits = doc
        .rate_limits
        .into_iter()
        .map(|l| crate::scenarios::resolve_rate_limit(l, &plain))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(e.message))?;

    Ok(World { callbacks, rate_limits, apps, shortcodes, initiators, customers, customer_defaults, daraja })
}

/// A Kenyan MSISDN in international form without `+`: `254` and 9 digits.
pub fn is_msisdn(s: &str) -> bool {
    s.len() == 12 && s.starts_with("254") && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_world_loads() {
        let world = World::default_world();
        assert!(world.app_by_key("PesaSandboxConsumerKey").is_some());
        assert_eq!(world.shortcodes["174379"].kind, ShortcodeKind::Paybill);
        assert_eq!(world.shortcodes["500200"].store.as_deref(), Some("400200"));
        assert_eq!(world.customers["254708374149"].opening_balance, Money::from_shillings(500_000));
    }

    #[test]
    fn an_overlay_overrides_by_key_and_adds_new_entries() {
        let doc = World::parse_doc(
            r#"
            [[customers]]
            msisdn = "254708374149"
            balance = 5
            [[customers]]
            msisdn = "254799999999"
            [daraja]
            stk_answer_delay_ms = 10
            "#,
            "test.toml",
        )
        .unwrap();
        let world = World::from_overlays(&[(doc, "test.toml".into())]).unwrap();
        assert_eq!(world.customers["254708374149"].opening_balance, Money(500));
        assert!(world.customers.contains_key("254799999999"));
        assert_eq!(world.daraja.stk_answer_delay_ms, 10);
        assert_eq!(world.daraja.token_ttl_secs, 3600, "untouched settings keep their defaults");
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_line() {
        let err = World::parse_doc("[[apps]]\nconsumer_key = \"k\"\nconsumer_secret = \"s\"\ncolour = 1\n", "w.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("w.toml"), "{err}");
        assert!(err.contains("line 4"), "{err}");
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn a_till_must_point_at_a_store() {
        let doc =
            World::parse_doc("[[shortcodes]]\nnumber = \"123456\"\nkind = \"till\"\nstore = \"174379\"\n", "w.toml")
                .unwrap();
        let err = World::from_overlays(&[(doc, "w.toml".into())]).unwrap_err().to_string();
        assert!(err.contains("is not a shortcode of kind \"store\""), "{err}");
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let world = World::default_world();
        let debug = format!("{world:?}");
        assert!(!debug.contains("PesaSandboxConsumerSecret"));
        assert!(!debug.contains("bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"));
        assert!(!debug.contains("Safaricom999!*!"));
    }
}
