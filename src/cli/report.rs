//! `motpd report ...`: who has not enrolled, whether each can log in meanwhile, and their invitation link.

use std::collections::HashMap;
use std::path::Path;

use super::args::ListStatus;
use super::args::ReportCommand;
use super::context::{Context, KeyMode};
use super::user_list::account_state;
use super::{format_time, print_table};
use crate::clock::local_date;
use crate::store::{AccountFilter, Invitation};

pub(super) async fn run(config_path: Option<&Path>, command: ReportCommand) -> anyhow::Result<()> {
    let ctx = Context::open(config_path, KeyMode::MustExist).await?;
    let ReportCommand::Unenrolled(args) = command;
    let result = unenrolled(&ctx, args.json).await;
    ctx.stores.store.close().await;
    result
}

/// An invitation's link as the report shows it: `(state, until)`.
fn link_state(invitation: Option<&Invitation>, now: i64) -> (&'static str, Option<i64>) {
    match invitation {
        None => ("none", None),
        Some(i) if i.used_at.is_some() => ("used", i.used_at),
        Some(i) if i.expires_at <= now => ("expired", Some(i.expires_at)),
        Some(i) => ("valid", Some(i.expires_at)),
    }
}

async fn unenrolled(ctx: &Context, json: bool) -> anyhow::Result<()> {
    let accounts = ctx
        .stores
        .store
        .list_accounts(AccountFilter {
            unenrolled_only: true,
        })
        .await?;
    let invitations: HashMap<String, Invitation> = ctx
        .stores
        .store
        .list_invitations()
        .await?
        .into_iter()
        .map(|i| (i.account_id.clone(), i))
        .collect();
    let now = ctx.now();
    let today = local_date(now, ctx.config.policy.utc_offset);
    let enforced = ctx.config.policy.enforce_after.is_none_or(|d| today >= d);
    let local = ctx.config.accounts.password_source.stores_passwords();
    let without_password = accounts
        .iter()
        .filter(|o| local && o.account.password_hash.is_none())
        .count();
    if json {
        let rows: Vec<_> = accounts
            .iter()
            .map(|o| {
                let invitation = invitations.get(&o.account.id);
                let (link, until) = link_state(invitation, now);
                serde_json::json!({
                    "id": o.account.id, "name": o.account.name, "email": o.account.email,
                    "status": o.account.status, "created_at": o.account.created_at,
                    "state": account_state(&o.account, now, today, ctx.config.accounts.password_source).as_str(),
                    "has_password": o.account.password_hash.is_some(),
                    "invited_at": invitation.map(|i| i.created_at),
                    "link": link, "link_until": until,
                })
            })
            .collect();
        let rows =
            super::with_local_times(serde_json::Value::Array(rows), ctx.config.policy.utc_offset);
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = accounts
        .iter()
        .map(|o| {
            let invitation = invitations.get(&o.account.id);
            let link = match link_state(invitation, now) {
                ("valid", until) => format!(
                    "valid until {}",
                    format_time(until, ctx.config.policy.utc_offset)
                ),
                ("expired", until) => format!(
                    "expired {}",
                    format_time(until, ctx.config.policy.utc_offset)
                ),
                ("used", at) => format!("used {}", format_time(at, ctx.config.policy.utc_offset)),
                (other, _) => other.to_owned(),
            };
            vec![
                o.account.id.clone(),
                o.account.name.clone(),
                o.account.email.clone().unwrap_or_else(|| "-".into()),
                account_state(&o.account, now, today, ctx.config.accounts.password_source)
                    .as_str()
                    .to_owned(),
                if o.account.password_hash.is_some() {
                    "set"
                } else {
                    "none"
                }
                .to_owned(),
                format_time(
                    invitation.map(|i| i.created_at),
                    ctx.config.policy.utc_offset,
                ),
                link,
            ]
        })
        .collect();
    print_table(
        &[
            "ID", "NAME", "EMAIL", "STATUS", "PASSWORD", "INVITED", "LINK",
        ],
        &rows,
    );
    let usable = accounts
        .iter()
        .filter(|o| o.account.password_hash.is_some())
        .filter(|o| {
            account_state(&o.account, now, today, ctx.config.accounts.password_source)
                == ListStatus::Active
        })
        .count();
    let when = match ctx.config.policy.enforce_after {
        Some(date) if !enforced => format!(
            "until {date}, {usable} of them (active, with a password) can still log in with the password alone"
        ),
        _ => "enforcement is on: they are refused at the VPN".to_owned(),
    };
    println!("\n{} account(s) without a device; {when}.", accounts.len());
    if without_password > 0 {
        println!(
            "{without_password} of them have no password yet: they cannot log in at all before activating \
             (/account/activate, or `motpd user set-password`) and binding a device."
        );
    }
    Ok(())
}
