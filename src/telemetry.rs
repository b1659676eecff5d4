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
pub const DEFAULT_FILTER: &str = "pesa_sandbox=info,tower_http=warn";

/// Builds the subscriber; `writer` lets tests capture the output.
pub fn subscriber<W>(format: LogFormat, filter: EnvFilter, writer: W) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).with_target(false);
    match format {
        LogFormat::Text => Box::new(builder.finish()),
        LogFormat::Json => Box::new(builder.json().flatten_event(true).with_current_span(true).finish()),
    }
}

/// Installs the process-wide subscriber writing to stderr.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let _ = tracing::subscriber::set_global_default(subscriber(format, filter, std::io::stderr));
}
