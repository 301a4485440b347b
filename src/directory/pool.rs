//! The connections to one directory server: idle connections bound as the service account (searches) and idle
//! connections used only for users' binds (a user's bind replaces the connection's identity, so those never
//! search), a connect that is TLS from the first byte (ldaps) or StartTLS before anything else (ldap), and the
//! "failed recently" mark that lets the next server go first for a few seconds.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::rustls::ClientConfig;

use super::DirectoryError;
use crate::secrets::SecretString;

/// How long a server that failed is tried only after the others.
const DOWN_FOR: Duration = Duration::from_secs(5);

/// Which idle list a connection belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// Bound as the service account (or anonymous when no service account is set).
    Search,
    /// Used only for binds as users.
    UserBind,
}

/// What every connection is opened with.
pub(super) struct Connector {
    pub(super) tls: Arc<ClientConfig>,
    pub(super) connect_timeout: Duration,
    pub(super) timeout: Duration,
    /// The service account's DN and password; `None`: anonymous searches.
    pub(super) service: Option<(String, SecretString)>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("service_dn", &self.service.as_ref().map(|(dn, _)| dn))
            .finish_non_exhaustive()
    }
}

/// One directory server and its idle connections. At most `pool_size` connections of each role are in use at
/// once (so at most that many are open, and none is opened and closed per login under load); an operation waits
/// for its turn within the operation time-out.
pub(super) struct Server {
    pub(super) url: String,
    starttls: bool,
    pool_size: usize,
    searchers: Mutex<Vec<Ldap>>,
    binders: Mutex<Vec<Ldap>>,
    search_turns: Arc<Semaphore>,
    bind_turns: Arc<Semaphore>,
    down_until: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("url", &self.url)
            .field("starttls", &self.starttls)
            .finish_non_exhaustive()
    }
}

/// A connection taken from a server, and whether it was idle in the pool (so may have gone stale).
pub(super) struct Taken {
    pub(super) ldap: Ldap,
    pub(super) reused: bool,
    /// The turn this use holds; released when the connection is given back or dropped.
    pub(super) turn: OwnedSemaphorePermit,
}

/// Why getting a connection failed.
pub(super) enum ConnectError {
    /// Network, TLS or time-out: the next server may do better.
    Transport(LdapError),
    /// The server answered the service account's bind with an error.
    ServiceBindRefused(u32, String),
    /// Every connection of the role stayed busy for the whole operation time-out.
    Busy,
}

impl Server {
    pub(super) fn new(url: &str, pool_size: usize) -> Result<Self, DirectoryError> {
        let lower = url.to_ascii_lowercase();
        let (starttls, rest) = if let Some(rest) = lower.strip_prefix("ldaps://") {
            (false, rest)
        } else if let Some(rest) = lower.strip_prefix("ldap://") {
            (true, rest)
        } else {
            return Err(DirectoryError::Settings(format!(
                "{url}: use ldaps://host or ldap://host (StartTLS)"
            )));
        };
        if rest.split(['/', ':']).next().is_none_or(str::is_empty) {
            return Err(DirectoryError::Settings(format!("{url}: no host")));
        }
        Ok(Self {
            url: url.to_owned(),
            starttls,
            pool_size,
            searchers: Mutex::new(Vec::new()),
            binders: Mutex::new(Vec::new()),
            search_turns: Arc::new(Semaphore::new(pool_size)),
            bind_turns: Arc::new(Semaphore::new(pool_size)),
            down_until: Mutex::new(None),
        })
    }

    fn idle(&self, role: Role) -> &Mutex<Vec<Ldap>> {
        match role {
            Role::Search => &self.searchers,
            Role::UserBind => &self.binders,
        }
    }

    /// Whether the server failed in the last few seconds.
    pub(super) fn is_down(&self, now: Instant) -> bool {
        self.down_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some_and(|until| until > now)
    }

    pub(super) fn mark_down(&self) {
        *self
            .down_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + DOWN_FOR);
    }

    pub(super) fn mark_up(&self) {
        *self
            .down_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// An idle connection of `role`, or a new one.
    pub(super) async fn take(
        &self,
        role: Role,
        connector: &Connector,
    ) -> Result<Taken, ConnectError> {
        let turns = match role {
            Role::Search => &self.search_turns,
            Role::UserBind => &self.bind_turns,
        };
        let turn = tokio::time::timeout(connector.timeout, turns.clone().acquire_owned())
            .await
            .map_err(|_| ConnectError::Busy)?
            .map_err(|_| ConnectError::Busy)?;
        loop {
            let idle = self
                .idle(role)
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            let Some(mut ldap) = idle else { break };
            // A connection that ended (server restarted, idle time-out) is dropped.
            if !ldap.is_closed() {
                return Ok(Taken {
                    ldap,
                    reused: true,
                    turn,
                });
            }
        }
        let ldap = self.connect(role, connector).await?;
        Ok(Taken {
            ldap,
            reused: false,
            turn,
        })
    }

    /// Puts a connection that just completed an operation back (unless the pool is full); its turn ends with
    /// `_turn`.
    pub(super) fn give_back(&self, role: Role, mut ldap: Ldap, _turn: OwnedSemaphorePermit) {
        if ldap.is_closed() {
            return;
        }
        let mut idle = self
            .idle(role)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.pool_size {
            idle.push(ldap);
        }
    }

    /// Drops every idle connection (after a transport failure: they likely share its fate).
    pub(super) fn clear(&self) {
        for role in [Role::Search, Role::UserBind] {
            self.idle(role)
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
        }
    }

    async fn connect(&self, role: Role, connector: &Connector) -> Result<Ldap, ConnectError> {
        let settings = LdapConnSettings::new()
            .set_config(connector.tls.clone())
            .set_starttls(self.starttls)
            .set_conn_timeout(connector.connect_timeout);
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &self.url)
            .await
            .map_err(ConnectError::Transport)?;
        ldap3::drive!(conn);
        if let (Role::Search, Some((dn, password))) = (role, &connector.service) {
            let result = ldap
                .with_timeout(connector.timeout)
                .simple_bind(dn, password.expose())
                .await
                .map_err(ConnectError::Transport)?;
            if result.rc != 0 {
                return Err(ConnectError::ServiceBindRefused(result.rc, result.text));
            }
        }
        Ok(ldap)
    }
}
