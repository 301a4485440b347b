//! The helpdesk's account pages: the search (ID, name or phone, partial, at most [`SEARCH_LIMIT`] results;
//! without a search, the accounts locked now and those whose last day is within [`EXPIRING_DAYS`] days, the
//! desk's most frequent calls), and the account page (state, device, failures and lock, SMS setting, expiry,
//! the last 50 audit events, the buttons of the actions in [`super::actions`]).

// The error is the page to answer with, as in every handler; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::forms::Done;
use super::guard::{AnyAdmin, SignedIn};
use super::pages::{AccountPage, AccountRow, DueRow, EventRow, Fact, SearchPage};
use super::{ConsoleState, actions};
use crate::account_rules::{ADMIN_LOCK_UNTIL, AccountState, account_state};
use crate::clock::local_date;
use crate::model::{Account, AccountStatus};
use crate::store::AuditFilter;
use crate::texts::ConsoleTexts;

/// Most accounts a search shows.
const SEARCH_LIMIT: u32 = 50;
/// Most accounts each list of the search page shows.
const DUE_LIMIT: u32 = 20;
/// How far ahead the search page lists accounts reaching their last day.
const EXPIRING_DAYS: i64 = 14;
/// Audit events on the account page.
const EVENTS: u32 = 50;
/// Longest search text and reason kept.
const MAX_QUERY_CHARS: usize = 64;

/// `?q=` of the search.
#[derive(Debug, Deserialize)]
pub(super) struct SearchQuery {
    #[serde(default)]
    q: String,
}

/// `GET /admin`: the search form, with results when `q` is given.
pub(super) async fn search(
    State(state): State<Arc<ConsoleState>>,
    AnyAdmin(admin): AnyAdmin,
    Query(query): Query<SearchQuery>,
) -> Response {
    let t = admin.desk.texts();
    let text: String = query.q.trim().chars().take(MAX_QUERY_CHARS).collect();
    let now = state.now();
    let today = local_date(now, state.utc_offset);
    let mut rows = Vec::new();
    let mut more = false;
    let mut due = DueLists::default();
    if text.is_empty() {
        match due_lists(&state, t, now, today).await {
            Ok(lists) => due = lists,
            Err(error) => return admin.desk.failure(&error),
        }
    } else {
        let found = match state.store.search_accounts(&text, SEARCH_LIMIT + 1).await {
            Ok(found) => found,
            Err(error) => return admin.desk.failure(&error),
        };
        more = found.len() > SEARCH_LIMIT as usize;
        rows = found
            .into_iter()
            .take(SEARCH_LIMIT as usize)
            .map(|a| AccountRow {
                status: state_text(t, account_state(&a, now, today, state.password_source)),
                phone: a.phone.unwrap_or_default(),
                name: a.name,
                id: a.id,
            })
            .collect();
    }
    let page = SearchPage {
        f: admin.frame("/admin"),
        query: &text,
        searched: !text.is_empty(),
        rows,
        more,
        locked: due.locked,
        locked_more: due.locked_more,
        expiring: due.expiring,
        expiring_more: due.expiring_more,
    };
    admin.desk.page(StatusCode::OK, &page, &[])
}

/// The search page's lists, each cut at [`DUE_LIMIT`] rows.
#[derive(Debug, Default)]
struct DueLists {
    locked: Vec<DueRow>,
    locked_more: bool,
    expiring: Vec<DueRow>,
    expiring_more: bool,
}

/// The accounts locked at `now`, and those (not disabled) whose last day is from `today` to
/// [`EXPIRING_DAYS`] days later.
async fn due_lists(
    state: &ConsoleState,
    t: &ConsoleTexts,
    now: i64,
    today: time::Date,
) -> Result<DueLists, crate::store::StoreError> {
    let mut locked = state.store.locked_accounts(now, DUE_LIMIT + 1).await?;
    let until = today.saturating_add(time::Duration::days(EXPIRING_DAYS));
    let mut expiring = state
        .store
        .expiring_accounts(today, until, DUE_LIMIT + 1)
        .await?;
    let locked_more = locked.len() > DUE_LIMIT as usize;
    let expiring_more = expiring.len() > DUE_LIMIT as usize;
    locked.truncate(DUE_LIMIT as usize);
    expiring.truncate(DUE_LIMIT as usize);
    let locked = locked
        .into_iter()
        .map(|a| DueRow {
            when: a
                .locked_until
                .map(|until| lock_end(t, until, state.utc_offset))
                .unwrap_or_default(),
            id: a.id,
            name: a.name,
        })
        .collect();
    let expiring = expiring
        .into_iter()
        .map(|a| DueRow {
            when: a.expires_on.map(|d| d.to_string()).unwrap_or_default(),
            id: a.id,
            name: a.name,
        })
        .collect();
    Ok(DueLists {
        locked,
        locked_more,
        expiring,
        expiring_more,
    })
}

