//! The `motpd` binary end to end, as an admin would use it: init, clients, users, import, devices, reports,
//! audit verification, and every bad input giving a clear error, its documented exit code, and no change.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A working directory with a config pointing at files inside it.
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new() -> Self {
        let site = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        let out = site.run(&["init"], None);
        assert!(out.status.success(), "init failed: {}", text(&out));
        site
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_motpd"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("MOTPD_CONFIG")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(data) = stdin {
            input.write_all(data.as_bytes()).unwrap();
        }
        drop(input);
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "motpd {args:?} failed: {}",
            text(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a command that must fail with `code`, returning stderr.
    fn fails(&self, args: &[&str], stdin: Option<&str>, code: i32) -> String {
        let out = self.run(args, stdin);
        assert_eq!(
            out.status.code(),
            Some(code),
            "motpd {args:?}: {}",
            text(&out)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn users_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["user", "list", "--json"], None)).unwrap()
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

/// The binary allocates with mimalloc, set as it is loaded to commit its arenas on demand (src/main.rs): with
/// mimalloc's Linux default, `motpd serve` kept ~20 MiB more resident after a burst of logins. With
/// MIMALLOC_VERBOSE set, mimalloc prints its options at its own set-up and motpd prints them again once set (the
/// last listing counts), and mimalloc reports each arena it reserves, which must come after the setting (an
/// arena's commit mode is fixed when it is reserved). MIMALLOC_ARENA_EAGER_COMMIT still overrides the setting.
#[test]
fn the_allocator_commits_its_arenas_on_demand() {
    let run = |eager_commit: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_motpd"));
        command.arg("--version").env("MIMALLOC_VERBOSE", "1");
        match eager_commit {
            Some(value) => command.env("MIMALLOC_ARENA_EAGER_COMMIT", value),
            None => command.env_remove("MIMALLOC_ARENA_EAGER_COMMIT"),
        };
        let out = command.output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let lines: Vec<&str> = stderr.lines().collect();
        let (set_at, option) = lines
            .iter()
            .enumerate()
            .rfind(|(_, line)| line.contains("option 'arena_eager_commit'"))
            .unwrap_or_else(|| panic!("mimalloc printed no options: {}", text(&out)));
        let value = option.trim_end().rsplit(' ').next().unwrap().to_owned();
        let first_arena = lines
            .iter()
            .position(|line| line.contains("reserved") && line.contains("KiB memory"));
        assert!(
            first_arena.is_none_or(|reserved| reserved > set_at),
            "an arena was reserved before the option was set: {}",
            text(&out)
        );
        value
    };
    assert_eq!(run(None), "0");
    assert_eq!(run(Some("1")), "1");
}

