//! The lockout counters, counted before comparing: the types of [`super::LoginStore::reserve_attempt`] and its
//! settlement, and their SQL, written once for both backends (`?N` placeholders; PostgreSQL gets them as `$N`
//! through [`pg`]).
//!
//! The rule, for each counter of an account (the VPN's, which guards the code, and the web pages' own, which
//! guards their password-only login):
//!
//! 1. **Reserve** before any secret is evaluated, in ONE statement: refused while the account's lock runs
//!    (the VPN lock, which an admin's `user lock` also sets, refuses both counters), or while the count already
//!    reached the threshold (attempts in flight that will lock when they settle). Else the count goes up by
//!    one (an expired lock restarts it at 1) and the attempt's time is stored.
//! 2. **Settle** what was evaluated: a failure locks the account when the count reached the threshold (no
//!    second increment); a success clears the count, only if the account is not locked at that time (for the
//!    VPN the accept itself is conditional, see `record_accepted_logins`); an attempt that proved nothing
//!    wrong without being a success (a right password that leads to a challenge, a shed request) releases its
//!    unit.
//!
//! So at most `threshold` secrets are evaluated per lock window, whatever the concurrency and on any number of
//! nodes sharing the database. A count left at the threshold without a lock (a node stopped between the two
//! steps) restarts once its last attempt is older than the lock.

use std::sync::LazyLock;

/// Which of an account's failure counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// RADIUS logins: password and code, SMS code. Only a full two-factor success clears it.
    Vpn,
    /// The password-only login of the web pages (`/enroll`). Never clears the VPN counter.
    Web,
}

/// When a counter locks the account, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures that lock (0: never locks).
    pub threshold: u32,
    /// Length of the lock, in seconds.
    pub lock_seconds: i64,
}

/// One VPN reservation of a batch that PostgreSQL makes in one transaction (`PgLogins`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRequest {
    /// The account.
    pub id: String,
    /// When.
    pub now: i64,
    /// The thresholds.
    pub policy: LockoutPolicy,
}

/// The answer to [`super::LoginStore::reserve_attempt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// The caller may evaluate one secret; the count including this attempt.
    Granted {
        /// Attempts counted in this window, this one included.
        failures: u32,
    },
    /// Locked: nothing may be evaluated until this time (Unix seconds).
    Refused {
        /// When the lock ends (for a count at the threshold still settling: when it will at the latest).
        until: i64,
    },
}

/// `?1` id, `?2` now, `?3` threshold, `?4` lock seconds. Returns the new count; no row if refused or absent.
pub(super) const RESERVE_VPN: &str = "\
    UPDATE accounts SET \
      failures = CASE WHEN locked_until <= ?2 \
                        OR (?3 > 0 AND failures >= ?3 AND COALESCE(attempt_at, 0) <= ?2 - ?4) \
                      THEN 1 ELSE failures + 1 END, \
      locked_until = CASE WHEN locked_until <= ?2 THEN NULL ELSE locked_until END, \
      attempt_at = ?2 \
    WHERE id = ?1 AND (locked_until IS NULL OR locked_until <= ?2) \
      AND (?3 = 0 OR failures < ?3 OR locked_until <= ?2 OR COALESCE(attempt_at, 0) <= ?2 - ?4) \
    RETURNING failures";

/// As [`RESERVE_VPN`] on the web counter; the VPN lock (an admin's lock too) refuses it as well.
pub(super) const RESERVE_WEB: &str = "\
    UPDATE accounts SET \
      web_failures = CASE WHEN web_locked_until <= ?2 \
                        OR (?3 > 0 AND web_failures >= ?3 AND COALESCE(web_attempt_at, 0) <= ?2 - ?4) \
                      THEN 1 ELSE web_failures + 1 END, \
      web_locked_until = CASE WHEN web_locked_until <= ?2 THEN NULL ELSE web_locked_until END, \
      web_attempt_at = ?2 \
    WHERE id = ?1 AND (locked_until IS NULL OR locked_until <= ?2) \
      AND (web_locked_until IS NULL OR web_locked_until <= ?2) \
      AND (?3 = 0 OR web_failures < ?3 OR web_locked_until <= ?2 \
           OR COALESCE(web_attempt_at, 0) <= ?2 - ?4) \
    RETURNING web_failures";

/// Why a reservation was refused: `locked_until, web_locked_until, attempt_at, web_attempt_at` of `?1`.
pub(super) const REFUSAL: &str = "\
    SELECT locked_until, web_locked_until, attempt_at, web_attempt_at FROM accounts WHERE id = ?1";

/// [`REFUSAL`] for PostgreSQL.
pub(super) const REFUSAL_PG: &str = "\
    SELECT locked_until, web_locked_until, attempt_at, web_attempt_at FROM accounts WHERE id = $1";

