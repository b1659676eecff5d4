//! Resolved scenarios: validated rules, and the decision a request gets.
//!
//! **Invariant:** [`ScenarioSet::decide`] is total: any request facts get a
//! decision or `None` (the provider's default), never a panic.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::doc::{
    AmountDoc, CallbackDoc, DelayDoc, FaultDoc, OutcomeDoc, RateLimitDoc, ResultCodeDoc, RuleDoc, ScenarioDoc,
    VariantValue, WhenDoc,
};
use crate::fields::Fields;
use crate::ledger::Money;
use crate::providers::ProviderId;

/// The document version this build reads.
pub(crate) const SCENARIO_VERSION: u32 = 1;

/// The longest delay a scenario may script: a day, in milliseconds.
pub(crate) const MAX_DELAY_MS: u64 = 86_400_000;

/// The most duplicates or retries a scenario may script for one callback.
pub(crate) const MAX_COPIES: u64 = 100;

/// Every provider's name with the operations it reports to the scenario engine.
pub(crate) fn operations() -> impl Iterator<Item = (&'static str, &'static [&'static str])> {
    ProviderId::ALL.into_iter().map(|p| (p.name(), p.operations()))
}

/// Why a scenario document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct ScenarioError {
    pub origin: String,
    pub message: String,
}

