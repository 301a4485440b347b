//! `motpd report ...`: who has not enrolled, whether each can log in meanwhile, their invitation link and the
//! count per group; as a table, JSON, or the console's CSV download (the report is
//! [`crate::engine::enrollment_report`]'s, as the console's).

use std::path::Path;

use super::args::ReportCommand;
use super::context::{Context, KeyMode};
use super::print_table;
use crate::account_rules::AccountState;
use crate::clock::local_date;
use crate::engine::enrollment_report;

pub(super) async fn run(config_path: Option<&Path>, command: ReportCommand) -> anyhow::Result<()> {
    let ctx = Context::open(config_path, KeyMode::MustExist).await?;
    let ReportCommand::Unenrolled(args) = command;
    let format = if args.csv {
        Format::Csv
    } else if args.json {
        Format::Json
    } else {
        Format::Table
    };
    let result = unenrolled(&ctx, format).await;
    ctx.stores.store.close().await;
    result
}

/// How the report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Table,
    Json,
    Csv,
}

async fn unenrolled(ctx: &Context, format: Format) -> anyhow::Result<()> {
    let now = ctx.now();
    let offset = ctx.config.policy.utc_offset;
    let today = local_date(now, offset);
    let source = ctx.config.accounts.password_source;
    let report =
        enrollment_report::enrollment_report(ctx.stores.store.as_ref(), now, today, source).await?;
    let accounts = &report.unenrolled;
    let enforced = ctx.config.policy.enforce_after.is_none_or(|d| today >= d);
    let local = source.stores_passwords();
    let without_password = accounts
        .iter()
        .filter(|o| local && o.account.password_hash.is_none())
        .count();
    if format == Format::Csv {
        print!("{}", enrollment_report::csv(accounts, offset));
        return Ok(());
    }
    if format == Format::Json {
        let rows: Vec<_> = accounts
            .iter()
            .map(|o| {
                serde_json::json!({
                    "id": o.account.id, "name": o.account.name, "email": o.account.email,
                    "status": o.account.status, "created_at": o.account.created_at,
                    "state": o.state.as_str(),
                    "has_password": o.account.password_hash.is_some(),
                    "invited_at": o.invitation.as_ref().map(|i| i.created_at),
                    "link": o.link.as_str(), "link_until": o.link.at(),
                })
            })
            .collect();
        let rows = super::with_local_times(serde_json::Value::Array(rows), offset);
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = accounts.iter().map(|o| o.cells(offset).to_vec()).collect();
    print_table(&enrollment_report::COLUMNS, &rows);
    let usable = accounts
        .iter()
        .filter(|o| o.account.password_hash.is_some())
        .filter(|o| o.state == AccountState::Active)
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
    let groups: Vec<Vec<String>> = report
        .groups
        .iter()
        .map(|g| {
            let name = if g.group.is_empty() {
                "(no group)".to_owned()
            } else {
                g.group.clone()
            };
            vec![name, g.enrolled.to_string(), g.unenrolled.to_string()]
        })
        .collect();
    println!();
    print_table(&["GROUP", "ENROLLED", "UNENROLLED"], &groups);
    println!("{} account(s) in all", report.total);
    Ok(())
}