/// `?1` id, `?2` now, `?3` threshold, `?4` lock seconds: locks when the count reached the threshold (a lock
/// still running is kept as it is). Returns the count and the lock.
pub(super) const FAIL_VPN: &str = "\
    UPDATE accounts SET locked_until = CASE \
      WHEN locked_until > ?2 THEN locked_until \
      WHEN ?3 > 0 AND failures >= ?3 THEN ?2 + ?4 \
      ELSE locked_until END \
    WHERE id = ?1 RETURNING failures, locked_until";

/// As [`FAIL_VPN`] on the web counter.
pub(super) const FAIL_WEB: &str = "\
    UPDATE accounts SET web_locked_until = CASE \
      WHEN web_locked_until > ?2 THEN web_locked_until \
      WHEN ?3 > 0 AND web_failures >= ?3 THEN ?2 + ?4 \
      ELSE web_locked_until END \
    WHERE id = ?1 RETURNING web_failures, web_locked_until";

/// `?1` id: gives back one reserved unit.
pub(super) const RELEASE_VPN: &str =
    "UPDATE accounts SET failures = failures - 1 WHERE id = ?1 AND failures > 0";

/// As [`RELEASE_VPN`] on the web counter.
pub(super) const RELEASE_WEB: &str =
    "UPDATE accounts SET web_failures = web_failures - 1 WHERE id = ?1 AND web_failures > 0";

/// `?1` id, `?2` now: a two-factor success without a replay-guarded step (a code reused within
/// `otp.reuse_seconds`, an SMS code). Only if not locked at `?2`; returns the ID then.
pub(super) const SUCCESS_VPN: &str = "\
    UPDATE accounts SET failures = 0, locked_until = NULL, last_login_at = ?2 \
    WHERE id = ?1 AND (locked_until IS NULL OR locked_until <= ?2) RETURNING id";

/// `?1` id, `?2` now: a web login. Clears the web counter only, if neither lock runs at `?2`.
pub(super) const SUCCESS_WEB: &str = "\
    UPDATE accounts SET web_failures = 0, web_locked_until = NULL \
    WHERE id = ?1 AND (locked_until IS NULL OR locked_until <= ?2) \
      AND (web_locked_until IS NULL OR web_locked_until <= ?2) RETURNING id";

/// The statements of one counter.
pub(super) struct Statements {
    pub(super) reserve: &'static str,
    pub(super) fail: &'static str,
    pub(super) release: &'static str,
    pub(super) success: &'static str,
}

impl Counter {
    /// Its statements in SQLite's `?N` form.
    pub(super) fn sqlite(self) -> &'static Statements {
        static VPN: Statements = Statements {
            reserve: RESERVE_VPN,
            fail: FAIL_VPN,
            release: RELEASE_VPN,
            success: SUCCESS_VPN,
        };
        static WEB: Statements = Statements {
            reserve: RESERVE_WEB,
            fail: FAIL_WEB,
            release: RELEASE_WEB,
            success: SUCCESS_WEB,
        };
        match self {
            Self::Vpn => &VPN,
            Self::Web => &WEB,
        }
    }

    /// Its statements in PostgreSQL's `$N` form.
    pub(super) fn postgres(self) -> &'static Statements {
        static VPN: LazyLock<Statements> = LazyLock::new(|| pg_statements(Counter::Vpn));
        static WEB: LazyLock<Statements> = LazyLock::new(|| pg_statements(Counter::Web));
        match self {
            Self::Vpn => &VPN,
            Self::Web => &WEB,
        }
    }
}

fn pg_statements(counter: Counter) -> Statements {
    let s = counter.sqlite();
    Statements {
        reserve: pg(s.reserve),
        fail: pg(s.fail),
        release: pg(s.release),
        success: pg(s.success),
    }
}

