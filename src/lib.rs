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
//! * `app`: composition root: `AppState`, the router, the `Sandbox` handle.
//! * `daraja`: Safaricom Daraja (one module per provider; providers never import each other).
//! * `admin`: the `/__sandbox/` API to inspect and drive state.
//! * `store`: tenants, their state and timelines; `ledger`: money; `world`: initial data.
//! * `scenarios`: what happens to accepted requests; `scheduler`: releases due events.
//! * `callbacks`: the only code that sends HTTP; `journal`: what happened.
//! * `crypto`: RSA credentials, Lipa na M-Pesa passwords; `clock`, `ids`: time and seeded ids.
//! * `http`, `fields`, `httpauth`: request plumbing shared by providers.
//! * `cli`, `config`, `telemetry`: the binary's edge.

pub mod admin;
pub mod app;
pub mod callbacks;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod daraja;
// The eCitizen SSO provider's pure layer; its handlers plug into the provider
// seam, until then nothing outside its tests calls it.
#[allow(dead_code)]
mod ecitizen;
pub mod fields;
pub mod fuzzing;
pub mod http;
pub mod httpauth;
pub mod ids;
pub mod journal;
pub mod ledger;
pub mod scenarios;
pub mod scheduler;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod world;

pub use app::{Sandbox, ShutdownReport, StartError};
pub use config::Config;
