//! The admin listener of a real node on 127.0.0.1:0: logins over real UDP (an accept, a reject, a packet from
//! an unknown address, a bad Message-Authenticator) move the decision and drop counters and the latency
//! histograms seen in a `/metrics` scrape over HTTP, which holds the console's counters too (registered at
//! zero); `/healthz` answers; `/readyz` answers 200 only with the key check value in the database and the
//! database writable, and 503 naming the failure while another process holds SQLite's write lock or after the
//! store is closed.
//!
//! The recorder is process-wide (every node in this test binary counts into it), so the tests compare the
//! counters before and after their own requests; the decision counters carry the client's name, which is
//! unique to each test.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use motpd::config::Language;
use motpd::otp::Kind;
use motpd::radius::Code;
use motpd::server::node::bind_admin;

use crate::common::fixture::EngineFixture;
use crate::common::http_client::HttpBrowser;
use crate::common::radius_client::{RadiusFixture, SECRET, TestClient, add_client};

const PW: &str = "Nurse2024";
const SILENCE: Duration = Duration::from_millis(400);

/// A node whose only RADIUS client is `client` at 127.0.0.1, with alice (TOTP), serving the admin routes.
async fn node_with_admin(f: EngineFixture, client: &str) -> (RadiusFixture, SocketAddr) {
    f.account("alice", PW).await;
    f.device("alice", Kind::Totp).await;
    add_client(&f, client, "127.0.0.1/32", SECRET, true).await;
    let mut s = RadiusFixture::start_without_client(f).await;
    let listener = bind_admin("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let admin = listener.local_addr().unwrap();
    let token = s.token.clone();
    s.node.as_mut().unwrap().serve_admin(listener, token);
    (s, admin)
}

async fn fixture() -> EngineFixture {
    EngineFixture::new(|c| c.radius.language = Language::En).await
}

/// The value of the sample `name` whose labels include every `labels` pair (0 if there is none).
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter(|line| {
            labels
                .iter()
                .all(|(k, v)| line.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn scrape(admin: SocketAddr) -> String {
    let reply = HttpBrowser::new(admin).get("/metrics").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply.header("content-type").starts_with("text/plain"),
        "{:?}",
        reply.headers
    );
    reply.body
}

#[tokio::test]
async fn logins_and_dropped_packets_move_the_counters_and_histograms() {
    let client_name = "metrics-nas";
    let (s, admin) = node_with_admin(fixture().await, client_name).await;
    let before = scrape(admin).await;
    let decisions = |text: &str, outcome: &str, reason: &str| {
        sample(
            text,
            "motpd_radius_decisions_total",
            &[
                ("client", client_name),
                ("outcome", outcome),
                ("reason", reason),
            ],
        )
    };
    let dropped = |text: &str, reason: &str| {
        sample(
            text,
            "motpd_radius_packets_dropped_total",
            &[("reason", reason)],
        )
    };
    let count = |text: &str, name: &str, labels: &[(&str, &str)]| sample(text, name, labels);
    assert_eq!(decisions(&before, "accept", "none"), 0.0, "{before}");

    let mut nas = s.client().await;
    let code = s.f.code_now();
    let accept = nas
        .access("alice", format!("{PW}{code}").as_bytes(), None)
        .await
        .unwrap();
    assert_eq!(accept.code, Code::AccessAccept);
    let wrong_code = if code == "000000" { "111111" } else { "000000" };
    let reject = nas
        .access("alice", format!("{PW}{wrong_code}").as_bytes(), None)
        .await
        .unwrap();
    assert_eq!(reject.code, Code::AccessReject);
    // A bad Message-Authenticator (wrong secret) and an unknown source address: no answers.
    let mut wrong_secret = TestClient::new(s.auth, b"not-the-secret").await;
    let (bytes, _) = wrong_secret.request("alice", b"whatever123456", None);
    assert_eq!(wrong_secret.exchange(&bytes, SILENCE).await, None);
    let stranger = tokio::net::UdpSocket::bind("127.0.0.2:0").await.unwrap();
    let (bytes, _) = nas.request("alice", b"whatever123456", None);
    stranger.send_to(&bytes, s.auth).await.unwrap();
    let mut buf = [0u8; 4096];
    assert!(
        tokio::time::timeout(SILENCE, stranger.recv_from(&mut buf))
            .await
            .is_err(),
        "no answer to an unknown client"
    );

    let after = scrape(admin).await;
    assert_eq!(decisions(&after, "accept", "none"), 1.0, "{after}");
    assert_eq!(decisions(&after, "reject", "bad_code"), 1.0, "{after}");
    assert_eq!(
        sample(
            &after,
            "motpd_radius_decisions_total",
            &[("client", client_name)]
        ),
        2.0,
        "exactly the two decisions of this client"
    );
    for reason in ["bad_authenticator", "unknown_client"] {
        assert!(
            dropped(&after, reason) >= dropped(&before, reason) + 1.0,
            "{reason}: {after}"
        );
    }
    for (name, labels) in [
        (
            "motpd_radius_decision_duration_seconds_count",
            &[("outcome", "accept")][..],
        ),
        (
            "motpd_radius_decision_duration_seconds_count",
            &[("outcome", "reject")][..],
        ),
        ("motpd_store_commit_duration_seconds_count", &[][..]),
        ("motpd_hashing_queue_wait_seconds_count", &[][..]),
    ] {
        assert!(
            count(&after, name, labels) >= count(&before, name, labels) + 1.0,
            "{name} {labels:?} did not move: {after}"
        );
    }
    assert!(
        count(&after, "motpd_radius_packets_received_total", &[])
            >= count(&before, "motpd_radius_packets_received_total", &[]) + 4.0
    );
    // Help text and types for Prometheus, and the build and clock gauges.
    for line in [
        "# TYPE motpd_radius_decisions_total counter",
        "# HELP motpd_radius_packets_dropped_total",
        "# TYPE motpd_radius_decision_duration_seconds histogram",
        "# TYPE motpd_clock_synchronised gauge",
        "# TYPE motpd_clock_steps_total counter",
        "# TYPE motpd_console_logins_total counter",
        "# TYPE motpd_console_sessions gauge",
        "# HELP motpd_console_actions_total",
    ] {
        assert!(after.contains(line), "{line} missing: {after}");
    }
    // The console's series exist before its first login (this node serves no console).
    for series in [
        "motpd_console_logins_total{outcome=\"wrong_password\"}",
        "motpd_console_logins_total{outcome=\"accepted\"}",
        "motpd_console_actions_total{action=\"unlock\"}",
    ] {
        assert!(after.contains(series), "{series} missing: {after}");
    }
    assert_eq!(
        sample(&after, "motpd_build_info", &[("backend", "sqlite")]),
        1.0
    );
    assert!(
        after.contains(
            "motpd_radius_decision_duration_seconds_bucket{outcome=\"accept\",le=\"0.5\"}"
        )
    );
    s.stop().await;
}

#[tokio::test]
async fn readyz_needs_the_key_check_value_and_a_writable_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::common::sqlite_url(&dir);
    let f = EngineFixture::open(&url, |c| c.radius.language = Language::En).await;
    let (s, admin) = node_with_admin(f, "ready-nas").await;
    let mut http = HttpBrowser::new(admin);
    let health = http.get("/healthz").await;
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));

    // The CLI stores the key check value when it creates the database; without it the key cannot be proven.
    let unproven = http.get("/readyz").await;
    assert_eq!(unproven.status, 503, "{}", unproven.body);
    assert!(unproven.body.contains("key check"), "{}", unproven.body);
    let candidate = s.f.key.primary().key_check_value().unwrap();
    s.f.store.ensure_key_check(&candidate).await.unwrap();
    let ready = http.get("/readyz").await;
    assert_eq!((ready.status, ready.body.as_str()), (200, "ready\n"));

    // Another process holds SQLite's write lock (say a stuck maintenance job): reads work, writes wait.
    let path = dir.path().join("motpd.db");
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let locker = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
        locked_tx.send(()).unwrap();
        // Held until the test says so (or at most 10 s, should the test fail first).
        let _ = release_rx.recv_timeout(Duration::from_secs(10));
        conn.execute_batch("ROLLBACK").unwrap();
    });
    tokio::task::spawn_blocking(move || locked_rx.recv().unwrap())
        .await
        .unwrap();
    let started = Instant::now();
    let stuck = http.get("/readyz").await;
    assert_eq!(stuck.status, 503, "{}", stuck.body);
    assert!(stuck.body.contains("database"), "{}", stuck.body);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "bounded in time: {:?}",
        started.elapsed()
    );
    release_tx.send(()).unwrap();
    tokio::task::spawn_blocking(move || locker.join().unwrap())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let again = http.get("/readyz").await;
        if again.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "not ready again: {}", again.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The database is gone (the store closed): not ready, and the reason is named.
    s.f.store.close().await;
    let closed = http.get("/readyz").await;
    assert_eq!(closed.status, 503, "{}", closed.body);
    assert!(closed.body.contains("database"), "{}", closed.body);
    s.stop().await;
}

