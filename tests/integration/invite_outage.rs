//! `motpd invite` when the mail relay is down, and `invite --all-unenrolled` as a mass action. With the real
//! SMTP sink (`tests/clients/smtp_sink.py`) and a closed port: a failed send stores nothing (the person's
//! earlier link keeps working) and is audited `failed` with the kind of error; a later successful send
//! replaces the earlier link. `--all-unenrolled` asks first (refused without a terminal or `--yes`), shows
//! its plan with `--dry-run`, and skips disabled, expired and address-less accounts, saying why (named alone,
//! a disabled or expired account is refused).

use std::net::TcpListener;
use std::path::Path;

use motpd::engine::invitations::{InviteError, InviteMode, LinkState};
use motpd::notify::SmtpMailer;
use motpd::secrets::SecretString;
use sha2::{Digest, Sha256};

use crate::invite_mail::{link_path, mail, motpd, setup_with_port, start_sink};
use crate::web_enroll::PASSWORD;

/// A local port nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn token(link: &str) -> String {
    link.rsplit('/').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_failed_invitation_mail_keeps_the_earlier_link_and_is_audited_as_failed() {
    let Some(sink) = start_sink().await else {
        return;
    };
    let (f, _state, invitations) = setup_with_port(sink.port).await;
    f.account("alice", PASSWORD).await;
    let offset = f.config.policy.utc_offset;
    let relay = SmtpMailer::new(&f.config.smtp).unwrap();
    let mut down = f.config.smtp.clone();
    down.port = closed_port();
    let down = SmtpMailer::new(&down).unwrap();
    let link = InviteMode::Link { allow_bound: false };

    let first = invitations
        .invite_by_mail("alice", link, ("cli:test", None), &relay, offset)
        .await
        .unwrap();
    let first: SecretString = first.link;
    let valid = LinkState::Valid {
        account_id: "alice".into(),
    };
    for mode in [link, InviteMode::SeedInMail] {
        let err = invitations
            .invite_by_mail("alice", mode, ("cli:test", None), &down, offset)
            .await
            .unwrap_err();
        assert!(matches!(err, InviteError::Mail { .. }), "{err}");
        assert!(
            err.to_string().contains("an earlier link still works"),
            "{err}"
        );
        assert_eq!(
            invitations.open(&token(first.expose())).await.unwrap(),
            valid,
            "{mode:?}"
        );
    }
    assert!(f.store.active_device("alice").await.unwrap().is_none());

    let rows: Vec<_> = f
        .store
        .audit_page(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.event.kind == "admin.invite")
        .map(|r| r.event)
        .collect();
    let outcomes: Vec<&str> = rows.iter().map(|e| e.outcome.as_str()).collect();
    assert_eq!(outcomes, ["ok", "failed", "failed"]);
    assert!(
        rows[1].detail.contains("\"error\":\"smtp\""),
        "{}",
        rows[1].detail
    );
    assert!(
        rows[2].detail.contains("\"qr_in_mail\":true"),
        "{}",
        rows[2].detail
    );
    assert!(
        rows.iter()
            .all(|e| !e.detail.contains(&token(first.expose()))),
        "{rows:?}"
    );

    // Only a sent mail replaces the earlier link.
    let second = invitations
        .invite_by_mail("alice", link, ("cli:test", None), &relay, offset)
        .await
        .unwrap();
    assert_eq!(
        invitations.open(&token(first.expose())).await.unwrap(),
        LinkState::Unknown
    );
    assert_eq!(
        invitations
            .open(&token(second.link.expose()))
            .await
            .unwrap(),
        valid
    );
    assert_eq!(mail(&sink, 2).await["to"], "alice@example.org");
}

