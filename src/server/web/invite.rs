//! The invitation pages (flow B): `GET /invite/{token}`, `POST /invite/{token}/unlock` and
//! `POST /invite/{token}/confirm`, from any network (the link names the account), rate-limited per client
//! address. The link first asks for its account's password; a right one gives the visitor a new session holding
//! the engine's grant for this link, and only that session is shown the seed and may confirm it. A pending
//! account is sent to the activation page first. Forms carry the session's CSRF token (before the password, the signed form cookie's: no store write). Every decision is
//! [`crate::engine::invitations::Invitations`]'s.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::WebState;
use super::guard::{Poster, anonymous_form, checked_poster};
use super::handlers::{DeviceForm, Page, checked_session, session_cookie};
use super::pages::{InvitePage, InvitePasswordPage, InviteStatePage, SeedView, format_time};
use super::session::SessionData;
use super::texts::{EN, Texts, ZH_TW};
use super::visitor::{AnyNetwork, Visitor};
use crate::config::AuthMode;
use crate::engine::invitations::LinkState;
use crate::engine::invite_unlock::{InviteGrant, Unlock};
use crate::engine::self_service::{ConfirmOutcome, LoginRefusal, StartOutcome};
use crate::secrets::SecretString;

/// The password form of a link.
#[derive(Debug, Deserialize)]
pub(crate) struct UnlockForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
}

/// `GET /invite/{token}`: for a session holding this link's grant, the link's pending seed (the same one on
/// every visit while it is pending); else the password form, or why the link does not work.
pub(crate) async fn open(
    State(state): State<Arc<WebState>>,
    AnyNetwork(v): AnyNetwork,
    Path(token): Path<String>,
) -> Page {
    if !state.invite_limiter.allow(v.ip, state.service.now()) {
        return Ok(state_page(StatusCode::TOO_MANY_REQUESTS, |t| {
            t.rate_limited
        }));
    }
    let now = state.service.now();
    let session = match v.session_id.as_deref() {
        Some(id) => state
            .sessions
            .touch(id, now)
            .await
            .map_err(|e| v.failure(&e))?,
        None => None,
    };
    let grant = session
        .as_ref()
        .and_then(|s| InviteGrant::parse(s.flow.as_deref()));
    let started = state
        .invitations
        .start(&token, grant.as_ref(), v.ip)
        .await
        .map_err(|e| v.failure(&e))?;
    let (account_id, outcome) = match started {
        Ok(started) => started,
        Err(LinkState::PasswordNeeded { account_id }) => {
            return password_page(&state, &v, session, &token, &account_id, None).await;
        }
        Err(link) => return Ok(link_page(&link)),
    };
    let StartOutcome::Pending {
        device_id,
        secret_base32,
        uri,
    } = outcome
    else {
        return Ok(state_page(StatusCode::OK, |t| t.invite_already_bound));
    };
    // A grant is only ever read from a session, so there is one here.
    let Some(data) = session else {
        return Ok(link_page(&LinkState::Unknown));
    };
    let seed = SeedView::new(&uri, &secret_base32, &state.otp).map_err(|e| v.failure(&e))?;
    let page = invite_page(&v, &data, &token, &account_id, &device_id, Some(seed), None);
    Ok(v.page(StatusCode::OK, &page, &[]))
}

/// The password form for the link's account: with the visitor's session token if it has one, else the signed
/// form cookie's (no store write before the password is right).
async fn password_page(
    state: &WebState,
    v: &Visitor,
    session: Option<SessionData>,
    token: &str,
    account_id: &str,
    error: Option<String>,
) -> Page {
    let (csrf, cookies) = match session {
        Some(data) => (data.csrf, Vec::new()),
        None => {
            let (form, cookies) = anonymous_form(state, v)?;
            (form.csrf().to_owned(), cookies)
        }
    };
    let page = InvitePasswordPage {
        f: v.frame(&format!("/invite/{token}")),
        csrf: &csrf,
        token,
        account_id,
        error,
    };
    Ok(v.page(StatusCode::OK, &page, &cookies))
}

/// `POST /invite/{token}/unlock`: the link's account password. Right: a new session (no fixation) holding the
/// grant, and back to the link. Wrong: counted as a failure of the account; the link stays usable.
pub(crate) async fn unlock(
    State(state): State<Arc<WebState>>,
    AnyNetwork(v): AnyNetwork,
    Path(token): Path<String>,
    Form(form): Form<UnlockForm>,
) -> Page {
    let now = state.service.now();
    if !state.invite_limiter.allow(v.ip, now) || !state.limiter.allow(v.ip, now) {
        return Ok(state_page(StatusCode::TOO_MANY_REQUESTS, |t| {
            t.rate_limited
        }));
    }
    let poster = checked_poster(&state, &v, &form.csrf).await?;
    let (old_id, session) = match poster {
        Poster::Session { id, data } => (Some(id), Some(data)),
        Poster::Anonymous(_) => (None, None),
    };
    let password = SecretString::new(form.password);
    let unlocked = state
        .invitations
        .unlock(&token, password.expose().as_bytes(), v.ip)
        .await
        .map_err(|e| v.failure(&e))?;
    let (account_id, refusal) = match unlocked {
        Unlock::Granted(grant) => {
            return granted(&state, &v, old_id.as_deref(), &token, &grant).await;
        }
        Unlock::Refused {
            account_id,
            refusal,
        } => (account_id, refusal),
        Unlock::Link(link) => return Ok(link_page(&link)),
    };
    let t = v.texts();
    let error = match refusal {
        LoginRefusal::Locked { until } => format!(
            "{} {}",
            t.locked_until,
            format_time(until, state.utc_offset)
        ),
        _ => t.bad_credentials.to_owned(),
    };
    password_page(&state, &v, session, &token, &account_id, Some(error)).await
}

