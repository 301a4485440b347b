//! `motpd user ...`: accounts.

use std::path::Path;

use anyhow::Context as _;

use super::args::{AccountFields, SmsFallbackArg, StatusArg, UserCommand};
use super::context::{Context, KeyMode};
use super::{CliError, format_time, print_table, read_stdin_secret, with_local_times};
use super::{password_prompt, user_proofs};
use crate::accounts::ADMIN_LOCK_UNTIL;
use crate::accounts::{self, FieldError};
use crate::engine::identity::IdentityKey;
use crate::password;
use crate::secrets::SecretString;
use crate::store::{Account, AccountFilter, AccountStatus, AccountUpsert};

pub(super) async fn run(config_path: Option<&Path>, command: UserCommand) -> anyhow::Result<()> {
    let ctx = Context::open(config_path, KeyMode::MustExist).await?;
    let result = dispatch(&ctx, command).await;
    ctx.store.close().await;
    result
}

async fn dispatch(ctx: &Context, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            id,
            fields,
            password_stdin,
        } => add(ctx, &id, fields, password_stdin).await,
        UserCommand::Import {
            file,
            skip_invalid,
            dry_run,
        } => import(ctx, &file, skip_invalid, dry_run).await,
        UserCommand::List { unenrolled, json } => list(ctx, unenrolled, json).await,
        UserCommand::Show { id, json } => show(ctx, &id, json).await,
        UserCommand::Set {
            id,
            fields,
            status,
            sms_fallback,
            identity_stdin,
        } => {
            // Read and checked first: a bad identity changes nothing.
            let identity = if identity_stdin {
                Some(user_proofs::read_identity()?)
            } else {
                None
            };
            set(ctx, &id, fields, status, sms_fallback).await?;
            match identity {
                Some(identity) => user_proofs::set_identity(ctx, &id, identity).await,
                None => Ok(()),
            }
        }
        UserCommand::ResetPassword { id } => user_proofs::reset_password(ctx, &id).await,
        UserCommand::Lock { id } => {
            let id = existing(ctx, &id).await?.id;
            ctx.store
                .lock_account(&id, ADMIN_LOCK_UNTIL, ctx.now())
                .await?;
            ctx.audit("admin.user.lock", Some(&id), serde_json::json!({}))
                .await?;
            println!("locked {id} (until `motpd user unlock {id}`)");
            Ok(())
        }
        UserCommand::Unlock { id } => {
            let id = existing(ctx, &id).await?.id;
            ctx.store.unlock_account(&id, ctx.now()).await?;
            ctx.audit("admin.user.unlock", Some(&id), serde_json::json!({}))
                .await?;
            println!("unlocked {id}; failure counter cleared");
            Ok(())
        }
        UserCommand::Remove { id } => {
            let id = existing(ctx, &id).await?.id;
            ctx.store.remove_account(&id).await?;
            ctx.audit("admin.user.remove", Some(&id), serde_json::json!({}))
                .await?;
            println!("removed {id} and its devices");
            Ok(())
        }
        UserCommand::SetPassword { id, password_stdin } => {
            set_password(ctx, &id, password_stdin).await
        }
    }
}

pub(super) fn input(e: FieldError) -> anyhow::Error {
    CliError::Input(format!("--{e}")).into()
}

pub(super) async fn existing(ctx: &Context, raw_id: &str) -> anyhow::Result<Account> {
    let id = accounts::normalize_id(raw_id).map_err(input)?;
    ctx.store.account(&id).await?.ok_or_else(|| {
        CliError::NotFound(format!("no account {id:?} (see `motpd user list`)")).into()
    })
}

/// Checks the policy and hashes on the blocking pool (Argon2id is slow on purpose).
async fn new_password_hash(
    ctx: &Context,
    id: &str,
    password: SecretString,
) -> anyhow::Result<String> {
    password::check_policy(id, password.expose(), ctx.config.policy.min_password_length)
        .map_err(|v| CliError::Input(v.to_string()))?;
    tokio::task::spawn_blocking(move || password::hash_password(password.expose().as_bytes()))
        .await
        .context("password hashing task failed")?
        .context("while hashing the password")
}

async fn add(
    ctx: &Context,
    raw_id: &str,
    fields: AccountFields,
    password_stdin: bool,
) -> anyhow::Result<()> {
    let id = accounts::normalize_id(raw_id).map_err(input)?;
    let name = fields.name.clone().unwrap_or_else(|| id.clone());
    let mut account = AccountUpsert {
        id: id.clone(),
        name,
        phone: None,
        email: None,
        expires_on: None,
        groups: Vec::new(),
        password_hash: None,
        status: AccountStatus::Pending,
    };
    apply_fields(&mut account, &fields)?;
    if password_stdin {
        let password = read_stdin_secret("password")?;
        account.password_hash = Some(new_password_hash(ctx, &id, password).await?);
        account.status = AccountStatus::Active;
    }
    ctx.store.create_account(&account, ctx.now()).await?;
    ctx.audit(
        "admin.user.add",
        Some(&id),
        serde_json::json!({ "with_password": password_stdin }),
    )
    .await?;
    println!("added {id}");
    if !password_stdin {
        println!(
            "{id} has no password yet: set one with `motpd user set-password {id}` (asks for it twice)"
        );
    }
    println!("next: bind a device with `motpd device enroll {id}`");
    Ok(())
}

