//! What the console's forms share: the required reason (trimmed, bounded) and the `?done=` query a redirect
//! after a change carries to the page that shows its notice.

use serde::Deserialize;

use crate::engine::helpdesk;

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
