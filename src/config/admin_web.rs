//! `[admin_web]`: the helpdesk console (`/admin`). Off by default: the console can unlock accounts and unbind
//! devices, so it listens only where a site asks it to, and answers only `admin_networks` (default: this
//! machine). Never on the enrollment pages' or the monitoring listener's address. Pure.

use std::net::SocketAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::{Config, Problem};

/// `[admin_web]`: the helpdesk console.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminWebConfig {
    /// HTTP listener of `/admin`; `None` (`listen = ""`, the default) turns the console off.
    #[serde(with = "super::admin::optional_address")]
    pub listen: Option<SocketAddr>,
    /// Only these client networks reach the console; every other request gets 403 before anything else.
    pub admin_networks: Vec<IpNet>,
    /// The address admins reach the console at; `https://...` (TLS in front) makes the cookie `Secure`.
    pub public_url: String,
    /// Failed console logins in a row that lock an admin.
    pub lockout_failures: u32,
    /// How long such a lock lasts.
    pub lockout_minutes: u32,
    /// A console session ends after this many minutes without a request.
    pub idle_minutes: u32,
}

impl Default for AdminWebConfig {
    fn default() -> Self {
        Self {
            listen: None,
            admin_networks: vec![
                IpNet::new_assert(std::net::Ipv4Addr::new(127, 0, 0, 0).into(), 8),
                IpNet::new_assert(std::net::Ipv6Addr::LOCALHOST.into(), 128),
            ],
            public_url: String::new(),
            lockout_failures: 5,
            lockout_minutes: 15,
            idle_minutes: 10,
        }
    }
}

impl AdminWebConfig {
    /// Whether the console's cookie must be `Secure` (TLS in front of it).
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// What is wrong with `[admin_web]` in `config`.
pub(super) fn problems(config: &Config) -> Vec<Problem> {
    let console = &config.admin_web;
    let mut found = Vec::new();
    if let Some(address) = console.listen {
        let others = std::iter::once(("web.listen", config.web.listen))
            .chain(config.admin.listen.map(|a| ("admin.listen", a)));
        for (key, other) in others {
            let overlap = address.port() == other.port()
                && (address.ip() == other.ip()
                    || address.ip().is_unspecified()
                    || other.ip().is_unspecified());
            if overlap {
                found.push(Problem {
                    key: "admin_web.listen",
                    message: format!(
                        "{address} overlaps {key} ({other}); the console needs a port of its own"
                    ),
                });
            }
        }
        if console.admin_networks.is_empty() {
            found.push(Problem {
                key: "admin_web.admin_networks",
                message: "empty: nobody could reach the console; list the service desk's networks \
                          (e.g. [\"10.20.0.0/24\"])"
                    .to_owned(),
            });
        }
    }
    if console.lockout_failures == 0 {
        found.push(Problem {
            key: "admin_web.lockout_failures",
            message: "must be at least 1".to_owned(),
        });
    }
    if console.lockout_minutes == 0 {
        found.push(Problem {
            key: "admin_web.lockout_minutes",
            message: "must be at least 1".to_owned(),
        });
    }
    if !(1..=60).contains(&console.idle_minutes) {
        found.push(Problem {
            key: "admin_web.idle_minutes",
            message: format!("{} is not between 1 and 60 minutes", console.idle_minutes),
        });
    }
    found
}

/// The relaxation sentence when the console answers every network.
pub(super) fn relaxation(config: &Config) -> Option<String> {
    config.admin_web.listen?;
    let open = config
        .admin_web
        .admin_networks
        .iter()
        .find(|net| net.prefix_len() == 0)?;
    Some(format!(
        "admin_web.admin_networks contains {open}: the helpdesk console answers every network"
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_console_is_off_by_default_and_loopback_only_when_on() {
        let config = Config::from_toml_str("").unwrap();
        assert_eq!(config.admin_web.listen, None);
        assert_eq!(config.admin_web.admin_networks.len(), 2);
        assert!(
            config.admin_web.admin_networks[0]
                .contains(&"127.0.0.1".parse::<std::net::IpAddr>().unwrap())
        );
        let on = Config::from_toml_str("[admin_web]\nlisten = \"127.0.0.1:9813\"\n").unwrap();
        on.validate().unwrap();
        assert!(on.relaxations().is_empty());
    }

    #[test]
    fn overlaps_empty_networks_and_open_networks_are_named() {
        let same = Config::from_toml_str("[admin_web]\nlisten = \"127.0.0.1:9812\"\n").unwrap();
        assert!(
            same.validate()
                .unwrap_err()
                .to_string()
                .contains("admin.listen")
        );
        let empty = Config::from_toml_str(
            "[admin_web]\nlisten = \"127.0.0.1:9813\"\nadmin_networks = []\n",
        )
        .unwrap();
        assert!(
            empty
                .validate()
                .unwrap_err()
                .to_string()
                .contains("admin_networks")
        );
        let open = Config::from_toml_str(
            "[admin_web]\nlisten = \"0.0.0.0:9813\"\nadmin_networks = [\"0.0.0.0/0\"]\n",
        )
        .unwrap();
        open.validate().unwrap();
        assert!(
            open.relaxations()
                .iter()
                .any(|r| r.contains("admin_networks"))
        );
    }
}
