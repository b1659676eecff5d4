//! The scenario file format (TOML, version 1): a stable surface.
//!
//! Every table rejects unknown keys, so a typo is an error with its line,
//! not a silently ignored rule.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScenarioDoc {
    pub version: Option<u32>,
    pub name: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub rules: Vec<RuleDoc>,
    #[serde(default)]
    pub rate_limits: Vec<RateLimitDoc>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleDoc {
    pub name: Option<String>,
    #[serde(default)]
    pub when: WhenDoc,
    pub outcome: Option<OutcomeDoc>,
    pub fault: Option<FaultDoc>,
    pub callback: Option<CallbackDoc>,
    /// Payload variants by key; each provider declares its keys and values.
    #[serde(default)]
    pub variants: BTreeMap<String, Spanned<VariantValue>>,
}

/// A variant's value: a word (`"number"`) or a switch (`false`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum VariantValue {
    Switch(bool),
    Word(String),
}

impl VariantValue {
    pub(crate) fn as_text(&self) -> String {
        match self {
            VariantValue::Switch(b) => b.to_string(),
            VariantValue::Word(w) => w.clone(),
        }
    }
}

/// One value or a list of values; a list matches any of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub(crate) fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// An exact amount, or a range (inclusive), in the provider's currency unit.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum AmountDoc {
    Exact(f64),
    Range {
        #[serde(default)]
        min: Option<f64>,
        #[serde(default)]
        max: Option<f64>,
    },
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WhenDoc {
    pub provider: Option<Spanned<String>>,
    pub operation: Option<Spanned<OneOrMany>>,
    pub msisdn: Option<OneOrMany>,
    pub amount: Option<AmountDoc>,
    pub shortcode: Option<OneOrMany>,
    pub account_reference: Option<OneOrMany>,
    pub initiator: Option<OneOrMany>,
    /// Any request field by its wire name, compared as text.
    #[serde(default)]
    pub fields: BTreeMap<String, OneOrMany>,
}

/// A number or a string result code (`1032`, `"R000002"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum ResultCodeDoc {
    Number(u32),
    Text(String),
}

/// A fixed delay or a uniform range, in milliseconds.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
pub(crate) enum DelayDoc {
    Fixed(u64),
    Range { min: u64, max: u64 },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutcomeDoc {
    pub result_code: ResultCodeDoc,
    pub result_desc: Option<String>,
    /// When the answer arrives; the world's answer delay by default.
    pub after_ms: Option<Spanned<DelayDoc>>,
    /// The answer arrives after the world's prompt timeout (nobody answered).
    #[serde(default)]
    pub timeout: bool,
    /// Stay pending until answered through the admin API or the prompt times out.
    #[serde(default)]
    pub await_customer: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FaultDoc {
    /// A named error of the provider (`spike_arrest`, `system_busy`,
    /// `quota_violation`, `internal_error`), a raw error code, or a named
    /// fault the rule's provider declares (Pesaflow's `maintenance_502`,
    /// eCitizen's OAuth codes).
    pub error: Option<Spanned<String>>,
    /// Overrides the error message (with a raw `error` code).
    pub error_message: Option<String>,
    /// Overrides the HTTP status.
    pub status: Option<Spanned<u16>>,
    /// Waits this long (real time) before answering.
    pub delay_ms: Option<Spanned<u64>>,
    /// Drops the connection instead of answering: `reset` or `empty`.
    pub connection: Option<Spanned<String>>,
    /// Answers with this raw body instead of an envelope.
    pub body: Option<String>,
    pub content_type: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CallbackDoc {
    /// Extra delay after the transaction settles.
    pub delay_ms: Option<Spanned<DelayDoc>>,
    /// Extra copies of the same callback.
    pub duplicates: Option<Spanned<u64>>,
    pub duplicate_spacing_ms: Option<Spanned<u64>>,
    /// Never send it.
    #[serde(default)]
    pub drop: bool,
    /// Hold it until a later transaction's callback has been sent.
    #[serde(default)]
    pub out_of_order: bool,
    /// The longest an out-of-order callback is held (default 60000).
    pub hold_max_ms: Option<Spanned<u64>>,
    /// Retry a failed delivery after each of these delays.
    pub retry_ms: Option<Spanned<Vec<u64>>>,
    /// Notify `QueueTimeOutURL` first; the result follows after `delay_ms` (5 s by default).
    #[serde(default)]
    pub queue_timeout_first: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitDoc {
    pub provider: Option<Spanned<String>>,
    /// An operation, or `"*"` for every operation (each with its own bucket).
    pub operation: Option<Spanned<String>>,
    pub capacity: Spanned<u64>,
    /// Tokens added per period (1 by default).
    pub refill: Option<Spanned<u64>>,
    pub period_ms: Spanned<u64>,
    /// Tokens at start; the capacity by default.
    pub initial: Option<Spanned<u64>>,
    /// `spike_arrest` (default) or `quota_violation`.
    pub error: Option<Spanned<String>>,
}
