//! `motpd user ...`: accounts.

use std::path::Path;

use anyhow::Context as _;

use super::args::{AccountFields, SmsFallbackArg, StatusArg, UserCommand};
use super::changes::{Changes, account_changes};
use super::confirm::confirm;
use super::context::{Context, KeyMode};
use super::{CliError, format_time, note_encoding, read_stdin_secret, with_local_times};
use super::{password_prompt, user_list, user_proofs, user_sync};
use crate::account_rules::{self, ADMIN_LOCK_UNTIL, FieldError};
use crate::clock::local_date;
use crate::config::PasswordSource;
use crate::engine::helpdesk;
use crate::engine::identity::IdentityKey;
use crate::import;
use crate::password;
use crate::secrets::SecretString;
use crate::store::{Account, AccountFilter, AccountStatus, AccountUpsert};

pub(super) async fn run(config_path: Option<&Path>, command: UserCommand) -> anyhow::Result<()> {
    let ctx = Context::open(config_path, KeyMode::MustExist).await?;
    let result = dispatch(&ctx, command).await;
    ctx.stores.store.close().await;
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
        UserCommand::Sync { dry_run, force } => user_sync::run(ctx, dry_run, force).await,
        UserCommand::List(args) => user_list::run(ctx, args).await,
        UserCommand::Show { id, json } => show(ctx, &id, json).await,
        UserCommand::Set {
            id,
            fields,
            status,
            sms_fallback,
            identity_stdin,
            reason,
        } => {
            let only_identity = nothing_to_set(&fields, status, sms_fallback);
            if only_identity && !identity_stdin {
                return Err(CliError::Input(format!(
                    "nothing to change for {id}: give at least one of --name, --phone, --email, --expires, \
                     --groups, --status, --sms-fallback, --identity-stdin (see `motpd user set --help`)"
                ))
                .into());
            }
            let reason = super::reason(reason.as_deref());
            let decisions = status.is_some() || sms_fallback.is_some() || fields.expires.is_some();
            if decisions && reason.is_none() {
                return Err(CliError::Usage(format!(
                    "--status, --sms-fallback and --expires need --reason TEXT (a ticket number, who asked): it \
                     is written to the audit row, as the console requires; nothing changed for {id}"
                ))
                .into());
            }
            // Read and checked first: a bad identity changes nothing.
            let identity = if identity_stdin {
                Some(user_proofs::read_identity()?)
            } else {
                None
            };
            if !only_identity {
                let change = SetChange {
                    fields,
                    status,
                    sms_fallback,
                    reason: reason.clone(),
                };
                set(ctx, &id, change).await?;
            }
            match identity {
                Some(identity) => {
                    user_proofs::set_identity(ctx, &id, identity, reason.as_deref()).await
                }
                None => Ok(()),
            }
        }
        UserCommand::ResetPassword { id, reason } => {
            let reason = super::reason(reason.as_deref());
            user_proofs::reset_password(ctx, &id, reason.as_deref()).await
        }
        UserCommand::Lock { id, reason } => {
            let id = existing(ctx, &id).await?.id;
            let store = ctx.stores.store.as_ref();
            let (why, actor) = (super::reason(reason.as_deref()), ctx.actor());
            let locked = helpdesk::lock_account(store, &id, &actor, why.as_deref(), ctx.now());
            match locked.await? {
                helpdesk::Changed::Done => println!("locked {id} (until `motpd user unlock {id}`)"),
                helpdesk::Changed::Unchanged => println!(
                    "{id} is already locked (until `motpd user unlock {id}`); nothing changed"
                ),
            }
            Ok(())
        }
        UserCommand::Unlock { id, reason } => {
            let id = existing(ctx, &id).await?.id;
            let store = ctx.stores.store.as_ref();
            let why = super::reason(reason.as_deref());
            match helpdesk::unlock_account(store, &id, &ctx.actor(), why.as_deref(), ctx.now())
                .await?
            {
                helpdesk::Unlocked::Done => println!("unlocked {id}; failure counter cleared"),
                helpdesk::Unlocked::Unchanged => {
                    println!("{id} is not locked and has no failures; nothing changed");
                }
            }
            Ok(())
        }
        UserCommand::Remove { id, yes, reason } => {
            remove(ctx, &id, yes, super::reason(reason.as_deref())).await
        }
        UserCommand::SetPassword { id, password_stdin } => {
            set_password(ctx, &id, password_stdin).await
        }
    }
}

