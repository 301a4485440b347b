//! The service desk's account actions, shared by the CLI (`motpd user lock|unlock|reset-password`,
//! `motpd user set --status|--sms-fallback|--expires`) and the helpdesk console: each changes the account
//! through the store and writes one audit row with the actor and the reason given (the console and
//! `user set` require one). Device resets are [`super::enrollment::reset_devices`].

use serde_json::{Map, Value, json};

use super::helpdesk_codes::{HELPDESK_CODE_TTL_SECONDS, HelpdeskCodes};
use crate::account_rules::ADMIN_LOCK_UNTIL;
use crate::audit::AuditEvent;
use crate::config::PasswordSource;
use crate::model::{Account, AccountStatus, AccountUpsert};
use crate::secrets::{SecretError, SecretString};
use crate::store::{Store, StoreError};

/// Longest reason kept (the audit row's `reason`).
pub const MAX_REASON_CHARS: usize = 500;

/// A reason as typed: trimmed, at most [`MAX_REASON_CHARS`] characters; empty means none was given.
pub fn reason_text(typed: &str) -> String {
    typed.trim().chars().take(MAX_REASON_CHARS).collect()
}

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
    /// motpd keeps no passwords (`accounts.password_source` is not `local`): a reset code would set nothing.
    #[error("accounts.password_source = \"{}\": motpd keeps no passwords", .0.as_str())]
    NoLocalPasswords(PasswordSource),
    /// An expiry date before today.
    #[error("{date} is in the past (today is {today})")]
    PastDate {
        /// The date asked for.
        date: time::Date,
        /// Today, in the site's time zone.
        today: time::Date,
    },
    /// The code could not be made.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changed {
    /// The value changed (and was audited).
    Done,
    /// It already had that value: nothing changed, nothing audited.
    Unchanged,
}

