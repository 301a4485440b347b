//! The `motpd` binary: parses the command line, runs the command, and maps errors to the documented exit codes.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc's allocator: a login allocates on the async worker and frees on the SQLite thread
/// (and back), which glibc's per-thread caches handle poorly. Its arenas are committed on demand
/// ([`commit_on_demand`]), so resident memory stays the same.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    #[cfg(not(target_os = "linux"))]
    commit_on_demand();
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

/// `mi_option_arena_eager_commit` in mimalloc's `mimalloc.h` (v2 and v3); libmimalloc-sys names no constant.
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

#[allow(unsafe_code)]
unsafe extern "C" {
    /// mimalloc's own listing of its options, on stderr (in mimalloc.h; libmimalloc-sys does not bind it).
    fn mi_options_print();
}

/// mimalloc commits its arenas on demand. On Linux it commits them eagerly by default, and memory it frees then
/// stays resident: `motpd serve` kept 72 MiB after a burst of 100,000 logins, against 52 MiB on demand. Set as
/// the default, so `MIMALLOC_ARENA_EAGER_COMMIT` still overrides it, before the first allocation reserves an
/// arena (whose commit mode is fixed then); with `MIMALLOC_VERBOSE` the options are printed again as set
/// (tests/integration/cli.rs checks both).
#[allow(unsafe_code)]
extern "C" fn commit_on_demand() {
    // SAFETY: the calls read or write entries of mimalloc's static option table (the last prints them to
    // stderr); none takes a pointer, and none needs mimalloc initialised first.
    unsafe {
        libmimalloc_sys::mi_option_set_default(MI_OPTION_ARENA_EAGER_COMMIT, 0);
        if libmimalloc_sys::mi_option_is_enabled(libmimalloc_sys::mi_option_verbose) {
            mi_options_print();
        }
    }
}

/// [`commit_on_demand`] as the binary is loaded (an `.init_array` entry), before Rust's runtime allocates the
/// main thread's name, which reserves the first arena. Before or after mimalloc's own load-time set-up: a
/// default set early survives it, and an environment variable still wins.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
#[used]
#[unsafe(link_section = ".init_array")]
static COMMIT_ON_DEMAND: extern "C" fn() = commit_on_demand;
