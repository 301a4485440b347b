//! `motpd client add|list|remove`: RADIUS clients and their sealed shared secrets.

use std::path::Path;

use ipnet::IpNet;

use super::args::{ClientCommand, ModeArg};
use super::context::{Context, KeyMode};
use super::{CliError, print_table, read_stdin_secret};
use crate::config::AuthMode;
use crate::secrets::{Aad, SecretString};
use crate::store::NewClient;

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
        ClientCommand::List(list) => self::list(&ctx, list.json).await,
        ClientCommand::Remove { name } => remove(&ctx, &name).await,
    };
    ctx.store.close().await;
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
    ctx.store.add_client(&client, ctx.now()).await?;
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
            "warning: {} may send requests without Message-Authenticator; turn it on in NetScaler and re-add the client without --no-require-message-authenticator as soon as the firmware allows",
            client.name
        );
    }
    Ok(())
}

async fn list(ctx: &Context, json: bool) -> anyhow::Result<()> {
    let clients = ctx.store.clients().await?;
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
                super::format_time(Some(c.created_at)),
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

async fn remove(ctx: &Context, name: &str) -> anyhow::Result<()> {
    if !ctx.store.remove_client(name).await? {
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
