//! Logging: text or JSON on stderr, filtered by `RUST_LOG`.
//!
//! **Invariant:** no secret (passkey, consumer secret, initiator password,
//! decrypted credential, access token) is ever logged. Secrets live in
//! `secrecy` wrappers whose `Debug` prints `[REDACTED]`, request bodies are
//! never logged, and diagnoses are written not to contain them; a test
//! captures every log line of a full flow and checks.

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// The filter used when `RUST_LOG` is not set.
pub const DEFAULT_FILTER: &str = "pesa_sandbox=info";

/// Builds the subscriber; `writer` lets tests capture the output (plain
/// text, no colour codes).
pub fn subscriber<W>(format: LogFormat, filter: EnvFilter, writer: W) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    build(format, filter, writer, false)
}

fn build<W>(format: LogFormat, filter: EnvFilter, writer: W, ansi: bool) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).with_target(false).with_ansi(ansi);
    match format {
        LogFormat::Text => Box::new(builder.finish()),
        LogFormat::Json => Box::new(builder.json().flatten_event(true).with_current_span(true).finish()),
    }
}

/// Installs the process-wide subscriber writing to stderr. Text logs are
/// coloured only on a terminal (and never with `NO_COLOR` set), so files
/// and CI log collectors get plain text.
pub fn init(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = tracing::subscriber::set_global_default(build(format, filter, std::io::stderr, ansi));
}

/// The text of a panic's payload, cut to a bounded length (for the
/// binary's panic hook).
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    crate::supervisor::panic_message(payload)
}
