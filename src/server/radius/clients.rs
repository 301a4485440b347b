//! The RADIUS client table: which source addresses may talk to us, and with which shared secret.
//!
//! Owns unsealing the stored client secrets ([`ClientTable::from_store`]), the longest-prefix lookup by source
//! address (IPv4-mapped IPv6 sources are treated as IPv4), and the hot-swappable [`SharedClientTable`] that
//! [`spawn_client_reload`] refreshes from the store while the server runs.
//!
//! It must not decide anything about a packet (that is the receive path in `handle.rs`), and it never logs a
//! secret: a secret that fails to open is skipped with an error naming the client only.

use std::net::IpAddr;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use ipnet::IpNet;
use tokio_util::sync::CancellationToken;

use super::exported::ClientDecisions;
use crate::config::AuthMode;
use crate::secrets::{Aad, Keyring, SecretBytes};
use crate::store::{RadiusClient, Store, StoreError};

/// One known RADIUS client (a NetScaler), with its shared secret in the clear (zeroed on drop).
#[derive(Debug)]
pub struct Client {
    /// The configured name (used in logs, the duplicate cache key and the engine request).
    pub name: Arc<str>,
    /// Source addresses allowed to use this secret.
    pub network: IpNet,
    /// The shared secret (never empty).
    pub secret: SecretBytes,
    /// Drop Access-Requests without a Message-Authenticator.
    pub require_message_authenticator: bool,
    /// Overrides `radius.mode` for this client.
    pub mode: Option<AuthMode>,
    /// Its decision counters for `/metrics`.
    pub decisions: ClientDecisions,
}

impl Client {
    /// A client with a clear-text secret (tests, or a caller that unsealed the secret itself).
    pub fn new(
        name: &str,
        network: IpNet,
        secret: &[u8],
        require_message_authenticator: bool,
    ) -> Self {
        Self {
            name: Arc::from(name),
            network: canonical_network(network),
            secret: SecretBytes::new(secret.to_vec()),
            require_message_authenticator,
            mode: None,
            decisions: ClientDecisions::new(name),
        }
    }
}

/// An immutable set of clients, searched by longest prefix.
#[derive(Debug, Default)]
pub struct ClientTable {
    /// Sorted by prefix length, longest first, so the first match is the most specific.
    clients: Vec<Arc<Client>>,
}

impl ClientTable {
    /// A table of these clients. Clients with an empty secret are left out (with an error log).
    pub fn new(clients: Vec<Client>) -> Self {
        let mut clients: Vec<Arc<Client>> = clients
            .into_iter()
            .filter(|client| {
                let usable = !client.secret.expose().is_empty();
                if !usable {
                    tracing::error!(client = %client.name, "RADIUS client has an empty secret; ignored");
                }
                usable
            })
            .map(Arc::new)
            .collect();
        clients.sort_by_key(|client| std::cmp::Reverse(client.network.prefix_len()));
        Self { clients }
    }

    /// Builds the table from stored clients, unsealing each secret with `key`. A secret that does not open
    /// (wrong key file, damaged row) skips that client with an error log naming it; it never fails the table.
    pub fn from_store(stored: Vec<RadiusClient>, key: &Keyring) -> Self {
        let clients = stored
            .into_iter()
            .filter_map(|stored| {
                match key.open(&Aad::client_secret(&stored.name), &stored.sealed_secret) {
                    Ok(secret) => Some(Client {
                        name: Arc::from(stored.name.as_str()),
                        network: canonical_network(stored.address),
                        secret,
                        require_message_authenticator: stored.require_message_authenticator,
                        mode: stored.mode,
                        decisions: ClientDecisions::new(&stored.name),
                    }),
                    Err(error) => {
                        tracing::error!(client = %stored.name, %error,
                            "cannot open this RADIUS client's secret (wrong key file?); client ignored");
                        None
                    }
                }
            })
            .collect();
        Self::new(clients)
    }

