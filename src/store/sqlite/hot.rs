//! SQLite: the serving hot path — the login reads, the lockout reservations (counted before a secret is
//! compared, `store/lockout.rs`), the accepted logins (the replay guard and the success bookkeeping) and the
//! audit appends — on ONE thread that owns a connection of its own (rusqlite), beside the
//! sqlx pool that serves everything else.
//!
//! Why a thread of its own: through sqlx every statement is a hand-off to the connection's worker thread and
//! back (a wake-up each way), and a batch had to travel as JSON for SQLite to unpack. Here the thread takes
//! every request that arrived while it was busy and runs them together with prepared statements: the reads as
//! point lookups in one read transaction, every reservation and every accepted step of the batch with its
//! success bookkeeping in ONE write transaction (group commit), then the batch's audit rows in another (an Accept never waits for audit
//! rows). Callers are answered only after `COMMIT`, so an Access-Accept never precedes the durable record of
//! its step (WAL, `synchronous=NORMAL`: a committed step survives `kill -9`, see `sqlite.rs`). WAL checkpoints
//! run beside it, on a connection of their own (`checkpoint.rs`).
//!
//! If the batch's transaction fails, nothing of it is stored and every request is run again in a transaction
//! of its own, so one that cannot be stored fails alone (no `SAVEPOINT`s on the way that succeeds: each would
//! copy the pages it touches to a sub-journal). The thread holds the store's write gate around its
//! transaction, so the sqlx writers of this process queue behind it instead of meeting `SQLITE_BUSY`; other
//! processes (the admin CLI) are waited for by the busy timeout.
//!

use std::path::Path;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tokio::sync::oneshot;

use super::checkpoint::{Checkpointer, WRITER_CHECKPOINT_PAGES};
use crate::audit::{AuditChain, AuditEvent, ChainKey, GENESIS_MAC};
use crate::store::lockout::{self, Counter, LockoutPolicy, Reservation};
use crate::store::rows::{AccountRow, DeviceRow, LoginRow};
use crate::store::{AcceptedLogin, LoginRecord, StoreError};

/// Most requests taken into one batch (the rest wait for the next one).
const MAX_BATCH: usize = 1024;

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// What the thread is asked to do.
enum Request {
    Read(Vec<String>, Reply<Vec<LoginRecord>>),
    Reserve(Reserve, Reply<Option<Reservation>>),
    Accept(Vec<AcceptedLogin>, Reply<Vec<bool>>),
    Audit(Vec<AuditEvent>, Reply<()>),
    Close(oneshot::Sender<()>),
}

/// One [`crate::store::LoginStore::reserve_attempt`] call.
struct Reserve {
    counter: Counter,
    id: String,
    now: i64,
    policy: LockoutPolicy,
}

/// The caller's side of the hot-path thread. Dropping it (or [`HotPath::close`]) ends the thread after the
/// requests already handed in.
#[derive(Debug)]
pub(super) struct HotPath {
    sender: mpsc::Sender<Request>,
    /// Copies the WAL back into the database file beside the writer (`checkpoint.rs`).
    checkpointer: Checkpointer,
}

/// The account and its active device, in one row (the device columns are NULL when it has none).
const LOGIN_RECORD: &str = "\
    SELECT a.id, a.name, a.phone, a.email, a.password_hash, a.status, a.expires_on, a.groups, a.sms_fallback, \
           a.failures, a.locked_until, a.last_login_at, a.created_at, a.updated_at, \
           d.id, d.account_id, d.kind, d.algorithm, d.digits, d.period, d.sealed_seed, d.sealed_pin, \
           d.last_step, d.state, d.label, d.created_at, d.confirmed_at, d.last_used_at, d.last_use_fingerprint, \
           d.rowid \
    FROM accounts AS a LEFT JOIN devices AS d ON d.account_id = a.id AND d.state = 'active' \
    WHERE a.id = ?1";

