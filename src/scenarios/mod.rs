//! Scenarios: what happens to a request once the sandbox has accepted it.
//!
//! A scenario is an ordered list of rules; the first rule whose matcher fits
//! a request decides: a business outcome (result code, when), a synchronous
//! fault (the provider's error envelope, an HTTP status, a delay, a dropped
//! connection), a callback script (delay, duplicates, drop, out of order,
//! retries) and payload variants.
//! Decisions are data, never errors: a cancelled payment is an accepted
//! request followed by a failure callback.
//!
//! Each tenant evaluates its loaded scenarios first, then the built-in
//! [`default`] scenario (the table of test MSISDNs); when nothing matches,
//! the provider applies its own default (the customer pays).
//! The format is documented in `scenarios/README.md`; [`catalogue`] holds
//! the scenarios shipped in `scenarios/`.

// Time, money and counts from outside: every computation here saturates or
// is checked, and the lint keeps it so.
#![warn(clippy::arithmetic_side_effects)]

pub(crate) mod doc;
mod rules;

use std::path::Path;
use std::sync::{Arc, OnceLock};

pub(crate) use rules::*;

/// The scenarios shipped in `scenarios/`, by name, embedded in the binary.
const SHIPPED: &[(&str, &str)] = &[
    ("happy-path", include_str!("../../scenarios/happy-path.toml")),
    ("user-cancels", include_str!("../../scenarios/user-cancels.toml")),
    ("user-never-answers", include_str!("../../scenarios/user-never-answers.toml")),
    ("wrong-pin", include_str!("../../scenarios/wrong-pin.toml")),
    ("insufficient-funds", include_str!("../../scenarios/insufficient-funds.toml")),
    ("duplicate-callbacks", include_str!("../../scenarios/duplicate-callbacks.toml")),
    ("missing-callbacks", include_str!("../../scenarios/missing-callbacks.toml")),
    ("late-callback", include_str!("../../scenarios/late-callback.toml")),
    ("flaky-receiver", include_str!("../../scenarios/flaky-receiver.toml")),
    ("spike-arrest", include_str!("../../scenarios/spike-arrest.toml")),
    ("out-of-order", include_str!("../../scenarios/out-of-order.toml")),
    ("interactive", include_str!("../../scenarios/interactive.toml")),
    ("gateway-outage", include_str!("../../scenarios/gateway-outage.toml")),
    ("connection-reset", include_str!("../../scenarios/connection-reset.toml")),
];

/// The built-in default scenario: every provider's default rules (its test
/// values), in registry order, as one scenario named `default`.
pub(crate) fn default() -> Arc<Scenario> {
    built_in().clone()
}

/// The one copy of [`default`], made on first use.
fn built_in() -> &'static Arc<Scenario> {
    static DEFAULT_SCENARIO: OnceLock<Arc<Scenario>> = OnceLock::new();
    DEFAULT_SCENARIO.get_or_init(|| {
        let mut rules = Vec::new();
        let mut rate_limits = Vec::new();
        for provider in crate::providers::ProviderId::ALL {
            let Some(text) = provider.default_scenario() else { continue };
            let origin = format!("the default scenario of {}", provider.name());
            // A unit test proves every embedded default parses; it cannot fail here.
            let scenario = Scenario::parse(text, &origin).expect("the default scenarios are valid");
            rules.extend(scenario.rules);
            rate_limits.extend(scenario.rate_limits);
        }
        Arc::new(Scenario {
            name: "default".into(),
            description: Some("Every provider's test values and the outcomes they produce.".into()),
            origin: "built in".into(),
            rules,
            rate_limits,
        })
    })
}

