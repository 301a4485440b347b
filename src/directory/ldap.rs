//! [`LdapDirectory`]: the [`Directory`] over LDAP (ldap3, async), for Active Directory and OpenLDAP.
//!
//! TLS always (ldaps, or StartTLS before anything is sent on ldap://), trusting only the CAs of `ldap.ca_file`.
//! Servers are tried in the configured order; one that failed goes last for a few seconds. Every connect is
//! bounded by `ldap.connect_timeout_ms` and every operation by `ldap.timeout_ms`; a connection that failed is
//! dropped. Searches run on connections bound as the service account, users' binds on connections kept for
//! binds only.

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ldap3::adapters::{EntriesOnly, PagedResults};
use ldap3::{Ldap, LdapError, Scope, SearchEntry, SearchOptions};
use time::UtcOffset;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

use super::entry::{self, Attributes};
use super::filter;
use super::pool::{ConnectError, Connector, Role, Server};
use super::{Authentication, Directory, DirectoryEntry, DirectoryError};
use crate::account_rules::normalize_id;
use crate::clock::{Clock, SystemClock, local_date};
use crate::config::LdapConfig;
use crate::secrets::{SecretBytes, SecretString};

/// LDAP result code invalidCredentials.
const INVALID_CREDENTIALS: u32 = 49;
/// LDAP result code sizeLimitExceeded: more entries matched than asked for.
const SIZE_LIMIT_EXCEEDED: u32 = 4;
/// Longest account ID sent in a search (AD's sAMAccountName has 20 characters, a UPN 256 at most).
const MAX_ID_LEN: usize = 256;

/// The directory over LDAP.
#[derive(Debug)]
pub struct LdapDirectory {
    config: LdapConfig,
    offset: UtcOffset,
    servers: Vec<Server>,
    connector: Connector,
    attributes: Vec<String>,
    clock: Arc<dyn Clock>,
}

/// A search's entries, or the sign that the search matched more than it may.
struct Found {
    entries: Vec<(String, Attributes)>,
    too_many: bool,
}

