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
//! * `daraja`: Safaricom Daraja (one folder per provider; providers never import each other).
//! * `admin`: the `/__sandbox/` API to inspect and drive state.
//! * `store`: tenants, their state and timelines; `ledger`: money; `markets`: subscribers and currencies;
//!   `world`: what a tenant starts with.
//! * `scenarios`: what happens to accepted requests; `gate`: rate limits and scripted faults;
//!   `scheduler`: releases due events.
//! * `callbacks`: the only code that sends HTTP; `journal`: what happened.
//! * `crypto`: RSA credentials, Lipa na M-Pesa passwords, webhook signatures; `clock`, `ids`: time and seeded ids.
//! * `http`, `server`, `fields`, `httpauth`: request plumbing shared by providers.
//! * `cli`, `config`, `telemetry`: the binary's edge.

pub mod admin;
pub mod app;
pub mod app_state;
pub mod callbacks;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod daraja;
pub mod fields;
pub mod fuzzing;
pub mod gate;
pub mod http;
pub mod httpauth;
pub mod ids;
pub mod journal;
pub mod ledger;
pub mod markets;
pub mod provider;
pub mod providers;
pub mod retained;
pub mod scenarios;
pub mod scheduler;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod world;

pub use app::{Sandbox, ShutdownReport, StartError};
pub use config::Config;
pub use providers::Credentials;