/// A one-time password reset code, to be shown once to the person at the desk.
#[derive(Debug)]
pub struct ResetCode {
    /// The code as shown (`XXXX-XXXX-XXXX`); only its keyed hash is stored.
    pub code: SecretString,
    /// When it stops working (unix seconds).
    pub expires_at: i64,
    /// The page (path under `web.public_url`) where it is typed.
    pub page: &'static str,
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
    let account = existing(store, id).await?;
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

/// Locks the account until an admin unlocks it (refused everywhere meanwhile, its sessions on the enrollment
/// and account pages ended); audited `admin.user.lock` with the old and new values and `reason`, if given.
pub async fn lock_account(
    store: &dyn Store,
    id: &str,
    actor: &str,
    reason: Option<&str>,
    now: i64,
) -> Result<Changed, HelpdeskError> {
    let account = existing(store, id).await?;
    if account.locked_until == Some(ADMIN_LOCK_UNTIL) {
        return Ok(Changed::Unchanged);
    }
    let was_locked = account.locked_until.is_some_and(|t| t > now);
    store
        .lock_account(&account.id, ADMIN_LOCK_UNTIL, now)
        .await?;
    // A session logged in before the lock would otherwise go on enrolling until it idles out.
    store.remove_account_web_sessions(&account.id).await?;
    let mut detail = Map::new();
    detail.insert("locked".into(), json!({ "old": was_locked, "new": true }));
    if let Some(reason) = reason {
        detail.insert("reason".into(), reason.into());
    }
    let event = AuditEvent::new(
        now,
        "admin.user.lock",
        actor,
        Some(&account.id),
        "ok",
        Value::Object(detail),
    );
    store.append_audit(&[event]).await?;
    Ok(Changed::Done)
}

/// Sets the account's status (active or disabled; disabling ends its sessions on the enrollment and account
/// pages); audited `admin.user.set` with the old and new status and `reason`, if given.
pub async fn set_status(
    store: &dyn Store,
    id: &str,
    status: AccountStatus,
    actor: &str,
    reason: Option<&str>,
    now: i64,
) -> Result<Changed, HelpdeskError> {
    let account = existing(store, id).await?;
    if account.status == status {
        return Ok(Changed::Unchanged);
    }
    store.set_account_status(&account.id, status, now).await?;
    if status == AccountStatus::Disabled {
        store.remove_account_web_sessions(&account.id).await?;
    }
    let change = json!({ "old": account.status.as_str(), "new": status.as_str() });
    audit_set(store, &account.id, "status", change, actor, reason, now).await?;
    Ok(Changed::Done)
}

/// Sets the account's SMS fallback switch (`None`: follow the configuration); audited `admin.user.set`.
pub async fn set_sms_fallback(
    store: &dyn Store,
    id: &str,
    allowed: Option<bool>,
    actor: &str,
    reason: Option<&str>,
    now: i64,
) -> Result<Changed, HelpdeskError> {
    let account = existing(store, id).await?;
    if account.sms_fallback == allowed {
        return Ok(Changed::Unchanged);
    }
    store.set_sms_fallback(&account.id, allowed, now).await?;
    let change = json!({ "old": account.sms_fallback, "new": allowed });
    audit_set(
        store,
        &account.id,
        "sms_fallback",
        change,
        actor,
        reason,
        now,
    )
    .await?;
    Ok(Changed::Done)
}

/// Refuses a last valid day before `today` (an account that could not log in from the moment it is set).
pub fn check_expiry(date: time::Date, today: time::Date) -> Result<(), HelpdeskError> {
    if date < today {
        return Err(HelpdeskError::PastDate { date, today });
    }
    Ok(())
}

/// Moves the account's last valid day to `date`, which must not be before `today` (a vendor whose contract
/// was extended), or removes it (`None`: no last day); audited `admin.user.set`.
pub async fn set_expiry(
    store: &dyn Store,
    id: &str,
    date: Option<time::Date>,
    today: time::Date,
    actor: &str,
    reason: Option<&str>,
    now: i64,
) -> Result<Changed, HelpdeskError> {
    if let Some(date) = date {
        check_expiry(date, today)?;
    }
    let account = existing(store, id).await?;
    if account.expires_on == date {
        return Ok(Changed::Unchanged);
    }
    // The import keeps the status and, without a hash in the row, the stored password.
    let row = AccountUpsert {
        id: account.id.clone(),
        name: account.name.clone(),
        phone: account.phone.clone(),
        email: account.email.clone(),
        expires_on: date,
        groups: account.groups.clone(),
        password_hash: None,
        status: account.status,
    };
    store
        .import_accounts(std::slice::from_ref(&row), now)
        .await?;
    let text = |d: Option<time::Date>| d.map(|d| d.to_string());
    let change = json!({ "old": text(account.expires_on), "new": text(date) });
    audit_set(store, &account.id, "expires", change, actor, reason, now).await?;
    Ok(Changed::Done)
}

/// Issues a one-time password reset code for the person at the desk (after their ID card was checked): only
/// its keyed hash is stored, replacing an earlier code; audited `admin.user.reset-password`. Refused when
/// motpd keeps no passwords.
pub async fn issue_reset_code(
    store: &dyn Store,
    codes: &HelpdeskCodes,
    source: PasswordSource,
    id: &str,
    actor: &str,
    reason: Option<&str>,
    now: i64,
) -> Result<ResetCode, HelpdeskError> {
    if !source.stores_passwords() {
        return Err(HelpdeskError::NoLocalPasswords(source));
    }
    let account = existing(store, id).await?;
    let code = HelpdeskCodes::generate()?;
    let expires_at = now + HELPDESK_CODE_TTL_SECONDS;
    let hash = codes.hash(&account.id, code.expose());
    store
        .set_helpdesk_code(&account.id, &hash, expires_at, now)
        .await?;
    let mut detail = Map::new();
    detail.insert("expires_at".into(), expires_at.into());
    if let Some(reason) = reason {
        detail.insert("reason".into(), reason.into());
    }
    let event = AuditEvent::new(
        now,
        "admin.user.reset-password",
        actor,
        Some(&account.id),
        "ok",
        Value::Object(detail),
    );
    store.append_audit(&[event]).await?;
    let page = match account.status {
        AccountStatus::Pending => "/account/activate",
        _ => "/account/reset",
    };
    Ok(ResetCode {
        code,
        expires_at,
        page,
    })
}

async fn existing(store: &dyn Store, id: &str) -> Result<Account, HelpdeskError> {
    store
        .account(id)
        .await?
        .ok_or_else(|| HelpdeskError::NoSuchAccount(id.to_owned()))
}

/// One `admin.user.set` row: `{field: change, "reason": reason}`.
async fn audit_set(
    store: &dyn Store,
    id: &str,
    field: &str,
    change: Value,
    actor: &str,
    reason: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    let mut detail = Map::new();
    detail.insert(field.into(), change);
    if let Some(reason) = reason {
        detail.insert("reason".into(), reason.into());
    }
    let event = AuditEvent::new(
        now,
        "admin.user.set",
        actor,
        Some(id),
        "ok",
        Value::Object(detail),
    );
    store.append_audit(&[event]).await
}