/// When a lock ends, in the site's time; an admin's lock ends only when it is lifted.
fn lock_end(t: &ConsoleTexts, until: i64, offset: time::UtcOffset) -> String {
    if until >= ADMIN_LOCK_UNTIL {
        t.locked_until_unlocked.to_owned()
    } else {
        crate::local_time::text(until, offset)
    }
}

/// `GET /admin/accounts/{id}`.
pub(super) async fn show(
    State(state): State<Arc<ConsoleState>>,
    AnyAdmin(admin): AnyAdmin,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Response {
    let t = admin.desk.texts();
    let account = match existing(&state, &admin, &id).await {
        Ok(account) => account,
        Err(response) => return response,
    };
    let store = &state.store;
    let device = match store.active_device(&account.id).await {
        Ok(device) => device,
        Err(error) => return admin.desk.failure(&error),
    };
    let filter = AuditFilter {
        account: Some(account.id.clone()),
        limit: EVENTS,
        ..AuditFilter::default()
    };
    let records = match store.search_audit(&filter).await {
        Ok(records) => records,
        Err(error) => return admin.desk.failure(&error),
    };
    let offset = state.utc_offset;
    let when = |at: Option<i64>| {
        at.map_or_else(
            || t.never.to_owned(),
            |at| crate::local_time::text(at, offset),
        )
    };
    let now = state.now();
    let today = local_date(now, state.utc_offset);
    let facts = vec![
        Fact {
            label: t.col_status,
            value: state_text(
                t,
                account_state(&account, now, today, state.password_source),
            )
            .to_owned(),
        },
        Fact {
            label: t.col_phone,
            value: account.phone.clone().unwrap_or_default(),
        },
        Fact {
            label: t.device_kind,
            value: device.as_ref().map_or_else(
                || t.no_device.to_owned(),
                |d| d.kind.as_str().to_uppercase(),
            ),
        },
        Fact {
            label: t.bound_at,
            value: when(device.as_ref().and_then(|d| d.confirmed_at)),
        },
        Fact {
            label: t.last_used,
            value: when(account.last_login(device.as_ref().and_then(|d| d.last_used_at))),
        },
        Fact {
            label: t.failures,
            value: account.failures.to_string(),
        },
        Fact {
            label: t.locked_until,
            value: account
                .locked_until
                .filter(|&until| until > now)
                .map_or_else(
                    || t.not_locked.to_owned(),
                    |until| lock_end(t, until, offset),
                ),
        },
        Fact {
            label: t.sms_setting,
            value: match account.sms_fallback {
                None => t.sms_default,
                Some(true) => t.sms_on,
                Some(false) => t.sms_off,
            }
            .to_owned(),
        },
        Fact {
            label: t.expires,
            value: account
                .expires_on
                .map_or_else(|| t.never_expires.to_owned(), |d| d.to_string()),
        },
    ];
    let events = records
        .into_iter()
        .map(|r| {
            let detail = r.event.detail.clone();
            EventRow::new(admin.desk.language, r.event, offset, detail)
        })
        .collect();
    let notice = done
        .done
        .as_deref()
        .and_then(|done| actions::notice(t, done));
    let path = format!("/admin/accounts/{}", account.id);
    let page = AccountPage {
        f: admin.frame(&path),
        id: &account.id,
        name: &account.name,
        facts,
        events,
        notice,
        disabled: account.status == AccountStatus::Disabled,
        sms: account.sms_fallback,
        local_passwords: state.password_source.stores_passwords(),
        can_invite: state.invites.is_some(),
    };
    admin.desk.page(StatusCode::OK, &page, &[])
}

/// The account `id`, or the "no such account" page.
pub(super) async fn existing(
    state: &ConsoleState,
    admin: &SignedIn,
    id: &str,
) -> Result<Account, Response> {
    match state.store.account(&id.trim().to_lowercase()).await {
        Ok(Some(account)) => Ok(account),
        Ok(None) => {
            let t = admin.desk.texts();
            Err(admin.message(StatusCode::NOT_FOUND, t.account_heading, t.not_found))
        }
        Err(error) => Err(admin.desk.failure(&error)),
    }
}

/// How an account's state reads on the console (a running lock and a past last day included).
pub(super) fn state_text(t: &ConsoleTexts, state: AccountState) -> &'static str {
    match state {
        AccountState::Locked => t.status_locked,
        AccountState::Disabled => t.status_disabled,
        AccountState::Expired => t.status_expired,
        AccountState::Pending => t.status_pending,
        AccountState::Active => t.status_active,
    }
}
