//! The helpdesk's account actions: each a confirmation page (`GET /admin/accounts/{id}/{action}`) with a
//! required reason, then a POST (CSRF token checked) the engine carries out and audits with the admin's name and
//! the reason, as the CLI's commands do ([`crate::engine::helpdesk`], [`crate::engine::enrollment`]). The
//! password reset code is the one answer that is a page, not a redirect: it shows the code once.

// The error is the page to answer with, as in every handler; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::accounts::existing;
use super::guard::{AnyAdmin, SignedIn};
use super::pages::{CodePage, ConfirmPage};
use super::{ConsoleState, forms};
use crate::clock::local_date;
use crate::engine::enrollment;
use crate::engine::helpdesk::{self, Changed, HelpdeskError};
use crate::engine::invitations::{self, InviteError, InviteMode};
use crate::model::AccountStatus;
use crate::monitoring::ConsoleAction;
use crate::texts::ConsoleTexts;

/// The actions of the account page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Unlock,
    Lock,
    ResetDevice,
    Disable,
    Enable,
    Expiry,
    SmsOn,
    SmsOff,
    SmsDefault,
    ResetCode,
    Invite,
}

impl Action {
    const ALL: [Self; 11] = [
        Self::Unlock,
        Self::Lock,
        Self::ResetDevice,
        Self::Disable,
        Self::Enable,
        Self::Expiry,
        Self::SmsOn,
        Self::SmsOff,
        Self::SmsDefault,
        Self::ResetCode,
        Self::Invite,
    ];

    fn parse(path: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.path() == path)
    }

    fn path(self) -> &'static str {
        match self {
            Self::Unlock => "unlock",
            Self::Lock => "lock",
            Self::ResetDevice => "reset-device",
            Self::Disable => "disable",
            Self::Enable => "enable",
            Self::Expiry => "expiry",
            Self::SmsOn => "sms-on",
            Self::SmsOff => "sms-off",
            Self::SmsDefault => "sms-default",
            Self::ResetCode => "reset-code",
            Self::Invite => "invite",
        }
    }

    /// The `action` label it is counted under.
    fn counted(self) -> ConsoleAction {
        match self {
            Self::Unlock => ConsoleAction::Unlock,
            Self::Lock => ConsoleAction::Lock,
            Self::ResetDevice => ConsoleAction::ResetDevice,
            Self::Disable => ConsoleAction::Disable,
            Self::Enable => ConsoleAction::Enable,
            Self::Expiry => ConsoleAction::ExtendExpiry,
            Self::SmsOn => ConsoleAction::SmsOn,
            Self::SmsOff => ConsoleAction::SmsOff,
            Self::SmsDefault => ConsoleAction::SmsDefault,
            Self::ResetCode => ConsoleAction::ResetCode,
            Self::Invite => ConsoleAction::Invite,
        }
    }

    fn texts(self, t: &ConsoleTexts) -> (&'static str, &'static str) {
        match self {
            Self::Unlock => (t.confirm_unlock_heading, t.confirm_unlock_text),
            Self::Lock => (t.confirm_lock_heading, t.confirm_lock_text),
            Self::ResetDevice => (t.confirm_reset_heading, t.confirm_reset_text),
            Self::Disable => (t.confirm_disable_heading, t.confirm_disable_text),
            Self::Enable => (t.confirm_enable_heading, t.confirm_enable_text),
            Self::Expiry => (t.confirm_expiry_heading, t.confirm_expiry_text),
            Self::SmsOn => (t.confirm_sms_on_heading, t.confirm_sms_on_text),
            Self::SmsOff => (t.confirm_sms_off_heading, t.confirm_sms_off_text),
            Self::SmsDefault => (t.confirm_sms_default_heading, t.confirm_sms_default_text),
            Self::ResetCode => (t.confirm_code_heading, t.confirm_code_text),
            Self::Invite => (t.confirm_invite_heading, t.confirm_invite_text),
        }
    }
}

/// The notice of the account page after an action (`?done=`).
pub(super) fn notice(t: &ConsoleTexts, done: &str) -> Option<&'static str> {
    Some(match done {
        "unlocked" => t.unlocked,
        "not-locked" => t.nothing_to_unlock,
        "locked" => t.locked_done,
        "reset" => t.reset_done,
        "no-device" => t.no_device_to_reset,
        "disabled" => t.disabled_done,
        "enabled" => t.enabled_done,
        "expiry" => t.expiry_done,
        "sms" => t.sms_done,
        "unchanged" => t.unchanged,
        "invited" => t.invite_done,
        _ => return None,
    })
}

