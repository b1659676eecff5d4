//! The world: what a tenant starts with.
//!
//! A world is described by a TOML document (a stable surface: unknown keys
//! are rejected, errors name the line and the field). The document is
//! composed by the provider registry (`crate::providers::WorldDoc`): this
//! module owns its common part (the subscribers of every market, callback
//! signing, rate limits) and the helpers every provider's part uses (merging
//! entries by key, reading amounts, refusing out-of-range numbers).
//! The embedded default world works with zero configuration; a world file
//! merges over it entry by entry, or replaces it with `replace_default = true`.

// Time, money and counts from outside: every computation here saturates or
// is checked, and the lint keeps it so.
#![warn(clippy::arithmetic_side_effects)]

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::Deserialize;

pub(crate) use crate::providers::{World, WorldDoc};

use crate::ledger::Money;
use crate::markets::Market;
use crate::scenarios::doc::RateLimitDoc;
use crate::scenarios::{RateLimit, ScenarioError};

/// The embedded default world's common part.
pub(crate) const COMMON_DEFAULT_TOML: &str = include_str!("default.toml");

/// The world document format version this build reads.
pub(crate) const WORLD_VERSION: u32 = 1;

/// The largest balance or amount a world may give, in major units: far above
/// any real wallet, far below where cents overflow an `i64`.
pub(crate) const MAX_AMOUNT: f64 = 1e13;

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
pub struct CustomerDoc {
    /// International form without `+`, of any known market (`254708374149`, `258843330333`).
    pub msisdn: String,
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    /// Opening balance, in the market's currency.
    pub balance: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerDefaultsDoc {
    pub balance: Option<f64>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// The common tables of a world document.
#[derive(Debug, Clone, Default)]
pub struct CommonDoc {
    pub customers: Vec<CustomerDoc>,
    pub customer_defaults: Option<CustomerDefaultsDoc>,
    pub callbacks: Option<CallbackSettingsDoc>,
    pub rate_limits: Vec<RateLimitDoc>,
}

impl CommonDoc {
    /// Merges an overlay over this document: customers by MSISDN, settings field by field.
    pub fn merge(&mut self, overlay: CommonDoc) {
        upsert(&mut self.customers, overlay.customers, |c| c.msisdn.clone());
        if let Some(defaults) = overlay.customer_defaults {
            let base = self.customer_defaults.get_or_insert_with(CustomerDefaultsDoc::default);
            base.balance = defaults.balance.or(base.balance);
            base.first_name = defaults.first_name.or(base.first_name.take());
            base.last_name = defaults.last_name.or(base.last_name.take());
        }
        if let Some(c) = overlay.callbacks {
            let base = self.callbacks.get_or_insert_with(CallbackSettingsDoc::default);
            base.signing = c.signing.or(base.signing);
            base.signing_secret = c.signing_secret.or(base.signing_secret.take());
        }
        if !overlay.rate_limits.is_empty() {
            self.rate_limits = overlay.rate_limits;
        }
    }
}

/// Why a world document was refused.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    /// TOML syntax, an unknown key or a wrong type; the message names line, column and key.
    #[error("{origin}: {message}")]
    Syntax { origin: String, message: String },
    /// The document parsed but its content is inconsistent or out of range.
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
}

impl WorldError {
    pub fn invalid(origin: &str, message: impl Into<String>) -> WorldError {
        WorldError::Invalid { origin: origin.to_owned(), message: message.into() }
    }
}

// ---------------------------------------------------------------------------
// The resolved common part.

#[derive(Debug, Clone)]
pub struct Customer {
    pub msisdn: String,
    pub market: Market,
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

#[derive(Debug, Clone, Default)]
pub struct CallbackSettings {
    pub signing: bool,
    pub signing_secret: Option<SecretString>,
}

/// What every provider of a tenant shares.
#[derive(Debug, Clone)]
pub struct Common {
    pub callbacks: CallbackSettings,
    pub rate_limits: Vec<RateLimit>,
    pub customers: BTreeMap<String, Customer>,
    pub customer_defaults: CustomerDefaults,
}

impl Common {
    pub fn resolve(doc: CommonDoc, origin: &str) -> Result<Common, WorldError> {
        let mut customers = BTreeMap::new();
        for c in doc.customers {
            let Some(market) = Market::of_msisdn(&c.msisdn) else {
                return Err(WorldError::invalid(
                    origin,
                    format!(
                        "customers: msisdn {:?} is not a subscriber number of a known market (e.g. {} or {})",
                        c.msisdn.chars().take(40).collect::<String>(),
                        Market::Kenya.example(),
                        Market::Mozambique.example()
                    ),
                ));
            };
            let what = format!("customers.{}.balance", c.msisdn);
            customers.insert(
                c.msisdn.clone(),
                Customer {
                    opening_balance: amount(c.balance, &what, origin)?,
                    market,
                    msisdn: c.msisdn,
                    first_name: c.first_name.unwrap_or_default(),
                    middle_name: c.middle_name.unwrap_or_default(),
                    last_name: c.last_name.unwrap_or_default(),
                },
            );
        }
        let defaults = doc.customer_defaults.unwrap_or_default();
        let customer_defaults = CustomerDefaults {
            balance: amount(defaults.balance, "customer_defaults.balance", origin)?,
            first_name: defaults.first_name.unwrap_or_default(),
            last_name: defaults.last_name.unwrap_or_default(),
        };
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
            .map_err(|e| WorldError::invalid(origin, e.message))?;
        Ok(Common { callbacks, rate_limits, customers, customer_defaults })
    }

