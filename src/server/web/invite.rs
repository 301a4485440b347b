//! The invitation pages (flow B): `GET /invite/{token}` and `POST /invite/{token}/confirm`, from any network
//! (the link is the credential), rate-limited per client address. Forms carry a CSRF token of a session created
//! by the GET. Every decision is [`crate::engine::invitations::Invitations`]'s.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::WebState;
use super::handlers::{DeviceForm, Page, checked_session, session_cookie};
use super::pages::{InvitePage, InviteStatePage, SeedView, qr_svg};
use super::session::SessionData;
use super::texts::{EN, Texts, ZH_TW};
use super::visitor::{AnyNetwork, Visitor};
use crate::engine::invitations::LinkState;
use crate::engine::self_service::{ConfirmOutcome, StartOutcome};
use crate::otp::group_in_fours;

/// `GET /invite/{token}`: the link's pending seed for a valid link (the same one on every visit while it is
/// pending), else why the link does not work.
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
    let started = state
        .invitations
        .start(&token, v.ip)
        .await
        .map_err(|e| v.failure(&e))?;
    let (account_id, outcome) = match started {
        Ok(started) => started,
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
    let now = state.service.now();
    let data = SessionData::new(None).map_err(|e| v.failure(&e))?;
    let id = state
        .sessions
        .create(data.clone(), now)
        .await
        .map_err(|e| v.failure(&e))?;
    let seed = SeedView {
        qr_svg: qr_svg(uri.expose()).map_err(|e| v.failure(&e))?,
        key_grouped: group_in_fours(secret_base32.expose()),
        digits: state.otp.digits,
        period: state.otp.period,
        algorithm: state.otp.algorithm.to_uppercase(),
    };
    let page = invite_page(&v, &data, &token, &account_id, &device_id, Some(seed), None);
    Ok(v.page(StatusCode::OK, &page, &[session_cookie(&state, &id, None)]))
}

/// `POST /invite/{token}/confirm`: the app's first code binds the device and uses the link up.
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
    let outcome = state
        .invitations
        .confirm(&token, &form.device, &form.code, v.ip)
        .await
        .map_err(|e| v.failure(&e))?;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(link) => return Ok(link_page(&link)),
    };
    Ok(match outcome {
        ConfirmOutcome::Bound => state_page(StatusCode::OK, |t| t.invite_bound),
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

/// The bilingual page for a link that does not work.
fn link_page(link: &LinkState) -> Response {
    let (status, pick): (StatusCode, fn(&Texts) -> &'static str) = match link {
        LinkState::Used => (StatusCode::GONE, |t| t.invite_used),
        LinkState::Expired => (StatusCode::GONE, |t| t.invite_expired),
        LinkState::AccountDisabled => (StatusCode::FORBIDDEN, |t| t.invite_account_disabled),
        LinkState::AccountExpired => (StatusCode::FORBIDDEN, |t| t.invite_account_expired),
        LinkState::Unknown | LinkState::Valid { .. } => {
            (StatusCode::NOT_FOUND, |t| t.invite_unknown)
        }
    };
    state_page(status, pick)
}

fn state_page(status: StatusCode, pick: fn(&Texts) -> &'static str) -> Response {
    let page = InviteStatePage {
        zh: &ZH_TW,
        en: &EN,
        zh_message: pick(&ZH_TW),
        en_message: pick(&EN),
    };
    match askama::Template::render(&page) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "page template failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
