//! `[admin]`: the monitoring listener (`/metrics`, `/healthz`, `/readyz`). Loopback by default; `listen = ""`
//! turns it off. It must never share the enrollment pages' address: those face staff, this faces Prometheus.
//! Pure.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::{Config, Problem};

/// `[admin]`: the monitoring listener.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// HTTP listener for `/metrics`, `/healthz` and `/readyz`; `None` (`listen = ""`) turns it off.
    #[serde(with = "optional_address")]
    pub listen: Option<SocketAddr>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 9812))),
        }
    }
}

/// What is wrong with `[admin]` in `config`.
pub(super) fn problems(config: &Config) -> Vec<Problem> {
    let mut found = Vec::new();
    if let Some(admin) = config.admin.listen {
        let web = config.web.listen;
        let overlap = admin.port() == web.port()
            && (admin.ip() == web.ip() || admin.ip().is_unspecified() || web.ip().is_unspecified());
        if overlap {
            found.push(Problem {
                key: "admin.listen",
                message: format!(
                    "{admin} overlaps web.listen ({web}); the monitoring listener needs a port of its own \
                     (default 127.0.0.1:9812), never the enrollment pages'"
                ),
            });
        }
    }
    found
}

/// The relaxation sentence when the listener is reachable from beyond this machine.
pub(super) fn relaxation(config: &Config) -> Option<String> {
    let admin = config.admin.listen?;
    (!admin.ip().is_loopback()).then(|| {
        format!(
            "admin.listen = {admin} is not a loopback address: /metrics (client names, reject counts) and the \
             health checks answer anyone who reaches that address; limit it with a firewall"
        )
    })
}

/// `"host:port"` or `""` (off).
pub(super) mod optional_address {
    use std::net::SocketAddr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(in crate::config) fn serialize<S: Serializer>(
        value: &Option<SocketAddr>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(address) => s.collect_str(address),
            None => s.serialize_str(""),
        }
    }

    pub(in crate::config) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<SocketAddr>, D::Error> {
        let text = String::deserialize(d)?;
        if text.trim().is_empty() {
            return Ok(None);
        }
        text.trim().parse().map(Some).map_err(|_| {
            serde::de::Error::custom(format!(
                "{text:?} is not an address such as \"127.0.0.1:9812\" (or \"\" for off)"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_listener_is_loopback_by_default_and_can_be_turned_off() {
        let config = Config::from_toml_str("").unwrap();
        assert_eq!(config.admin.listen, Some("127.0.0.1:9812".parse().unwrap()));
        assert!(relaxation(&config).is_none());
        let off = Config::from_toml_str("[admin]\nlisten = \"\"\n").unwrap();
        assert_eq!(off.admin.listen, None);
        off.validate().unwrap();
        let err = Config::from_toml_str("[admin]\nlisten = \"localhost\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("listen"), "{err}");
    }

    #[test]
    fn the_enrollment_port_is_refused_and_a_wide_address_is_a_relaxation() {
        let same = Config::from_toml_str("[admin]\nlisten = \"127.0.0.1:8080\"\n").unwrap();
        let err = same.validate().unwrap_err().to_string();
        assert!(err.contains("admin.listen"), "{err}");
        let wildcard = Config::from_toml_str(
            "[web]\nlisten = \"0.0.0.0:8443\"\n[admin]\nlisten = \"127.0.0.1:8443\"\n",
        )
        .unwrap();
        assert!(wildcard.validate().is_err());
        let wide = Config::from_toml_str("[admin]\nlisten = \"0.0.0.0:9812\"\n").unwrap();
        wide.validate().unwrap();
        assert!(
            wide.relaxations()
                .iter()
                .any(|r| r.contains("admin.listen"))
        );
    }
}