#[test]
fn init_creates_config_key_and_database_once() {
    let site = Site::new();
    for file in ["motpd.toml", "motpd.key", "motpd.db"] {
        assert!(site.path(file).exists(), "{file}");
    }
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(site.path("motpd.key"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let key = std::fs::read(site.path("motpd.key")).unwrap();
    let again = site.ok(&["init"], None);
    assert!(again.contains("exists, kept"), "{again}");
    assert_eq!(
        std::fs::read(site.path("motpd.key")).unwrap(),
        key,
        "the key is never overwritten"
    );
}

#[test]
fn clients_users_devices_and_reports() {
    let site = Site::new();
    site.ok(
        &[
            "client",
            "add",
            "netscaler",
            "--address",
            "10.0.0.10",
            "--secret-stdin",
        ],
        Some("a-long-shared-secret-1234\n"),
    );
    let generated = site.ok(
        &[
            "client",
            "add",
            "backup",
            "--address",
            "10.0.0.0/24",
            "--mode",
            "otp-only",
        ],
        None,
    );
    assert!(
        generated.contains("shared secret (shown once"),
        "{generated}"
    );
    let clients: serde_json::Value =
        serde_json::from_str(&site.ok(&["client", "list", "--json"], None)).unwrap();
    assert_eq!(clients[1]["address"], "10.0.0.10/32");
    assert_eq!(clients[0]["mode"], "otp-only");
    assert!(
        !site
            .ok(&["client", "list"], None)
            .contains("a-long-shared-secret")
    );
    site.fails(
        &[
            "client",
            "add",
            "netscaler",
            "--address",
            "10.0.0.11",
            "--secret-stdin",
        ],
        Some("another-secret-123456"),
        7,
    );
    site.fails(
        &[
            "client",
            "add",
            "x",
            "--address",
            "nowhere",
            "--secret-stdin",
        ],
        Some("s3cret-s3cret-s3cret"),
        8,
    );

    site.ok(
        &[
            "user",
            "add",
            "Alice",
            "--name",
            "Alice Chen",
            "--phone",
            "0912-345-678",
            "--email",
            "alice@h.org",
            "--groups",
            "vpn,nurses",
            "--password-stdin",
        ],
        Some("Nurse2024\n"),
    );
    site.fails(&["user", "add", "alice", "--name", "Dup"], None, 7);
    let weak = site.fails(
        &["user", "add", "bob", "--password-stdin"],
        Some("short1"),
        8,
    );
    assert!(weak.contains("at least 8"), "{weak}");
    site.fails(&["user", "add", "bob", "--phone", "12345"], None, 8);
    let show = site.ok(&["user", "show", "alice"], None);
    assert!(
        show.contains("0912-***-678") && show.contains("vpn, nurses"),
        "{show}"
    );

    let enroll = site.ok(&["device", "enroll", "alice"], None);
    assert!(
        enroll.contains("otpauth://totp/") && enroll.contains("initial key"),
        "{enroll}"
    );
    assert!(
        enroll.contains('█') || enroll.contains('▀'),
        "terminal QR code"
    );
    site.fails(&["device", "enroll", "alice"], None, 7);
    site.ok(
        &["device", "enroll", "alice", "--replace", "--secret-stdin"],
        Some("JBSWY3DPEHPK3PXP\n"),
    );
    site.fails(&["device", "enroll", "bob2"], None, 6);
}

#[test]
fn device_import_kinds_and_unenrolled_report() {
    let site = Site::new();
    for id in ["alice", "bob", "carol"] {
        site.ok(&["user", "add", id], None);
    }
    site.ok(
        &[
            "device",
            "enroll",
            "alice",
            "--secret-stdin",
            "--kind",
            "hotp",
            "--counter",
            "5",
        ],
        Some("JBSWY3DPEHPK3PXP"),
    );
    site.ok(
        &[
            "device",
            "enroll",
            "bob",
            "--secret-stdin",
            "--kind",
            "motp",
        ],
        Some("0123456789abcdef\n1234\n"),
    );
    site.fails(
        &[
            "device",
            "enroll",
            "carol",
            "--secret-stdin",
            "--kind",
            "motp",
        ],
        Some("0123456789abcdef\n"),
        8,
    );
    site.fails(
        &["device", "enroll", "carol", "--secret-stdin"],
        Some("not base32!"),
        8,
    );
    site.fails(&["device", "enroll", "nobody"], None, 6);
    let report = site.ok(&["report", "unenrolled"], None);
    assert!(
        report.contains("carol") && !report.contains("alice"),
        "{report}"
    );
    assert!(report.contains("1 account(s) without a device"), "{report}");
    site.ok(&["device", "reset", "bob", "--yes"], None);
    let unenrolled: serde_json::Value =
        serde_json::from_str(&site.ok(&["report", "unenrolled", "--json"], None)).unwrap();
    assert_eq!(unenrolled.as_array().unwrap().len(), 2);
}

#[test]
fn lock_unlock_set_remove_and_password() {
    let site = Site::new();
    site.ok(&["user", "add", "alice"], None);
    site.ok(&["user", "lock", "alice"], None);
    assert!(site.ok(&["user", "list"], None).contains("locked"));
    site.ok(&["user", "unlock", "alice"], None);
    site.ok(
        &[
            "user",
            "set",
            "alice",
            "--expires",
            "2030-12-31",
            "--status",
            "disabled",
            "--reason",
            "contract ends",
        ],
        None,
    );
    let users = site.users_json();
    assert_eq!(users[0]["expires_on"], "2030-12-31");
    assert_eq!(users[0]["status"], "disabled");
    site.fails(&["user", "set-password", "alice"], None, 8);
    site.fails(
        &["user", "set-password", "alice", "--password-stdin"],
        Some("alice"),
        8,
    );
    site.ok(
        &["user", "set-password", "alice", "--password-stdin"],
        Some("Better2024"),
    );
    site.ok(&["user", "remove", "alice", "--yes"], None);
    site.fails(&["user", "show", "alice"], None, 6);
}

fn write_csv(site: &Site, name: &str, body: &str) -> String {
    std::fs::write(site.path(name), body).unwrap();
    name.to_owned()
}

#[test]
fn import_is_all_or_nothing_with_line_numbers() {
    let site = Site::new();
    let bad = write_csv(
        &site,
        "bad.csv",
        "id,name,phone,email,expires,groups\nalice,Alice,0912345678,a@h.org,,vpn\nbob,Bob,12345,,,\nalice,Again,,,,\ncarol,Carol,,,2026-02-30,\n",
    );
    let err = site.fails(&["user", "import", &bad], None, 8);
    assert!(err.contains("bad.csv:3: phone"), "{err}");
    assert!(
        err.contains("bad.csv:4: id \"alice\" already appears on line 2"),
        "{err}"
    );
    assert!(err.contains("bad.csv:5: expires"), "{err}");
    assert!(err.contains("nothing was imported"), "{err}");
    assert_eq!(site.users_json().as_array().unwrap().len(), 0);

    let out = site.ok(&["user", "import", &bad, "--skip-invalid"], None);
    assert!(out.contains("1 created, 0 updated, 3 skipped"), "{out}");
    let update = write_csv(
        &site,
        "update.csv",
        "id,name,expires\nALICE,Alice Chen,2027-01-31\ndave,Dave,\n",
    );
    let out = site.ok(&["user", "import", &update], None);
    assert!(out.contains("1 created, 1 updated"), "{out}");
    let users = site.users_json();
    assert_eq!(users[0]["name"], "Alice Chen");
    assert_eq!(
        users[0]["phone"], "0912345678",
        "columns absent from the file keep nothing else"
    );

    site.fails(&["user", "import", "missing.csv"], None, 8);
    let header = write_csv(&site, "header.csv", "user,name\nx,X\n");
    assert!(
        site.fails(&["user", "import", &header], None, 8)
            .contains("unknown column")
    );
}

#[test]
fn import_of_ten_thousand_rows_takes_seconds() {
    let site = Site::new();
    let mut body = String::from("id,name,phone,email,expires,groups\n");
    for i in 0..10_000 {
        body.push_str(&format!(
            "staff{i:05},Staff {i},09{i:08},staff{i}@h.org,2030-01-01,vpn;staff\n"
        ));
    }
    let csv = write_csv(&site, "staff.csv", &body);
    let started = std::time::Instant::now();
    let out = site.ok(&["user", "import", &csv], None);
    let elapsed = started.elapsed();
    assert!(out.contains("10000 created"), "{out}");
    eprintln!("imported 10,000 rows in {elapsed:?}");
    assert_eq!(site.users_json().as_array().unwrap().len(), 10_000);
}

#[test]
fn bad_configuration_and_keys_are_refused_clearly() {
    let site = Site::new();
    std::fs::write(
        site.path("typo.toml"),
        "[radius]\nlisen = [\"0.0.0.0:1812\"]\n",
    )
    .unwrap();
    let err = site.fails(&["--config", "typo.toml", "user", "list"], None, 3);
    assert!(err.contains("lisen"), "{err}");
    site.fails(&["--config", "absent.toml", "user", "list"], None, 3);

    std::fs::rename(site.path("motpd.key"), site.path("saved.key")).unwrap();
    let err = site.fails(&["user", "list"], None, 4);
    assert!(
        err.contains("motpd.key") && err.contains("motpd init"),
        "{err}"
    );

    // Another key for the same database: refused, and the database is untouched.
    std::fs::write(site.path("motpd.key"), format!("{}\n", "ab".repeat(32))).unwrap();
    set_mode(&site.path("motpd.key"), 0o600);
    let err = site.fails(&["user", "add", "x"], None, 4);
    assert!(err.contains("does not match the database"), "{err}");
    std::fs::rename(site.path("saved.key"), site.path("motpd.key")).unwrap();
    assert_eq!(site.users_json().as_array().unwrap().len(), 0);

    set_mode(&site.path("motpd.key"), 0o644);
    let err = site.fails(&["user", "list"], None, 4);
    assert!(err.contains("chmod 600"), "{err}");
    set_mode(&site.path("motpd.key"), 0o600);

    std::fs::write(
        site.path("pg.toml"),
        "[database]\nurl = \"postgres://motpd:pw@127.0.0.1:1/motpd\"\n",
    )
    .unwrap();
    let err = site.fails(&["--config", "pg.toml", "user", "list"], None, 5);
    assert!(
        err.contains("cannot open the database") && !err.contains(":pw@"),
        "{err}"
    );
}

#[test]
fn audit_verify_detects_tampering() {
    let site = Site::new();
    site.ok(&["user", "add", "alice"], None);
    site.ok(&["user", "lock", "alice"], None);
    let out = site.ok(&["audit", "verify"], None);
    assert!(out.contains("audit trail intact: 3 row(s)"), "{out}");
    let json: serde_json::Value =
        serde_json::from_str(&site.ok(&["audit", "verify", "--json"], None)).unwrap();
    assert_eq!(json["ok"], true);
    tamper(&site.path("motpd.db"));
    let err = site.fails(&["audit", "verify"], None, 1);
    assert!(err.contains("audit row 2 was altered"), "{err}");
}

fn tamper(db: &Path) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        sqlx::query("UPDATE audit_log SET outcome = 'error' WHERE seq = 2")
            .execute(&mut conn)
            .await
            .unwrap();
    });
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// RFC 4226/6238's SHA1 seed `12345678901234567890` in base32.
const RFC_SEED_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

