//! `motpd backup` and `motpd restore`, the real binary against real databases: a backup taken while a node
//! serves RADIUS logins, restored into a new directory where every account logs in again with its device and
//! the audit trail is whole; and the refusals: restore while `motpd serve` holds the database, a damaged
//! backup, a backup under another key, a broken audit chain, PostgreSQL, an existing file without --force.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use motpd::otp::Kind;
use motpd::radius::Code;
use motpd::store::AccountStatus;

use crate::common::NOW;
use crate::common::fixture::{EngineFixture, test_key};
use crate::common::radius_client::{RadiusFixture, Reply, SECRET, TestClient, parse_reply};

const PW: &str = "Nurse2024";
/// Accounts enrolled for the test under load.
const ACCOUNTS: usize = 50;
/// Concurrent RADIUS clients of the load.
const CLIENTS: usize = 5;

/// A directory with `motpd.toml` (from `motpd init`), the fixtures' key as `motpd.key`, and `motpd.db`.
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    /// A new site whose database was created by `motpd init` under the fixtures' key.
    fn new() -> Self {
        let site = Self::without_database();
        site.ok(&["init"]);
        site
    }

    /// The configuration and key of a site, without a database.
    fn without_database() -> Self {
        let site = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        write_key(&site.path("motpd.key"), &hex::encode([42u8; 32]));
        site
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn url(&self) -> String {
        format!("sqlite://{}", self.path("motpd.db").display())
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_motpd"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("MOTPD_CONFIG")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "motpd {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a command that must fail with `code`; returns its stderr.
    fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "motpd {args:?}: {}",
            text(&out)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Edits `motpd.toml`.
    fn configure(&self, edit: impl FnOnce(&mut toml::Table)) {
        let path = self.path("motpd.toml");
        let mut table: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
        edit(&mut table);
        std::fs::write(&path, toml::to_string(&table).unwrap()).unwrap();
    }

    /// `audit verify --json` of the site.
    fn audit_verify(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["audit", "verify", "--json"])).unwrap()
    }
}

