//! Configuration: one typed tree per TOML section, strict (`deny_unknown_fields`), with defaults that run on
//! loopback with SQLite, and [`Config::validate`] for the checks serde cannot express.
//!
//! Three entry points: [`Config::from_toml_str`] (parse only), [`Config::load`] (read a file and parse),
//! [`Config::validate`] (semantic checks; every problem names its key). `examples/motpd.toml` documents every
//! key and is what `motpd init` writes; a test loads it, validates it, and checks it names every key.
//! A leaf module: it depends on nothing else in the crate.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

mod accounts;
mod admin;
mod admin_web;
mod ldap;
mod relaxations;
mod reload;
mod values;

pub use accounts::{AccountsConfig, PasswordSource};
pub use admin::AdminConfig;
pub use admin_web::AdminWebConfig;
pub use ldap::{ID_PLACEHOLDER, LdapConfig};
pub use reload::{RELOADABLE, ReloadPlan};
pub use values::{
    AuthMode, GroupAttribute, HashingPriority, Language, LogFormat, SmsBodyType, SmsMethod,
    SmsProvider, SmtpTls, StoreErrorAction, serialize_opt_date,
};

/// The configuration file `motpd init` writes (also the documentation of every key).
pub const EXAMPLE_TOML: &str = include_str!("../examples/motpd.toml");

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// TOML syntax, an unknown key, or a value of the wrong type (the message names the key and line).
    #[error("config {origin}: {message}")]
    Parse {
        /// File name or `<string>`.
        origin: String,
        /// toml's message, with the key and position.
        message: String,
    },
    /// Values that parse but cannot work together.
    #[error("config is not valid:\n{}", .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

/// One semantic problem: the key and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key, e.g. `otp.window`.
    pub key: &'static str,
    /// What is wrong and what would be right.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[database]`
    pub database: DatabaseConfig,
    /// `[radius]`
    pub radius: RadiusConfig,
    /// `[web]`
    pub web: WebConfig,
    /// `[otp]`
    pub otp: OtpConfig,
    /// `[policy]`
    pub policy: PolicyConfig,
    /// `[secrets]`
    pub secrets: SecretsConfig,
    /// `[sms]`
    pub sms: SmsConfig,
    /// `[smtp]`
    pub smtp: SmtpConfig,
    /// `[log]`
    pub log: LogConfig,
    /// `[admin]`
    pub admin: AdminConfig,
    /// `[admin_web]`
    pub admin_web: AdminWebConfig,
    /// `[accounts]`
    pub accounts: AccountsConfig,
    /// `[ldap]`
    pub ldap: LdapConfig,
}

/// `[database]`: where accounts, devices and the audit trail live.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://motpd.db` (embedded default) or `postgres://user@host/db` (several nodes).
    pub url: String,
    /// Pool size.
    pub max_connections: u32,
    /// How long `motpd serve` reuses an account and its device read for a login (seconds; 0 = off). Changes
    /// made by another node or the CLI are seen within this time.
    pub cache_seconds: u64,
    /// Most accounts that cache holds (memory bound; unknown account names count too).
    pub cache_entries: usize,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://motpd.db".into(),
            max_connections: 8,
            cache_seconds: 2,
            cache_entries: 4096,
        }
    }
}

/// `[radius]`: the UDP listeners and how answers are shaped.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RadiusConfig {
    /// Authentication listeners (IPv4 and IPv6).
    pub listen: Vec<SocketAddr>,
    /// Accounting listeners (RFC 2866).
    pub accounting_listen: Vec<SocketAddr>,
    /// Default mode for clients that do not set their own.
    pub mode: AuthMode,
    /// Language of Reply-Message texts.
    pub language: Language,
    /// What to do when the database fails during a request: `drop` (no reply, NetScaler fails over) or `reject`.
    pub on_store_error: StoreErrorAction,
    /// Requests being evaluated at once; beyond it packets are shed (and logged).
    pub max_in_flight: usize,
    /// How long a reply is kept for retransmissions (RFC 5080).
    pub duplicate_cache_seconds: u64,
    /// How long a challenge (State) stays valid.
    pub challenge_ttl_seconds: u64,
    /// Where the account's groups go in an Access-Accept.
    pub group_attribute: GroupAttribute,
    /// Session-Timeout in the Accept; 0 leaves it out.
    pub session_timeout_seconds: u32,
    /// Priority of the password-hashing threads: `idle` (below the packet loop) or `normal`.
    pub hashing_priority: HashingPriority,
    /// Tell the user why a login failed before both factors are verified (wrong code, locked, disabled …).
    /// Off by default: each such reason would confirm a guessed password or that an account exists.
    pub detailed_reasons: bool,
}

