//! The PostgreSQL backend: one database shared by several motpd nodes.
//!
//! Owns the PostgreSQL connection settings and the PostgreSQL dialect of every [`Store`] operation (devices in
//! `postgres/devices.rs`, the bulk import in `postgres/import.rs`). It makes no policy decisions and
//! sees secrets only sealed.
//!
//! Concurrency (READ COMMITTED, the server default):
//! - the replay guard and the failure counter are single `UPDATE`s; a second writer of the same row waits for
//!   the first and then re-checks its `WHERE` against the committed row, so exactly one wins;
//! - every transaction that changes an account's devices first locks the account row (`SELECT ... FOR
//!   UPDATE`), so device changes of one account are serialised and always take locks in the same order
//!   (account, then devices); the partial unique index on active devices is the last line of defence;
//! - audit appends take a transaction-scoped advisory lock, so the chain has one order across all nodes.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};

use super::batch::Batcher;
use super::rows::{AUDIT_HEAD, AuditHead, account_not_found, link_batch};
use super::{
    AcceptedLogin, AttemptRequest, Challenge, Counter, FailureState, LockoutPolicy, LoginRecord,
    LoginStore, NewChallenge, Reservation, StoreError,
};
use crate::audit::{AuditChain, AuditEvent};

mod account_proofs;
mod console;
mod devices;
mod directory_sync;
mod import;
mod invitations;
mod lockout;
mod logins;
mod owner_passwords;
mod page_sessions;
mod sessions;
mod sms;

pub(super) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How long to wait for the server when connecting, and for a free pooled connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Imports of at least this many rows refresh the planner statistics of their table.
const BULK_ROWS: usize = 100;

/// The advisory lock key that serialises audit appends ("motpdaud").
const AUDIT_LOCK: i64 = 0x6d6f_7470_6461_7564;

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// A [`Store`] on PostgreSQL.
#[derive(Debug)]
pub struct PgStore {
    pool: PgPool,
    chain: AuditChain,
    /// What this process changed, for the login cache.
    changes: super::changes::ChangeFeed,
}

impl PgStore {
    /// Connects (failing within about [`CONNECT_TIMEOUT`] if the server does not answer) and applies pending
    /// migrations.
    pub(super) async fn connect(
        url: &str,
        max_connections: u32,
        chain: AuditChain,
    ) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)?;
        // One direct connection first: the pool would retry a refused connection until its timeout and then
        // report only "timed out"; this reports the actual cause.
        let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, options.connect())
            .await
            .map_err(|_| {
                StoreError::Backend(sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "PostgreSQL did not answer within {} seconds",
                        CONNECT_TIMEOUT.as_secs()
                    ),
                )))
            })??;
        MIGRATOR.run(&mut conn).await?;
        conn.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options)
            .await?;
        Ok(Self {
            pool,
            chain,
            changes: super::changes::ChangeFeed::default(),
        })
    }

    /// After a bulk import of `rows` rows, refreshes the planner's statistics (`ANALYZE`) instead of waiting
    /// for autovacuum: with statistics from before the import, PostgreSQL plans the login path's batched
    /// `UPDATE devices` as a scan of every active device. The import has committed by then, so a failure is
    /// only logged.
    async fn refresh_statistics(&self, analyze: &'static str, rows: usize) {
        if rows < BULK_ROWS {
            return;
        }
        if let Err(error) = sqlx::query(analyze).execute(&self.pool).await {
            tracing::warn!(
                statement = analyze, %error,
                "cannot refresh the planner statistics after an import; autovacuum will"
            );
        }
    }

    /// Runs an `UPDATE accounts ... WHERE id = $1`-style statement; `NotFound` when no row matched.
    async fn update_account(&self, query: PgQuery<'_>, id: &str) -> Result<(), StoreError> {
        match query.execute(&self.pool).await?.rows_affected() {
            0 => Err(account_not_found(id)),
            _ => Ok(()),
        }
    }
}

/// One text column of a batch, for binding as a `text[]` array.
fn column<'v, T>(rows: &'v [T], f: impl Fn(&'v T) -> Option<&'v str>) -> Vec<Option<&'v str>> {
    rows.iter().map(f).collect()
}

