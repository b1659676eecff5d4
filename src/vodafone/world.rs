//! The `[vodafone]` table of the world document and its resolved form.
//!
//! [`WorldDoc`] is the stable surface: every key is optional, unknown keys
//! are refused, and a user's table merges over the embedded default
//! (`default.toml`) entry by entry and field by field: accounts and
//! applications by `name`, organisations by `code` and `market`. [`World`] is the checked form handlers read; resolving
//! range-checks every number and names the field of any refusal.
//!
//! What the table describes:
//! * switches: which key pair is published (`key_size`, 4096 or 2048), which
//!   copy of the portal's status table applies (`portal_status_table`), the
//!   OpenAPI's duplicate key (`duplicate_key`), the answer for a session that
//!   is unknown, pending or expired (`session_refusal`), how the portal
//!   writes a successful asynchronous result (`portal_result_code`), and
//!   whether loopback listeners may skip the seed's URL rules
//!   (`loopback_async_urls`);
//! * portal developer accounts (`[[vodafone.accounts]]`): a 32-character API
//!   key, the service provider code (`171717` by default, as every public
//!   sample), the customers' market, allowed origins, the Asynchronous
//!   Response URL (empty: synchronous), whether the account is active, and
//!   the reversal's initiator identifier and security credential;
//! * OpenAPI applications (`[[vodafone.apps]]`): API key, market, origins,
//!   enabled products, session lifetime, activation delay, result listener
//!   and limits;
//! * organisations (service provider codes with opening balances).
//!
//! Customers are the world's common `[[customers]]` (one wallet per person
//! and market, whichever provider moves it); the default fragment lists the
//! Mozambican ones.
//!
//! Amounts are written as decimal strings or integers (`"1000.50"`, `1000`)
//! in the market's currency and kept in minor units; a TOML float is read
//! through its decimal text, never through float arithmetic.

use std::collections::BTreeSet;
use std::net::IpAddr;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::ledger::Money;
use crate::vodafone::api::Api;
use crate::vodafone::codes::StatusTable;
use crate::vodafone::error::SessionRefusal;
use crate::vodafone::fields::{parse_amount, rules, AmountProblem};
use crate::vodafone::keys::KeySize;
use crate::vodafone::markets::Market;
use crate::vodafone::wire::ResultCodeStyle;

/// The ports the seed allows an Asynchronous Response URL to use.
pub(crate) const ASYNC_PORTS: std::ops::RangeInclusive<u16> = 11000..=19000;

/// Why the table was refused: the field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub(crate) struct WorldError {
    pub(crate) field: String,
    pub(crate) message: String,
}

fn refuse(field: impl Into<String>, message: impl Into<String>) -> WorldError {
    WorldError { field: field.into(), message: message.into() }
}

// ---------------------------------------------------------------------------
// The document.

/// The `[vodafone]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldDoc {
    /// `4096` (default) or `2048`.
    pub(crate) key_size: Option<u64>,
    /// `documented` (default) or `alternate`.
    pub(crate) portal_status_table: Option<StatusTableDoc>,
    /// Let loopback listeners use plain http and any port.
    pub(crate) loopback_async_urls: Option<bool>,
    /// `third_party_conversation_id` (default) or `transaction_reference`.
    pub(crate) duplicate_key: Option<DuplicateKey>,
    /// `output_error` (default), `ins_6` or `ins_989`.
    pub(crate) session_refusal: Option<SessionRefusalDoc>,
    /// `zero` (default) or `ins`.
    pub(crate) portal_result_code: Option<ResultCodeStyleDoc>,
    /// How long an asynchronous result takes to arrive (default 500 ms).
    pub(crate) result_delay_ms: Option<u64>,
    /// How long a customer who never answers the USSD push takes to time
    /// out, for timeout outcomes (default 60000 ms).
    pub(crate) timeout_ms: Option<u64>,
    #[serde(default)]
    pub(crate) accounts: Vec<AccountDoc>,
    #[serde(default)]
    pub(crate) apps: Vec<AppDoc>,
    #[serde(default)]
    pub(crate) organisations: Vec<OrganisationDoc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum StatusTableDoc {
    Documented,
    Alternate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SessionRefusalDoc {
    OutputError,
    #[serde(rename = "ins_6")]
    Ins6,
    #[serde(rename = "ins_989")]
    Ins989,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ResultCodeStyleDoc {
    Zero,
    Ins,
}

/// Which field makes two OpenAPI requests the same transaction (`INS-10`).
/// The documentation has `INS-10` on every money API but never says which
/// field it keys on; the portal keys on `input_ThirdPartyReference`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DuplicateKey {
    /// `input_ThirdPartyConversationID`, the client's unique id (default).
    #[default]
    ThirdPartyConversationId,
    /// `input_TransactionReference` per service provider code.
    TransactionReference,
}

/// A portal developer account.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccountDoc {
    pub(crate) name: String,
    pub(crate) api_key: Option<SecretString>,
    pub(crate) service_provider_code: Option<String>,
    /// An OpenAPI market context (`vodacomMOZ` by default).
    pub(crate) market: Option<String>,
    pub(crate) origins: Option<Vec<String>>,
    pub(crate) async_url: Option<String>,
    pub(crate) active: Option<bool>,
    pub(crate) initiator_identifier: Option<String>,
    pub(crate) security_credential: Option<SecretString>,
}

