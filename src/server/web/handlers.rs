//! The route handlers: session and CSRF checks, then one call into the self-service engine, then a page.

use std::sync::Arc;

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::WebState;
use super::guard::{anonymous_form, checked_anonymous};
use super::pages::{Bound, DevicePage, EnrollPage, LoginPage, SeedView, format_time};
use super::session::{COOKIE, SessionData};
use super::visitor::Visitor;
use crate::account_rules::ADMIN_LOCK_UNTIL;
use crate::config::AuthMode;
use crate::engine::self_service::{ConfirmOutcome, LoginOutcome, LoginRefusal, StartOutcome};
use crate::secrets::SecretString;

/// The login form's fields (all optional, so a missing CSRF token is a 403, not a 422). No `Debug`: it holds
/// the password.
#[derive(Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    password: String,
}

/// The forms after login.
#[derive(Debug, Deserialize)]
pub(crate) struct DeviceForm {
    #[serde(default)]
    pub(super) csrf: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    pub(super) device: String,
    #[serde(default)]
    pub(super) code: String,
}

pub(super) type Page = Result<Response, Response>;

/// A valid session for a POST with a matching CSRF token, else 403.
pub(super) async fn checked_session(
    state: &WebState,
    v: &Visitor,
    csrf: &str,
) -> Result<(String, SessionData), Response> {
    let Some(id) = v.session_id.as_deref() else {
        return Err(v.forbidden());
    };
    let data = state
        .sessions
        .touch(id, state.service.now())
        .await
        .map_err(|e| v.failure(&e))?;
    match data {
        Some(data) if data.csrf_matches(csrf) => Ok((id.to_owned(), data)),
        Some(_) => Err(v.forbidden()),
        None => {
            let t = v.texts();
            Err(v.message(
                StatusCode::FORBIDDEN,
                t.forbidden_heading,
                t.session_expired,
            ))
        }
    }
}

/// Back to the login page (no session, or not logged in).
pub(super) fn to_login() -> Response {
    Redirect::to("/enroll").into_response()
}

pub(super) fn session_cookie(state: &WebState, id: &str, max_age: Option<i64>) -> String {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    let age = max_age.map_or(String::new(), |s| format!("; Max-Age={s}"));
    format!("{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/{secure}{age}")
}

/// `GET /enroll`: the login form (logged-in sessions go on to their device page). Writes nothing: the form is
/// protected by the signed form cookie.
pub(crate) async fn login_form(State(state): State<Arc<WebState>>, v: Visitor) -> Page {
    if let Some(id) = v.session_id.as_deref() {
        let existing = state
            .sessions
            .touch(id, state.service.now())
            .await
            .map_err(|e| v.failure(&e))?;
        if existing.is_some_and(|s| s.account_id.is_some()) {
            return Ok(Redirect::to("/enroll/device").into_response());
        }
    }
    let (token, cookies) = anonymous_form(&state, &v)?;
    let page = LoginPage {
        f: v.frame("/enroll"),
        csrf: token.csrf(),
        account: "",
        error: None,
    };
    Ok(v.page(StatusCode::OK, &page, &cookies))
}

/// `POST /enroll/login`: the session is created here, at the first successful login.
pub(crate) async fn login(
    State(state): State<Arc<WebState>>,
    v: Visitor,
    Form(form): Form<LoginForm>,
) -> Page {
    let token = checked_anonymous(&state, &v, &form.csrf)?;
    let password = SecretString::new(form.password);
    let t = v.texts();
    let now = state.service.now();
    let limited = !state.limiter.allow(v.ip, now);
    let error = if limited {
        t.rate_limited.to_owned()
    } else {
        let outcome = state
            .service
            .login(&form.account, password.expose().as_bytes(), v.ip)
            .await
            .map_err(|e| v.failure(&e))?;
        match outcome {
            LoginOutcome::LoggedIn { account_id } => {
                return logged_in(&state, &v, account_id, now).await;
            }
            LoginOutcome::Refused(refusal) => refusal_text(&state, &v, refusal),
        }
    };
    let page = LoginPage {
        f: v.frame("/enroll"),
        csrf: token.csrf(),
        account: &form.account,
        error: Some(error),
    };
    let status = if limited {
        StatusCode::TOO_MANY_REQUESTS
    } else {
        StatusCode::OK
    };
    Ok(v.page(status, &page, &[]))
}

