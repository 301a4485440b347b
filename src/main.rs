//! The `motpd` binary: parses the command line, runs the command, and maps errors to the documented exit codes.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = motpd::cli::Cli::parse();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = motpd::cli::worker_threads(&cli) {
        builder.worker_threads(workers);
    }
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(motpd::cli::run(cli));
    motpd::telemetry::flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(motpd::cli::exit_code(&error))
        }
    }
}