/// An OpenAPI application.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AppDoc {
    pub(crate) name: String,
    pub(crate) api_key: Option<SecretString>,
    pub(crate) market: Option<String>,
    pub(crate) origins: Option<Vec<String>>,
    /// Operation names ([`crate::vodafone::OPERATIONS`]); all when omitted.
    pub(crate) products: Option<Vec<String>>,
    pub(crate) session_lifetime_secs: Option<u64>,
    pub(crate) activation_delay_ms: Option<u64>,
    pub(crate) async_url: Option<String>,
    pub(crate) limits: Option<LimitsDoc>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitsDoc {
    /// Per session: one transaction's largest amount (`INS-995`).
    pub(crate) single_transaction_max: Option<DecimalDoc>,
    /// Per session: the total amount (`INS-994`).
    pub(crate) session_value_max: Option<DecimalDoc>,
    /// Per session: the number of transactions (`INS-993`).
    pub(crate) session_count_max: Option<u64>,
    /// The hours of the market's day the API may be used, `[from, until)`
    /// (`INS-996`).
    pub(crate) usage_hours: Option<Vec<u64>>,
    /// Per customer and day: the total amount (`INS-990`).
    pub(crate) customer_daily_value_max: Option<DecimalDoc>,
    /// Per customer and day: the number of transactions (`INS-991`).
    pub(crate) customer_daily_count_max: Option<u64>,
}

/// A service provider code holding money in one market, or in every market.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OrganisationDoc {
    pub(crate) code: String,
    /// A market context; every market when omitted.
    pub(crate) market: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) balance: Option<DecimalDoc>,
}

/// An amount as written in TOML.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub(crate) enum DecimalDoc {
    Integer(i64),
    Text(String),
    Float(f64),
}

impl DecimalDoc {
    fn text(&self) -> String {
        match self {
            DecimalDoc::Integer(i) => i.to_string(),
            DecimalDoc::Text(s) => s.clone(),
            // Rust prints the shortest decimal that reads back as the same
            // float (`10.5`, not `10.4999...`).
            DecimalDoc::Float(f) => f.to_string(),
        }
    }
}

/// A document's `[vodafone]` table (other tables are the registry's).
#[cfg(test)]
#[derive(Debug, Deserialize)]
struct Fragment {
    vodafone: Option<WorldDoc>,
}

#[cfg(test)]
impl WorldDoc {
    /// Parses a TOML document holding a `[vodafone]` table (and nothing else).
    pub(crate) fn from_fragment(text: &str, origin: &str) -> Result<WorldDoc, WorldError> {
        let fragment: Fragment = toml::from_str(text).map_err(|e| refuse(origin, e.to_string()))?;
        Ok(fragment.vodafone.unwrap_or_default())
    }

    /// The embedded default table.
    pub(crate) fn default_doc() -> Result<WorldDoc, WorldError> {
        WorldDoc::from_fragment(crate::vodafone::DEFAULT_WORLD_TOML, "vodafone default world")
    }
}