/// A new session ID at login, with a new CSRF token (any session the browser had ends: no fixation); on to
/// the device page.
async fn logged_in(state: &WebState, v: &Visitor, account_id: String, now: i64) -> Page {
    let fresh = SessionData::new(Some(account_id)).map_err(|e| v.failure(&e))?;
    let id = state
        .sessions
        .rotate(v.session_id.as_deref(), fresh, now)
        .await
        .map_err(|e| v.failure(&e))?;
    let mut response = Redirect::to("/enroll/device").into_response();
    if let Ok(value) = session_cookie(state, &id, None).parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

pub(super) fn refusal_text(state: &WebState, v: &Visitor, refusal: LoginRefusal) -> String {
    let t = v.texts();
    match refusal {
        LoginRefusal::BadCredentials => t.bad_credentials.to_owned(),
        // An admin lock has no end a person could wait for.
        LoginRefusal::Locked { until } if until >= ADMIN_LOCK_UNTIL => t.admin_locked.to_owned(),
        LoginRefusal::Locked { until } => {
            format!(
                "{} {}",
                t.locked_until,
                format_time(until, state.utc_offset)
            )
        }
        LoginRefusal::Disabled => t.disabled.to_owned(),
        LoginRefusal::Expired => t.expired_account.to_owned(),
        LoginRefusal::NotActivated => t.not_activated.to_owned(),
        LoginRefusal::NoPasswordCheck => t.no_password_check.to_owned(),
    }
}

/// `GET /enroll/device`: the account's device status, or the button to register one.
pub(crate) async fn device(State(state): State<Arc<WebState>>, v: Visitor) -> Page {
    let Some(id) = v.session_id.as_deref() else {
        return Ok(to_login());
    };
    let data = state
        .sessions
        .touch(id, state.service.now())
        .await
        .map_err(|e| v.failure(&e))?;
    let Some(data) = data.filter(|d| d.account_id.is_some()) else {
        return Ok(to_login());
    };
    let Some(account_id) = data.account_id.as_deref() else {
        return Ok(to_login());
    };
    device_page(&state, &v, &data, account_id, None, None).await
}

pub(super) async fn device_page(
    state: &WebState,
    v: &Visitor,
    data: &SessionData,
    account_id: &str,
    notice: Option<&'static str>,
    error: Option<String>,
) -> Page {
    let status = state
        .service
        .status(account_id)
        .await
        .map_err(|e| v.failure(&e))?;
    let page = DevicePage {
        f: v.frame("/enroll/device"),
        csrf: &data.csrf,
        account_id,
        bound: status.as_ref().and_then(|s| bound_view(state, v, s)),
        notice,
        error,
    };
    Ok(v.page(StatusCode::OK, &page, &[]))
}

fn bound_view(state: &WebState, v: &Visitor, status: &StartOutcome) -> Option<Bound> {
    let StartOutcome::AlreadyBound {
        confirmed_at,
        last_used_at,
    } = status
    else {
        return None;
    };
    let show = |at: &Option<i64>| {
        at.map_or(v.texts().never.to_owned(), |at| {
            format_time(at, state.utc_offset)
        })
    };
    Some(Bound {
        confirmed_at: show(confirmed_at),
        last_used_at: show(last_used_at),
    })
}

/// `POST /enroll/device/start`: a new pending seed, shown as QR code and initial key.
pub(crate) async fn start(
    State(state): State<Arc<WebState>>,
    v: Visitor,
    Form(form): Form<DeviceForm>,
) -> Page {
    let (_, data) = checked_session(&state, &v, &form.csrf).await?;
    let Some(account_id) = data.account_id.as_deref() else {
        return Ok(to_login());
    };
    let label =
        Some(form.label.trim().chars().take(64).collect::<String>()).filter(|l| !l.is_empty());
    let outcome = state
        .service
        .start_enrollment(account_id, label, v.ip)
        .await
        .map_err(|e| v.failure(&e))?;
    let StartOutcome::Pending {
        device_id,
        secret_base32,
        uri,
    } = outcome
    else {
        return device_page(&state, &v, &data, account_id, None, None).await;
    };
    let seed = SeedView::new(&uri, &secret_base32, &state.otp).map_err(|e| v.failure(&e))?;
    let page = EnrollPage {
        f: v.frame("/enroll/device"),
        csrf: &data.csrf,
        account_id,
        device_id: &device_id,
        seed: Some(seed),
        error: None,
    };
    Ok(v.page(StatusCode::OK, &page, &[]))
}

/// `POST /enroll/device/confirm`: the app's first code binds the pending device.
pub(crate) async fn confirm(
    State(state): State<Arc<WebState>>,
    v: Visitor,
    Form(form): Form<DeviceForm>,
) -> Page {
    let (_, data) = checked_session(&state, &v, &form.csrf).await?;
    let Some(account_id) = data.account_id.as_deref() else {
        return Ok(to_login());
    };
    let outcome = state
        .service
        .confirm(account_id, &form.device, &form.code, v.ip)
        .await
        .map_err(|e| v.failure(&e))?;
    let t = v.texts();
    match outcome {
        ConfirmOutcome::Bound => {
            let done = match state.radius_mode {
                AuthMode::PasswordOtp => t.done,
                AuthMode::OtpOnly => t.done_otp_only,
                AuthMode::Challenge => t.done_challenge,
            };
            device_page(&state, &v, &data, account_id, Some(done), None).await
        }
        ConfirmOutcome::AlreadyBound => {
            device_page(&state, &v, &data, account_id, None, None).await
        }
        ConfirmOutcome::Expired => {
            let error = Some(t.pending_expired.to_owned());
            device_page(&state, &v, &data, account_id, None, error).await
        }
        ConfirmOutcome::WrongCode => {
            let page = EnrollPage {
                f: v.frame("/enroll/device"),
                csrf: &data.csrf,
                account_id,
                device_id: &form.device,
                seed: None,
                error: Some(t.wrong_code),
            };
            Ok(v.page(StatusCode::OK, &page, &[]))
        }
    }
}

/// `POST /enroll/logout`.
pub(crate) async fn logout(
    State(state): State<Arc<WebState>>,
    v: Visitor,
    Form(form): Form<DeviceForm>,
) -> Page {
    let (id, _) = checked_session(&state, &v, &form.csrf).await?;
    state
        .sessions
        .remove(&id)
        .await
        .map_err(|e| v.failure(&e))?;
    let mut response = Redirect::to("/enroll").into_response();
    if let Ok(value) = session_cookie(&state, "", Some(0)).parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}
