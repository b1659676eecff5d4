//! Black-box tests: a real sandbox on `127.0.0.1:0`, spoken to over HTTP,
//! with wiremock receiving its callbacks. One binary, one module per surface.

mod admin;
mod daraja_c2b;
mod daraja_money;
mod daraja_oauth;
mod daraja_pull_qr_statement;
mod daraja_stk_push;
mod daraja_stk_query;
mod helpers;
mod mpesa_client;
mod robustness;
mod scenarios;
mod shutdown;
mod tenants;
