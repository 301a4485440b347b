//! The `motpd` command line: parses arguments, loads the configuration, opens the key and the store, runs one
//! command and prints its result. The only place (with `main.rs`) that prints, and the only user of `anyhow`.
//!
//! Every error message says what went wrong and what to do; [`exit_code`] maps the error to the documented exit
//! code (see [`args::EXIT_CODES`]).

mod admin;
pub mod args;
mod audit;
mod backup;
mod backup_check;
mod changes;
mod client;
mod config_check;
mod confirm;
mod context;
mod db_lock;
mod device;
mod docs;
mod init;
mod invite;
mod password_prompt;
mod reload;
mod report;
mod secrets;
mod serve;
mod user;
mod user_list;
mod user_proofs;
mod user_sync;

use std::io::Read;

use anyhow::Context as _;

pub use args::Cli;
use args::Command;

use crate::config::ConfigError;
use crate::directory::DirectoryError;
use crate::engine::admins::AdminError;
use crate::engine::directory_sync::SyncError;
use crate::engine::enrollment::EnrollError;
use crate::engine::helpdesk::HelpdeskError;
use crate::engine::invitations::InviteError;
use crate::engine::radius_clients::ClientError;
use crate::secrets::{SecretError, SecretString};
use crate::store::StoreError;

/// Errors the CLI itself raises (the others come from the library's typed errors).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad input from the user (arguments, stdin, file rows).
    #[error("{0}")]
    Input(String),
    /// The named thing does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The command needs something the invocation lacks (a confirmation without a terminal).
    #[error("{0}")]
    Usage(String),
    /// The person answered no at the confirmation prompt.
    #[error("not confirmed; nothing was done")]
    Declined,
    /// It already exists or is already bound (the message names the option that overrides it).
    #[error("{0}")]
    Conflict(String),
}

/// Runs one command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if !matches!(cli.command, Command::Serve) {
        end_quietly_on_closed_output();
    }
    let config_path = cli.config.as_deref();
    match cli.command {
        Command::Serve => serve::run(config_path).await,
        Command::Init => init::run(config_path).await,
        Command::Client(command) => client::run(config_path, command).await,
        Command::User(command) => user::run(config_path, command).await,
        Command::Device(command) => device::run(config_path, command).await,
        Command::Admin(command) => admin::run(config_path, command).await,
        Command::Invite(args) => invite::run(config_path, args).await,
        Command::Report(command) => report::run(config_path, command).await,
        Command::Audit(command) => audit::run(config_path, command).await,
        Command::Backup { file, force } => backup::backup(config_path, &file, force).await,
        Command::Restore { file } => backup::restore(config_path, &file).await,
        Command::Config(args::ConfigCommand::Check(args)) => {
            config_check::run(config_path, &args).await
        }
        Command::Secrets(command) => secrets::run(config_path, command).await,
        Command::Completions { shell } => docs::completions(shell),
        Command::Man { dir } => docs::man(dir.as_deref()),
    }
}

