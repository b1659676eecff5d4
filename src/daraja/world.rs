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
    /// The API products the app was created with; every product when omitted.
    pub products: Option<Vec<Product>>,
    /// The error every missing product answers with; each product's own when omitted.
    pub product_error: Option<ProductError>,
}

/// An API product, as the Daraja portal ticks them when an app is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Product {
    /// "Lipa Na M-Pesa Sandbox": M-Pesa Express and its query.
    LipaNaMpesa,
    /// "M-Pesa Sandbox": C2B (v1 and v2, outside production rules), B2C v1 and v3,
    /// B2B, tax remittance, reversal, transaction status, account balance.
    Mpesa,
    /// B2C to a Pochi la Biashara.
    B2pochi,
    /// Pull Transactions.
    PullTransactions,
    /// Dynamic QR.
    DynamicQr,
    /// C2B v1, a product of its own under production rules.
    C2bV1,
    /// C2B v2, a product of its own under production rules.
    C2bV2,
}

impl Product {
    pub const ALL: [Product; 7] = [
        Product::LipaNaMpesa,
        Product::Mpesa,
        Product::B2pochi,
        Product::PullTransactions,
        Product::DynamicQr,
        Product::C2bV1,
        Product::C2bV2,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Product::LipaNaMpesa => "lipa_na_mpesa",
            Product::Mpesa => "mpesa",
            Product::B2pochi => "b2pochi",
            Product::PullTransactions => "pull_transactions",
            Product::DynamicQr => "dynamic_qr",
            Product::C2bV1 => "c2b_v1",
            Product::C2bV2 => "c2b_v2",
        }
    }
}