impl WorldDoc {
    /// Lays `overlay` over `self`: set keys win, entries with the same
    /// identity merge field by field, new entries are appended.
    pub(crate) fn merge(&mut self, overlay: WorldDoc) {
        self.key_size = overlay.key_size.or(self.key_size);
        self.portal_status_table = overlay.portal_status_table.or(self.portal_status_table);
        self.loopback_async_urls = overlay.loopback_async_urls.or(self.loopback_async_urls);
        self.duplicate_key = overlay.duplicate_key.or(self.duplicate_key);
        self.session_refusal = overlay.session_refusal.or(self.session_refusal);
        self.portal_result_code = overlay.portal_result_code.or(self.portal_result_code);
        self.result_delay_ms = overlay.result_delay_ms.or(self.result_delay_ms);
        self.timeout_ms = overlay.timeout_ms.or(self.timeout_ms);
        upsert(&mut self.accounts, overlay.accounts, |a| a.name.clone(), AccountDoc::merge);
        upsert(&mut self.apps, overlay.apps, |a| a.name.clone(), AppDoc::merge);
        upsert(
            &mut self.organisations,
            overlay.organisations,
            |o| (o.code.clone(), o.market.clone()),
            OrganisationDoc::merge,
        );
    }
}

impl AccountDoc {
    fn merge(&mut self, o: AccountDoc) {
        self.api_key = o.api_key.or(self.api_key.take());
        self.service_provider_code = o.service_provider_code.or(self.service_provider_code.take());
        self.market = o.market.or(self.market.take());
        self.origins = o.origins.or(self.origins.take());
        self.async_url = o.async_url.or(self.async_url.take());
        self.active = o.active.or(self.active);
        self.initiator_identifier = o.initiator_identifier.or(self.initiator_identifier.take());
        self.security_credential = o.security_credential.or(self.security_credential.take());
    }
}

impl AppDoc {
    fn merge(&mut self, o: AppDoc) {
        self.api_key = o.api_key.or(self.api_key.take());
        self.market = o.market.or(self.market.take());
        self.origins = o.origins.or(self.origins.take());
        self.products = o.products.or(self.products.take());
        self.session_lifetime_secs = o.session_lifetime_secs.or(self.session_lifetime_secs);
        self.activation_delay_ms = o.activation_delay_ms.or(self.activation_delay_ms);
        self.async_url = o.async_url.or(self.async_url.take());
        self.limits = o.limits.or(self.limits.take());
    }
}

impl OrganisationDoc {
    fn merge(&mut self, o: OrganisationDoc) {
        self.name = o.name.or(self.name.take());
        self.balance = o.balance.or(self.balance.take());
    }
}

fn upsert<T, K: PartialEq>(base: &mut Vec<T>, overlay: Vec<T>, key: impl Fn(&T) -> K, merge: impl Fn(&mut T, T)) {
    for item in overlay {
        match base.iter_mut().find(|b| key(b) == key(&item)) {
            Some(existing) => merge(existing, item),
            None => base.push(item),
        }
    }
}

// ---------------------------------------------------------------------------
// The resolved world.

#[derive(Debug, Clone)]
pub struct World {
    pub(crate) key_size: KeySize,
    pub(crate) portal_status_table: StatusTable,
    pub(crate) loopback_async_urls: bool,
    pub(crate) duplicate_key: DuplicateKey,
    pub(crate) session_refusal: SessionRefusal,
    pub(crate) portal_result_code: ResultCodeStyle,
    pub(crate) result_delay_ms: u64,
    pub(crate) timeout_ms: u64,
    pub(crate) accounts: Vec<Account>,
    pub(crate) apps: Vec<App>,
    /// One entry per market an organisation holds money in.
    pub(crate) organisations: Vec<Organisation>,
}

#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub(crate) name: String,
    pub(crate) api_key: SecretString,
    pub(crate) service_provider_code: String,
    pub(crate) market: Market,
    /// Empty: any `Origin` (or none) is accepted.
    pub(crate) origins: Vec<String>,
    /// `None`: the account's APIs answer synchronously.
    pub(crate) async_url: Option<url::Url>,
    pub(crate) active: bool,
    pub(crate) initiator_identifier: String,
    pub(crate) security_credential: SecretString,
}

