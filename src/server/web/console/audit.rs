//! The audit trail search (admin role): by account, actor, event kind (its start), outcome and a date range
//! (site time), as `motpd audit list`, newest first,
//! [`PAGE_ROWS`] rows a page with a link to the older ones; and the chain's verification status — the last
//! recorded verification (walking a large trail on every page view would be slow) and a button that runs one
//! now ([`crate::engine::audit_verify`], as `motpd audit verify`).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::ConsoleState;
use super::guard::AdminOnly;
use super::pages::{AuditPage, EventRow};
use crate::audit::AuditChain;
use crate::engine::audit_verify;
use crate::store::AuditFilter;

/// Rows a page shows.
const PAGE_ROWS: u32 = 100;
/// Longest search field kept.
const MAX_FIELD_CHARS: usize = 80;

/// The search form.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Search {
    #[serde(default)]
    account: String,
    #[serde(default)]
    actor: String,
    /// The start of the event kind (`admin.user.`, `radius.`).
    #[serde(default)]
    kind: String,
    /// The outcome (`ok`, `reject`, ...).
    #[serde(default)]
    outcome: String,
    /// First day (`YYYY-MM-DD`, site time).
    #[serde(default)]
    from: String,
    /// Last day, included.
    #[serde(default)]
    to: String,
    /// The next page: rows older than this sequence number.
    #[serde(default)]
    before: Option<i64>,
}

fn field(text: &str) -> String {
    text.trim().chars().take(MAX_FIELD_CHARS).collect()
}

/// `GET /admin/audit`.
pub(super) async fn search(
    State(state): State<Arc<ConsoleState>>,
    AdminOnly(admin): AdminOnly,
    Query(search): Query<Search>,
) -> Response {
    let t = admin.desk.texts();
    let (account, actor) = (field(&search.account).to_lowercase(), field(&search.actor));
    let (kind, outcome) = (field(&search.kind), field(&search.outcome));
    let (from_text, to_text) = (field(&search.from), field(&search.to));
    let offset = state.utc_offset;
    let midnight = |date: time::Date| date.midnight().assume_offset(offset).unix_timestamp();
    let day = |text: &str| crate::account_rules::parse_date(text).ok();
    let mut error = None;
    let from = match from_text.as_str() {
        "" => None,
        text => day(text).map(midnight).or_else(|| {
            error = Some(t.audit_bad_date);
            None
        }),
    };
    let until = match to_text.as_str() {
        "" => None,
        text => day(text)
            .and_then(time::Date::next_day)
            .map(midnight)
            .or_else(|| {
                error = Some(t.audit_bad_date);
                None
            }),
    };
    let filter = AuditFilter {
        account: (!account.is_empty()).then(|| account.clone()),
        actor: (!actor.is_empty()).then(|| actor.clone()),
        kind_prefix: (!kind.is_empty()).then(|| kind.clone()),
        outcome: (!outcome.is_empty()).then(|| outcome.clone()),
        since: from,
        until,
        before_seq: search.before,
        limit: PAGE_ROWS,
    };
    let (records, last) = if error.is_some() {
        (Vec::new(), None)
    } else {
        let store = state.store.as_ref();
        let found = store.search_audit(&filter).await;
        let last = audit_verify::last_verification(store).await;
        match (found, last) {
            (Ok(found), Ok(last)) => (found, last),
            (Err(error), _) | (_, Err(error)) => return admin.desk.failure(&error),
        }
    };
    let next = (records.len() == PAGE_ROWS as usize)
        .then(|| records.last().map(|r| r.seq))
        .flatten()
        .map(|seq| {
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("account", &account)
                .append_pair("actor", &actor)
                .append_pair("kind", &kind)
                .append_pair("outcome", &outcome)
                .append_pair("from", &from_text)
                .append_pair("to", &to_text)
                .append_pair("before", &seq.to_string())
                .finish();
            format!("/admin/audit?{query}")
        });
    let verification = last.map(|r| {
        let status = if r.event.outcome == "ok" {
            t.chain_intact
        } else {
            t.chain_broken
        };
        format!(
            "{status} · {} · {} · {}",
            crate::local_time::text(r.event.at, offset),
            r.event.actor,
            r.event.detail
        )
    });
    let broken = last_broken(&verification, t.chain_broken);
    let rows = records
        .into_iter()
        .map(|r| {
            let detail = format!(
                "{}{}",
                r.event
                    .account_id
                    .as_ref()
                    .map(|a| format!("[{a}] "))
                    .unwrap_or_default(),
                r.event.detail
            );
            EventRow::new(admin.desk.language, r.event, offset, detail)
        })
        .collect();
    let page = AuditPage {
        f: admin.frame("/admin/audit"),
        csrf: admin.csrf(),
        account: &account,
        actor: &actor,
        kind: &kind,
        outcome: &outcome,
        from: &from_text,
        to: &to_text,
        error,
        rows,
        next,
        verification,
        broken,
        limit: PAGE_ROWS,
    };
    admin.desk.page(StatusCode::OK, &page, &[])
}

fn last_broken(verification: &Option<String>, broken: &str) -> bool {
    verification
        .as_deref()
        .is_some_and(|text| text.starts_with(broken))
}

/// The verify button's form.
#[derive(Debug, Deserialize)]
pub(super) struct VerifyForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /admin/audit/verify`: walks the whole chain now and records the result.
pub(super) async fn verify(
    State(state): State<Arc<ConsoleState>>,
    AdminOnly(admin): AdminOnly,
    axum::Form(form): axum::Form<VerifyForm>,
) -> Response {
    if let Err(refused) = admin.check_csrf(&form.csrf) {
        return refused;
    }
    let chain = AuditChain::keyring(state.key.clone());
    let store = state.store.as_ref();
    match audit_verify::verify_and_record(store, &chain, &admin.actor(), state.now()).await {
        Ok(walk) => {
            tracing::info!(admin = %admin.name, rows = walk.rows, breaks = walk.breaks.len(), "console: audit chain verified");
            Redirect::to("/admin/audit").into_response()
        }
        Err(error) => admin.desk.failure(&error),
    }
}