/// The first rule of the built-in [`default`] scenario that fits `facts`.
///
/// Every request no loaded rule decides is matched against this scenario,
/// whose rules mostly name another provider or operation. Each thread
/// keeps, for each provider and operation it has met, the rules that can
/// fit them (naming that provider or none, and that operation or none), in
/// the scenario's order, and a request is matched only against those: the
/// same first match as trying every rule. Operations are the handlers' own
/// names, a fixed set, so the list stays small (and is bounded anyway).
pub(crate) fn decide_by_default(facts: &Facts<'_>) -> Option<&'static Decision> {
    /// More (provider, operation) pairs than the providers have: past it,
    /// a pair is matched against every rule rather than kept.
    const MAX_KEPT: usize = 512;
    type Kept = Vec<(&'static str, &'static str, Box<[usize]>)>;
    thread_local! {
        static BY_OPERATION: std::cell::RefCell<Kept> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let rules: &'static [Rule] = &built_in().rules;
    let can_fit = |r: &Rule| r.when.fits(facts.provider, facts.operation);
    // Every candidate fits the provider and operation already.
    let first = |candidates: &mut dyn Iterator<Item = &'static Rule>| {
        candidates.filter(|r| r.when.matches_fitting(facts)).map(|r| &r.decision).next()
    };
    BY_OPERATION.with(|kept| {
        let mut kept = kept.borrow_mut();
        let known = kept.iter().find(|(p, o, _)| *p == facts.provider && *o == facts.operation);
        if let Some((_, _, fit)) = known {
            return first(&mut fit.iter().filter_map(|&i| rules.get(i)));
        }
        if kept.len() >= MAX_KEPT {
            return first(&mut rules.iter().filter(|r| can_fit(r)));
        }
        let fit: Box<[usize]> = rules.iter().enumerate().filter(|(_, r)| can_fit(r)).map(|(i, _)| i).collect();
        let decision = first(&mut fit.iter().filter_map(|&i| rules.get(i)));
        kept.push((facts.provider, facts.operation, fit));
        decision
    })
}

/// The most scenarios a tenant may have loaded at once.
pub(crate) const MAX_SCENARIOS: usize = 64;

/// The most rules and rate limits a tenant's loaded scenarios may hold in
/// all: every request is matched against them in turn.
pub(crate) const MAX_RULES: usize = 1_000;

/// Checks that a tenant's loaded scenarios stay within [`MAX_SCENARIOS`]
/// and [`MAX_RULES`]; the error says which limit and by how much.
pub(crate) fn check_limits<'a>(loaded: impl IntoIterator<Item = &'a Scenario>) -> Result<(), String> {
    let (mut scenarios, mut rules) = (0usize, 0usize);
    for scenario in loaded {
        scenarios = scenarios.saturating_add(1);
        rules = rules.saturating_add(scenario.rules.len()).saturating_add(scenario.rate_limits.len());
    }
    if scenarios > MAX_SCENARIOS {
        return Err(format!("a tenant may have at most {MAX_SCENARIOS} scenarios loaded; this would make {scenarios}"));
    }
    if rules > MAX_RULES {
        return Err(format!(
            "a tenant's loaded scenarios may hold at most {MAX_RULES} rules and rate limits in all; this would make {rules}"
        ));
    }
    Ok(())
}

/// The shipped scenarios, by name.
pub(crate) fn catalogue() -> Vec<Arc<Scenario>> {
    static CATALOGUE: OnceLock<Vec<Arc<Scenario>>> = OnceLock::new();
    CATALOGUE
        .get_or_init(|| {
            SHIPPED
                .iter()
                .map(|(name, text)| {
                    let origin = format!("scenarios/{name}.toml");
                    // A unit test proves every shipped file parses.
                    Arc::new(Scenario::parse(text, &origin).expect("shipped scenarios are valid"))
                })
                .collect()
        })
        .clone()
}

/// Finds a shipped scenario by name.
pub(crate) fn shipped(name: &str) -> Option<Arc<Scenario>> {
    catalogue().into_iter().find(|s| s.name == name)
}

/// Loads a scenario file, or every `*.toml` file of a directory (sorted by name).
pub(crate) fn load_path(path: &Path) -> Result<Vec<Scenario>, ScenarioError> {
    let origin = path.display().to_string();
    let io_err = |e: std::io::Error| ScenarioError { origin: origin.clone(), message: e.to_string() };
    if path.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(path)
            .map_err(io_err)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        files.iter().map(|f| load_file(f)).collect()
    } else {
        load_file(path).map(|s| vec![s])
    }
}