/// Appends `events` to the audit chain inside `tx`: the chain's lock (held to the commit, so appends from every
/// node link one after the other), its head, one insert for the batch.
pub(super) async fn append_audit_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    chain: &AuditChain,
    events: &[&AuditEvent],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(AUDIT_LOCK)
        .execute(&mut **tx)
        .await?;
    let head: AuditHead = sqlx::query_as(AUDIT_HEAD).fetch_one(&mut **tx).await?;
    let rows = link_batch(chain, head, events.iter().copied())?;
    sqlx::query(
        "INSERT INTO audit_log (seq, at, kind, actor, account_id, outcome, detail, mac) \
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], \
         $5::text[], $6::text[], $7::text[], $8::bytea[])",
    )
    .bind(rows.iter().map(|r| r.seq).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.event.at).collect::<Vec<_>>())
    .bind(column(&rows, |r| Some(r.event.kind.as_str())))
    .bind(column(&rows, |r| Some(r.event.actor.as_str())))
    .bind(column(&rows, |r| r.event.account_id.as_deref()))
    .bind(column(&rows, |r| Some(r.event.outcome.as_str())))
    .bind(column(&rows, |r| Some(r.event.detail.as_str())))
    .bind(rows.iter().map(|r| r.mac.to_vec()).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

crate::store::sql::role_impls!(PgStore);
crate::store::key_rotation::sealed_store_impl!(PgStore, " FOR UPDATE");
crate::store::console::console_store_impl!(PgStore);

/// The rotation's backend steps (`store/key_rotation.rs`).
impl PgStore {
    async fn begin_rotation(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError> {
        Ok(self.pool.begin().await?)
    }

    /// The audit chain's lock, taken after the device and client rows (the order of an accepted login).
    async fn lock_audit(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    ) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(AUDIT_LOCK)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn append_rotation_row(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        append_audit_in(tx, &self.chain, &[event]).await
    }
}

/// The dialect items the shared role SQL (`store/sql.rs`) names, and the login path's SQL.
impl PgStore {
    /// What this process changed, for the login cache.
    pub(super) fn changes(&self) -> &super::changes::ChangeFeed {
        &self.changes
    }

    const BACKEND: &'static str = "postgres";

    /// PostgreSQL's writers need no in-process queue: row locks order them.
    async fn gate(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        None
    }

    async fn append_audit_rows(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let events: Vec<&AuditEvent> = events.iter().collect();
        append_audit_in(&mut tx, &self.chain, &events).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn shut_down(&self) {
        self.pool.close().await;
    }

    pub(super) async fn reserve_attempts(
        &self,
        counter: Counter,
        requests: &[super::AttemptRequest],
    ) -> Result<Vec<Option<Reservation>>, StoreError> {
        // One transaction (one commit) for the batch; rows taken in ID order, so that two nodes batching
        // the same accounts never deadlock. The same account twice sees its own earlier reservation.
        let mut order: Vec<usize> = (0..requests.len()).collect();
        order.sort_by_key(|&index| requests.get(index).map(|r| r.id.as_str()));
        let mut answers = vec![None; requests.len()];
        let mut tx = self.pool.begin().await?;
        for index in order {
            let Some(request) = requests.get(index) else {
                continue;
            };
            let granted: Option<i64> = sqlx::query_scalar(counter.postgres().reserve)
                .bind(&request.id)
                .bind(request.now)
                .bind(i64::from(request.policy.threshold))
                .bind(request.policy.lock_seconds)
                .fetch_optional(&mut *tx)
                .await?;
            let answer = match granted {
                Some(failures) => Some(Reservation::Granted {
                    failures: super::lockout::count(failures)?,
                }),
                None => {
                    let row: Option<super::lockout::RefusalRow> =
                        sqlx::query_as(super::lockout::REFUSAL_PG)
                            .bind(&request.id)
                            .fetch_optional(&mut *tx)
                            .await?;
                    row.map(|row| Reservation::Refused {
                        until: super::lockout::refusal_until(
                            counter,
                            row,
                            request.now,
                            request.policy,
                        ),
                    })
                }
            };
            if let Some(slot) = answers.get_mut(index) {
                *slot = answer;
            }
        }
        tx.commit().await?;
        Ok(answers)
    }
}

/// The PostgreSQL login path: concurrent calls grouped into one statement or transaction per batch (a commit
/// and a round trip per login would bound a node at a few thousand logins per second), each caller answered
/// after the batch's `COMMIT`.
pub struct PgLogins {
    store: Arc<PgStore>,
    reads: Batcher<String, ReadAnswer>,
    writes: Batcher<AcceptedLogin, bool>,
    /// VPN reservations, one transaction for many.
    reserves: Batcher<AttemptRequest, Option<Reservation>>,
}

impl std::fmt::Debug for PgLogins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgLogins").finish_non_exhaustive()
    }
}

/// What one read request gets: its account's record, or its own error.
type ReadAnswer = Result<Option<Arc<LoginRecord>>, StoreError>;

/// Most requests in one batch.
const MAX_BATCH: usize = 256;

impl PgLogins {
    /// Starts the batching tasks (they end with the login path); needs a Tokio runtime.
    pub(super) fn new(store: Arc<PgStore>) -> Self {
        let reader = store.clone();
        let reads = Batcher::spawn(MAX_BATCH, move |ids: Vec<String>| {
            let store = reader.clone();
            async move { read_batch(&store, ids).await }
        });
        let writer = store.clone();
        let writes = Batcher::spawn(MAX_BATCH, move |logins: Vec<AcceptedLogin>| {
            let store = writer.clone();
            async move { record_batch(&store, logins).await }
        });
        let reserver = store.clone();
        let reserves = Batcher::spawn(MAX_BATCH, move |requests: Vec<AttemptRequest>| {
            let store = reserver.clone();
            async move { store.reserve_attempts(Counter::Vpn, &requests).await }
        });
        Self {
            store,
            reads,
            writes,
            reserves,
        }
    }
}

/// One batched read: every distinct ID once; each request gets its account's record (or `None`). When a row
/// cannot be decoded, the IDs are read one by one instead, so one corrupt row fails only its own login.
async fn read_batch(store: &PgStore, ids: Vec<String>) -> Result<Vec<ReadAnswer>, StoreError> {
    let mut distinct = ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let found: HashMap<String, Arc<LoginRecord>> =
        match logins::login_records(&store.pool, &distinct).await {
            Ok(records) => records
                .into_iter()
                .map(|record| (record.account.id.clone(), Arc::new(record)))
                .collect(),
            Err(StoreError::Corrupt(_)) => {
                let mut answers = Vec::with_capacity(ids.len());
                for id in ids {
                    let one = logins::login_records(&store.pool, std::slice::from_ref(&id)).await;
                    answers.push(one.map(|mut records| records.pop().map(Arc::new)));
                }
                return Ok(answers);
            }
            Err(error) => return Err(error),
        };
    // Requests for the same account share its record.
    let answers = ids.iter().map(|id| Ok(found.get(id).cloned())).collect();
    Ok(answers)
}

/// One batch of accepted logins in one transaction, with the winners' audit events, before any answer.
async fn record_batch(
    store: &PgStore,
    logins: Vec<AcceptedLogin>,
) -> Result<Vec<bool>, StoreError> {
    logins::record_accepted_logins(&store.pool, &store.chain, &logins).await
}

impl LoginStore for PgLogins {
    async fn login_record(&self, id: &str) -> Result<Option<Arc<LoginRecord>>, StoreError> {
        self.reads.call(id.to_owned()).await?
    }

    async fn record_accepted_login(&self, login: AcceptedLogin) -> Result<bool, StoreError> {
        self.writes.call(login).await
    }

    async fn reserve_attempt(
        &self,
        counter: Counter,
        id: &str,
        now: i64,
        policy: LockoutPolicy,
    ) -> Result<Option<Reservation>, StoreError> {
        match counter {
            Counter::Vpn => {
                let request = AttemptRequest {
                    id: id.to_owned(),
                    now,
                    policy,
                };
                self.reserves.call(request).await
            }
            Counter::Web => lockout::reserve(&self.store.pool, counter, id, now, policy).await,
        }
    }

    async fn append_audit(&self, events: Vec<AuditEvent>) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        self.store.append_audit_rows(&events).await
    }

    fn batch_stats(&self) -> super::LoginBatchStats {
        super::LoginBatchStats {
            reads: self.reads.stats(),
            writes: self.writes.stats(),
        }
    }

    crate::store::login::pooled_login_ops!();
}

crate::store::audit_search::audit_search_query!(sqlx::PgPool);
