//! `motpd admin ...` through the binary, as an operator runs it without a terminal: the password and then the
//! app's code as lines on standard input, the code computed from the initial key the command printed.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use motpd::otp::{self, Algorithm};

fn motpd(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_motpd"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("MOTPD_CONFIG")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn run(dir: &Path, args: &[&str]) -> Output {
    let child = motpd(dir, args).spawn().unwrap();
    child.wait_with_output().unwrap()
}

/// `admin add` (or `reset`, `password: None`): the password line, then the code of the printed key (or
/// `wrong_code`, three times).
fn enroll(dir: &Path, args: &[&str], password: Option<&str>, wrong_code: Option<&str>) -> Output {
    let mut child = motpd(dir, args).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    if let Some(password) = password {
        writeln!(stdin, "{password}").unwrap();
    }
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    let key = loop {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap() == 0 {
            drop(stdin);
            let out = child.wait_with_output().unwrap();
            panic!("no key printed: {printed}{}", text(&out));
        }
        printed.push_str(&line);
        if let Some(key) = line.trim().strip_prefix("initial key") {
            break key.replace(' ', "");
        }
    };
    match wrong_code {
        Some(code) => {
            for _ in 0..3 {
                writeln!(stdin, "{code}").unwrap();
            }
        }
        None => {
            let seed = otp::parse_base32_seed(&key).unwrap();
            let now = u64::try_from(motpd::clock::Clock::now(&motpd::clock::SystemClock)).unwrap();
            let code = otp::totp_at(&seed, now, 30, 6, Algorithm::Sha1).unwrap();
            writeln!(stdin, "{code}").unwrap();
        }
    }
    drop(stdin);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let mut out = child.wait_with_output().unwrap();
    out.stdout = format!("{printed}{rest}").into_bytes();
    out
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn admins_are_added_with_their_first_code_listed_reset_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    assert!(run(dir, &["init"]).status.success());

    let added = enroll(
        dir,
        &["admin", "add", "Desk", "--role", "helpdesk"],
        Some("Helpdesk2026pw"),
        None,
    );
    assert!(added.status.success(), "{}", text(&added));
    assert!(
        text(&added).contains("added helpdesk desk"),
        "{}",
        text(&added)
    );

    let list = run(dir, &["admin", "list"]);
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed.contains("desk") && listed.contains("helpdesk") && listed.contains("active"),
        "{listed}"
    );

    let again = run(dir, &["admin", "add", "desk", "--role", "admin"]);
    assert_eq!(again.status.code(), Some(7), "{}", text(&again));

    let empty = run(dir, &["admin", "add", "boss", "--role", "admin"]);
    assert_eq!(
        empty.status.code(),
        Some(8),
        "no password: {}",
        text(&empty)
    );
    let wrong = enroll(
        dir,
        &["admin", "add", "boss", "--role", "admin"],
        Some("Boss2026password"),
        Some("000000"),
    );
    assert_eq!(wrong.status.code(), Some(8), "{}", text(&wrong));
    assert!(!String::from_utf8_lossy(&run(dir, &["admin", "list"]).stdout).contains("boss"));

    let disabled = run(dir, &["admin", "disable", "desk", "--reason", "on leave"]);
    assert!(disabled.status.success(), "{}", text(&disabled));
    let listed = run(dir, &["admin", "list"]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("disabled"));
    assert!(run(dir, &["admin", "enable", "desk"]).status.success());
    assert_eq!(
        run(dir, &["admin", "enable", "nobody"]).status.code(),
        Some(6)
    );
    let reset = enroll(dir, &["admin", "reset", "desk"], None, None);
    assert!(reset.status.success(), "{}", text(&reset));
    let removed = run(dir, &["admin", "remove", "desk", "--yes"]);
    assert!(removed.status.success(), "{}", text(&removed));
    let none = run(dir, &["admin", "list"]);
    assert!(String::from_utf8_lossy(&none.stdout).contains("no console admins"));
    assert_eq!(
        run(dir, &["admin", "remove", "desk", "--yes"])
            .status
            .code(),
        Some(6)
    );

    let audit = run(dir, &["audit", "list", "--json"]);
    let trail = String::from_utf8_lossy(&audit.stdout);
    for kind in [
        "admin.admin.add",
        "admin.admin.disable",
        "admin.admin.enable",
        "admin.admin.reset",
        "admin.admin.remove",
    ] {
        assert!(trail.contains(kind), "{kind}: {trail}");
    }
    // The reason given, as the console writes its admin's; the actor is the operating-system user.
    let rows: serde_json::Value = serde_json::from_str(&trail).unwrap();
    let disable = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "admin.admin.disable")
        .unwrap();
    assert_eq!(disable["detail"]["reason"], "on leave", "{disable}");
    assert!(
        disable["actor"].as_str().unwrap().starts_with("cli:"),
        "{disable}"
    );
    let enable = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "admin.admin.enable")
        .unwrap();
    assert!(enable["detail"].get("reason").is_none(), "{enable}");
}