/// An admin command whose output is piped into `head` (or a closed terminal) ends as a Unix tool does, by
/// SIGPIPE, instead of panicking in `println!`. Not for `serve`, whose sockets must never raise it.
#[allow(unsafe_code)]
fn end_quietly_on_closed_output() {
    // SAFETY: restores the default disposition of one signal before any thread of ours writes to a pipe; no
    // handler is installed, so nothing runs in signal context.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// How many async worker threads the command should run with, when the default (one per core) is not the
/// best: `motpd serve` on an SQLite file leaves one core to the store's writer thread, the part of a login that
/// cannot run in parallel. `None`: the default, or
/// `TOKIO_WORKER_THREADS` when set. A configuration that cannot be read also gives `None`: the command
/// itself then reports it.
pub fn worker_threads(cli: &Cli) -> Option<usize> {
    if !matches!(cli.command, Command::Serve) || std::env::var_os("TOKIO_WORKER_THREADS").is_some()
    {
        return None;
    }
    let (config, _) = context::load_config(cli.config.as_deref()).ok()?;
    if !crate::store::has_writer_thread(&config.database.url) {
        return None;
    }
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    Some(cores.saturating_sub(1).max(1))
}

/// The documented exit code for an error.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if let Some(check) = cause.downcast_ref::<config_check::ChecksFailed>() {
            return check.exit_code;
        }
        if cause.is::<ConfigError>() {
            return 3;
        }
        if cause.is::<SecretError>() || cause.is::<context::KeyMismatch>() {
            return 4;
        }
        if let Some(backup) = cause.downcast_ref::<backup_check::BackupError>() {
            return backup.exit_code();
        }
        if cause.is::<db_lock::LockError>() {
            return match cause.downcast_ref::<db_lock::LockError>() {
                Some(db_lock::LockError::Io { .. }) => 1,
                _ => 10,
            };
        }
        if let Some(store) = cause.downcast_ref::<StoreError>() {
            return match store {
                StoreError::NotFound(_) => 6,
                StoreError::Conflict(_) => 7,
                StoreError::UnsupportedUrl(_) => 3,
                StoreError::Key(_) => 4,
                _ => 5,
            };
        }
        if let Some(enroll) = cause.downcast_ref::<EnrollError>() {
            return match enroll {
                EnrollError::NoSuchAccount(_) => 6,
                EnrollError::Otp(_) | EnrollError::MissingPin => 8,
                EnrollError::Secret(_) => 4,
                EnrollError::Store(StoreError::Conflict(_)) => 7,
                EnrollError::Store(_) => 5,
            };
        }
        if let Some(helpdesk) = cause.downcast_ref::<HelpdeskError>() {
            return match helpdesk {
                HelpdeskError::NoSuchAccount(_) => 6,
                HelpdeskError::NoLocalPasswords(_) => 7,
                HelpdeskError::PastDate { .. } => 8,
                HelpdeskError::Secret(_) => 4,
                HelpdeskError::Store(_) => 5,
            };
        }
        if let Some(client) = cause.downcast_ref::<ClientError>() {
            return match client {
                ClientError::Name(_) | ClientError::Address(_) | ClientError::SecretLength => 8,
                ClientError::Exists(_) | ClientError::SharedAddress { .. } => 7,
                ClientError::NoSuchClient(_) => 6,
                ClientError::Secret(_) => 4,
                ClientError::Store(StoreError::Conflict(_)) => 7,
                ClientError::Store(_) => 5,
            };
        }
        if let Some(admin) = cause.downcast_ref::<AdminError>() {
            return match admin {
                AdminError::NoSuchAdmin(_) => 6,
                AdminError::Name(_) | AdminError::Otp(_) | AdminError::Password(_) => 8,
                AdminError::Itself(_) => 7,
                AdminError::Secret(_) => 4,
                AdminError::Hash => 1,
                AdminError::Store(StoreError::Conflict(_)) => 7,
                AdminError::Store(_) => 5,
            };
        }
        if let Some(invite) = cause.downcast_ref::<InviteError>() {
            return match invite {
                InviteError::NoSuchAccount(_) => 6,
                InviteError::NoEmail(_) | InviteError::Disabled(_) | InviteError::Expired(_) => 8,
                InviteError::AlreadyBound(_) => 7,
                InviteError::Secret(_) => 4,
                InviteError::Engine(_) => 5,
                InviteError::Mail { .. } | InviteError::Qr(_) => 1,
            };
        }
        if let Some(sync) = cause.downcast_ref::<SyncError>() {
            return match sync {
                SyncError::Directory(DirectoryError::Settings(_)) => 3,
                SyncError::Directory(_) => 14,
                SyncError::Brake(_) => 15,
                SyncError::Busy => 7,
                SyncError::Store(StoreError::Key(_)) => 4,
                SyncError::Store(_) => 5,
            };
        }
        if let Some(directory) = cause.downcast_ref::<DirectoryError>() {
            return match directory {
                DirectoryError::Settings(_) => 3,
                _ => 14,
            };
        }
        if let Some(cli) = cause.downcast_ref::<CliError>() {
            return match cli {
                CliError::Input(_) => 8,
                CliError::NotFound(_) => 6,
                CliError::Usage(_) => 2,
                CliError::Declined => 1,
                CliError::Conflict(_) => 7,
            };
        }
    }
    1
}