impl LdapDirectory {
    /// A directory client for `config` (`[ldap]`); expiry dates are days in `utc_offset`. Reads the CA file and
    /// the service account's password file; opens no connection.
    pub fn new(config: &LdapConfig, utc_offset: UtcOffset) -> Result<Self, DirectoryError> {
        if !config.configured() {
            return Err(DirectoryError::Settings("ldap.urls is empty".into()));
        }
        let ca_file = config
            .ca_file
            .as_deref()
            .ok_or_else(|| DirectoryError::Settings("ldap.ca_file is needed".into()))?;
        let roots = private_roots(ca_file)?;
        // The provider is given here, not installed process-wide: *ring* stays the only one in the binary.
        let tls =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| DirectoryError::Settings(format!("TLS set-up: {e}")))?
                .with_root_certificates(roots)
                .with_no_client_auth();
        let service = match (&config.bind_password_file, config.bind_dn.trim()) {
            (Some(path), dn) if !dn.is_empty() => Some((dn.to_owned(), read_password(path)?)),
            (None, "") => None,
            _ => {
                return Err(DirectoryError::Settings(
                    "ldap.bind_dn and ldap.bind_password_file go together".into(),
                ));
            }
        };
        let servers = config
            .urls
            .iter()
            .map(|url| Server::new(url, config.pool_size.max(1)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            config: config.clone(),
            offset: utc_offset,
            servers,
            connector: Connector {
                tls: Arc::new(tls),
                connect_timeout: Duration::from_millis(config.connect_timeout_ms),
                timeout: Duration::from_millis(config.timeout_ms),
                service,
            },
            attributes: entry::requested_attributes(config),
            clock: Arc::new(SystemClock),
        })
    }

    fn timeout(&self) -> Duration {
        self.connector.timeout
    }

    /// Runs `op` on a connection of `role`, server after server until one answers. `op` gets its own handle
    /// to the connection; an `Err` from it means the connection failed (a result code is an `Ok`).
    async fn run<T, F, Fut>(&self, role: Role, op: F) -> Result<T, DirectoryError>
    where
        F: Fn(Ldap) -> Fut,
        Fut: Future<Output = Result<T, LdapError>>,
    {
        let now = Instant::now();
        let mut order: Vec<&Server> = self.servers.iter().filter(|s| !s.is_down(now)).collect();
        if order.is_empty() {
            // Every server failed lately: try them all again rather than fail without asking.
            order = self.servers.iter().collect();
        }
        let mut failure: Option<DirectoryError> = None;
        for server in order {
            match self.run_on(server, role, &op).await {
                Ok(value) => {
                    server.mark_up();
                    return Ok(value);
                }
                Err(Attempt::Final(e)) => return Err(e),
                Err(Attempt::NextServer(e)) => {
                    tracing::warn!(url = %server.url, error = %e, "directory server failed; trying the next");
                    server.mark_down();
                    server.clear();
                    // A TLS failure says more than "unreachable" about what to fix: it is the one reported.
                    if !matches!(failure, Some(DirectoryError::Tls(_))) {
                        failure = Some(e);
                    }
                }
            }
        }
        Err(failure.unwrap_or_else(|| DirectoryError::Unreachable("no directory server".into())))
    }

    async fn run_on<T, F, Fut>(&self, server: &Server, role: Role, op: &F) -> Result<T, Attempt>
    where
        F: Fn(Ldap) -> Fut,
        Fut: Future<Output = Result<T, LdapError>>,
    {
        let mut retried = false;
        loop {
            let taken = match server.take(role, &self.connector).await {
                Ok(taken) => taken,
                Err(ConnectError::Transport(e)) => {
                    return Err(Attempt::NextServer(classify(
                        &e,
                        self.config.connect_timeout_ms,
                    )));
                }
                // Local congestion, not the server's failure: reported without marking the server down.
                Err(ConnectError::Busy) => {
                    return Err(Attempt::Final(DirectoryError::Timeout(
                        self.config.timeout_ms,
                    )));
                }
                Err(ConnectError::ServiceBindRefused(rc, text)) => {
                    return Err(Attempt::Final(DirectoryError::Refused(format!(
                        "{}: the service account's bind was refused (result {rc}: {text})",
                        server.url
                    ))));
                }
            };
            match op(taken.ldap.clone()).await {
                Ok(value) => {
                    server.give_back(role, taken.ldap, taken.turn);
                    return Ok(value);
                }
                // An idle connection the server closed meanwhile: once more on a new one.
                Err(e) if taken.reused && !retried && !matches!(e, LdapError::Timeout { .. }) => {
                    retried = true;
                }
                Err(e) => {
                    return Err(Attempt::NextServer(classify(&e, self.config.timeout_ms)));
                }
            }
        }
    }

    /// The entries `filter` finds under `base` (at most two: more than one is ambiguous).
    async fn search_one(&self, base: &str, filter: &str) -> Result<Found, DirectoryError> {
        let timeout = self.timeout();
        let attributes = &self.attributes;
        let (entries, rc, text) = self
            .run(Role::Search, |mut ldap| async move {
                let result = ldap
                    .with_timeout(timeout)
                    .with_search_options(SearchOptions::new().sizelimit(2))
                    .search(base, Scope::Subtree, filter, attributes)
                    .await?;
                Ok((result.0, result.1.rc, result.1.text))
            })
            .await?;
        let too_many = match rc {
            0 => entries.len() > 1,
            SIZE_LIMIT_EXCEEDED => true,
            // No such object: the base DN is not there.
            32 => false,
            _ => {
                return Err(DirectoryError::Refused(format!(
                    "search: result {rc}: {text}"
                )));
            }
        };
        let entries = entries
            .into_iter()
            .map(construct)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Found { entries, too_many })
    }

    /// The one entry whose ID is `id`, or `None` (none, several, or an ID motpd cannot hold).
    async fn lookup(&self, id: &str) -> Result<Option<DirectoryEntry>, DirectoryError> {
        let key = id.trim().to_lowercase();
        if key.is_empty() || key.len() > MAX_ID_LEN {
            return Ok(None);
        }
        let search = filter::user_filter(&self.config.user_filter, &key);
        let found = self.search_one(&self.config.base_dn, &search).await?;
        if found.too_many {
            tracing::warn!(
                id = %key,
                "more than one directory entry matches the account ID: treated as unknown"
            );
            return Ok(None);
        }
        let Some((dn, attrs)) = found.entries.into_iter().next() else {
            return Ok(None);
        };
        // The entry must carry the very ID asked for: a filter that matches otherwise (a wildcard, another
        // attribute in a custom user_filter) does not pick someone else's entry.
        let Some(raw) = entry::raw_id(&self.config, &attrs) else {
            return Ok(None);
        };
        if raw.to_lowercase() != key {
            return Ok(None);
        }
        let Ok(normalized) = normalize_id(raw) else {
            return Ok(None);
        };
        Ok(Some(entry::map(
            &self.config,
            self.offset,
            normalized,
            dn,
            &attrs,
        )))
    }

    /// Binds as `dn` with `password` on a bind-only connection: `true` accepted, `false` invalid credentials.
    async fn bind_as(&self, dn: &str, password: &str) -> Result<bool, DirectoryError> {
        let timeout = self.timeout();
        let (rc, text) = self
            .run(Role::UserBind, |mut ldap| async move {
                let result = ldap.with_timeout(timeout).simple_bind(dn, password).await?;
                Ok((result.rc, result.text))
            })
            .await?;
        match rc {
            0 => Ok(true),
            INVALID_CREDENTIALS => Ok(false),
            _ => Err(DirectoryError::Refused(format!(
                "bind: result {rc}: {text}"
            ))),
        }
    }

    /// The same directory reading "today" from `clock` (the engine's clock, a test's manual clock).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn today(&self) -> time::Date {
        local_date(self.clock.now(), self.offset)
    }
}