/// The sealed seed of `account`'s active device, opened with the site's key (as the server would).
fn stored_seed(site: &Site, account: &str) -> (String, Vec<u8>) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let key = motpd::secrets::MasterKey::load(&site.path("motpd.key")).unwrap();
        let url = format!("sqlite://{}", site.path("motpd.db").display());
        let chain = motpd::audit::AuditChain::new(key.audit_chain_key());
        let store = motpd::store::connect(&url, 1, chain).await.unwrap();
        let device = store.active_device(account).await.unwrap().unwrap();
        let aad = motpd::secrets::Aad::device_seed(&device.id, account);
        let seed = key
            .open(&aad, &device.sealed_seed)
            .unwrap()
            .expose()
            .to_vec();
        store.close().await;
        (device.kind.as_str().to_owned(), seed)
    })
}

/// The `detail` of every audit row of `kind`.
fn audit_details(site: &Site, kind: &str) -> Vec<String> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        use sqlx::Connection;
        let url = format!("sqlite://{}", site.path("motpd.db").display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query_scalar("SELECT detail FROM audit_log WHERE kind = $1 ORDER BY seq")
            .bind(kind)
            .fetch_all(&mut conn)
            .await
            .unwrap()
    })
}

/// What Excel on Taiwanese Windows saves: CRLF line ends, a UTF-8 BOM ("CSV UTF-8") or Big5 ("CSV").
#[test]
fn excel_files_crlf_bom_big5_and_past_expiry() {
    let site = Site::new();
    let write = |name: &str, bytes: &[u8]| {
        std::fs::write(site.path(name), bytes).unwrap();
        name.to_owned()
    };
    // CRLF with a BOM: the duplicate points at line 3 (the first alice is on line 2, not the header).
    let crlf = write(
        "crlf.csv",
        b"\xef\xbb\xbfid,name,expires\r\nalice,Alice,2020-01-31\r\nALICE,Again,\r\nbob,Bob,2099-12-31\r\n",
    );
    let err = site.fails(&["user", "import", &crlf], None, 8);
    assert!(
        err.contains("crlf.csv:3: id \"alice\" already appears on line 2"),
        "{err}"
    );
    // A past last day is imported with a warning naming its line; a future one is not warned about.
    let out = site.run(&["user", "import", &crlf, "--skip-invalid"], None);
    assert!(out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("crlf.csv:2: warning: alice expires 2020-01-31, already past"),
        "{err}"
    );
    assert!(!err.contains("bob"), "{err}");

    // Big5 (陳小美): read as Big5, said so, the name stored right, line numbers right.
    let big5 = write(
        "big5.csv",
        b"id,name\r\nchen,\xb3\xaf\xa4\x70\xac\xfc\r\nbad id,x\r\n",
    );
    let err = site.fails(&["user", "import", &big5], None, 8);
    assert!(err.contains("read as Big5"), "{err}");
    assert!(err.contains("big5.csv:3: id"), "{err}");
    let out = site.run(&["user", "import", &big5, "--skip-invalid"], None);
    assert!(out.status.success(), "{}", text(&out));
    let users = site.users_json();
    let chen = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == "chen")
        .unwrap();
    assert_eq!(chen["name"], "陳小美");
    // Neither UTF-8 nor Big5: refused with the way out, nothing imported.
    let broken = write("broken.csv", b"id,name\r\nlin,\xb3\r\n");
    let err = site.fails(&["user", "import", &broken], None, 8);
    assert!(err.contains("CSV UTF-8"), "{err}");

    // The seed import: the same line numbers, and a warning for an account already past its last day.
    let seeds = write(
        "seeds.csv",
        format!(
            "\u{feff}id,kind,secret\r\nalice,totp,{RFC_SEED_B32}\r\nbob,sms,{RFC_SEED_B32}\r\n"
        )
        .as_bytes(),
    );
    let err = site.fails(&["device", "import", &seeds], None, 8);
    assert!(err.contains("seeds.csv:3: kind"), "{err}");
    let out = site.run(&["device", "import", &seeds, "--skip-invalid"], None);
    assert!(out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("seeds.csv:2: warning: account alice expired on 2020-01-31"),
        "{err}"
    );
}

