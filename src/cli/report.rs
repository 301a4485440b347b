//! `motpd report ...`: who has not enrolled.

use std::path::Path;

use super::args::ReportCommand;
use super::context::{Context, KeyMode};
use super::{format_time, print_table};
use crate::clock::local_date;
use crate::store::AccountFilter;

pub(super) async fn run(config_path: Option<&Path>, command: ReportCommand) -> anyhow::Result<()> {
    let ctx = Context::open(config_path, KeyMode::MustExist).await?;
    let ReportCommand::Unenrolled(args) = command;
    let result = unenrolled(&ctx, args.json).await;
    ctx.store.close().await;
    result
}

async fn unenrolled(ctx: &Context, json: bool) -> anyhow::Result<()> {
    let accounts = ctx
        .store
        .list_accounts(AccountFilter {
            unenrolled_only: true,
        })
        .await?;
    let today = local_date(ctx.now(), ctx.config.policy.utc_offset);
    let enforced = ctx.config.policy.enforce_after.is_none_or(|d| today >= d);
    if json {
        let rows: Vec<_> = accounts
            .iter()
            .map(|o| {
                serde_json::json!({
                    "id": o.account.id, "name": o.account.name, "email": o.account.email,
                    "status": o.account.status, "created_at": o.account.created_at,
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
            vec![
                o.account.id.clone(),
                o.account.name.clone(),
                o.account.email.clone().unwrap_or_else(|| "-".into()),
                o.account.status.as_str().to_owned(),
                format_time(Some(o.account.created_at), ctx.config.policy.utc_offset),
            ]
        })
        .collect();
    print_table(&["ID", "NAME", "EMAIL", "STATUS", "CREATED"], &rows);
    let when = match ctx.config.policy.enforce_after {
        Some(date) if !enforced => format!("they can still log in with a password until {date}"),
        _ => "enforcement is on: they are refused at the VPN".to_owned(),
    };
    println!("\n{} account(s) without a device; {when}.", accounts.len());
    Ok(())
}
