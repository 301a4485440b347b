//! Browser sessions of the enrollment pages and of the helpdesk console, shared by every node, for both
//! backends: one table (`sessions`, migration 16), one row per session with its [`SessionKind`], keyed by the
//! SHA-256 of the cookie value (the caller hashes; the store never sees the cookie). Every lookup by ID names
//! the kind, so a console cookie's value is no enrollment session and the reverse. An enrollment session
//! belongs to an account (once logged in) and carries the account pages' flow; a console session belongs to an
//! admin and is found only while the admin is not disabled, with the admin's role. The SQL is the same text on
//! SQLite and PostgreSQL, instantiated per pool type by [`page_session_queries!`]. No policy here: lifetimes
//! come from the caller.

use crate::model::{AdminSession, NewAdminSession, NewWebSession, WebSession};

use super::StoreError;

/// Whose pages a session is for (the `kind` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SessionKind {
    /// The enrollment and account pages ([`super::WebSessionStore`]).
    Web,
    /// The helpdesk console ([`super::ConsoleStore`]).
    Console,
}

impl SessionKind {
    /// The stored value.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Console => "console",
        }
    }
}

/// A session to store, of either kind.
#[derive(Debug)]
pub(super) struct NewSession<'a> {
    pub(super) kind: SessionKind,
    pub(super) id_hash: &'a [u8],
    /// The enrollment pages' account, once logged in.
    pub(super) account_id: Option<&'a str>,
    /// The console's admin.
    pub(super) admin_name: Option<&'a str>,
    pub(super) csrf: &'a str,
    pub(super) expires_at: i64,
}

impl<'a> From<&'a NewWebSession> for NewSession<'a> {
    fn from(session: &'a NewWebSession) -> Self {
        Self {
            kind: SessionKind::Web,
            id_hash: &session.id_hash,
            account_id: session.account_id.as_deref(),
            admin_name: None,
            csrf: &session.csrf,
            expires_at: session.expires_at,
        }
    }
}

impl<'a> From<&'a NewAdminSession> for NewSession<'a> {
    fn from(session: &'a NewAdminSession) -> Self {
        Self {
            kind: SessionKind::Console,
            id_hash: &session.id_hash,
            account_id: None,
            admin_name: Some(&session.admin_name),
            csrf: &session.csrf,
            expires_at: session.expires_at,
        }
    }
}

/// A live session as read: account, admin, the admin's role, CSRF token, deadline, flow.
pub(super) type SessionRow = (
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    i64,
    Option<String>,
);

/// An enrollment session of a row.
pub(super) fn web_session(row: SessionRow) -> WebSession {
    let (account_id, _, _, csrf, expires_at, flow) = row;
    WebSession {
        account_id,
        csrf,
        expires_at,
        flow,
    }
}

/// A console session of a row; one without its admin or with a role this version does not know is corrupt.
pub(super) fn admin_session(row: SessionRow) -> Result<AdminSession, StoreError> {
    let (_, admin_name, role, csrf, expires_at, _) = row;
    let admin_name =
        admin_name.ok_or_else(|| StoreError::Corrupt("a console session has no admin".into()))?;
    let role = super::console::admin_role(&admin_name, role.as_deref().unwrap_or_default())?;
    Ok(AdminSession {
        admin_name,
        role,
        csrf,
        expires_at,
    })
}