    /// A subscriber's display names (first, middle, last): the world's, or the defaults.
    pub fn customer_names(&self, msisdn: &str) -> (String, String, String) {
        let (first, middle, last) = self.customer_names_ref(msisdn);
        (first.to_owned(), middle.to_owned(), last.to_owned())
    }

    /// [`Common::customer_names`], borrowed.
    pub(crate) fn customer_names_ref(&self, msisdn: &str) -> (&str, &str, &str) {
        match self.customers.get(msisdn) {
            Some(c) => (&c.first_name, &c.middle_name, &c.last_name),
            None => {
                let d = &self.customer_defaults;
                (&d.first_name, "", &d.last_name)
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Helpers for every provider's part.

/// Replaces entries with the same key, appends new ones, keeps the order.
pub(crate) fn upsert<T>(base: &mut Vec<T>, overlay: Vec<T>, key: impl Fn(&T) -> String) {
    for item in overlay {
        match base.iter().position(|b| key(b) == key(&item)) {
            Some(i) => base[i] = item,
            None => base.push(item),
        }
    }
}

/// A decimal amount from a world document (a balance, a charge), in cents:
/// absent is zero; negative, not a number or beyond [`MAX_AMOUNT`] is refused.
pub(crate) fn amount(value: Option<f64>, what: &str, origin: &str) -> Result<Money, WorldError> {
    match value {
        None => Ok(Money(0)),
        Some(a) if (0.0..=MAX_AMOUNT).contains(&a) => Ok(Money::from_decimal(a)),
        Some(a) => Err(WorldError::invalid(origin, format!("{what}: {a} must be an amount from 0 to {MAX_AMOUNT}"))),
    }
}

/// A number from a world document that must lie in `range`: the error names
/// the field and the allowed range.
pub(crate) fn bounded<T>(
    value: Option<T>,
    default: T,
    range: std::ops::RangeInclusive<T>,
    what: &str,
    origin: &str,
) -> Result<T, WorldError>
where
    T: PartialOrd + Copy + std::fmt::Display,
{
    let value = value.unwrap_or(default);
    if range.contains(&value) {
        return Ok(value);
    }
    Err(WorldError::invalid(
        origin,
        format!("{what} = {value} is out of range: it must be from {} to {}", range.start(), range.end()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customers_of_any_market_resolve_with_their_market() {
        let doc = CommonDoc {
            customers: vec![
                CustomerDoc {
                    msisdn: "258843330333".into(),
                    first_name: None,
                    middle_name: None,
                    last_name: None,
                    balance: Some(10.5),
                },
                CustomerDoc {
                    msisdn: "254708374149".into(),
                    first_name: None,
                    middle_name: None,
                    last_name: None,
                    balance: None,
                },
            ],
            ..CommonDoc::default()
        };
        let common = Common::resolve(doc, "w.toml").unwrap();
        assert_eq!(common.customers["258843330333"].market, Market::Mozambique);
        assert_eq!(common.customers["258843330333"].opening_balance, Money(1050));
        assert_eq!(common.customers["254708374149"].market, Market::Kenya);
    }

    #[test]
    fn a_number_out_of_range_names_the_field_and_the_range() {
        let err = bounded(Some(u64::MAX), 1, 1..=86_400, "daraja.token_ttl_secs", "w.toml").unwrap_err().to_string();
        assert!(err.contains("daraja.token_ttl_secs") && err.contains("from 1 to 86400"), "{err}");
        let err = amount(Some(-1.0), "customers.x.balance", "w.toml").unwrap_err().to_string();
        assert!(err.contains("customers.x.balance"), "{err}");
        assert!(amount(Some(f64::NAN), "b", "w").is_err());
        assert!(amount(Some(1e300), "b", "w").is_err());
    }
}