/// `user remove`: says what goes, asks (unless `yes`), then deletes and records what the account was.
async fn remove(
    ctx: &Context,
    raw_id: &str,
    yes: bool,
    reason: Option<String>,
) -> anyhow::Result<()> {
    let account = existing(ctx, raw_id).await?;
    let id = account.id.clone();
    let device = ctx.stores.store.active_device(&id).await?;
    let device_text = device.as_ref().map_or_else(
        || "no device".to_owned(),
        |d| format!("its {} device", d.kind.as_str()),
    );
    confirm(
        &format!(
            "Remove account {id} ({}, {}) with {device_text}? It cannot be undone.",
            account.name,
            account.status.as_str()
        ),
        yes,
        &format!("motpd user remove {id} --yes"),
    )?;
    ctx.stores.store.remove_account(&id).await?;
    let mut detail = serde_json::json!({
        "name": { "old": account.name, "new": null },
        "status": { "old": account.status.as_str(), "new": null },
        "groups": { "old": account.groups, "new": null },
        "device": { "old": device.as_ref().map(|d| d.kind.as_str()), "new": null },
    });
    if let (Some(reason), Some(fields)) = (reason, detail.as_object_mut()) {
        fields.insert("reason".into(), reason.into());
    }
    ctx.audit("admin.user.remove", Some(&id), detail).await?;
    println!("removed {id} and its devices");
    Ok(())
}

pub(super) fn input(e: FieldError) -> anyhow::Error {
    CliError::Input(format!("--{e}")).into()
}

