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
use crate::clock::local_date;
use crate::engine::enrollment_report::{self, COLUMNS, EnrollmentReport};
use crate::store::StoreError;

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
        .map(|row| row.cells(state.utc_offset).to_vec())
        .collect();
    let page = ReportPage {
        f: admin.frame("/admin/report"),
        total: report.total,
        unenrolled: report.unenrolled.len(),
        enforcement,
        groups,
        columns: &COLUMNS,
        rows,
    };
    admin.desk.page(StatusCode::OK, &page, &[])
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
