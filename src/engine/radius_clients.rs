//! Managing the RADIUS clients (the NetScaler appliances) and their sealed shared secrets, shared by
//! `motpd client add|set|remove` and the console's admin pages: the checks (name, address, secret length, two
//! clients never on one address — the second one's secret would take over the first one's requests), the
//! sealing, the store write and one audit row (`admin.client.*`, the secret only as "changed", never its value).

use ipnet::IpNet;
use serde_json::{Map, Value, json};

use crate::audit::AuditEvent;
use crate::config::AuthMode;
use crate::secrets::{Aad, Keyring, SecretError, SecretString};
use crate::store::{NewClient, RadiusClient, Store, StoreError};

/// Longest shared secret (RFC 2865 allows any length; NetScaler takes up to 128).
pub const MAX_SECRET_BYTES: usize = 128;
/// Shorter secrets are weak (RFC 6151, BlastRADIUS): a warning, not a refusal.
pub const WEAK_SECRET_BYTES: usize = 16;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A name with spaces or control characters, empty, or longer than 64.
    #[error("client name {0:?} must be 1 to 64 characters without spaces")]
    Name(String),
    /// Not an IP address or CIDR network.
    #[error("--address {0:?} is not an IP address or CIDR network")]
    Address(String),
    /// A secret over [`MAX_SECRET_BYTES`] (or empty).
    #[error("the shared secret must be 1 to 128 bytes long")]
    SecretLength,
    /// A client of that name exists.
    #[error("RADIUS client {0:?} already exists; change it with `motpd client set {0} ...`")]
    Exists(String),
    /// Another client has that address.
    #[error(
        "client {other:?} already has the address {address}; two clients with one address would make one \
         of them fail (check the address, or change {other:?} with `motpd client set`)"
    )]
    SharedAddress {
        /// The client that has it.
        other: String,
        /// The address.
        address: IpNet,
    },
    /// No client of that name.
    #[error("no RADIUS client named {0:?} (see `motpd client list`)")]
    NoSuchClient(String),
    /// Sealing or the random generator failed.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new client.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    /// Its name (1 to 64 characters, no spaces).
    pub name: String,
    /// The address or network its requests come from.
    pub address: IpNet,
    /// Whether requests must carry Message-Authenticator.
    pub require_message_authenticator: bool,
    /// Its authentication mode (`None`: `radius.mode`).
    pub mode: Option<AuthMode>,
}

/// What a change replaces (`None`: keep).
#[derive(Debug, Default)]
pub struct ClientUpdate {
    /// A new address.
    pub address: Option<IpNet>,
    /// A new shared secret.
    pub secret: Option<SecretString>,
    /// Message-Authenticator required or not.
    pub require_message_authenticator: Option<bool>,
    /// A new mode (`Some(None)`: back to `radius.mode`).
    pub mode: Option<Option<AuthMode>>,
}

/// Who does it and why (the console asks for a reason; the CLI gives none).
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// The audit actor.
    pub name: &'a str,
    /// The reason, if given.
    pub reason: Option<&'a str>,
    /// Now (unix seconds).
    pub now: i64,
}

/// Parses `10.1.2.3` (a single host) or `10.1.2.0/24`.
pub fn parse_address(text: &str) -> Result<IpNet, ClientError> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map(|net| net.trunc())
        .map_err(|_| ClientError::Address(text.to_owned()))
}

/// A 32-character random shared secret (letters and digits without look-alikes).
pub fn generate_secret() -> Result<SecretString, SecretError> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|_| SecretError::Random)?;
    let text = bytes
        .iter()
        .filter_map(|b| ALPHABET.get(usize::from(*b) % ALPHABET.len()))
        .map(|&b| char::from(b))
        .collect();
    Ok(SecretString::new(text))
}

/// Adds a client with `secret` (sealed under the client's name); audited `admin.client.add`.
pub async fn add_client(
    store: &dyn Store,
    key: &Keyring,
    spec: ClientSpec,
    secret: &SecretString,
    by: Actor<'_>,
) -> Result<(), ClientError> {
    let name = spec.name;
    if name.is_empty()
        || name.chars().count() > 64
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(ClientError::Name(name));
    }
    check_secret(secret)?;
    let clients = store.clients().await?;
    if clients.iter().any(|c| c.name == name) {
        return Err(ClientError::Exists(name));
    }
    refuse_shared_address(&clients, &name, spec.address)?;
    let client = NewClient {
        sealed_secret: key.seal(&Aad::client_secret(&name), secret.expose().as_bytes())?,
        name,
        address: spec.address,
        require_message_authenticator: spec.require_message_authenticator,
        mode: spec.mode,
    };
    store.add_client(&client, by.now).await?;
    let detail = json!({
        "client": client.name,
        "address": client.address.to_string(),
        "require_message_authenticator": client.require_message_authenticator,
        "mode": client.mode.map(AuthMode::as_str),
    });
    audit(store, "admin.client.add", detail, by).await?;
    Ok(())
}