    /// The most specific client whose network contains `source` (IPv4-mapped IPv6 is matched as IPv4).
    pub fn lookup(&self, source: IpAddr) -> Option<&Arc<Client>> {
        let source = source.to_canonical();
        self.clients
            .iter()
            .find(|client| client.network.contains(&source))
    }

    /// Number of usable clients.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// Whether no client can talk to us.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// `name@network` of every client (for the reload log; no secrets).
    fn summary(&self) -> Vec<(Arc<str>, IpNet, bool)> {
        let mut summary: Vec<_> = self
            .clients
            .iter()
            .map(|c| (c.name.clone(), c.network, c.require_message_authenticator))
            .collect();
        summary.sort();
        summary
    }
}

/// An IPv4-mapped IPv6 network (`::ffff:10.0.0.0/104`) as the IPv4 network it means.
fn canonical_network(network: IpNet) -> IpNet {
    match network {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96).unwrap_or(network),
            None => network,
        },
        other => other,
    }
}

/// The client table the receive loops read, swapped whole on reload. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct SharedClientTable(Arc<RwLock<Arc<ClientTable>>>);

impl SharedClientTable {
    /// Shares `table`.
    pub fn new(table: ClientTable) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(table))))
    }

    /// The current table (a snapshot; a reload does not change it under the caller).
    pub fn load(&self) -> Arc<ClientTable> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the table.
    pub fn store(&self, table: ClientTable) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(table);
    }
}

/// Where the client list comes from: any [`Store`] (and small fakes in tests).
#[async_trait::async_trait]
pub trait ClientSource: Send + Sync {
    /// All stored clients.
    async fn load_clients(&self) -> Result<Vec<RadiusClient>, StoreError>;
}

#[async_trait::async_trait]
impl<S: Store + ?Sized> ClientSource for S {
    async fn load_clients(&self) -> Result<Vec<RadiusClient>, StoreError> {
        crate::store::ClientStore::clients(self).await
    }
}

/// Reads the clients once and swaps them into `table`; returns how many are usable. On a store error the
/// old table stays in force.
pub async fn reload_clients<S: ClientSource + ?Sized>(
    source: &S,
    key: &Keyring,
    table: &SharedClientTable,
) -> Result<usize, StoreError> {
    let fresh = ClientTable::from_store(source.load_clients().await?, key);
    let count = fresh.len();
    if fresh.summary() != table.load().summary() {
        tracing::info!(clients = count, "RADIUS client table loaded");
    }
    table.store(fresh);
    Ok(count)
}

