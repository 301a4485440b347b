//! What the console's forms share: the required reason (trimmed, bounded) and the `?done=` query a redirect
//! after a change carries to the page that shows its notice.

use serde::Deserialize;

/// Longest reason kept (the audit row's `reason`).
const MAX_REASON_CHARS: usize = 500;

/// The reason as typed: trimmed, at most [`MAX_REASON_CHARS`] characters; empty means none was given.
pub(super) fn reason(typed: &str) -> String {
    typed.trim().chars().take(MAX_REASON_CHARS).collect()
}

/// `?done=` after a change.
#[derive(Debug, Deserialize)]
pub(super) struct Done {
    #[serde(default)]
    pub(super) done: Option<String>,
}
