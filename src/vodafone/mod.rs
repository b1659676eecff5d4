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
// pub(crate) mod wire;
// pub(crate) mod world;

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

/// The OpenAPI sandbox's query reference whose transaction reads as reversed
/// (`output_Reversed` `True`); every other successful status query reads as
/// not reversed. The scenario format has no field for this, so it is data here.
pub(crate) const SANDBOX_REVERSED_QUERY_REFERENCE: &str = "000000000000000000001";

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
}
