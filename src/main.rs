//! The `pesa-sandbox` binary: parse the command line, run, report.

use std::process::ExitCode;

use clap::Parser;
use pesa_sandbox::cli::{Cli, Command};
use pesa_sandbox::{telemetry, Config, Sandbox};

/// Faster than glibc's malloc for this allocation pattern (many small,
/// short-lived objects freed on other threads) and returns freed memory.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `purge_delay` option, by its index in v2's `mi_option_t` (the
/// crate leaves it out of its constants; `tune_allocator` checks the index
/// still holds the documented default before changing it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
/// v2's default purge delay, in milliseconds.
const MI_DEFAULT_PURGE_DELAY_MS: std::ffi::c_long = 10;
/// How long freed memory stays with the process before it goes back to the
/// OS. v2 returns it after 10 ms: under a steady load every retained record
/// evicted frees pages that the next requests fault in again, and each
/// return is a system call that interrupts the other core's threads to
/// flush their TLBs. At 100 ms a push cost 12% less server CPU in the load
/// benchmark's phase (b), for 4 MiB more at the peak of a million pushes
/// (README "Performance").
const PURGE_DELAY_MS: std::ffi::c_long = 100;

/// Applies `PURGE_DELAY_MS` unless the user set mimalloc's own variable
/// (`MIMALLOC_PURGE_DELAY`, or its older name `MIMALLOC_RESET_DELAY`),
/// which then wins as mimalloc documents.
fn tune_allocator() {
    if ["MIMALLOC_PURGE_DELAY", "MIMALLOC_RESET_DELAY"].iter().any(|name| std::env::var_os(name).is_some()) {
        return;
    }
    // SAFETY: mimalloc's option calls take any option index (out of range is
    // ignored) and are made here before the runtime starts any thread, as
    // their documentation asks ("not thread safe").
    unsafe {
        if libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) == MI_DEFAULT_PURGE_DELAY_MS {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS);
        }
    }
}

fn main() -> ExitCode {
    tune_allocator();
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