/// What a request looks like to the scenario engine.
#[derive(Debug, Clone, Default)]
pub struct Facts<'a> {
    pub provider: &'static str,
    pub operation: &'static str,
    /// The raw request body, for `fields` matchers.
    pub(crate) body: Option<&'a dyn Fields>,
    pub msisdn: Option<Cow<'a, str>>,
    pub amount: Option<Money>,
    pub shortcode: Option<Cow<'a, str>>,
    pub account_reference: Option<Cow<'a, str>>,
    pub initiator: Option<Cow<'a, str>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ResultCode {
    Number(u32),
    Text(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Delay {
    Fixed(u64),
    Range { min: u64, max: u64 },
}

impl Delay {
    /// Draws a delay in milliseconds; `between` is the tenant's seeded uniform sampler.
    pub fn sample(self, between: impl FnOnce(u64, u64) -> u64) -> u64 {
        match self {
            Delay::Fixed(ms) => ms,
            Delay::Range { min, max } => between(min, max),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub result_code: ResultCode,
    pub result_desc: Option<String>,
    pub after_ms: Option<Delay>,
    pub timeout: bool,
    pub await_customer: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionFault {
    /// The connection is reset (TCP RST) without an answer.
    Reset,
    /// The connection is closed without an answer.
    Empty,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fault {
    /// A named provider error or a raw error code.
    pub error: Option<String>,
    pub error_message: Option<String>,
    pub status: Option<u16>,
    pub delay_ms: Option<u64>,
    pub connection: Option<ConnectionFault>,
    pub body: Option<String>,
    pub content_type: Option<String>,
}

impl Fault {
    /// Whether the fault replaces the answer (rather than only delaying it).
    pub fn replaces_answer(&self) -> bool {
        self.error.is_some() || self.connection.is_some() || self.body.is_some() || self.status.is_some()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CallbackScript {
    pub delay_ms: Option<Delay>,
    pub duplicates: u32,
    pub duplicate_spacing_ms: u64,
    pub drop: bool,
    pub out_of_order: bool,
    pub hold_max_ms: u64,
    pub retry_ms: Vec<u64>,
    pub queue_timeout_first: bool,
}

/// The payload variants a rule asks for, by key: validated against the
/// keys and values the providers declare, read by the provider that owns
/// the key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Variants(BTreeMap<String, String>);

impl Variants {
    /// The value of a word variant (`expires_in = "number"`).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// The value of a switch (`balance_item = false`).
    pub fn flag(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(|v| v.parse().ok())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Matcher {
    pub provider: Option<String>,
    pub operations: Vec<String>,
    pub msisdn: Vec<String>,
    pub amount_min: Option<f64>,
    pub amount_max: Option<f64>,
    pub shortcode: Vec<String>,
    pub account_reference: Vec<String>,
    pub initiator: Vec<String>,
    pub fields: BTreeMap<String, Vec<String>>,
}

impl Matcher {
    pub fn matches(&self, facts: &Facts<'_>) -> bool {
        self.fits(facts.provider, facts.operation) && self.matches_fitting(facts)
    }

    /// Whether the rule can apply to this provider's operation at all.
    pub(crate) fn fits(&self, provider: &str, operation: &str) -> bool {
        self.provider.as_deref().is_none_or(|p| p == provider)
            && (self.operations.is_empty() || self.operations.iter().any(|o| o == operation))
    }

    /// [`Matcher::matches`] for a rule already known to [fit](Matcher::fits)
    /// the request's provider and operation.
    pub(crate) fn matches_fitting(&self, facts: &Facts<'_>) -> bool {
        let any = |wanted: &[String], got: &Option<Cow<'_, str>>| {
            wanted.is_empty() || got.as_deref().is_some_and(|g| wanted.iter().any(|w| w == g))
        };
        let amount_ok = || match (self.amount_min, self.amount_max) {
            (None, None) => true,
            (min, max) => facts.amount.is_some_and(|a| {
                let a = a.as_f64();
                min.is_none_or(|m| a >= m) && max.is_none_or(|m| a <= m)
            }),
        };
        // Body fields are read last, and only for a rule whose other
        // conditions hold: every request is matched against every rule of
        // every provider's default scenario, and most fail on the provider.
        let fields_ok = || {
            self.fields.iter().all(|(name, wanted)| {
                let got = facts.body.and_then(|b| b.text_ref(name));
                any(wanted, &got)
            })
        };
        any(&self.msisdn, &facts.msisdn)
            && amount_ok()
            && any(&self.shortcode, &facts.shortcode)
            && any(&self.account_reference, &facts.account_reference)
            && any(&self.initiator, &facts.initiator)
            && fields_ok()
    }
}

/// What the first matching rule says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// `scenario#rule` that decided, for journals and transactions.
    pub rule: String,
    pub outcome: Option<Outcome>,
    pub fault: Option<Fault>,
    pub callback: CallbackScript,
    pub variants: Variants,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    pub when: Matcher,
    #[serde(flatten)]
    pub decision: Decision,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitError {
    SpikeArrest,
    QuotaViolation,
}

/// A token bucket: `capacity` tokens, `refill` more every `period_ms`,
/// `initial` at start; a request takes one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RateLimit {
    pub provider: Option<String>,
    /// `None` means every operation, each with its own bucket.
    pub operation: Option<String>,
    pub capacity: u64,
    pub refill: u64,
    pub period_ms: u64,
    pub initial: u64,
    pub error: LimitError,
}

impl RateLimit {
    pub fn applies_to(&self, provider: &str, operation: &str) -> bool {
        self.provider.as_deref().is_none_or(|p| p == provider)
            && self.operation.as_deref().is_none_or(|o| o == operation)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    pub name: String,
    pub description: Option<String>,
    pub origin: String,
    pub rules: Vec<Rule>,
    pub rate_limits: Vec<RateLimit>,
}

impl Scenario {
    /// Parses and validates a scenario document.
    pub fn parse(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
        let err = |message: String| ScenarioError { origin: origin.to_owned(), message };
        let doc: ScenarioDoc = toml::from_str(text).map_err(|e| err(e.to_string().trim_end().to_owned()))?;
        match doc.version {
            None | Some(SCENARIO_VERSION) => {}
            Some(v) => {
                return Err(err(format!("version {v} is not supported; this build reads version {SCENARIO_VERSION}")))
            }
        }
        let name = doc.name.clone().unwrap_or_else(|| default_name(origin));
        let at =
            |span: std::ops::Range<usize>, message: String| err(format!("{} {message}", line_of(text, span.start)));
        let mut rules = Vec::with_capacity(doc.rules.len());
        for (idx, rule) in doc.rules.into_iter().enumerate() {
            rules.push(resolve_rule(rule, &name, idx, &at)?);
        }
        let rate_limits =
            doc.rate_limits.into_iter().map(|l| resolve_rate_limit(l, &at)).collect::<Result<Vec<_>, _>>()?;
        Ok(Scenario { name, description: doc.description, origin: origin.to_owned(), rules, rate_limits })
    }
}

/// The rules a tenant evaluates, in order: loaded scenarios first, then the
/// built-in default scenario.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScenarioSet {
    pub scenarios: Vec<Arc<Scenario>>,
}

impl ScenarioSet {
    pub fn decide(&self, facts: &Facts<'_>) -> Option<&Decision> {
        self.scenarios.iter().flat_map(|s| s.rules.iter()).find(|r| r.when.matches(facts)).map(|r| &r.decision)
    }

    pub fn rate_limits(&self) -> impl Iterator<Item = &RateLimit> {
        self.scenarios.iter().flat_map(|s| s.rate_limits.iter())
    }
}

// ---------------------------------------------------------------------------
// Resolution of documents into rules.

pub(crate) type At<'a> = dyn Fn(std::ops::Range<usize>, String) -> ScenarioError + 'a;

fn resolve_rule(rule: RuleDoc, scenario: &str, idx: usize, at: &At<'_>) -> Result<Rule, ScenarioError> {
    let label = match &rule.name {
        Some(n) => format!("{scenario}#{n}"),
        None => format!("{scenario}#{}", idx.saturating_add(1)),
    };
    let when = resolve_when(rule.when, at)?;
    let outcome = rule.outcome.map(|o| resolve_outcome(o, at)).transpose()?;
    let fault = rule.fault.map(|f| resolve_fault(f, when.provider.as_deref(), at)).transpose()?;
    let callback = resolve_callback(rule.callback.unwrap_or_default(), at)?;
    let variants = resolve_variants(rule.variants, when.provider.as_deref(), at)?;
    Ok(Rule { when, decision: Decision { rule: label, outcome, fault, callback, variants } })
}

fn resolve_when(when: WhenDoc, at: &At<'_>) -> Result<Matcher, ScenarioError> {
    let provider = match when.provider {
        Some(p) => {
            let span = p.span();
            let p = p.into_inner();
            if ProviderId::parse(&p).is_none() {
                let known: Vec<&str> = operations().map(|(n, _)| n).collect();
                return Err(at(span, format!("when.provider {p:?} is not one of {known:?}")));
            }
            Some(p)
        }
        None => None,
    };
    let operations = match when.operation {
        Some(o) => {
            let span = o.span();
            let ops = o.into_inner().into_vec();
            for op in &ops {
                let known = operations()
                    .filter(|(name, _)| provider.as_deref().is_none_or(|p| p == *name))
                    .any(|(_, ops)| ops.contains(&op.as_str()));
                if !known {
                    return Err(at(
                        span.clone(),
                        format!("when.operation {op:?} is not an operation of {}", describe_ops(&provider)),
                    ));
                }
            }
            ops
        }
        None => Vec::new(),
    };
    let (amount_min, amount_max) = match when.amount {
        None => (None, None),
        Some(AmountDoc::Exact(a)) => (Some(a), Some(a)),
        Some(AmountDoc::Range { min, max }) => (min, max),
    };
    let list = |v: Option<super::doc::OneOrMany>| v.map(|v| v.into_vec()).unwrap_or_default();
    Ok(Matcher {
        provider,
        operations,
        msisdn: list(when.msisdn),
        amount_min,
        amount_max,
        shortcode: list(when.shortcode),
        account_reference: list(when.account_reference),
        initiator: list(when.initiator),
        fields: when.fields.into_iter().map(|(k, v)| (k, v.into_vec())).collect(),
    })
}

fn describe_ops(provider: &Option<String>) -> String {
    operations()
        .filter(|(name, _)| provider.as_deref().is_none_or(|p| p == *name))
        .map(|(name, ops)| format!("{name} {ops:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn resolve_outcome(outcome: OutcomeDoc, at: &At<'_>) -> Result<Outcome, ScenarioError> {
    Ok(Outcome {
        result_code: match outcome.result_code {
            ResultCodeDoc::Number(n) => ResultCode::Number(n),
            ResultCodeDoc::Text(t) => match t.parse::<u32>() {
                Ok(n) => ResultCode::Number(n),
                Err(_) => ResultCode::Text(t),
            },
        },
        result_desc: outcome.result_desc,
        after_ms: outcome.after_ms.map(|d| delay(d, "outcome.after_ms", at)).transpose()?,
        timeout: outcome.timeout,
        await_customer: outcome.await_customer,
    })
}

/// A delay within a day; a range is ordered.
fn delay(d: toml::Spanned<DelayDoc>, field: &str, at: &At<'_>) -> Result<Delay, ScenarioError> {
    let span = d.span();
    let (low, high) = match d.into_inner() {
        DelayDoc::Fixed(ms) => (ms, ms),
        DelayDoc::Range { min, max } => (min.min(max), min.max(max)),
    };
    if high > MAX_DELAY_MS {
        return Err(at(span, format!("{field} {high} is out of range: at most {MAX_DELAY_MS} ms (a day)")));
    }
    Ok(if low == high { Delay::Fixed(low) } else { Delay::Range { min: low, max: high } })
}

/// A whole number within `0..=max`, or the field's error naming the range.
fn at_most(
    value: Option<toml::Spanned<u64>>,
    default: u64,
    max: u64,
    field: &str,
    at: &At<'_>,
) -> Result<u64, ScenarioError> {
    match value {
        None => Ok(default),
        Some(v) if *v.get_ref() <= max => Ok(v.into_inner()),
        Some(v) => Err(at(v.span(), format!("{field} {} is out of range: at most {max}", v.get_ref()))),
    }
}

/// Named errors every provider understands.
pub(crate) const NAMED_ERRORS: &[&str] = &["spike_arrest", "system_busy", "quota_violation", "internal_error"];

/// The longest a scripted fault may hold an answer back (real time): ten
/// minutes; the sandbox's request timeout cuts it shorter at run time.
pub(crate) const MAX_FAULT_DELAY_MS: u64 = 600_000;

/// A provider's raw error code: letters, digits, `.`, `-` and `_`, with a
/// `.` or a `-` (`500.003.02`, `INS-2006`, `400.002.02`).
fn is_error_code(code: &str) -> bool {
    (1..=64).contains(&code.len())
        && code.contains(['.', '-'])
        && code.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// The named errors a rule's `fault.error` may choose: the common ones, then
/// the rule's provider's own, or every provider's when the rule names none.
fn named_errors(provider: Option<&str>) -> impl Iterator<Item = &'static str> + '_ {
    NAMED_ERRORS.iter().copied().chain(
        ProviderId::ALL
            .into_iter()
            .filter(move |p| provider.is_none_or(|name| name == p.name()))
            .flat_map(|p| p.faults().iter().copied()),
    )
}

fn resolve_fault(fault: FaultDoc, provider: Option<&str>, at: &At<'_>) -> Result<Fault, ScenarioError> {
    let error = match fault.error {
        Some(e) => {
            let span = e.span();
            let e = e.into_inner();
            if !named_errors(provider).any(|n| n == e) && !is_error_code(&e) {
                let named: Vec<&str> = named_errors(provider).collect();
                return Err(at(
                    span,
                    format!(
                        "fault.error {e:?} is neither one of {named:?} nor a provider's error code like \"500.003.02\" or \"INS-9\""
                    ),
                ));
            }
            Some(e)
        }
        None => None,
    };
    let connection = match fault.connection {
        Some(c) => {
            let span = c.span();
            match c.into_inner().as_str() {
                "reset" => Some(ConnectionFault::Reset),
                "empty" => Some(ConnectionFault::Empty),
                other => {
                    return Err(at(span, format!("fault.connection {other:?} is neither \"reset\" nor \"empty\"")))
                }
            }
        }
        None => None,
    };
    let status = match fault.status {
        Some(s) if !(100..=599).contains(s.get_ref()) => {
            return Err(at(s.span(), format!("fault.status {} is not an HTTP status", s.get_ref())))
        }
        Some(s) => Some(s.into_inner()),
        None => None,
    };
    Ok(Fault {
        error,
        error_message: fault.error_message,
        status,
        delay_ms: fault.delay_ms.map(|d| at_most(Some(d), 0, MAX_FAULT_DELAY_MS, "fault.delay_ms", at)).transpose()?,
        connection,
        body: fault.body,
        content_type: fault.content_type,
    })
}

fn resolve_callback(callback: CallbackDoc, at: &At<'_>) -> Result<CallbackScript, ScenarioError> {
    let retry_ms = match callback.retry_ms {
        None => Vec::new(),
        Some(r) => {
            let span = r.span();
            let delays = r.into_inner();
            if delays.len() as u64 > MAX_COPIES {
                return Err(at(span, format!("callback.retry_ms has {} delays: at most {MAX_COPIES}", delays.len())));
            }
            if let Some(big) = delays.iter().find(|d| **d > MAX_DELAY_MS) {
                return Err(at(
                    span,
                    format!("callback.retry_ms {big} is out of range: at most {MAX_DELAY_MS} ms (a day)"),
                ));
            }
            delays
        }
    };
    Ok(CallbackScript {
        delay_ms: callback.delay_ms.map(|d| delay(d, "callback.delay_ms", at)).transpose()?,
        duplicates: u32::try_from(at_most(callback.duplicates, 0, MAX_COPIES, "callback.duplicates", at)?).unwrap_or(0),
        duplicate_spacing_ms: at_most(
            callback.duplicate_spacing_ms,
            0,
            MAX_DELAY_MS,
            "callback.duplicate_spacing_ms",
            at,
        )?,
        drop: callback.drop,
        out_of_order: callback.out_of_order,
        hold_max_ms: at_most(callback.hold_max_ms, 60_000, MAX_DELAY_MS, "callback.hold_max_ms", at)?,
        retry_ms,
        queue_timeout_first: callback.queue_timeout_first,
    })
}

/// Checks each variant against the keys and values the providers declare
/// (the rule's provider only, when it names one).
fn resolve_variants(
    variants: BTreeMap<String, toml::Spanned<VariantValue>>,
    provider: Option<&str>,
    at: &At<'_>,
) -> Result<Variants, ScenarioError> {
    let mut resolved = BTreeMap::new();
    for (key, value) in variants {
        let span = value.span();
        let text = value.into_inner().as_text();
        let specs: Vec<_> = ProviderId::ALL
            .into_iter()
            .filter(|p| provider.is_none_or(|name| name == p.name()))
            .flat_map(|p| p.variants().iter())
            .filter(|spec| spec.key == key)
            .collect();
        if specs.is_empty() {
            let known: Vec<&str> = ProviderId::ALL
                .into_iter()
                .filter(|p| provider.is_none_or(|name| name == p.name()))
                .flat_map(|p| p.variants().iter().map(|s| s.key))
                .collect();
            return Err(at(span, format!("variants.{key} is not a payload variant; known: {known:?}")));
        }
        if !specs.iter().any(|spec| spec.values.contains(&text.as_str())) {
            let allowed: Vec<&str> = specs.iter().flat_map(|s| s.values.iter().copied()).collect();
            return Err(at(span, format!("variants.{key} {text:?} is not one of {allowed:?}")));
        }
        resolved.insert(key, text);
    }
    Ok(Variants(resolved))
}

/// The most tokens a bucket may hold or refill at once.
const MAX_BUCKET: u64 = 1_000_000_000;

/// Resolves one `[[rate_limits]]` entry (scenario or world).
pub(crate) fn resolve_rate_limit(limit: RateLimitDoc, at: &At<'_>) -> Result<RateLimit, ScenarioError> {
    let provider = match limit.provider {
        Some(p) if ProviderId::parse(p.get_ref()).is_none() => {
            let known: Vec<&str> = operations().map(|(n, _)| n).collect();
            return Err(at(p.span(), format!("rate_limits.provider {:?} is not one of {known:?}", p.get_ref())));
        }
        Some(p) => Some(p.into_inner()),
        None => None,
    };
    let operation = match limit.operation {
        Some(o) if o.get_ref() == "*" => None,
        Some(o) => {
            let span = o.span();
            let o = o.into_inner();
            let known = operations()
                .filter(|(name, _)| provider.as_deref().is_none_or(|p| p == *name))
                .any(|(_, ops)| ops.contains(&o.as_str()));
            if !known {
                return Err(at(
                    span,
                    format!("rate_limits.operation {o:?} is not an operation of {}", describe_ops(&provider)),
                ));
            }
            Some(o)
        }
        None => None,
    };
    let error = match limit.error {
        None => LimitError::SpikeArrest,
        Some(e) => match e.get_ref().as_str() {
            "spike_arrest" => LimitError::SpikeArrest,
            "quota_violation" => LimitError::QuotaViolation,
            other => {
                return Err(at(
                    e.span(),
                    format!("rate_limits.error {other:?} is neither \"spike_arrest\" nor \"quota_violation\""),
                ))
            }
        },
    };
    let capacity = at_most(Some(limit.capacity), 0, MAX_BUCKET, "rate_limits.capacity", at)?;
    let refill = at_most(limit.refill, 1, MAX_BUCKET, "rate_limits.refill", at)?;
    let period_ms = at_most(Some(limit.period_ms), 1, 365 * MAX_DELAY_MS, "rate_limits.period_ms", at)?.max(1);
    let initial = at_most(limit.initial, capacity, MAX_BUCKET, "rate_limits.initial", at)?.min(capacity);
    Ok(RateLimit { provider, operation, capacity, refill, period_ms, initial, error })
}

fn default_name(origin: &str) -> String {
    std::path::Path::new(origin).file_stem().and_then(|s| s.to_str()).unwrap_or(origin).to_owned()
}

/// `line N, column M` of a byte offset.
fn line_of(text: &str, offset: usize) -> String {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count().saturating_add(1);
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()).saturating_add(1);
    format!("line {line}, column {column}:")
}
