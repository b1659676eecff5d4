//! Validated configuration.
//!
//! Two stages: [`crate::cli::ServeArgs`] holds the flags as typed (no I/O);
//! [`Config::from_args`] reads files, validates and may fail.
//! Embedders build a [`Config`] directly, starting from [`Config::local`].

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::callbacks::{BreakerConfig, EngineConfig};
use crate::cli::{ClockArg, ServeArgs};
use crate::ids::Secrets;
use crate::scenarios::{Scenario, ScenarioError};
use crate::server::ServerLimits;
use crate::store::Limits;
use crate::world::{World, WorldDoc, WorldError};

#[derive(Debug, Clone, Copy)]
pub enum ClockMode {
    System,
    Virtual { start: DateTime<Utc> },
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Seeds every identifier and random choice; the same seed and the same
    /// requests give the same results.
    pub seed: u64,
    pub(crate) world: World,
    /// Scenarios loaded into the default tenant, evaluated in order before
    /// the built-in default scenario.
    pub scenarios: Vec<Scenario>,
    pub clock: ClockMode,
    pub limits: Limits,
    pub callbacks: EngineConfig,
    pub body_limit_bytes: usize,
    pub request_timeout: Duration,
    pub server: ServerLimits,
    /// When set, admin calls need `Authorization: Bearer <token>` (or
    /// `x-sandbox-admin-token`). Generated (from the operating system's
    /// randomness) when listening beyond loopback; an empty one is refused.
    pub admin_token: Option<String>,
    /// Where tokens and generated secrets come from (see [`Secrets`]).
    pub secrets: Secrets,
    /// When not empty, callbacks go only to these destinations.
    pub callback_allow: Vec<crate::callbacks::Destination>,
    /// How long shutdown waits for in-flight requests and callbacks.
    pub shutdown_grace: Duration,
    /// Serve HTTPS with this certificate and key (beside plain HTTP, on the
    /// same ports); `None` serves plain HTTP only.
    pub tls: Option<crate::tls::TlsIdentity>,
    /// More addresses to serve the same sandbox on (a provider's fixed
    /// per-API ports, such as the Vodafone portal's).
    pub also_listen: Vec<SocketAddr>,
}

/// The largest request body read by default (`--body-limit-bytes`).
pub(crate) const DEFAULT_BODY_LIMIT_BYTES: usize = 256 * 1024;

