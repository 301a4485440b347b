//! `motpd user set ID --identity-stdin` and `motpd user reset-password ID`: the second proofs of the account
//! pages as an admin gives them. The identity (national ID number or birth date) is read from standard input,
//! normalised and stored only as a keyed hash; the helpdesk code is printed once and stored only as a keyed
//! hash. Neither ever reaches the audit trail or an error message.

use std::io::Read as _;

use anyhow::Context as _;

use super::context::Context;
use super::format_time;
use super::user::{existing, input};
use crate::account_rules;
use crate::engine::helpdesk;
use crate::engine::helpdesk_codes::HelpdeskCodes;
use crate::engine::identity::IdentityKey;
use crate::secrets::SecretString;

/// The normalised identity from standard input; `None` for an empty input (clears it).
pub(super) fn read_identity() -> anyhow::Result<Option<SecretString>> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("while reading the identity from standard input")?;
    let typed = SecretString::new(text);
    match typed.expose().trim() {
        "" => Ok(None),
        raw => Ok(Some(SecretString::new(
            account_rules::normalize_identity(raw).map_err(input)?,
        ))),
    }
}

/// Stores the keyed hash of the identity (or clears it).
pub(super) async fn set_identity(
    ctx: &Context,
    raw_id: &str,
    identity: Option<SecretString>,
    reason: Option<&str>,
) -> anyhow::Result<()> {
    let account = existing(ctx, raw_id).await?;
    let hash = identity
        .map(|normalized| IdentityKey::new(ctx.key.clone()).hash(&account.id, normalized.expose()));
    ctx.stores
        .store
        .set_identity_hash(&account.id, hash.as_deref(), ctx.now())
        .await?;
    let mut detail =
        serde_json::json!({ "identity": if hash.is_some() { "set" } else { "cleared" } });
    if let (Some(reason), Some(fields)) = (reason, detail.as_object_mut()) {
        fields.insert("reason".into(), reason.into());
    }
    ctx.audit("admin.user.identity", Some(&account.id), detail)
        .await?;
    match hash {
        Some(_) => println!("identity of {} stored (as a keyed hash)", account.id),
        None => println!(
            "identity of {} cleared: it can reset its password only with a helpdesk code",
            account.id
        ),
    }
    Ok(())
}

/// Issues a one-time helpdesk code for the account pages (replacing an earlier one) and prints it.
pub(super) async fn reset_password(
    ctx: &Context,
    raw_id: &str,
    reason: Option<&str>,
) -> anyhow::Result<()> {
    if !ctx.config.accounts.password_source.stores_passwords() {
        return Err(super::user::no_local_passwords(ctx).into());
    }
    let account = existing(ctx, raw_id).await?;
    let codes = HelpdeskCodes::new(ctx.key.clone());
    let issued = helpdesk::issue_reset_code(
        ctx.stores.store.as_ref(),
        &codes,
        ctx.config.accounts.password_source,
        &account.id,
        &ctx.actor(),
        reason,
        ctx.now(),
    )
    .await?;
    let base = ctx.config.web.public_url.trim_end_matches('/');
    println!("one-time code for {}: {}", account.id, issued.code.expose());
    println!(
        "valid until {}, usable once, at {base}{} (from the hospital network)",
        format_time(Some(issued.expires_at), ctx.config.policy.utc_offset),
        issued.page
    );
    println!("give it only to the person, after checking their ID card");
    Ok(())
}