/// Why one server did not answer.
enum Attempt {
    /// Try the next server.
    NextServer(DirectoryError),
    /// Stop: the answer would be the same elsewhere.
    Final(DirectoryError),
}

#[async_trait::async_trait]
impl Directory for LdapDirectory {
    async fn authenticate(
        &self,
        id: &str,
        password: &SecretBytes,
    ) -> Result<Authentication, DirectoryError> {
        // An empty password would be an unauthenticated bind, which succeeds (RFC 4513 §5.1.2).
        let Ok(password) = std::str::from_utf8(password.expose()) else {
            return Ok(Authentication::WrongPassword);
        };
        if password.trim().is_empty() {
            return Ok(Authentication::WrongPassword);
        }
        let Some(entry) = self.lookup(id).await? else {
            return Ok(Authentication::NotFound);
        };
        if entry.disabled || entry.expires_on.is_some_and(|last| self.today() > last) {
            return Ok(Authentication::Refused(entry));
        }
        if self.bind_as(&entry.dn, password).await? {
            Ok(Authentication::Authenticated(entry))
        } else {
            Ok(Authentication::WrongPassword)
        }
    }

    async fn find(&self, id: &str) -> Result<Option<DirectoryEntry>, DirectoryError> {
        self.lookup(id).await
    }