impl Config {
    /// A sandbox for in-process use: loopback, a free port, the default
    /// world, the system clock and a random seed.
    pub fn local() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: rand::random(),
            world: World::default_world(),
            scenarios: Vec::new(),
            clock: ClockMode::System,
            limits: Limits {
                journal_entries: 10_000,
                ledger_history: 10_000,
                transactions: 10_000,
                journal_bytes: 16 * 1024 * 1024,
                max_tenants: 1_000,
            },
            callbacks: EngineConfig {
                queue_capacity: 4_096,
                concurrency: 64,
                max_in_flight: 512,
                timeout: Duration::from_secs(10),
                connect_timeout: Duration::from_secs(2),
                response_capture_bytes: 4096,
                breaker: BreakerConfig { failures: 5, window: Duration::from_secs(1) },
            },
            body_limit_bytes: DEFAULT_BODY_LIMIT_BYTES,
            request_timeout: Duration::from_secs(60),
            server: ServerLimits {
                header_read_timeout: Duration::from_secs(10),
                body_read_timeout: Duration::from_secs(10),
                max_connections: 4096,
                max_header_bytes: 64 * 1024,
            },
            admin_token: None,
            secrets: Secrets::Auto,
            callback_allow: Vec::new(),
            shutdown_grace: Duration::from_secs(5),
            tls: None,
            also_listen: Vec::new(),
        }
    }

    pub fn with_seed(mut self, seed: u64) -> Config {
        self.seed = seed;
        self
    }

    /// Merges a world document (TOML text) over the default world.
    pub fn with_world_toml(mut self, toml: &str) -> Result<Config, WorldError> {
        let doc = World::parse_doc(toml, "world document")?;
        self.world = World::from_overlays(&[(doc, "world document".into())])?;
        Ok(self)
    }

    /// Adds a scenario (TOML text) to the default tenant.
    pub fn with_scenario_toml(mut self, toml: &str) -> Result<Config, ScenarioError> {
        self.scenarios.push(Scenario::parse(toml, "scenario document")?);
        Ok(self)
    }

    /// Adds a shipped scenario by name (see `scenarios/`).
    pub fn with_shipped_scenario(mut self, name: &str) -> Result<Config, ScenarioError> {
        let scenario = crate::scenarios::shipped(name).ok_or_else(|| ScenarioError {
            origin: name.to_owned(),
            message: "no shipped scenario has this name".into(),
        })?;
        self.scenarios.push((*scenario).clone());
        Ok(self)
    }

    pub fn with_clock(mut self, clock: ClockMode) -> Config {
        self.clock = clock;
        self
    }

    /// Serves HTTPS too, with the committed test CA's `localhost` certificate.
    pub fn with_test_tls(mut self) -> Config {
        self.tls = Some(crate::tls::TlsIdentity::test_localhost());
        self
    }

    /// Serves the sandbox on one more address too.
    pub fn also_listening_on(mut self, addr: SocketAddr) -> Config {
        self.also_listen.push(addr);
        self
    }

    pub fn from_args(args: &ServeArgs) -> anyhow::Result<Config> {
        let mut config = Config::local();
        config.listen = args.listen;
        if let Some(seed) = args.seed {
            config.seed = seed;
        }
        if let Some(path) = &args.world {
            config.world = load_world(path)?;
        }
        for path in &args.scenarios {
            match crate::scenarios::shipped(&path.to_string_lossy()) {
                Some(scenario) if !path.exists() => config.scenarios.push((*scenario).clone()),
                _ => config.scenarios.extend(crate::scenarios::load_path(path)?),
            }
        }
        config.clock = match args.clock {
            ClockArg::System => ClockMode::System,
            ClockArg::Virtual => {
                let start = match &args.clock_start {
                    Some(text) => DateTime::parse_from_rfc3339(text)
                        .with_context(|| {
                            format!("--clock-start {text:?} is not an RFC 3339 time (e.g. 2026-01-31T09:00:00+03:00)")
                        })?
                        .with_timezone(&Utc),
                    None => Utc::now(),
                };
                ClockMode::Virtual { start }
            }
        };
        config.limits.journal_entries = args.journal_entries.max(1);
        config.limits.transactions = args.retain_transactions.max(1);
        config.callbacks.timeout = Duration::from_millis(args.callback_timeout_ms.max(1));
        config.callbacks.breaker = BreakerConfig {
            failures: args.callback_breaker_failures,
            window: Duration::from_millis(args.callback_breaker_ms),
        };
        config.body_limit_bytes = args.body_limit_bytes.max(1024);
        config.server.max_connections = args.max_connections.max(1);
        config.shutdown_grace = Duration::from_millis(args.shutdown_grace_ms);
        config.admin_token = args.admin_token.clone();
        if args.deterministic_secrets {
            config.secrets = Secrets::Seeded;
        }
        config.limits.journal_bytes = args.journal_bytes.max(64 * 1024);
        config.limits.max_tenants = args.max_tenants.max(1);
        config.callback_allow = args
            .callback_allow
            .iter()
            .map(|text| text.parse().map_err(|e| anyhow::anyhow!("--callback-allow {text:?}: {e}")))
            .collect::<anyhow::Result<_>>()?;
        config.tls = match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some(crate::tls::TlsIdentity {
                cert_pem: std::fs::read_to_string(cert)
                    .with_context(|| format!("cannot read --tls-cert {}", cert.display()))?,
                key_pem: std::fs::read_to_string(key)
                    .with_context(|| format!("cannot read --tls-key {}", key.display()))?,
            }),
            (None, None) if args.tls => Some(crate::tls::TlsIdentity::test_localhost()),
            (None, None) => None,
            _ => anyhow::bail!("--tls-cert and --tls-key go together"),
        };
        config.also_listen = args.also_listen.clone();
        for port in args.provider_ports() {
            let addr = SocketAddr::new(config.listen.ip(), port);
            if !config.also_listen.contains(&addr) {
                config.also_listen.push(addr);
            }
        }
        Ok(config)
    }
}

fn load_world(path: &Path) -> anyhow::Result<World> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read world file {origin}"))?;
    let doc: WorldDoc = World::parse_doc(&text, &origin)?;
    Ok(World::from_overlays(&[(doc, origin)])?)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::Cli;

    fn config(args: &[&str]) -> Config {
        let cli = Cli::try_parse_from(args).expect("flags parse");
        Config::from_args(&cli.serve).expect("flags make a config")
    }

    #[test]
    fn retention_flags_bound_what_a_tenant_keeps() {
        let defaults = config(&["pesa-sandbox"]);
        assert_eq!(defaults.limits.transactions, 10_000);
        assert_eq!(defaults.limits.journal_entries, 10_000);
        let set = config(&["pesa-sandbox", "--retain-transactions", "25", "--journal-entries", "7"]);
        assert_eq!(set.limits.transactions, 25);
        assert_eq!(set.limits.journal_entries, 7);
        assert_eq!(config(&["pesa-sandbox", "--retain-transactions", "0"]).limits.transactions, 1);
    }

    #[test]
    fn tls_and_the_vodafone_ports_come_from_flags() {
        let plain = config(&["pesa-sandbox"]);
        assert!(plain.tls.is_none() && plain.also_listen.is_empty());
        let set = config(&["pesa-sandbox", "--tls", "--vodafone-ports", "--also-listen", "127.0.0.1:9000"]);
        assert!(set.tls.is_some());
        let ports: Vec<u16> = set.also_listen.iter().map(|a| a.port()).collect();
        assert_eq!(ports, [9000, 18352, 18345, 18349, 18354, 18353]);
        let cli = Cli::try_parse_from(["pesa-sandbox", "--tls-cert", "c.pem"]).expect("flags parse");
        assert!(Config::from_args(&cli.serve).is_err(), "a certificate needs its key");
    }
}
