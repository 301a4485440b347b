//! Console sessions: a random 32-byte ID in the `motpd_console` cookie (HttpOnly, SameSite=Strict,
//! Path=/admin, Secure behind TLS), the row in the database under the SHA-256 of that ID. A session is created
//! only by a successful login, which also ends the session the browser had (a new ID at every login), and ends
//! after `admin_web.idle_minutes` without a request.

use sha2::{Digest, Sha256};

use super::ConsoleState;
use crate::model::{AdminSession, NewAdminSession};
use crate::server::web::WebError;
use crate::server::web::session::random_token;

/// The session cookie's name.
pub(super) const COOKIE: &str = "motpd_console";
/// The login form's CSRF cookie's name.
pub(super) const FORM_COOKIE: &str = "motpd_console_form";

fn id_hash(id: &str) -> Vec<u8> {
    Sha256::digest(id.as_bytes()).to_vec()
}

/// Ends the session `old` (if any) and starts one for `admin`; returns its ID and CSRF token.
pub(super) async fn start(
    state: &ConsoleState,
    old: Option<&str>,
    admin: &str,
) -> Result<(String, String), WebError> {
    if let Some(old) = old {
        state.store.remove_admin_session(&id_hash(old)).await?;
    }
    let id = random_token()?;
    let csrf = random_token()?;
    let now = state.now();
    let session = NewAdminSession {
        id_hash: id_hash(&id),
        admin_name: admin.to_owned(),
        csrf: csrf.clone(),
        expires_at: now.saturating_add(state.idle_seconds()),
    };
    state.store.create_admin_session(&session, now).await?;
    Ok((id, csrf))
}

/// The live session with this ID (its idle deadline moved on).
pub(super) async fn find(state: &ConsoleState, id: &str) -> Result<Option<AdminSession>, WebError> {
    let now = state.now();
    let deadline = now.saturating_add(state.idle_seconds());
    Ok(state
        .store
        .touch_admin_session(&id_hash(id), now, deadline)
        .await?)
}

/// Ends a session.
pub(super) async fn end(state: &ConsoleState, id: &str) -> Result<(), WebError> {
    state.store.remove_admin_session(&id_hash(id)).await?;
    Ok(())
}

fn secure(state: &ConsoleState) -> &'static str {
    if state.console.secure_cookies() {
        "; Secure"
    } else {
        ""
    }
}

/// The `Set-Cookie` value of a session cookie.
pub(super) fn cookie(state: &ConsoleState, id: &str) -> String {
    format!(
        "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/admin{}",
        secure(state)
    )
}

/// The `Set-Cookie` value that removes cookie `name`.
pub(super) fn removal(state: &ConsoleState, name: &str) -> String {
    format!(
        "{name}=; HttpOnly; SameSite=Strict; Path=/admin; Max-Age=0{}",
        secure(state)
    )
}

/// The `Set-Cookie` value of the login form's CSRF cookie.
pub(super) fn form_cookie(state: &ConsoleState, value: &str) -> String {
    format!(
        "{FORM_COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/admin; Max-Age={}{}",
        crate::server::web::form_token::TTL_SECONDS,
        secure(state)
    )
}
