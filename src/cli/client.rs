//! `motpd client add|set|list|remove`: RADIUS clients and their sealed shared secrets. Two clients never share
//! an address: the second one's secret would take over the first one's requests (dropped as forged).

use std::path::Path;

use ipnet::IpNet;

use super::args::{ClientCommand, ClientModeArg, ModeArg, Switch};
use super::context::{Context, KeyMode};
use super::{CliError, print_table, read_stdin_secret};
use crate::config::AuthMode;
use crate::secrets::{Aad, SecretString};
use crate::store::{NewClient, RadiusClient};

pub(super) async fn run(config_path: Option<&Path>, command: ClientCommand) -> anyhow::Result<()> {
    let ctx = Context::open(config_path, KeyMode::MustExist).await?;
    let result = match command {
        ClientCommand::Add {
            name,
            address,
            secret_stdin,
            no_require_message_authenticator,
            mode,
        } => {
            add(
                &ctx,
                name,
                &address,
                secret_stdin,
                !no_require_message_authenticator,
                mode,
            )
            .await
        }
        ClientCommand::Set {
            name,
            address,
            secret_stdin,
            require_message_authenticator,
            mode,
        } => {
            let change = ClientChange {
                address,
                secret_stdin,
                require_ma: require_message_authenticator.map(|s| s == Switch::On),
                mode,
            };
            set(&ctx, &name, change).await
        }
        ClientCommand::List(list) => self::list(&ctx, list.json).await,
        ClientCommand::Remove { name } => remove(&ctx, &name).await,
    };
    ctx.stores.store.close().await;
    result
}

/// Parses `10.1.2.3` (a single host) or `10.1.2.0/24`.
fn parse_address(text: &str) -> Result<IpNet, CliError> {
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map(|net| net.trunc())
        .map_err(|_| {
            CliError::Input(format!(
                "--address {text:?} is not an IP address or CIDR network"
            ))
        })
}

fn generate_secret() -> anyhow::Result<SecretString> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("the system random generator failed"))?;
    let text = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    Ok(SecretString::new(text))
}

async fn add(
    ctx: &Context,
    name: String,
    address: &str,
    secret_stdin: bool,
    require_ma: bool,
    mode: Option<ModeArg>,
) -> anyhow::Result<()> {
    if name.is_empty()
        || name.len() > 64
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(CliError::Input(format!(
            "client name {name:?} must be 1 to 64 characters without spaces"
        ))
        .into());
    }
    let address = parse_address(address)?;
    let clients = ctx.stores.store.clients().await?;
    if clients.iter().any(|c| c.name == name) {
        return Err(crate::store::StoreError::Conflict(format!(
            "RADIUS client {name:?} already exists; change it with `motpd client set {name} ...`"
        ))
        .into());
    }
    refuse_shared_address(&clients, &name, address)?;
    let (secret, generated) = if secret_stdin {
        (read_stdin_secret("shared secret")?, false)
    } else {
        (generate_secret()?, true)
    };
    if secret.expose().len() > 128 {
        return Err(CliError::Input("the shared secret is longer than 128 bytes".into()).into());
    }
    if secret.expose().len() < 16 {
        eprintln!(
            "warning: a shared secret shorter than 16 characters is weak (RFC 6151, BlastRADIUS); prefer 22 or more"
        );
    }
    let mode = mode.map(|m| match m {
        ModeArg::PasswordOtp => AuthMode::PasswordOtp,
        ModeArg::OtpOnly => AuthMode::OtpOnly,
        ModeArg::Challenge => AuthMode::Challenge,
    });
    let client = NewClient {
        sealed_secret: ctx
            .key
            .seal(&Aad::client_secret(&name), secret.expose().as_bytes())?,
        name,
        address,
        require_message_authenticator: require_ma,
        mode,
    };
    ctx.stores.store.add_client(&client, ctx.now()).await?;
    ctx.audit(
        "admin.client.add",
        None,
        serde_json::json!({
            "client": client.name,
            "address": client.address.to_string(),
            "require_message_authenticator": require_ma,
            "mode": mode.map(AuthMode::as_str),
        }),
    )
    .await?;
    println!("added client {} ({})", client.name, client.address);
    if generated {
        println!(
            "shared secret (shown once; enter it in the NetScaler RADIUS action): {}",
            secret.expose()
        );
    }
    if !require_ma {
        eprintln!(
            "warning: {} may send requests without Message-Authenticator; turn it on in NetScaler and then `motpd client set {} --require-message-authenticator on` as soon as the firmware allows",
            client.name, client.name
        );
    }
    Ok(())
}

async fn list(ctx: &Context, json: bool) -> anyhow::Result<()> {
    let clients = ctx.stores.store.clients().await?;
    if json {
        let rows: Vec<_> = clients
            .iter()
            .map(|c| {
                serde_json::json!({
                    "name": c.name,
                    "address": c.address.to_string(),
                    "require_message_authenticator": c.require_message_authenticator,
                    "mode": c.mode.map(AuthMode::as_str),
                    "created_at": c.created_at,
                })
            })
            .collect();
        let rows =
            super::with_local_times(serde_json::Value::Array(rows), ctx.config.policy.utc_offset);
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    let default_mode = ctx.config.radius.mode.as_str();
    let rows: Vec<Vec<String>> = clients
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                c.address.to_string(),
                if c.require_message_authenticator {
                    "required"
                } else {
                    "optional"
                }
                .to_owned(),
                c.mode.map_or_else(
                    || format!("{default_mode} (default)"),
                    |m| m.as_str().to_owned(),
                ),
                super::format_time(Some(c.created_at), ctx.config.policy.utc_offset),
            ]
        })
        .collect();
    print_table(
        &[
            "NAME",
            "ADDRESS",
            "MESSAGE-AUTHENTICATOR",
            "MODE",
            "CREATED",
        ],
        &rows,
    );
    Ok(())
}