/// `GET /admin/accounts/{id}/{action}`: the confirmation page.
pub(super) async fn confirm_form(
    State(state): State<Arc<ConsoleState>>,
    AnyAdmin(admin): AnyAdmin,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let Some(action) = Action::parse(&action) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let account = match existing(&state, &admin, &id).await {
        Ok(account) => account,
        Err(response) => return response,
    };
    let date = account
        .expires_on
        .map(|d| d.to_string())
        .unwrap_or_default();
    let form = Typed {
        reason: "",
        date: &date,
        qr: !invitations::link_alone_binds(state.password_source),
    };
    confirm_page(
        &state,
        &admin,
        &account.id,
        action,
        &form,
        None,
        StatusCode::OK,
    )
}

/// What the admin typed, shown again when the form is refused.
struct Typed<'a> {
    reason: &'a str,
    date: &'a str,
    /// The invitation's "QR code in the mail" box.
    qr: bool,
}

fn confirm_page(
    state: &ConsoleState,
    admin: &SignedIn,
    id: &str,
    action: Action,
    typed: &Typed<'_>,
    error: Option<&'static str>,
    status: StatusCode,
) -> Response {
    let (heading, text) = action.texts(admin.desk.texts());
    let path = format!("/admin/accounts/{id}/{}", action.path());
    let today = local_date(state.now(), state.utc_offset).to_string();
    let page = ConfirmPage {
        f: admin.frame(&path),
        id,
        action: action.path(),
        heading,
        text,
        csrf: admin.csrf(),
        reason: typed.reason,
        date: (action == Action::Expiry).then_some(typed.date),
        today: &today,
        qr: (action == Action::Invite).then_some(typed.qr),
        error,
    };
    admin.desk.page(status, &page, &[])
}

/// The confirmation form's fields.
#[derive(Debug, Deserialize)]
pub(super) struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
    /// The new last day (the expiry action).
    #[serde(default)]
    expires: String,
    /// The invitation's QR code box (present when ticked).
    #[serde(default)]
    qr: Option<String>,
}

/// `POST /admin/accounts/{id}/{action}`: carries the action out (CSRF token and a reason required).
pub(super) async fn act(
    State(state): State<Arc<ConsoleState>>,
    AnyAdmin(admin): AnyAdmin,
    Path((id, action)): Path<(String, String)>,
    axum::Form(form): axum::Form<ActionForm>,
) -> Response {
    let Some(action) = Action::parse(&action) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if let Err(refused) = admin.check_csrf(&form.csrf) {
        return refused;
    }
    let account = match existing(&state, &admin, &id).await {
        Ok(account) => account,
        Err(response) => return response,
    };
    let t = admin.desk.texts();
    let reason = forms::reason(&form.reason);
    let date_text: String = form.expires.trim().chars().take(10).collect();
    let typed = Typed {
        reason: &reason,
        date: &date_text,
        qr: form.qr.is_some(),
    };
    let refuse = |error: &'static str| {
        let status = StatusCode::BAD_REQUEST;
        confirm_page(
            &state,
            &admin,
            &account.id,
            action,
            &typed,
            Some(error),
            status,
        )
    };
    if reason.is_empty() {
        return refuse(t.reason_required);
    }
    let store = state.store.as_ref();
    let (actor, now, id) = (admin.actor(), state.now(), account.id.as_str());
    let why = Some(reason.as_str());
    let changed = |result: Result<Changed, HelpdeskError>, done: &'static str| {
        result.map(|changed| match changed {
            Changed::Done => done,
            Changed::Unchanged => "unchanged",
        })
    };
    let outcome = match action {
        Action::Unlock => helpdesk::unlock_account(store, id, &actor, why, now)
            .await
            .map(|unlocked| match unlocked {
                helpdesk::Unlocked::Done => "unlocked",
                helpdesk::Unlocked::Unchanged => "not-locked",
            }),
        Action::Lock => changed(
            helpdesk::lock_account(store, id, &actor, why, now).await,
            "locked",
        ),
        Action::ResetDevice => match enrollment::reset_devices(store, id, &actor, why, now).await {
            Ok(0) => Ok("no-device"),
            Ok(_) => Ok("reset"),
            Err(error) => return admin.desk.failure(&error),
        },
        Action::Disable | Action::Enable => {
            let (status, done) = if action == Action::Disable {
                (AccountStatus::Disabled, "disabled")
            } else {
                (AccountStatus::Active, "enabled")
            };
            let result = helpdesk::set_status(store, id, status, &actor, why, now).await;
            changed(result, done)
        }
        Action::SmsOn | Action::SmsOff | Action::SmsDefault => {
            let allowed = match action {
                Action::SmsOn => Some(true),
                Action::SmsOff => Some(false),
                _ => None,
            };
            let result = helpdesk::set_sms_fallback(store, id, allowed, &actor, why, now).await;
            changed(result, "sms")
        }
        Action::Expiry => {
            let Ok(date) = crate::account_rules::parse_date(&date_text) else {
                return refuse(t.date_required);
            };
            let today = local_date(now, state.utc_offset);
            let result = helpdesk::set_expiry(store, id, Some(date), today, &actor, why, now).await;
            if matches!(result, Err(HelpdeskError::PastDate { .. })) {
                return refuse(t.date_past);
            }
            changed(result, "expiry")
        }
        Action::ResetCode => return reset_code(&state, &admin, id, &reason).await,
        Action::Invite => {
            if !typed.qr && !invitations::link_alone_binds(state.password_source) {
                return refuse(t.invite_needs_qr);
            }
            return invite(&state, &admin, id, &reason, typed.qr).await;
        }
    };
    match outcome {
        Ok(done) => {
            let page = format!("/admin/accounts/{id}");
            forms::done(&state, &admin, (action.counted(), id), &page, done)
        }
        Err(error) => admin.desk.failure(&error),
    }
}

