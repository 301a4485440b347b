//! `motpd invite ID` and `motpd invite --all-unenrolled` (each optionally `--qr-in-mail`): create invitations
//! and mail their links (and QR codes) through `[smtp]`. The decisions (who may be invited, the token) are the engine's; this file wires and prints.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;

use super::CliError;
use super::args::InviteArgs;
use super::context::{Context, KeyMode};
use crate::accounts;
use crate::clock::SystemClock;
use crate::engine::EngineSettings;
use crate::engine::invitations::{Invitations, InviteError};
use crate::notify::{Mailer, SmtpMailer};
use crate::store::{AccountFilter, AccountStatus};

pub(super) async fn run(config_path: Option<&Path>, args: InviteArgs) -> anyhow::Result<()> {
    let ctx = Context::open(config_path, KeyMode::MustExist).await?;
    let result = invite(&ctx, args).await;
    ctx.store.close().await;
    result
}

async fn invite(ctx: &Context, args: InviteArgs) -> anyhow::Result<()> {
    let mailer = SmtpMailer::new(&ctx.config.smtp).context("check the [smtp] settings")?;
    let service = Invitations::new(
        ctx.store.clone(),
        ctx.key.clone(),
        Arc::new(SystemClock),
        EngineSettings::from_config(&ctx.config),
        ctx.config.web.invite_ttl_hours,
    );
    if !args.all_unenrolled {
        let id = args.id.clone().unwrap_or_default();
        let id = accounts::normalize_id(&id).map_err(|e| CliError::Input(e.to_string()))?;
        return send_one(ctx, &service, &mailer, &id, &args).await;
    }
    let listed = ctx
        .store
        .list_accounts(AccountFilter {
            unenrolled_only: true,
        })
        .await?;
    let (mut sent, mut skipped, mut failed) = (0u32, 0u32, 0u32);
    for overview in listed {
        let account = overview.account;
        if account.status == AccountStatus::Disabled {
            continue;
        }
        match send_one(ctx, &service, &mailer, &account.id, &args).await {
            Ok(()) => sent += 1,
            Err(e) if matches!(e.downcast_ref(), Some(InviteError::NoEmail(_))) => skipped += 1,
            Err(e) => {
                eprintln!("{}: {e:#}", account.id);
                failed += 1;
            }
        }
    }
    println!("invitations: {sent} sent, {skipped} skipped (no e-mail), {failed} failed");
    if failed > 0 {
        anyhow::bail!("{failed} invitation(s) could not be sent; see the messages above");
    }
    Ok(())
}

async fn send_one(
    ctx: &Context,
    service: &Invitations,
    mailer: &SmtpMailer,
    id: &str,
    args: &InviteArgs,
) -> anyhow::Result<()> {
    let invitation = if args.qr_in_mail {
        service.invite_with_seed(id, &ctx.actor()).await
    } else {
        service.invite(id, args.force, &ctx.actor()).await
    };
    let invitation = invitation.map_err(|e| already_bound(e, id, args.qr_in_mail))?;
    let mail = invitation
        .mail(ctx.config.policy.utc_offset)
        .context("while drawing the QR code for the mail")?;
    mailer
        .send(mail)
        .await
        .with_context(|| format!("while mailing the invitation to {}", invitation.email))?;
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