/// The replay guard: the step is recorded only if it is after the last accepted one (compare-and-set) and the
/// account is not locked at the login's time (a lock set by failures settled meanwhile refuses the accept).
const ACCEPT_STEP: &str = "\
    UPDATE devices SET last_step = ?2, last_used_at = ?3, last_use_fingerprint = ?4 \
    WHERE id = ?1 AND state = 'active' AND (last_step IS NULL OR last_step < ?2) \
      AND NOT EXISTS (SELECT 1 FROM accounts AS a WHERE a.id = devices.account_id AND a.locked_until > ?3)";

/// [`ACCEPT_STEP`] on the row where the login's read found the device (`?5`, a [`RowHints`] entry): one
/// descent of the table instead of its ID index and then the table. The ID is checked all the same, so a
/// stale hint changes nothing; then the guard runs again by ID.
const ACCEPT_STEP_AT: &str = "\
    UPDATE devices SET last_step = ?2, last_used_at = ?3, last_use_fingerprint = ?4 \
    WHERE rowid = ?5 AND id = ?1 AND state = 'active' AND (last_step IS NULL OR last_step < ?2) \
      AND NOT EXISTS (SELECT 1 FROM accounts AS a WHERE a.id = devices.account_id AND a.locked_until > ?3)";

/// A batch of the thread that takes this long or longer is counted as a stall in the summary at shutdown: every
/// login that arrived meanwhile waited for it (the writer's backstop checkpoint and its `fsync`s, a page read or
/// a WAL write that waited for the disk or for a stolen CPU).
const STALL: Duration = Duration::from_millis(5);

/// Most device rows [`RowHints`] remembers (about 1 MiB); when full it starts again empty.
const ROW_HINTS: usize = 16_384;

/// A successful login clears the failure count and an expired lock (a lock set meanwhile stays). Only an
/// account that has something to clear is written: the login's time is on its device (`last_used_at`), so a
/// login dirties one random page of the database, not two.
const RECORD_SUCCESS: &str = "\
    UPDATE accounts SET failures = 0, \
           locked_until = CASE WHEN locked_until > ?2 THEN locked_until ELSE NULL END \
    WHERE id = ?1 AND (failures <> 0 OR (locked_until IS NOT NULL AND locked_until <= ?2))";

const AUDIT_HEAD: &str = "SELECT seq, mac FROM audit_log ORDER BY seq DESC LIMIT 1";

/// The key check value, read with the head: it names the key that links the next rows.
const KEY_CHECK_VALUE: &str = "SELECT value FROM meta WHERE key = 'key_check'";

/// The chain's head inside a write transaction: the last row's number and link, and the current span's key.
type Head = (i64, [u8; 32], ChainKey);

const AUDIT_INSERT: &str = "\
    INSERT INTO audit_log (seq, at, kind, actor, account_id, outcome, detail, mac) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

impl HotPath {
    /// Opens a connection to the database file at `path` (already created and migrated through sqlx) and
    /// starts the thread.
    pub(super) fn start(
        path: &Path,
        busy_timeout: Duration,
        chain: AuditChain,
        gate: Arc<tokio::sync::Mutex<()>>,
    ) -> Result<Self, StoreError> {
        let conn = open(path, busy_timeout)?;
        conn.pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)?;
        let checkpointer = Checkpointer::start(open(path, busy_timeout)?, path)?;
        let (sender, receiver) = mpsc::channel();
        let worker = Worker {
            conn,
            chain,
            gate,
            hints: RowHints::default(),
            counts: Counts::default(),
        };
        std::thread::Builder::new()
            .name("motpd-sqlite".to_owned())
            .spawn(move || worker.run(&receiver))
            .map_err(StoreError::Thread)?;
        Ok(Self {
            sender,
            checkpointer,
        })
    }

    /// The accounts among `ids` that exist, each with its active device.
    pub(super) async fn login_records(
        &self,
        ids: Vec<String>,
    ) -> Result<Vec<LoginRecord>, StoreError> {
        self.call(|reply| Request::Read(ids, reply)).await
    }

    /// Reserves one attempt on `counter` (in the batch's write transaction, before its accepted logins).
    pub(super) async fn reserve_attempt(
        &self,
        counter: Counter,
        id: &str,
        now: i64,
        policy: LockoutPolicy,
    ) -> Result<Option<Reservation>, StoreError> {
        let call = Reserve {
            counter,
            id: id.to_owned(),
            now,
            policy,
        };
        self.call(|reply| Request::Reserve(call, reply)).await
    }

    /// Records accepted logins in order; `true` for each whose step was after the device's last one. The audit
    /// row a winning login carries is appended in the same transaction.
    pub(super) async fn record_accepted_logins(
        &self,
        logins: Vec<AcceptedLogin>,
    ) -> Result<Vec<bool>, StoreError> {
        self.call(|reply| Request::Accept(logins, reply)).await
    }

    /// Appends `events` to the audit chain.
    pub(super) async fn append_audit(&self, events: Vec<AuditEvent>) -> Result<(), StoreError> {
        self.call(|reply| Request::Audit(events, reply)).await
    }

    /// Finishes the requests handed in so far and ends the thread.
    pub(super) async fn close(&self) {
        let (done, wait) = oneshot::channel();
        if self.sender.send(Request::Close(done)).is_ok() {
            let _ = wait.await;
        }
        self.checkpointer.stop();
    }

    async fn call<T>(&self, request: impl FnOnce(Reply<T>) -> Request) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.sender.send(request(reply)).map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }
}

