//! Resolved scenarios: validated rules, and the decision a request gets.
//!
//! **Invariant:** [`ScenarioSet::decide`] is total: any request facts get a
//! decision or `None` (the provider's default), never a panic.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use super::doc::{
    AmountDoc, CallbackDoc, DelayDoc, FaultDoc, OutcomeDoc, RateLimitDoc, ResultCodeDoc, RuleDoc, ScenarioDoc,
    VariantsDoc, WhenDoc,
};
use crate::ledger::Money;

/// The document version this build reads.
pub const SCENARIO_VERSION: u32 = 1;

/// Operations each provider reports to the scenario engine.
pub const OPERATIONS: &[(&str, &[&str])] = &[(
    "daraja",
    &[
        "oauth",
        "stk_push",
        "stk_query",
        "c2b_register",
        "c2b_simulate",
        "c2b_payment",
        "b2c",
        "b2pochi",
        "b2b",
        "tax_remittance",
        "reversal",
        "transaction_status",
        "account_balance",
        "pull_register",
        "pull_query",
        "qr_generate",
    ],
)];

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
    pub body: Option<&'a Map<String, Value>>,
    pub msisdn: Option<String>,
    pub amount: Option<Money>,
    pub shortcode: Option<String>,
    pub account_reference: Option<String>,
    pub initiator: Option<String>,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpiresIn {
    String,
    Number,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneNumberForm {
    Full,
    Hashed,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Variants {
    pub expires_in: Option<ExpiresIn>,
    pub response_code: Option<String>,
    pub balance_item: Option<bool>,
    pub phone_number: Option<PhoneNumberForm>,
    pub result_parameter_object: Option<bool>,
    pub msisdn: Option<MsisdnForm>,
    pub originator_key: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MsisdnForm {
    Masked,
    Full,
    Hashed,
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
        let any = |wanted: &[String], got: &Option<String>| {
            wanted.is_empty() || got.as_deref().is_some_and(|g| wanted.iter().any(|w| w == g))
        };
        let amount_ok = match (self.amount_min, self.amount_max) {
            (None, None) => true,
            (min, max) => facts.amount.is_some_and(|a| {
                let a = a.as_f64();
                min.is_none_or(|m| a >= m) && max.is_none_or(|m| a <= m)
            }),
        };
        let fields_ok = self.fields.iter().all(|(name, wanted)| {
            let got = facts.body.and_then(|b| crate::fields::text(b, name).ok());
            any(wanted, &got)
        });
        self.provider.as_deref().is_none_or(|p| p == facts.provider)
            && (self.operations.is_empty() || self.operations.iter().any(|o| o == facts.operation))
            && any(&self.msisdn, &facts.msisdn)
            && amount_ok
            && any(&self.shortcode, &facts.shortcode)
            && any(&self.account_reference, &facts.account_reference)
            && any(&self.initiator, &facts.initiator)
            && fields_ok
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

pub type At<'a> = dyn Fn(std::ops::Range<usize>, String) -> ScenarioError + 'a;

fn resolve_rule(rule: RuleDoc, scenario: &str, idx: usize, at: &At<'_>) -> Result<Rule, ScenarioError> {
    let label = match &rule.name {
        Some(n) => format!("{scenario}#{n}"),
        None => format!("{scenario}#{}", idx + 1),
    };
    let when = resolve_when(rule.when, at)?;
    let outcome = rule.outcome.map(resolve_outcome);
    let fault = rule.fault.map(|f| resolve_fault(f, at)).transpose()?;
    let callback = resolve_callback(rule.callback.unwrap_or_default());
    let variants = resolve_variants(rule.variants.unwrap_or_default(), at)?;
    Ok(Rule { when, decision: Decision { rule: label, outcome, fault, callback, variants } })
}

fn resolve_when(when: WhenDoc, at: &At<'_>) -> Result<Matcher, ScenarioError> {
    let provider = match when.provider {
        Some(p) => {
            let span = p.span();
            let p = p.into_inner();
            if !OPERATIONS.iter().any(|(name, _)| *name == p) {
                let known: Vec<&str> = OPERATIONS.iter().map(|(n, _)| *n).collect();
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
                let known = OPERATIONS
                    .iter()
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
    OPERATIONS
        .iter()
        .filter(|(name, _)| provider.as_deref().is_none_or(|p| p == *name))
        .map(|(name, ops)| format!("{name} {ops:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn resolve_outcome(outcome: OutcomeDoc) -> Outcome {
    Outcome {
        result_code: match outcome.result_code {
            ResultCodeDoc::Number(n) => ResultCode::Number(n),
            ResultCodeDoc::Text(t) => match t.parse::<u32>() {
                Ok(n) => ResultCode::Number(n),
                Err(_) => ResultCode::Text(t),
            },
        },
        result_desc: outcome.result_desc,
        after_ms: outcome.after_ms.map(delay),
        timeout: outcome.timeout,
        await_customer: outcome.await_customer,
    }
}

fn delay(d: DelayDoc) -> Delay {
    match d {
        DelayDoc::Fixed(ms) => Delay::Fixed(ms),
        DelayDoc::Range { min, max } => Delay::Range { min: min.min(max), max: min.max(max) },
    }
}

/// Named errors every provider understands.
pub const NAMED_ERRORS: &[&str] = &["spike_arrest", "system_busy", "quota_violation", "internal_error"];

fn resolve_fault(fault: FaultDoc, at: &At<'_>) -> Result<Fault, ScenarioError> {
    let error = match fault.error {
        Some(e) => {
            let span = e.span();
            let e = e.into_inner();
            let raw_code = e.contains('.') && e.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
            if !NAMED_ERRORS.contains(&e.as_str()) && !raw_code {
                return Err(at(
                    span,
                    format!(
                        "fault.error {e:?} is neither one of {NAMED_ERRORS:?} nor an error code like \"500.003.02\""
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
        delay_ms: fault.delay_ms,
        connection,
        body: fault.body,
        content_type: fault.content_type,
    })
}

fn resolve_callback(callback: CallbackDoc) -> CallbackScript {
    CallbackScript {
        delay_ms: callback.delay_ms.map(delay),
        duplicates: callback.duplicates.min(100),
        duplicate_spacing_ms: callback.duplicate_spacing_ms,
        drop: callback.drop,
        out_of_order: callback.out_of_order,
        hold_max_ms: callback.hold_max_ms.unwrap_or(60_000),
        retry_ms: callback.retry_ms.into_iter().take(100).collect(),
        queue_timeout_first: callback.queue_timeout_first,
    }
}

fn resolve_variants(variants: VariantsDoc, at: &At<'_>) -> Result<Variants, ScenarioError> {
    let pick = |value: Option<toml::Spanned<String>>,
                field: &str,
                allowed: &[&str]|
     -> Result<Option<String>, ScenarioError> {
        match value {
            None => Ok(None),
            Some(v) => {
                let span = v.span();
                let v = v.into_inner();
                if allowed.contains(&v.as_str()) {
                    Ok(Some(v))
                } else {
                    Err(at(span, format!("variants.{field} {v:?} is not one of {allowed:?}")))
                }
            }
        }
    };
    Ok(Variants {
        expires_in: pick(variants.expires_in, "expires_in", &["string", "number"])?.map(|v| match v.as_str() {
            "number" => ExpiresIn::Number,
            _ => ExpiresIn::String,
        }),
        response_code: pick(variants.response_code, "response_code", &["0", "00000000"])?,
        balance_item: variants.balance_item,
        phone_number: pick(variants.phone_number, "phone_number", &["full", "hashed"])?.map(|v| match v.as_str() {
            "hashed" => PhoneNumberForm::Hashed,
            _ => PhoneNumberForm::Full,
        }),
        result_parameter_object: pick(variants.result_parameter, "result_parameter", &["object", "array"])?
            .map(|v| v == "object"),
        msisdn: pick(variants.msisdn, "msisdn", &["masked", "full", "hashed"])?.map(|v| match v.as_str() {
            "full" => MsisdnForm::Full,
            "hashed" => MsisdnForm::Hashed,
            _ => MsisdnForm::Masked,
        }),
        originator_key: pick(
            variants.originator_key,
            "originator_key",
            &["OriginatorCoversationID", "OriginatorConversationID", "OriginatorConverstionID"],
        )?,
    })
}

/// Resolves one `[[rate_limits]]` entry (scenario or world).
pub fn resolve_rate_limit(limit: RateLimitDoc, at: &At<'_>) -> Result<RateLimit, ScenarioError> {
    let provider = limit.provider.map(|p| p.into_inner());
    let operation = match limit.operation {
        Some(o) if o.get_ref() == "*" => None,
        Some(o) => {
            let span = o.span();
            let o = o.into_inner();
            let known = OPERATIONS
                .iter()
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
    Ok(RateLimit {
        provider,
        operation,
        capacity: limit.capacity,
        refill: limit.refill,
        period_ms: limit.period_ms.max(1),
        initial: limit.initial.unwrap_or(limit.capacity).min(limit.capacity),
        error,
    })
}

fn default_name(origin: &str) -> String {
    std::path::Path::new(origin).file_stem().and_then(|s| s.to_str()).unwrap_or(origin).to_owned()
}

/// `line N, column M` of a byte offset.
fn line_of(text: &str, offset: usize) -> String {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}:")
}
