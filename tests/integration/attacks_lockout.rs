//! The lockout as an attacker tries it, over real UDP against a real node (SQLite file through the serving
//! path: the cache and the hot-path thread; PostgreSQL for two nodes when `MOTPD_TEST_DATABASE_URL` is set):
//!
//! - a burst of wrong codes with the right password, the right code sent with them: no Accept once locked,
//!   and at most `lockout_failures` codes evaluated;
//! - otp-only, 200 concurrent guesses: exactly `lockout_failures` evaluated, the rest refused as locked;
//! - a password-only web login between wrong codes does not reset the code's counter;
//! - the same race on two nodes sharing one PostgreSQL database.

use std::sync::Arc;

use motpd::clock::Clock;
use motpd::config::{AuthMode, Config, Language};
use motpd::otp::Kind;
use motpd::radius::Code;
use motpd::server::web::WebState;
use motpd::store::Store;

use crate::common::fixture::EngineFixture;
use crate::common::radius_client::{RadiusFixture, Reply, TestClient};
use crate::common::{self, Backend};
use crate::web_enroll::{Browser, PASSWORD};

/// The lockout threshold of every test here.
const THRESHOLD: usize = 10;

fn settings(c: &mut Config) {
    c.radius.language = Language::En;
    c.policy.lockout_failures = u32::try_from(THRESHOLD).unwrap();
    c.policy.lockout_minutes = 15;
    c.web.enroll_networks = vec!["10.0.0.0/8".parse().unwrap()];
}

/// A node on `backend`'s database (opened as `motpd serve` opens it) with alice (password and TOTP device), her
/// RADIUS client in `mode`.
async fn node(backend: &Backend, mode: AuthMode) -> RadiusFixture {
    let f = EngineFixture::open(&backend.url, |c| {
        settings(c);
        c.radius.mode = mode;
    })
    .await;
    f.account("alice", PASSWORD).await;
    f.device("alice", Kind::Totp).await;
    RadiusFixture::start(f, true).await
}

/// `n` six-digit codes that are wrong at the fixture's time (none within the drift window).
fn wrong_codes(f: &EngineFixture, n: usize) -> Vec<String> {
    let now = f.clock.now();
    let valid: Vec<String> = (-2..=2).map(|k| f.totp(now + k * 30)).collect();
    (0..)
        .map(|i: u32| format!("{:06}", 100_003 + i * 7))
        .filter(|code| !valid.contains(code))
        .take(n)
        .collect()
}

/// Sends every password from its own client at once; the replies in order.
async fn burst(server: std::net::SocketAddr, passwords: Vec<Vec<u8>>) -> Vec<Reply> {
    let tasks: Vec<_> = passwords
        .into_iter()
        .map(|password| {
            tokio::spawn(async move {
                let mut client =
                    TestClient::new(server, crate::common::radius_client::SECRET).await;
                client.access("alice", &password, None).await.unwrap()
            })
        })
        .collect();
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.unwrap());
    }
    replies
}

/// The audit reasons of alice's RADIUS decisions, from the stored trail (complete once the nodes that wrote
/// them have stopped: a node flushes its audit writer as it stops).
async fn audited_reasons(store: &dyn Store) -> Vec<String> {
    let rows = store.audit_page(0, 10_000).await.unwrap();
    rows.iter()
        .filter(|r| r.event.kind == "radius.auth" && r.event.account_id.as_deref() == Some("alice"))
        .map(|r| {
            let detail: serde_json::Value = serde_json::from_str(&r.event.detail).unwrap();
            match detail["reason"].as_str() {
                Some(reason) => reason.to_owned(),
                None => r.event.outcome.clone(),
            }
        })
        .collect()
}

fn count(reasons: &[String], reason: &str) -> usize {
    reasons.iter().filter(|r| *r == reason).count()
}

