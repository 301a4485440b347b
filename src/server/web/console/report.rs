//! The enrollment report (admin role): enrolled / not per group, whether `policy.enforce_after` has come, every
//! account without a device with its state and invitation link, and the same rows as a CSV download
//! ([`crate::engine::enrollment_report`], as `motpd report unenrolled`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::ConsoleState;
use super::guard::AdminOnly;
use super::pages::{GroupRow, ReportPage};
use crate::account_rules::AccountState;
use crate::clock::local_date;
use crate::engine::enrollment_report::{
    self, EnrollmentReport, LinkState, UnenrolledRow, time_text,
};
use crate::store::StoreError;
use crate::texts::ConsoleTexts;

/// The report now, and today's date (site time).
async fn load(state: &ConsoleState) -> Result<(EnrollmentReport, time::Date), StoreError> {
    let now = state.now();
    let today = local_date(now, state.utc_offset);
    let store = state.store.as_ref();
    let report =
        enrollment_report::enrollment_report(store, now, today, state.password_source).await?;
    Ok((report, today))
}

/// `GET /admin/report`.
pub(super) async fn show(
    State(state): State<Arc<ConsoleState>>,
    AdminOnly(admin): AdminOnly,
) -> Response {
    let t = admin.desk.texts();
    let (report, today) = match load(&state).await {
        Ok(loaded) => loaded,
        Err(error) => return admin.desk.failure(&error),
    };
    let groups = report
        .groups
        .iter()
        .map(|g| GroupRow {
            group: if g.group.is_empty() {
                t.no_group.to_owned()
            } else {
                g.group.clone()
            },
            enrolled: g.enrolled,
            unenrolled: g.unenrolled,
        })
        .collect();
    let enforcement = match state.enforce_after {
        Some(date) if today < date => format!("{} {date}", t.enforced_from),
        Some(date) => format!("{} {date} ({})", t.enforced_from, t.enforced_now),
        None => t.enforced_always.to_owned(),
    };
    let rows = report
        .unenrolled
        .iter()
        .map(|row| cells(t, row, state.utc_offset))
        .collect();
    let page = ReportPage {
        f: admin.frame("/admin/report"),
        total: report.total,
        unenrolled: report.unenrolled.len(),
        enforcement,
        groups,
        columns: &[
            t.col_id,
            t.col_name,
            t.col_email,
            t.col_status,
            t.col_password,
            t.col_invited,
            t.col_link,
        ],
        rows,
    };
    admin.desk.page(StatusCode::OK, &page, &[])
}

/// One unenrolled account as the page shows it: the CSV's columns (the CLI's words), in the page's language.
fn cells(t: &ConsoleTexts, row: &UnenrolledRow, offset: time::UtcOffset) -> Vec<String> {
    let account = &row.account;
    let state = match row.state {
        AccountState::Locked => t.state_locked,
        AccountState::Disabled => t.state_disabled,
        AccountState::Expired => t.state_expired,
        AccountState::Pending => t.status_pending,
        AccountState::Active => t.state_active,
    };
    let when = || time_text(row.link.at(), offset);
    let link = match row.link {
        LinkState::None => t.link_none.to_owned(),
        LinkState::Used(_) => format!("{} {}", t.link_used, when()),
        LinkState::Expired(_) => format!("{} {}", t.link_expired, when()),
        LinkState::Valid(_) => format!("{} {}", t.link_valid, when()),
    };
    vec![
        account.id.clone(),
        account.name.clone(),
        account.email.clone().unwrap_or_else(|| "-".into()),
        state.to_owned(),
        if account.password_hash.is_some() {
            t.password_set
        } else {
            t.password_none
        }
        .to_owned(),
        time_text(row.invitation.as_ref().map(|i| i.created_at), offset),
        link,
    ]
}

/// `GET /admin/report.csv`: the unenrolled accounts, UTF-8 with a byte order mark.
pub(super) async fn csv(
    State(state): State<Arc<ConsoleState>>,
    AdminOnly(admin): AdminOnly,
) -> Response {
    let (report, today) = match load(&state).await {
        Ok(loaded) => loaded,
        Err(error) => return admin.desk.failure(&error),
    };
    tracing::info!(admin = %admin.name, rows = report.unenrolled.len(), "console: enrollment report downloaded");
    let body = enrollment_report::csv(&report.unenrolled, state.utc_offset);
    let disposition = format!("attachment; filename=\"unenrolled-{today}.csv\"");
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}
