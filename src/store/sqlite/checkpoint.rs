//! SQLite: WAL checkpoints on a thread of their own, so that a login's commit rarely pays for them.
//!
//! A checkpoint copies the pages committed to the WAL back into the database file and syncs both files
//! (`synchronous=NORMAL`): milliseconds of `fsync` on an ordinary disk. Run inside the hot path's commit (SQLite's
//! automatic checkpoint), every login queued behind that commit waits for it; that was the long tail of a
//! login's latency. Here a second connection runs `PRAGMA wal_checkpoint(PASSIVE)` every
//! [`CHECKPOINT_INTERVAL`]: it neither waits for nor blocks the writer.
//!
//! The hot path keeps a higher automatic checkpoint ([`WRITER_CHECKPOINT_PAGES`]) as the backstop that lets the
//! WAL start over: under steady load a passive checkpoint never catches the writer's last frames, and only a
//! checkpoint by the writer itself completes the WAL so that the next commit writes from its start again. By
//! then this thread has copied almost every frame, so that checkpoint is mostly its two `fsync`s. Without the
//! backstop the WAL file would grow for as long as the load lasts. (Before this thread existed, a growing WAL
//! also cost 15–20 % more CPU per login: every page read searched the whole WAL index. Now a reader searches
//! only the frames past what this thread has copied back.)

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::Connection;

use crate::store::StoreError;

/// How often the checkpointer copies committed WAL frames back. What it has not reached, the writer's backstop
/// checkpoint copies and syncs while every login waits (the latency's tail), so shorter is better down to the
/// point where it stops helping (BENCHMARKS.md, "what limits each figure").
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(10);

/// The writer's own automatic checkpoint, in WAL pages (SQLite's default is 1,000): about 256 MiB of WAL. Each
/// backstop stalls the writer for its two `fsync`s and every login queued meanwhile waits, so fewer backstops
/// give a lower p99 at the same CPU per login. A larger WAL does not make reads dearer (a reader searches only
/// the frames past what this thread has copied back); the cost is disk space, as the WAL keeps its largest size.
pub(super) const WRITER_CHECKPOINT_PAGES: u32 = 64_000;

/// The running checkpointer; dropping it (or [`Checkpointer::stop`]) ends the thread after one last pass.
#[derive(Debug)]
pub(super) struct Checkpointer {
    stop: std::sync::Mutex<Option<mpsc::Sender<()>>>,
}

impl Checkpointer {
    /// Starts the thread on `conn`, a connection of its own to the database file at `path`.
    pub(super) fn start(conn: Connection, path: &Path) -> Result<Self, StoreError> {
        let (stop, stopped) = mpsc::channel();
        let path = path.display().to_string();
        std::thread::Builder::new()
            .name("motpd-checkpoint".to_owned())
            .spawn(move || run(&conn, &stopped, &path))
            .map_err(StoreError::Thread)?;
        Ok(Self {
            stop: std::sync::Mutex::new(Some(stop)),
        })
    }

    /// Ends the thread (after its last pass; it does not wait for it).
    pub(super) fn stop(&self) {
        self.stop
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
    }
}

fn run(conn: &Connection, stopped: &mpsc::Receiver<()>, path: &str) {
    let mut failing = false;
    loop {
        let last = !matches!(
            stopped.recv_timeout(CHECKPOINT_INTERVAL),
            Err(mpsc::RecvTimeoutError::Timeout)
        );
        match checkpoint(conn) {
            Ok(()) if failing => {
                tracing::info!(database = path, "WAL checkpoints work again");
                failing = false;
            }
            Ok(()) => {}
            Err(error) if !failing => {
                // Not fatal: the writer's own checkpoint still bounds the WAL. Logged once per failure streak.
                tracing::warn!(database = path, %error, "WAL checkpoint failed; will try again");
                failing = true;
            }
            Err(_) => {}
        }
        if last {
            return;
        }
    }
}

/// One passive checkpoint: copies what it can without waiting for anyone.
fn checkpoint(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn connection(path: &Path) -> Connection {
        let conn = Connection::open(path).expect("open");
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .expect("WAL");
        assert_eq!(mode, "wal");
        conn
    }

    /// Commits ~1 MiB that only the WAL holds (the writer itself never checkpoints here).
    fn write_to_wal(conn: &Connection) {
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .expect("pragma");
        conn.execute_batch("CREATE TABLE t (v BLOB)")
            .expect("table");
        for _ in 0..1000 {
            conn.execute("INSERT INTO t VALUES (zeroblob(1024))", [])
                .expect("insert");
        }
    }

    fn file_len(path: &Path) -> u64 {
        std::fs::metadata(path).map_or(0, |m| m.len())
    }

    #[test]
    #[allow(
        clippy::disallowed_methods,
        reason = "a plain test thread polls a file; no runtime here"
    )]
    fn committed_pages_reach_the_database_file_without_the_writer() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("t.db");
        let writer = connection(&path);
        write_to_wal(&writer);
        assert!(file_len(&path) < 100_000, "the pages are still in the WAL");

        let checkpointer = Checkpointer::start(connection(&path), &path).expect("start");
        let deadline = Instant::now() + Duration::from_secs(5);
        while file_len(&path) < 1_000_000 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        checkpointer.stop();
        assert!(
            file_len(&path) >= 1_000_000,
            "the checkpointer copied the WAL into the database file ({} bytes)",
            file_len(&path)
        );
        // The writer's next commit may start the WAL over: everything in it is in the database file.
        let (log, copied): (i64, i64) = writer
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                Ok((row.get(1)?, row.get(2)?))
            })
            .expect("checkpoint");
        assert_eq!(log, copied);
    }
}