/// Changes client `name`; audited `admin.client.set` with old → new of what changed (the secret only as
/// "changed"). Returns the client as it now is.
pub async fn update_client(
    store: &dyn Store,
    key: &Keyring,
    name: &str,
    update: ClientUpdate,
    by: Actor<'_>,
) -> Result<NewClient, ClientError> {
    let clients = store.clients().await?;
    let Some(current) = clients.iter().find(|c| c.name == name) else {
        return Err(ClientError::NoSuchClient(name.to_owned()));
    };
    let address = update.address.unwrap_or(current.address);
    refuse_shared_address(&clients, name, address)?;
    let sealed_secret = match &update.secret {
        Some(secret) => {
            check_secret(secret)?;
            key.seal(&Aad::client_secret(name), secret.expose().as_bytes())?
        }
        None => current.sealed_secret.clone(),
    };
    let mode = update.mode.unwrap_or(current.mode);
    let require_ma = update
        .require_message_authenticator
        .unwrap_or(current.require_message_authenticator);
    let updated = NewClient {
        name: name.to_owned(),
        address,
        sealed_secret,
        require_message_authenticator: require_ma,
        mode,
    };
    if !store.update_client(&updated).await? {
        return Err(ClientError::NoSuchClient(name.to_owned()));
    }
    let mut changes = Map::new();
    if address != current.address {
        let pair = json!([current.address.to_string(), address.to_string()]);
        changes.insert("address".into(), pair);
    }
    if update.secret.is_some() {
        changes.insert("secret".into(), json!("changed"));
    }
    if require_ma != current.require_message_authenticator {
        let pair = json!([current.require_message_authenticator, require_ma]);
        changes.insert("require_message_authenticator".into(), pair);
    }
    if mode != current.mode {
        let pair = json!([
            current.mode.map(AuthMode::as_str),
            mode.map(AuthMode::as_str)
        ]);
        changes.insert("mode".into(), pair);
    }
    let detail = json!({ "client": name, "changes": changes });
    audit(store, "admin.client.set", detail, by).await?;
    Ok(updated)
}

/// Removes client `name`; audited `admin.client.remove`.
pub async fn remove_client(
    store: &dyn Store,
    name: &str,
    by: Actor<'_>,
) -> Result<(), ClientError> {
    if !store.remove_client(name).await? {
        return Err(ClientError::NoSuchClient(name.to_owned()));
    }
    audit(store, "admin.client.remove", json!({ "client": name }), by).await?;
    Ok(())
}

fn check_secret(secret: &SecretString) -> Result<(), ClientError> {
    let length = secret.expose().len();
    if length == 0 || length > MAX_SECRET_BYTES {
        return Err(ClientError::SecretLength);
    }
    Ok(())
}

/// Another client already has exactly this address (a typo would otherwise be an outage).
fn refuse_shared_address(
    clients: &[RadiusClient],
    name: &str,
    address: IpNet,
) -> Result<(), ClientError> {
    match clients
        .iter()
        .find(|c| c.address == address && c.name != name)
    {
        Some(other) => Err(ClientError::SharedAddress {
            other: other.name.clone(),
            address,
        }),
        None => Ok(()),
    }
}

async fn audit(
    store: &dyn Store,
    kind: &str,
    mut detail: Value,
    by: Actor<'_>,
) -> Result<(), StoreError> {
    if let (Some(reason), Some(fields)) = (by.reason, detail.as_object_mut()) {
        fields.insert("reason".into(), reason.into());
    }
    let event = AuditEvent::new(by.now, kind, by.name, None, "ok", detail);
    store.append_audit(&[event]).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            parse_address("10.1.2.3").unwrap().to_string(),
            "10.1.2.3/32"
        );
        assert_eq!(
            parse_address("10.1.2.9/24").unwrap().to_string(),
            "10.1.2.0/24"
        );
        assert!(matches!(parse_address("ns1"), Err(ClientError::Address(_))));
    }

    #[test]
    fn generated_secrets_are_long_and_differ() {
        let a = generate_secret().unwrap();
        let b = generate_secret().unwrap();
        assert_eq!(a.expose().len(), 32);
        assert_ne!(a.expose(), b.expose());
    }
}
