//! `motpd admin ...`: the helpdesk console's admins. `add` asks for the password twice (hidden, at a terminal),
//! shows the new TOTP device once (QR code, URI, initial key) and stores the admin only after its first code;
//! `reset` gives an admin a new TOTP device the same way (and clears its lock); `disable` / `enable` keep an
//! admin but refuse or allow its logins. Without a terminal the password and then the code are read as lines
//! from standard input.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::Context as _;
use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;

use super::args::{AdminCommand, AdminRoleArg};
use super::confirm::confirm;
use super::context::{Context, KeyMode};
use super::{CliError, format_time, password_prompt, print_table};
use crate::engine::admins::{self, AdminSeed};
use crate::model::AdminRole;
use crate::secrets::SecretString;

pub(super) async fn run(
    config_path: Option<&std::path::Path>,
    command: AdminCommand,
) -> anyhow::Result<()> {
    let ctx = Context::open(config_path, KeyMode::MustExist).await?;
    let result = dispatch(&ctx, command).await;
    ctx.stores.store.close().await;
    result
}

async fn dispatch(ctx: &Context, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::Add { name, role, reason } => {
            add(ctx, &name, role, super::reason(reason.as_deref())).await
        }
        AdminCommand::List => list(ctx).await,
        AdminCommand::Remove { name, yes, reason } => {
            let name = admins::normalize_name(&name)?;
            confirm(
                &format!("Remove console admin {name}? Its sessions end now."),
                yes,
                &format!("motpd admin remove {name} --yes"),
            )?;
            let (actor, reason) = (ctx.actor(), super::reason(reason.as_deref()));
            let by = admins::By {
                actor: &actor,
                reason: reason.as_deref(),
                now: ctx.now(),
            };
            admins::remove_admin(ctx.stores.store.as_ref(), &name, by).await?;
            println!("removed admin {name}");
            Ok(())
        }
        AdminCommand::Reset { name, reason } => {
            reset(ctx, &name, super::reason(reason.as_deref())).await
        }
        AdminCommand::Disable { name, reason } => {
            set_disabled(ctx, &name, true, super::reason(reason.as_deref())).await
        }
        AdminCommand::Enable { name, reason } => {
            set_disabled(ctx, &name, false, super::reason(reason.as_deref())).await
        }
    }
}

async fn set_disabled(
    ctx: &Context,
    raw_name: &str,
    disabled: bool,
    reason: Option<String>,
) -> anyhow::Result<()> {
    let name = admins::normalize_name(raw_name)?;
    let store = ctx.stores.store.as_ref();
    let actor = ctx.actor();
    let by = admins::By {
        actor: &actor,
        reason: reason.as_deref(),
        now: ctx.now(),
    };
    admins::set_disabled(store, &name, disabled, by).await?;
    if disabled {
        println!("admin {name} disabled: its logins are refused and its sessions ended");
    } else {
        println!("admin {name} enabled");
    }
    Ok(())
}

async fn add(
    ctx: &Context,
    raw_name: &str,
    role: AdminRoleArg,
    reason: Option<String>,
) -> anyhow::Result<()> {
    let name = admins::normalize_name(raw_name)?;
    if ctx.stores.store.admin(&name).await?.is_some() {
        return Err(CliError::Conflict(format!(
            "admin {name} already exists (new TOTP device: `motpd admin reset {name}`)"
        ))
        .into());
    }
    let role = match role {
        AdminRoleArg::Helpdesk => AdminRole::Helpdesk,
        AdminRoleArg::Admin => AdminRole::Admin,
    };
    let password = read_password(&name)?;
    admins::check_password(&name, &password, ctx.config.policy.min_password_length)?;
    let (seed, step) = show_and_confirm(ctx, &name)?;
    let store = ctx.stores.store.as_ref();
    let actor = ctx.actor();
    let by = admins::By {
        actor: &actor,
        reason: reason.as_deref(),
        now: ctx.now(),
    };
    admins::add_admin(store, &ctx.key, &name, role, &password, &seed, step, by).await?;
    println!(
        "added {} {name}; log in at /admin of [admin_web] listen with the password and the app's code",
        role.as_str()
    );
    Ok(())
}