fn closed() -> StoreError {
    StoreError::Backend(sqlx::Error::PoolClosed)
}

/// The connection settings of `sqlite.rs`, for this connection: WAL with `synchronous=NORMAL`, foreign keys,
/// the busy timeout, and a page cache of 4 MiB (every login touches pages all over the tables; a cache that is
/// too small re-reads and re-allocates pages all the time).
fn open(path: &Path, busy_timeout: Duration) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(busy_timeout)?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Corrupt(format!(
            "the database at {} cannot use WAL mode (it is in {mode} mode)",
            path.display()
        )));
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "cache_size", -4096)?;
    // Every statement of the thread stays prepared (it has 15; rusqlite keeps 16 by default and re-prepares what
    // falls out, thousands of instructions each).
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// The thread's side: the connection and what the writes need.
struct Worker {
    conn: Connection,
    chain: AuditChain,
    gate: Arc<tokio::sync::Mutex<()>>,
    hints: RowHints,
    counts: Counts,
}

/// Where the login reads found each device row (device ID → rowid), for the accept that usually follows within
/// milliseconds. The replay guard then goes to its row directly rather than through the device ID index: in a
/// busy hour logins come in no order, and that index's page is one more random page read per login. A hint is
/// taken once; a stale one (the row moved or was removed) costs a second statement, never a wrong answer.
#[derive(Debug, Default)]
struct RowHints(std::collections::HashMap<String, i64>);

impl RowHints {
    fn remember(&mut self, device_id: &str, rowid: i64) {
        if self.0.len() >= ROW_HINTS {
            self.0.clear();
        }
        self.0.insert(device_id.to_owned(), rowid);
    }

    fn take(&mut self, device_id: &str) -> Option<i64> {
        self.0.remove(device_id)
    }
}

/// What the thread did, logged when it stops (logins per transaction show how well group commit works; the
/// stalls and the longest batch and commit show what made the latency's tail).
#[derive(Debug, Default)]
struct Counts {
    batches: u64,
    reads: u64,
    transactions: u64,
    logins: u64,
    events: u64,
    stalls: u64,
    longest_batch: Duration,
    longest_commit: Duration,
}

impl Counts {
    /// One batch (its reads and writes) took `took`.
    fn batch_took(&mut self, took: Duration) {
        self.batches += 1;
        if took >= STALL {
            self.stalls += 1;
        }
        self.longest_batch = self.longest_batch.max(took);
    }

    /// One `COMMIT` (with the automatic checkpoint it may run) took `took`.
    fn commit_took(&mut self, took: Duration) {
        self.longest_commit = self.longest_commit.max(took);
    }
}

impl Worker {
    fn run(mut self, receiver: &mpsc::Receiver<Request>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while let Ok(first) = receiver.recv() {
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
            let started = Instant::now();
            let close = self.serve(&mut batch);
            self.counts.batch_took(started.elapsed());
            if let Some(done) = close {
                self.log_counts();
                let _ = done.send(());
                return;
            }
        }
        self.log_counts();
    }

