//! `motpd config check`: whether this installation can serve, one line per check (`ok`, `warn`, `FAIL`,
//! `skip`), each failure or warning saying what to do. It reads only: no key file, database file or migration
//! is created, so it is safe on a running system and before the first start.
//!
//! Exit codes (documented in [`super::args::EXIT_CODES`]): the first failure decides, in the order of the
//! checks: 3 configuration, 4 key file (missing, readable by others, or not the database's), 5 database
//! (unreachable, missing, not fully migrated), 12 a service `--reach` tried (mail relay, SMS gateway, directory)
//! did not answer; with `--strict` a warning gives 13.

use std::path::Path;
use std::time::Duration;

use super::args::ConfigCheckArgs;
use super::context::{self, DEFAULT_CONFIG};
use crate::config::{Config, SmsProvider, SmtpTls};
use crate::notify::SmtpMailer;
use crate::notify::sms::HttpSmsSender;
use crate::runtime::clock_sync::{self, ClockSync};
use crate::secrets::MasterKey;
use crate::store::{self, SchemaState, StoreError, redact_url};

/// Exit code: the configuration does not load or validate.
const EXIT_CONFIG: u8 = 3;
/// Exit code: the key file is missing, unusable, or not the database's key.
const EXIT_KEY: u8 = 4;
/// Exit code: the database is unreachable, missing or not fully migrated.
const EXIT_DATABASE: u8 = 5;
/// Exit code: `--reach` found the mail relay or the SMS gateway not answering.
const EXIT_UNREACHABLE: u8 = 12;
/// Exit code: `--strict` and at least one warning.
const EXIT_WARNING: u8 = 13;

/// Extra time over a service's own time-out before the check gives up on it.
const REACH_MARGIN: Duration = Duration::from_secs(2);

/// Some check failed (the lines above say which and what to do).
#[derive(Debug, thiserror::Error)]
#[error("config check: {failed} failed, {warned} warning(s)")]
pub(crate) struct ChecksFailed {
    /// The documented exit code of the first failure.
    pub(crate) exit_code: u8,
    failed: usize,
    warned: usize,
}

/// The printed lines and the outcome so far.
#[derive(Default)]
struct Report {
    first_failure: Option<u8>,
    failed: usize,
    warned: usize,
}

impl Report {
    fn ok(&mut self, what: &str, text: impl AsRef<str>) {
        print_line("ok", what, text.as_ref());
    }

    fn warn(&mut self, what: &str, text: impl AsRef<str>) {
        self.warned += 1;
        print_line("warn", what, text.as_ref());
    }

    fn skip(&mut self, what: &str, text: impl AsRef<str>) {
        print_line("skip", what, text.as_ref());
    }

    fn fail(&mut self, what: &str, code: u8, text: impl AsRef<str>) {
        self.failed += 1;
        self.first_failure.get_or_insert(code);
        print_line("FAIL", what, text.as_ref());
    }

    fn finish(self, strict: bool) -> anyhow::Result<()> {
        let exit_code = match self.first_failure {
            Some(code) => code,
            None if strict && self.warned > 0 => EXIT_WARNING,
            None => {
                println!(
                    "\nall checks passed{}",
                    if self.warned > 0 {
                        format!(" ({} warning(s) above)", self.warned)
                    } else {
                        String::new()
                    }
                );
                return Ok(());
            }
        };
        Err(ChecksFailed {
            exit_code,
            failed: self.failed,
            warned: self.warned,
        }
        .into())
    }
}

/// `ok    key       text`: the verdict, the check, then the text; a text of several lines (a TOML parse error)
/// stays indented under its first line.
fn print_line(verdict: &str, what: &str, text: &str) {
    let text = text.trim_end().replace('\n', &format!("\n{:16}", ""));
    println!("{verdict:<5} {what:<9} {text}");
}

pub(super) async fn run(config_path: Option<&Path>, args: &ConfigCheckArgs) -> anyhow::Result<()> {
    let mut report = Report::default();
    let config = match context::load_config(config_path) {
        Ok((config, Some(file))) => {
            report.ok("config", format!("{} parses and validates", file.display()));
            config
        }
        Ok((config, None)) => {
            report.warn(
                "config",
                format!(
                    "no --config and no ./{DEFAULT_CONFIG}: built-in defaults (name the file with --config)"
                ),
            );
            config
        }
        Err(error) => {
            report.fail("config", EXIT_CONFIG, format!("{error:#}"));
            return report.finish(args.strict);
        }
    };
    let key = check_key(&config, &mut report);
    check_database(&config, key.as_ref(), &mut report).await;
    check_clock(&mut report);
    if args.reach {
        check_smtp(&config, &mut report).await;
        check_sms(&config, &mut report).await;
        check_directory(&config, &mut report).await;
    }
    report.finish(args.strict)
}

