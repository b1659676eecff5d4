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
        Some(helper) => pesa_sandbox::cli::run_helper(helper, &mut std::io::stdout()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pesa-sandbox: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn serve(args: &pesa_sandbox::cli::ServeArgs) -> anyhow::Result<()> {
    telemetry::init(args.log_format);
    let config = Config::from_args(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let signal = pesa_sandbox::cli::ShutdownSignal::install()?;
        let sandbox = Sandbox::start(config).await?;
        println!("{}", pesa_sandbox::cli::banner(&sandbox));
        signal.recv().await;
        sandbox.shutdown().await;
        anyhow::Ok(())
    })
}