/// alice's failure count and lock, from the database.
async fn alice(store: &dyn Store) -> (u32, Option<i64>) {
    let account = store.account("alice").await.unwrap().unwrap();
    (account.failures, account.locked_until)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_codes_with_the_right_password_lock_before_the_right_code_gets_in() {
    let backend = common::sqlite_file().await;
    let s = node(&backend, AuthMode::PasswordOtp).await;
    let guesses: Vec<Vec<u8>> = wrong_codes(&s.f, 25)
        .into_iter()
        .map(|code| format!("{PASSWORD}{code}").into_bytes())
        .collect();
    let wrong = tokio::spawn(burst(s.auth, guesses));
    // The right code goes out while the wrong ones are still being checked (each costs an Argon2 hash).
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let right = format!("{PASSWORD}{}", s.f.code_now()).into_bytes();
    let right = burst(s.auth, vec![right]).await;
    let mut replies = wrong.await.unwrap();
    replies.extend(right);
    let accepts = replies
        .iter()
        .filter(|r| r.code == Code::AccessAccept)
        .count();
    assert_eq!(accepts, 0, "an Accept while the account was being locked");
    let now = s.f.clock.now();
    s.stop().await;
    let reasons = audited_reasons(backend.store.as_ref()).await;
    assert_eq!(count(&reasons, "bad_code"), THRESHOLD, "{reasons:?}");
    assert_eq!(count(&reasons, "locked"), 26 - THRESHOLD, "{reasons:?}");
    let (failures, locked_until) = alice(backend.store.as_ref()).await;
    assert_eq!(failures, u32::try_from(THRESHOLD).unwrap());
    assert!(locked_until.is_some_and(|until| until > now));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_otp_only_guesses_evaluate_only_the_threshold() {
    let backend = common::sqlite_file().await;
    let s = node(&backend, AuthMode::OtpOnly).await;
    let guesses = wrong_codes(&s.f, 200)
        .into_iter()
        .map(String::into_bytes)
        .collect();
    let replies = burst(s.auth, guesses).await;
    assert!(replies.iter().all(|r| r.code == Code::AccessReject));
    assert_eq!(
        alice(backend.store.as_ref()).await.0,
        u32::try_from(THRESHOLD).unwrap()
    );
    // Locked: the right code is refused too, until the lock ends.
    let mut client = s.client().await;
    let refused = client
        .access("alice", s.f.code_now().as_bytes(), None)
        .await;
    assert_eq!(refused.unwrap().code, Code::AccessReject);
    s.f.clock.advance(15 * 60 + 30);
    let accepted = client
        .access("alice", s.f.code_now().as_bytes(), None)
        .await;
    assert_eq!(accepted.unwrap().code, Code::AccessAccept);
    assert_eq!(alice(backend.store.as_ref()).await.0, 0);
    s.stop().await;
    let reasons = audited_reasons(backend.store.as_ref()).await;
    assert_eq!(count(&reasons, "bad_code"), THRESHOLD, "{reasons:?}");
    assert_eq!(
        count(&reasons, "locked"),
        200 - THRESHOLD + 1,
        "and the right code"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_login_between_wrong_codes_does_not_reset_their_count() {
    let backend = common::sqlite_file().await;
    let s = node(&backend, AuthMode::PasswordOtp).await;
    let web = Arc::new(WebState::new(
        &s.f.config,
        &s.f.stores,
        s.f.key.clone(),
        Arc::new(s.f.clock.clone()),
    ));
    let mut client = s.client().await;
    let codes = wrong_codes(&s.f, THRESHOLD);
    for (n, code) in codes.iter().enumerate() {
        if n % 4 == 0 {
            let mut browser = Browser::new(&web, "10.1.2.3:50000");
            let csrf = browser.get("/enroll").await.field("csrf");
            let form = [
                ("csrf", csrf.as_str()),
                ("account", "alice"),
                ("password", PASSWORD),
            ];
            let reply = browser.post("/enroll/login", &form).await;
            assert_eq!(
                browser.get("/enroll/device").await.status,
                axum::http::StatusCode::OK,
                "web login {n}: {}",
                reply.body
            );
        }
        let wrong = format!("{PASSWORD}{code}").into_bytes();
        let reply = client.access("alice", &wrong, None).await.unwrap();
        assert_eq!(reply.code, Code::AccessReject);
    }
    // The tenth wrong code locked the account: the right one is refused now.
    let right = format!("{PASSWORD}{}", s.f.code_now()).into_bytes();
    let reply = client.access("alice", &right, None).await.unwrap();
    assert_eq!(reply.code, Code::AccessReject);
    let account = s.f.store.account("alice").await.unwrap().unwrap();
    assert!(
        account
            .locked_until
            .is_some_and(|until| until > s.f.clock.now()),
        "{account:?}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_postgresql_evaluate_only_the_threshold_together() {
    let Some(backend) = common::postgres_backend().await else {
        eprintln!("skipped: set {}", common::PG_ENV);
        return;
    };
    two_nodes(&backend).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_sqlite_file_evaluate_only_the_threshold_together() {
    two_nodes(&common::sqlite_file().await).await;
}

/// Two nodes (each opened as `motpd serve` opens it: its own pool and login cache) over `backend`'s database,
/// 100 otp-only guesses split between them.
async fn two_nodes(backend: &Backend) {
    let a = node(backend, AuthMode::OtpOnly).await;
    let g = EngineFixture::open(&backend.url, |c| {
        settings(c);
        c.radius.mode = AuthMode::OtpOnly;
    })
    .await;
    let b = RadiusFixture::start_without_client(g).await;
    let codes = wrong_codes(&a.f, 100);
    let (even, odd): (Vec<_>, Vec<_>) =
        codes.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
    let bytes = |v: Vec<(usize, String)>| v.into_iter().map(|(_, c)| c.into_bytes()).collect();
    let (ra, rb) = tokio::join!(burst(a.auth, bytes(even)), burst(b.auth, bytes(odd)));
    assert!(ra.iter().chain(&rb).all(|r| r.code == Code::AccessReject));
    a.stop().await;
    b.stop().await;
    // Both nodes' audit rows are in the one database.
    let reasons = audited_reasons(backend.store.as_ref()).await;
    assert_eq!(
        count(&reasons, "bad_code"),
        THRESHOLD,
        "{}: {reasons:?}",
        backend.name
    );
    assert_eq!(
        count(&reasons, "locked"),
        100 - THRESHOLD,
        "{}",
        backend.name
    );
    assert_eq!(
        alice(backend.store.as_ref()).await.0,
        u32::try_from(THRESHOLD).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_answers_to_many_challenges_evaluate_only_the_threshold() {
    let backend = common::sqlite_file().await;
    let s = node(&backend, AuthMode::Challenge).await;
    // With the password, an attacker collects challenges one after the other: a right password is no failure.
    let mut states = Vec::new();
    let mut client = s.client().await;
    for _ in 0..THRESHOLD + 4 {
        let reply = client.access("alice", PASSWORD.as_bytes(), None).await;
        let reply = reply.unwrap();
        assert_eq!(reply.code, Code::AccessChallenge, "{}", reply.messages);
        states.push(reply.state.unwrap());
    }
    assert_eq!(alice(backend.store.as_ref()).await.0, 0);
    // Then answers them all at once with guesses.
    let codes = wrong_codes(&s.f, states.len());
    let tasks: Vec<_> = states
        .into_iter()
        .zip(codes)
        .map(|(state, code)| {
            let server = s.auth;
            tokio::spawn(async move {
                let mut client =
                    TestClient::new(server, crate::common::radius_client::SECRET).await;
                client
                    .access("alice", code.as_bytes(), Some(&state))
                    .await
                    .unwrap()
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().code, Code::AccessReject);
    }
    assert_eq!(
        alice(backend.store.as_ref()).await.0,
        u32::try_from(THRESHOLD).unwrap()
    );
    s.stop().await;
    let reasons = audited_reasons(backend.store.as_ref()).await;
    assert_eq!(count(&reasons, "bad_code"), THRESHOLD, "{reasons:?}");
    assert_eq!(count(&reasons, "locked"), 4, "{reasons:?}");
}
