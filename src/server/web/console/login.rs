//! The console's login (name, password and code on one form, one answer for every failure) and logout. The
//! login form is protected by a signed CSRF cookie (no session exists yet); a login that passes gets a new
//! session, the browser's old one ended, and goes back to the page that sent it to the login (`?next=`, a
//! console path only).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::ConsoleState;
use super::desk::Desk;
use super::guard::AnyAdmin;
use super::pages::LoginPage;
use super::sessions;
use crate::engine::admins::{Login, Refusal};
use crate::monitoring::ConsoleLogin;
use crate::secrets::SecretString;
use crate::server::web::form_token::FormToken;

/// Longest `next` path kept.
const MAX_RETURN_PATH: usize = 256;

/// `?expired=1` after a session ended; `?next=` the page to go back to.
#[derive(Debug, Deserialize)]
pub(super) struct LoginQuery {
    #[serde(default)]
    expired: Option<String>,
    #[serde(default)]
    next: Option<String>,
}

/// `raw` if it is a console page to go back to after the login: a path under `/admin` other than the
/// search page itself and the login and logout, in plain characters, so it can never lead off the console
/// (no scheme, no `//` host, no backslash, no dot segment, plain or encoded).
pub(super) fn return_path(raw: &str) -> Option<&str> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/-_.~?=&%+@".contains(c);
    let under_admin = raw
        .strip_prefix("/admin")
        .is_some_and(|rest| rest.starts_with('/') || rest.starts_with('?'));
    let ok = under_admin
        && raw.len() <= MAX_RETURN_PATH
        && raw.chars().all(plain)
        && !raw.contains("//")
        && !raw.to_ascii_lowercase().contains("%2e")
        && !raw
            .split(['/', '?'])
            .any(|segment| segment == "." || segment == "..")
        && !raw.starts_with("/admin/login")
        && !raw.starts_with("/admin/logout");
    ok.then_some(raw)
}

/// The login form's fields (missing ones are empty, so a form without its token is refused, not malformed).
#[derive(Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    next: String,
}

impl std::fmt::Debug for LoginForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginForm")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// `GET /admin/login`.
pub(super) async fn form(
    State(state): State<Arc<ConsoleState>>,
    desk: Desk,
    Query(query): Query<LoginQuery>,
) -> Response {
    let expired = query
        .expired
        .is_some()
        .then_some(desk.texts().session_expired);
    let next = query.next.as_deref().and_then(return_path).unwrap_or("");
    render(&state, &desk, "", next, expired, StatusCode::OK)
}

/// The login page with a fresh form token.
fn render(
    state: &ConsoleState,
    desk: &Desk,
    name: &str,
    next: &str,
    error: Option<&'static str>,
    status: StatusCode,
) -> Response {
    let token = match FormToken::issue(state.now()) {
        Ok(token) => token,
        Err(error) => return desk.failure(&error),
    };
    let page = LoginPage {
        f: desk.frame("/admin/login", None),
        csrf: token.csrf(),
        name,
        next,
        error,
    };
    let cookie = sessions::form_cookie(state, &token.encode(&state.form_key));
    desk.page(status, &page, &[cookie])
}

/// `POST /admin/login`.
pub(super) async fn submit(
    State(state): State<Arc<ConsoleState>>,
    desk: Desk,
    axum::Form(form): axum::Form<LoginForm>,
) -> Response {
    let now = state.now();
    let token = desk
        .form_cookie
        .as_deref()
        .and_then(|value| FormToken::decode(value, &state.form_key, now));
    if !token.is_some_and(|t| t.csrf_matches(&form.csrf)) {
        return desk.forbidden(None);
    }
    let t = desk.texts();
    let name: String = form.name.trim().chars().take(64).collect();
    let next = return_path(&form.next).unwrap_or("");
    if !state.limiter.allow(desk.ip, now) {
        state.counters.login(ConsoleLogin::Throttled);
        return render(
            &state,
            &desk,
            &name,
            next,
            Some(t.login_failed),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let password = SecretString::new(form.password);
    let login = state
        .logins
        .log_in(&name, &password, &form.code, &desk.ip.to_string())
        .await;
    let admin = match login {
        Ok(Login::Admitted { name, .. }) => {
            state.counters.login(ConsoleLogin::Accepted);
            name
        }
        Ok(Login::Refused(refusal)) => {
            state.counters.login(outcome(refusal));
            return render(
                &state,
                &desk,
                &name,
                next,
                Some(t.login_failed),
                StatusCode::OK,
            );
        }
        Err(error) => {
            state.counters.login(ConsoleLogin::Error);
            return desk.failure(&error);
        }
    };
    let (id, _csrf) = match sessions::start(&state, desk.session_id.as_deref(), &admin).await {
        Ok(started) => started,
        Err(error) => return desk.failure(&error),
    };
    let target = if next.is_empty() { "/admin" } else { next };
    let mut response = Redirect::to(target).into_response();
    for cookie in [
        sessions::cookie(&state, &id),
        sessions::removal(&state, sessions::FORM_COOKIE),
    ] {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// The metric's outcome of a refused login: an unknown name and a disabled admin are one outcome, as on the page.
fn outcome(refusal: Refusal) -> ConsoleLogin {
    match refusal {
        Refusal::UnknownAdmin | Refusal::Disabled => ConsoleLogin::Refused,
        Refusal::Locked => ConsoleLogin::Locked,
        Refusal::WrongPassword => ConsoleLogin::WrongPassword,
        Refusal::WrongCode => ConsoleLogin::WrongCode,
        Refusal::CodeUsed => ConsoleLogin::ReplayedCode,
        Refusal::SeedUnreadable => ConsoleLogin::Error,
    }
}

/// The logout form's field.
#[derive(Debug, Deserialize)]
pub(super) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /admin/logout`.
pub(super) async fn logout(
    State(state): State<Arc<ConsoleState>>,
    AnyAdmin(admin): AnyAdmin,
    axum::Form(form): axum::Form<CsrfForm>,
) -> Response {
    if let Err(refused) = admin.check_csrf(&form.csrf) {
        return refused;
    }
    if let Err(error) = sessions::end(&state, &admin.session_id).await {
        return admin.desk.failure(&error);
    }
    let mut response = Redirect::to("/admin/login").into_response();
    if let Ok(value) = HeaderValue::from_str(&sessions::removal(&state, sessions::COOKIE)) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::return_path;

    #[test]
    fn only_console_pages_are_returned_to() {
        for ok in [
            "/admin/accounts/alice",
            "/admin/audit?account=alice&from=2026-12-01",
            "/admin?q=chen",
            "/admin/report",
        ] {
            assert_eq!(return_path(ok), Some(ok), "{ok}");
        }
        for bad in [
            "",
            "/admin",
            "/administrator",
            "//evil.example/admin/x",
            "https://evil.example/admin/",
            "/admin//evil.example",
            "/admin/\\evil.example",
            "/admin/login?next=/admin/x",
            "/admin/logout",
            "/admin/accounts/a b",
            "/admin/../enroll",
            "/admin/accounts/./x",
            "/admin/%2E%2e/enroll",
            "/admin/accounts/\u{5f35}",
            "/enroll",
        ] {
            assert_eq!(return_path(bad), None, "{bad}");
        }
        assert_eq!(return_path(&format!("/admin/{}", "a".repeat(300))), None);
    }
}