impl Default for RadiusConfig {
    fn default() -> Self {
        Self {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 1812))],
            accounting_listen: vec![SocketAddr::from(([127, 0, 0, 1], 1813))],
            mode: AuthMode::PasswordOtp,
            language: Language::ZhTw,
            on_store_error: StoreErrorAction::Drop,
            max_in_flight: 1024,
            duplicate_cache_seconds: 30,
            challenge_ttl_seconds: 120,
            group_attribute: GroupAttribute::default(),
            session_timeout_seconds: 0,
            hashing_priority: HashingPriority::Idle,
            detailed_reasons: false,
        }
    }
}

/// `[web]`: the enrollment pages.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// HTTP listener.
    pub listen: SocketAddr,
    /// Self-service enrollment (flow A) is offered only to these networks.
    pub enroll_networks: Vec<IpNet>,
    /// Account activation and forgotten-password reset (`/account/...`) are offered only to these networks;
    /// unset or empty: the same networks as `enroll_networks` (see [`WebConfig::account_networks`]).
    #[serde(rename = "account_networks", skip_serializing_if = "Option::is_none")]
    pub account_networks_set: Option<Vec<IpNet>>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// The address users reach the pages at (links in e-mails).
    pub public_url: String,
    /// How long an e-mailed invitation link stays valid.
    pub invite_ttl_hours: u32,
    /// Page language when the browser expresses no preference.
    pub default_language: Language,
    /// A connection must deliver a request's complete headers within this many seconds of the first byte (and
    /// an idle kept-alive connection is closed after it).
    pub header_timeout_seconds: u32,
    /// A request's body must arrive completely within this many seconds of its headers.
    pub body_timeout_seconds: u32,
    /// Open connections per client socket address (trusted proxies excepted); further ones are closed at once.
    pub max_connections_per_address: u32,
    /// Open connections in all.
    pub max_connections: u32,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            enroll_networks: vec![IpNet::V4(ipnet::Ipv4Net::new_assert(
                std::net::Ipv4Addr::LOCALHOST,
                32,
            ))],
            account_networks_set: None,
            trusted_proxies: Vec::new(),
            public_url: "http://127.0.0.1:8080".into(),
            invite_ttl_hours: 72,
            default_language: Language::ZhTw,
            header_timeout_seconds: 10,
            body_timeout_seconds: 10,
            max_connections_per_address: 32,
            max_connections: 1024,
        }
    }
}

impl WebConfig {
    /// The networks the account pages are offered to: `account_networks`, or `enroll_networks` when it is
    /// unset or empty (an empty list once meant "any network"; now it falls back to the safe default).
    pub fn account_networks(&self) -> &[IpNet] {
        match self.account_networks_set.as_deref() {
            Some(networks) if !networks.is_empty() => networks,
            _ => &self.enroll_networks,
        }
    }

    /// The networks of `account_networks` that lie outside every `enroll_networks` network (a relaxation).
    pub fn account_networks_beyond_enroll(&self) -> Vec<IpNet> {
        self.account_networks()
            .iter()
            .filter(|net| {
                !self
                    .enroll_networks
                    .iter()
                    .any(|inner| inner.contains(*net))
            })
            .copied()
            .collect()
    }
}

/// `[otp]`: how codes are made and checked.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtpConfig {
    /// Issuer shown in the authenticator app.
    pub issuer: String,
    /// HMAC of new TOTP enrollments (`sha1` is what every app supports).
    pub algorithm: String,
    /// Digits of new enrollments (6 or 8).
    pub digits: u32,
    /// Seconds per TOTP step of new enrollments.
    pub period: u32,
    /// Accepted clock drift, in steps either side.
    pub window: u32,
    /// Same code, client, Calling-Station-Id and password again within this many seconds is accepted again
    /// (NetScaler re-sends cached credentials); 0 = never.
    pub reuse_seconds: u32,
    /// HOTP counters looked ahead.
    pub hotp_look_ahead: u32,
    /// Accepted mOTP clock drift, seconds either side.
    pub motp_tolerance_seconds: u32,
}

impl Default for OtpConfig {
    fn default() -> Self {
        Self {
            issuer: "Hospital VPN".into(),
            algorithm: "sha1".into(),
            digits: 6,
            period: 30,
            window: 1,
            reuse_seconds: 0,
            hotp_look_ahead: 10,
            motp_tolerance_seconds: 180,
        }
    }
}

/// `[policy]`: account rules.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// From this date on, accounts without an active device are refused; before it they may log in with the
    /// password alone (and are reminded to register). Unset: enforced from the start.
    #[serde(with = "values::opt_date")]
    pub enforce_after: Option<time::Date>,
    /// Consecutive failures that lock an account.
    pub lockout_failures: u32,
    /// How long a lock lasts.
    pub lockout_minutes: u32,
    /// The site's UTC offset, for expiry and enforcement dates and every time shown to people (Taiwan: +08:00).
    #[serde(with = "values::offset")]
    pub utc_offset: time::UtcOffset,
    /// Minimum password length for new passwords.
    pub min_password_length: usize,
    /// After an account's password is reset or first set on the account pages, SMS at the VPN is refused for
    /// this many hours (0: no pause, a relaxation warned about at start).
    pub sms_pause_hours_after_reset: u32,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            enforce_after: None,
            lockout_failures: 10,
            lockout_minutes: 15,
            utc_offset: time::macros::offset!(+8),
            min_password_length: 8,
            sms_pause_hours_after_reset: 24,
        }
    }
}

