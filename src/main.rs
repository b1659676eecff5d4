//! The `pesa-sandbox` binary: parse the command line, run, report.

use std::process::ExitCode;

use clap::Parser;
use pesa_sandbox::cli::{Cli, Command};
use pesa_sandbox::{telemetry, Config, Sandbox};

/// Faster than glibc's malloc for this allocation pattern (many small,
/// short-lived objects freed on other threads) and returns freed memory.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        None => serve(&cli.serve),
        Some(Command::Serve(args)) => serve(args),
        Some(helper) => pesa_sandbox::cli::run_helper(helper, &mut std::io::stdout()).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("pesa-sandbox: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn serve(args: &pesa_sandbox::cli::ServeArgs) -> anyhow::Result<ExitCode> {
    telemetry::init(args.log_format);
    // A bug that panics is caught where it happens (health turns
    // `degraded`); log it as one line rather than a backtrace on stderr.
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        tracing::error!(%location, "panic: {}", pesa_sandbox::telemetry::panic_text(info.payload()));
    }));
    let config = Config::from_args(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = runtime.block_on(async {
        let signal = pesa_sandbox::cli::ShutdownSignal::install()?;
        let sandbox = Sandbox::start(config).await?;
        println!("{}", pesa_sandbox::cli::banner(&sandbox));
        signal.recv().await;
        anyhow::Ok(sandbox.shutdown().await)
    })?;
    eprint!("{}", pesa_sandbox::cli::shutdown_summary(&report));
    Ok(if report.is_clean() { ExitCode::SUCCESS } else { ExitCode::from(pesa_sandbox::cli::EXIT_CALLBACKS_ABANDONED) })
}