fn check_key(config: &Config, report: &mut Report) -> Option<MasterKey> {
    match MasterKey::load(&config.secrets.key_file) {
        Ok(key) => {
            report.ok(
                "key",
                format!(
                    "{} is private (0600 or stricter), key id {}",
                    config.secrets.key_file.display(),
                    key.key_id()
                ),
            );
            Some(key)
        }
        Err(error) => {
            report.fail("key", EXIT_KEY, error.to_string());
            None
        }
    }
}

async fn check_database(config: &Config, key: Option<&MasterKey>, report: &mut Report) {
    let url = &config.database.url;
    let shown = redact_url(url);
    if let Some(path) = context::sqlite_file(url)
        && !path.exists()
    {
        report.fail(
            "database",
            EXIT_DATABASE,
            format!(
                "the database file {} does not exist: create it with `motpd init` (check database.url and the \
                 working directory)",
                path.display()
            ),
        );
        return;
    }
    let state = match store::inspect(url).await {
        Ok(state) => state,
        Err(error @ (StoreError::FilePermissions { .. } | StoreError::File { .. })) => {
            report.fail("database", EXIT_DATABASE, error.to_string());
            return;
        }
        Err(error) => {
            report.fail(
                "database",
                EXIT_DATABASE,
                format!(
                    "cannot read {shown}: {error} (check database.url, and that the server is running and \
                     reachable)"
                ),
            );
            return;
        }
    };
    schema_lines(&shown, &state, report);
    match (key, &state.key_check) {
        (Some(key), Some(stored)) if key.matches_key_check(stored) => {
            report.ok("key", "matches the database (key check value)");
        }
        (Some(key), Some(_)) => report.fail(
            "key",
            EXIT_KEY,
            format!(
                "{} (key id {}) is not the key this database was set up with: restore the original key file \
                 (secrets.key_file); motpd will not start with this one",
                config.secrets.key_file.display(),
                key.key_id()
            ),
        ),
        (Some(_), None) => report.warn(
            "key",
            "the database holds no key check value yet: the next `motpd init` or `motpd serve` records this key's",
        ),
        (None, _) => {}
    }
}

