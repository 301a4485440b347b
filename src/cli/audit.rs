//! `motpd audit verify|list`: checks every link of the audit chain (reporting every break, and whether a head
//! recorded earlier is still in it), and shows the rows an admin asks for, in the site's local time.

use std::path::Path;

use super::args::AuditCommand;
use super::context::{Context, KeyMode};
use super::{CliError, print_table};
use crate::audit::{AuditChain, AuditRecord};
use crate::engine::audit_verify::{ChainWalk, walk_chain};
use crate::store::AuditFilter;

pub(super) async fn run(config_path: Option<&Path>, command: AuditCommand) -> anyhow::Result<()> {
    let ctx = Context::open(config_path, KeyMode::MustExist).await?;
    let result = match command {
        AuditCommand::Verify { head, json } => verify(&ctx, head.as_deref(), json).await,
        AuditCommand::List {
            account,
            since,
            outcome,
            kind,
            limit,
            json,
        } => {
            let filter = AuditFilter {
                account: account.map(|id| id.trim().to_lowercase()),
                since: since
                    .as_deref()
                    .map(|text| parse_since(text, ctx.now(), ctx.config.policy.utc_offset))
                    .transpose()?,
                outcome,
                kind_prefix: kind,
                limit: limit.clamp(1, 100_000),
                ..AuditFilter::default()
            };
            list(&ctx, &filter, json).await
        }
    };
    ctx.stores.store.close().await;
    result
}

/// A 32-byte head in hex, as `audit verify` prints it.
fn parse_head(text: &str) -> Result<[u8; 32], CliError> {
    hex::decode(text.trim())
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or_else(|| CliError::Input(format!("--head {text:?} is not 64 hexadecimal characters")))
}

async fn verify(ctx: &Context, head: Option<&str>, json: bool) -> anyhow::Result<()> {
    let recorded = head.map(parse_head).transpose()?;
    let chain = AuditChain::keyring(ctx.key.clone());
    let store = &ctx.stores.store;
    let ChainWalk {
        rows,
        breaks,
        head_found,
        head,
        verified,
        unverified,
    } = walk_chain(&chain, recorded, async |after, limit| {
        store.audit_page(after, limit).await
    })
    .await?;
    let head_missing = recorded.is_some() && !head_found;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "ok": breaks.is_empty() && !head_missing,
                "rows": rows,
                "breaks": breaks,
                "unverified_rows": unverified.as_ref().map_or(0, |(n, _)| *n),
                "unverified_key_id": unverified.as_ref().map(|(_, id)| id.clone()),
                "recorded_head_found": recorded.map(|_| head_found),
                "head": head,
            })
        );
    } else {
        for broken in &breaks {
            println!("BROKEN: {broken}");
        }
        if head_missing {
            println!(
                "BROKEN: the recorded head is not in the trail (rows up to it were removed or rewritten)"
            );
        }
        if let Some((count, key_id)) = &unverified {
            println!(
                "NOT VERIFIED: the first {count} row(s), linked under key {key_id} before a key rotation (that key \
                 file is not in this node's keyring; add it to secrets.extra_key_files to check them)"
            );
        }
        if breaks.is_empty() && !head_missing {
            println!("audit trail intact: {verified} row(s) verified");
            if recorded.is_some() {
                println!("the recorded head is in the trail: nothing before it was changed");
            }
        }
        println!("head {head} (record it elsewhere; a later `audit verify --head` must find it)");
    }
    if !breaks.is_empty() || head_missing {
        let mut found = breaks.join("; ");
        if head_missing {
            found = [found, "the recorded head is missing".to_owned()]
                .into_iter()
                .filter(|part| !part.is_empty())
                .collect::<Vec<_>>()
                .join("; ");
        }
        anyhow::bail!(
            "audit trail broken in {rows} row(s): {found}. Compare with your backups and recorded heads"
        );
    }
    Ok(())
}

/// `2026-12-01` (local midnight at `offset`) or `30m` / `12h` / `7d` before `now`.
fn parse_since(text: &str, now: i64, offset: time::UtcOffset) -> Result<i64, CliError> {
    let bad = || {
        CliError::Input(format!(
            "--since {text:?}: give a date (2026-12-01) or a duration (30m, 12h, 7d)"
        ))
    };
    let text = text.trim();
    if let Some(unit) = text.chars().last().filter(|c| matches!(c, 'm' | 'h' | 'd')) {
        let amount: i64 = text[..text.len() - 1].parse().map_err(|_| bad())?;
        let seconds = match unit {
            'm' => 60,
            'h' => 3600,
            _ => 86_400,
        };
        return amount
            .checked_mul(seconds)
            .map(|back| now.saturating_sub(back))
            .ok_or_else(bad);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(text, format).map_err(|_| bad())?;
    Ok(date.midnight().assume_offset(offset).unix_timestamp())
}

/// Unix seconds in the site's local time, with the offset written out (`2026-12-07 02:25 +08:00`).
pub(super) fn local_time(unix: i64, offset: time::UtcOffset) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second] [offset_hour sign:mandatory]:[offset_minute]"
    );
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.checked_to_offset(offset))
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| unix.to_string())
}

async fn list(ctx: &Context, filter: &AuditFilter, json: bool) -> anyhow::Result<()> {
    let records = ctx.stores.store.search_audit(filter).await?;
    let offset = ctx.config.policy.utc_offset;
    if json {
        let rows: Vec<_> = records.iter().map(|r| json_row(r, offset)).collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            vec![
                local_time(r.event.at, offset),
                r.event.kind.clone(),
                r.event.actor.clone(),
                r.event.account_id.clone().unwrap_or_else(|| "-".to_owned()),
                r.event.outcome.clone(),
                r.event.detail.chars().filter(|c| !c.is_control()).collect(),
            ]
        })
        .collect();
    print_table(
        &["TIME", "KIND", "ACTOR", "ACCOUNT", "OUTCOME", "DETAIL"],
        &rows,
    );
    Ok(())
}

fn json_row(record: &AuditRecord, offset: time::UtcOffset) -> serde_json::Value {
    let detail = serde_json::from_str::<serde_json::Value>(&record.event.detail)
        .unwrap_or_else(|_| serde_json::Value::String(record.event.detail.clone()));
    serde_json::json!({
        "seq": record.seq,
        "at": record.event.at,
        "time": local_time(record.event.at, offset),
        "kind": record.event.kind,
        "actor": record.event.actor,
        "account": record.event.account_id,
        "outcome": record.event.outcome,
        "detail": detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_dates_and_durations() {
        let taipei = time::macros::offset!(+8);
        assert_eq!(parse_since("30m", 10_000, taipei).unwrap(), 10_000 - 1800);
        assert_eq!(
            parse_since("2d", 200_000, taipei).unwrap(),
            200_000 - 172_800
        );
        // Midnight in Taipei is 16:00 UTC the day before.
        assert_eq!(parse_since("2024-01-02", 0, taipei).unwrap(), 1_704_124_800);
        assert!(parse_since("yesterday", 0, taipei).is_err());
        assert!(parse_since("9999999999999999999d", 0, taipei).is_err());
    }

    #[test]
    fn local_times_carry_their_offset() {
        let taipei = time::macros::offset!(+8);
        assert_eq!(
            local_time(1_704_124_800, taipei),
            "2024-01-02 00:00:00 +08:00"
        );
        assert_eq!(local_time(i64::MAX, taipei), i64::MAX.to_string());
    }
}