fn write_key(path: &Path, hex_key: &str) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap();
    writeln!(file, "{hex_key}").unwrap();
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The number before `label` in the output of `backup`/`restore` (`50 account(s)`).
fn count(output: &str, label: &str) -> i64 {
    let at = output
        .find(label)
        .unwrap_or_else(|| panic!("no {label:?} in {output}"));
    output[..at]
        .split_whitespace()
        .last()
        .and_then(|n| n.trim_start_matches(',').parse().ok())
        .unwrap_or_else(|| panic!("no number before {label:?} in {output}"))
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The account IDs of the load test.
fn ids() -> Vec<String> {
    (0..ACCOUNTS).map(|i| format!("nurse{i:03}")).collect()
}

/// One round: every account logs in once with the code of the clock's current step, from `CLIENTS`
/// concurrent clients. Returns the logins that were not accepted.
async fn login_round(server: std::net::SocketAddr, f: &EngineFixture) -> Vec<String> {
    let code = f.code_now();
    let ids = ids();
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in ids.chunks(ACCOUNTS.div_ceil(CLIENTS)) {
        let chunk = chunk.to_vec();
        let password = format!("{PW}{code}");
        tasks.spawn(async move {
            let mut client = TestClient::new(server, SECRET).await;
            let mut failed = Vec::new();
            for id in chunk {
                match login(&mut client, &id, &password).await {
                    Some(reply) if reply.code == Code::AccessAccept => {}
                    Some(reply) => {
                        failed.push(format!("{id}: {:?} {}", reply.code, reply.messages));
                    }
                    None => failed.push(format!("{id}: no reply")),
                }
            }
            failed
        });
    }
    let mut failed = Vec::new();
    while let Some(done) = tasks.join_next().await {
        failed.extend(done.unwrap());
    }
    failed
}

/// One Access-Request, retransmitted unchanged as a NAS does (every 3 s, 5 tries) until its reply comes: a
/// node short of CPU sheds requests and answers the retransmission (or its duplicate cache does). A late reply
/// to an earlier request (another Identifier) is skipped.
async fn login(client: &mut TestClient, id: &str, password: &str) -> Option<Reply> {
    let (bytes, authenticator) = client.request(id, password.as_bytes(), None);
    for _ in 0..5 {
        client.socket.send_to(&bytes, client.server).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        let mut buf = vec![0u8; 4096];
        while let Ok(Ok((n, _))) =
            tokio::time::timeout_at(deadline, client.socket.recv_from(&mut buf)).await
        {
            if n > 1 && buf[1] == bytes[1] {
                return Some(parse_reply(&buf[..n], &authenticator, SECRET));
            }
        }
    }
    None
}

/// Backup while logins run, restore into a new directory, and every account logs in there.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_under_load_restores_into_a_new_directory_where_everyone_logs_in() {
    let live = Site::new();
    let f = EngineFixture::open(&live.url(), |_| {}).await;
    let hash = motpd::password::hash_password(PW.as_bytes()).unwrap();
    for id in ids() {
        f.account_with_hash(&id, Some(hash.clone()), AccountStatus::Active)
            .await;
        f.device(&id, Kind::Totp).await;
    }
    let server = RadiusFixture::start(f, true).await;
    let auth = server.auth;
    let server = Arc::new(server);

    // The load: rounds of logins, the clock one step further after each, until told to stop.
    let rounds = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (server, rounds, stop) = (server.clone(), rounds.clone(), stop.clone());
        tokio::spawn(async move {
            let mut failed = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                failed.extend(login_round(auth, &server.f).await);
                server.f.clock.advance(30);
                rounds.fetch_add(1, Ordering::SeqCst);
            }
            failed
        })
    };
    wait_for(|| rounds.load(Ordering::SeqCst) >= 1).await;
    let rows_before = server.f.store.audit_page(0, 1_000_000).await.unwrap().len() as i64;
    let backups = tempfile::tempdir().unwrap();
    let file = backups.path().join("motpd-backup.db");
    let backup_output = {
        let (dir, file) = (live.dir.path().to_owned(), file.clone());
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_motpd"))
                .args(["backup", file.to_str().unwrap()])
                .current_dir(dir)
                .env_remove("MOTPD_CONFIG")
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    };
    assert!(backup_output.status.success(), "{}", text(&backup_output));
    let printed = String::from_utf8_lossy(&backup_output.stdout).into_owned();
    // Logins went on after the backup too.
    let round_at_end = rounds.load(Ordering::SeqCst);
    wait_for(|| rounds.load(Ordering::SeqCst) > round_at_end).await;
    stop.store(true, Ordering::SeqCst);
    let failed = load.await.unwrap();
    let total_rounds = rounds.load(Ordering::SeqCst);
    assert!(
        failed.is_empty(),
        "logins failed during the backup: {failed:?}"
    );
    assert_eq!(count(&printed, "account(s)"), ACCOUNTS as i64, "{printed}");
    assert_eq!(count(&printed, "device(s)"), ACCOUNTS as i64, "{printed}");
    assert!(printed.contains("chain ok") && printed.contains("key check value matches"));
    assert!(
        printed.contains("The key file is not in the backup"),
        "{printed}"
    );
    let backup_rows = count(&printed, "audit row(s)");
    assert!(backup_rows >= rows_before, "{backup_rows} < {rows_before}");
    assert_eq!(mode(&file), 0o600);
    let live_rows = server.f.store.audit_page(0, 1_000_000).await.unwrap();
    let server = Arc::into_inner(server).unwrap();
    let last_used = motpd::clock::Clock::now(&server.f.clock);
    server.stop().await;

    // Restore into a new directory: the same configuration and key, no database yet.
    let restored = Site::without_database();
    std::fs::copy(live.path("motpd.toml"), restored.path("motpd.toml")).unwrap();
    let out = restored.ok(&["restore", file.to_str().unwrap()]);
    assert!(out.contains("there was no database to replace"), "{out}");
    assert_eq!(count(&out, "account(s)"), ACCOUNTS as i64, "{out}");
    assert_eq!(mode(&restored.path("motpd.db")), 0o600);
    let verify = restored.audit_verify();
    assert_eq!(verify["ok"], true, "{verify}");
    // The backup's rows, then the restore's own row.
    assert_eq!(verify["rows"], backup_rows + 1, "{verify}");

    let g = EngineFixture::open(&restored.url(), |_| {}).await;
    let restored_rows = g.store.audit_page(0, 1_000_000).await.unwrap();
    let n = usize::try_from(backup_rows).unwrap();
    assert_eq!(
        restored_rows[..n]
            .iter()
            .map(|r| (r.seq, r.mac))
            .collect::<Vec<_>>(),
        live_rows[..n]
            .iter()
            .map(|r| (r.seq, r.mac))
            .collect::<Vec<_>>(),
        "the rows present at backup time are the live database's"
    );
    assert_eq!(restored_rows[n].event.kind, "admin.restore");
    for id in ids() {
        let device = g.store.active_device(&id).await.unwrap();
        assert!(
            device.is_some_and(|d| d.last_step.is_some()),
            "{id}: no device, or its last step lost"
        );
    }
    // Every account logs in on the restored database, with the code of a later step (the replay guard keeps
    // the last step each one used).
    g.clock.set(last_used.max(NOW) + 30);
    let node = RadiusFixture::start_without_client(g).await;
    let failed = login_round(node.auth, &node.f).await;
    assert!(failed.is_empty(), "after {total_rounds} rounds: {failed:?}");
    node.stop().await;
    assert_eq!(restored.audit_verify()["ok"], true);
}

