//! `motpd audit verify|list`: checks every link of the audit chain (reporting every break, and whether a head
//! recorded earlier is still in it; the result recorded for the console's audit page), and shows the rows an
//! admin asks for (the console's search and more), in the site's local time.

use std::path::Path;

use super::args::AuditCommand;
use super::context::{Context, KeyMode};
use super::{CliError, print_table};
use crate::audit::{AuditChain, AuditRecord};
use crate::engine::audit_verify::{self, ChainWalk, walk_chain};
use crate::store::AuditFilter;

pub(super) async fn run(config_path: Option<&Path>, command: AuditCommand) -> anyhow::Result<()> {
    let ctx = Context::open(config_path, KeyMode::MustExist).await?;
    let result = match command {
        AuditCommand::Verify { head, json } => verify(&ctx, head.as_deref(), json).await,
        AuditCommand::List {
            account,
            actor,
            since,
            until,
            outcome,
            kind,
            limit,
            json,
        } => {
            let (now, offset) = (ctx.now(), ctx.config.policy.utc_offset);
            let when = |flag: &'static str, text: Option<String>| {
                text.map(|text| parse_when(flag, &text, now, offset))
                    .transpose()
            };
            let (since, until) = (when("since", since), when("until", until));
            match (since, until) {
                (Ok(Some(since)), Ok(Some(until))) if since.start >= until.end => Err(
                    CliError::Input("--since is not before --until: nothing can match".to_owned())
                        .into(),
                ),
                (Ok(since), Ok(until)) => {
                    let filter = AuditFilter {
                        account: account.map(|id| id.trim().to_lowercase()),
                        actor: actor.map(|a| a.trim().to_owned()).filter(|a| !a.is_empty()),
                        since: since.map(|w| w.start),
                        until: until.map(|w| w.end),
                        outcome,
                        kind_prefix: kind,
                        limit: limit.clamp(1, 100_000),
                        ..AuditFilter::default()
                    };
                    list(&ctx, &filter, json).await
                }
                (Err(e), _) | (_, Err(e)) => Err(e.into()),
            }
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
    let walk = walk_chain(&chain, recorded, async |after, limit| {
        store.audit_page(after, limit).await
    })
    .await?;
    // Recorded as the console's button records it: its audit page shows the last verification. A database
    // that takes no writes (a standby, a full disk) still gets its verification.
    let recorded_row =
        audit_verify::record_verification(store.as_ref(), &walk, &ctx.actor(), ctx.now()).await;
    if let Err(error) = recorded_row {
        eprintln!("warning: the result was not recorded in the audit trail ({error})");
    }
    let ChainWalk {
        rows,
        breaks,
        head_found,
        head,
        verified,
        unverified,
    } = walk;
    let head_missing = head_found == Some(false);
    if json {
        println!(
            "{}",
            serde_json::json!({
                "ok": breaks.is_empty() && !head_missing,
                "rows": rows,
                "breaks": breaks,
                "unverified_rows": unverified.as_ref().map_or(0, |(n, _)| *n),
                "unverified_key_id": unverified.as_ref().map(|(_, id)| id.clone()),
                "recorded_head_found": head_found,
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

/// The moment a `--since` / `--until` value names: a local day (`2026-12-01`, from its midnight at `offset` to
/// the next) or a duration before `now` (`30m`, `12h`, `7d`: that one instant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct When {
    /// The first second it covers (`--since`).
    start: i64,
    /// The first second after it (`--until`: a day is included whole).
    end: i64,
}

/// Parses `--since` / `--until` (`flag`).
fn parse_when(flag: &str, text: &str, now: i64, offset: time::UtcOffset) -> Result<When, CliError> {
    let bad = || {
        CliError::Input(format!(
            "--{flag} {text:?}: give a date (2026-12-01) or a duration (30m, 12h, 7d)"
        ))
    };
    let text = text.trim();
    if let Some(unit) = text.chars().last().filter(|c| matches!(c, 'm' | 'h' | 'd')) {
        // Digits only: "-1d" (a moment ahead) or "+1d" is a typing error, not a window.
        let digits = &text[..text.len() - 1];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let amount: i64 = digits.parse().map_err(|_| bad())?;
        let seconds = match unit {
            'm' => 60,
            'h' => 3600,
            _ => 86_400,
        };
        let at = amount
            .checked_mul(seconds)
            .map(|back| now.saturating_sub(back))
            .ok_or_else(bad)?;
        return Ok(When { start: at, end: at });
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(text, format).map_err(|_| bad())?;
    let midnight = |d: time::Date| d.midnight().assume_offset(offset).unix_timestamp();
    let start = midnight(date);
    let end = date.next_day().map_or(i64::MAX, midnight);
    Ok(When { start, end })
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
    fn since_and_until_take_dates_and_durations() {
        let taipei = time::macros::offset!(+8);
        let start = |text: &str, now: i64| parse_when("since", text, now, taipei).map(|w| w.start);
        let end = |text: &str, now: i64| parse_when("until", text, now, taipei).map(|w| w.end);
        assert_eq!(start("30m", 10_000).unwrap(), 10_000 - 1800);
        assert_eq!(end("30m", 10_000).unwrap(), 10_000 - 1800);
        assert_eq!(start("2d", 200_000).unwrap(), 200_000 - 172_800);
        // Midnight in Taipei is 16:00 UTC the day before; a day given to --until is included whole.
        assert_eq!(start("2024-01-02", 0).unwrap(), 1_704_124_800);
        assert_eq!(end("2024-01-02", 0).unwrap(), 1_704_124_800 + 86_400);
        let err = end("yesterday", 0).unwrap_err().to_string();
        assert!(err.starts_with("--until \"yesterday\""), "{err}");
        assert!(start("9999999999999999999d", 0).is_err());
        assert!(start("-1d", 0).is_err() && start("+1d", 0).is_err() && start("d", 0).is_err());
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