    async fn entries(&self) -> Result<Vec<DirectoryEntry>, DirectoryError> {
        let timeout = self.timeout();
        let attributes = &self.attributes;
        let base = self.config.base_dn.as_str();
        let sync_filter = self.config.sync_filter.as_str();
        let page_size = self.config.page_size.max(1);
        let (raw, rc, text) = self
            .run(Role::Search, |mut ldap| async move {
                let mut stream = ldap
                    .with_timeout(timeout)
                    .streaming_search_with(
                        vec![
                            Box::new(EntriesOnly::new()) as Box<dyn ldap3::adapters::Adapter<_, _>>,
                            Box::new(PagedResults::new(page_size)),
                        ],
                        base,
                        Scope::Subtree,
                        sync_filter,
                        attributes,
                    )
                    .await?;
                let mut entries = Vec::new();
                while let Some(entry) = stream.next().await? {
                    entries.push(entry);
                }
                let result = stream.finish().await;
                Ok((entries, result.rc, result.text))
            })
            .await?;
        if rc != 0 {
            return Err(DirectoryError::Refused(format!(
                "sync search: result {rc}: {text}"
            )));
        }
        let mut by_id: HashMap<String, Vec<DirectoryEntry>> = HashMap::new();
        let mut unusable = 0usize;
        for re in raw {
            let (dn, attrs) = construct(re)?;
            let Some(id) = entry::raw_id(&self.config, &attrs).and_then(|r| normalize_id(r).ok())
            else {
                unusable += 1;
                tracing::debug!(%dn, "directory entry without a usable account ID skipped");
                continue;
            };
            let mapped = entry::map(&self.config, self.offset, id.clone(), dn, &attrs);
            by_id.entry(id).or_default().push(mapped);
        }
        if unusable > 0 {
            tracing::warn!(
                unusable,
                "directory entries without a usable account ID (missing, or not letters, digits, . _ - @) skipped"
            );
        }
        let mut entries = Vec::with_capacity(by_id.len());
        for (id, mut same) in by_id {
            if same.len() == 1 {
                entries.extend(same.pop());
            } else {
                // Ambiguous, as a login would find it: neither entry is an account.
                tracing::warn!(%id, count = same.len(), "several directory entries carry the same account ID: skipped");
            }
        }
        entries.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(entries)
    }
}

/// An entry's DN and attributes. ldap3 panics on an entry whose encoding is not an entry; that is caught here
/// and becomes an error, since it comes from the network.
fn construct(re: ldap3::ResultEntry) -> Result<(String, Attributes), DirectoryError> {
    let parsed =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| SearchEntry::construct(re)))
            .map_err(|_| {
                DirectoryError::Refused("a search result entry could not be decoded".into())
            })?;
    Ok((parsed.dn, Attributes::new(parsed.attrs)))
}

/// A failed connection or operation as a [`DirectoryError`].
fn classify(error: &LdapError, timeout_ms: u64) -> DirectoryError {
    match error {
        LdapError::Timeout { .. } => DirectoryError::Timeout(timeout_ms),
        LdapError::Rustls { source } => DirectoryError::Tls(source.to_string()),
        LdapError::DNSName { source } => DirectoryError::Tls(source.to_string()),
        LdapError::Io { source } => match source
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            Some(tls) => DirectoryError::Tls(tls.to_string()),
            None if source.kind() == std::io::ErrorKind::TimedOut => {
                DirectoryError::Timeout(timeout_ms)
            }
            None => DirectoryError::Unreachable(source.to_string()),
        },
        // StartTLS refused by the server: no plaintext fallback.
        LdapError::LdapResult { result } => {
            DirectoryError::Tls(format!("StartTLS refused (result {})", result.rc))
        }
        other => DirectoryError::Unreachable(other.to_string()),
    }
}