/// Polls `done` every 20 ms, for at most 60 s.
async fn wait_for(done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A `motpd serve` child, killed if the test fails first.
struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits in a plain `#[test]` (no runtime here to block).
#[allow(clippy::disallowed_methods)]
fn pause(duration: Duration) {
    std::thread::sleep(duration);
}

/// Whether someone holds a lock on `lock` (our own exclusive try fails).
fn locked(lock: &Path) -> bool {
    let Ok(file) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(lock)
    else {
        return false;
    };
    file.try_lock().is_err()
}

#[test]
fn restore_is_refused_while_serve_holds_the_database_and_a_backup_is_not() {
    let site = Site::new();
    site.ok(&["user", "add", "alice"]);
    site.configure(|t| {
        let radius = t["radius"].as_table_mut().unwrap();
        radius.insert("listen".into(), vec!["127.0.0.1:0"].into());
        radius.insert("accounting_listen".into(), Vec::<String>::new().into());
        t["web"]
            .as_table_mut()
            .unwrap()
            .insert("listen".into(), "127.0.0.1:0".into());
    });
    let first = site.path("first.db");
    site.ok(&["backup", first.to_str().unwrap()]);
    let child = Command::new(env!("CARGO_BIN_EXE_motpd"))
        .arg("serve")
        .current_dir(site.dir.path())
        .env_remove("MOTPD_CONFIG")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut serving = Serving(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !locked(&site.path("motpd.db.lock")) {
        assert!(Instant::now() < deadline, "serve never took its lock");
        assert!(serving.0.try_wait().unwrap().is_none(), "serve exited");
        pause(Duration::from_millis(20));
    }
    // The server may still be writing (start-up), so "untouched" is: the same file, nothing set aside.
    let inode =
        |path: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(path).unwrap());
    let db_before = inode(&site.path("motpd.db"));
    let err = site.fails(&["restore", first.to_str().unwrap()], 10);
    assert!(
        err.contains("is in use") && err.contains("Stop the service"),
        "{err}"
    );
    assert_eq!(inode(&site.path("motpd.db")), db_before);
    let set_aside = std::fs::read_dir(site.dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .any(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .contains("before-restore")
        });
    assert!(!set_aside, "a refused restore set nothing aside");
    // A backup works while the server runs.
    let second = site.path("second.db");
    site.ok(&["backup", second.to_str().unwrap()]);

    // SIGTERM: the server stops gracefully and its lock goes with it.
    let kill = Command::new("kill")
        .args(["-TERM", &serving.0.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = serving.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
    drop(serving);
    site.ok(&["user", "add", "bob"]);
    let out = site.ok(&["restore", second.to_str().unwrap()]);
    assert!(out.contains("is kept as"), "{out}");
    // bob came after the backup: gone from the restored database, there in the kept one.
    let users = site.ok(&["user", "list", "--json"]);
    assert!(users.contains("alice") && !users.contains("bob"), "{users}");
    let kept = kept_databases(&site);
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(mode(&kept[0]), 0o600);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let bob_kept = runtime.block_on(async {
        use sqlx::Connection;
        let url = format!("sqlite://{}?mode=ro", kept[0].display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE id = 'bob'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        n
    });
    assert_eq!(bob_kept, 1, "the replaced database is kept whole");
    assert_eq!(site.audit_verify()["ok"], true);
}

/// The `motpd.db.before-restore-*` files of `site` (not their `-wal`).
fn kept_databases(site: &Site) -> Vec<PathBuf> {
    std::fs::read_dir(site.dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("motpd.db.before-restore-") && !name.ends_with("-wal")
        })
        .collect()
}

/// Whether two files have the same bytes (without printing them when they differ).
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a == b
}

#[test]
fn a_damaged_backup_is_refused_and_the_live_database_is_untouched() {
    let site = Site::new();
    for id in ["alice", "bob", "carol"] {
        site.ok(&["user", "add", id]);
    }
    let file = site.path("backup.db");
    site.ok(&["backup", file.to_str().unwrap()]);
    let mut bytes = std::fs::read(&file).unwrap();
    let pages = bytes.len() / 4096;
    assert!(pages > 4);
    // Garble a page in the middle: SQLite's integrity check (or the first read) finds it.
    let middle = (pages / 2) * 4096;
    for b in &mut bytes[middle..middle + 4096] {
        *b ^= 0xA5;
    }
    let damaged = site.path("damaged.db");
    std::fs::write(&damaged, &bytes).unwrap();
    // And a file whose header is gone.
    bytes[..16].copy_from_slice(b"not a database!!");
    let headless = site.path("headless.db");
    std::fs::write(&headless, &bytes).unwrap();

    let before = std::fs::read(site.path("motpd.db")).unwrap();
    for bad in [&damaged, &headless] {
        let err = site.fails(&["restore", bad.to_str().unwrap()], 11);
        assert!(
            err.contains("failed verification") && err.contains("Nothing was changed"),
            "{err}"
        );
    }
    let err = site.fails(&["restore", site.path("missing.db").to_str().unwrap()], 11);
    assert!(err.contains("failed verification"), "{err}");
    assert!(same_bytes(
        &std::fs::read(site.path("motpd.db")).unwrap(),
        &before
    ));
    let leftovers: Vec<String> = std::fs::read_dir(site.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("before-restore") || n.contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert_eq!(
        count(&site.ok(&["restore", file.to_str().unwrap()]), "account(s)"),
        3
    );
}

#[test]
fn a_backup_under_another_key_is_refused_with_exit_4() {
    let ours = Site::new();
    ours.ok(&["user", "add", "alice"]);
    let theirs = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_motpd"))
            .args(args)
            .current_dir(theirs.path())
            .env_remove("MOTPD_CONFIG")
            .output()
            .unwrap()
    };
    assert!(run(&["init"]).status.success());
    assert!(run(&["user", "add", "mallory"]).status.success());
    let foreign = theirs.path().join("foreign.db");
    let out = run(&["backup", foreign.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let before = std::fs::read(ours.path("motpd.db")).unwrap();
    let err = ours.fails(&["restore", foreign.to_str().unwrap()], 4);
    assert!(err.contains("another master key"), "{err}");
    assert!(same_bytes(
        &std::fs::read(ours.path("motpd.db")).unwrap(),
        &before
    ));
    assert!(ours.ok(&["user", "list"]).contains("alice"));
}

#[test]
fn a_broken_audit_chain_fails_the_backup_and_writes_no_file() {
    let site = Site::new();
    site.ok(&["user", "add", "alice"]);
    site.ok(&["user", "lock", "alice"]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&site.url()).await.unwrap();
        sqlx::query("UPDATE audit_log SET outcome = 'error' WHERE seq = 2")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    });
    let file = site.path("backup.db");
    let err = site.fails(&["backup", file.to_str().unwrap()], 11);
    assert!(
        err.contains("audit trail is broken") && err.contains("audit row 2"),
        "{err}"
    );
    assert!(!file.exists());
    let leftovers: Vec<_> = std::fs::read_dir(site.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn backups_are_private_and_overwritten_only_with_force() {
    let site = Site::new();
    site.ok(&["user", "add", "alice"]);
    let file = site.path("backup.db");
    // A permissive umask does not make the backup readable by others.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 000 && exec {} backup {}",
            env!("CARGO_BIN_EXE_motpd"),
            file.display()
        ))
        .current_dir(site.dir.path())
        .env_remove("MOTPD_CONFIG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(mode(&file), 0o600);
    let first = std::fs::read(&file).unwrap();
    site.ok(&["user", "add", "bob"]);
    let err = site.fails(&["backup", file.to_str().unwrap()], 7);
    assert!(err.contains("--force"), "{err}");
    assert!(same_bytes(&std::fs::read(&file).unwrap(), &first));
    let out = site.ok(&["backup", "--force", file.to_str().unwrap()]);
    assert_eq!(count(&out, "account(s)"), 2, "{out}");
    assert_eq!(mode(&file), 0o600);
}

#[test]
fn postgresql_gets_the_procedure_and_exit_9() {
    let site = Site::without_database();
    let toml = "[database]\nurl = \"postgres://motpd@127.0.0.1:5432/motpd\"\n\n[secrets]\nkey_file = \"motpd.key\"\n";
    std::fs::write(site.path("motpd.toml"), toml).unwrap();
    for command in ["backup", "restore"] {
        let err = site.fails(&[command, "/tmp/motpd-never-written.db"], 9);
        for needle in [
            "PostgreSQL",
            "pg_dump -Fc",
            "pg_restore",
            "pg_basebackup",
            "WAL archiving",
            "key file",
        ] {
            assert!(err.contains(needle), "{command}: no {needle:?} in {err}");
        }
    }
    assert!(!Path::new("/tmp/motpd-never-written.db").exists());
    let help = site.ok(&["--help"]);
    for code in [
        "9 backup or restore asked of a PostgreSQL",
        "10 the database is in use",
        "11 backup file failed verification",
    ] {
        assert!(help.replace('\n', " ").contains(code), "{help}");
    }
}

/// The fixtures' key as the test key file holds it.
#[test]
fn the_site_key_is_the_fixtures_key() {
    let site = Site::without_database();
    let key = motpd::secrets::MasterKey::load(&site.path("motpd.key")).unwrap();
    assert_eq!(key.key_id(), test_key().key_id());
}