/// Replaces the session by one holding `grant` and sends the visitor back to the link.
async fn granted(
    state: &WebState,
    v: &Visitor,
    old_id: Option<&str>,
    token: &str,
    grant: &InviteGrant,
) -> Page {
    let sessions = &state.sessions;
    if let Some(old_id) = old_id {
        sessions.remove(old_id).await.map_err(|e| v.failure(&e))?;
    }
    let fresh = SessionData::new(None).map_err(|e| v.failure(&e))?;
    let now = state.service.now();
    let id = sessions
        .create(fresh, now)
        .await
        .map_err(|e| v.failure(&e))?;
    let kept = sessions
        .set_flow(&id, Some(grant.as_str()), now)
        .await
        .map_err(|e| v.failure(&e))?;
    if !kept {
        return Err(v.failure(&"the new session vanished"));
    }
    let mut response = Redirect::to(&format!("/invite/{token}")).into_response();
    if let Ok(value) = session_cookie(state, &id, None).parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// `POST /invite/{token}/confirm`: the app's first code binds the device and uses the link up (only in the
/// session that gave the password).
pub(crate) async fn confirm(
    State(state): State<Arc<WebState>>,
    AnyNetwork(v): AnyNetwork,
    Path(token): Path<String>,
    Form(form): Form<DeviceForm>,
) -> Page {
    if !state.invite_limiter.allow(v.ip, state.service.now()) {
        return Ok(state_page(StatusCode::TOO_MANY_REQUESTS, |t| {
            t.rate_limited
        }));
    }
    let (_, data) = checked_session(&state, &v, &form.csrf).await?;
    let grant = InviteGrant::parse(data.flow.as_deref());
    let outcome = state
        .invitations
        .confirm(&token, grant.as_ref(), &form.device, &form.code, v.ip)
        .await
        .map_err(|e| v.failure(&e))?;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(LinkState::PasswordNeeded { account_id }) => {
            return password_page(&state, &v, Some(data), &token, &account_id, None).await;
        }
        Err(link) => return Ok(link_page(&link)),
    };
    Ok(match outcome {
        ConfirmOutcome::Bound => state_page(StatusCode::OK, bound_text(state.radius_mode)),
        ConfirmOutcome::AlreadyBound => state_page(StatusCode::OK, |t| t.invite_already_bound),
        ConfirmOutcome::Expired => state_page(StatusCode::OK, |t| t.invite_pending_expired),
        ConfirmOutcome::WrongCode => {
            let account_id = match state.invitations.open(&token).await {
                Ok(LinkState::Valid { account_id }) => account_id,
                _ => String::new(),
            };
            let error = Some(v.texts().wrong_code);
            let page = invite_page(&v, &data, &token, &account_id, &form.device, None, error);
            v.page(StatusCode::OK, &page, &[])
        }
    })
}

fn invite_page<'a>(
    v: &Visitor,
    data: &'a SessionData,
    token: &'a str,
    account_id: &'a str,
    device_id: &'a str,
    seed: Option<SeedView>,
    error: Option<&'static str>,
) -> InvitePage<'a> {
    InvitePage {
        f: v.frame(&format!("/invite/{token}")),
        csrf: &data.csrf,
        token,
        account_id,
        device_id,
        seed,
        error,
    }
}

/// The bilingual page for a link that does not work (or not yet: a pending account activates first).
fn link_page(link: &LinkState) -> Response {
    let (status, pick): (StatusCode, fn(&Texts) -> &'static str) = match link {
        LinkState::Used => (StatusCode::GONE, |t| t.invite_used),
        LinkState::Expired => (StatusCode::GONE, |t| t.invite_expired),
        LinkState::AccountDisabled => (StatusCode::FORBIDDEN, |t| t.invite_account_disabled),
        LinkState::AccountExpired => (StatusCode::FORBIDDEN, |t| t.invite_account_expired),
        LinkState::AccountNotActivated { .. } => {
            return render_state(StatusCode::FORBIDDEN, |t| t.invite_activate_first, true);
        }
        LinkState::Unknown | LinkState::Valid { .. } | LinkState::PasswordNeeded { .. } => {
            (StatusCode::NOT_FOUND, |t| t.invite_unknown)
        }
    };
    state_page(status, pick)
}

/// The "done" text: how to log in to the VPN from now on, as NetScaler asks for the code.
fn bound_text(mode: AuthMode) -> fn(&Texts) -> &'static str {
    match mode {
        AuthMode::PasswordOtp => |t| t.invite_bound,
        AuthMode::OtpOnly => |t| t.invite_bound_otp_only,
        AuthMode::Challenge => |t| t.invite_bound_challenge,
    }
}

fn state_page(status: StatusCode, pick: fn(&Texts) -> &'static str) -> Response {
    render_state(status, pick, false)
}

fn render_state(status: StatusCode, pick: fn(&Texts) -> &'static str, activate: bool) -> Response {
    let page = InviteStatePage {
        zh: &ZH_TW,
        en: &EN,
        zh_message: pick(&ZH_TW),
        en_message: pick(&EN),
        activate,
    };
    match askama::Template::render(&page) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "page template failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_done_text_follows_how_netscaler_asks_for_the_code() {
        assert!(bound_text(AuthMode::PasswordOtp)(&EN).contains("right after your password"));
        assert!(bound_text(AuthMode::OtpOnly)(&EN).contains("in the second"));
        assert!(bound_text(AuthMode::Challenge)(&ZH_TW).contains("畫面要求驗證碼時"));
        for mode in [AuthMode::OtpOnly, AuthMode::Challenge] {
            assert!(!bound_text(mode)(&EN).contains("right after your password"));
            assert!(bound_text(mode)(&EN).contains("no longer works"));
        }
    }
}