#[test]
fn device_import_checks_every_row_and_is_all_or_nothing() {
    let site = Site::new();
    for id in ["alice", "bob", "carol", "dave"] {
        site.ok(&["user", "add", id], None);
    }
    site.ok(&["device", "enroll", "dave"], None);
    let bad = write_csv(
        &site,
        "seeds.csv",
        &format!(
            "id,kind,secret,counter,pin\n\
             Alice,totp,{RFC_SEED_B32},,\n\
             bob,motp,0123456789abcdef,,\n\
             ghost,totp,{RFC_SEED_B32},,\n\
             carol,hotp,n0t-base32!,3,\n\
             dave,totp,{RFC_SEED_B32},,\n\
             alice,hotp,{RFC_SEED_B32},1,\n"
        ),
    );
    let err = site.fails(&["device", "import", &bad], None, 8);
    for expected in [
        "seeds.csv:3: pin: required for motp rows",
        "seeds.csv:4: id: no account \"ghost\"",
        "seeds.csv:5: secret: not valid base32",
        "seeds.csv:6: id: \"dave\" already has a device (use --replace",
        "seeds.csv:7: id \"alice\" already appears on line 2",
        "5 invalid row(s); nothing was imported",
    ] {
        assert!(err.contains(expected), "{expected}: {err}");
    }
    assert!(
        !err.contains("n0t-base32!") && !err.contains("0123456789abcdef"),
        "{err}"
    );
    let unenrolled = site.ok(&["report", "unenrolled"], None);
    assert!(
        unenrolled.contains("3 account(s) without a device"),
        "{unenrolled}"
    );

    let out = site.ok(
        &["device", "import", &bad, "--skip-invalid", "--dry-run"],
        None,
    );
    assert!(
        out.contains("1 valid row(s), 5 invalid; nothing written"),
        "{out}"
    );
    let out = site.ok(&["device", "import", &bad, "--skip-invalid"], None);
    assert!(out.contains("1 device(s) bound, 5 skipped"), "{out}");
    // The seed is sealed for the device and account, exactly as decoded.
    assert_eq!(
        stored_seed(&site, "alice"),
        ("totp".to_owned(), b"12345678901234567890".to_vec())
    );

    // --replace rebinds; an mOTP init-secret is kept as typed (lower case).
    let good = write_csv(
        &site,
        "good.csv",
        "kind,id,secret,pin\nmotp,dave,0123456789ABCDEF,1234\nmotp,bob,fedcba9876543210,98765\n",
    );
    site.fails(&["device", "import", &good], None, 8);
    let out = site.ok(&["device", "import", &good, "--replace"], None);
    assert!(out.contains("2 device(s) bound, 0 skipped"), "{out}");
    assert_eq!(
        stored_seed(&site, "dave"),
        ("motp".to_owned(), b"0123456789abcdef".to_vec())
    );
    // One row per account bound, saying which device it had before and what it has now.
    let details = audit_details(&site, "admin.device.import");
    assert_eq!(details.len(), 3, "{details:?}");
    assert!(
        details[0].contains("\"device\":{\"new\":\"totp\",\"old\":null}"),
        "{details:?}"
    );
    assert_eq!(
        audit_accounts(&site, "admin.device.import"),
        ["alice", "dave", "bob"]
    );
    assert!(
        details[1].contains("\"device\":{\"new\":\"motp\",\"old\":\"totp\"}")
            && details[1].contains("\"seed\":\"changed\""),
        "{details:?}"
    );
    for secret in [RFC_SEED_B32, "0123456789", "fedcba", "98765"] {
        assert!(!details.concat().contains(secret), "{secret}: {details:?}");
    }
    assert!(site.ok(&["audit", "verify"], None).contains("intact"));
}

#[test]
fn device_import_of_ten_thousand_rows_takes_seconds() {
    let site = Site::new();
    let mut users = String::from("id,name\n");
    let mut seeds = String::from("id,kind,secret,counter,pin\n");
    for i in 0..10_000 {
        users.push_str(&format!("staff{i:05},Staff {i}\n"));
        seeds.push_str(&match i % 3 {
            0 => format!("staff{i:05},totp,{RFC_SEED_B32},,\n"),
            1 => format!("staff{i:05},hotp,{RFC_SEED_B32},{i},\n"),
            _ => format!("staff{i:05},motp,{i:016x},,{:04}\n", i % 10_000),
        });
    }
    let users = write_csv(&site, "staff.csv", &users);
    let seeds = write_csv(&site, "seeds.csv", &seeds);
    let started = std::time::Instant::now();
    site.ok(&["user", "import", &users], None);
    let accounts = started.elapsed();
    let started = std::time::Instant::now();
    let out = site.ok(&["device", "import", &seeds], None);
    let devices = started.elapsed();
    assert!(out.contains("10000 device(s) bound"), "{out}");
    eprintln!("imported 10,000 accounts in {accounts:?}, then 10,000 seeds in {devices:?}");
    let unenrolled = site.ok(&["report", "unenrolled"], None);
    assert!(
        unenrolled.contains("0 account(s) without a device"),
        "{unenrolled}"
    );
    assert_eq!(stored_seed(&site, "staff09997").0, "hotp");
}

#[test]
fn the_sms_fallback_switch_is_set_shown_and_audited() {
    let site = Site::new();
    site.ok(&["user", "add", "alice", "--phone", "0912345678"], None);
    assert!(
        site.ok(&["user", "show", "alice"], None)
            .contains("sms login   default")
    );
    let sms = |value: &str| {
        site.ok(
            &[
                "user",
                "set",
                "alice",
                "--sms-fallback",
                value,
                "--reason",
                "T-1",
            ],
            None,
        )
    };
    sms("off");
    assert!(
        site.ok(&["user", "show", "alice"], None)
            .contains("sms login   off")
    );
    assert_eq!(site.users_json()[0]["sms_fallback"], false);
    sms("on");
    assert_eq!(site.users_json()[0]["sms_fallback"], true);
    sms("default");
    assert_eq!(
        site.users_json()[0]["sms_fallback"],
        serde_json::Value::Null
    );
    site.fails(
        &["user", "set", "alice", "--sms-fallback", "maybe"],
        None,
        2,
    );
    let details = audit_details(&site, "admin.user.set");
    assert!(
        details
            .iter()
            .any(|d| d == r#"{"reason":"T-1","sms_fallback":{"new":false,"old":null}}"#),
        "{details:?}"
    );
}

/// The accounts of `kind`'s audit rows.
fn audit_accounts(site: &Site, kind: &str) -> Vec<String> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        use sqlx::Connection;
        let url = format!("sqlite://{}", site.path("motpd.db").display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query_scalar("SELECT account_id FROM audit_log WHERE kind = $1 ORDER BY seq")
            .bind(kind)
            .fetch_all(&mut conn)
            .await
            .unwrap()
    })
}

/// The actors of `kind`'s audit rows.
fn audit_actors(site: &Site, kind: &str) -> Vec<String> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        use sqlx::Connection;
        let url = format!("sqlite://{}", site.path("motpd.db").display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query_scalar("SELECT actor FROM audit_log WHERE kind = $1 ORDER BY seq")
            .bind(kind)
            .fetch_all(&mut conn)
            .await
            .unwrap()
    })
}

