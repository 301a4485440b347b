//! Role enforcement in one place: a handler takes [`AnyAdmin`] (any signed-in admin: the helpdesk's pages) or
//! [`AdminOnly`] (the `admin` role); the extractor checks the session (else a redirect to the login page, saying
//! the session ended when the browser still had one) and the role (else 403), before the handler runs. An
//! admin-only page is a handler taking `AdminOnly`.

// The error is the page to answer with, as in every handler; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use subtle::ConstantTimeEq as _;

use super::ConsoleState;
use super::desk::Desk;
use super::pages::{Frame, Who};
use super::sessions;
use crate::model::AdminRole;

/// A signed-in admin at the console.
#[derive(Debug)]
pub(super) struct SignedIn {
    pub(super) desk: Desk,
    /// The session cookie's value.
    pub(super) session_id: String,
    pub(super) name: String,
    pub(super) role: AdminRole,
    csrf: String,
}

impl SignedIn {
    /// What the page frame shows of the admin (and the logout form's token).
    pub(super) fn who(&self) -> Who {
        let t = self.desk.texts();
        Who {
            name: self.name.clone(),
            role: match self.role {
                AdminRole::Helpdesk => t.role_helpdesk,
                AdminRole::Admin => t.role_admin,
            },
            is_admin: self.role == AdminRole::Admin,
            csrf: self.csrf.clone(),
        }
    }

    /// The frame of a page at `path`, with the admin (and the logout form).
    pub(super) fn frame(&self, path: &str) -> Frame {
        self.desk.frame(path, Some(self.who()))
    }

    /// A page that only says `text` under `heading`, with the admin's frame.
    pub(super) fn message(
        &self,
        status: StatusCode,
        heading: &'static str,
        text: &'static str,
    ) -> Response {
        self.desk.message(status, Some(self.who()), heading, text)
    }

    /// The token this session's forms carry.
    pub(super) fn csrf(&self) -> &str {
        &self.csrf
    }

    /// Whether a form's CSRF field is this session's (constant time); else the 403 page.
    pub(super) fn check_csrf(&self, field: &str) -> Result<(), Response> {
        let ok = !field.is_empty() && bool::from(self.csrf.as_bytes().ct_eq(field.as_bytes()));
        if ok {
            Ok(())
        } else {
            Err(self.desk.forbidden(Some(self.who())))
        }
    }

    /// The audit actor of this admin's actions.
    pub(super) fn actor(&self) -> String {
        crate::engine::admins::actor(&self.name)
    }
}

/// Any signed-in admin (helpdesk or admin).
#[derive(Debug)]
pub(super) struct AnyAdmin(pub(super) SignedIn);

/// A signed-in admin with the `admin` role.
#[derive(Debug)]
pub(super) struct AdminOnly(pub(super) SignedIn);

impl FromRequestParts<Arc<ConsoleState>> for AnyAdmin {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<ConsoleState>,
    ) -> Result<Self, Self::Rejection> {
        signed_in(parts, state, AdminRole::Helpdesk).await.map(Self)
    }
}

impl FromRequestParts<Arc<ConsoleState>> for AdminOnly {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<ConsoleState>,
    ) -> Result<Self, Self::Rejection> {
        signed_in(parts, state, AdminRole::Admin).await.map(Self)
    }
}

/// The session's admin if its role is at least `least`.
async fn signed_in(
    parts: &mut Parts,
    state: &Arc<ConsoleState>,
    least: AdminRole,
) -> Result<SignedIn, Response> {
    let desk = Desk::from_request_parts(parts, state).await?;
    // A page asked for by GET is shown again after the login; a form's POST is not repeated.
    let back = (parts.method == Method::GET)
        .then(|| parts.uri.path_and_query().map(|p| p.as_str()))
        .flatten()
        .and_then(super::login::return_path);
    let to_login = |expired: bool| {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if expired {
            query.append_pair("expired", "1");
        }
        if let Some(back) = back {
            query.append_pair("next", back);
        }
        let query = query.finish();
        let target = if query.is_empty() {
            "/admin/login".to_owned()
        } else {
            format!("/admin/login?{query}")
        };
        Redirect::to(&target).into_response()
    };
    let Some(id) = desk.session_id.clone() else {
        return Err(to_login(false));
    };
    let session = match sessions::find(state, &id).await {
        Ok(Some(session)) => session,
        Ok(None) => return Err(to_login(true)),
        Err(error) => return Err(desk.failure(&error)),
    };
    let admin = SignedIn {
        desk,
        session_id: id,
        name: session.admin_name,
        role: session.role,
        csrf: session.csrf,
    };
    if admin.role < least {
        let t = admin.desk.texts();
        return Err(admin.message(StatusCode::FORBIDDEN, t.forbidden_heading, t.role_forbidden));
    }
    Ok(admin)
}
