//! The command line: flags as typed (every flag is also an environment
//! variable), and the small commands that help people write tests in any
//! language.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::crypto::secure_hash::{self, HashEncoding, HashKey, Recipe};
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

// Parsed once per run: boxing `serve`'s flags would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the sandbox (the default).
    Serve(ServeArgs),
    /// Print the public keys clients encrypt with: Daraja's test certificate,
    /// or with --vodafone the Vodafone M-Pesa public key as the portal prints it.
    Keys(KeysArgs),
    /// Daraja helpers.
    #[command(subcommand)]
    Daraja(DarajaCommand),
    /// Vodafone / Vodacom M-Pesa helpers.
    #[command(subcommand)]
    Vodafone(VodafoneCommand),
    /// Pesaflow helpers.
    #[command(subcommand)]
    Pesaflow(PesaflowCommand),
    /// eCitizen SSO helpers.
    #[command(subcommand)]
    Ecitizen(EcitizenCommand),
    /// Print the test CA that `--tls` serving chains to (make clients trust it).
    TlsCa,
}

#[derive(Debug, Args)]
pub struct KeysArgs {
    /// The Vodafone M-Pesa public key (one line of Base64 DER SubjectPublicKeyInfo).
    #[arg(long)]
    pub vodafone: bool,
    /// With --vodafone: 4096 (as the real gateways) or 2048 (a world with `key_size = 2048`).
    #[arg(long, default_value_t = 4096, requires = "vodafone")]
    pub key_size: u64,
    /// With --vodafone: as a PEM `PUBLIC KEY` block instead.
    #[arg(long, requires = "vodafone")]
    pub pem: bool,
}