fn load_file(path: &Path) -> Result<Scenario, ScenarioError> {
    let origin = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|e| ScenarioError { origin: origin.clone(), message: e.to_string() })?;
    Scenario::parse(&text, &origin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Money;
    use proptest::prelude::*;

    fn push(msisdn: &str, amount: i64) -> Facts<'static> {
        Facts {
            provider: "daraja",
            operation: "stk_push",
            msisdn: Some(msisdn.to_owned().into()),
            amount: Some(Money::from_shillings(amount)),
            shortcode: Some("174379".into()),
            ..Facts::default()
        }
    }

    #[test]
    fn every_shipped_scenario_and_the_default_parse() {
        assert_eq!(catalogue().len(), SHIPPED.len());
        for (name, _) in SHIPPED {
            assert!(shipped(name).is_some(), "{name} is found by its name");
        }
        assert!(default().rules.len() >= 10);
    }

    #[test]
    fn the_default_scenario_maps_test_msisdns_to_result_codes() {
        let set = ScenarioSet { scenarios: vec![default()] };
        let code = |m: &str| set.decide(&push(m, 10)).and_then(|d| d.outcome.clone()).map(|o| o.result_code);
        assert_eq!(code("254711001032"), Some(ResultCode::Number(1032)));
        assert_eq!(code("254711000001"), Some(ResultCode::Number(1)));
        assert_eq!(code("254708374149"), None, "everyone else gets the provider's default");
        let timeout = set.decide(&push("254711001037", 1)).unwrap().outcome.clone().unwrap();
        assert!(timeout.timeout);
    }

    #[test]
    fn the_first_matching_rule_decides() {
        let scenario = Scenario::parse(
            r#"
            [[rules]]
            name = "big"
            when = { operation = "stk_push", amount = { min = 1000 } }
            outcome = { result_code = 1 }
            [[rules]]
            name = "everyone"
            when = { operation = ["stk_push", "stk_query"] }
            outcome = { result_code = 1032 }
            "#,
            "t.toml",
        )
        .unwrap();
        let set = ScenarioSet { scenarios: vec![Arc::new(scenario), default()] };
        assert_eq!(set.decide(&push("254700000000", 5000)).unwrap().rule, "t#big");
        assert_eq!(set.decide(&push("254711000001", 5)).unwrap().rule, "t#everyone");
    }

    #[test]
    fn matchers_read_any_field_by_name() {
        let scenario =
            Scenario::parse("[[rules]]\nwhen = { fields = { AccountReference = [\"A\", \"B\"] } }\nfault = { error = \"system_busy\" }\n", "f.toml")
                .unwrap();
        let matches = |body: &dyn crate::fields::Fields| {
            let facts = Facts { provider: "daraja", operation: "stk_push", body: Some(body), ..Facts::default() };
            scenario.rules[0].when.matches(&facts)
        };
        // Through a parsed tree and through the fields read without one.
        for (json, expected) in [(r#"{"AccountReference": " B"}"#, true), (r#"{"AccountReference": "C"}"#, false)] {
            let tree = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json).unwrap();
            assert_eq!(matches(&tree), expected, "{json}");
            let object = crate::fields::Object::parse(json.as_bytes()).unwrap();
            assert_eq!(matches(&object), expected, "{json}");
        }
    }

    #[test]
    fn a_fault_error_a_provider_declares_is_accepted_in_its_rules_only() {
        let rule = |provider: Option<&str>, error: &str| {
            let when = provider.map(|p| format!("when = {{ provider = \"{p}\" }}\n")).unwrap_or_default();
            Scenario::parse(&format!("[[rules]]\n{when}fault = {{ error = \"{error}\" }}\n"), "f.toml")
        };
        let declaring: Vec<_> =
            crate::providers::ProviderId::ALL.into_iter().filter(|p| !p.faults().is_empty()).collect();
        assert!(!declaring.is_empty(), "some provider declares its own fault errors");
        for p in declaring {
            for error in p.faults() {
                assert!(rule(Some(p.name()), error).is_ok(), "{error} of {}", p.name());
                assert!(rule(None, error).is_ok(), "{error} without a provider");
                for other in crate::providers::ProviderId::ALL.into_iter().filter(|o| *o != p) {
                    if !other.faults().contains(error) && !NAMED_ERRORS.contains(error) {
                        let err = rule(Some(other.name()), error).unwrap_err().to_string();
                        assert!(err.contains("fault.error"), "{err}");
                    }
                }
            }
        }
        let err = rule(None, "no_such_error").unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("no_such_error"), "{err}");
    }

    #[test]
    fn errors_name_the_file_the_line_and_the_field() {
        let err = Scenario::parse("version = 1\n\n[[rules]]\nwhen = { operation = \"stk_pushh\" }\n", "bad.toml")
            .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("bad.toml: line 4"), "{text}");
        assert!(text.contains("when.operation") && text.contains("stk_pushh"), "{text}");

        let err = Scenario::parse("[[rules]]\nwhen = {}\ncolour = \"red\"\n", "bad.toml").unwrap_err().to_string();
        assert!(err.contains("line 3") && err.contains("colour"), "{err}");

        let err = Scenario::parse("[[rules]]\nfault = { connection = \"cut\" }\n", "bad.toml").unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("fault.connection"), "{err}");

        let err = Scenario::parse("version = 2\n", "bad.toml").unwrap_err().to_string();
        assert!(err.contains("version 2 is not supported"), "{err}");
    }

    proptest! {
        #[test]
        fn the_rule_engine_is_total(
            msisdn in proptest::option::of(".{0,20}"),
            amount in proptest::option::of(-1_000_000i64..10_000_000),
            shortcode in proptest::option::of("[0-9]{0,8}"),
            operation in prop::sample::select(vec!["oauth", "stk_push", "stk_query", "unknown"]),
            body_value in ".{0,10}",
        ) {
            let body = serde_json::json!({ "AccountReference": body_value });
            let facts = Facts {
                provider: "daraja",
                operation,
                body: body.as_object().map(|b| b as &dyn crate::fields::Fields),
                msisdn: msisdn.map(Into::into),
                amount: amount.map(Money),
                shortcode: shortcode.map(Into::into),
                account_reference: None,
                initiator: None,
            };
            let mut scenarios = catalogue();
            scenarios.push(default());
            let set = ScenarioSet { scenarios };
            let _ = set.decide(&facts);
        }

        #[test]
        fn the_default_scenario_decides_by_its_index_as_by_every_rule(
            provider in prop::sample::select(vec!["daraja", "vodafone", "pesaflow", "ecitizen", "other"]),
            operation in prop::sample::select(
                crate::scenarios::operations().flat_map(|(_, ops)| ops.iter().copied()).chain(["unknown"]).collect::<Vec<_>>()
            ),
            // Every MSISDN and shortcode the default scenario names, and one it does not.
            msisdn in proptest::option::of(prop::sample::select(
                default().rules.iter().flat_map(|r| r.when.msisdn.clone()).chain(["254799999999".into()]).collect::<Vec<_>>()
            )),
            shortcode in proptest::option::of(prop::sample::select(
                default().rules.iter().flat_map(|r| r.when.shortcode.clone()).chain(["999999".into()]).collect::<Vec<_>>()
            )),
            amount in proptest::option::of(0i64..2_000),
        ) {
            let facts = Facts {
                provider,
                operation,
                msisdn: msisdn.map(Into::into),
                amount: amount.map(Money::from_shillings),
                shortcode: shortcode.map(Into::into),
                ..Facts::default()
            };
            let every_rule = ScenarioSet { scenarios: vec![default()] };
            prop_assert_eq!(decide_by_default(&facts), every_rule.decide(&facts));
        }

        #[test]
        fn parsing_any_text_never_panics(text in ".{0,300}") {
            let _ = Scenario::parse(&text, "fuzz.toml");
        }
    }
}
