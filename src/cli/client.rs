//! `motpd client add|set|list|remove`: RADIUS clients and their sealed shared secrets. The checks, the sealing
//! and the audit rows are [`crate::engine::radius_clients`]' (the console uses them too); this file reads the
//! arguments and the secret, and prints.

use std::path::Path;

use super::args::{ClientCommand, ClientModeArg, ModeArg, Switch};
use super::context::{Context, KeyMode};
use super::{CliError, print_table, read_stdin_secret};
use crate::config::AuthMode;
use crate::engine::radius_clients::{
    self, Actor, ClientSpec, ClientUpdate, WEAK_SECRET_BYTES, generate_secret, parse_address,
};

pub(super) async fn run(config_path: Option<&Path>, command: ClientCommand) -> anyhow::Result<()> {
    let ctx = Context::open(config_path, KeyMode::MustExist).await?;
    let result = match command {
        ClientCommand::Add {
            name,
            address,
            secret_stdin,
            no_require_message_authenticator,
            mode,
            reason,
        } => {
            let spec = AddArgs {
                secret_stdin,
                require_ma: !no_require_message_authenticator,
                mode,
                reason: super::reason(reason.as_deref()),
            };
            add(&ctx, name, &address, spec).await
        }
        ClientCommand::Set {
            name,
            address,
            secret_stdin,
            require_message_authenticator,
            mode,
            reason,
        } => {
            let change = ClientChange {
                address,
                secret_stdin,
                require_ma: require_message_authenticator.map(|s| s == Switch::On),
                mode,
                reason: super::reason(reason.as_deref()),
            };
            set(&ctx, &name, change).await
        }
        ClientCommand::List(list) => self::list(&ctx, list.json).await,
        ClientCommand::Remove { name, reason } => {
            remove(&ctx, &name, super::reason(reason.as_deref()).as_deref()).await
        }
    };
    ctx.stores.store.close().await;
    result
}

/// What `client add` was given besides the name and address.
struct AddArgs {
    secret_stdin: bool,
    require_ma: bool,
    mode: Option<ModeArg>,
    reason: Option<String>,
}

async fn add(ctx: &Context, name: String, address: &str, args: AddArgs) -> anyhow::Result<()> {
    let AddArgs {
        secret_stdin,
        require_ma,
        mode,
        reason,
    } = args;
    let address = parse_address(address)?;
    let (secret, generated) = if secret_stdin {
        (read_stdin_secret("shared secret")?, false)
    } else {
        (generate_secret()?, true)
    };
    let mode = mode.map(|m| match m {
        ModeArg::PasswordOtp => AuthMode::PasswordOtp,
        ModeArg::OtpOnly => AuthMode::OtpOnly,
        ModeArg::Challenge => AuthMode::Challenge,
    });
    let spec = ClientSpec {
        name: name.clone(),
        address,
        require_message_authenticator: require_ma,
        mode,
    };
    let (actor, now) = (ctx.actor(), ctx.now());
    let by = Actor {
        name: &actor,
        reason: reason.as_deref(),
        now,
    };
    radius_clients::add_client(ctx.stores.store.as_ref(), &ctx.key, spec, &secret, by).await?;
    if secret.expose().len() < WEAK_SECRET_BYTES {
        eprintln!(
            "warning: a shared secret shorter than 16 characters is weak (RFC 6151, BlastRADIUS); prefer 22 or more"
        );
    }
    println!("added client {name} ({address})");
    if generated {
        println!(
            "shared secret (shown once; enter it in the NetScaler RADIUS action): {}",
            secret.expose()
        );
    }
    if !require_ma {
        eprintln!(
            "warning: {name} may send requests without Message-Authenticator; turn it on in NetScaler and then `motpd client set {name} --require-message-authenticator on` as soon as the firmware allows"
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

/// What `client set` changes (`None`: keep).
struct ClientChange {
    address: Option<String>,
    secret_stdin: bool,
    require_ma: Option<bool>,
    mode: Option<ClientModeArg>,
    reason: Option<String>,
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
    let update = ClientUpdate {
        address: change.address.as_deref().map(parse_address).transpose()?,
        secret: if change.secret_stdin {
            Some(read_stdin_secret("shared secret")?)
        } else {
            None
        },
        require_message_authenticator: change.require_ma,
        mode: change.mode.map(|m| match m {
            ClientModeArg::Default => None,
            ClientModeArg::PasswordOtp => Some(AuthMode::PasswordOtp),
            ClientModeArg::OtpOnly => Some(AuthMode::OtpOnly),
            ClientModeArg::Challenge => Some(AuthMode::Challenge),
        }),
    };
    let (actor, now) = (ctx.actor(), ctx.now());
    let by = Actor {
        name: &actor,
        reason: change.reason.as_deref(),
        now,
    };
    let store = ctx.stores.store.as_ref();
    let updated = radius_clients::update_client(store, &ctx.key, name, update, by).await?;
    println!("changed client {name} (a running server picks it up within 10 seconds)");
    if !updated.require_message_authenticator {
        eprintln!(
            "warning: {name} may send requests without Message-Authenticator (weakens BlastRADIUS protection)"
        );
    }
    Ok(())
}

async fn remove(ctx: &Context, name: &str, reason: Option<&str>) -> anyhow::Result<()> {
    let (actor, now) = (ctx.actor(), ctx.now());
    let by = Actor {
        name: &actor,
        reason,
        now,
    };
    radius_clients::remove_client(ctx.stores.store.as_ref(), name, by).await?;
    println!("removed client {name}");
    Ok(())
}
