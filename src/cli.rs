//! The command line: flags as typed (every flag is also an environment
//! variable), and the small commands that help people write tests in any
//! language.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::crypto::{credential, keys, lnm, pkce};

#[derive(Debug, Parser)]
#[command(
    name = "pesa-sandbox",
    version,
    about = "A stateful local fake of Safaricom Daraja, eCitizen SSO and friends",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// `serve` is the default command; its flags work without it.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the sandbox (the default).
    Serve(ServeArgs),
    /// Print the test certificate Daraja clients encrypt initiator passwords with.
    Keys,
    /// Daraja helpers.
    #[command(subcommand)]
    Daraja(DarajaCommand),
    /// eCitizen SSO helpers.
    #[command(subcommand)]
    Ecitizen(EcitizenCommand),
}

#[derive(Debug, Subcommand)]
pub enum EcitizenCommand {
    /// Print a PKCE pair (RFC 7636, S256) as `name=value` lines: a fresh,
    /// unguessable verifier and its challenge, or the challenge of `--verifier`.
    Pkce {
        /// 43 to 128 characters of A-Z a-z 0-9 - . _ ~
        #[arg(long)]
        verifier: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DarajaCommand {
    /// Print the Lipa na M-Pesa password: base64(shortcode + passkey + timestamp).
    Password {
        #[arg(long, default_value = "174379")]
        shortcode: String,
        #[arg(long, default_value = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919")]
        passkey: String,
        /// YYYYMMDDHHmmss; the current EAT time if omitted (printed on stderr).
        #[arg(long)]
        timestamp: Option<String>,
    },
    /// Print a SecurityCredential: the password encrypted to the test certificate, as a client does.
    Credential {
        #[arg(long)]
        password: String,
        /// Encrypt to this PEM certificate instead of the sandbox's.
        #[arg(long)]
        certificate: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClockArg {
    System,
    Virtual,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "PESA_SANDBOX_LISTEN", default_value = "127.0.0.1:7372")]
    pub listen: SocketAddr,
    /// Seed for every generated id and random choice (random if omitted; printed at start).
    #[arg(long, env = "PESA_SANDBOX_SEED")]
    pub seed: Option<u64>,
    /// A world file (TOML) merged over the embedded default world.
    #[arg(long, env = "PESA_SANDBOX_WORLD")]
    pub world: Option<PathBuf>,
    /// A scenario file, a directory of them, or the name of a shipped scenario
    /// (repeatable; evaluated in order before the built-in default scenario).
    #[arg(long = "scenarios", env = "PESA_SANDBOX_SCENARIOS", value_delimiter = ',')]
    pub scenarios: Vec<PathBuf>,
    /// Log format on stderr.
    #[arg(long, env = "PESA_SANDBOX_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Where the default tenant's time comes from.
    #[arg(long, env = "PESA_SANDBOX_CLOCK", value_enum, default_value = "system")]
    pub clock: ClockArg,
    /// Start time of a virtual clock (RFC 3339); now if omitted.
    #[arg(long, env = "PESA_SANDBOX_CLOCK_START")]
    pub clock_start: Option<String>,
    /// Entries kept in each journal (callbacks, requests) per tenant.
    #[arg(long, env = "PESA_SANDBOX_JOURNAL_ENTRIES", default_value_t = 10_000)]
    pub journal_entries: usize,
    /// Settled transactions (and M-Pesa records) kept per tenant and kind for
    /// queries, status checks and reversals; older ones are forgotten.
    #[arg(long, env = "PESA_SANDBOX_RETAIN_TRANSACTIONS", default_value_t = 10_000)]
    pub retain_transactions: usize,
    /// How long one callback attempt may take.
    #[arg(long, env = "PESA_SANDBOX_CALLBACK_TIMEOUT_MS", default_value_t = 10_000)]
    pub callback_timeout_ms: u64,
    /// Connections served at once.
    #[arg(long, env = "PESA_SANDBOX_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,
    /// Token the admin API requires (generated and printed when listening beyond loopback).
    #[arg(long, env = "PESA_SANDBOX_ADMIN_TOKEN")]
    pub admin_token: Option<String>,
    /// Callback destinations allowed (repeatable): an IP network (`127.0.0.0/8`), a host
    /// (`hooks.example.test`) or a domain (`*.example.test`). Anything, when none is given.
    #[arg(long = "callback-allow", env = "PESA_SANDBOX_CALLBACK_ALLOW", value_delimiter = ',')]
    pub callback_allow: Vec<String>,
    /// Largest request body accepted.
    #[arg(long, env = "PESA_SANDBOX_BODY_LIMIT_BYTES", default_value_t = 256 * 1024)]
    pub body_limit_bytes: usize,
}

/// Runs a helper command (everything but `serve`), writing to `out`.
pub fn run_helper(command: &Command, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    match command {
        Command::Serve(_) => anyhow::bail!("serve is not a helper command"),
        Command::Keys => write!(out, "{}", crate::daraja::keys::CERTIFICATE_PEM)?,
        Command::Daraja(DarajaCommand::Password { shortcode, passkey, timestamp }) => {
            let timestamp = match timestamp {
                Some(ts) => {
                    lnm::parse_timestamp(ts)?;
                    ts.clone()
                }
                None => {
                    let ts = lnm::format_timestamp(crate::clock::eat(chrono::Utc::now()));
                    eprintln!("Timestamp: {ts}");
                    ts
                }
            };
            writeln!(out, "{}", lnm::password(shortcode, passkey, &timestamp))?;
        }
        Command::Daraja(DarajaCommand::Credential { password, certificate }) => {
            let pem = match certificate {
                Some(path) => {
                    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?
                }
                None => crate::daraja::keys::CERTIFICATE_PEM.to_owned(),
            };
            let public = keys::public_key_from_certificate(&pem)?;
            writeln!(out, "{}", credential::encrypt(&public, password.as_bytes(), &mut rand::rngs::OsRng)?)?;
        }
        Command::Ecitizen(EcitizenCommand::Pkce { verifier }) => {
            let pair = match verifier {
                Some(verifier) => pkce::PkcePair::from_verifier(verifier)
                    .map_err(|problem| anyhow::anyhow!("--verifier {problem}"))?,
                None => pkce::PkcePair::generate(&mut rand::rngs::OsRng),
            };
            writeln!(out, "code_verifier={}", pair.verifier)?;
            writeln!(out, "code_challenge={}", pair.challenge)?;
            writeln!(out, "code_challenge_method={}", pkce::ChallengeMethod::S256.as_str())?;
        }
    }
    Ok(())
}

/// What `serve` prints once it listens.
pub fn banner(sandbox: &crate::Sandbox) -> String {
    let base = sandbox.base_url();
    let creds = sandbox.credentials();
    let admin = match sandbox.admin_token() {
        Some(token) => {
            format!("\n  admin token:      {token}  (send it as Authorization: Bearer <token> to /__sandbox/)")
        }
        None => String::new(),
    };
    format!(
        "pesa-sandbox {version} listening on {base}\n\
         \x20 Daraja base URL:  {base}\n\
         \x20 consumer key:     {key}  (secret and passkeys: {base}/__sandbox/credentials)\n\
         \x20 certificate:      {base}/__sandbox/keys/daraja.pem\n\
         \x20 eCitizen SSO:     {discovery}  (client {client})\n\
         \x20 seed:             {seed}  (replay this run with --seed {seed}){admin}",
        version = env!("CARGO_PKG_VERSION"),
        key = creds.daraja.consumer_key,
        discovery = creds.ecitizen.discovery_url,
        client = creds.ecitizen.client_id,
        seed = sandbox.seed(),
    )
}

/// SIGINT (Ctrl-C) and SIGTERM, listened for from the moment of creation,
/// so a signal that arrives right after start-up is never missed.
pub struct ShutdownSignal {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    /// Installs the handlers; call it before announcing readiness.
    pub fn install() -> std::io::Result<ShutdownSignal> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(ShutdownSignal {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(ShutdownSignal {})
    }

    /// Resolves on the first SIGINT or SIGTERM.
    pub async fn recv(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {},
            _ = self.terminate.recv() => {},
        }
        #[cfg(not(unix))]
        {
            let _ = &mut self;
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