#[test]
fn a_second_client_on_one_address_is_refused_and_set_changes_in_place() {
    let site = Site::new();
    let secret = Some("a-long-shared-secret-1234\n");
    let add = |name: &str, address: &str| {
        site.run(
            &[
                "client",
                "add",
                name,
                "--address",
                address,
                "--secret-stdin",
            ],
            secret,
        )
    };
    assert!(add("netscaler", "10.0.0.10").status.success());
    // The same address under another name (a typo, say) would take the first client's requests over.
    let out = add("netscaler2", "10.0.0.10/32");
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    assert!(
        text(&out).contains("already has the address"),
        "{}",
        text(&out)
    );
    let out = add("netscaler", "10.0.0.11");
    assert_eq!(out.status.code(), Some(7));
    assert!(text(&out).contains("client set"), "{}", text(&out));

    site.ok(
        &[
            "client",
            "set",
            "netscaler",
            "--require-message-authenticator",
            "off",
            "--mode",
            "challenge",
        ],
        None,
    );
    let clients: serde_json::Value =
        serde_json::from_str(&site.ok(&["client", "list", "--json"], None)).unwrap();
    assert_eq!(clients[0]["require_message_authenticator"], false);
    assert_eq!(clients[0]["mode"], "challenge");
    assert_eq!(clients[0]["address"], "10.0.0.10/32");
    site.ok(
        &[
            "client",
            "set",
            "netscaler",
            "--mode",
            "default",
            "--address",
            "10.0.0.12",
        ],
        None,
    );
    let clients: serde_json::Value =
        serde_json::from_str(&site.ok(&["client", "list", "--json"], None)).unwrap();
    assert_eq!(clients[0]["mode"], serde_json::Value::Null);
    assert_eq!(clients[0]["address"], "10.0.0.12/32");
    let details = audit_details(&site, "admin.client.set");
    assert!(
        details[1].contains("10.0.0.10/32") && details[1].contains("10.0.0.12/32"),
        "{details:?}"
    );
    site.fails(&["client", "set", "netscaler"], None, 8);
    site.fails(&["client", "set", "nobody", "--mode", "default"], None, 6);
}

#[test]
fn a_typo_in_the_database_url_creates_nothing() {
    let site = Site::new();
    std::fs::write(
        site.path("typo.toml"),
        "[database]\nurl = \"sqlite://motdp.db\"\n",
    )
    .unwrap();
    let err = site.fails(&["--config", "typo.toml", "user", "list"], None, 3);
    assert!(
        err.contains("motdp.db") && err.contains("does not exist"),
        "{err}"
    );
    assert!(!site.path("motdp.db").exists());
}

#[test]
fn the_audit_actor_is_the_os_user_not_an_environment_variable() {
    let site = Site::new();
    let mut child = Command::new(env!("CARGO_BIN_EXE_motpd"))
        .args(["user", "add", "alice"])
        .current_dir(site.dir.path())
        .env("USER", "mallory")
        .env("SUDO_USER", "mallory")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(child.wait().unwrap().success());
    let actors = audit_actors(&site, "admin.user.add");
    assert_eq!(actors.len(), 1, "{actors:?}");
    assert!(!actors[0].contains("mallory"), "{actors:?}");
    assert!(actors[0].contains("(uid "), "{actors:?}");
}

#[test]
fn a_long_list_into_a_closed_pipe_ends_without_a_panic() {
    use std::io::Read;
    let site = Site::new();
    let mut csv = String::from("id,name\n");
    for i in 0..3000 {
        csv.push_str(&format!("n{i:05},Nurse {i}\n"));
    }
    let file = write_csv(&site, "many.csv", &csv);
    site.ok(&["user", "import", &file], None);
    let mut child = Command::new(env!("CARGO_BIN_EXE_motpd"))
        .args(["user", "list"])
        .current_dir(site.dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout); // like `| head`
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
}

#[test]
fn audit_list_filters_and_verify_reports_every_break_and_the_recorded_head() {
    let site = Site::new();
    site.ok(&["user", "add", "alice"], None);
    site.ok(&["user", "add", "bob"], None);
    site.ok(&["user", "lock", "alice"], None);
    site.ok(&["user", "unlock", "alice"], None);
    let rows: serde_json::Value = serde_json::from_str(&site.ok(
        &[
            "audit",
            "list",
            "--account",
            "alice",
            "--since",
            "1h",
            "--json",
        ],
        None,
    ))
    .unwrap();
    let kinds: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["admin.user.unlock", "admin.user.lock", "admin.user.add"]
    );
    assert!(rows[0]["time"].as_str().unwrap().ends_with("+08:00"));
    let locks = site.ok(&["audit", "list", "--kind", "admin.user.lock"], None);
    assert!(
        locks.contains("admin.user.lock") && !locks.contains("unlock"),
        "{locks}"
    );
    let none = site.ok(&["audit", "list", "--since", "2999-01-01"], None);
    assert_eq!(none.lines().count(), 1, "only the header: {none}");
    site.fails(&["audit", "list", "--since", "yesterday"], None, 8);

    let verified: serde_json::Value =
        serde_json::from_str(&site.ok(&["audit", "verify", "--json"], None)).unwrap();
    let head = verified["head"].as_str().unwrap().to_owned();
    site.ok(&["user", "add", "carol"], None);
    let out = site.ok(&["audit", "verify", "--head", &head], None);
    assert!(out.contains("the recorded head is in the trail"), "{out}");
    site.fails(&["audit", "verify", "--head", &"ab".repeat(32)], None, 1);

    // Two rows altered: both are reported, not only the first.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        use sqlx::Connection;
        let url = format!("sqlite://{}", site.path("motpd.db").display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("UPDATE audit_log SET outcome = 'error' WHERE seq IN (2, 4)")
            .execute(&mut conn)
            .await
            .unwrap();
    });
    let err = site.fails(&["audit", "verify"], None, 1);
    assert!(
        err.contains("audit row 2 was altered") && err.contains("audit row 4 was altered"),
        "{err}"
    );
}

/// The identity hash and whether `helpdesk_code` is alice's outstanding helpdesk code (taking it).
fn stored_proofs(site: &Site, helpdesk_code: &str) -> (Option<Vec<u8>>, Vec<u8>, bool) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let key = motpd::secrets::MasterKey::load(&site.path("motpd.key")).unwrap();
        let url = format!("sqlite://{}", site.path("motpd.db").display());
        let chain = motpd::audit::AuditChain::new(key.audit_chain_key());
        let store = motpd::store::connect(&url, 1, chain).await.unwrap();
        let stored = store.identity_hash("alice").await.unwrap();
        let ring = std::sync::Arc::new(motpd::secrets::Keyring::single(key));
        let expected =
            motpd::engine::identity::IdentityKey::new(ring.clone()).hash("alice", "A123456789");
        let now = motpd::clock::Clock::now(&motpd::clock::SystemClock);
        let hash =
            motpd::engine::helpdesk_codes::HelpdeskCodes::new(ring).hash("alice", helpdesk_code);
        let taken = store.take_helpdesk_code("alice", &hash, now).await.unwrap();
        store.close().await;
        (stored, expected, taken)
    })
}