/// `[secrets]`: the master key sealing seeds, PINs and shared secrets at rest.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsConfig {
    /// Key file, created by `motpd init` with mode 0600.
    pub key_file: PathBuf,
    /// Further key files this node opens values with: the next key before `motpd secrets rotate`, the old one
    /// after it. A listed file that does not exist is skipped (and looked for again when needed).
    pub extra_key_files: Vec<PathBuf>,
}

impl Default for SecretsConfig {
    fn default() -> Self {
        Self {
            key_file: PathBuf::from("motpd.key"),
            extra_key_files: Vec::new(),
        }
    }
}

/// `[sms]`: one-time codes by text message.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsConfig {
    /// `none` (SMS off), `log` (development only: codes go to the log), `http` (a gateway).
    pub provider: SmsProvider,
    /// Validity of a code.
    pub code_ttl_seconds: u32,
    /// Wrong tries per code (the next try is refused even with the right code).
    pub max_attempts: u32,
    /// Minimum seconds between two codes to one account or number.
    pub min_interval_seconds: u32,
    /// Codes per account or number within any 24 hours (a rolling window, not a calendar day).
    pub max_per_day: u32,
    /// Whether SMS may replace the app at VPN login (per-account switch too).
    pub allow_vpn_fallback: bool,
    /// What the user answers at a challenge to get a code.
    pub keyword: String,
    /// Gateway URL (`provider = "http"`).
    pub url: String,
    /// File holding the gateway's Authorization header value.
    pub auth_header_file: Option<PathBuf>,
    /// PEM file of the root certificates that an `https://` gateway's certificate must chain to (an internal
    /// CA); `None`: the public (Mozilla) roots.
    pub ca_file: Option<PathBuf>,
    /// HTTP method: `POST`, `PUT`, or `GET` (the rendered form template becomes the query string).
    pub method: SmsMethod,
    /// How `body_template` is filled in: `form` (URL-encoded values) or `json` (JSON string escapes; put the
    /// placeholders inside quotes).
    pub body_type: SmsBodyType,
    /// Body template with `{phone}` and `{message}`.
    pub body_template: String,
    /// Text the gateway's answer must contain to count as sent (besides a 2xx status); `None`: status only.
    pub success_match: Option<String>,
    /// Gateway time-out per attempt.
    pub timeout_seconds: u32,
    /// Further attempts after a connection failure or a 5xx answer (never after a time-out or a 2xx).
    pub retries: u32,
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self {
            provider: SmsProvider::None,
            code_ttl_seconds: 120,
            max_attempts: 5,
            min_interval_seconds: 60,
            max_per_day: 10,
            allow_vpn_fallback: true,
            keyword: "sms".into(),
            url: String::new(),
            auth_header_file: None,
            ca_file: None,
            method: SmsMethod::Post,
            body_type: SmsBodyType::Form,
            body_template: "phone={phone}&message={message}".into(),
            success_match: None,
            timeout_seconds: 10,
            retries: 1,
        }
    }
}

/// `[smtp]`: the mail relay for invitations.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    /// Relay host.
    pub host: String,
    /// Relay port.
    pub port: u16,
    /// `none`, `starttls` or `tls`.
    pub tls: SmtpTls,
    /// Sender address.
    pub from: String,
    /// Login name, if the relay wants one.
    pub username: Option<String>,
    /// File holding the password (never the password itself in this file).
    pub password_file: Option<PathBuf>,
    /// Time-out per message.
    pub timeout_seconds: u32,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 25,
            tls: SmtpTls::None,
            from: "motp@example.org".into(),
            username: None,
            password_file: None,
            timeout_seconds: 30,
        }
    }
}

/// `[log]`: what the process writes to stderr (`RUST_LOG` overrides the level).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `info`, `debug`, ... or a full filter such as `motpd=debug,sqlx=warn`.
    pub level: String,
    /// `text` or `json`.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

impl Config {
    /// Parses TOML text (no semantic checks).
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        Self::parse(text, "<string>")
    }

    /// Reads and parses a file (no semantic checks).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            origin: origin.to_owned(),
            message: e.to_string(),
        })
    }

    /// Checks values that parse but cannot work; reports every problem at once.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = values::problems(self);
        problems.extend(admin::problems(self));
        problems.extend(admin_web::problems(self));
        problems.extend(accounts::problems(self));
        problems.extend(ldap::problems(self));
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }
}

#[cfg(test)]
mod tests;