/// `--reason` as the audit row keeps it (trimmed and bounded as the console's); `None` when absent or blank.
pub(crate) fn reason(typed: Option<&str>) -> Option<String> {
    typed
        .map(crate::engine::helpdesk::reason_text)
        .filter(|text| !text.is_empty())
}

/// Reads a secret from standard input: all of it, without the final line break.
pub(crate) fn read_stdin_secret(what: &str) -> anyhow::Result<SecretString> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .with_context(|| format!("while reading the {what} from standard input"))?;
    let trimmed = text.trim_end_matches(['\n', '\r']).to_owned();
    text.clear();
    if trimmed.is_empty() {
        return Err(CliError::Input(format!(
            "no {what} on standard input; pipe it in, e.g. `printf '%s' \"$VALUE\" | motpd ...`"
        ))
        .into());
    }
    Ok(SecretString::new(trimmed))
}

/// Tells the admin that an import file was not UTF-8 and how it was read.
pub(crate) fn note_encoding(file: &std::path::Path, encoding: crate::import::text::SourceEncoding) {
    if encoding == crate::import::text::SourceEncoding::Big5 {
        eprintln!(
            "{}: not UTF-8; read as Big5 (Excel's \"CSV\" on Taiwanese Windows). Check the names below, or save \
             it as \"CSV UTF-8 (comma delimited)\" in Excel",
            file.display()
        );
    }
}

/// Prints rows as an aligned table. Widths are terminal columns, not characters: a Chinese character takes
/// two.
pub(crate) fn print_table(header: &[&str], rows: &[Vec<String>]) {
    use unicode_width::UnicodeWidthStr as _;
    let mut widths: Vec<usize> = header.iter().map(|h| h.width()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.width());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w.saturating_sub(c.width()))))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.iter().map(|h| (*h).to_owned()).collect());
    for row in rows {
        line(row.clone());
    }
}

/// Unix seconds as the site's local time with its offset (`2026-12-07 02:25 +08:00`), the time the person on
/// the phone sees in mails and pages; `-` for none.
pub(crate) fn format_time(unix: Option<i64>, offset: time::UtcOffset) -> String {
    unix.map_or_else(|| "-".to_owned(), |t| crate::local_time::text(t, offset))
}

/// JSON output keeps Unix seconds and, next to every time field (`*_at`, `*_until`), adds `*_local`: the same
/// moment as [`format_time`] writes it.
pub(crate) fn with_local_times(
    value: serde_json::Value,
    offset: time::UtcOffset,
) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| with_local_times(item, offset))
                .collect(),
        ),
        Value::Object(fields) => {
            let mut out = serde_json::Map::new();
            for (key, field) in fields {
                let local = (key.ends_with("_at") || key.ends_with("_until"))
                    .then(|| field.as_i64())
                    .flatten()
                    .map(|unix| crate::local_time::text(unix, offset));
                let name = format!("{key}_local");
                out.insert(key, with_local_times(field, offset));
                if let Some(local) = local {
                    out.insert(name, Value::String(local));
                }
            }
            Value::Object(out)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_times_get_their_local_text_beside_the_seconds() {
        let taipei = time::macros::offset!(+8);
        let value = serde_json::json!([{
            "id": "alice", "created_at": 1_796_581_500, "locked_until": null,
            "device": { "last_used_at": 0 }, "expires_on": "2030-01-01",
        }]);
        let out = with_local_times(value, taipei);
        assert_eq!(out[0]["created_at"], 1_796_581_500);
        assert_eq!(out[0]["created_at_local"], "2026-12-07 02:25 +08:00");
        assert_eq!(
            out[0]["device"]["last_used_at_local"],
            "1970-01-01 08:00 +08:00"
        );
        assert!(out[0].get("locked_until_local").is_none());
        assert!(out[0].get("expires_on_local").is_none());
    }
}