/// Defines the session functions for one pool type (`sqlx::SqlitePool` or `sqlx::PgPool`).
macro_rules! page_session_queries {
    ($pool:ty) => {
        use crate::store::StoreError;
        use crate::store::page_sessions::{NewSession, SessionKind, SessionRow};

        pub(in crate::store) async fn create(
            pool: &$pool,
            session: &NewSession<'_>,
            now: i64,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO sessions (id_hash, kind, account_id, admin_name, csrf, expires_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(session.id_hash)
            .bind(session.kind.as_str())
            .bind(session.account_id)
            .bind(session.admin_name)
            .bind(session.csrf)
            .bind(session.expires_at)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(())
        }

        /// Returns an unexpired session of `kind` (a console session only while its admin is not disabled),
        /// moving its deadline when that gains a minute or more. An unknown or expired ID (a made-up cookie,
        /// say) costs a read, never a write.
        pub(in crate::store) async fn touch(
            pool: &$pool,
            kind: SessionKind,
            id_hash: &[u8],
            now: i64,
            expires_at: i64,
        ) -> Result<Option<SessionRow>, StoreError> {
            let row: Option<SessionRow> = sqlx::query_as(
                "SELECT s.account_id, s.admin_name, a.role, s.csrf, s.expires_at, s.flow \
                 FROM sessions s LEFT JOIN admins a ON a.name = s.admin_name \
                 WHERE s.id_hash = $1 AND s.kind = $2 AND s.expires_at > $3 \
                   AND (s.admin_name IS NULL OR NOT a.disabled)",
            )
            .bind(id_hash)
            .bind(kind.as_str())
            .bind(now)
            .fetch_optional(pool)
            .await?;
            let Some(mut row) = row else {
                return Ok(None);
            };
            if expires_at - row.4 >= 60 {
                sqlx::query(
                    "UPDATE sessions SET expires_at = $3 \
                     WHERE id_hash = $1 AND expires_at > $2 AND kind = $4",
                )
                .bind(id_hash)
                .bind(now)
                .bind(expires_at)
                .bind(kind.as_str())
                .execute(pool)
                .await?;
                row.4 = expires_at;
            }
            Ok(Some(row))
        }

        /// Replaces the flow of an unexpired enrollment session.
        pub(in crate::store) async fn set_flow(
            pool: &$pool,
            id_hash: &[u8],
            flow: Option<&str>,
            now: i64,
        ) -> Result<bool, StoreError> {
            let done = sqlx::query(
                "UPDATE sessions SET flow = $2 WHERE id_hash = $1 AND kind = 'web' AND expires_at > $3",
            )
            .bind(id_hash)
            .bind(flow)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() > 0)
        }

        /// Compare-and-clear in one statement: only one caller can take a given flow.
        pub(in crate::store) async fn take_flow(
            pool: &$pool,
            id_hash: &[u8],
            flow: &str,
            now: i64,
        ) -> Result<bool, StoreError> {
            let done = sqlx::query(
                "UPDATE sessions SET flow = NULL \
                 WHERE id_hash = $1 AND kind = 'web' AND flow = $2 AND expires_at > $3",
            )
            .bind(id_hash)
            .bind(flow)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() > 0)
        }

        pub(in crate::store) async fn remove(
            pool: &$pool,
            kind: SessionKind,
            id_hash: &[u8],
        ) -> Result<bool, StoreError> {
            let done = sqlx::query("DELETE FROM sessions WHERE id_hash = $1 AND kind = $2")
                .bind(id_hash)
                .bind(kind.as_str())
                .execute(pool)
                .await?;
            Ok(done.rows_affected() > 0)
        }

        /// Ends every enrollment session of an account (console sessions have no account).
        pub(in crate::store) async fn remove_of_account(
            pool: &$pool,
            account_id: &str,
        ) -> Result<u64, StoreError> {
            let done = sqlx::query("DELETE FROM sessions WHERE account_id = $1")
                .bind(account_id)
                .execute(pool)
                .await?;
            Ok(done.rows_affected())
        }

        pub(in crate::store) async fn count_live(
            pool: &$pool,
            kind: SessionKind,
            now: i64,
        ) -> Result<u64, StoreError> {
            let count: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE kind = $1 AND expires_at > $2")
                    .bind(kind.as_str())
                    .bind(now)
                    .fetch_one(pool)
                    .await?;
            Ok(u64::try_from(count).unwrap_or(0))
        }

        pub(in crate::store) async fn purge_expired(
            pool: &$pool,
            kind: SessionKind,
            now: i64,
        ) -> Result<u64, StoreError> {
            let done = sqlx::query("DELETE FROM sessions WHERE kind = $1 AND expires_at <= $2")
                .bind(kind.as_str())
                .bind(now)
                .execute(pool)
                .await?;
            Ok(done.rows_affected())
        }
    };
}

pub(super) use page_session_queries;
