//! `motpd config check` end to end with the real binary: every check passes on a fresh `motpd init` directory;
//! a bad configuration, a wrong or exposed key, a missing or partly migrated database each fail with their
//! documented exit code (3, 4, 5) and the line that says what to do; `--reach` talks to a real SMTP server
//! (aiosmtpd) and a local HTTP gateway without sending a mail or an SMS, and a closed port gives exit 9; and the
//! check never creates or changes a file. Also: the Debian package's configuration is the example with the
//! service's paths.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use crate::invite_mail::start_sink;

/// A directory after `motpd init`.
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new() -> Self {
        let site = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        let out = site.motpd(&["init"]);
        assert!(out.status.success(), "init: {}", text(&out));
        site
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn motpd(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_motpd"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("MOTPD_CONFIG")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Runs `motpd config check ARGS`: (exit code, stdout), and asserts that no file was created or changed.
    fn check(&self, args: &[&str]) -> (i32, String) {
        let before = snapshot(self.dir.path());
        let mut all = vec!["config", "check"];
        all.extend_from_slice(args);
        let out = self.motpd(&all);
        let after = snapshot(self.dir.path());
        assert_eq!(before, after, "config check changed the directory");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.code().unwrap(), stdout)
    }

    fn edit_config(&self, from: &str, to: &str) {
        let path = self.path("motpd.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "motpd.toml has no {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }

    /// Runs Python's sqlite3 on the database (a real SQLite, apart from motpd's).
    fn sqlite(&self, script: &str) {
        let out = Command::new("python3")
            .arg("-c")
            .arg(format!(
                "import sqlite3\nc = sqlite3.connect('motpd.db')\n{script}\nc.commit()\nc.close()"
            ))
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "python3 sqlite3: {}", text(&out));
    }

    /// Folds the WAL into the database file and closes it, so that no `-wal`/`-shm` exist (a stopped server).
    fn checkpoint(&self) {
        self.sqlite("c.execute('PRAGMA wal_checkpoint(TRUNCATE)')");
        assert!(!self.path("motpd.db-wal").exists());
        assert!(!self.path("motpd.db-shm").exists());
    }
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every file of `dir`: its bytes, modification time and mode. The `-shm` file (SQLite's shared-memory index,
/// where even a reader takes its read marks) is compared by presence only.
fn snapshot(dir: &Path) -> BTreeMap<String, (Vec<u8>, SystemTime, u32)> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            let meta = entry.metadata().unwrap();
            let (bytes, modified) = if name.ends_with("-shm") {
                (Vec::new(), SystemTime::UNIX_EPOCH)
            } else {
                (
                    std::fs::read(entry.path()).unwrap(),
                    meta.modified().unwrap(),
                )
            };
            (name, (bytes, modified, meta.permissions().mode()))
        })
        .collect()
}

fn line<'a>(stdout: &'a str, start: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting {start:?} in:\n{stdout}"))
}