/// Another client already has exactly this address (a typo would otherwise be an outage).
fn refuse_shared_address(
    clients: &[RadiusClient],
    name: &str,
    address: IpNet,
) -> Result<(), crate::store::StoreError> {
    match clients
        .iter()
        .find(|c| c.address == address && c.name != name)
    {
        Some(other) => Err(crate::store::StoreError::Conflict(format!(
            "client {:?} already has the address {address}; two clients with one address would make one \
             of them fail (check the address, or change {:?} with `motpd client set`)",
            other.name, other.name
        ))),
        None => Ok(()),
    }
}

/// What `client set` changes (`None`: keep).
struct ClientChange {
    address: Option<String>,
    secret_stdin: bool,
    require_ma: Option<bool>,
    mode: Option<ClientModeArg>,
}

async fn set(ctx: &Context, name: &str, change: ClientChange) -> anyhow::Result<()> {
    if change.address.is_none()
        && !change.secret_stdin
        && change.require_ma.is_none()
        && change.mode.is_none()
    {
        return Err(CliError::Input(
            "nothing to change: give --address, --secret-stdin, --require-message-authenticator or --mode"
                .into(),
        )
        .into());
    }
    let clients = ctx.stores.store.clients().await?;
    let Some(current) = clients.iter().find(|c| c.name == name) else {
        return Err(CliError::NotFound(format!(
            "no RADIUS client named {name:?} (see `motpd client list`)"
        ))
        .into());
    };
    let address = match &change.address {
        Some(text) => parse_address(text)?,
        None => current.address,
    };
    refuse_shared_address(&clients, name, address)?;
    let sealed_secret = if change.secret_stdin {
        let secret = read_stdin_secret("shared secret")?;
        if secret.expose().len() > 128 {
            return Err(
                CliError::Input("the shared secret is longer than 128 bytes".into()).into(),
            );
        }
        ctx.key
            .seal(&Aad::client_secret(name), secret.expose().as_bytes())?
    } else {
        current.sealed_secret.clone()
    };
    let mode = match change.mode {
        None => current.mode,
        Some(ClientModeArg::Default) => None,
        Some(ClientModeArg::PasswordOtp) => Some(AuthMode::PasswordOtp),
        Some(ClientModeArg::OtpOnly) => Some(AuthMode::OtpOnly),
        Some(ClientModeArg::Challenge) => Some(AuthMode::Challenge),
    };
    let require_ma = change
        .require_ma
        .unwrap_or(current.require_message_authenticator);
    let updated = NewClient {
        name: name.to_owned(),
        address,
        sealed_secret,
        require_message_authenticator: require_ma,
        mode,
    };
    if !ctx.stores.store.update_client(&updated).await? {
        return Err(
            CliError::NotFound(format!("RADIUS client {name:?} was removed meanwhile")).into(),
        );
    }
    // Old → new for what changed; the secret only as "changed".
    let mut changes = serde_json::Map::new();
    if address != current.address {
        changes.insert(
            "address".into(),
            serde_json::json!([current.address.to_string(), address.to_string()]),
        );
    }
    if change.secret_stdin {
        changes.insert("secret".into(), serde_json::json!("changed"));
    }
    if require_ma != current.require_message_authenticator {
        changes.insert(
            "require_message_authenticator".into(),
            serde_json::json!([current.require_message_authenticator, require_ma]),
        );
    }
    if mode != current.mode {
        changes.insert(
            "mode".into(),
            serde_json::json!([
                current.mode.map(AuthMode::as_str),
                mode.map(AuthMode::as_str)
            ]),
        );
    }
    ctx.audit(
        "admin.client.set",
        None,
        serde_json::json!({ "client": name, "changes": changes }),
    )
    .await?;
    println!("changed client {name} (a running server picks it up within 10 seconds)");
    if !require_ma {
        eprintln!(
            "warning: {name} may send requests without Message-Authenticator (weakens BlastRADIUS protection)"
        );
    }
    Ok(())
}

async fn remove(ctx: &Context, name: &str) -> anyhow::Result<()> {
    if !ctx.stores.store.remove_client(name).await? {
        return Err(CliError::NotFound(format!(
            "no RADIUS client named {name:?} (see `motpd client list`)"
        ))
        .into());
    }
    ctx.audit(
        "admin.client.remove",
        None,
        serde_json::json!({ "client": name }),
    )
    .await?;
    println!("removed client {name}");
    Ok(())
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
            parse_address("10.1.2.3/24").unwrap().to_string(),
            "10.1.2.0/24"
        );
        assert_eq!(parse_address("::1").unwrap().to_string(), "::1/128");
        assert!(parse_address("netscaler").is_err());
    }

    #[test]
    fn generated_secrets_are_long_and_differ() {
        let a = generate_secret().unwrap();
        assert_eq!(a.expose().len(), 32);
        assert_ne!(a, generate_secret().unwrap());
    }
}