/// `sql` with `?N` placeholders as PostgreSQL's `$N`, made once per statement and kept for the process.
fn pg(sql: &'static str) -> &'static str {
    Box::leak(sql.replace('?', "$").into_boxed_str())
}

/// What the refusal query reads: the VPN lock, the web lock, and the two counts' attempt times.
pub(super) type RefusalRow = (Option<i64>, Option<i64>, Option<i64>, Option<i64>);

/// The end of a refusal from the [`REFUSAL`] row: the running lock that refused, or — for a count at the
/// threshold whose attempts are still settling — when that count restarts at the latest.
pub(super) fn refusal_until(
    counter: Counter,
    row: RefusalRow,
    now: i64,
    policy: LockoutPolicy,
) -> i64 {
    let (locked, web_locked, attempt, web_attempt) = row;
    let running = |until: Option<i64>| until.filter(|&u| u > now);
    let (own_lock, own_attempt) = match counter {
        Counter::Vpn => (None, attempt),
        Counter::Web => (running(web_locked), web_attempt),
    };
    running(locked)
        .max(own_lock)
        .unwrap_or_else(|| {
            own_attempt
                .unwrap_or(now)
                .saturating_add(policy.lock_seconds)
        })
        .max(now + 1)
}

/// A count read from the database.
pub(super) fn count(value: i64) -> Result<u32, super::StoreError> {
    u32::try_from(value).map_err(|_| super::StoreError::Corrupt(format!("failure count {value}")))
}

/// Defines the counter functions for one pool type: `lockout_queries!(sqlx::SqlitePool, sqlite, REFUSAL)` or
/// `lockout_queries!(sqlx::PgPool, postgres, REFUSAL_PG)` (the dialect names the [`Counter`] method that
/// gives the statements).
macro_rules! lockout_queries {
    ($pool:ty, $dialect:ident, $refusal:path) => {
        use crate::store::lockout::{Counter, LockoutPolicy, Reservation, count, refusal_until};
        use crate::store::rows::account_not_found;
        use crate::store::{FailureState, StoreError};

        /// [`crate::store::LoginStore::reserve_attempt`] on the pool (SQLite reserves on its writer thread).
        #[allow(dead_code)]
        pub(in crate::store) async fn reserve(
            pool: &$pool,
            counter: Counter,
            id: &str,
            now: i64,
            policy: LockoutPolicy,
        ) -> Result<Option<Reservation>, StoreError> {
            let granted: Option<i64> = sqlx::query_scalar(counter.$dialect().reserve)
                .bind(id)
                .bind(now)
                .bind(i64::from(policy.threshold))
                .bind(policy.lock_seconds)
                .fetch_optional(pool)
                .await?;
            if let Some(failures) = granted {
                return Ok(Some(Reservation::Granted {
                    failures: count(failures)?,
                }));
            }
            let row: Option<crate::store::lockout::RefusalRow> = sqlx::query_as($refusal)
                .bind(id)
                .fetch_optional(pool)
                .await?;
            Ok(row.map(|row| Reservation::Refused {
                until: refusal_until(counter, row, now, policy),
            }))
        }

        /// [`crate::store::LoginStore::settle_failure`].
        pub(in crate::store) async fn settle_failure(
            pool: &$pool,
            counter: Counter,
            id: &str,
            now: i64,
            policy: LockoutPolicy,
        ) -> Result<FailureState, StoreError> {
            let row: Option<(i64, Option<i64>)> = sqlx::query_as(counter.$dialect().fail)
                .bind(id)
                .bind(now)
                .bind(i64::from(policy.threshold))
                .bind(policy.lock_seconds)
                .fetch_optional(pool)
                .await?;
            let (failures, locked_until) = row.ok_or_else(|| account_not_found(id))?;
            Ok(FailureState {
                failures: count(failures)?,
                locked_until,
            })
        }

        /// [`crate::store::LoginStore::settle_success`].
        pub(in crate::store) async fn settle_success(
            pool: &$pool,
            counter: Counter,
            id: &str,
            now: i64,
        ) -> Result<bool, StoreError> {
            let won: Option<String> = sqlx::query_scalar(counter.$dialect().success)
                .bind(id)
                .bind(now)
                .fetch_optional(pool)
                .await?;
            Ok(won.is_some())
        }

        /// [`crate::store::LoginStore::release_attempt`].
        pub(in crate::store) async fn release(
            pool: &$pool,
            counter: Counter,
            id: &str,
        ) -> Result<(), StoreError> {
            sqlx::query(counter.$dialect().release)
                .bind(id)
                .execute(pool)
                .await?;
            Ok(())
        }
    };
}

pub(super) use lockout_queries;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_statements_have_dollar_placeholders() {
        let s = Counter::Web.postgres();
        assert!(s.reserve.contains("$3") && !s.reserve.contains('?'));
        assert!(!Counter::Vpn.postgres().fail.contains('?'));
    }

    #[test]
    fn a_refusal_ends_with_the_running_lock_or_the_settling_window() {
        let policy = LockoutPolicy {
            threshold: 10,
            lock_seconds: 600,
        };
        let row = (Some(2_000), None, Some(900), None);
        assert_eq!(refusal_until(Counter::Vpn, row, 1_000, policy), 2_000);
        let settling = (None, None, Some(900), None);
        assert_eq!(refusal_until(Counter::Vpn, settling, 1_000, policy), 1_500);
        let web = (None, Some(3_000), None, Some(950));
        assert_eq!(refusal_until(Counter::Web, web, 1_000, policy), 3_000);
        assert_eq!(refusal_until(Counter::Vpn, web, 1_000, policy), 1_600);
    }
}
