//! pesa-sandbox: a stateful local fake of East African payment and identity
//! APIs, served on one port, for integration tests and local development.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let sandbox = pesa_sandbox::Sandbox::start(pesa_sandbox::Config::local()).await?;
//! let creds = sandbox.credentials();
//! println!("point your Daraja client at {} with key {}", sandbox.base_url(), creds.daraja.consumer_key);
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Layout
//! * `app`: the `Sandbox` handle and the router; `app_state`: what handlers reach.
//! * `provider`: what a provider is (the seam); `providers`: the registry, the one place naming them all.
//! * `daraja`: Safaricom Daraja; `vodafone`: Vodafone/Vodacom M-Pesa (the Mozambique portal and the
//!   multi-market OpenAPI); `pesaflow`: eCitizen's Pesaflow payments; `ecitizen`: the eCitizen SSO
//!   (one folder per provider; providers never import each other).
//! * `admin`: the `/__sandbox/` API to inspect and drive state.
//! * `store`: tenants, their state and timelines; `ledger`: money; `markets`: subscribers and currencies;
//!   `world`: what a tenant starts with.
//! * `scenarios`: what happens to accepted requests; `gate`: rate limits and scripted faults;
//!   `scheduler`: releases due events.
//! * `callbacks`: the only code that sends HTTP; `journal`: what happened; `supervisor`: bugs caught, health.
//! * `crypto`: RSA credentials, Lipa na M-Pesa passwords, webhook signatures, Pesaflow hashes, PKCE and
//!   JWTs; `clock`, `ids`: time and seeded ids.
//! * `http`, `server`, `fields`, `httpauth`: request plumbing shared by providers.
//! * `cli`, `config`, `telemetry`: the binary's edge.

#![warn(unreachable_pub)]

pub(crate) mod admin;
pub(crate) mod app;
pub(crate) mod app_state;
pub(crate) mod auth;
pub(crate) mod callbacks;
pub mod cli;
pub(crate) mod clock;
pub mod config;
pub mod crypto;
pub mod daraja;
pub(crate) mod ecitizen;
pub(crate) mod fastmap;
pub(crate) mod fields;
pub mod fuzzing;
pub(crate) mod gate;
pub(crate) mod handset;
pub(crate) mod http;
pub(crate) mod httpauth;
pub(crate) mod ids;
pub(crate) mod journal;
pub(crate) mod ledger;
pub(crate) mod markets;
pub(crate) mod pesaflow;
pub(crate) mod provider;
pub(crate) mod providers;
pub(crate) mod recent;
pub(crate) mod retained;
pub(crate) mod scenarios;
pub(crate) mod scheduler;
pub(crate) mod server;
pub(crate) mod signal;
pub(crate) mod store;
pub(crate) mod supervisor;
pub mod telemetry;
pub mod tls;
pub mod vodafone;
pub(crate) mod world;

// The public API, deliberately: the embeddable sandbox and its
// configuration, the credentials document (with each provider's section), the client-side crypto helpers
// (`crypto`), Daraja's published certificate (`daraja::keys`) and the names
// of the body shapes it emits (`daraja::shapes::NAMES`, for conformance
// tests), Vodafone's credentials section (`vodafone::VodafoneCredentials`),
// Pesaflow's and eCitizen's credentials sections (re-exported below), the
// HTTPS test CA (`tls`), the binary's edge (`cli`, `telemetry`) and the
// fuzz targets' bodies (`fuzzing`).
pub use admin::CallbackCredentials;
pub use app::{Sandbox, ShutdownReport, StartError};
pub use callbacks::{BreakerConfig, Destination, EngineConfig, EngineStats, UnsentCallback};
pub use clock::Clock;
pub use config::{ClockMode, Config};
pub use ecitizen::credentials::{EcitizenClient, EcitizenCredentials, EcitizenTestUser, EcitizenUser};
pub use ids::Secrets;
pub use pesaflow::credentials::{PesaflowClient, PesaflowCredentials, PesaflowService, PesaflowTestMsisdn};
pub use providers::Credentials;
pub use server::ServerLimits;
pub use store::{Limits, MAX_TOKENS_PER_APP};