/// The SMTP port in the site's motpd.toml.
fn set_smtp_port(dir: &Path, from: u16, to: u16) {
    let path = dir.join("motpd.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    let config = config.replacen(&format!("port = {from}\n"), &format!("port = {to}\n"), 1);
    std::fs::write(path, config).unwrap();
}

/// The hex SHA-256 of each stored invitation of `account`, and the outcomes of the `admin.invite` rows.
async fn stored(dir: &Path, account: &str) -> (Vec<String>, Vec<(String, String)>) {
    use sqlx::Connection;
    let url = format!("sqlite://{}", dir.join("motpd.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let hashes: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT token_hash FROM invitations WHERE account_id = $1")
            .bind(account)
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT outcome, detail FROM audit_log WHERE kind = 'admin.invite' ORDER BY seq",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    (hashes.iter().map(hex::encode).collect(), rows)
}

fn hash_of(link_path: &str) -> String {
    hex::encode(Sha256::digest(hex::decode(token(link_path)).unwrap()))
}

#[tokio::test]
async fn motpd_invite_with_the_relay_down_exits_1_and_changes_nothing() {
    let Some(sink) = start_sink().await else {
        return;
    };
    let site = tempfile::tempdir().unwrap();
    let dir = site.path();
    assert_eq!(motpd(dir, &["init"]).0, Some(0));
    set_smtp_port(dir, 25, sink.port);
    let add = ["user", "add", "alice", "--email", "alice@example.org"];
    assert_eq!(motpd(dir, &add).0, Some(0));
    assert_eq!(motpd(dir, &["user", "add", "carol"]).0, Some(0));
    let (code, out, err) = motpd(dir, &["invite", "alice"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let first = link_path(mail(&sink, 1).await["text"].as_str().unwrap());

    let down = closed_port();
    set_smtp_port(dir, sink.port, down);
    let (code, out, err) = motpd(dir, &["invite", "alice"]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        err.contains("could not mail the invitation to alice@example.org"),
        "{err}"
    );
    assert!(err.contains("an earlier link still works"), "{err}");
    let (hashes, rows) = stored(dir, "alice").await;
    assert_eq!(hashes, [hash_of(&first)], "the first link is kept");
    let outcomes: Vec<&str> = rows.iter().map(|(o, _)| o.as_str()).collect();
    assert_eq!(outcomes, ["ok", "failed"]);
    assert!(rows[1].1.contains("\"error\":\"smtp\""), "{rows:?}");

    // The advice names a command that exists.
    let (code, _, err) = motpd(dir, &["invite", "carol"]);
    assert_eq!(code, Some(8), "{err}");
    assert!(
        err.contains("`motpd user set carol --email ADDRESS`"),
        "{err}"
    );
    let set = ["user", "set", "carol", "--email", "carol@example.org"];
    assert_eq!(motpd(dir, &set).0, Some(0));

    set_smtp_port(dir, down, sink.port);
    let (code, out, err) = motpd(dir, &["invite", "alice"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let second = link_path(mail(&sink, 2).await["text"].as_str().unwrap());
    assert_eq!(stored(dir, "alice").await.0, [hash_of(&second)]);
}

#[tokio::test]
async fn invite_all_unenrolled_asks_previews_and_skips_disabled_and_expired_accounts() {
    let Some(sink) = start_sink().await else {
        return;
    };
    let site = tempfile::tempdir().unwrap();
    let dir = site.path();
    assert_eq!(motpd(dir, &["init"]).0, Some(0));
    set_smtp_port(dir, 25, sink.port);
    for args in [
        &["user", "add", "alice", "--email", "alice@example.org"][..],
        &["user", "add", "carol"],
        &["user", "add", "nurse", "--email", "nurse@example.org"],
        &[
            "user", "set", "nurse", "--status", "disabled", "--reason", "on leave",
        ],
        &[
            "user",
            "add",
            "vendor",
            "--email",
            "vendor@example.org",
            "--expires",
            "2020-01-31",
        ],
    ] {
        assert_eq!(motpd(dir, args).0, Some(0), "{args:?}");
    }

    let (code, out, err) = motpd(dir, &["invite", "--all-unenrolled"]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("--yes"), "{err}");
    assert!(stored(dir, "alice").await.0.is_empty(), "nothing sent");

    let (code, out, err) = motpd(dir, &["invite", "--all-unenrolled", "--dry-run"]);
    assert_eq!(code, Some(0), "{out}{err}");
    for line in [
        "alice: would be invited at alice@example.org",
        "carol: skipped (no e-mail)",
        "nurse: skipped (disabled)",
        "vendor: skipped (expired on 2020-01-31)",
        "1 would be sent, 3 skipped; nothing sent (--dry-run)",
    ] {
        assert!(out.contains(line), "{line}: {out}");
    }
    assert!(stored(dir, "alice").await.0.is_empty(), "nothing sent");
    assert_eq!(motpd(dir, &["invite", "alice", "--dry-run"]).0, Some(2));

    let (code, out, err) = motpd(dir, &["invite", "--all-unenrolled", "--yes"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains(
            "invitations: 1 sent, 3 skipped (1 no e-mail, 1 disabled, 1 expired), 0 failed"
        ),
        "{out}"
    );
    assert_eq!(mail(&sink, 1).await["to"], "alice@example.org");
    // Named one by one they are refused, with the way out.
    for (id, expected) in [
        (
            "nurse",
            "`motpd user set nurse --status active --reason TEXT`",
        ),
        (
            "vendor",
            "`motpd user set vendor --expires YYYY-MM-DD --reason TEXT`",
        ),
    ] {
        let (code, _, err) = motpd(dir, &["invite", id]);
        assert_eq!(code, Some(8), "{err}");
        assert!(err.contains(expected), "{err}");
        assert!(stored(dir, id).await.0.is_empty(), "{id}");
    }
}
