//! The list of console admins: the first admin-only page (the `admin` role; [`AdminOnly`] refuses the helpdesk).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::ConsoleState;
use super::guard::AdminOnly;
use super::pages::{AdminRow, AdminsPage};
use crate::model::AdminRole;

/// `GET /admin/admins`.
pub(super) async fn list(
    State(state): State<Arc<ConsoleState>>,
    AdminOnly(admin): AdminOnly,
) -> Response {
    let t = admin.desk.texts();
    let admins = match state.store.list_admins().await {
        Ok(admins) => admins,
        Err(error) => return admin.desk.failure(&error),
    };
    let now = state.now();
    let rows = admins
        .into_iter()
        .map(|a| AdminRow {
            role: match a.role {
                AdminRole::Helpdesk => t.role_helpdesk,
                AdminRole::Admin => t.role_admin,
            },
            state: if a.disabled {
                t.state_disabled
            } else if a.locked_until.is_some_and(|until| until > now) {
                t.state_locked
            } else {
                t.state_active
            },
            last_login: a.last_login_at.map_or_else(
                || t.never.to_owned(),
                |at| crate::local_time::text(at, state.utc_offset),
            ),
            name: a.name,
        })
        .collect();
    let page = AdminsPage {
        f: admin.desk.frame("/admin/admins", Some(admin.who())),
        rows,
    };
    admin.desk.page(StatusCode::OK, &page, &[])
}
