//! The `[pesaflow]` table of the world: API clients, their services, and the
//! switches that choose between the behaviours sources disagree on.
//!
//! [`WorldDoc`] is the document form (a stable surface: unknown keys are
//! refused, every field is optional so a user's table merges over the
//! embedded default entry by entry, clients by `api_client_id` and services
//! by `service_id`). [`World`] is the resolved form with defaults, where
//! every number has been range-checked.
//! The defaults are the most faithful behaviour: what live traffic shows.
//!
//! **Invariant:** keys and secrets stay in [`SecretString`]s; they leave only
//! through [`Client::hash_key`] and never reach `Debug` output.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::amount::{self, Currency, MAX_AMOUNT};
use super::error::Maintenance;
use super::wire::{CheckoutPath, FieldNames};
use crate::crypto::secure_hash::{HashEncoding, HashKey};
use crate::ledger::Money;

/// The embedded default world's Pesaflow fragment (a world document with
/// only the `[pesaflow]` tables).
pub(crate) const DEFAULT_TOML: &str = include_str!("default-world.toml");

/// The largest delay a world may give a prompt: a day, in milliseconds.
const MAX_DELAY_MS: u64 = 86_400_000;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldDoc {
    pub(crate) hash_encoding: Option<HashEncodingDoc>,
    pub(crate) field_names: Option<FieldNamesDoc>,
    pub(crate) status_ref_no: Option<StatusRefNo>,
    pub(crate) invoice_number_length: Option<u32>,
    pub(crate) token_ttl_secs: Option<u64>,
    pub(crate) overpayment: Option<Overpayment>,
    /// How long a customer takes to answer an M-Pesa prompt by default.
    pub(crate) prompt_answer_delay_ms: Option<u64>,
    /// How long an unanswered prompt waits before it times out (1037).
    pub(crate) prompt_timeout_secs: Option<u64>,
    pub(crate) notification: Option<NotificationDoc>,
    pub(crate) paths: Option<PathsDoc>,
    /// Replaces the default's windows when given.
    pub(crate) maintenance: Option<Vec<MaintenanceDoc>>,
    #[serde(default)]
    pub(crate) clients: Vec<ClientDoc>,
    #[serde(default)]
    pub(crate) services: Vec<ServiceDoc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum HashEncodingDoc {
    B64hex,
    Hex,
    B64raw,
    B64rawLowercase,
    /// Accept every encoding; emit the default one.
    Any,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FieldNamesDoc {
    Lenient,
    Strict,
}

/// What a status query's `ref_no` may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum StatusRefNo {
    /// Pesaflow's invoice number only (the verified live behaviour).
    InvoiceNumber,
    /// Also the merchant's billRefNumber (what one SDK sends).
    InvoiceNumberOrClientRef,
}

/// What happens to a payment above what is still due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Overpayment {
    /// Record it all and settle the invoice: money that a bank or M-Pesa has
    /// already moved cannot be refused.
    Accept,
    /// Refuse the payment.
    Refuse,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NotificationDoc {
    pub(crate) signature_field: Option<SignatureField>,
    pub(crate) signature_recipe: Option<SignatureRecipe>,
    pub(crate) amounts: Option<NotificationAmounts>,
    pub(crate) status_words: Option<StatusWords>,
    pub(crate) payment_date: Option<PaymentDateFormat>,
    pub(crate) inserted_at: Option<InsertedAt>,
    pub(crate) content_type: Option<NotificationBody>,
    pub(crate) payment_reference: Option<PaymentReferenceShape>,
    pub(crate) notify_on: Option<NotifyOn>,
    pub(crate) payment_channel: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SignatureField {
    SecureHash,
    TokenHash,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SignatureRecipe {
    /// `client_invoice_ref + invoice_number + amount_paid + payment_date + secret`.
    Seed,
    /// `invoice_number + amount_paid + secret`.
    InvoiceAmount,
    /// The checkout's `secureHash`, recomputed from the invoice.
    CheckoutEcho,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum NotificationAmounts {
    /// Paid amounts shortest (`"5"`), the invoice amount with two decimals.
    AsPaid,
    TwoDecimals,
    Numbers,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum StatusWords {
    Lowercase,
    Uppercase,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PaymentDateFormat {
    Eat,
    Utc,
    Iso,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum InsertedAt {
    ThreeHoursBehind,
    Utc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum NotificationBody {
    Json,
    Form,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PaymentReferenceShape {
    List,
    Single,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum NotifyOn {
    EveryPayment,
    SettledOnly,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PathsDoc {
    pub(crate) documented_checkout: Option<bool>,
    pub(crate) white_label_checkout: Option<bool>,
    pub(crate) unprefixed_status: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MaintenanceDoc {
    /// RFC 3339, sandbox clock.
    pub(crate) from: String,
    pub(crate) until: String,
    /// 502 (default) or 503.
    pub(crate) status: Option<u16>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClientDoc {
    pub(crate) api_client_id: String,
    pub(crate) name: Option<String>,
    /// The HMAC key of every secure hash.
    pub(crate) key: Option<SecretString>,
    /// Appended to every hashed message but the status query's.
    pub(crate) secret: Option<SecretString>,
    /// Whether the client holds the Pesaflow.Invoice grant (invoice/create).
    pub(crate) invoice_create: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServiceDoc {
    pub(crate) service_id: String,
    /// The client the service belongs to.
    pub(crate) api_client_id: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) currency: Option<String>,
    pub(crate) commission: Option<CommissionDoc>,
    /// The code a customer dials for this service on the USSD channel
    /// (the service_id when omitted).
    pub(crate) ussd_service_code: Option<String>,
    /// Where a USSD reference is validated before a payment is allowed.
    pub(crate) ussd_validation_url: Option<String>,
    /// Where payments that no checkout asked to be notified of (USSD) are notified.
    pub(crate) notification_url: Option<String>,
}

/// A convenience fee: `flat + percent of the amount`, clamped to `min..=max`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CommissionDoc {
    pub(crate) flat: Option<f64>,
    pub(crate) percent: Option<f64>,
    pub(crate) min: Option<f64>,
    pub(crate) max: Option<f64>,
}

/// Why the `[pesaflow]` table was refused; names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pesaflow.{field}: {message}")]
pub(crate) struct WorldError {
    pub(crate) field: String,
    pub(crate) message: String,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> WorldError {
    WorldError { field: field.into(), message: message.into() }
}

// ---------------------------------------------------------------------------
// The resolved world.

#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub(crate) api_client_id: String,
    pub(crate) name: String,
    pub(crate) key: SecretString,
    pub(crate) secret: SecretString,
    pub(crate) invoice_create: bool,
}

impl Client {
    /// The credentials a secure hash is computed with.
    pub(crate) fn hash_key(&self) -> HashKey<'_> {
        HashKey { key: self.key.expose_secret(), secret: self.secret.expose_secret() }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Service {
    pub(crate) service_id: String,
    pub(crate) api_client_id: String,
    pub(crate) name: String,
    pub(crate) currency: Currency,
    pub(crate) commission: Commission,
    pub(crate) ussd_service_code: String,
    pub(crate) ussd_validation_url: Option<String>,
    pub(crate) notification_url: Option<String>,
}

/// A service's convenience fee, in minor units and basis points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Commission {
    pub(crate) flat: Money,
    /// Hundredths of a percent: 150 is 1.5%.
    pub(crate) basis_points: u32,
    pub(crate) min: Option<Money>,
    pub(crate) max: Option<Money>,
}

impl Commission {
    /// The fee on `net`, rounded half up to the cent, never above [`MAX_AMOUNT`].
    pub(crate) fn on(&self, net: Money) -> Money {
        let share = (i128::from(net.cents()) * i128::from(self.basis_points) + 5_000) / 10_000;
        let share = Money(i64::try_from(share).unwrap_or(i64::MAX));
        let mut fee = amount::add(self.flat, share);
        if let Some(min) = self.min {
            fee = fee.max(min);
        }
        if let Some(max) = self.max {
            fee = fee.min(max);
        }
        fee.min(MAX_AMOUNT)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HashSettings {
    /// What incoming hashes may be written as.
    pub(crate) accepted: &'static [HashEncoding],
    /// What the sandbox signs its notifications and USSD requests with.
    pub(crate) emitted: HashEncoding,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NotificationFormat {
    pub(crate) signature_field: SignatureField,
    pub(crate) signature_recipe: SignatureRecipe,
    pub(crate) amounts: NotificationAmounts,
    pub(crate) status_words: StatusWords,
    pub(crate) payment_date: PaymentDateFormat,
    pub(crate) inserted_at: InsertedAt,
    pub(crate) content_type: NotificationBody,
    pub(crate) payment_reference: PaymentReferenceShape,
    pub(crate) notify_on: NotifyOn,
    pub(crate) payment_channel: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Paths {
    pub(crate) documented_checkout: bool,
    pub(crate) white_label_checkout: bool,
    pub(crate) unprefixed_status: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MaintenanceWindow {
    pub(crate) from: DateTime<Utc>,
    pub(crate) until: DateTime<Utc>,
    pub(crate) answer: Maintenance,
}

#[derive(Debug, Clone)]
pub struct World {
    pub(crate) clients: BTreeMap<String, Client>,
    pub(crate) services: BTreeMap<String, Service>,
    pub(crate) hash: HashSettings,
    pub(crate) field_names: FieldNames,
    pub(crate) status_ref_no: StatusRefNo,
    pub(crate) invoice_number_length: usize,
    pub(crate) token_ttl_secs: u64,
    pub(crate) overpayment: Overpayment,
    pub(crate) prompt_answer_delay_ms: u64,
    pub(crate) prompt_timeout_secs: u64,
    pub(crate) notification: NotificationFormat,
    pub(crate) paths: Paths,
    pub(crate) maintenance: Vec<MaintenanceWindow>,
}

impl World {
    /// The embedded default table, resolved.
    #[cfg(test)]
    pub(crate) fn default_world() -> World {
        // A unit test checks the embedded table; it cannot fail here.
        World::from_overlays(&[]).expect("the embedded pesaflow table is valid")
    }

    /// Parses the embedded default table.
    #[cfg(test)]
    pub(crate) fn default_doc() -> Result<WorldDoc, WorldError> {
        /// The fragment is a world document holding only Pesaflow's tables.
        #[derive(Deserialize)]
        struct Fragment {
            #[serde(rename = "version")]
            _version: Option<u32>,
            pesaflow: Option<WorldDoc>,
        }
        let fragment: Fragment = toml::from_str(DEFAULT_TOML).map_err(|e| invalid("(default)", e.to_string()))?;
        Ok(fragment.pesaflow.unwrap_or_default())
    }

    /// The default table with each overlay merged over it in order.
    #[cfg(test)]
    pub(crate) fn from_overlays(overlays: &[WorldDoc]) -> Result<World, WorldError> {
        let mut merged = World::default_doc()?;
        for overlay in overlays {
            merged.merge(overlay.clone());
        }
        merged.resolve()
    }

    pub(crate) fn client(&self, api_client_id: &str) -> Option<&Client> {
        self.clients.get(api_client_id)
    }

    /// The client a server-token request's `key` belongs to.
    pub(crate) fn client_by_key(&self, key: &str) -> Option<&Client> {
        self.clients.values().find(|c| c.key.expose_secret() == key)
    }

    pub(crate) fn service(&self, service_id: &str) -> Option<&Service> {
        self.services.get(service_id)
    }

    pub(crate) fn services_of<'a>(&'a self, api_client_id: &str) -> impl Iterator<Item = &'a Service> + 'a {
        let api_client_id = api_client_id.to_owned();
        self.services.values().filter(move |s| s.api_client_id == api_client_id)
    }

    /// The service a customer reaches by dialling `code` on the USSD channel.
    pub(crate) fn service_by_ussd_code(&self, code: &str) -> Option<&Service> {
        self.services.values().find(|s| s.ussd_service_code == code)
    }

    pub(crate) fn serves_checkout(&self, path: CheckoutPath) -> bool {
        match path {
            CheckoutPath::Iframe => true,
            CheckoutPath::Documented => self.paths.documented_checkout,
            CheckoutPath::WhiteLabel => self.paths.white_label_checkout,
        }
    }

    /// The maintenance answer due at `at`, if a window is open.
    pub(crate) fn maintenance_at(&self, at: DateTime<Utc>) -> Option<Maintenance> {
        self.maintenance.iter().find(|w| w.from <= at && at < w.until).map(|w| w.answer)
    }
}

impl WorldDoc {
    /// Merges an overlay over this table: switches field by field, clients by
    /// api_client_id and services by service_id, each field by field.
    pub(crate) fn merge(&mut self, overlay: WorldDoc) {
        merge(self, overlay);
    }

    /// The resolved table, every number range-checked.
    pub(crate) fn resolve(self) -> Result<World, WorldError> {
        resolve(self)
    }
}

fn merge(base: &mut WorldDoc, overlay: WorldDoc) {
    base.hash_encoding = overlay.hash_encoding.or(base.hash_encoding);
    base.field_names = overlay.field_names.or(base.field_names);
    base.status_ref_no = overlay.status_ref_no.or(base.status_ref_no);
    base.invoice_number_length = overlay.invoice_number_length.or(base.invoice_number_length);
    base.token_ttl_secs = overlay.token_ttl_secs.or(base.token_ttl_secs);
    base.overpayment = overlay.overpayment.or(base.overpayment);
    base.prompt_answer_delay_ms = overlay.prompt_answer_delay_ms.or(base.prompt_answer_delay_ms);
    base.prompt_timeout_secs = overlay.prompt_timeout_secs.or(base.prompt_timeout_secs);
    if let Some(n) = overlay.notification {
        let b = base.notification.get_or_insert_with(NotificationDoc::default);
        b.signature_field = n.signature_field.or(b.signature_field);
        b.signature_recipe = n.signature_recipe.or(b.signature_recipe);
        b.amounts = n.amounts.or(b.amounts);
        b.status_words = n.status_words.or(b.status_words);
        b.payment_date = n.payment_date.or(b.payment_date);
        b.inserted_at = n.inserted_at.or(b.inserted_at);
        b.content_type = n.content_type.or(b.content_type);
        b.payment_reference = n.payment_reference.or(b.payment_reference);
        b.notify_on = n.notify_on.or(b.notify_on);
        b.payment_channel = n.payment_channel.or(b.payment_channel.take());
    }
    if let Some(p) = overlay.paths {
        let b = base.paths.get_or_insert_with(PathsDoc::default);
        b.documented_checkout = p.documented_checkout.or(b.documented_checkout);
        b.white_label_checkout = p.white_label_checkout.or(b.white_label_checkout);
        b.unprefixed_status = p.unprefixed_status.or(b.unprefixed_status);
    }
    if overlay.maintenance.is_some() {
        base.maintenance = overlay.maintenance;
    }
    for client in overlay.clients {
        match base.clients.iter_mut().find(|c| c.api_client_id == client.api_client_id) {
            Some(b) => {
                b.name = client.name.or(b.name.take());
                b.key = client.key.or(b.key.take());
                b.secret = client.secret.or(b.secret.take());
                b.invoice_create = client.invoice_create.or(b.invoice_create);
            }
            None => base.clients.push(client),
        }
    }
    for service in overlay.services {
        match base.services.iter_mut().find(|s| s.service_id == service.service_id) {
            Some(b) => {
                b.api_client_id = service.api_client_id.or(b.api_client_id.take());
                b.name = service.name.or(b.name.take());
                b.currency = service.currency.or(b.currency.take());
                b.commission = service.commission.or(b.commission);
                b.ussd_service_code = service.ussd_service_code.or(b.ussd_service_code.take());
                b.ussd_validation_url = service.ussd_validation_url.or(b.ussd_validation_url.take());
                b.notification_url = service.notification_url.or(b.notification_url.take());
            }
            None => base.services.push(service),
        }
    }
}

fn resolve(doc: WorldDoc) -> Result<World, WorldError> {
    let mut clients = BTreeMap::new();
    for c in doc.clients {
        let at = format!("clients[{:?}]", c.api_client_id);
        identifier(&c.api_client_id, &format!("{at}.api_client_id"))?;
        let key = c.key.ok_or_else(|| invalid(format!("{at}.key"), "is missing"))?;
        let secret = c.secret.ok_or_else(|| invalid(format!("{at}.secret"), "is missing"))?;
        if key.expose_secret().is_empty() || secret.expose_secret().is_empty() {
            return Err(invalid(at, "key and secret must not be empty"));
        }
        clients.insert(
            c.api_client_id.clone(),
            Client {
                name: c.name.unwrap_or_else(|| format!("Client {}", c.api_client_id)),
                api_client_id: c.api_client_id,
                key,
                secret,
                invoice_create: c.invoice_create.unwrap_or(true),
            },
        );
    }

    let mut services = BTreeMap::new();
    for s in doc.services {
        let at = format!("services[{:?}]", s.service_id);
        identifier(&s.service_id, &format!("{at}.service_id"))?;
        let api_client_id = s.api_client_id.ok_or_else(|| invalid(format!("{at}.api_client_id"), "is missing"))?;
        if !clients.contains_key(&api_client_id) {
            return Err(invalid(format!("{at}.api_client_id"), format!("{api_client_id:?} is not a client")));
        }
        let currency_text = s.currency.unwrap_or_else(|| "KES".into());
        let currency = Currency::parse(&currency_text).ok_or_else(|| {
            invalid(
                format!("{at}.currency"),
                format!("{currency_text:?} is not one of {}", amount::CURRENCIES.join(", ")),
            )
        })?;
        let commission = commission(s.commission.unwrap_or_default(), &format!("{at}.commission"))?;
        for (field, url) in [("ussd_validation_url", &s.ussd_validation_url), ("notification_url", &s.notification_url)]
        {
            if let Some(url) = url {
                match url::Url::parse(url) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => {}
                    _ => return Err(invalid(format!("{at}.{field}"), format!("{url:?} is not an http(s) URL"))),
                }
            }
        }
        services.insert(
            s.service_id.clone(),
            Service {
                name: s.name.unwrap_or_else(|| format!("Service {}", s.service_id)),
                ussd_service_code: s.ussd_service_code.unwrap_or_else(|| s.service_id.clone()),
                service_id: s.service_id,
                api_client_id,
                currency,
                commission,
                ussd_validation_url: s.ussd_validation_url,
                notification_url: s.notification_url,
            },
        );
    }

    let only = |encoding: HashEncoding, accepted: &'static [HashEncoding]| HashSettings { accepted, emitted: encoding };
    let hash = match doc.hash_encoding.unwrap_or(HashEncodingDoc::B64hex) {
        HashEncodingDoc::B64hex => only(HashEncoding::Base64OfHex, &[HashEncoding::Base64OfHex]),
        HashEncodingDoc::Hex => only(HashEncoding::Hex, &[HashEncoding::Hex]),
        HashEncodingDoc::B64raw => only(HashEncoding::Base64OfRaw, &[HashEncoding::Base64OfRaw]),
        HashEncodingDoc::B64rawLowercase => {
            only(HashEncoding::LowercaseBase64OfRaw, &[HashEncoding::LowercaseBase64OfRaw])
        }
        // Any encoding is accepted; the sandbox signs with the live one.
        HashEncodingDoc::Any => only(HashEncoding::Base64OfHex, &HashEncoding::ALL),
    };

    let invoice_number_length = doc.invoice_number_length.unwrap_or(6);
    if !(6..=8).contains(&invoice_number_length) {
        return Err(invalid("invoice_number_length", format!("{invoice_number_length} must be from 6 to 8")));
    }
    let token_ttl_secs = doc.token_ttl_secs.unwrap_or(3599);
    if !(1..=86_400).contains(&token_ttl_secs) {
        return Err(invalid("token_ttl_secs", format!("{token_ttl_secs} must be from 1 to 86400")));
    }

    let prompt_answer_delay_ms = doc.prompt_answer_delay_ms.unwrap_or(1000);
    if prompt_answer_delay_ms > MAX_DELAY_MS {
        return Err(invalid(
            "prompt_answer_delay_ms",
            format!("{prompt_answer_delay_ms} must be from 0 to {MAX_DELAY_MS}"),
        ));
    }
    let prompt_timeout_secs = doc.prompt_timeout_secs.unwrap_or(60);
    if !(1..=86_400).contains(&prompt_timeout_secs) {
        return Err(invalid("prompt_timeout_secs", format!("{prompt_timeout_secs} must be from 1 to 86400")));
    }

    let n = doc.notification.unwrap_or_default();
    let payment_channel = n.payment_channel.unwrap_or_else(|| "MPESA".into());
    if payment_channel.trim().is_empty() || payment_channel.len() > 32 {
        return Err(invalid("notification.payment_channel", "must be 1 to 32 characters"));
    }
    let notification = NotificationFormat {
        signature_field: n.signature_field.unwrap_or(SignatureField::SecureHash),
        signature_recipe: n.signature_recipe.unwrap_or(SignatureRecipe::Seed),
        amounts: n.amounts.unwrap_or(NotificationAmounts::AsPaid),
        status_words: n.status_words.unwrap_or(StatusWords::Lowercase),
        payment_date: n.payment_date.unwrap_or(PaymentDateFormat::Eat),
        inserted_at: n.inserted_at.unwrap_or(InsertedAt::ThreeHoursBehind),
        content_type: n.content_type.unwrap_or(NotificationBody::Json),
        payment_reference: n.payment_reference.unwrap_or(PaymentReferenceShape::List),
        notify_on: n.notify_on.unwrap_or(NotifyOn::EveryPayment),
        payment_channel,
    };

    let p = doc.paths.unwrap_or_default();
    let paths = Paths {
        documented_checkout: p.documented_checkout.unwrap_or(true),
        white_label_checkout: p.white_label_checkout.unwrap_or(true),
        unprefixed_status: p.unprefixed_status.unwrap_or(true),
    };

    let mut maintenance = Vec::new();
    for (i, m) in doc.maintenance.unwrap_or_default().into_iter().enumerate() {
        let at = format!("maintenance[{i}]");
        let time = |text: &str, field: &str| {
            DateTime::parse_from_rfc3339(text)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| invalid(format!("{at}.{field}"), format!("{text:?} is not an RFC 3339 time")))
        };
        let from = time(&m.from, "from")?;
        let until = time(&m.until, "until")?;
        if until <= from {
            return Err(invalid(at, "until must be after from"));
        }
        let answer = match m.status.unwrap_or(502) {
            502 => Maintenance::BadGateway,
            503 => Maintenance::Unavailable,
            other => return Err(invalid(format!("{at}.status"), format!("{other} must be 502 or 503"))),
        };
        maintenance.push(MaintenanceWindow { from, until, answer });
    }

    Ok(World {
        clients,
        services,
        hash,
        field_names: match doc.field_names.unwrap_or(FieldNamesDoc::Lenient) {
            FieldNamesDoc::Lenient => FieldNames::Lenient,
            FieldNamesDoc::Strict => FieldNames::Strict,
        },
        status_ref_no: doc.status_ref_no.unwrap_or(StatusRefNo::InvoiceNumberOrClientRef),
        invoice_number_length: usize::try_from(invoice_number_length).unwrap_or(6),
        token_ttl_secs,
        overpayment: doc.overpayment.unwrap_or(Overpayment::Accept),
        prompt_answer_delay_ms,
        prompt_timeout_secs,
        notification,
        paths,
        maintenance,
    })
}

/// Client and service ids are hashed and routed on: 1 to 64 visible characters.
fn identifier(id: &str, field: &str) -> Result<(), WorldError> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(field, format!("{id:?} must be 1 to 64 visible ASCII characters")));
    }
    Ok(())
}

fn commission(doc: CommissionDoc, at: &str) -> Result<Commission, WorldError> {
    let money = |value: Option<f64>, field: &str| -> Result<Option<Money>, WorldError> {
        match value {
            None => Ok(None),
            Some(v) if v.is_finite() && (0.0..=MAX_AMOUNT.as_f64()).contains(&v) => Ok(Some(Money::from_decimal(v))),
            Some(v) => Err(invalid(format!("{at}.{field}"), format!("{v} must be an amount from 0 to 99999999.99"))),
        }
    };
    let basis_points = match doc.percent {
        None => 0,
        Some(p) if p.is_finite() && (0.0..=100.0).contains(&p) => (p * 100.0).round() as u32,
        Some(p) => return Err(invalid(format!("{at}.percent"), format!("{p} must be from 0 to 100"))),
    };
    let commission = Commission {
        flat: money(doc.flat, "flat")?.unwrap_or_default(),
        basis_points,
        min: money(doc.min, "min")?,
        max: money(doc.max, "max")?,
    };
    if let (Some(min), Some(max)) = (commission.min, commission.max) {
        if min > max {
            return Err(invalid(at, "min is greater than max"));
        }
    }
    Ok(commission)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> WorldDoc {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn the_default_table_loads_with_live_defaults() {
        let world = World::default_world();
        let client = world.client("1").unwrap();
        assert_eq!(client.hash_key().key, "PesaflowSandboxKey");
        assert!(!world.client("2").unwrap().invoice_create);
        let search = world.service("1001").unwrap();
        assert_eq!(search.currency, Currency::KES);
        assert_eq!(search.commission.on(Money(10000)), Money(500), "5.00 on 100.00, as the test server adds");
        assert_eq!(world.services_of("1").count(), 2);
        assert_eq!(world.hash.accepted, &[HashEncoding::Base64OfHex]);
        assert_eq!(world.field_names, FieldNames::Lenient);
        assert_eq!(world.invoice_number_length, 6);
        assert_eq!(world.token_ttl_secs, 3599);
        assert_eq!(world.notification.signature_recipe, SignatureRecipe::Seed);
        assert_eq!(world.notification.payment_channel, "MPESA");
        assert!(world.maintenance.is_empty());
        assert!(world.serves_checkout(CheckoutPath::Documented));
        assert_eq!(world.client_by_key("PesaflowCountyKey").map(|c| c.api_client_id.as_str()), Some("2"));
        assert_eq!(world.service_by_ussd_code("1002").map(|s| s.name.as_str()), Some("Land Rates"));
    }

    #[test]
    fn an_overlay_merges_by_id_field_by_field() {
        let overlay = doc(r#"
            hash_encoding = "any"
            [notification]
            signature_field = "both"
            [[clients]]
            api_client_id = "1"
            secret = "new-secret"
            [[clients]]
            api_client_id = "588"
            key = "k"
            secret = "s"
            [[services]]
            service_id = "1001"
            commission = { percent = 2.5 }
            [[services]]
            service_id = "235330"
            api_client_id = "588"
            currency = "USD"
            "#);
        let world = World::from_overlays(&[overlay]).unwrap();
        assert_eq!(world.client("1").unwrap().hash_key().key, "PesaflowSandboxKey", "untouched fields are kept");
        assert_eq!(world.client("1").unwrap().hash_key().secret, "new-secret");
        assert_eq!(world.service("1001").unwrap().name, "Business Name Search");
        assert_eq!(world.service("1001").unwrap().commission.on(Money(10000)), Money(250));
        assert_eq!(world.service("235330").unwrap().currency.as_str(), "USD");
        assert_eq!(world.hash.accepted.len(), 4);
        assert_eq!(world.notification.signature_field, SignatureField::Both);
        assert_eq!(world.notification.amounts, NotificationAmounts::AsPaid, "untouched switches keep their defaults");
    }

    #[test]
    fn bad_tables_are_refused_naming_the_field() {
        let cases = [
            ("colour = 1", "unknown field `colour`"),
            ("invoice_number_length = 12", "pesaflow.invoice_number_length: 12 must be from 6 to 8"),
            ("token_ttl_secs = 0", "pesaflow.token_ttl_secs: 0 must be from 1 to 86400"),
            ("[[clients]]\napi_client_id = \"9\"\nkey = \"k\"", "pesaflow.clients[\"9\"].secret: is missing"),
            (
                "[[services]]\nservice_id = \"9\"\napi_client_id = \"77\"",
                "pesaflow.services[\"9\"].api_client_id: \"77\" is not a client",
            ),
            (
                "[[services]]\nservice_id = \"1001\"\ncurrency = \"kes\"",
                "pesaflow.services[\"1001\"].currency: \"kes\"",
            ),
            (
                "[[services]]\nservice_id = \"1001\"\ncommission = { percent = 120.0 }",
                "pesaflow.services[\"1001\"].commission.percent: 120 must be from 0 to 100",
            ),
            (
                "[[services]]\nservice_id = \"1001\"\ncommission = { flat = -1.0 }",
                "pesaflow.services[\"1001\"].commission.flat",
            ),
            (
                "[[maintenance]]\nfrom = \"2026-01-01T00:00:00Z\"\nuntil = \"2026-01-01T01:00:00Z\"\nstatus = 500",
                "pesaflow.maintenance[0].status: 500 must be 502 or 503",
            ),
            (
                "[[maintenance]]\nfrom = \"yesterday\"\nuntil = \"2026-01-01T01:00:00Z\"",
                "pesaflow.maintenance[0].from: \"yesterday\" is not an RFC 3339 time",
            ),
        ];
        for (text, expected) in cases {
            let message = match toml::from_str::<WorldDoc>(text) {
                Err(e) => e.to_string(),
                Ok(overlay) => World::from_overlays(&[overlay]).unwrap_err().to_string(),
            };
            assert!(message.contains(expected), "{text:?}: {message}");
        }
    }

    #[test]
    fn maintenance_windows_answer_while_open() {
        let overlay = doc(r#"
            [[maintenance]]
            from = "2026-01-01T00:00:00Z"
            until = "2026-01-01T00:30:00Z"
            [[maintenance]]
            from = "2026-01-02T00:00:00+03:00"
            until = "2026-01-02T01:00:00+03:00"
            status = 503
            "#);
        let world = World::from_overlays(&[overlay]).unwrap();
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(world.maintenance_at(at("2026-01-01T00:10:00Z")), Some(Maintenance::BadGateway));
        assert_eq!(world.maintenance_at(at("2026-01-01T00:30:00Z")), None, "until is exclusive");
        assert_eq!(world.maintenance_at(at("2026-01-01T21:30:00Z")), Some(Maintenance::Unavailable));
    }

    #[test]
    fn commissions_round_half_up_and_clamp() {
        let world = World::default_world();
        let parking = world.service("2001").unwrap().commission;
        assert_eq!(parking.on(Money(100)), Money(1000), "1.5% of 1.00 is below the 10.00 minimum");
        assert_eq!(parking.on(Money(100_000)), Money(1500), "1.5% of 1000.00");
        assert_eq!(parking.on(Money(10_000_000)), Money(10_000), "capped at 100.00");
        let half = Commission { basis_points: 150, ..Commission::default() };
        assert_eq!(half.on(Money(100)), Money(2), "1.5 cents rounds up");
        assert_eq!(Commission { basis_points: 10_000, ..Commission::default() }.on(MAX_AMOUNT), MAX_AMOUNT);
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let debug = format!("{:?}", World::default_world());
        assert!(!debug.contains("PesaflowSandboxKey") && !debug.contains("PesaflowSandboxSecret"), "{debug}");
    }
}
