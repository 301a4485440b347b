//! What the console's forms share: the required reason (trimmed, bounded), the end of every change carried out
//! (counted, logged, and a redirect whose `?done=` query the page shows as its notice).

use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::ConsoleState;
use super::guard::SignedIn;
use crate::engine::helpdesk;
use crate::monitoring::ConsoleAction;

/// The reason as typed: trimmed and bounded as the CLI's `--reason` ([`helpdesk::reason_text`]); empty means
/// none was given.
pub(super) fn reason(typed: &str) -> String {
    helpdesk::reason_text(typed)
}

/// `?done=` after a change.
#[derive(Debug, Deserialize)]
pub(super) struct Done {
    #[serde(default)]
    pub(super) done: Option<String>,
}

/// The notices of an action that found nothing to change (logged, not counted as a change).
const NOTHING_CHANGED: [&str; 3] = ["unchanged", "not-locked", "no-device"];

/// Counts and logs a change `admin` carried out on `target` (an account, an admin, a RADIUS client).
pub(super) fn record(
    state: &ConsoleState,
    admin: &SignedIn,
    (action, target): (ConsoleAction, &str),
    done: &str,
) {
    if !NOTHING_CHANGED.contains(&done) {
        state.counters.action(action);
    }
    tracing::info!(admin = %admin.name, target, action = action.as_str(), done, "helpdesk console change");
}

/// [`record`]s the change, then sends the browser to `page` with the notice `done`.
pub(super) fn done(
    state: &ConsoleState,
    admin: &SignedIn,
    change: (ConsoleAction, &str),
    page: &str,
    done: &str,
) -> Response {
    record(state, admin, change, done);
    Redirect::to(&format!("{page}?done={done}")).into_response()
}
