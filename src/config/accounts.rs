//! `[accounts]`: where the passwords motpd checks come from. Pure.
//!
//! - `local`: motpd's own Argon2id hashes (set by the CLI, activation and reset pages);
//! - `ldap`: a bind as the user against `[ldap]` (motpd never stores or caches a directory password);
//! - `none`: motpd checks no password at all; NetScaler checked it against the directory before asking motpd
//!   (`radius.mode = "otp-only"` only). Accounts are active without a password.

use serde::{Deserialize, Serialize};

use super::{AuthMode, Config, Problem};

/// Where passwords are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PasswordSource {
    /// motpd's own password hashes.
    #[default]
    Local,
    /// A bind as the user against the directory in `[ldap]`.
    Ldap,
    /// No password at motpd (the gateway checked it).
    None,
}

impl PasswordSource {
    /// The configuration name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Ldap => "ldap",
            Self::None => "none",
        }
    }

    /// Whether motpd itself stores passwords (and so offers activation and reset of them).
    pub fn stores_passwords(self) -> bool {
        self == Self::Local
    }
}

/// `[accounts]`
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountsConfig {
    /// `local`, `ldap` or `none`.
    pub password_source: PasswordSource,
}

/// What is wrong with `[accounts]` in `config`.
pub(super) fn problems(config: &Config) -> Vec<Problem> {
    let mut found = Vec::new();
    match config.accounts.password_source {
        PasswordSource::None if config.radius.mode != AuthMode::OtpOnly => found.push(Problem {
            key: "accounts.password_source",
            message: format!(
                "\"none\" checks no password, so it needs radius.mode = \"otp-only\" (now \"{}\") behind a \
                 gateway that checks the password itself; use \"ldap\" for motpd to check it",
                config.radius.mode.as_str()
            ),
        }),
        PasswordSource::Ldap if config.ldap.urls.is_empty() => found.push(Problem {
            key: "ldap.urls",
            message: "accounts.password_source = \"ldap\" needs at least one directory URL \
                      (ldaps://dc1.hospital.local or ldap://... with StartTLS)"
                .into(),
        }),
        _ => {}
    }
    found
}