async fn reset(ctx: &Context, raw_name: &str, reason: Option<String>) -> anyhow::Result<()> {
    let name = admins::normalize_name(raw_name)?;
    if ctx.stores.store.admin(&name).await?.is_none() {
        return Err(CliError::NotFound(format!("admin {name} does not exist")).into());
    }
    let (seed, step) = show_and_confirm(ctx, &name)?;
    let store = ctx.stores.store.as_ref();
    let actor = ctx.actor();
    let by = admins::By {
        actor: &actor,
        reason: reason.as_deref(),
        now: ctx.now(),
    };
    admins::reset_totp(store, &ctx.key, &name, (&seed, step), by).await?;
    println!("{name} has a new TOTP device; the old one no longer works and its sessions ended");
    Ok(())
}

async fn list(ctx: &Context) -> anyhow::Result<()> {
    let now = ctx.now();
    let offset = ctx.config.policy.utc_offset;
    let rows: Vec<Vec<String>> = ctx
        .stores
        .store
        .list_admins()
        .await?
        .into_iter()
        .map(|a| {
            let state = if a.disabled {
                "disabled".to_owned()
            } else if a.locked_until.is_some_and(|t| t > now) {
                format!("locked until {}", format_time(a.locked_until, offset))
            } else {
                "active".to_owned()
            };
            vec![
                a.name,
                a.role.as_str().to_owned(),
                state,
                a.failures.to_string(),
                format_time(Some(a.created_at), offset),
                format_time(a.last_login_at, offset),
            ]
        })
        .collect();
    if rows.is_empty() {
        println!("no console admins (add one with `motpd admin add NAME --role admin`)");
        return Ok(());
    }
    print_table(
        &["NAME", "ROLE", "STATE", "FAILURES", "CREATED", "LAST LOGIN"],
        &rows,
    );
    Ok(())
}

/// Shows a new seed once and reads the first code until it matches (three tries).
fn show_and_confirm(ctx: &Context, name: &str) -> anyhow::Result<(AdminSeed, i64)> {
    let seed = AdminSeed::generate(name)?;
    let qr = QrCode::new(seed.uri.expose().as_bytes())
        .map(|code| {
            code.render::<Dense1x2>()
                .dark_color(Dense1x2::Light)
                .light_color(Dense1x2::Dark)
                .quiet_zone(true)
                .build()
        })
        .unwrap_or_else(|_| "(the URI is too long for a QR code)".to_owned());
    println!("{qr}");
    println!(
        "console TOTP device of {name}: scan the QR code above with an authenticator app, or enter:"
    );
    println!(
        "  initial key  {}",
        crate::otp::group_in_fours(seed.secret_base32.expose())
    );
    println!("  settings     time-based, 6 digits, every 30 s, SHA1");
    println!("  URI          {}", seed.uri.expose());
    println!("This is shown once. Treat this screen like a password.");
    for _ in 0..3 {
        let code = read_line("The app's code now: ")?;
        if let Some(step) = seed.first_code_step(code.expose(), ctx.now()) {
            return Ok((seed, step));
        }
        eprintln!("that is not the app's current code");
    }
    Err(CliError::Input("no matching code typed; nothing changed".into()).into())
}

/// The password: typed twice at a terminal, else the next line of standard input.
fn read_password(name: &str) -> anyhow::Result<SecretString> {
    if std::io::stdin().is_terminal() {
        return password_prompt::new_password(name, false);
    }
    let password = read_line("")?;
    if password.expose().is_empty() {
        return Err(CliError::Input("no password given; nothing changed".into()).into());
    }
    Ok(password)
}

/// One line of standard input (after `prompt` on a terminal), without its line break.
fn read_line(prompt: &str) -> anyhow::Result<SecretString> {
    if std::io::stdin().is_terminal() && !prompt.is_empty() {
        eprint!("{prompt}");
        std::io::stderr().flush()?;
    }
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("while reading standard input")?;
    let trimmed = line.trim_end_matches(['\r', '\n']).to_owned();
    Ok(SecretString::new(trimmed))
}