/// Reloads the client table from `source` every `interval` until `token` is cancelled, so that
/// `motpd client add` takes effect without a restart. Store errors keep the old table and log a warning.
/// The first reload happens after one `interval`: load the table once with [`reload_clients`] before serving.
pub fn spawn_client_reload<S: ClientSource + ?Sized + 'static>(
    source: Arc<S>,
    key: Arc<Keyring>,
    table: SharedClientTable,
    interval: Duration,
    token: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            tokio::select! {
                () = token.cancelled() => break,
                _ = ticker.tick() => {}
            }
            if let Err(error) = reload_clients(source.as_ref(), &key, &table).await {
                crate::monitoring::store_error("client_reload");
                tracing::warn!(%error, "cannot reload the RADIUS client table; keeping the old one");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;

    fn client(name: &str, net: &str) -> Client {
        Client::new(name, net.parse().unwrap(), b"secret", true)
    }

    #[test]
    fn longest_prefix_wins_and_mapped_sources_match_ipv4() {
        let table = ClientTable::new(vec![
            client("wide", "10.0.0.0/8"),
            client("narrow", "10.1.0.0/16"),
            client("host", "10.1.2.3/32"),
            client("v6", "2001:db8::/32"),
        ]);
        let name = |ip: &str| {
            table
                .lookup(ip.parse().unwrap())
                .map(|c| c.name.to_string())
        };
        assert_eq!(name("10.1.2.3").as_deref(), Some("host"));
        assert_eq!(name("10.1.2.4").as_deref(), Some("narrow"));
        assert_eq!(name("10.2.0.1").as_deref(), Some("wide"));
        assert_eq!(name("::ffff:10.1.9.9").as_deref(), Some("narrow"));
        assert_eq!(name("2001:db8::1").as_deref(), Some("v6"));
        assert_eq!(name("192.168.0.1"), None);
        assert_eq!(name("::1"), None);
    }

    #[test]
    fn mapped_networks_are_ipv4_networks() {
        let table = ClientTable::new(vec![client("mapped", "::ffff:192.0.2.0/120")]);
        assert!(table.lookup("192.0.2.7".parse().unwrap()).is_some());
        assert!(table.lookup("192.0.3.7".parse().unwrap()).is_none());
    }

    #[test]
    fn empty_secrets_are_left_out() {
        let table = ClientTable::new(vec![Client::new(
            "empty",
            "10.0.0.0/8".parse().unwrap(),
            b"",
            true,
        )]);
        assert!(table.is_empty());
    }

    fn stored(key: &Keyring, name: &str, net: &str, secret: &[u8]) -> RadiusClient {
        RadiusClient {
            name: name.into(),
            address: net.parse().unwrap(),
            sealed_secret: key.seal(&Aad::client_secret(name), secret).unwrap(),
            require_message_authenticator: false,
            mode: Some(AuthMode::OtpOnly),
            created_at: 0,
        }
    }

    #[test]
    fn from_store_unseals_and_skips_a_secret_that_does_not_open() {
        let key = Keyring::from_bytes([7; 32]);
        let other = Keyring::from_bytes([8; 32]);
        let mut swapped = stored(&key, "swapped", "10.9.0.0/16", b"s3");
        swapped.name = "renamed".into(); // sealed for another name: the AAD no longer matches
        let table = ClientTable::from_store(
            vec![
                stored(&key, "good", "10.0.0.0/8", b"s1"),
                stored(&other, "wrong-key", "10.1.0.0/16", b"s2"),
                swapped,
            ],
            &key,
        );
        assert_eq!(table.len(), 1);
        let good = table.lookup("10.1.2.3".parse().unwrap()).unwrap();
        assert_eq!(&*good.name, "good");
        assert_eq!(good.secret.expose(), b"s1");
        assert_eq!(good.mode, Some(AuthMode::OtpOnly));
        assert!(!good.require_message_authenticator);
    }

    #[derive(Debug)]
    struct FakeSource(std::sync::Mutex<Result<Vec<RadiusClient>, ()>>);

    #[async_trait::async_trait]
    impl ClientSource for FakeSource {
        async fn load_clients(&self) -> Result<Vec<RadiusClient>, StoreError> {
            self.0
                .lock()
                .unwrap()
                .clone()
                .map_err(|()| StoreError::Corrupt("down".into()))
        }
    }

    #[tokio::test]
    async fn reload_swaps_the_table_and_keeps_it_on_errors() {
        let key = Arc::new(Keyring::from_bytes([7; 32]));
        let source = Arc::new(FakeSource(std::sync::Mutex::new(Ok(vec![]))));
        let table = SharedClientTable::default();
        let token = CancellationToken::new();
        let task = spawn_client_reload(
            source.clone(),
            key.clone(),
            table.clone(),
            Duration::from_millis(20),
            token.clone(),
        );
        *source.0.lock().unwrap() = Ok(vec![stored(&key, "nas", "127.0.0.0/8", b"s")]);
        let found = |t: &SharedClientTable| t.load().lookup("127.0.0.1".parse().unwrap()).is_some();
        for _ in 0..100 {
            if found(&table) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(found(&table), "the reload never picked up the new client");
        *source.0.lock().unwrap() = Err(());
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(found(&table), "a store error must keep the old table");
        token.cancel();
        tokio::time::timeout(Duration::from_secs(1), task)
            .await
            .unwrap()
            .unwrap();
    }
}