#[derive(Debug, Clone)]
pub(crate) struct App {
    pub(crate) name: String,
    pub(crate) api_key: SecretString,
    pub(crate) market: Market,
    pub(crate) origins: Vec<String>,
    pub(crate) products: BTreeSet<Product>,
    pub(crate) session_lifetime_secs: u64,
    pub(crate) activation_delay_ms: u64,
    pub(crate) async_url: Option<url::Url>,
    pub(crate) limits: Limits,
}

/// An [`Api`] as a set member (ordered by operation name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Product(&'static str);

impl App {
    pub(crate) fn enables(&self, api: Api) -> bool {
        self.products.contains(&Product(api.operation()))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) single_transaction_max: Option<Money>,
    pub(crate) session_value_max: Option<Money>,
    pub(crate) session_count_max: Option<u64>,
    /// `(from, until)` hours of the market's day.
    pub(crate) usage_hours: Option<(u8, u8)>,
    pub(crate) customer_daily_value_max: Option<Money>,
    pub(crate) customer_daily_count_max: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Organisation {
    pub(crate) code: String,
    pub(crate) market: Market,
    pub(crate) name: String,
    pub(crate) opening_balance: Money,
}

/// Whether an `Origin` header passes a list of allowed origins: an empty
/// list or `*` in it allows anything (a missing header included); otherwise
/// the header must name one of them (compared without regard to case).
pub(crate) fn origin_allowed(allowed: &[String], origin: Option<&str>) -> bool {
    if allowed.is_empty() || allowed.iter().any(|a| a == "*") {
        return true;
    }
    origin.is_some_and(|origin| allowed.iter().any(|a| a.eq_ignore_ascii_case(origin.trim())))
}

/// Checks an Asynchronous Response URL as the seed's portal does: "Only
/// secure HTTP (https) connections are allowed; the allowed port range is
/// [11000,19000]." An empty URL means synchronous answers (`Ok(None)`).
/// With `loopback` set, a listener on a loopback address may use plain http
/// and any port, so local test receivers work.
pub(crate) fn check_async_url(text: &str, loopback: bool) -> Result<Option<url::Url>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let url = url::Url::parse(text).map_err(|e| format!("not an absolute URL ({e})"))?;
    let local = loopback && is_loopback(&url);
    match url.scheme() {
        "https" => {}
        "http" if local => {}
        "http" => {
            return Err("only secure HTTP (https) connections are allowed; plain http is refused \
                        (the loopback_async_urls switch admits http on loopback)"
                .into())
        }
        other => return Err(format!("the scheme must be https, not {other:?}")),
    }
    if url.host().is_none() {
        return Err("the URL has no host".into());
    }
    let port = url.port_or_known_default().unwrap_or(0);
    if !local && !ASYNC_PORTS.contains(&port) {
        return Err(format!(
            "port {port} is outside the allowed range [{},{}]; asynchronous results are not sent to \
             endpoints listening on other ports (give the port explicitly, e.g. https://example.com:12000/results)",
            ASYNC_PORTS.start(),
            ASYNC_PORTS.end()
        ));
    }
    Ok(Some(url))
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// A transaction-sized amount: positive, at most two decimals, below 10^13.
fn amount(field: &str, doc: &DecimalDoc) -> Result<Money, WorldError> {
    let text = doc.text();
    parse_amount(&text).map(|a| a.0).map_err(|p| refuse(field, format!("{text:?} {p}")))
}

/// An opening balance: like [`amount`], but zero is allowed.
fn balance(field: &str, doc: Option<&DecimalDoc>) -> Result<Money, WorldError> {
    let Some(doc) = doc else { return Ok(Money(0)) };
    let text = doc.text();
    match parse_amount(&text) {
        Ok(a) => Ok(a.0),
        Err(AmountProblem::Zero) => Ok(Money(0)),
        Err(p) => Err(refuse(field, format!("{text:?} {p}"))),
    }
}

fn ranged(
    field: &str,
    value: Option<u64>,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, WorldError> {
    let value = value.unwrap_or(default);
    if range.contains(&value) {
        return Ok(value);
    }
    Err(refuse(field, format!("must be between {} and {}, got {value}", range.start(), range.end())))
}

fn market(field: &str, context: Option<&str>) -> Result<Market, WorldError> {
    let context = context.unwrap_or(Market::Mozambique.context());
    Market::from_context(context).ok_or_else(|| {
        refuse(
            field,
            format!("{context:?} is not a market (vodafoneGHA, vodacomTZN, vodacomLES, vodacomDRC, vodacomMOZ)"),
        )
    })
}

fn api_key(field: &str, key: Option<&SecretString>, seen: &mut BTreeSet<String>) -> Result<SecretString, WorldError> {
    let key = key.ok_or_else(|| refuse(field, "an api_key is required"))?;
    let text = key.expose_secret();
    if text.len() != 32 || !text.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(refuse(field, format!("must be 32 letters or digits, got {} characters", text.chars().count())));
    }
    if !seen.insert(text.to_owned()) {
        return Err(refuse(field, "is already used by another account or application"));
    }
    Ok(key.clone())
}

fn origins(field: &str, list: Option<&Vec<String>>) -> Result<Vec<String>, WorldError> {
    let list = list.cloned().unwrap_or_default();
    if list.iter().any(|o| o.trim().is_empty()) {
        return Err(refuse(field, "an origin must not be empty (use \"*\" to allow any)"));
    }
    Ok(list)
}

impl World {
    /// Resolves the default table with `overlays` merged over it in order.
    #[cfg(test)]
    pub(crate) fn from_overlays(overlays: Vec<WorldDoc>) -> Result<World, WorldError> {
        let mut doc = WorldDoc::default_doc()?;
        for overlay in overlays {
            doc.merge(overlay);
        }
        World::resolve(doc)
    }

