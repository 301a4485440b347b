//! The helpdesk console's account actions from the command line, through the binary: the same engine
//! functions, the same audit rows (actor `cli:<login>(uid N)` and the reason), a reason required for the
//! status, SMS and expiry changes, a past last day refused with its exit code and nothing changed, and
//! `audit list --actor --until` finding what the console's audit search finds. On SQLite and, when
//! `MOTPD_TEST_DATABASE_URL` is set, on a PostgreSQL database of its own.

use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::common::{PG_ENV, PgDatabase};

/// A configuration and key in a temporary directory, on SQLite or a fresh PostgreSQL database.
struct Site {
    dir: tempfile::TempDir,
    /// The database URL (`sqlite://...` or `postgres://...`).
    url: String,
    _pg: Option<PgDatabase>,
}

impl Site {
    fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("motpd.db").display());
        let site = Self {
            dir,
            url,
            _pg: None,
        };
        site.ok(&["init"]);
        site
    }

    /// `None` when no PostgreSQL server is configured for the tests.
    fn postgres() -> Option<Self> {
        let admin_url = std::env::var(PG_ENV).ok().filter(|u| !u.is_empty())?;
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let pg = runtime.block_on(PgDatabase::create(&admin_url));
        let dir = tempfile::tempdir().unwrap();
        let site = Self {
            dir,
            url: pg.url.clone(),
            _pg: Some(pg),
        };
        site.ok(&["init"]);
        let config = site.dir.path().join("motpd.toml");
        let text = std::fs::read_to_string(&config).unwrap();
        assert!(text.contains("url = \"sqlite://motpd.db\""), "{text}");
        let text = text.replace(
            "url = \"sqlite://motpd.db\"",
            &format!("url = \"{}\"", site.url),
        );
        std::fs::write(&config, text).unwrap();
        site.ok(&["init"]);
        Some(site)
    }

    /// SQLite, and PostgreSQL when configured.
    fn all() -> Vec<Self> {
        let mut sites = vec![Self::sqlite()];
        match Self::postgres() {
            Some(site) => sites.push(site),
            None => eprintln!("PostgreSQL CLI helpdesk tests skipped: set {PG_ENV}"),
        }
        sites
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

    fn run_with_stdin(&self, args: &[&str], input: &str) -> Output {
        use std::io::Write as _;
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
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
        drop(stdin);
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "motpd {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a command that must fail with `code`; its standard error.
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

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    fn account(&self, id: &str) -> Value {
        self.json(&["user", "show", id, "--json"])
    }

    /// The audit rows of `kind` (a prefix), oldest first, as `audit list --json` prints them.
    fn audit(&self, kind: &str) -> Vec<Value> {
        let rows = self.json(&["audit", "list", "--kind", kind, "--json"]);
        let mut rows = rows.as_array().unwrap().clone();
        rows.reverse();
        rows
    }

    /// Runs one SQL statement on the site's database (to age rows for the date filters).
    fn execute(&self, sql: &str) {
        use sqlx::Connection as _;
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            if self.url.starts_with("sqlite") {
                let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                conn.close().await.unwrap();
            } else {
                let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                conn.close().await.unwrap();
            }
        });
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

/// The CLI's actor: `cli:<login name>(uid N)`.
fn assert_cli_actor(row: &Value) {
    let actor = row["actor"].as_str().unwrap();
    assert!(
        actor.starts_with("cli:") && actor.contains("(uid "),
        "{row}"
    );
}

#[test]
fn status_sms_and_expiry_need_a_reason_and_a_past_last_day_is_refused() {
    for site in Site::all() {
        site.ok(&["user", "add", "alice", "--name", "Alice"]);

        // No reason (or a blank one): usage error, nothing changed, nothing audited.
        for args in [
            &["user", "set", "alice", "--status", "disabled"][..],
            &["user", "set", "alice", "--sms-fallback", "off"],
            &["user", "set", "alice", "--expires", "2099-12-31"],
            &[
                "user",
                "set",
                "alice",
                "--expires",
                "2099-12-31",
                "--reason",
                "  ",
            ],
            &[
                "user", "set", "alice", "--name", "Eve", "--status", "disabled",
            ],
        ] {
            let err = site.fails(args, 2);
            assert!(err.contains("--reason TEXT"), "{args:?}: {err}");
        }
        let alice = site.account("alice");
        assert_eq!(
            (
                &alice["status"],
                &alice["sms_fallback"],
                &alice["expires_on"],
                &alice["name"]
            ),
            (
                &"pending".into(),
                &Value::Null,
                &Value::Null,
                &"Alice".into()
            )
        );
        assert!(site.audit("admin.user.set").is_empty());

        // A last day before today: invalid input (exit 8), and the other fields given are not written either.
        let err = site.fails(
            &[
                "user",
                "set",
                "alice",
                "--name",
                "Eve",
                "--expires",
                "2020-01-31",
                "--reason",
                "T-1",
            ],
            8,
        );
        assert!(err.contains("2020-01-31 is in the past"), "{err}");
        assert_eq!(site.account("alice")["name"], "Alice");
        assert!(site.audit("admin.user.set").is_empty());

        // `user add` creates an account already past its last day (as an import does), with a warning.
        let out = site.run(&["user", "add", "vendor", "--expires", "2020-01-31"]);
        assert!(out.status.success(), "{}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("vendor expires 2020-01-31, already past"),
            "{err}"
        );

        // With a reason: one row per change, as the console writes it, with the CLI's actor.
        let out = site.ok(&[
            "user",
            "set",
            "alice",
            "--status",
            "disabled",
            "--sms-fallback",
            "on",
            "--expires",
            "2099-12-31",
            "--reason",
            "ticket 4711",
        ]);
        assert!(
            out.contains("updated alice: status, sms_fallback, expires"),
            "{out}"
        );
        let alice = site.account("alice");
        assert_eq!(
            (
                &alice["status"],
                &alice["sms_fallback"],
                &alice["expires_on"]
            ),
            (&"disabled".into(), &true.into(), &"2099-12-31".into())
        );
        let rows = site.audit("admin.user.set");
        let details: Vec<String> = rows.iter().map(|r| r["detail"].to_string()).collect();
        assert_eq!(
            details,
            [
                r#"{"reason":"ticket 4711","status":{"new":"disabled","old":"pending"}}"#,
                r#"{"reason":"ticket 4711","sms_fallback":{"new":true,"old":null}}"#,
                r#"{"expires":{"new":"2099-12-31","old":null},"reason":"ticket 4711"}"#,
            ]
        );
        rows.iter().for_each(assert_cli_actor);

        // The same values again: nothing changed, nothing audited; `--expires ''` removes the last day.
        let again = site.ok(&[
            "user", "set", "alice", "--status", "disabled", "--reason", "again",
        ]);
        assert!(again.contains("nothing changed"), "{again}");
        site.ok(&[
            "user",
            "set",
            "alice",
            "--expires",
            "",
            "--reason",
            "now staff",
        ]);
        assert_eq!(site.account("alice")["expires_on"], Value::Null);
        let rows = site.audit("admin.user.set");
        assert_eq!(rows.len(), 4);
        assert_eq!(
            rows[3]["detail"].to_string(),
            r#"{"expires":{"new":null,"old":"2099-12-31"},"reason":"now staff"}"#
        );

        // Fields that are not the console's decisions need no reason, and keep it when given.
        site.ok(&["user", "set", "alice", "--email", "alice@example.org"]);
        site.ok(&[
            "user", "set", "alice", "--groups", "vpn", "--reason", "HR form",
        ]);
        let rows = site.audit("admin.user.set");
        assert_eq!(
            rows[4]["detail"].to_string(),
            r#"{"email":{"new":"alice@example.org","old":null}}"#
        );
        assert_eq!(
            rows[5]["detail"].to_string(),
            r#"{"groups":{"new":["vpn"],"old":[]},"reason":"HR form"}"#
        );
    }
}

#[test]
fn desk_actions_from_the_cli_carry_the_reason_into_the_audit_row() {
    for site in Site::all() {
        site.ok(&["user", "add", "alice"]);
        site.ok(&["user", "lock", "alice", "--reason", "suspected phishing"]);
        let again = site.ok(&["user", "lock", "alice"]);
        assert!(again.contains("already locked"), "{again}");
        site.ok(&[
            "user",
            "unlock",
            "alice",
            "--reason",
            "caller verified, T-9",
        ]);
        site.ok(&["device", "enroll", "alice"]);
        site.ok(&[
            "device",
            "reset",
            "alice",
            "--yes",
            "--reason",
            "lost phone",
        ]);
        site.ok(&[
            "user",
            "reset-password",
            "alice",
            "--reason",
            "ID card checked",
        ]);
        let out = site.run_with_stdin(
            &[
                "user",
                "set",
                "alice",
                "--identity-stdin",
                "--reason",
                "HR record",
            ],
            "A123456789",
        );
        assert!(out.status.success(), "{}", text(&out));
        // Without --reason these stay as they were: no reason in the row.
        site.ok(&["user", "lock", "alice"]);
        site.ok(&["user", "unlock", "alice"]);

        let reason = |kind: &str| -> Vec<Value> {
            site.audit(kind)
                .iter()
                .inspect(|row| assert_cli_actor(row))
                .map(|row| row["detail"]["reason"].clone())
                .collect()
        };
        assert_eq!(
            reason("admin.user.lock"),
            [Value::from("suspected phishing"), Value::Null]
        );
        assert_eq!(
            reason("admin.user.unlock"),
            [Value::from("caller verified, T-9"), Value::Null]
        );
        assert_eq!(reason("admin.device.reset"), [Value::from("lost phone")]);
        assert_eq!(reason("admin.user.identity"), [Value::from("HR record")]);
        assert_eq!(
            reason("admin.user.reset-password"),
            [Value::from("ID card checked")]
        );
        let lock = &site.audit("admin.user.lock")[0]["detail"];
        assert_eq!(
            lock["locked"],
            serde_json::json!({ "old": false, "new": true })
        );

        site.ok(&[
            "client",
            "add",
            "ns1",
            "--address",
            "10.0.0.1",
            "--reason",
            "new appliance",
        ]);
        site.ok(&["client", "remove", "ns1", "--reason", "decommissioned"]);
        assert_eq!(
            site.audit("admin.client.remove")[0]["detail"]["reason"],
            "decommissioned"
        );
        assert_eq!(
            site.audit("admin.client.add")[0]["detail"]["reason"],
            "new appliance"
        );
    }
}

#[test]
fn audit_list_filters_by_actor_and_until_as_the_console_searches() {
    for site in Site::all() {
        site.ok(&["user", "add", "alice"]);
        site.ok(&["user", "add", "bob"]);
        site.ok(&["user", "lock", "alice"]);
        let seqs = |args: &[&str]| -> Vec<i64> {
            let mut all = vec!["audit", "list", "--kind", "admin.user.", "--json"];
            all.extend_from_slice(args);
            let rows = site.json(&all);
            rows.as_array()
                .unwrap()
                .iter()
                .map(|r| r["seq"].as_i64().unwrap())
                .collect()
        };
        let all = seqs(&[]);
        let [lock, bob, alice] = all[..] else {
            panic!("{all:?}")
        };
        let actor = site.audit("admin.user.lock")[0]["actor"]
            .as_str()
            .unwrap()
            .to_owned();

        // bob's row as the console would have written it.
        site.execute(&format!(
            "UPDATE audit_log SET actor = 'console:desk' WHERE seq = {bob}"
        ));
        assert_eq!(seqs(&["--actor", &actor]), [lock, alice]);
        assert_eq!(seqs(&["--actor", "console:desk"]), [bob]);
        assert!(seqs(&["--actor", "console:nobody"]).is_empty());
        // Exact, as the console's actor field: a part of the name finds nothing.
        assert!(seqs(&["--actor", "cli:"]).is_empty());

        // The two additions three days back: --until a duration or a day (included whole) finds only them.
        site.execute(&format!(
            "UPDATE audit_log SET at = at - 3 * 86400 WHERE seq IN ({alice}, {bob})"
        ));
        let old = site.json(&["audit", "list", "--kind", "admin.user.add", "--json"]);
        let old_day = old[0]["time"].as_str().unwrap()[..10].to_owned();
        assert_eq!(seqs(&["--until", "2d"]), [bob, alice]);
        assert_eq!(seqs(&["--until", &old_day]), [bob, alice]);
        assert_eq!(seqs(&["--since", "2d"]), [lock]);
        assert_eq!(
            seqs(&["--since", &old_day, "--until", &old_day]),
            [bob, alice]
        );
        assert_eq!(seqs(&["--until", "2d", "--account", "bob"]), [bob]);
        assert_eq!(seqs(&["--until", "2d", "--actor", &actor]), [alice]);
        assert!(seqs(&["--until", "2000-01-01"]).is_empty());
        let err = site.fails(&["audit", "list", "--until", "last week"], 8);
        assert!(err.contains("--until \"last week\""), "{err}");
        let err = site.fails(&["audit", "list", "--since=-1d"], 8);
        assert!(err.contains("--since \"-1d\""), "{err}");
        let reversed = ["audit", "list", "--since", "2d", "--until", "3d"];
        assert!(site.fails(&reversed, 8).contains("not before"));
    }
}

#[test]
fn audit_verify_is_recorded_and_the_report_prints_the_consoles_csv() {
    for site in Site::all() {
        site.ok(&[
            "user",
            "add",
            "alice",
            "--name",
            "Chen, Mei",
            "--groups",
            "nurses",
        ]);
        site.ok(&["user", "add", "bob", "--groups", "nurses"]);
        site.ok(&["device", "enroll", "bob"]);
        site.ok(&["audit", "verify"]);
        let rows = site.audit("admin.audit.verify");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["outcome"], "ok");
        assert_cli_actor(&rows[0]);
        assert_eq!(rows[0]["detail"]["breaks"], 0);
        assert_eq!(rows[0]["detail"]["recorded_head_found"], Value::Null);

        let csv = site.ok(&["report", "unenrolled", "--csv"]);
        assert!(csv.starts_with('\u{feff}'), "{csv:?}");
        let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').split("\r\n").collect();
        assert!(lines[0].starts_with("ID,"), "{csv}");
        assert!(lines[1].starts_with("alice,\"Chen, Mei\","), "{csv}");
        assert_eq!(
            lines.len(),
            3,
            "header, alice, and the final line end: {csv:?}"
        );
        let table = site.ok(&["report", "unenrolled"]);
        let nurses = table.lines().find(|l| l.starts_with("nurses")).unwrap();
        assert_eq!(
            nurses.split_whitespace().collect::<Vec<_>>(),
            ["nurses", "1", "1"],
            "{table}"
        );
        site.fails(&["report", "unenrolled", "--csv", "--json"], 2);
    }
}