#[test]
fn a_fresh_installation_passes_and_nothing_is_created_or_changed() {
    let site = Site::new();
    let (code, out) = site.check(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(line(&out, "ok    config").contains("motpd.toml parses and validates"));
    assert!(line(&out, "ok    key").contains("key id"));
    assert!(
        line(&out, "ok    database").contains("migrations applied"),
        "{out}"
    );
    line(&out, "ok    key       matches the database");
    // The clock line is ok or a warning, as this machine's clock is.
    assert!(
        out.contains("ok    clock") || out.contains("warn  clock"),
        "{out}"
    );
    assert!(out.contains("all checks passed"), "{out}");

    // A stopped server's database (no -wal, no -shm): read without creating them.
    site.checkpoint();
    let (code, out) = site.check(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(!site.path("motpd.db-wal").exists() && !site.path("motpd.db-shm").exists());
}

#[test]
fn a_bad_configuration_fails_with_exit_3() {
    let site = Site::new();
    site.edit_config("[smtp]\n", "[smtp]\nbogus_key = 1\n");
    let (code, out) = site.check(&[]);
    assert_eq!(code, 3, "{out}");
    line(&out, "FAIL  config");
    assert!(out.contains("unknown field `bogus_key`"), "{out}");

    let (code, out) = site.check(&["--config", "nonexistent.toml"]);
    assert_eq!(code, 3, "{out}");
    line(&out, "FAIL  config");
}

#[test]
fn a_wrong_or_exposed_key_fails_with_exit_4() {
    use std::os::unix::fs::PermissionsExt;
    let site = Site::new();
    let key = site.path("motpd.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, out) = site.check(&[]);
    assert_eq!(code, 4, "{out}");
    assert!(line(&out, "FAIL  key").contains("chmod 600"), "{out}");

    // Another valid key: the database's key check value does not open with it.
    std::fs::write(&key, format!("{}\n", "ab".repeat(32))).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, out) = site.check(&[]);
    assert_eq!(code, 4, "{out}");
    line(&out, "ok    key       ");
    assert!(
        line(&out, "FAIL  key").contains("not the key this database was set up with"),
        "{out}"
    );

    std::fs::remove_file(&key).unwrap();
    let (code, out) = site.check(&[]);
    assert_eq!(code, 4, "{out}");
    assert!(line(&out, "FAIL  key").contains("motpd init"), "{out}");
    assert!(!key.exists(), "the check created a key");
}

#[test]
fn a_missing_or_unmigrated_database_fails_with_exit_5() {
    let site = Site::new();
    site.checkpoint();
    // One migration forgotten: as if this binary were newer than the database.
    site.sqlite("c.execute('DELETE FROM _sqlx_migrations WHERE version = (SELECT max(version) FROM _sqlx_migrations)')");
    site.checkpoint();
    let (code, out) = site.check(&[]);
    assert_eq!(code, 5, "{out}");
    let fail = line(&out, "FAIL  database");
    assert!(
        fail.contains("pending") && fail.contains("motpd init"),
        "{out}"
    );

    // A migration this binary does not know: the database belongs to a newer motpd.
    site.sqlite(
        "c.execute(\"INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, \
         execution_time) VALUES (9999, 'future', '2030-01-01', 1, x'00', 0)\")",
    );
    site.checkpoint();
    let (code, out) = site.check(&[]);
    assert_eq!(code, 5, "{out}");
    assert!(out.contains("newer motpd"), "{out}");

    // An empty SQLite file: nothing applied.
    std::fs::remove_file(site.path("motpd.db")).unwrap();
    std::fs::write(site.path("motpd.db"), b"").unwrap();
    std::fs::set_permissions(
        site.path("motpd.db"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let (code, out) = site.check(&[]);
    assert_eq!(code, 5, "{out}");
    assert!(line(&out, "FAIL  database").contains("0 of "), "{out}");

    // No database file: the hint, and no file created.
    std::fs::remove_file(site.path("motpd.db")).unwrap();
    let (code, out) = site.check(&[]);
    assert_eq!(code, 5, "{out}");
    assert!(
        line(&out, "FAIL  database").contains("does not exist: create it with `motpd init`"),
        "{out}"
    );
    assert!(!site.path("motpd.db").exists());
}

#[test]
fn strict_turns_a_warning_into_exit_13() {
    let site = Site::new();
    let config = site.path("motpd.toml");
    std::fs::rename(&config, site.path("elsewhere.toml")).unwrap();
    // No --config and no ./motpd.toml: built-in defaults, a warning (they name the same files here).
    let (code, out) = site.check(&[]);
    assert_eq!(code, 0, "{out}");
    line(&out, "warn  config");
    let (code, out) = site.check(&["--strict"]);
    assert_eq!(code, 13, "{out}");
}

/// A one-request HTTP server on a free loopback port: answers 405 and reports the request's head.
fn http_gateway() -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        loop {
            let mut l = String::new();
            if reader.read_line(&mut l).unwrap() == 0 || l == "\r\n" {
                break;
            }
            head.push_str(&l);
        }
        stream
            .write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .unwrap();
        let _ = tx.send(head);
    });
    (port, rx)
}

fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread")]
async fn reach_talks_to_the_relay_and_the_gateway_and_sends_nothing() {
    let Some(sink) = start_sink().await else {
        return;
    };
    let site = Site::new();
    site.edit_config("port = 25\n", &format!("port = {}\n", sink.port));
    site.edit_config("provider = \"none\"", "provider = \"http\"");
    let (gateway, requests) = http_gateway();
    site.edit_config(
        "url = \"\"",
        &format!("url = \"http://127.0.0.1:{gateway}/send?token=s3cret\""),
    );
    let (code, out) = site.check(&["--reach"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        line(&out, "ok    smtp").contains(&format!("127.0.0.1:{} answered", sink.port)),
        "{out}"
    );
    assert!(
        line(&out, "ok    sms").contains("answered HEAD with HTTP 405; no SMS sent"),
        "{out}"
    );
    assert!(
        !out.contains("s3cret"),
        "the gateway's query was printed:\n{out}"
    );
    let head = requests.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(
        head.starts_with("HEAD /send?token=s3cret HTTP/1.1"),
        "{head}"
    );
    assert!(
        !head.to_ascii_lowercase().contains("authorization"),
        "{head}"
    );
    assert_eq!(
        std::fs::read_dir(sink.dir.path()).unwrap().count(),
        0,
        "a mail reached the sink"
    );

    // Without --reach neither is contacted.
    let (code, out) = site.check(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("smtp") && !out.contains("sms"), "{out}");
}

#[test]
fn reach_to_a_closed_port_fails_with_exit_12() {
    let site = Site::new();
    site.edit_config("port = 25\n", &format!("port = {}\n", closed_port()));
    let (code, out) = site.check(&["--reach"]);
    assert_eq!(code, 12, "{out}");
    line(&out, "FAIL  smtp");
    line(&out, "skip  sms");

    site.edit_config("provider = \"none\"", "provider = \"http\"");
    site.edit_config(
        "url = \"\"",
        &format!("url = \"http://127.0.0.1:{}/send\"", closed_port()),
    );
    let (code, out) = site.check(&["--reach"]);
    assert_eq!(code, 12, "{out}");
    line(&out, "FAIL  sms");
}

#[test]
fn the_debian_configuration_is_the_example_with_the_service_paths() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("bash")
        .arg(root.join("dist/make-config.sh"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let shipped = std::fs::read_to_string(root.join("dist/motpd.toml")).unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout) == shipped,
        "dist/motpd.toml is out of date: run `bash dist/make-config.sh > dist/motpd.toml`"
    );
    let config = motpd::config::Config::from_toml_str(&shipped).unwrap();
    config.validate().unwrap();
    assert_eq!(config.database.url, "sqlite:///var/lib/motpd/motpd.db");
    assert_eq!(
        config.secrets.key_file,
        Path::new("/var/lib/motpd/motpd.key")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_is_inspected_without_being_migrated() {
    use sqlx::Connection as _;
    let Ok(admin_url) = std::env::var("MOTPD_TEST_DATABASE_URL") else {
        eprintln!("PostgreSQL config check test skipped: set MOTPD_TEST_DATABASE_URL");
        return;
    };
    let database = crate::common::PgDatabase::create(&admin_url).await;
    let site = Site::new();
    site.edit_config(
        "url = \"sqlite://motpd.db\"",
        &format!("url = \"{}\"", database.url),
    );
    let (code, out) = site.check(&[]);
    assert_eq!(code, 5, "{out}");
    assert!(
        line(&out, "FAIL  database").contains("(postgres) reachable, 0 of "),
        "{out}"
    );
    let mut conn = sqlx::PgConnection::connect(&database.url).await.unwrap();
    let created: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(!created, "config check created the migration table");
    conn.close().await.unwrap();

    // `motpd init` migrates it and stores this key's check value: every check passes.
    let out = site.motpd(&["init"]);
    assert!(out.status.success(), "{}", text(&out));
    let (code, out) = site.check(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        line(&out, "ok    database").contains("(postgres) reachable, all"),
        "{out}"
    );
    line(&out, "ok    key       matches the database");
}

/// `--reach` binds to a real directory as the service account and searches; a directory whose certificate the
/// configured CA did not sign fails with exit 12 and says TLS, with no user password ever sent.
#[test]
fn reach_binds_to_the_directory_and_names_a_wrong_ca() {
    let Some(directory) = crate::common::slapd::Slapd::start(3) else {
        return;
    };
    let site = Site::new();
    let path = site.path("motpd.toml");
    let mut table: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
    table["smtp"]
        .as_table_mut()
        .unwrap()
        .insert("host".into(), "".into());
    let ldap: toml::Table = directory
        .toml(&[&directory.ldaps_url], &[])
        .parse()
        .unwrap();
    table["ldap"]
        .as_table_mut()
        .unwrap()
        .extend(ldap["ldap"].as_table().unwrap().clone());
    std::fs::write(&path, toml::to_string(&table).unwrap()).unwrap();
    let (code, out) = site.check(&["--reach"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        line(&out, "ok    ldap").contains("bound and searched"),
        "{out}"
    );

    let right = directory.ca_file.display().to_string();
    let wrong = directory.wrong_ca_file.display().to_string();
    site.edit_config(
        &format!("ca_file = {right:?}"),
        &format!("ca_file = {wrong:?}"),
    );
    let (code, out) = site.check(&["--reach"]);
    assert_eq!(code, 12, "{out}");
    assert!(line(&out, "FAIL  ldap").contains("TLS"), "{out}");
}