    /// Checks a merged table and fills in defaults.
    pub(crate) fn resolve(doc: WorldDoc) -> Result<World, WorldError> {
        let key_bits = doc.key_size.unwrap_or(4096);
        let key_size = KeySize::from_bits(key_bits)
            .ok_or_else(|| refuse("vodafone.key_size", format!("must be 4096 or 2048, got {key_bits}")))?;
        let loopback = doc.loopback_async_urls.unwrap_or(false);
        let result_delay_ms = ranged("vodafone.result_delay_ms", doc.result_delay_ms, 500, 0..=86_400_000)?;
        let timeout_ms = ranged("vodafone.timeout_ms", doc.timeout_ms, 60_000, 0..=86_400_000)?;
        let mut keys_seen = BTreeSet::new();

        let mut accounts = Vec::new();
        let mut names = BTreeSet::new();
        for (i, a) in doc.accounts.iter().enumerate() {
            let at = |f: &str| format!("vodafone.accounts[{i}] ({:?}).{f}", a.name);
            if a.name.trim().is_empty() || !names.insert(a.name.clone()) {
                return Err(refuse(at("name"), "must be present and unique"));
            }
            let service_provider_code = a.service_provider_code.clone().unwrap_or_else(|| "171717".into());
            if !rules::SHORTCODE.check(&service_provider_code) {
                return Err(refuse(at("service_provider_code"), "must be 4 to 12 letters or digits"));
            }
            let async_url = check_async_url(a.async_url.as_deref().unwrap_or(""), loopback)
                .map_err(|m| refuse(at("async_url"), m))?;
            let initiator_identifier = a.initiator_identifier.clone().unwrap_or_else(|| "MPesa2018".into());
            let security_credential =
                a.security_credential.clone().unwrap_or_else(|| SecretString::from("Mpesa2019".to_owned()));
            for (field, value) in [
                ("initiator_identifier", initiator_identifier.as_str()),
                ("security_credential", security_credential.expose_secret()),
            ] {
                if !rules::PORTAL_SECRET.check(value) {
                    return Err(refuse(at(field), format!("must be {}", rules::PORTAL_SECRET.describe())));
                }
            }
            accounts.push(Account {
                name: a.name.clone(),
                api_key: api_key(&at("api_key"), a.api_key.as_ref(), &mut keys_seen)?,
                service_provider_code,
                market: market(&at("market"), a.market.as_deref())?,
                origins: origins(&at("origins"), a.origins.as_ref())?,
                async_url,
                active: a.active.unwrap_or(true),
                initiator_identifier,
                security_credential,
            });
        }

        let mut apps = Vec::new();
        let mut names = BTreeSet::new();
        for (i, a) in doc.apps.iter().enumerate() {
            let at = |f: &str| format!("vodafone.apps[{i}] ({:?}).{f}", a.name);
            if a.name.trim().is_empty() || !names.insert(a.name.clone()) {
                return Err(refuse(at("name"), "must be present and unique"));
            }
            let products = match &a.products {
                None => Api::ALL.iter().map(|api| Product(api.operation())).collect(),
                Some(list) => list
                    .iter()
                    .map(|p| {
                        Api::from_operation(p).map(|api| Product(api.operation())).ok_or_else(|| {
                            refuse(
                                at("products"),
                                format!("{p:?} is not one of {}", crate::vodafone::OPERATIONS.join(", ")),
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?,
            };
            apps.push(App {
                name: a.name.clone(),
                api_key: api_key(&at("api_key"), a.api_key.as_ref(), &mut keys_seen)?,
                market: market(&at("market"), a.market.as_deref())?,
                origins: origins(&at("origins"), a.origins.as_ref())?,
                products,
                session_lifetime_secs: ranged(
                    &at("session_lifetime_secs"),
                    a.session_lifetime_secs,
                    86_400,
                    1..=31_536_000,
                )?,
                activation_delay_ms: ranged(&at("activation_delay_ms"), a.activation_delay_ms, 0, 0..=600_000)?,
                async_url: check_async_url(a.async_url.as_deref().unwrap_or(""), loopback)
                    .map_err(|m| refuse(at("async_url"), m))?,
                limits: limits(&at("limits"), a.limits.as_ref())?,
            });
        }

        let mut organisations: Vec<Organisation> = Vec::new();
        for (i, o) in doc.organisations.iter().enumerate() {
            let at = |f: &str| format!("vodafone.organisations[{i}] ({:?}).{f}", o.code);
            if !rules::SHORTCODE.check(&o.code) {
                return Err(refuse(at("code"), "must be 4 to 12 letters or digits"));
            }
            let markets = match &o.market {
                None => Market::ALL.to_vec(),
                Some(m) => vec![market(&at("market"), Some(m))?],
            };
            let opening_balance = balance(&at("balance"), o.balance.as_ref())?;
            for m in markets {
                let org = Organisation {
                    code: o.code.clone(),
                    market: m,
                    name: o.name.clone().unwrap_or_else(|| format!("Service provider {}", o.code)),
                    opening_balance,
                };
                // A market-specific entry overrides an every-market one.
                match organisations.iter_mut().find(|e| e.code == org.code && e.market == m) {
                    Some(existing) if o.market.is_some() => *existing = org,
                    Some(_) => {}
                    None => organisations.push(org),
                }
            }
        }

        Ok(World {
            key_size,
            portal_status_table: match doc.portal_status_table {
                Some(StatusTableDoc::Alternate) => StatusTable::Alternate,
                _ => StatusTable::Documented,
            },
            loopback_async_urls: loopback,
            duplicate_key: doc.duplicate_key.unwrap_or_default(),
            session_refusal: match doc.session_refusal {
                Some(SessionRefusalDoc::Ins6) => SessionRefusal::Ins6,
                Some(SessionRefusalDoc::Ins989) => SessionRefusal::Ins989,
                _ => SessionRefusal::OutputError,
            },
            portal_result_code: match doc.portal_result_code {
                Some(ResultCodeStyleDoc::Ins) => ResultCodeStyle::Ins,
                _ => ResultCodeStyle::Zero,
            },
            result_delay_ms,
            timeout_ms,
            accounts,
            apps,
            organisations,
        })
    }

    /// The portal account whose API key a bearer decrypted to.
    pub(crate) fn account_by_key(&self, key: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.api_key.expose_secret() == key)
    }

    /// The OpenAPI application whose API key a bearer decrypted to.
    pub(crate) fn app_by_key(&self, key: &str) -> Option<&App> {
        self.apps.iter().find(|a| a.api_key.expose_secret() == key)
    }
}

fn limits(field: &str, doc: Option<&LimitsDoc>) -> Result<Limits, WorldError> {
    let Some(doc) = doc else { return Ok(Limits::default()) };
    let money =
        |name: &str, d: &Option<DecimalDoc>| d.as_ref().map(|d| amount(&format!("{field}.{name}"), d)).transpose();
    let count = |name: &str, n: Option<u64>| match n {
        Some(n) if !(1..=1_000_000_000).contains(&n) => {
            Err(refuse(format!("{field}.{name}"), format!("must be between 1 and 1000000000, got {n}")))
        }
        other => Ok(other),
    };
    let usage_hours = match doc.usage_hours.as_deref() {
        None => None,
        Some(&[from, until]) if from < until && until <= 24 => {
            Some((u8::try_from(from).unwrap_or(0), u8::try_from(until).unwrap_or(24)))
        }
        Some(_) => {
            return Err(refuse(
                format!("{field}.usage_hours"),
                "must be [from, until] hours with 0 <= from < until <= 24",
            ))
        }
    };
    Ok(Limits {
        single_transaction_max: money("single_transaction_max", &doc.single_transaction_max)?,
        session_value_max: money("session_value_max", &doc.session_value_max)?,
        session_count_max: count("session_count_max", doc.session_count_max)?,
        usage_hours,
        customer_daily_value_max: money("customer_daily_value_max", &doc.customer_daily_value_max)?,
        customer_daily_count_max: count("customer_daily_count_max", doc.customer_daily_count_max)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overlay(text: &str) -> Result<World, WorldError> {
        World::from_overlays(vec![WorldDoc::from_fragment(text, "test.toml")?])
    }

    #[test]
    fn the_default_world_has_the_seeds_account_and_one_app_per_market() {
        let world = World::from_overlays(Vec::new()).expect("the embedded default resolves");
        let account = world.account_by_key("aaaab09uz9f3asdcjyk7els777ihmwv8").expect("the seed's sample key");
        assert_eq!(account.service_provider_code, "171717");
        assert_eq!(account.market, Market::Mozambique);
        assert!(account.async_url.is_none() && account.active);
        let markets: BTreeSet<_> = world.apps.iter().map(|a| a.market).collect();
        assert_eq!(markets.len(), 5);
        assert!(world.apps.iter().all(|a| a.activation_delay_ms == 0 && a.enables(Api::QueryBeneficiaryName)));
        assert_eq!(world.key_size, KeySize::Rsa4096);
        assert!(world.organisations.iter().any(|o| o.code == "000000" && o.market == Market::DrCongo));
        assert!(!format!("{world:?}").contains("aaaab09uz9f3asdcjyk7els777ihmwv8"), "keys stay out of logs");
    }

    #[test]
    fn an_overlay_changes_one_field_of_an_entry_and_keeps_the_rest() {
        let world = overlay(
            "[vodafone]\nkey_size = 2048\n[[vodafone.accounts]]\nname = \"sandbox\"\nasync_url = \"https://example.com:12000/results\"\n",
        )
        .expect("resolves");
        assert_eq!(world.key_size, KeySize::Rsa2048);
        let account = world.account_by_key("aaaab09uz9f3asdcjyk7els777ihmwv8").expect("the key is kept");
        assert_eq!(account.async_url.as_ref().map(|u| u.port()), Some(Some(12000)));
    }

    #[test]
    fn unknown_keys_and_bad_numbers_are_refused_with_their_field() {
        let err = WorldDoc::from_fragment("[vodafone]\ncolour = 1\n", "w.toml").unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
        let err = overlay("[vodafone]\nkey_size = 1024\n").unwrap_err();
        assert_eq!(err.field, "vodafone.key_size");
        let err = overlay("[[vodafone.apps]]\nname = \"x\"\napi_key = \"0123456789abcdef0123456789abcdef\"\nactivation_delay_ms = 900000\n")
            .unwrap_err();
        assert!(err.field.ends_with("activation_delay_ms"), "{err}");
        let err = overlay("[[vodafone.apps]]\nname = \"x\"\napi_key = \"short\"\n").unwrap_err();
        assert!(err.message.contains("32"), "{err}");
        let err =
            overlay("[[vodafone.apps]]\nname = \"x\"\napi_key = \"aaaab09uz9f3asdcjyk7els777ihmwv8\"\n").unwrap_err();
        assert!(err.message.contains("already used"), "{err}");
        let err = overlay("[[vodafone.apps]]\nname = \"x\"\napi_key = \"0123456789abcdef0123456789abcdef\"\nproducts = [\"stk_push\"]\n")
            .unwrap_err();
        assert!(err.message.contains("stk_push"), "{err}");
        let err = overlay("[[vodafone.organisations]]\ncode = \"1\"\n").unwrap_err();
        assert!(err.field.ends_with("code"), "{err}");
        let err = overlay("[[vodafone.apps]]\nname = \"x\"\napi_key = \"0123456789abcdef0123456789abcdef\"\n[vodafone.apps.limits]\nusage_hours = [22, 6]\n")
            .unwrap_err();
        assert!(err.field.ends_with("usage_hours"), "{err}");
    }

    #[test]
    fn amounts_are_read_exactly_whatever_their_toml_type() {
        let org = |balance: &str| {
            overlay(&format!(
                "[[vodafone.organisations]]\ncode = \"4444\"\nmarket = \"vodacomMOZ\"\nbalance = {balance}\n"
            ))
            .map(|w| w.organisations.iter().find(|o| o.code == "4444").map(|o| o.opening_balance.0))
        };
        assert_eq!(org("10.5"), Ok(Some(1050)));
        assert_eq!(org("\"1000.25\""), Ok(Some(100_025)));
        assert_eq!(org("0"), Ok(Some(0)));
        assert!(org("-5").is_err());
        assert!(org("\"1.005\"").is_err());
    }

    #[test]
    fn async_urls_follow_the_seeds_rules_with_a_clear_refusal() {
        assert_eq!(check_async_url("", false), Ok(None));
        assert!(check_async_url("https://example.com:11000/r", false).is_ok());
        assert!(check_async_url("https://example.com:19000/r", false).is_ok());
        let no_port = check_async_url("https://example.com/r", false).unwrap_err();
        assert!(no_port.contains("port 443 is outside the allowed range [11000,19000]"), "{no_port}");
        assert!(check_async_url("https://example.com:19001/r", false).unwrap_err().contains("19001"));
        assert!(check_async_url("http://example.com:12000/r", false).unwrap_err().contains("https"));
        assert!(check_async_url("http://127.0.0.1:45123/r", false).is_err());
        assert!(check_async_url("http://127.0.0.1:45123/r", true).is_ok());
        assert!(check_async_url("http://localhost:8080/r", true).is_ok());
        assert!(check_async_url("http://[::1]:8080/r", true).is_ok());
        assert!(check_async_url("http://example.com:12000/r", true).is_err(), "only loopback is relaxed");
        assert!(check_async_url("ftp://example.com:12000/r", true).is_err());
        assert!(check_async_url("not a url", false).is_err());
    }

    #[test]
    fn origins_match_when_listed_or_when_nothing_is_configured() {
        assert!(origin_allowed(&[], None));
        assert!(origin_allowed(&["*".into()], Some("anything")));
        let list = vec!["developer.mpesa.vm.co.mz".to_owned()];
        assert!(origin_allowed(&list, Some("Developer.Mpesa.vm.co.mz")));
        assert!(!origin_allowed(&list, Some("*")));
        assert!(!origin_allowed(&list, None));
    }

    #[test]
    fn an_organisation_for_one_market_overrides_the_every_market_entry() {
        let world = overlay("[[vodafone.organisations]]\ncode = \"000000\"\nmarket = \"vodacomTZN\"\nbalance = 5\n")
            .expect("resolves");
        let tz: Vec<_> =
            world.organisations.iter().filter(|o| o.code == "000000" && o.market == Market::Tanzania).collect();
        assert_eq!(tz.len(), 1);
        assert_eq!(tz.first().map(|o| o.opening_balance), Some(Money(500)));
    }
}
