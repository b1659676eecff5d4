//! Vodafone / Vodacom M-Pesa: the pure layer of the `vodafone` provider.
//!
//! Two profiles share this provider, its keys, its INS codes and its ledger:
//! * `portal`: the Vodacom Mozambique M-Pesa Payments Gateway of the seed
//!   (`developer.mpesa.vm.co.mz`): `/ipg/v1x/{api}/`, one port per API on the
//!   real host, `Authorization: Bearer base64(RSA(api key))` on every call.
//! * `openapi`: the multi-market M-Pesa OpenAPI (`openapi.m-pesa.com`):
//!   `/{sandbox|openapi}/ipg/v2/{market}/{api}/`, a `getSession` step, then
//!   `Authorization: Bearer base64(RSA(session id))`.
//!
//! What lives here: the committed keys ([`keys`]), bearer decoding
//! ([`bearer`]), the INS code tables ([`codes`]), the error envelope
//! ([`error`]), the request parsers and wire bodies ([`portal`], [`openapi`],
//! [`direct_debit`], [`wire`]), the markets ([`markets`]), the identifier
//! formats ([`ids`]) and the `[vodafone]` world table ([`world`]).
//! The default scenario (`default-scenario.toml`) holds the sandbox triggers.
//!
//! **Invariant:** nothing in this module does I/O, reads a clock or draws
//! randomness of its own; time comes in as arguments and identifiers from the
//! caller's seeded [`crate::ids::IdGen`].
//! **Invariant:** no function here panics on request, world or scenario
//! data; every refusal is a typed value in the provider's envelope.

pub(crate) mod api;
pub(crate) mod bearer;
pub(crate) mod codes;
pub(crate) mod direct_debit;
pub(crate) mod error;
pub(crate) mod fields;
pub(crate) mod ids;
pub(crate) mod keys;
pub(crate) mod markets;
pub(crate) mod openapi;
pub(crate) mod portal;
pub(crate) mod wire;
pub(crate) mod world;

/// The provider's name: journals, scenario files, `/__sandbox/vodafone/...`.
pub(crate) const PROVIDER: &str = "vodafone";

/// The scenario vocabulary (`when.operation`); both profiles share it, so a
/// rule about `c2b_payment` applies to the portal and to the OpenAPI alike.
pub(crate) const OPERATIONS: &[&str] = &[
    "get_session",
    "c2b_payment",
    "b2c_payment",
    "b2b_payment",
    "reversal",
    "query_transaction_status",
    "direct_debit_create",
    "direct_debit_payment",
    "query_direct_debit",
    "direct_debit_cancel",
    "query_beneficiary_name",
];

/// The default scenario: the OpenAPI sandbox's fixed trigger values and the
/// portal's test MSISDNs (the file's comments hold the table). It uses the
/// core scenario format with `provider = "vodafone"` and [`OPERATIONS`].
pub(crate) const DEFAULT_SCENARIO_TOML: &str = include_str!("default-scenario.toml");

/// The embedded default `[vodafone]` world table.
pub(crate) const DEFAULT_WORLD_TOML: &str = include_str!("default.toml");

/// The OpenAPI sandbox's query reference whose transaction reads as reversed
/// (`output_Reversed` `True`); every other successful status query reads as
/// not reversed. The scenario format has no field for this, so it is data here.
pub(crate) const SANDBOX_REVERSED_QUERY_REFERENCE: &str = "000000000000000000001";

/// The OpenAPI sandbox's Query Direct Debit answers by `input_CustomerMSISDN`:
/// `output_AccountStatus` (every other customer is `Active`).
pub(crate) const SANDBOX_ACCOUNT_STATUS: &[(&str, &str)] = &[
    ("000000000001", "Active"),
    ("000000000002", "Pending Approval"),
    ("000000000003", "Locked"),
    ("000000000004", "Inactive"),
];

/// ... and by `input_MandateID`: `output_MandateStatus`.
pub(crate) const SANDBOX_MANDATE_STATUS: &[(&str, &str)] =
    &[("000001", "Active"), ("000002", "Pending Approval"), ("000003", "Cancelled"), ("000004", "Expired")];

/// ... and the balance the sandbox's test customers hold for
/// `input_QueryBalanceAmount`: `600` reads as insufficient, `100` as sufficient.
pub(crate) const SANDBOX_BALANCE_THRESHOLD: crate::ledger::Money = crate::ledger::Money(50_000);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vodafone::api::Api;

    #[test]
    fn every_api_names_an_operation_of_the_vocabulary() {
        for api in Api::ALL {
            assert!(OPERATIONS.contains(&api.operation()), "{api:?}");
        }
        assert_eq!(OPERATIONS.len(), Api::ALL.len());
    }

    #[test]
    fn the_default_scenario_speaks_only_this_providers_vocabulary_and_codes() {
        use crate::scenarios::doc::{ResultCodeDoc, ScenarioDoc};
        use crate::vodafone::api::Profile;
        use crate::vodafone::codes::{self, Ins};
        let doc: ScenarioDoc = toml::from_str(DEFAULT_SCENARIO_TOML).expect("the scenario format reads it");
        assert!(doc.rules.len() > 60);
        for rule in &doc.rules {
            let name = rule.name.clone().unwrap_or_default();
            let provider = rule.when.provider.as_ref().map(|p| p.get_ref().as_str());
            assert_eq!(provider, Some(PROVIDER), "{name}");
            let operations = rule.when.operation.as_ref().map(|o| o.get_ref().clone().into_vec()).unwrap_or_default();
            assert!(!operations.is_empty() && operations.iter().all(|o| OPERATIONS.contains(&o.as_str())), "{name}");
            let code = match rule.outcome.as_ref().map(|o| &o.result_code) {
                Some(ResultCodeDoc::Text(code)) => Ins::parse(code),
                _ => None,
            };
            let listed = code.is_some_and(|c| {
                codes::listed(Profile::OpenApi).contains(&c) || codes::listed(Profile::Portal).contains(&c)
            });
            assert!(listed, "{name}: every outcome is a listed INS code");
        }
    }

    #[test]
    fn the_sandbox_balance_threshold_splits_the_matrix_values() {
        assert!(crate::ledger::Money(60_000) > SANDBOX_BALANCE_THRESHOLD);
        assert!(crate::ledger::Money(10_000) <= SANDBOX_BALANCE_THRESHOLD);
    }
}