/// What calling an API outside the app's products answers, as captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ProductError {
    /// `401.003.01 Error Occurred - Invalid Access Token - Invalid API call as no apiproduct match found`.
    #[serde(rename = "401.003.01")]
    NoApiProductMatch,
    /// `401.002.01 Error Occurred - Invalid Access Token - ` (B2Pochi's, as captured in 2026).
    #[serde(rename = "401.002.01")]
    EmptyDetail,
    /// `401.001 Error Occurred - Invalid Access Token - ` (Pull Transactions', as captured in 2026).
    #[serde(rename = "401.001")]
    Unauthorised,
    /// `404.001.03 Invalid Access Token` (what a missing product gave in 2017).
    #[serde(rename = "404.001.03")]
    InvalidAccessToken,
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
    /// Whether B2B may pay it with any CommandID, as the shared sandbox's
    /// test organisations are paid (created on first use are; see `auto_organisations`).
    pub any_b2b_command: Option<bool>,
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
    /// How an empty rate-limit bucket answers: Apigee's 429 fault (`apigee`,
    /// captured in 2026) or the `500.003.02` envelope (`envelope`).
    pub spike_arrest: Option<SpikeArrestStyle>,
    /// How error bodies are written: as captured (`captured`: gateway errors
    /// pretty-printed with the gateway's irregular spacing, `400.*` compact)
    /// or all compact (`compact`).
    pub error_bodies: Option<ErrorBodies>,
    /// A push whose phone, PartyB and amount equal those of a push completed
    /// this many seconds before fails with `17 Rule limited.` (0: never).
    pub stk_rule_limited_window_secs: Option<u64>,
    /// Which characters an M-Pesa Express `AccountReference` may hold.
    pub account_reference_charset: Option<Charset>,
    /// How M-Pesa Express treats a long `AccountReference` or `TransactionDesc`.
    pub field_limits: Option<FieldLimits>,
    /// C2B URLs are registered once per shortcode; again answers the duplicate error.
    pub c2b_register_once: Option<bool>,
    /// Test organisations (`600` and three digits) named in a request are
    /// created on first use, funded, with `testapi` acting for them.
    pub auto_organisations: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpikeArrestStyle {
    /// HTTP 429 `{"fault": {"faultstring": "Spike arrest violation. ...", "detail": {"errorcode": "policies.ratelimit.SpikeArrestViolation"}}}`.
    Apigee,
    /// HTTP 500 `500.003.02 Error Occurred: Spike Arrest Violation`.
    Envelope,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorBodies {
    Captured,
    Compact,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Charset {
    /// Anything (the one live test of `. _ #` and `-` found them working).
    Any,
    /// Letters, digits, space, `.`, `_` and `-`; anything else is `Invalid AccountReference`.
    Alphanumeric,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldLimits {
    /// As observed: both are acknowledged; an `AccountReference` over 12
    /// characters never reaches the phone, so the push times out (1037).
    Observed,
    /// As documented: over 12 (`AccountReference`) or 13 (`TransactionDesc`)
    /// characters is `400.002.02 Bad Request - Invalid <Field>`.
    Documented,
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
    pub products: Vec<Product>,
    pub product_error: Option<ProductError>,
}

impl App {
    pub fn has(&self, product: Product) -> bool {
        self.products.contains(&product)
    }
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
    pub any_b2b_command: bool,
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
    pub spike_arrest: SpikeArrestStyle,
    pub error_bodies: ErrorBodies,
    pub stk_rule_limited_window_secs: u64,
    pub account_reference_charset: Charset,
    pub field_limits: FieldLimits,
    pub c2b_register_once: bool,
    pub auto_organisations: bool,
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
            b.spike_arrest = d.spike_arrest.or(b.spike_arrest);
            b.error_bodies = d.error_bodies.or(b.error_bodies);
            b.stk_rule_limited_window_secs = d.stk_rule_limited_window_secs.or(b.stk_rule_limited_window_secs);
            b.account_reference_charset = d.account_reference_charset.or(b.account_reference_charset);
            b.field_limits = d.field_limits.or(b.field_limits);
            b.c2b_register_once = d.c2b_register_once.or(b.c2b_register_once);
            b.auto_organisations = d.auto_organisations.or(b.auto_organisations);
        }
    }

    /// Validates and resolves Daraja's part of a world.
    pub(crate) fn resolve(self, origin: &str) -> Result<World, WorldError> {
        let invalid = |message: String| WorldError::invalid(origin, message);
        let settings = resolve_settings(self.settings.unwrap_or_default(), origin)?;
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
            // Under production rules the portal issues C2B v2 only, so an app
            // that does not list its products lacks C2B v1.
            let products = app.products.unwrap_or_else(|| {
                Product::ALL.into_iter().filter(|p| !(settings.production_rules && *p == Product::C2bV1)).collect()
            });
            apps.push(App {
                name: app.name.unwrap_or_else(|| "App".into()),
                consumer_key: app.consumer_key,
                consumer_secret: app.consumer_secret,
                products,
                product_error: app.product_error,
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
                any_b2b_command: sc.any_b2b_command.unwrap_or(false),
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
    let production_rules = d.production_rules.unwrap_or(false);
    // The rule is seen in production; nothing shows the shared sandbox applying it.
    let rule_limited_default = if production_rules { 120 } else { 0 };
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
        security_credential: d.security_credential.unwrap_or(CredentialMode::Lenient),
        production_rules,
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
        spike_arrest: d.spike_arrest.unwrap_or(SpikeArrestStyle::Apigee),
        error_bodies: d.error_bodies.unwrap_or(ErrorBodies::Captured),
        stk_rule_limited_window_secs: bounded(
            d.stk_rule_limited_window_secs,
            rule_limited_default,
            0..=86_400,
            "daraja.stk_rule_limited_window_secs",
            origin,
        )?,
        account_reference_charset: d.account_reference_charset.unwrap_or(Charset::Any),
        field_limits: d.field_limits.unwrap_or(FieldLimits::Observed),
        c2b_register_once: d.c2b_register_once.unwrap_or(false),
        auto_organisations: d.auto_organisations.unwrap_or(true),
    };
    if settings.stk_min_amount > settings.stk_max_amount {
        return Err(WorldError::invalid(origin, "daraja: stk_min_amount is greater than stk_max_amount"));
    }
    if settings.b2c_min_amount > settings.b2c_max_amount {
        return Err(WorldError::invalid(origin, "daraja: b2c_min_amount is greater than b2c_max_amount"));
    }
    Ok(settings)
}
