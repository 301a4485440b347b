//! `motpd serve`'s directory sync every `ldap.sync_minutes`: the same sync as `motpd user sync`, run by one
//! task (so a run never overlaps the next: a tick that comes during a run waits for it and a missed tick is
//! skipped), logged as one summary line, audited with the actor `directory-sync`.
//!
//! Several nodes on one PostgreSQL database: the job lease (`job_leases` row `directory-sync`) goes to the
//! first node whose tick finds it free; after a completed run it is held until the next run is due, so the
//! other nodes skip their ticks instead of repeating the sync, and a node that dies mid-run frees it after
//! [`LEASE_SECONDS`]. A lease row rather than a PostgreSQL advisory lock: the same statement works on SQLite
//! (where `motpd user sync` and `serve` share the file), it needs no connection held for the whole run, and
//! it also spaces the runs of several nodes, which a lock held only during a run would not.
//!
//! A failure (directory away, database error, the safety brake) is logged, counted and retried at the next
//! interval; nothing is written by a failed run.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::Config;
use crate::directory::{Directory, LdapDirectory};
use crate::engine::directory_sync::{
    LEASE_SECONDS, SERVE_ACTOR, SyncError, SyncRun, plan_settings, sync,
};
use crate::monitoring::{
    DIRECTORY_SYNC_ACCOUNTS, DIRECTORY_SYNC_LAST_SUCCESS, DIRECTORY_SYNC_RUNS,
};
use crate::store::Store;

/// Starts the periodic sync if `ldap.sync_minutes` is set and a directory is configured; `None` otherwise.
pub(super) fn spawn(
    config: &Config,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    node: String,
    token: CancellationToken,
) -> Option<tokio::task::JoinHandle<()>> {
    let minutes = config.ldap.sync_minutes;
    if minutes == 0 || !config.ldap.configured() {
        return None;
    }
    let directory: Arc<dyn Directory> =
        match LdapDirectory::new(&config.ldap, config.policy.utc_offset) {
            Ok(directory) => Arc::new(directory),
            Err(error) => {
                tracing::warn!(%error, "the directory sync (ldap.sync_minutes) cannot start");
                return None;
            }
        };
    let config = config.clone();
    let interval = Duration::from_secs(u64::from(minutes) * 60);
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                () = token.cancelled() => return,
                _ = tick.tick() => {
                    tokio::select! {
                        () = token.cancelled() => return,
                        () = run_once(directory.as_ref(), store.as_ref(), clock.as_ref(), &config, &node, interval) => {}
                    }
                }
            }
        }
    }))
}

/// One run: sync, then log and count what happened.
async fn run_once(
    directory: &dyn Directory,
    store: &dyn Store,
    clock: &dyn Clock,
    config: &Config,
    node: &str,
    interval: Duration,
) {
    let now = clock.now();
    let interval_seconds = i64::try_from(interval.as_secs()).unwrap_or(i64::MAX);
    // Due again a little before this node's next tick, so that the node (or another) finds it free then.
    let next_due = now
        .saturating_add(interval_seconds)
        .saturating_sub((interval_seconds / 10).min(30));
    let run = SyncRun {
        settings: plan_settings(config, now, false),
        actor: SERVE_ACTOR,
        holder: node,
        dry_run: false,
        now,
        next_due,
    };
    let started = std::time::Instant::now();
    match sync(directory, store, &run).await {
        Ok(outcome) => {
            let c = outcome.plan.counts;
            tracing::info!(
                entries = c.entries,
                created = c.created,
                updated = c.updated,
                disabled = c.disabled,
                reenabled = c.reenabled,
                unchanged = c.unchanged,
                skipped = c.skipped,
                took_ms = started.elapsed().as_millis(),
                "directory sync done"
            );
            for warning in &outcome.plan.warnings {
                tracing::warn!("directory sync: {warning}");
            }
            if crate::monitoring::global().is_some() {
                #[allow(clippy::cast_precision_loss)]
                {
                    metrics::gauge!(DIRECTORY_SYNC_LAST_SUCCESS).set(now as f64);
                    for (change, n) in [
                        ("created", c.created),
                        ("updated", c.updated),
                        ("disabled", c.disabled),
                        ("reenabled", c.reenabled),
                        ("unchanged", c.unchanged),
                        ("skipped", c.skipped),
                    ] {
                        metrics::gauge!(DIRECTORY_SYNC_ACCOUNTS, "change" => change).set(n as f64);
                    }
                }
            }
            count("ok");
        }
        Err(SyncError::Busy) => {
            tracing::debug!("directory sync: another node has it this time");
            count("skipped");
        }
        Err(error @ SyncError::Brake(_)) => {
            tracing::error!(%error, "directory sync refused by the safety brake; retried at the next interval");
            count("refused");
        }
        Err(error) => {
            tracing::warn!(%error, "directory sync failed; nothing was changed, retried at the next interval");
            count("failed");
        }
    }
}

fn count(outcome: &'static str) {
    if crate::monitoring::global().is_some() {
        metrics::counter!(DIRECTORY_SYNC_RUNS, "outcome" => outcome).increment(1);
    }
}

/// The lease outlives any sync of a healthy node.
const _: () = assert!(LEASE_SECONDS >= 60);