/// Issues the reset code and shows it, once.
async fn reset_code(state: &ConsoleState, admin: &SignedIn, id: &str, reason: &str) -> Response {
    let t = admin.desk.texts();
    let issued = helpdesk::issue_reset_code(
        state.store.as_ref(),
        &state.codes,
        state.password_source,
        id,
        &admin.actor(),
        Some(reason),
        state.now(),
    )
    .await;
    let issued = match issued {
        Ok(issued) => issued,
        Err(HelpdeskError::NoLocalPasswords(_)) => {
            let status = StatusCode::CONFLICT;
            return admin.message(status, t.code_heading, t.no_local_passwords);
        }
        Err(error) => return admin.desk.failure(&error),
    };
    forms::record(state, admin, (ConsoleAction::ResetCode, id), "code-shown");
    let base = state.web.public_url.trim_end_matches('/');
    let path = format!("/admin/accounts/{id}");
    let page = CodePage {
        f: admin.frame(&path),
        id,
        code: issued.code.expose(),
        valid_until: crate::local_time::text(issued.expires_at, state.utc_offset),
        url: format!("{base}{}", issued.page),
    };
    admin.desk.page(StatusCode::OK, &page, &[])
}

/// Mails an invitation (with the QR code when `qr`), then back to the account page; a refusal is a page
/// saying what to do first.
async fn invite(
    state: &ConsoleState,
    admin: &SignedIn,
    id: &str,
    reason: &str,
    qr: bool,
) -> Response {
    let t = admin.desk.texts();
    let Some((invitations, mailer)) = &state.invites else {
        let status = StatusCode::SERVICE_UNAVAILABLE;
        return admin.message(status, t.invite_heading, t.invite_unavailable);
    };
    let mode = if qr {
        InviteMode::SeedInMail
    } else {
        InviteMode::Link { allow_bound: false }
    };
    let actor = admin.actor();
    let sent = invitations
        .invite_by_mail(
            id,
            mode,
            (&actor, Some(reason)),
            mailer.as_ref(),
            state.utc_offset,
        )
        .await;
    let refusal = match sent {
        Ok(_) => {
            let page = format!("/admin/accounts/{id}");
            return forms::done(state, admin, (ConsoleAction::Invite, id), &page, "invited");
        }
        Err(InviteError::NoEmail(_)) => (StatusCode::CONFLICT, t.invite_no_email),
        Err(InviteError::Disabled(_) | InviteError::Expired(_)) => {
            (StatusCode::CONFLICT, t.invite_not_open)
        }
        Err(InviteError::AlreadyBound(_)) => (StatusCode::CONFLICT, t.invite_bound),
        Err(InviteError::Mail { source, .. }) => {
            tracing::warn!(error = %source, account = %id, "console invitation not sent");
            (StatusCode::BAD_GATEWAY, t.invite_mail_failed)
        }
        Err(error) => return admin.desk.failure(&error),
    };
    admin.message(refusal.0, t.invite_heading, refusal.1)
}