/// The CA certificates in the PEM file at `path`: the only roots the directory's certificates may chain to.
fn private_roots(path: &Path) -> Result<RootCertStore, DirectoryError> {
    let fail = |reason: String| {
        DirectoryError::Settings(format!("ldap.ca_file {}: {reason}", path.display()))
    };
    let pem = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| fail(format!("not PEM: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| fail(format!("not a usable certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(fail("holds no certificate".into()));
    }
    Ok(roots)
}

/// The service account's password: the file's first line (without its line end). A file others may read is
/// used with a warning, as the key file is not.
fn read_password(path: &Path) -> Result<SecretString, DirectoryError> {
    let fail = |reason: String| {
        DirectoryError::Settings(format!(
            "ldap.bind_password_file {}: {reason}",
            path.display()
        ))
    };
    let meta = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?;
    warn_if_readable_by_others(path, &meta);
    let bytes = zeroize::Zeroizing::new(std::fs::read(path).map_err(|e| fail(e.to_string()))?);
    let text = std::str::from_utf8(&bytes).map_err(|_| fail("not UTF-8".into()))?;
    let line = text.split(['\n', '\r']).next().unwrap_or_default();
    if line.is_empty() {
        return Err(fail("empty".into()));
    }
    Ok(SecretString::new(line.to_owned()))
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path, meta: &std::fs::Metadata) {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{mode:o}"),
            "ldap.bind_password_file is readable by group or others: chmod 600 it"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path, _meta: &std::fs::Metadata) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path) -> LdapConfig {
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, TEST_CA).unwrap();
        let pw = dir.join("pw");
        std::fs::write(&pw, "s3cret\n").unwrap();
        LdapConfig {
            urls: vec!["ldaps://127.0.0.1:1".into()],
            ca_file: Some(ca),
            bind_dn: "cn=svc".into(),
            bind_password_file: Some(pw),
            base_dn: "dc=test".into(),
            ..LdapConfig::default()
        }
    }

    // A throwaway self-signed P-256 CA certificate (no key kept): only its parsing matters here.
    const TEST_CA: &str = include_str!("../../tests/data/sms-tls/ca.pem");

    #[test]
    fn the_password_file_loses_its_line_end_only() {
        let dir = tempfile::tempdir().unwrap();
        for (content, expected) in [
            ("s3cret\n", "s3cret"),
            ("s3cret", "s3cret"),
            (" pw x\r\n", " pw x"),
        ] {
            let path = dir.path().join("pw");
            std::fs::write(&path, content).unwrap();
            assert_eq!(read_password(&path).unwrap().expose(), expected);
        }
        std::fs::write(dir.path().join("pw"), "\n").unwrap();
        assert!(read_password(&dir.path().join("pw")).is_err());
    }

    #[test]
    fn settings_that_cannot_work_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let good = config(dir.path());
        assert!(LdapDirectory::new(&good, UtcOffset::UTC).is_ok());
        let mut plain = good.clone();
        plain.urls = vec!["http://127.0.0.1".into()];
        assert!(matches!(
            LdapDirectory::new(&plain, UtcOffset::UTC),
            Err(DirectoryError::Settings(_))
        ));
        let mut no_ca = good.clone();
        no_ca.ca_file = Some(dir.path().join("missing.pem"));
        assert!(matches!(
            LdapDirectory::new(&no_ca, UtcOffset::UTC),
            Err(DirectoryError::Settings(_))
        ));
        let mut not_pem = good.clone();
        std::fs::write(dir.path().join("x.pem"), "nothing").unwrap();
        not_pem.ca_file = Some(dir.path().join("x.pem"));
        assert!(LdapDirectory::new(&not_pem, UtcOffset::UTC).is_err());
        let mut half = good;
        half.bind_password_file = None;
        assert!(LdapDirectory::new(&half, UtcOffset::UTC).is_err());
    }

    #[tokio::test]
    async fn empty_or_binary_passwords_are_never_sent() {
        let dir = tempfile::tempdir().unwrap();
        // Port 1 on loopback: any attempt to reach it would be an error, not WrongPassword.
        let directory = LdapDirectory::new(&config(dir.path()), UtcOffset::UTC).unwrap();
        for password in [&b""[..], b"   ", b"\t\n", &[0xff, 0xfe]] {
            let answer = directory
                .authenticate("user00001", &SecretBytes::new(password.to_vec()))
                .await
                .unwrap();
            assert_eq!(answer, Authentication::WrongPassword);
        }
    }

    #[tokio::test]
    async fn an_unreachable_directory_is_an_error_not_an_answer() {
        let dir = tempfile::tempdir().unwrap();
        let directory = LdapDirectory::new(&config(dir.path()), UtcOffset::UTC).unwrap();
        let answer = directory
            .authenticate("user00001", &SecretBytes::new(b"pw".to_vec()))
            .await;
        assert!(
            matches!(answer, Err(DirectoryError::Unreachable(_))),
            "{answer:?}"
        );
    }
}