#[test]
fn identities_and_helpdesk_codes_from_the_cli() {
    let site = Site::new();
    site.ok(&["user", "add", "alice", "--phone", "0912345678"], None);
    assert!(
        site.ok(&["user", "show", "alice"], None)
            .contains("identity    none")
    );
    // A bad identity is refused without echoing it; a good one is stored as a keyed hash of its normal form.
    let refused = site.fails(
        &["user", "set", "alice", "--identity-stdin"],
        Some("A1!SECRETVALUE"),
        8,
    );
    assert!(!refused.contains("SECRETVALUE"), "{refused}");
    site.ok(
        &["user", "set", "alice", "--identity-stdin"],
        Some(" a123 456 789\n"),
    );
    assert!(
        site.ok(&["user", "show", "alice"], None)
            .contains("identity    on file")
    );
    let (stored, expected, _) = stored_proofs(&site, "-");
    assert_eq!(stored, Some(expected));
    // Import: the identity column sets it, an empty cell clears it, no column keeps it.
    let csv = write_csv(&site, "ids.csv", "id,name,identity\nalice,Alice,\n");
    site.ok(&["user", "import", &csv], None);
    assert_eq!(stored_proofs(&site, "-").0, None);
    let csv = write_csv(
        &site,
        "ids.csv",
        "id,name,identity\nalice,Alice,A123456789\n",
    );
    site.ok(&["user", "import", &csv], None);
    let csv = write_csv(&site, "plain.csv", "id,name\nalice,Alice\n");
    site.ok(&["user", "import", &csv], None);
    let (stored, expected, _) = stored_proofs(&site, "-");
    assert_eq!(stored, Some(expected));

    // The helpdesk code: printed once, stored only as a keyed hash, a new one replaces the old.
    let first = site.ok(&["user", "reset-password", "alice"], None);
    let code_of = |out: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix("one-time code for alice: "))
            .unwrap_or_else(|| panic!("{out}"))
            .to_owned()
    };
    let first = code_of(&first);
    assert_eq!(first.len(), 14, "{first}");
    let second = code_of(&site.ok(&["user", "reset-password", "alice"], None));
    assert!(!stored_proofs(&site, &first).2, "replaced");
    assert!(stored_proofs(&site, &second).2);
    site.fails(&["user", "reset-password", "nobody"], None, 6);
    let details = [
        audit_details(&site, "admin.user.identity"),
        audit_details(&site, "admin.user.reset-password"),
        audit_details(&site, "admin.user.import"),
    ]
    .concat();
    assert!(details.len() >= 5, "{details:?}");
    assert!(
        details
            .iter()
            .all(|d| !d.contains("A123456789") && !d.contains(&first) && !d.contains(&second)),
        "{details:?}"
    );
}

/// Stores an invitation for `id` that expires `expires_in` seconds from now (no mail server in tests).
fn store_invitation(site: &Site, id: &str, token: u8, expires_in: i64) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let key = motpd::secrets::MasterKey::load(&site.path("motpd.key")).unwrap();
        let url = format!("sqlite://{}", site.path("motpd.db").display());
        let chain = motpd::audit::AuditChain::new(key.audit_chain_key());
        let store = motpd::store::connect(&url, 1, chain).await.unwrap();
        let now = motpd::clock::Clock::now(&motpd::clock::SystemClock);
        store
            .create_invitation(id, &[token; 32], now + expires_in, now - 3600)
            .await
            .unwrap();
        store.close().await;
    });
}

