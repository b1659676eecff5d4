//! Black-box tests: a real sandbox on `127.0.0.1:0`, spoken to over HTTP,
//! with wiremock receiving its callbacks. One binary: shared helpers
//! (`helpers`), one folder per provider (`daraja/`, `vodafone/`, `pesaflow/`, `ecitizen/`), and
//! the provider-neutral surfaces (admin, scenarios, tenants, robustness, shutdown).

mod admin;
mod connections;
mod daraja;
mod ecitizen;
mod helpers;
mod pesaflow;
mod reliability;
mod robustness;
mod scenarios;
mod security;
mod shutdown;
mod tenants;
mod vodafone;
