//! The directory (Active Directory or OpenLDAP) as motpd uses it: a password check by binding as the user, the
//! entry of one account (name, phone, mail, reply groups, disabled, expiry), and every account for
//! `motpd user sync`. Network I/O only: what an answer means for a login is the engine's business.
//!
//! Fail closed: a directory that cannot be reached, answers late or with an error is a [`DirectoryError`], never
//! a "wrong password" and never an "unknown account", so no login is accepted and no account is disabled by
//! sync because the directory was away.

mod entry;
pub mod filter;
mod ldap;
mod pool;

pub use entry::last_day;
pub use ldap::LdapDirectory;

use std::fmt::Debug;

use crate::secrets::SecretBytes;

/// What the directory holds about one person, mapped to motpd's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryEntry {
    /// The account ID (`ldap.id_attribute`), normalized as motpd normalizes User-Name.
    pub id: String,
    /// The entry's distinguished name.
    pub dn: String,
    /// Display name (`ldap.name_attribute`).
    pub name: Option<String>,
    /// Mobile number, digits only (`ldap.phone_attribute`).
    pub phone: Option<String>,
    /// E-mail (`ldap.email_attribute`).
    pub email: Option<String>,
    /// Reply groups: the entry's groups mapped through `[ldap.groups]` (unmapped groups dropped), `None` when
    /// the mapping table is empty (motpd's own groups for the account apply).
    pub groups: Option<Vec<String>>,
    /// Disabled in the directory: AD `userAccountControl` bit 2 (ACCOUNTDISABLE), OpenLDAP `nsAccountLock`
    /// true, or `pwdAccountLockedTime` 000001010000Z (locked by an administrator).
    pub disabled: bool,
    /// The last day the account may log in, in `policy.utc_offset` (from AD `accountExpires`; never: `None`).
    pub expires_on: Option<time::Date>,
    /// When the password was last set, Unix seconds (AD `pwdLastSet`, OpenLDAP `pwdChangedTime`): a reset in
    /// the directory pauses SMS at the VPN as a reset at motpd does.
    pub password_changed_at: Option<i64>,
}

/// The answer to a password check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authentication {
    /// The bind as the user succeeded; the entry as it is now.
    Authenticated(DirectoryEntry),
    /// The directory refused the password (or it was empty, or not UTF-8: never sent).
    WrongPassword,
    /// No entry matches the account ID (or more than one does).
    NotFound,
    /// The entry is disabled or expired in the directory: no bind was sent.
    Refused(DirectoryEntry),
}

/// Why the directory could not answer. Every variant means "no decision": fail closed.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// No directory server could be reached (every URL tried).
    #[error("directory unreachable: {0}")]
    Unreachable(String),
    /// A server did not answer within `ldap.timeout_ms` / `ldap.connect_timeout_ms`.
    #[error("directory did not answer within {0} ms")]
    Timeout(u64),
    /// The TLS handshake failed (certificate not signed by `ldap.ca_file`, wrong name, ...).
    #[error("directory TLS failed: {0}")]
    Tls(String),
    /// The service account's bind was refused, or the directory answered an operation with an error.
    #[error("directory refused the request: {0}")]
    Refused(String),
    /// The configuration or the bind password file cannot be used.
    #[error("directory settings cannot be used: {0}")]
    Settings(String),
}

/// The directory as the engine and the sync use it. Implemented over LDAP by `ldap::LdapDirectory`.
#[async_trait::async_trait]
pub trait Directory: Send + Sync + Debug {
    /// Checks `password` by binding as the entry `id` finds; an empty or whitespace password is never sent
    /// (that would be an anonymous bind, RFC 4513 §5.1.2).
    async fn authenticate(
        &self,
        id: &str,
        password: &SecretBytes,
    ) -> Result<Authentication, DirectoryError>;

    /// The entry of `id`, if exactly one matches.
    async fn find(&self, id: &str) -> Result<Option<DirectoryEntry>, DirectoryError>;

    /// Every entry `ldap.sync_filter` finds under `ldap.base_dn` (paged).
    async fn entries(&self) -> Result<Vec<DirectoryEntry>, DirectoryError>;
}