    fn log_counts(&self) {
        let Counts {
            batches,
            reads,
            transactions,
            logins,
            events,
            stalls,
            longest_batch,
            longest_commit,
        } = self.counts;
        let millis = |took: Duration| format!("{:.1}", took.as_secs_f64() * 1000.0);
        tracing::info!(
            batches,
            reads,
            transactions,
            logins,
            events,
            batches_over_5ms = stalls,
            longest_batch_ms = %millis(longest_batch),
            longest_commit_ms = %millis(longest_commit),
            "SQLite hot path stopped"
        );
    }

    /// One batch: the reads, then the accepted logins in one transaction (answered at its `COMMIT`), then the
    /// audit appends in another. A login's answer never waits for audit rows: an audit batch of a few hundred
    /// rows takes milliseconds, and the Access-Accepts behind it would wait for all of it. Returns the close
    /// request, if there was one.
    fn serve(&mut self, batch: &mut Vec<Request>) -> Option<oneshot::Sender<()>> {
        let mut reads = Vec::new();
        let mut accepts = Vec::new();
        let mut audits = Vec::new();
        let mut close = None;
        for request in batch.drain(..) {
            match request {
                Request::Read(ids, reply) => reads.push((ids, reply)),
                Request::Close(done) => close = Some(done),
                write @ (Request::Accept(..) | Request::Reserve(..)) => accepts.push(write),
                audit @ Request::Audit(..) => audits.push(audit),
            }
        }
        if !reads.is_empty() {
            self.read(reads);
        }
        for writes in [accepts, audits] {
            if !writes.is_empty() {
                self.write(writes);
            }
        }
        close
    }

    /// Every read of the batch in one read transaction (one snapshot).
    fn read(&mut self, reads: Vec<(Vec<String>, Reply<Vec<LoginRecord>>)>) {
        let tx = match Tx::begin(&self.conn, "BEGIN DEFERRED") {
            Ok(tx) => tx,
            Err(error) => return fail_all(reads.into_iter().map(|(_, r)| r), error.into()),
        };
        for (ids, reply) in reads {
            self.counts.reads += u64::try_from(ids.len()).unwrap_or(u64::MAX);
            let _ = reply.send(login_records(&tx, &ids, &mut self.hints));
        }
        // Read-only: ending it (a rollback, on drop) cannot lose anything.
        drop(tx);
    }

    /// Every write of `writes` in one write transaction (group commit); answers after `COMMIT`. If the
    /// transaction fails, nothing of it is stored and each request is run again in a transaction of its own,
    /// so a request that cannot be stored fails alone — unless the database was locked past the busy timeout
    /// (another process holds the write lock): then every request fails at once, rather than each waiting out
    /// the timeout again while the logins behind them queue.
    fn write(&mut self, writes: Vec<Request>) {
        let gate = self.gate.clone();
        let _gate = gate.blocking_lock();
        let (reserves, accepts, audits) = split_writes(writes);
        let calls: Vec<&Reserve> = reserves.iter().map(|(r, _)| r).collect();
        let logins: Vec<&[AcceptedLogin]> = accepts.iter().map(|(l, _)| l.as_slice()).collect();
        let events: Vec<&[AuditEvent]> = audits.iter().map(|(e, _)| e.as_slice()).collect();
        match self.transaction(&calls, &logins, &events) {
            Ok((reserved, won)) => {
                for ((_, reply), reserved) in reserves.into_iter().zip(reserved) {
                    let _ = reply.send(Ok(reserved));
                }
                for ((_, reply), won) in accepts.into_iter().zip(won) {
                    let _ = reply.send(Ok(won));
                }
                for (_, reply) in audits {
                    let _ = reply.send(Ok(()));
                }
            }
            Err(error) if reserves.len() + accepts.len() + audits.len() > 1 && !is_busy(&error) => {
                for (call, reply) in reserves {
                    let outcome = self.transaction(&[&call], &[], &[]);
                    let _ = reply.send(outcome.map(|(mut r, _)| r.pop().flatten()));
                }
                for (logins, reply) in accepts {
                    let outcome = self.transaction(&[], &[&logins], &[]);
                    let _ = reply.send(outcome.map(|(_, mut won)| won.pop().unwrap_or_default()));
                }
                for (events, reply) in audits {
                    let outcome = self.transaction(&[], &[], &[&events]);
                    let _ = reply.send(outcome.map(|_| ()));
                }
            }
            Err(error) => {
                let replies = reserves.into_iter().map(|(_, r)| Answer::Reserve(r));
                let replies = replies.chain(accepts.into_iter().map(|(_, r)| Answer::Accept(r)));
                let replies = replies.chain(audits.into_iter().map(|(_, r)| Answer::Audit(r)));
                let shared = Arc::new(error);
                for reply in replies {
                    reply.fail(StoreError::Batched(shared.clone()));
                }
            }
        }
    }

