//! `[ldap]`: the directory (Active Directory or OpenLDAP) that `accounts.password_source = "ldap"` binds against
//! and that `motpd user sync` reads accounts from. Pure: the client is `crate::directory`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Config, Problem};

/// The placeholder in `user_filter` that the (RFC 4515 escaped) account ID replaces.
pub const ID_PLACEHOLDER: &str = "{id}";

/// `[ldap]`
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LdapConfig {
    /// Directory servers, tried in order: `ldaps://host[:port]`, or `ldap://host[:port]` (StartTLS, always).
    pub urls: Vec<String>,
    /// PEM file of the CA(s) that signed the directory servers' certificates.
    pub ca_file: Option<PathBuf>,
    /// The service account motpd searches with (`CN=svc-motpd,OU=Service,DC=hospital,DC=local`).
    pub bind_dn: String,
    /// File holding the service account's password (one line; keep it 0600).
    pub bind_password_file: Option<PathBuf>,
    /// Where accounts are searched (`DC=hospital,DC=local`).
    pub base_dn: String,
    /// The search for one account; `{id}` is replaced by the account ID, escaped per RFC 4515.
    pub user_filter: String,
    /// The search for every account `motpd user sync` creates or updates.
    pub sync_filter: String,
    /// The attribute holding the account ID (what NetScaler sends as User-Name).
    pub id_attribute: String,
    /// Display name.
    pub name_attribute: String,
    /// Mobile number (SMS).
    pub phone_attribute: String,
    /// E-mail (invitations, notices).
    pub email_attribute: String,
    /// Group membership (DNs of groups).
    pub groups_attribute: String,
    /// Directory group DN → group sent to NetScaler in the Accept. Groups not listed are not sent; an empty table
    /// leaves the groups motpd holds for the account.
    pub groups: BTreeMap<String, String>,
    /// Time-out of a TCP connect and TLS handshake, in milliseconds.
    pub connect_timeout_ms: u64,
    /// Time-out of one operation (search, bind), in milliseconds.
    pub timeout_ms: u64,
    /// Connections kept open per directory server.
    pub pool_size: usize,
    /// Entries per page of a sync search (RFC 2696 paged results).
    pub page_size: i32,
    /// `motpd serve` syncs accounts from the directory every this many minutes; 0: only `motpd user sync`.
    pub sync_minutes: u32,
    /// Where staff change or reset their directory password (shown on motpd's activation and reset pages).
    pub password_help_url: String,
}

impl Default for LdapConfig {
    fn default() -> Self {
        Self {
            urls: Vec::new(),
            ca_file: None,
            bind_dn: String::new(),
            bind_password_file: None,
            base_dn: String::new(),
            user_filter: "(&(objectClass=user)(sAMAccountName={id}))".into(),
            sync_filter: "(&(objectClass=user)(sAMAccountName=*))".into(),
            id_attribute: "sAMAccountName".into(),
            name_attribute: "displayName".into(),
            phone_attribute: "mobile".into(),
            email_attribute: "mail".into(),
            groups_attribute: "memberOf".into(),
            groups: BTreeMap::new(),
            connect_timeout_ms: 1000,
            timeout_ms: 1000,
            pool_size: 4,
            page_size: 500,
            sync_minutes: 0,
            password_help_url: String::new(),
        }
    }
}

impl LdapConfig {
    /// Whether a directory is configured at all.
    pub fn configured(&self) -> bool {
        !self.urls.is_empty()
    }
}

/// What is wrong with `[ldap]` in `config` (nothing is checked while no URL is set).
pub(super) fn problems(config: &Config) -> Vec<Problem> {
    let ldap = &config.ldap;
    let mut found = Vec::new();
    if !ldap.configured() {
        return found;
    }
    let mut problem = |key, message: String| found.push(Problem { key, message });
    for url in &ldap.urls {
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("ldaps://") || lower.starts_with("ldap://")) {
            problem(
                "ldap.urls",
                format!("{url}: use ldaps://host or ldap://host (StartTLS)"),
            );
        }
    }
    if ldap.ca_file.is_none() {
        problem(
            "ldap.ca_file",
            "the PEM file of the CA that signed the directory's certificates is needed (TLS is always on)"
                .into(),
        );
    }
    if ldap.base_dn.trim().is_empty() {
        problem(
            "ldap.base_dn",
            "where accounts are searched, e.g. \"DC=hospital,DC=local\"".into(),
        );
    }
    if ldap.bind_dn.trim().is_empty() != ldap.bind_password_file.is_none() {
        problem(
            "ldap.bind_dn",
            "bind_dn and bind_password_file go together (both empty: searches are anonymous)"
                .into(),
        );
    }
    if ldap.user_filter.matches(ID_PLACEHOLDER).count() == 0 {
        problem(
            "ldap.user_filter",
            format!("must contain {ID_PLACEHOLDER}, where the escaped account ID goes"),
        );
    }
    for (key, filter) in [
        ("ldap.user_filter", &ldap.user_filter),
        ("ldap.sync_filter", &ldap.sync_filter),
    ] {
        if !(filter.starts_with('(') && filter.ends_with(')')) {
            problem(key, format!("{filter}: an LDAP filter is in parentheses"));
        }
    }
    for (key, value) in [
        ("ldap.id_attribute", &ldap.id_attribute),
        ("ldap.groups_attribute", &ldap.groups_attribute),
    ] {
        if value.trim().is_empty() {
            problem(key, "an attribute name is needed".into());
        }
    }
    if !(100..=30_000).contains(&ldap.connect_timeout_ms) {
        problem(
            "ldap.connect_timeout_ms",
            "between 100 and 30000 (NetScaler waits 3000 ms for the whole answer)".into(),
        );
    }
    if !(100..=30_000).contains(&ldap.timeout_ms) {
        problem(
            "ldap.timeout_ms",
            "between 100 and 30000 (NetScaler waits 3000 ms for the whole answer)".into(),
        );
    }
    if !(1..=64).contains(&ldap.pool_size) {
        problem("ldap.pool_size", "between 1 and 64".into());
    }
    if !(1..=5000).contains(&ldap.page_size) {
        problem(
            "ldap.page_size",
            "between 1 and 5000 (Active Directory returns at most 1000 per page by default)".into(),
        );
    }
    found
}
