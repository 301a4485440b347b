//! The service desk's account actions, shared by the CLI (`motpd user unlock`) and the helpdesk console:
//! each changes the account through the store and writes one audit row with the actor and, from the console,
//! the reason the admin gave. Device resets are [`super::enrollment::reset_devices`].

use serde_json::{Map, Value, json};

use crate::audit::AuditEvent;
use crate::store::{Store, StoreError};

/// What an unlock did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlocked {
    /// The lock and the failure counter were cleared.
    Done,
    /// The account was neither locked nor had failures: nothing changed, nothing audited.
    Unchanged,
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum HelpdeskError {
    /// No such account.
    #[error("account {0} does not exist")]
    NoSuchAccount(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Clears the account's lock and failure counter; audited `admin.user.unlock` with the old and new values
/// and `reason`, if given.
pub async fn unlock_account(
    store: &dyn Store,
    id: &str,
    actor: &str,
    reason: Option<&str>,
    now: i64,
) -> Result<Unlocked, HelpdeskError> {
    let Some(account) = store.account(id).await? else {
        return Err(HelpdeskError::NoSuchAccount(id.to_owned()));
    };
    let was_locked = account.locked_until.is_some_and(|t| t > now);
    let mut detail = Map::new();
    if was_locked {
        detail.insert("locked".into(), json!({ "old": true, "new": false }));
    }
    if account.failures != 0 {
        detail.insert(
            "failures".into(),
            json!({ "old": account.failures, "new": 0 }),
        );
    }
    if detail.is_empty() {
        return Ok(Unlocked::Unchanged);
    }
    if let Some(reason) = reason {
        detail.insert("reason".into(), reason.into());
    }
    store.unlock_account(&account.id, now).await?;
    store
        .append_audit(&[AuditEvent::new(
            now,
            "admin.user.unlock",
            actor,
            Some(&account.id),
            "ok",
            Value::Object(detail),
        )])
        .await?;
    Ok(Unlocked::Done)
}