    /// One write transaction: the reservations, the accepted logins of every request (in order), then the
    /// audit events.
    fn transaction(
        &mut self,
        reserves: &[&Reserve],
        accepts: &[&[AcceptedLogin]],
        audits: &[&[AuditEvent]],
    ) -> Result<Reserved, StoreError> {
        let tx = Tx::begin(&self.conn, "BEGIN IMMEDIATE")?;
        let reserved = reserves
            .iter()
            .map(|call| reserve(&tx, call))
            .collect::<Result<Vec<_>, _>>()?;
        let mut won = Vec::with_capacity(accepts.len());
        // The audit chain's head, read when the first row is appended.
        let mut head = None;
        let mut events = 0;
        for logins in accepts {
            let (request_won, audited) =
                accept(&tx, &self.chain, &mut head, &mut self.hints, logins)?;
            won.push(request_won);
            events += audited;
        }
        if !audits.is_empty() {
            let mut at = match head {
                Some(head) => head,
                None => audit_head(&tx, &self.chain)?,
            };
            for batch in audits {
                at = append(&tx, at, batch)?;
                events += batch.len();
            }
        }
        let committing = Instant::now();
        tx.commit()?;
        self.counts.commit_took(committing.elapsed());
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        self.counts.transactions += 1;
        self.counts.logins += count(accepts.iter().map(|l| l.len()).sum());
        self.counts.events += count(events);
        Ok((reserved, won))
    }
}

/// A transaction begun and committed with cached statements (rusqlite's `Transaction` parses `BEGIN` and
/// `COMMIT` anew each time: thousands of instructions per statement, several per login). Rolled back on drop
/// unless committed, as `Transaction` is.
struct Tx<'c> {
    conn: &'c Connection,
}

impl<'c> Tx<'c> {
    fn begin(conn: &'c Connection, begin: &'static str) -> rusqlite::Result<Self> {
        conn.prepare_cached(begin)?.execute([])?;
        Ok(Self { conn })
    }

    fn commit(self) -> rusqlite::Result<()> {
        self.conn.prepare_cached("COMMIT")?.execute([])?;
        Ok(())
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        // Still open: not committed, or its `COMMIT` failed (busy). A failing rollback is ignored, as
        // `Transaction`'s drop does.
        if !self.conn.is_autocommit() {
            let _ = self
                .conn
                .prepare_cached("ROLLBACK")
                .and_then(|mut rollback| rollback.execute([]));
        }
    }
}

/// What a write transaction answers: each reservation, and the accepted logins' outcomes per request.
type Reserved = (Vec<Option<Reservation>>, Vec<Vec<bool>>);