fn schema_lines(shown: &str, state: &SchemaState, report: &mut Report) {
    let list = |versions: &[i64]| {
        versions
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if state.is_current() {
        report.ok(
            "database",
            format!(
                "{shown} ({}) reachable, all {} migrations applied",
                state.backend, state.embedded
            ),
        );
        return;
    }
    if !state.unknown.is_empty() {
        report.fail(
            "database",
            EXIT_DATABASE,
            format!(
                "{shown} was migrated by a newer motpd (versions {} unknown to this one): run that version, or \
                 restore the backup taken before the upgrade",
                list(&state.unknown)
            ),
        );
    }
    if !state.failed.is_empty() || !state.changed.is_empty() {
        report.fail(
            "database",
            EXIT_DATABASE,
            format!(
                "{shown}: migrations failed half-way ({}) or were altered ({}): restore the database from a backup",
                list(&state.failed),
                list(&state.changed)
            ),
        );
    }
    if !state.pending.is_empty() {
        report.fail(
            "database",
            EXIT_DATABASE,
            format!(
                "{shown} ({}) reachable, {} of {} migrations applied (pending: {}): `motpd init` or the next \
                 `motpd serve` applies them",
                state.backend,
                state.embedded - state.pending.len(),
                state.embedded,
                list(&state.pending)
            ),
        );
    }
}

fn check_clock(report: &mut Report) {
    match clock_sync::read() {
        ClockSync::Synchronised { max_error_us } => report.ok(
            "clock",
            format!(
                "synchronised (kernel's maximum error {} ms)",
                max_error_us / 1000
            ),
        ),
        ClockSync::Unsynchronised => report.warn(
            "clock",
            "unsynchronised: codes are refused when the clock drifts; run a time daemon (`apt-get install chrony`)",
        ),
        ClockSync::Unknown => report.warn(
            "clock",
            "unknown: the kernel's synchronisation state cannot be read (adjtimex refused, e.g. by systemd's \
             ProtectClock=); make sure a time daemon (chrony) runs",
        ),
    }
}

async fn check_smtp(config: &Config, report: &mut Report) {
    let smtp = &config.smtp;
    if smtp.host.is_empty() {
        report.skip("smtp", "smtp.host is empty: no mail relay configured");
        return;
    }
    let target = format!("{}:{}", smtp.host, smtp.port);
    let mailer = match SmtpMailer::new(smtp) {
        Ok(mailer) => mailer,
        Err(error) => {
            report.fail("smtp", EXIT_UNREACHABLE, format!("{target}: {error}"));
            return;
        }
    };
    let limit = Duration::from_secs(u64::from(smtp.timeout_seconds)) + REACH_MARGIN;
    let how = match smtp.tls {
        SmtpTls::None => "EHLO",
        SmtpTls::Starttls => "EHLO, STARTTLS",
        SmtpTls::Tls => "TLS, EHLO",
    };
    match tokio::time::timeout(limit, mailer.test_connection()).await {
        Ok(Ok(())) => report.ok(
            "smtp",
            format!("{target} answered ({how}, NOOP); no mail sent"),
        ),
        Ok(Err(error)) => report.fail(
            "smtp",
            EXIT_UNREACHABLE,
            format!("{target}: {error} (check [smtp] and the relay)"),
        ),
        Err(_) => report.fail(
            "smtp",
            EXIT_UNREACHABLE,
            format!(
                "{target} did not answer within {} s (check [smtp] and the firewall)",
                limit.as_secs()
            ),
        ),
    }
}

/// A bind as the service account and one search (for an ID no account has) on every directory server: TLS,
/// the CA, the bind password and the base DN all take part. No user password is sent.
async fn check_directory(config: &Config, report: &mut Report) {
    use crate::config::LdapConfig;
    use crate::directory::{Directory as _, LdapDirectory};
    let ldap = &config.ldap;
    if !ldap.configured() {
        report.skip("ldap", "ldap.urls is empty: no directory configured");
        return;
    }
    // Each server alone: a failover server with a wrong certificate is found before it is needed.
    for url in &ldap.urls {
        let one = LdapConfig {
            urls: vec![url.clone()],
            ..ldap.clone()
        };
        let directory = match LdapDirectory::new(&one, config.policy.utc_offset) {
            Ok(directory) => directory,
            Err(error) => {
                report.fail("ldap", EXIT_CONFIG, format!("{error}"));
                return;
            }
        };
        let limit =
            Duration::from_millis(ldap.connect_timeout_ms + 2 * ldap.timeout_ms) + REACH_MARGIN;
        match tokio::time::timeout(limit, directory.find("motpd-config-check")).await {
            Ok(Ok(_)) => report.ok(
                "ldap",
                format!(
                    "{url}: the service account bound and searched {}",
                    ldap.base_dn
                ),
            ),
            Ok(Err(error)) => report.fail(
                "ldap",
                EXIT_UNREACHABLE,
                format!("{url}: {error} (check [ldap], ca_file and the firewall)"),
            ),
            Err(_) => report.fail(
                "ldap",
                EXIT_UNREACHABLE,
                format!("{url} did not answer within {} s", limit.as_secs()),
            ),
        }
    }
}

async fn check_sms(config: &Config, report: &mut Report) {
    let sms = &config.sms;
    match sms.provider {
        SmsProvider::None => {
            report.skip("sms", "sms.provider = \"none\": SMS is off");
            return;
        }
        SmsProvider::Log => {
            report.skip(
                "sms",
                "sms.provider = \"log\": codes go to the log (development only)",
            );
            return;
        }
        SmsProvider::Http => {}
    }
    let target = gateway_origin(&sms.url);
    let sender = match HttpSmsSender::new(sms) {
        Ok(sender) => sender,
        Err(error) => {
            report.fail("sms", EXIT_UNREACHABLE, format!("{target}: {error}"));
            return;
        }
    };
    let limit = Duration::from_secs(u64::from(sms.timeout_seconds)) + REACH_MARGIN;
    match tokio::time::timeout(limit, sender.probe()).await {
        Ok(Ok(status)) => report.ok(
            "sms",
            format!("{target} answered HEAD with HTTP {status}; no SMS sent"),
        ),
        Ok(Err(error)) => report.fail(
            "sms",
            EXIT_UNREACHABLE,
            format!("{target}: {error} (check [sms] url and ca_file, and the firewall)"),
        ),
        Err(_) => report.fail(
            "sms",
            EXIT_UNREACHABLE,
            format!("{target} did not answer within {} s", limit.as_secs()),
        ),
    }
}

/// The gateway's scheme, host and port only: its path or query may hold an account name or a token.
fn gateway_origin(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => parsed.origin().ascii_serialization(),
        Err(_) => "sms.url".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_is_shown_without_path_or_query() {
        assert_eq!(
            gateway_origin("https://sms.example.org:8443/send?user=a&token=s3cret"),
            "https://sms.example.org:8443"
        );
        assert_eq!(gateway_origin("not a url"), "sms.url");
    }

    #[test]
    fn the_first_failure_decides_the_exit_code() {
        let mut report = Report::default();
        report.warn("clock", "x");
        report.fail("key", EXIT_KEY, "x");
        report.fail("database", EXIT_DATABASE, "x");
        let error = report.finish(false).unwrap_err();
        assert_eq!(super::super::exit_code(&error), EXIT_KEY);
    }

    #[test]
    fn warnings_fail_only_when_strict() {
        let mut report = Report::default();
        report.warn("clock", "x");
        assert!(report.finish(false).is_ok());
        let mut report = Report::default();
        report.warn("clock", "x");
        let error = report.finish(true).unwrap_err();
        assert_eq!(super::super::exit_code(&error), EXIT_WARNING);
    }
}