#[test]
fn user_list_states_filters_search_widths_and_the_unenrolled_report() {
    let site = Site::new();
    site.ok(
        &[
            "user",
            "add",
            "n001",
            "--name",
            "陳小美",
            "--phone",
            "0912-345-678",
            "--groups",
            "vpn,Nurses",
        ],
        None,
    );
    site.ok(
        &[
            "user",
            "add",
            "vendor1",
            "--name",
            "Vendor",
            "--expires",
            "2020-01-31",
        ],
        None,
    );
    site.ok(&["user", "add", "dr.lin", "--name", "Lin"], None);
    site.ok(
        &["user", "set-password", "dr.lin", "--password-stdin"],
        Some("Better2024"),
    );
    site.ok(&["device", "enroll", "dr.lin"], None);
    site.ok(&["user", "add", "off", "--name", "Off"], None);
    site.ok(
        &[
            "user", "set", "off", "--status", "disabled", "--reason", "left",
        ],
        None,
    );

    let ids = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["user", "list", "--json"];
        all.extend_from_slice(args);
        let list: serde_json::Value = serde_json::from_str(&site.ok(&all, None)).unwrap();
        list.as_array()
            .unwrap()
            .iter()
            .map(|u| {
                format!(
                    "{}={}",
                    u["id"].as_str().unwrap(),
                    u["state"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(
        ids(&[]),
        [
            "dr.lin=active",
            "n001=pending",
            "off=disabled",
            "vendor1=expired"
        ]
    );
    assert_eq!(ids(&["--status", "expired"]), ["vendor1=expired"]);
    assert_eq!(ids(&["--expired"]), ["vendor1=expired"]);
    assert_eq!(ids(&["--group", "nurses"]), ["n001=pending"]);
    assert_eq!(
        ids(&["--unenrolled", "--status", "pending"]),
        ["n001=pending"]
    );
    assert_eq!(ids(&["--unenrolled"]).len(), 3);
    for search in ["小美", "0912345", "+886 912", "N00"] {
        assert_eq!(ids(&["--search", search]), ["n001=pending"], "{search}");
    }
    assert_eq!(ids(&["--search", "LIN"]), ["dr.lin=active"]);
    site.fails(&["user", "list", "--status", "gone"], None, 2);

    // The table: `expired` shown, and every column starts at the same screen column despite wide characters.
    let table = site.ok(&["user", "list"], None);
    assert!(table.contains("expired"), "{table}");
    assert!(table.contains("LAST VPN LOGIN"), "{table}");
    let status_column = |line: &str| {
        let at = ["STATUS", "active", "pending", "disabled", "expired"]
            .iter()
            .find_map(|w| line.find(w))
            .unwrap();
        unicode_width::UnicodeWidthStr::width(&line[..at])
    };
    let columns: Vec<usize> = table.lines().map(status_column).collect();
    assert!(columns.iter().all(|&c| c == columns[0]), "{table}");
    // The device bound by the admin has never logged in at the VPN.
    let lin = table.lines().find(|l| l.starts_with("dr.lin")).unwrap();
    assert!(lin.trim_end().ends_with('-'), "{table}");

    // The unenrolled report: no "log in with a password" for accounts that have none; the invitation state.
    store_invitation(&site, "n001", 1, 7 * 86_400);
    store_invitation(&site, "off", 2, -60);
    let report = site.ok(&["report", "unenrolled"], None);
    assert!(
        report.contains("PASSWORD") && report.contains("LINK"),
        "{report}"
    );
    let row = |id: &str| {
        report
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap()
            .to_owned()
    };
    assert!(row("n001").contains("valid until"), "{report}");
    assert!(row("off").contains("expired 2"), "{report}");
    assert!(row("vendor1").trim_end().ends_with("none"), "{report}");
    assert!(
        report.contains("3 of them have no password yet"),
        "{report}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&site.ok(&["report", "unenrolled", "--json"], None)).unwrap();
    let n001 = &json.as_array().unwrap()[0];
    assert_eq!(
        (&n001["id"], &n001["link"], &n001["has_password"]),
        (&"n001".into(), &"valid".into(), &false.into())
    );
}
#[test]
fn user_set_audits_old_and_new_values_and_refuses_nothing_to_change() {
    let site = Site::new();
    let add = [
        "user",
        "add",
        "alice",
        "--phone",
        "0912345678",
        "--groups",
        "vpn",
    ];
    site.ok(&add, None);
    assert_eq!(
        audit_details(&site, "admin.user.add"),
        [
            r#"{"groups":{"new":["vpn"],"old":[]},"name":{"new":"alice","old":""},"phone":{"new":"0912-***-678","old":null}}"#
        ]
    );
    let err = site.fails(&["user", "set", "alice"], None, 8);
    assert!(err.contains("nothing to change for alice"), "{err}");
    assert!(audit_details(&site, "admin.user.set").is_empty());

    let set = [
        "user",
        "set",
        "alice",
        "--groups",
        "vpn,nurses",
        "--phone",
        "0987654321",
    ];
    let out = site.ok(&set, None);
    assert!(out.contains("updated alice: groups, phone"), "{out}");
    assert_eq!(
        audit_details(&site, "admin.user.set"),
        [
            r#"{"groups":{"new":["vpn","nurses"],"old":["vpn"]},"phone":{"new":"0987-***-321","old":"0912-***-678"}}"#
        ]
    );
    // The same values again change nothing, and write nothing.
    assert!(site.ok(&set, None).contains("nothing changed"));
    assert_eq!(audit_details(&site, "admin.user.set").len(), 1);

    let set = [
        "user",
        "set",
        "alice",
        "--status",
        "disabled",
        "--sms-fallback",
        "off",
        "--reason",
        "ticket 4711",
    ];
    site.ok(&set, None);
    // One row each, as the console writes them, with the reason.
    assert_eq!(
        audit_details(&site, "admin.user.set")[1..],
        [
            r#"{"reason":"ticket 4711","status":{"new":"disabled","old":"pending"}}"#,
            r#"{"reason":"ticket 4711","sms_fallback":{"new":false,"old":null}}"#
        ]
    );

    // A secret only as "changed".
    site.ok(
        &["user", "set-password", "alice", "--password-stdin"],
        Some("Better2024"),
    );
    assert_eq!(
        audit_details(&site, "admin.user.set-password"),
        [r#"{"password":"changed"}"#]
    );

    site.ok(&["user", "lock", "alice"], None);
    site.ok(&["user", "unlock", "alice"], None);
    assert!(
        site.ok(&["user", "unlock", "alice"], None)
            .contains("nothing changed")
    );
    assert_eq!(
        audit_details(&site, "admin.user.unlock"),
        [r#"{"locked":{"new":false,"old":true}}"#]
    );
    assert_eq!(
        audit_details(&site, "admin.user.lock"),
        [r#"{"locked":{"new":true,"old":false}}"#]
    );
}

#[test]
fn user_import_audits_one_row_per_changed_account() {
    let site = Site::new();
    let first = write_csv(
        &site,
        "staff.csv",
        "id,name,phone\nalice,Alice,0912345678\nbob,Bob,\n",
    );
    site.ok(&["user", "import", &first], None);
    let second = write_csv(
        &site,
        "staff2.csv",
        "id,name,phone\nalice,Alice,0912345678\nbob,Bobby,\n",
    );
    site.ok(&["user", "import", &second], None);
    assert_eq!(
        audit_accounts(&site, "admin.user.import"),
        ["alice", "bob", "bob"]
    );
    let details = audit_details(&site, "admin.user.import");
    assert!(
        details[0].contains(r#""created":true"#)
            && details[0].contains(r#""phone":{"new":"0912-***-678","old":null}"#),
        "{details:?}"
    );
    assert_eq!(
        details[2],
        r#"{"file":"staff2.csv","name":{"new":"Bobby","old":"Bob"}}"#
    );
}

#[test]
fn remove_and_device_reset_ask_first_and_refuse_without_a_terminal() {
    let site = Site::new();
    site.ok(&["user", "add", "alice"], None);
    site.ok(&["device", "enroll", "alice"], None);

    let err = site.fails(&["device", "reset", "alice"], None, 2);
    assert!(
        err.contains("Unbind its totp device from alice?")
            && err.contains("motpd device reset alice --yes"),
        "{err}"
    );
    let err = site.fails(&["user", "remove", "alice"], None, 2);
    assert!(
        err.contains("Remove account alice (alice, pending) with its totp device?")
            && err.contains("--yes"),
        "{err}"
    );
    let report = site.ok(&["report", "unenrolled"], None);
    assert!(report.contains("0 account(s) without a device"), "{report}");
    assert!(audit_details(&site, "admin.device.reset").is_empty());

    site.ok(&["device", "reset", "alice", "--yes"], None);
    // Nothing left to unbind: no row for the no-op.
    site.ok(&["device", "reset", "alice", "-y"], None);
    assert_eq!(
        audit_details(&site, "admin.device.reset"),
        [r#"{"device":{"new":null,"old":"totp"},"removed":1}"#]
    );
    site.ok(&["user", "remove", "alice", "--yes"], None);
    site.fails(&["user", "show", "alice"], None, 6);
    let removed = audit_details(&site, "admin.user.remove");
    assert!(
        removed[0].contains(r#""status":{"new":null,"old":"pending"}"#),
        "{removed:?}"
    );
}

/// `motpd ARGS` at a terminal (util-linux `script` gives it a pseudo-terminal), typing `answer`; returns the
/// exit code and what the terminal showed, or `None` without `script`.
fn at_terminal(site: &Site, args: &str, answer: &str) -> Option<(Option<i32>, String)> {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: util-linux `script` is not installed");
        return None;
    }
    let command = format!("{} {args}", env!("CARGO_BIN_EXE_motpd"));
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(site.path("."))
        .env_remove("MOTPD_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(answer.as_bytes()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    Some((out.status.code(), text(&out)))
}

#[test]
fn remove_at_a_terminal_asks_and_only_yes_goes_ahead() {
    let site = Site::new();
    site.ok(&["user", "add", "alice"], None);
    let Some((code, shown)) = at_terminal(&site, "user remove alice", "n\n") else {
        return;
    };
    assert_eq!(code, Some(1), "{shown}");
    assert!(
        shown.contains(
            "Remove account alice (alice, pending) with no device? It cannot be undone. [y/N]"
        ) && shown.contains("not confirmed; nothing was done"),
        "{shown}"
    );
    site.ok(&["user", "show", "alice"], None);
    let (code, shown) = at_terminal(&site, "user remove alice", "y\n").unwrap();
    assert_eq!(code, Some(0), "{shown}");
    assert!(shown.contains("removed alice"), "{shown}");
    site.fails(&["user", "show", "alice"], None, 6);
}

/// Every time the CLI prints is in `policy.utc_offset` with the offset written out (the time the person on the
/// phone reads in mails and pages), and JSON keeps the Unix seconds beside that text.
#[test]
fn printed_times_are_in_the_site_offset() {
    let site = Site::new();
    site.ok(
        &[
            "client",
            "add",
            "ns",
            "--address",
            "10.0.0.10",
            "--secret-stdin",
        ],
        Some("a-long-shared-secret-1234\n"),
    );
    let table = site.ok(&["client", "list"], None);
    assert!(table.contains(" +08:00"), "{table}");
    assert!(!table.contains('Z'), "{table}");
    let clients: serde_json::Value =
        serde_json::from_str(&site.ok(&["client", "list", "--json"], None)).unwrap();
    assert!(clients[0]["created_at"].is_i64(), "{clients}");
    let local = clients[0]["created_at_local"].as_str().unwrap();
    assert!(local.ends_with(" +08:00") && local.len() == 23, "{local}");

    site.ok(&["user", "add", "alice", "--email", "a@h.org"], None);
    site.ok(&["user", "lock", "alice"], None);
    let show = site.ok(&["user", "show", "alice"], None);
    assert!(show.contains("until `motpd user unlock alice`"), "{show}");
    let users = site.users_json();
    assert!(users[0]["created_at_local"].is_string(), "{users}");

    let config = std::fs::read_to_string(site.path("motpd.toml")).unwrap();
    let config = config.replace("utc_offset = \"+08:00\"", "utc_offset = \"-03:30\"");
    std::fs::write(site.path("motpd.toml"), config).unwrap();
    let table = site.ok(&["client", "list"], None);
    assert!(table.contains(" -03:30"), "{table}");
    let audit = site.ok(&["audit", "list", "--limit", "1"], None);
    assert!(audit.contains(" -03:30"), "{audit}");
}

/// Shell completion scripts and manual pages come from the same definitions as `--help`, without a config.
#[test]
fn completions_and_man_pages_are_generated() {
    let dir = tempfile::tempdir().unwrap();
    let site = Site { dir };
    for shell in ["bash", "zsh", "fish"] {
        let script = site.ok(&["completions", shell], None);
        assert!(
            script.contains("set-password") && script.contains("reset-password"),
            "{shell}: {script}"
        );
    }
    site.fails(&["completions", "cmd.exe"], None, 2);
    let page = site.ok(&["man"], None);
    assert!(
        page.starts_with(".ie") && page.contains(".TH motpd 1"),
        "{page}"
    );
    assert!(page.contains("Exit codes"), "{page}");
    let written = site.ok(&["man", "--dir", "share/man/man1"], None);
    assert!(written.contains("share/man/man1"), "{written}");
    for page in [
        "motpd.1",
        "motpd-user.1",
        "motpd-user-set-password.1",
        "motpd-invite.1",
    ] {
        let text = std::fs::read_to_string(site.path("share/man/man1").join(page)).unwrap();
        assert!(text.contains(".TH"), "{page}");
    }
    assert!(!site.path("motpd.toml").exists() && !site.path("motpd.db").exists());
}

/// `user set-password` on a terminal asks twice without echo (no password in the shell history); piped input
/// needs no flag, and `--password-stdin` is still accepted.
#[test]
fn set_password_prompts_on_a_terminal_and_reads_a_pipe_without_a_flag() {
    let site = Site::new();
    site.ok(&["user", "add", "alice"], None);
    site.ok(&["user", "set-password", "alice"], Some("Better2024\n"));
    assert!(
        site.ok(&["user", "show", "alice"], None)
            .contains("status      active")
    );
    site.ok(
        &["user", "set-password", "alice", "--password-stdin"],
        Some("Better2025"),
    );

    // `script` gives the command a terminal; the two answers are typed into it.
    site.ok(&["user", "add", "bob"], None);
    let motpd = env!("CARGO_BIN_EXE_motpd");
    let typed = |answers: &str| {
        let mut child = Command::new("script")
            .args([
                "-qec",
                &format!("{motpd} user set-password bob"),
                "/dev/null",
            ])
            .current_dir(site.dir.path())
            .env_remove("MOTPD_CONFIG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(answers.as_bytes()).unwrap();
        drop(input);
        let out = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let differ = typed("Better2024\nBetter2025\n");
    assert!(differ.contains("New password for bob"), "{differ}");
    assert!(differ.contains("differ"), "{differ}");
    assert!(
        site.ok(&["user", "show", "bob"], None)
            .contains("status      pending")
    );
    let same = typed("Better2024\nBetter2024\n");
    assert!(same.contains("password of bob changed"), "{same}");
    assert!(
        site.ok(&["user", "show", "bob"], None)
            .contains("status      active")
    );
}

/// A refusal that an option overrides names the option.
#[test]
fn already_bound_errors_name_replace_and_force() {
    let site = Site::new();
    site.ok(&["user", "add", "alice", "--email", "alice@h.org"], None);
    site.ok(&["device", "enroll", "alice"], None);
    let enroll = site.fails(&["device", "enroll", "alice"], None, 7);
    assert!(
        enroll.contains("use --replace") && enroll.contains("motpd device reset alice"),
        "{enroll}"
    );
    let import = site.fails(
        &["device", "enroll", "alice", "--secret-stdin"],
        Some("JBSWY3DPEHPK3PXP\n"),
        7,
    );
    assert!(import.contains("use --replace"), "{import}");
    let invite = site.fails(&["invite", "alice"], None, 7);
    assert!(invite.contains("use --force"), "{invite}");
    let qr = site.fails(&["invite", "alice", "--qr-in-mail"], None, 7);
    assert!(qr.contains("motpd device reset alice"), "{qr}");
}