/// One reservation (see `store/lockout.rs`): the counting `UPDATE`, and why not when it counted nothing.
fn reserve(conn: &Connection, call: &Reserve) -> Result<Option<Reservation>, StoreError> {
    let statements = call.counter.sqlite();
    let threshold = i64::from(call.policy.threshold);
    let granted: Option<i64> = conn
        .prepare_cached(statements.reserve)?
        .query_row(
            params![call.id, call.now, threshold, call.policy.lock_seconds],
            |row| row.get(0),
        )
        .optional()?;
    if let Some(failures) = granted {
        return Ok(Some(Reservation::Granted {
            failures: lockout::count(failures)?,
        }));
    }
    let row = conn
        .prepare_cached(lockout::REFUSAL)?
        .query_row([&call.id], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .optional()?;
    Ok(row.map(|row| Reservation::Refused {
        until: lockout::refusal_until(call.counter, row, call.now, call.policy),
    }))
}

type Pending<T, R> = Vec<(Vec<T>, Reply<R>)>;

/// The write requests of a batch by kind, each in arrival order.
fn split_writes(writes: Vec<Request>) -> SplitWrites {
    let mut reserves = Vec::new();
    let mut accepts = Vec::new();
    let mut audits = Vec::new();
    for request in writes {
        match request {
            Request::Reserve(call, reply) => reserves.push((call, reply)),
            Request::Accept(logins, reply) => accepts.push((logins, reply)),
            Request::Audit(events, reply) => audits.push((events, reply)),
            Request::Read(..) | Request::Close(_) => {}
        }
    }
    (reserves, accepts, audits)
}

type SplitWrites = (
    Vec<(Reserve, Reply<Option<Reservation>>)>,
    Pending<AcceptedLogin, Vec<bool>>,
    Pending<AuditEvent, ()>,
);

/// A write request's reply, whatever it answers.
enum Answer {
    Reserve(Reply<Option<Reservation>>),
    Accept(Reply<Vec<bool>>),
    Audit(Reply<()>),
}

impl Answer {
    fn fail(self, error: StoreError) {
        match self {
            Self::Reserve(reply) => drop(reply.send(Err(error))),
            Self::Accept(reply) => drop(reply.send(Err(error))),
            Self::Audit(reply) => drop(reply.send(Err(error))),
        }
    }
}

/// Whether `error` is SQLite's "database is busy / locked" (the busy timeout ran out).
fn is_busy(error: &StoreError) -> bool {
    matches!(
        error,
        StoreError::Sqlite(rusqlite::Error::SqliteFailure(failure, _))
            if matches!(
                failure.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            )
    )
}

/// Answers every reply with the same error.
fn fail_all<T>(replies: impl Iterator<Item = Reply<T>>, error: StoreError) {
    let shared = Arc::new(error);
    for reply in replies {
        let _ = reply.send(Err(StoreError::Batched(shared.clone())));
    }
}

fn login_records(
    conn: &Connection,
    ids: &[String],
    hints: &mut RowHints,
) -> Result<Vec<LoginRecord>, StoreError> {
    let mut statement = conn.prepare_cached(LOGIN_RECORD)?;
    let mut records = Vec::with_capacity(ids.len());
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    for id in ids {
        if !seen.insert(id.as_str()) {
            continue; // each account once, however often it is asked for
        }
        if let Some((row, rowid)) = statement.query_row([id], hinted_login_row).optional()? {
            if let (Some(device), Some(rowid)) = (&row.device, rowid) {
                hints.remember(&device.id, rowid);
            }
            records.push(LoginRecord::try_from(row)?);
        }
    }
    Ok(records)
}

/// A [`LOGIN_RECORD`] row and its device's rowid.
fn hinted_login_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(LoginRow, Option<i64>)> {
    Ok((login_row(row)?, row.get(29)?))
}

fn login_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<LoginRow> {
    let account = AccountRow {
        id: row.get(0)?,
        name: row.get(1)?,
        phone: row.get(2)?,
        email: row.get(3)?,
        password_hash: row.get(4)?,
        status: row.get(5)?,
        expires_on: row.get(6)?,
        groups: row.get(7)?,
        sms_fallback: row.get(8)?,
        failures: row.get(9)?,
        locked_until: row.get(10)?,
        last_login_at: row.get(11)?,
        created_at: row.get(12)?,
        updated_at: row.get(13)?,
    };
    let device = match row.get::<_, Option<String>>(14)? {
        None => None,
        Some(id) => Some(DeviceRow {
            id,
            account_id: row.get(15)?,
            kind: row.get(16)?,
            algorithm: row.get(17)?,
            digits: row.get(18)?,
            period: row.get(19)?,
            sealed_seed: row.get(20)?,
            sealed_pin: row.get(21)?,
            last_step: row.get(22)?,
            state: row.get(23)?,
            label: row.get(24)?,
            created_at: row.get(25)?,
            confirmed_at: row.get(26)?,
            last_used_at: row.get(27)?,
            last_use_fingerprint: row.get(28)?,
        }),
    };
    Ok(LoginRow { account, device })
}

/// The logins in order: the compare-and-set per device (a second login of the same device in the batch sees the
/// first one's step), and for each winner its success bookkeeping and the audit row it carries (appended after
/// `head`, which is read first if `None`). Returns which won, and how many audit rows were appended.
fn accept(
    conn: &Connection,
    chain: &AuditChain,
    head: &mut Option<Head>,
    hints: &mut RowHints,
    logins: &[AcceptedLogin],
) -> Result<(Vec<bool>, usize), StoreError> {
    let mut guard = conn.prepare_cached(ACCEPT_STEP)?;
    let mut guard_at = conn.prepare_cached(ACCEPT_STEP_AT)?;
    let mut success = conn.prepare_cached(RECORD_SUCCESS)?;
    let mut won = Vec::with_capacity(logins.len());
    let mut audited = 0;
    for login in logins {
        let fingerprint = login.fingerprint.as_deref();
        let (id, step, now) = (&login.device_id, login.step, login.now);
        let mut changed = 0;
        if let Some(rowid) = hints.take(id) {
            changed = guard_at.execute(params![id, step, now, fingerprint, rowid])?;
        }
        if changed == 0 {
            changed = guard.execute(params![id, step, now, fingerprint])?;
        }
        if changed == 1 {
            success.execute(params![login.account_id, login.now])?;
            if let Some(event) = &login.audit {
                let after = match head.take() {
                    Some(after) => after,
                    None => audit_head(conn, chain)?,
                };
                *head = Some(append(conn, after, std::slice::from_ref(event))?);
                audited += 1;
            }
        }
        won.push(changed == 1);
    }
    Ok((won, audited))
}

/// Appends `events` after `head`; returns the new head.
fn append(
    conn: &Connection,
    (mut seq, mut prev, key): Head,
    events: &[AuditEvent],
) -> Result<Head, StoreError> {
    let mut insert = conn.prepare_cached(AUDIT_INSERT)?;
    for event in events {
        seq += 1;
        let mac = key.link(&prev, seq, event);
        insert.execute(params![
            seq,
            event.at,
            event.kind,
            event.actor,
            event.account_id,
            event.outcome,
            event.detail,
            &mac[..]
        ])?;
        prev = mac;
    }
    Ok((seq, prev, key))
}

/// The head and the key of the current span (under the write lock, so a rotation cannot commit in between).
fn audit_head(conn: &Connection, chain: &AuditChain) -> Result<Head, StoreError> {
    let key_check: Option<Vec<u8>> = conn
        .prepare_cached(KEY_CHECK_VALUE)?
        .query_row([], |row| row.get(0))
        .optional()?;
    let key = chain.span(key_check.as_deref())?;
    let head: Option<(i64, Vec<u8>)> = conn
        .prepare_cached(AUDIT_HEAD)?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    match head {
        None => Ok((0, GENESIS_MAC, key)),
        Some((seq, mac)) => {
            let mac = <[u8; 32]>::try_from(mac.as_slice()).map_err(|_| {
                StoreError::Corrupt(format!("audit row {seq} has a MAC of {} bytes", mac.len()))
            })?;
            Ok((seq, mac, key))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counts_keep_the_stalls_and_the_longest_batch_and_commit() {
        let mut counts = Counts::default();
        counts.batch_took(Duration::from_micros(300));
        counts.batch_took(STALL);
        counts.batch_took(Duration::from_millis(31));
        counts.batch_took(Duration::from_millis(2));
        counts.commit_took(Duration::from_millis(9));
        counts.commit_took(Duration::from_millis(1));
        assert_eq!(counts.batches, 4);
        assert_eq!(counts.stalls, 2, "5 ms and 31 ms");
        assert_eq!(counts.longest_batch, Duration::from_millis(31));
        assert_eq!(counts.longest_commit, Duration::from_millis(9));
    }
}
