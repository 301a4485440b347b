//! `motpd invite ID` and `motpd invite --all-unenrolled` (each optionally `--qr-in-mail`): create invitations
//! and mail their links (and QR codes) through `[smtp]`. The decisions (who may be invited, the token, storing
//! a link only once its mail was sent) are the engine's; this file picks the accounts, asks, wires and prints.
//! `--all-unenrolled` leaves out disabled and expired accounts (their links would only answer 403) and those
//! without an e-mail address, and says so; it asks before mailing (or `--yes`), and `--dry-run` only shows.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;

use super::CliError;
use super::args::InviteArgs;
use super::confirm::confirm;
use super::context::{Context, KeyMode};
use crate::account_rules;
use crate::clock::{SystemClock, local_date};
use crate::engine::EngineSettings;
use crate::engine::invitations::{self, Invitations, InviteError, InviteMode};
use crate::notify::SmtpMailer;
use crate::store::{Account, AccountFilter, AccountStatus};

pub(super) async fn run(config_path: Option<&Path>, args: InviteArgs) -> anyhow::Result<()> {
    let ctx = Context::open(config_path, KeyMode::MustExist).await?;
    let result = invite(&ctx, args).await;
    ctx.stores.store.close().await;
    result
}

async fn invite(ctx: &Context, args: InviteArgs) -> anyhow::Result<()> {
    if !invitations::link_alone_binds(ctx.config.accounts.password_source) && !args.qr_in_mail {
        return Err(CliError::Usage(
            "accounts.password_source = \"none\": the invitation page has no password to check, so a link \
             alone binds nothing; send the QR code in the mail (--qr-in-mail): it activates at the first VPN \
             login, behind NetScaler's LDAP policy"
                .into(),
        )
        .into());
    }
    let mailer = SmtpMailer::new(&ctx.config.smtp).context("check the [smtp] settings")?;
    let service = Invitations::new(
        &ctx.stores,
        ctx.key.clone(),
        Arc::new(SystemClock),
        EngineSettings::from_config(&ctx.config),
        ctx.config.web.invite_ttl_hours,
    );
    if !args.all_unenrolled {
        // clap's `requires` counts a flag's default as present, so the pairing is checked here.
        if args.dry_run {
            return Err(CliError::Usage(
                "--dry-run previews --all-unenrolled; `motpd invite ID` mails one link and has no preview".into(),
            )
            .into());
        }
        let id = args.id.clone().unwrap_or_default();
        let id = account_rules::normalize_id(&id).map_err(|e| CliError::Input(e.to_string()))?;
        return send_one(ctx, &service, &mailer, &id, &args).await;
    }
    let listed = ctx
        .stores
        .store
        .list_accounts(AccountFilter {
            unenrolled_only: true,
        })
        .await?;
    let (to_invite, skipped) = plan(ctx, listed.into_iter().map(|o| o.account).collect());
    for (id, reason) in &skipped {
        println!("{id}: skipped ({reason})");
    }
    if args.dry_run {
        for account in &to_invite {
            let email = account.email.as_deref().unwrap_or_default();
            println!("{}: would be invited at {email}", account.id);
        }
        println!(
            "invitations: {} would be sent, {} skipped; nothing sent (--dry-run)",
            to_invite.len(),
            skipped.len()
        );
        return Ok(());
    }
    if !to_invite.is_empty() {
        confirm(
            &format!(
                "Mail an enrollment link to {} account(s)? (see the list with --dry-run)",
                to_invite.len()
            ),
            args.yes,
            "motpd invite --all-unenrolled --yes",
        )?;
    }
    let (mut sent, mut failed) = (0u32, 0u32);
    for account in &to_invite {
        match send_one(ctx, &service, &mailer, &account.id, &args).await {
            Ok(()) => sent += 1,
            Err(e) => {
                eprintln!("{}: {e:#}", account.id);
                failed += 1;
            }
        }
    }
    println!(
        "invitations: {sent} sent, {} skipped ({}), {failed} failed",
        skipped.len(),
        skip_summary(&skipped)
    );
    if failed > 0 {
        anyhow::bail!(
            "{failed} invitation(s) could not be sent (their earlier links, if any, still work); see the messages above"
        );
    }
    Ok(())
}

/// Splits the unenrolled accounts into those to invite and those skipped, with the reason.
fn plan(ctx: &Context, accounts: Vec<Account>) -> (Vec<Account>, Vec<(String, String)>) {
    let today = local_date(ctx.now(), ctx.config.policy.utc_offset);
    let (mut invite, mut skipped) = (Vec::new(), Vec::new());
    for account in accounts {
        let reason = if account.status == AccountStatus::Disabled {
            Some("disabled".to_owned())
        } else if let Some(last_day) = account.expires_on.filter(|&d| today > d) {
            Some(format!("expired on {last_day}"))
        } else if account.email.as_deref().is_none_or(|e| e.trim().is_empty()) {
            Some("no e-mail".to_owned())
        } else {
            None
        };
        match reason {
            Some(reason) => skipped.push((account.id, reason)),
            None => invite.push(account),
        }
    }
    (invite, skipped)
}

/// "2 no e-mail, 1 disabled" (or "none").
fn skip_summary(skipped: &[(String, String)]) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for (_, reason) in skipped {
        // "expired on DATE" counts as "expired".
        let kind = reason.split(" on ").next().unwrap_or(reason);
        match counts.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => counts.push((kind, 1)),
        }
    }
    if counts.is_empty() {
        return "none".to_owned();
    }
    counts
        .iter()
        .map(|(kind, n)| format!("{n} {kind}"))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn send_one(
    ctx: &Context,
    service: &Invitations,
    mailer: &SmtpMailer,
    id: &str,
    args: &InviteArgs,
) -> anyhow::Result<()> {
    let mode = if args.qr_in_mail {
        InviteMode::SeedInMail
    } else {
        InviteMode::Link {
            allow_bound: args.force,
        }
    };
    let reason = super::reason(args.reason.as_deref());
    let invitation = service
        .invite_by_mail(
            id,
            mode,
            (&ctx.actor(), reason.as_deref()),
            mailer,
            ctx.config.policy.utc_offset,
        )
        .await
        .map_err(|e| already_bound(e, id, args.qr_in_mail))?;
    println!(
        "{id}: invitation sent to {} (valid until {})",
        invitation.email,
        super::format_time(Some(invitation.expires_at), ctx.config.policy.utc_offset)
    );
    Ok(())
}

/// An account that already has a device: say how to invite it anyway.
fn already_bound(error: InviteError, id: &str, qr_in_mail: bool) -> anyhow::Error {
    match error {
        InviteError::AlreadyBound(_) if qr_in_mail => CliError::Conflict(format!(
            "{id} already has an active device: a QR code in the mail needs it unbound first with \
             `motpd device reset {id}`; or use --force without --qr-in-mail"
        ))
        .into(),
        InviteError::AlreadyBound(_) => CliError::Conflict(format!(
            "{id} already has an active device: use --force to send the invitation anyway (its link binds \
             a new phone only after `motpd device reset {id}`)"
        ))
        .into(),
        other => other.into(),
    }
}