#[derive(Debug, Subcommand)]
pub enum VodafoneCommand {
    /// Print an `Authorization` bearer exactly as the portal's Java sample
    /// makes it: base64(RSA-PKCS#1 v1.5(API key or session id)).
    Bearer {
        /// The API key (the portal's calls, the OpenAPI's getSession).
        #[arg(long, required_unless_present = "session_id", conflicts_with = "session_id")]
        api_key: Option<String>,
        /// An OpenAPI session id (every OpenAPI call but getSession).
        #[arg(long)]
        session_id: Option<String>,
        /// Encrypt to this Base64 SPKI public key instead of the sandbox's.
        #[arg(long)]
        public_key: Option<String>,
        /// The sandbox key to encrypt to: 4096 or 2048.
        #[arg(long, default_value_t = 4096)]
        key_size: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum PesaflowCommand {
    /// Print a Pesaflow secure hash: HMAC-SHA256 keyed by the key over the
    /// recipe's values concatenated, then the secret (except for `status`),
    /// written as base64 of the lowercase hex digest by default. Values are
    /// hashed exactly as given: "5" and "5.00" differ.
    Hash {
        /// checkout, validate, confirm, notification, notification-invoice-amount, status or ussd.
        recipe: String,
        /// The recipe's values in order, e.g. for checkout: apiClientID amountExpected
        /// serviceID clientIDNumber currency billRefNumber billDesc clientName.
        values: Vec<String>,
        /// The client's key (the default world's client 1 if omitted).
        #[arg(long, default_value = "PesaflowSandboxKey")]
        key: String,
        /// The client's secret (the default world's client 1 if omitted).
        #[arg(long, default_value = "PesaflowSandboxSecret")]
        secret: String,
        /// b64hex (what the live server accepts), hex, b64raw or b64raw-lowercase.
        #[arg(long, default_value = "b64hex")]
        encoding: String,
    },
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
    #[arg(long, env = "PESA_SANDBOX_JOURNAL_ENTRIES", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=10_000_000), default_value_t = 10_000)]
    pub journal_entries: usize,
    /// Bytes each journal of a tenant may hold; the oldest entries go beyond it.
    #[arg(long, env = "PESA_SANDBOX_JOURNAL_BYTES", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=(1u64 << 40)), default_value_t = 16 * 1024 * 1024)]
    pub journal_bytes: usize,
    /// Tenants the sandbox holds at once, the default one included.
    #[arg(long, env = "PESA_SANDBOX_MAX_TENANTS", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000), default_value_t = 1_000)]
    pub max_tenants: usize,
    /// Settled transactions (and M-Pesa records) kept per tenant and kind for
    /// queries, status checks and reversals; older ones are forgotten.
    #[arg(long, env = "PESA_SANDBOX_RETAIN_TRANSACTIONS", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=10_000_000), default_value_t = 10_000)]
    pub retain_transactions: usize,
    /// How long one callback attempt may take.
    #[arg(long, env = "PESA_SANDBOX_CALLBACK_TIMEOUT_MS", value_parser = clap::value_parser!(u64).range(1..=600_000), default_value_t = 10_000)]
    pub callback_timeout_ms: u64,
    /// Unanswered attempts in a row (refused, reset, timed out) after which a
    /// callback destination's circuit opens and its attempts fail at once,
    /// journaled, without a connection; 0 always tries.
    #[arg(long, env = "PESA_SANDBOX_CALLBACK_BREAKER_FAILURES", value_parser = clap::value_parser!(u32).range(0..=1_000_000), default_value_t = 5)]
    pub callback_breaker_failures: u32,
    /// How long an open circuit waits before one attempt probes the
    /// destination again, and how long a destination may leave as many
    /// attempts in flight unanswered, while its tenant's callbacks back up,
    /// before it is treated as down.
    #[arg(long, env = "PESA_SANDBOX_CALLBACK_BREAKER_MS", value_parser = clap::value_parser!(u64).range(1..=3_600_000), default_value_t = 1_000)]
    pub callback_breaker_ms: u64,
    /// Connections served at once.
    #[arg(long, env = "PESA_SANDBOX_MAX_CONNECTIONS", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000), default_value_t = 4096)]
    pub max_connections: usize,
    /// Token the admin API requires (generated and printed when listening beyond loopback;
    /// an empty one is refused).
    #[arg(long, env = "PESA_SANDBOX_ADMIN_TOKEN")]
    pub admin_token: Option<String>,
    /// Derive tokens and generated secrets from the seed even when listening beyond
    /// loopback (they then are predictable to anyone who knows the seed).
    #[arg(long, env = "PESA_SANDBOX_DETERMINISTIC_SECRETS")]
    pub deterministic_secrets: bool,
    /// Callback destinations allowed (repeatable): an IP network (`127.0.0.0/8`), a host
    /// (`hooks.example.test`) or a domain (`*.example.test`). Anything, when none is given.
    #[arg(long = "callback-allow", env = "PESA_SANDBOX_CALLBACK_ALLOW", value_delimiter = ',')]
    pub callback_allow: Vec<String>,
    /// Largest request body accepted.
    #[arg(long, env = "PESA_SANDBOX_BODY_LIMIT_BYTES", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=(64u64 << 20)), default_value_t = crate::config::DEFAULT_BODY_LIMIT_BYTES)]
    pub body_limit_bytes: usize,
    /// On SIGTERM or SIGINT, how long to keep delivering queued callbacks
    /// and those falling due before stopping; what is left is listed, and
    /// the exit status is 3 if a due callback was abandoned.
    #[arg(long, env = "PESA_SANDBOX_SHUTDOWN_GRACE_MS", value_parser = clap::value_parser!(u64).range(0..=3_600_000), default_value_t = 5_000)]
    pub shutdown_grace_ms: u64,
    /// Serve HTTPS too (on the same ports as HTTP) with the committed test
    /// CA's localhost certificate (`pesa-sandbox tls-ca` prints the CA).
    #[arg(long, env = "PESA_SANDBOX_TLS")]
    pub tls: bool,
    /// Serve HTTPS with this PEM certificate chain instead (with --tls-key).
    #[arg(long, env = "PESA_SANDBOX_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "PESA_SANDBOX_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Also serve on this address (repeatable).
    #[arg(long = "also-listen", env = "PESA_SANDBOX_ALSO_LISTEN", value_delimiter = ',')]
    pub also_listen: Vec<SocketAddr>,
    /// Also serve on the Vodafone M-Pesa portal's per-API ports (18352 C2B,
    /// 18345 B2C, 18349 B2B, 18354 reversal, 18353 status), on the listen
    /// address's IP, so portal SDKs that fix the port run unmodified.
    #[arg(long, env = "PESA_SANDBOX_VODAFONE_PORTS")]
    pub vodafone_ports: bool,
}

impl ServeArgs {
    /// The fixed ports providers' SDKs need, as the flags ask for them.
    pub fn provider_ports(&self) -> Vec<u16> {
        if !self.vodafone_ports {
            return Vec::new();
        }
        crate::vodafone::api::Api::PORTAL.iter().filter_map(|api| api.portal_port()).collect()
    }
}

/// Runs a helper command (everything but `serve`), writing to `out`.
pub fn run_helper(command: &Command, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    match command {
        Command::Serve(_) => anyhow::bail!("serve is not a helper command"),
        Command::Keys(args) if args.vodafone => {
            let keys = vodafone_keys(args.key_size)?;
            match args.pem {
                true => write!(out, "{}", keys.public_pem())?,
                false => writeln!(out, "{}", keys.spki_base64)?,
            }
        }
        Command::Keys(_) => write!(out, "{}", crate::daraja::keys::CERTIFICATE_PEM)?,
        Command::TlsCa => write!(out, "{}", crate::tls::CA_PEM)?,
        Command::Vodafone(VodafoneCommand::Bearer { api_key, session_id, public_key, key_size }) => {
            let secret = api_key.as_deref().or(session_id.as_deref()).unwrap_or_default();
            let public = match public_key {
                Some(line) => crate::crypto::spki::from_base64(line)?,
                None => vodafone_keys(*key_size)?.public,
            };
            writeln!(out, "{}", credential::encrypt(&public, secret.as_bytes(), &mut rand::rngs::OsRng)?)?;
        }
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
        Command::Pesaflow(PesaflowCommand::Hash { recipe, values, key, secret, encoding }) => {
            let names: Vec<&str> = Recipe::ALL.iter().map(|r| r.name()).collect();
            let recipe = Recipe::from_name(recipe)
                .with_context(|| format!("recipe {recipe:?} is not one of {}", names.join(", ")))?;
            let encodings: Vec<&str> = HashEncoding::ALL.iter().map(|e| e.name()).collect();
            let encoding = HashEncoding::from_name(encoding)
                .with_context(|| format!("encoding {encoding:?} is not one of {}", encodings.join(", ")))?;
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            let hash = secure_hash::secure_hash(recipe, &values, HashKey { key, secret }, encoding)?;
            eprintln!("Recipe: {} = {}", recipe.formula(), recipe_values(recipe, &values));
            writeln!(out, "{hash}")?;
        }
    }
    Ok(())
}

/// A committed Vodafone key pair by size.
fn vodafone_keys(bits: u64) -> anyhow::Result<crate::vodafone::keys::ProviderKeys> {
    use crate::vodafone::keys::{KeySize, ProviderKeys};
    let size =
        KeySize::from_bits(bits).ok_or_else(|| anyhow::anyhow!("--key-size {bits}: the sandbox has 4096 and 2048"))?;
    Ok(ProviderKeys::load(size)?)
}

/// The values of a recipe as the hash concatenates them, the secret hidden.
fn recipe_values(recipe: Recipe, values: &[&str]) -> String {
    let mut parts: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    if recipe.appends_secret() {
        parts.push("<secret>".into());
    }
    parts.join(" + ")
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
         \x20 seed:             {seed}  (replay this run with --seed {seed}){admin}\n\
         \x20 Vodafone portal:  {base}/ipg/v1x/  (API key {vodafone_key}; public key: {base}/__sandbox/vodafone/public-key)\n\
         \x20 Vodafone OpenAPI: {base}/sandbox/ipg/v2/{{market}}/{https}{also}",
        version = env!("CARGO_PKG_VERSION"),
        key = creds.daraja.consumer_key,
        discovery = creds.ecitizen.discovery_url,
        client = creds.ecitizen.client_id,
        vodafone_key = creds.vodafone.api_key,
        https = match sandbox.https_url() {
            Some(url) => format!("\n  HTTPS:            {url}  (test CA: {base}/__sandbox/tls/ca.pem)"),
            None => String::new(),
        },
        also = match sandbox.also_listening() {
            [] => String::new(),
            addrs => format!(
                "\n  also listening:   {}",
                addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ")
            ),
        },
        seed = sandbox.seed(),
    )
}

/// The exit status when a due callback was abandoned at shutdown.
pub const EXIT_CALLBACKS_ABANDONED: u8 = 3;

/// What `serve` prints on stderr once it stopped: whether every due
/// callback went out, and each one that did not (tenant, transaction, URL).
pub fn shutdown_summary(report: &crate::ShutdownReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    if report.is_clean() {
        out.push_str("pesa-sandbox stopped: every due callback was delivered");
    } else {
        let _ = write!(
            out,
            "pesa-sandbox stopped: {} due callback(s) abandoned (exit status {EXIT_CALLBACKS_ABANDONED})",
            report.abandoned_count
        );
    }
    if report.scheduled_count > 0 {
        let _ = write!(out, "; {} callback(s) scheduled for later were dropped", report.scheduled_count);
    }
    out.push_str("; nothing survives a restart\n");
    let lines =
        report.abandoned.iter().map(|c| ("abandoned", c)).chain(report.scheduled.iter().map(|c| ("dropped", c)));
    for (what, c) in lines {
        let _ = writeln!(
            out,
            "  {what} ({}): tenant {} {} {} transaction {} to {}",
            c.state, c.tenant, c.provider, c.kind, c.correlation_id, c.url
        );
    }
    let unlisted = report.abandoned_count.saturating_sub(report.abandoned.len())
        + report.scheduled_count.saturating_sub(report.scheduled.len());
    if unlisted > 0 {
        let _ = writeln!(out, "  … and {unlisted} more");
    }
    out
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