fn apply_fields(account: &mut AccountUpsert, fields: &AccountFields) -> anyhow::Result<()> {
    if let Some(name) = &fields.name {
        if name.trim().is_empty() {
            return Err(CliError::Input("--name must not be empty".into()).into());
        }
        account.name = name.trim().to_owned();
    }
    let optional = |raw: &str| (!raw.trim().is_empty()).then(|| raw.to_owned());
    if let Some(phone) = &fields.phone {
        account.phone = optional(phone)
            .map(|p| accounts::normalize_phone(&p))
            .transpose()
            .map_err(input)?;
    }
    if let Some(email) = &fields.email {
        account.email = optional(email)
            .map(|e| accounts::check_email(&e))
            .transpose()
            .map_err(input)?;
    }
    if let Some(expires) = &fields.expires {
        account.expires_on = optional(expires)
            .map(|d| accounts::parse_date(&d))
            .transpose()
            .map_err(input)?;
    }
    if let Some(groups) = &fields.groups {
        account.groups = accounts::parse_groups(groups).map_err(input)?;
    }
    Ok(())
}

async fn set(
    ctx: &Context,
    raw_id: &str,
    fields: AccountFields,
    status: Option<StatusArg>,
    sms_fallback: Option<SmsFallbackArg>,
) -> anyhow::Result<()> {
    let current = existing(ctx, raw_id).await?;
    let mut account = AccountUpsert {
        id: current.id.clone(),
        name: current.name,
        phone: current.phone,
        email: current.email,
        expires_on: current.expires_on,
        groups: current.groups,
        password_hash: None,
        status: current.status,
    };
    apply_fields(&mut account, &fields)?;
    ctx.store
        .import_accounts(std::slice::from_ref(&account), ctx.now())
        .await?;
    if let Some(status) = status {
        let status = match status {
            StatusArg::Active => AccountStatus::Active,
            StatusArg::Disabled => AccountStatus::Disabled,
        };
        ctx.store
            .set_account_status(&account.id, status, ctx.now())
            .await?;
    }
    if let Some(choice) = sms_fallback {
        ctx.store
            .set_sms_fallback(&account.id, choice.stored(), ctx.now())
            .await?;
    }
    ctx.audit(
        "admin.user.set",
        Some(&account.id),
        serde_json::json!({
            "status": status.map(|s| format!("{s:?}").to_lowercase()),
            "sms_fallback": sms_fallback.map(|s| format!("{s:?}").to_lowercase()),
        }),
    )
    .await?;
    println!("updated {}", account.id);
    Ok(())
}

async fn set_password(ctx: &Context, raw_id: &str, password_stdin: bool) -> anyhow::Result<()> {
    let account = existing(ctx, raw_id).await?;
    let password = password_prompt::new_password(&account.id, password_stdin)?;
    let hash = new_password_hash(ctx, &account.id, password).await?;
    ctx.store
        .set_password_hash(&account.id, &hash, ctx.now())
        .await?;
    if account.status == AccountStatus::Pending {
        ctx.store
            .set_account_status(&account.id, AccountStatus::Active, ctx.now())
            .await?;
    }
    ctx.audit(
        "admin.user.set-password",
        Some(&account.id),
        serde_json::json!({}),
    )
    .await?;
    println!("password of {} changed", account.id);
    Ok(())
}

async fn import(
    ctx: &Context,
    file: &Path,
    skip_invalid: bool,
    dry_run: bool,
) -> anyhow::Result<()> {
    let reader = std::fs::File::open(file)
        .with_context(|| format!("cannot open {}", file.display()))
        .map_err(|e| CliError::Input(format!("{e:#}")))?;
    let plan = accounts::read_import(std::io::BufReader::new(reader))
        .map_err(|e| CliError::Input(format!("{}: {e}", file.display())))?;
    for error in &plan.errors {
        eprintln!("{}:{}: {}", file.display(), error.line, error.reason);
    }
    if !plan.errors.is_empty() && !skip_invalid {
        return Err(CliError::Input(format!(
            "{} invalid row(s); nothing was imported. Fix them, or import the valid rows with --skip-invalid",
            plan.errors.len()
        ))
        .into());
    }
    let existing: std::collections::HashMap<String, Account> = ctx
        .store
        .list_accounts(AccountFilter::default())
        .await?
        .into_iter()
        .map(|o| (o.account.id.clone(), o.account))
        .collect();
    let rows: Vec<AccountUpsert> = plan
        .rows
        .iter()
        .map(|(_, row)| {
            let mut row = row.clone();
            if let Some(current) = existing.get(&row.id) {
                plan.keep_absent_columns(&mut row, current);
            }
            row
        })
        .collect();
    if dry_run {
        println!(
            "{} valid row(s), {} invalid; nothing written (--dry-run)",
            rows.len(),
            plan.errors.len()
        );
        return Ok(());
    }
    let summary = ctx.store.import_accounts(&rows, ctx.now()).await?;
    let identities = IdentityKey::new(&ctx.key);
    for (id, identity) in &plan.identities {
        let hash = identity
            .as_ref()
            .map(|normalized| identities.hash(id, normalized.expose()));
        ctx.store
            .set_identity_hash(id, hash.as_deref(), ctx.now())
            .await?;
    }
    ctx.audit(
        "admin.user.import",
        None,
        serde_json::json!({
            "file": file.display().to_string(),
            "created": summary.created,
            "updated": summary.updated,
            "skipped": plan.errors.len(),
            "identities": plan.identities.len(),
        }),
    )
    .await?;
    println!(
        "imported {}: {} created, {} updated, {} skipped",
        file.display(),
        summary.created,
        summary.updated,
        plan.errors.len()
    );
    Ok(())
}

