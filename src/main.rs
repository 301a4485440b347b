//! The `motpd` binary: parses the command line, runs the command, and maps errors to the documented exit codes.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc's allocator: a login allocates on the async worker and frees on the SQLite thread
/// (and back), which glibc's per-thread caches handle poorly. Its arenas are committed on demand
/// (`.cargo/config.toml`), so resident memory stays the same.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    private_files();
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

/// Every file motpd creates is for its own user only: the database and its `-wal`/`-shm` (password hashes, phone
/// numbers, the audit trail), the key file, the configuration, exports. Set before anything opens a file or
/// starts a thread, so no file is ever created readable by others, whatever umask the service manager left.
#[cfg(unix)]
#[allow(unsafe_code)]
fn private_files() {
    // SAFETY: umask only replaces the process's file mode mask; it cannot fail and touches no memory.
    unsafe {
        libc::umask(0o077);
    }
}

#[cfg(not(unix))]
fn private_files() {}
