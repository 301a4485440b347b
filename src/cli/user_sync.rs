//! `motpd user sync [--dry-run] [--force]`: accounts from the directory, with the diff printed.

use std::sync::Arc;

use super::context::{Context, os_actor};
use crate::config::{ConfigError, Problem};
use crate::directory::Directory;
use crate::directory::LdapDirectory;
use crate::engine::directory_sync::{SyncOutcome, SyncRun, plan_settings, sync};
use crate::engine::sync_plan::{Action, SyncPlan};

pub(super) async fn run(ctx: &Context, dry_run: bool, force: bool) -> anyhow::Result<()> {
    let directory = open_directory(&ctx.config)?;
    let now = ctx.now();
    let actor = os_actor();
    let holder = format!("{actor} pid {}", std::process::id());
    let run = SyncRun {
        settings: plan_settings(&ctx.config, now, force),
        actor: &actor,
        holder: &holder,
        dry_run,
        now,
        next_due: now,
    };
    let outcome = sync(directory.as_ref(), ctx.stores.store.as_ref(), &run).await?;
    print_outcome(&outcome, dry_run);
    Ok(())
}

/// The configured directory; a configuration error (exit 3) when `[ldap]` names none.
pub(crate) fn open_directory(config: &crate::config::Config) -> anyhow::Result<Arc<dyn Directory>> {
    if !config.ldap.configured() {
        return Err(ConfigError::Invalid(vec![Problem {
            key: "ldap.urls",
            message:
                "no directory is configured: set [ldap] urls, base_dn and the service account first"
                    .into(),
        }])
        .into());
    }
    Ok(Arc::new(LdapDirectory::new(
        &config.ldap,
        config.policy.utc_offset,
    )?))
}

fn print_outcome(outcome: &SyncOutcome, dry_run: bool) {
    let plan = &outcome.plan;
    for warning in &plan.warnings {
        eprintln!("warning: {warning}");
    }
    print_changes(plan);
    let c = &plan.counts;
    println!(
        "{} entries in the directory: {} created, {} updated, {} disabled, {} re-enabled, {} unchanged, {} skipped{}",
        c.entries,
        c.created,
        c.updated,
        c.disabled,
        c.reenabled,
        c.unchanged,
        c.skipped,
        if dry_run {
            "; nothing written (--dry-run)"
        } else {
            ""
        }
    );
}

/// One line per changed account: what happens and which fields change.
fn print_changes(plan: &SyncPlan) {
    for change in &plan.changes {
        let fields = change
            .fields
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        let adopted = if change.adopted {
            " (local account, now linked to the directory)"
        } else {
            ""
        };
        let line = match &change.action {
            Action::Create => format!("created     {}: {fields}", change.id),
            Action::Update => format!("updated     {}: {fields}{adopted}", change.id),
            Action::Disable(reason) => {
                format!(
                    "disabled    {}: {}{}",
                    change.id,
                    reason.as_str(),
                    also(&fields)
                )
            }
            Action::Reenable(status) => format!(
                "re-enabled  {}: back in the directory, now {}{}",
                change.id,
                status.as_str(),
                also(&fields)
            ),
        };
        println!("{line}");
    }
}

fn also(fields: &str) -> String {
    if fields.is_empty() {
        String::new()
    } else {
        format!("; updated {fields}")
    }
}