async fn list(ctx: &Context, unenrolled: bool, json: bool) -> anyhow::Result<()> {
    let accounts = ctx
        .store
        .list_accounts(AccountFilter {
            unenrolled_only: unenrolled,
        })
        .await?;
    if json {
        let value = with_local_times(
            serde_json::to_value(&accounts)?,
            ctx.config.policy.utc_offset,
        );
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let now = ctx.now();
    let rows: Vec<Vec<String>> = accounts
        .iter()
        .map(|o| {
            let a = &o.account;
            vec![
                a.id.clone(),
                a.name.clone(),
                state_text(a, now),
                o.device
                    .as_ref()
                    .map_or("-".to_owned(), |d| d.kind.to_owned()),
                a.expires_on.map_or("-".to_owned(), |d| d.to_string()),
                format_time(a.last_login_at, ctx.config.policy.utc_offset),
            ]
        })
        .collect();
    print_table(
        &["ID", "NAME", "STATUS", "DEVICE", "EXPIRES", "LAST LOGIN"],
        &rows,
    );
    Ok(())
}

fn state_text(account: &Account, now: i64) -> String {
    match account.locked_until {
        Some(until) if until > now => "locked".to_owned(),
        _ => account.status.as_str().to_owned(),
    }
}

async fn show(ctx: &Context, raw_id: &str, json: bool) -> anyhow::Result<()> {
    let mut account = existing(ctx, raw_id).await?;
    let device = ctx.store.active_device(&account.id).await?;
    // As `user list` shows it: a login with the device's code is recorded on the device.
    account.last_login_at = account.last_login(device.as_ref().and_then(|d| d.last_used_at));
    if json {
        let device = device.as_ref().map(|d| {
            serde_json::json!({
                "id": d.id, "kind": d.kind.as_str(), "digits": d.digits, "period": d.period,
                "label": d.label, "confirmed_at": d.confirmed_at, "last_used_at": d.last_used_at,
            })
        });
        let mut value = serde_json::to_value(&account)?;
        if let Some(object) = value.as_object_mut() {
            object.insert("device".into(), device.unwrap_or(serde_json::Value::Null));
        }
        let value = with_local_times(value, ctx.config.policy.utc_offset);
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let now = ctx.now();
    let offset = ctx.config.policy.utc_offset;
    let dash = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
    println!("id          {}", account.id);
    println!("name        {}", account.name);
    println!("status      {}", state_text(&account, now));
    println!(
        "phone       {}",
        dash(account.phone.as_deref().map(accounts::mask_phone))
    );
    println!(
        "sms login   {}",
        match account.sms_fallback {
            Some(true) => "on",
            Some(false) => "off",
            None => "default (sms.allow_vpn_fallback)",
        }
    );
    println!("email       {}", dash(account.email.clone()));
    println!(
        "expires     {}",
        dash(account.expires_on.map(|d| d.to_string()))
    );
    println!("groups      {}", account.groups.join(", "));
    println!(
        "password    {}",
        if account.password_hash.is_some() {
            "set"
        } else {
            "not set"
        }
    );
    let identity = ctx.store.identity_hash(&account.id).await?.is_some();
    println!(
        "identity    {}",
        if identity {
            "on file (keyed hash)"
        } else {
            "none (password reset only with `motpd user reset-password`)"
        }
    );
    println!("failures    {}", account.failures);
    let locked = match account.locked_until.filter(|&t| t > now) {
        Some(until) if until >= ADMIN_LOCK_UNTIL => {
            format!("until `motpd user unlock {}`", account.id)
        }
        until => format_time(until, offset),
    };
    println!("locked      {locked}");
    println!("last login  {}", format_time(account.last_login_at, offset));
    match device {
        Some(d) => println!(
            "device      {} {} digits, bound {}, last used {}",
            d.kind.as_str(),
            d.digits,
            format_time(d.confirmed_at, offset),
            format_time(d.last_used_at, offset)
        ),
        None => println!(
            "device      none (bind one with `motpd device enroll {}`)",
            account.id
        ),
    }
    Ok(())
}
