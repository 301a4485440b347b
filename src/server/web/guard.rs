//! The CSRF checks of the forms that may come before a session exists: the anonymous form cookie of a GET
//! ([`anonymous_form`]), its check on POST ([`checked_anonymous`]), and [`checked_poster`] for the forms that
//! are posted with either the anonymous token or a session's (the account pages after a code request).
//! Nothing here writes to the store except the session touch of a visitor who already has one.

// The error is the page to answer with, as in every handler (`Page`); boxing it would only add noise.
#![allow(clippy::result_large_err)]

use axum::http::StatusCode;
use axum::response::Response;

use super::WebState;
use super::form_token::{self, FormToken};
use super::session::SessionData;
use super::visitor::Visitor;

/// Who posted a form: a live session whose CSRF token the form carries, or an anonymous visitor whose form
/// cookie it matches.
#[derive(Debug)]
pub(super) enum Poster {
    /// A server-side session (its ID and data).
    Session {
        /// The cookie value.
        id: String,
        /// What the session holds.
        data: SessionData,
    },
    /// No session: the signed form cookie.
    Anonymous(FormToken),
}

impl Poster {
    /// The token the next form must carry.
    pub(super) fn csrf(&self) -> &str {
        match self {
            Self::Session { data, .. } => &data.csrf,
            Self::Anonymous(token) => token.csrf(),
        }
    }

    /// The account pages' state (the session's, or the form cookie's).
    pub(super) fn flow(&self) -> Option<&str> {
        match self {
            Self::Session { data, .. } => data.flow.as_deref(),
            Self::Anonymous(token) => token.state.as_deref(),
        }
    }
}

/// The `Set-Cookie` value of a form cookie.
pub(super) fn form_cookie(state: &WebState, token: &FormToken) -> String {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    let value = token.encode(&state.form_key);
    format!(
        "{}={value}; HttpOnly; SameSite=Strict; Path=/{secure}; Max-Age={}",
        form_token::COOKIE,
        form_token::TTL_SECONDS
    )
}

/// The visitor's valid form cookie, if any.
fn current(state: &WebState, v: &Visitor) -> Option<FormToken> {
    let value = v.form_cookie.as_deref()?;
    FormToken::decode(value, &state.form_key, state.service.now())
}

/// The form token of an anonymous GET: the visitor's own while it is young enough, else a new one, with the
/// cookies to set. No store write.
pub(super) fn anonymous_form(
    state: &WebState,
    v: &Visitor,
) -> Result<(FormToken, Vec<String>), Response> {
    let now = state.service.now();
    match current(state, v) {
        Some(token) if !token.should_renew(now) => Ok((token, Vec::new())),
        Some(token) => {
            let renewed = token.with_state(token.state.clone(), now);
            let cookie = form_cookie(state, &renewed);
            Ok((renewed, vec![cookie]))
        }
        None => {
            let token = FormToken::issue(now).map_err(|e| v.failure(&e))?;
            let cookie = form_cookie(state, &token);
            Ok((token, vec![cookie]))
        }
    }
}

/// The form cookie of an anonymous POST whose CSRF field matches it; else 403 (bilingual).
pub(super) fn checked_anonymous(
    state: &WebState,
    v: &Visitor,
    csrf: &str,
) -> Result<FormToken, Response> {
    match current(state, v) {
        Some(token) if token.csrf_matches(csrf) => Ok(token),
        _ => Err(v.forbidden()),
    }
}

/// The session whose CSRF token the form carries, else the matching form cookie; else 403 (the "idle too long"
/// text when the form named a session that is gone).
pub(super) async fn checked_poster(
    state: &WebState,
    v: &Visitor,
    csrf: &str,
) -> Result<Poster, Response> {
    let mut session_gone = false;
    if let Some(id) = v.session_id.as_deref() {
        let found = state
            .sessions
            .touch(id, state.service.now())
            .await
            .map_err(|e| v.failure(&e))?;
        session_gone = found.is_none();
        if let Some(data) = found.filter(|d| d.csrf_matches(csrf)) {
            return Ok(Poster::Session {
                id: id.to_owned(),
                data,
            });
        }
    }
    if let Ok(token) = checked_anonymous(state, v, csrf) {
        return Ok(Poster::Anonymous(token));
    }
    if session_gone {
        let t = v.texts();
        return Err(v.message(
            StatusCode::FORBIDDEN,
            t.forbidden_heading,
            t.session_expired,
        ));
    }
    Err(v.forbidden())
}