/// What the admin listener asks of the store, on every backend: the locked-account count (locks still running
/// only), the heartbeat upsert (twice: the second is an update) and the stored key check value.
#[tokio::test]
async fn the_store_counts_running_locks_writes_heartbeats_and_reads_the_key_check() {
    use crate::common::{NOW, account, store_backends};
    for backend in store_backends().await {
        let store = &backend.store;
        for id in ["alice", "bob", "carol"] {
            store.create_account(&account(id), NOW).await.unwrap();
        }
        assert_eq!(
            store.count_locked_accounts(NOW).await.unwrap(),
            0,
            "{}",
            backend.name
        );
        store.lock_account("alice", NOW + 60, NOW).await.unwrap();
        store.lock_account("bob", NOW + 600, NOW).await.unwrap();
        assert_eq!(
            store.count_locked_accounts(NOW).await.unwrap(),
            2,
            "{}",
            backend.name
        );
        assert_eq!(
            store.count_locked_accounts(NOW + 60).await.unwrap(),
            1,
            "{}: a lock that ran out is not counted",
            backend.name
        );
        store.heartbeat("node-a", NOW).await.unwrap();
        store.heartbeat("node-a", NOW + 10).await.unwrap();
        store.heartbeat("node-b", NOW).await.unwrap();
        assert_eq!(store.key_check().await.unwrap(), None, "{}", backend.name);
        let stored = store.ensure_key_check(b"check").await.unwrap();
        assert_eq!(
            store.key_check().await.unwrap(),
            Some(stored),
            "{}",
            backend.name
        );
    }
}