pub(super) async fn existing(ctx: &Context, raw_id: &str) -> anyhow::Result<Account> {
    let id = account_rules::normalize_id(raw_id).map_err(input)?;
    ctx.stores.store.account(&id).await?.ok_or_else(|| {
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
    let id = account_rules::normalize_id(raw_id).map_err(input)?;
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
    if !ctx.config.accounts.password_source.stores_passwords() {
        if password_stdin {
            return Err(no_local_passwords(ctx).into());
        }
        // Nothing to activate: the password is checked elsewhere.
        account.status = AccountStatus::Active;
    }
    if password_stdin {
        let password = read_stdin_secret("password")?;
        account.password_hash = Some(new_password_hash(ctx, &id, password).await?);
        account.status = AccountStatus::Active;
    }
    ctx.stores.store.create_account(&account, ctx.now()).await?;
    let today = local_date(ctx.now(), ctx.config.policy.utc_offset);
    if let Some(last_day) = account.expires_on.filter(|&d| d < today) {
        // As `user import` says it; `user set --expires` refuses such a day.
        eprintln!(
            "warning: {id} expires {last_day}, already past (today is {today}): added, but it cannot log in"
        );
    }
    ctx.audit(
        "admin.user.add",
        Some(&id),
        account_changes(&blank(&id), &account).into_detail(),
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
            .map(|p| account_rules::normalize_phone(&p))
            .transpose()
            .map_err(input)?;
    }
    if let Some(email) = &fields.email {
        account.email = optional(email)
            .map(|e| account_rules::check_email(&e))
            .transpose()
            .map_err(input)?;
    }
    if let Some(expires) = &fields.expires {
        account.expires_on = optional(expires)
            .map(|d| account_rules::parse_date(&d))
            .transpose()
            .map_err(input)?;
    }
    if let Some(groups) = &fields.groups {
        account.groups = account_rules::parse_groups(groups).map_err(input)?;
    }
    Ok(())
}

/// What `user set` was asked to change, and why.
struct SetChange {
    fields: AccountFields,
    status: Option<StatusArg>,
    sms_fallback: Option<SmsFallbackArg>,
    reason: Option<String>,
}

/// Changes the plain fields in one audited row, then each of status, SMS fallback and expiry through the
/// helpdesk's function (the console's: one audited row each, with the reason). Every input is checked before
/// anything is written.
async fn set(ctx: &Context, raw_id: &str, change: SetChange) -> anyhow::Result<()> {
    let SetChange {
        mut fields,
        status,
        sms_fallback,
        reason,
    } = change;
    let current = existing(ctx, raw_id).await?;
    let now = ctx.now();
    let today = local_date(now, ctx.config.policy.utc_offset);
    // `--expires ''` removes the last day; a date must not be in the past.
    let expires = fields
        .expires
        .take()
        .map(|raw| match raw.trim() {
            "" => Ok(None),
            text => {
                let date = account_rules::parse_date(text).map_err(input)?;
                helpdesk::check_expiry(date, today)?;
                Ok::<_, anyhow::Error>(Some(date))
            }
        })
        .transpose()?;
    let old = upsert_of(&current);
    let old = AccountUpsert {
        password_hash: None,
        ..old
    };
    let mut account = old.clone();
    apply_fields(&mut account, &fields)?;
    let mut changes = account_changes(&old, &account);
    let mut changed: Vec<String> = changes.names().into_iter().map(str::to_owned).collect();
    let (store, actor, why) = (ctx.stores.store.as_ref(), ctx.actor(), reason.as_deref());
    if !changes.is_empty() {
        store
            .import_accounts(std::slice::from_ref(&account), now)
            .await?;
        if let Some(reason) = why {
            changes.note("reason", reason.into());
        }
        ctx.audit("admin.user.set", Some(&account.id), changes.into_detail())
            .await?;
    }
    let id = account.id.as_str();
    if let Some(status) = status {
        let status = match status {
            StatusArg::Active => AccountStatus::Active,
            StatusArg::Disabled => AccountStatus::Disabled,
        };
        if helpdesk::set_status(store, id, status, &actor, why, now).await?
            == helpdesk::Changed::Done
        {
            changed.push("status".to_owned());
        }
    }
    if let Some(fallback) = sms_fallback {
        let allowed = fallback.stored();
        if helpdesk::set_sms_fallback(store, id, allowed, &actor, why, now).await?
            == helpdesk::Changed::Done
        {
            changed.push("sms_fallback".to_owned());
        }
    }
    if let Some(date) = expires
        && helpdesk::set_expiry(store, id, date, today, &actor, why, now).await?
            == helpdesk::Changed::Done
    {
        changed.push("expires".to_owned());
    }
    if changed.is_empty() {
        println!("{id}: nothing changed (the values given are the current ones)");
    } else {
        println!("updated {id}: {}", changed.join(", "));
    }
    Ok(())
}

/// The fields of a stored account as an import or `user set` writes them (no password hash: a kept hash is no
/// change).
fn upsert_of(account: &Account) -> AccountUpsert {
    AccountUpsert {
        id: account.id.clone(),
        name: account.name.clone(),
        phone: account.phone.clone(),
        email: account.email.clone(),
        expires_on: account.expires_on,
        groups: account.groups.clone(),
        password_hash: account.password_hash.clone(),
        status: account.status,
    }
}

/// An account that does not exist yet, as the old side of a creation.
fn blank(id: &str) -> AccountUpsert {
    AccountUpsert {
        id: id.to_owned(),
        name: String::new(),
        phone: None,
        email: None,
        expires_on: None,
        groups: Vec::new(),
        password_hash: None,
        status: AccountStatus::Pending,
    }
}

/// Whether `user set` was given anything to change.
fn nothing_to_set(
    fields: &AccountFields,
    status: Option<StatusArg>,
    sms_fallback: Option<SmsFallbackArg>,
) -> bool {
    let AccountFields {
        name,
        phone,
        email,
        expires,
        groups,
    } = fields;
    [name, phone, email, expires, groups]
        .iter()
        .all(|f| f.is_none())
        && status.is_none()
        && sms_fallback.is_none()
}

/// The refusal of a command that sets a password at motpd when passwords live elsewhere.
pub(super) fn no_local_passwords(ctx: &Context) -> CliError {
    let source = ctx.config.accounts.password_source;
    let help = &ctx.config.ldap.password_help_url;
    let where_to = if help.is_empty() {
        String::new()
    } else {
        format!(" (staff change it at {help})")
    };
    CliError::Conflict(format!(
        "accounts.password_source = \"{}\": motpd keeps no passwords; the password is the directory's{where_to}",
        source.as_str()
    ))
}

async fn set_password(ctx: &Context, raw_id: &str, password_stdin: bool) -> anyhow::Result<()> {
    if !ctx.config.accounts.password_source.stores_passwords() {
        return Err(no_local_passwords(ctx).into());
    }
    let account = existing(ctx, raw_id).await?;
    let password = password_prompt::new_password(&account.id, password_stdin)?;
    let hash = new_password_hash(ctx, &account.id, password).await?;
    ctx.stores
        .store
        .set_password_hash(&account.id, &hash, ctx.now())
        .await?;
    if account.status == AccountStatus::Pending {
        ctx.stores
            .store
            .set_account_status(&account.id, AccountStatus::Active, ctx.now())
            .await?;
    }
    let mut changes = Changes::default();
    changes.secret("password");
    if account.status == AccountStatus::Pending {
        changes.field("status", "pending", "active");
    }
    ctx.audit(
        "admin.user.set-password",
        Some(&account.id),
        changes.into_detail(),
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
    let plan = import::accounts::read_import(std::io::BufReader::new(reader))
        .map_err(|e| CliError::Input(format!("{}: {e}", file.display())))?;
    note_encoding(file, plan.encoding);
    for error in &plan.errors {
        eprintln!("{}:{}: {}", file.display(), error.line, error.reason);
    }
    let today = local_date(ctx.now(), ctx.config.policy.utc_offset);
    for (line, row) in plan.already_expired(today) {
        let last_day = row.expires_on.map(|d| d.to_string()).unwrap_or_default();
        eprintln!(
            "{}:{line}: warning: {} expires {last_day}, already past (today is {today}): imported, but it cannot log in",
            file.display(),
            row.id
        );
    }
    if !plan.errors.is_empty() && !skip_invalid {
        return Err(CliError::Input(format!(
            "{} invalid row(s); nothing was imported. Fix them, or import the valid rows with --skip-invalid",
            plan.errors.len()
        ))
        .into());
    }
    let existing: std::collections::HashMap<String, Account> = ctx
        .stores
        .store
        .list_accounts(AccountFilter::default())
        .await?
        .into_iter()
        .map(|o| (o.account.id.clone(), o.account))
        .collect();
    let local = ctx.config.accounts.password_source.stores_passwords();
    if !local && plan.rows.iter().any(|(_, row)| row.password_hash.is_some()) {
        eprintln!(
            "{}: warning: password_hash values ignored: accounts.password_source = \"{}\" keeps no passwords at motpd",
            file.display(),
            ctx.config.accounts.password_source.as_str()
        );
    }
    let rows: Vec<AccountUpsert> = plan
        .rows
        .iter()
        .map(|(_, row)| {
            let mut row = row.clone();
            if !local {
                row.password_hash = None;
                row.status = AccountStatus::Active;
            }
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
    let summary = ctx.stores.store.import_accounts(&rows, ctx.now()).await?;
    let identities = IdentityKey::new(ctx.key.clone());
    for (id, identity) in &plan.identities {
        let hash = identity
            .as_ref()
            .map(|normalized| identities.hash(id, normalized.expose()));
        ctx.stores
            .store
            .set_identity_hash(id, hash.as_deref(), ctx.now())
            .await?;
    }
    let file_name = file.display().to_string();
    let identities: std::collections::HashMap<&str, bool> = plan
        .identities
        .iter()
        .map(|(id, identity)| (id.as_str(), identity.is_some()))
        .collect();
    let audited = rows.iter().filter_map(|row| {
        let mut changes = match existing.get(&row.id) {
            Some(current) => {
                let old = upsert_of(current);
                // The import keeps the status, and a stored hash when the row has none.
                let mut new = row.clone();
                new.status = old.status;
                account_changes(&old, &new)
            }
            None => {
                let mut changes = account_changes(&blank(&row.id), row);
                changes.note("created", serde_json::json!(true));
                changes
            }
        };
        match identities.get(row.id.as_str()) {
            Some(true) => changes.secret("identity"),
            Some(false) => changes.note("identity", serde_json::json!("cleared")),
            None => {}
        }
        if changes.is_empty() {
            return None;
        }
        changes.note("file", serde_json::json!(file_name));
        Some((row.id.clone(), changes.into_detail()))
    });
    ctx.audit_each("admin.user.import", audited).await?;
    println!(
        "imported {}: {} created, {} updated, {} skipped",
        file.display(),
        summary.created,
        summary.updated,
        plan.errors.len()
    );
    Ok(())
}

async fn show(ctx: &Context, raw_id: &str, json: bool) -> anyhow::Result<()> {
    let mut account = existing(ctx, raw_id).await?;
    let device = ctx.stores.store.active_device(&account.id).await?;
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
    let today = local_date(now, ctx.config.policy.utc_offset);
    println!(
        "status      {}",
        user_list::account_state(&account, now, today, ctx.config.accounts.password_source)
            .as_str()
    );
    println!(
        "phone       {}",
        dash(account.phone.as_deref().map(account_rules::mask_phone))
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
    let password = match ctx.config.accounts.password_source {
        PasswordSource::Ldap => "checked by the directory ([ldap])",
        PasswordSource::None => "none at motpd (the gateway checks it)",
        PasswordSource::Local if account.password_hash.is_some() => "set",
        PasswordSource::Local => "not set",
    };
    println!("password    {password}");
    let identity = ctx.stores.store.identity_hash(&account.id).await?.is_some();
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
