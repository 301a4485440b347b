//! One directory sync, as `motpd user sync` and `motpd serve` (every `ldap.sync_minutes`) run it: take the
//! job lease (one sync at a time across nodes and commands), read the whole sync search and every account,
//! make the plan ([`super::sync_plan`]), apply it in one transaction, and audit it: one `account.sync` row per
//! changed account and one `account.sync.summary` row.
//!
//! The directory is read before anything is written: a directory that cannot be reached changes nothing.

use crate::audit::AuditEvent;
use crate::directory::{Directory, DirectoryError};
use crate::store::{DirectoryStore, Store, StoreError, SyncApplied};

use super::sync_plan::{BrakeError, PlanSettings, SyncPlan, plan};

/// The job lease's name.
pub const SYNC_JOB: &str = "directory-sync";
/// How long a sync may hold the lease before another may take it (a node that died mid-sync).
pub const LEASE_SECONDS: i64 = 600;
/// The actor of the audit rows of the syncs `motpd serve` runs.
pub const SERVE_ACTOR: &str = "directory-sync";
/// The kind of the audit row of one changed account.
pub const ACCOUNT_KIND: &str = "account.sync";
/// The kind of the audit row that sums a sync up.
pub const SUMMARY_KIND: &str = "account.sync.summary";

/// Why a sync did not happen. Nothing was written in any case (a refused sync writes its audit row only).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The directory could not be read.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// The safety brake held the sync back.
    #[error(transparent)]
    Brake(#[from] BrakeError),
    /// Another node or command is syncing.
    #[error(
        "another sync is running (motpd serve on some node, or another `motpd user sync`); nothing was changed. \
         Try again in a minute (a sync that died gives the lease up after {LEASE_SECONDS} seconds)"
    )]
    Busy,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who runs the sync and how.
#[derive(Debug, Clone)]
pub struct SyncRun<'a> {
    /// The plan's settings (`force` included).
    pub settings: PlanSettings,
    /// The audit rows' actor (`cli:<user>` or [`SERVE_ACTOR`]).
    pub actor: &'a str,
    /// The lease holder (node name or command and process).
    pub holder: &'a str,
    /// Write nothing: only the plan.
    pub dry_run: bool,
    /// Now, in Unix seconds.
    pub now: i64,
    /// When the lease is handed back to be taken by the next run (`now` for a command; the next due time for
    /// `motpd serve`, so that the other nodes skip their turn).
    pub next_due: i64,
}

/// What a sync did.
#[derive(Debug, Clone)]
pub struct SyncOutcome {
    /// The plan.
    pub plan: SyncPlan,
    /// What the store did (`None` for a dry run).
    pub applied: Option<SyncApplied>,
}

/// Runs one sync.
pub async fn sync(
    directory: &dyn Directory,
    store: &dyn Store,
    run: &SyncRun<'_>,
) -> Result<SyncOutcome, SyncError> {
    if run.dry_run {
        let plan = make_plan(directory, store, run).await?;
        return Ok(SyncOutcome {
            plan,
            applied: None,
        });
    }
    if !store
        .take_job_lease(SYNC_JOB, run.holder, run.now, run.now + LEASE_SECONDS)
        .await?
    {
        return Err(SyncError::Busy);
    }
    let outcome = sync_holding_lease(directory, store, run).await;
    // A failed run hands the lease back at once, so the next tick on any node retries.
    let next = if outcome.is_ok() {
        run.next_due
    } else {
        run.now
    };
    let handed_back = store.set_job_lease(SYNC_JOB, run.holder, next).await;
    let outcome = outcome?;
    handed_back?;
    Ok(outcome)
}

async fn make_plan(
    directory: &dyn Directory,
    store: &dyn Store,
    run: &SyncRun<'_>,
) -> Result<SyncPlan, SyncError> {
    let entries = directory.entries().await?;
    let accounts = DirectoryStore::synced_accounts(store).await?;
    Ok(plan(&entries, &accounts, &run.settings)?)
}

async fn sync_holding_lease(
    directory: &dyn Directory,
    store: &dyn Store,
    run: &SyncRun<'_>,
) -> Result<SyncOutcome, SyncError> {
    let plan = match make_plan(directory, store, run).await {
        Err(SyncError::Brake(brake)) => {
            let detail = serde_json::json!({
                "refused": brake.why,
                "would_disable": brake.disable,
                "directory_accounts": brake.directory_accounts,
            });
            let event = AuditEvent::new(run.now, SUMMARY_KIND, run.actor, None, "refused", detail);
            store.append_audit(&[event]).await?;
            return Err(SyncError::Brake(brake));
        }
        other => other?,
    };
    let applied = store.apply_sync(&plan.write, run.now).await?;
    let mut events: Vec<AuditEvent> = plan
        .changes
        .iter()
        .map(|change| {
            AuditEvent::new(
                run.now,
                ACCOUNT_KIND,
                run.actor,
                Some(&change.id),
                "ok",
                change.detail(),
            )
        })
        .collect();
    let summary = serde_json::json!({ "plan": plan.counts, "applied": applied, "forced": run.settings.force });
    events.push(AuditEvent::new(
        run.now,
        SUMMARY_KIND,
        run.actor,
        None,
        "ok",
        summary,
    ));
    store.append_audit(&events).await?;
    Ok(SyncOutcome {
        plan,
        applied: Some(applied),
    })
}

/// The plan's settings from the configuration, for a sync at `now`.
pub fn plan_settings(config: &crate::config::Config, now: i64, force: bool) -> PlanSettings {
    use crate::config::PasswordSource;
    let keeps_passwords = config.accounts.password_source == PasswordSource::Local;
    let ldap = &config.ldap;
    PlanSettings {
        new_status: if keeps_passwords {
            crate::store::AccountStatus::Pending
        } else {
            crate::store::AccountStatus::Active
        },
        keeps_passwords,
        today: crate::clock::local_date(now, config.policy.utc_offset),
        name_mapped: !ldap.name_attribute.trim().is_empty(),
        phone_mapped: !ldap.phone_attribute.trim().is_empty(),
        email_mapped: !ldap.email_attribute.trim().is_empty(),
        force,
    }
}
