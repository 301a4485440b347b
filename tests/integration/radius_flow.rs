//! RADIUS over real UDP against a node on 127.0.0.1:0 with the real engine: accept, reject, challenge round trip,
//! retransmission, replay, unknown client / bad secret / missing Message-Authenticator, lockout, Status-Server,
//! accounting, and the replay race between two nodes sharing one database.

use std::time::Duration;

use motpd::config::{AuthMode, Language};
use motpd::otp::Kind;
use motpd::radius::{self, Attribute, Code, types};

use crate::common::fixture::EngineFixture;
use crate::common::radius_client::{RadiusFixture, SECRET, TestClient, add_client};

const PW: &str = "Nurse2024";
const SILENCE: Duration = Duration::from_millis(400);

async fn server(adjust: impl FnOnce(&mut motpd::config::Config)) -> RadiusFixture {
    let f = EngineFixture::new(|c| {
        c.radius.language = Language::En;
        adjust(c);
    })
    .await;
    f.account("alice", PW).await;
    f.device("alice", Kind::Totp).await;
    RadiusFixture::start(f, true).await
}

fn typed(code: &str) -> Vec<u8> {
    format!("{PW}{code}").into_bytes()
}

#[tokio::test]
async fn accept_with_groups_then_replay_is_rejected() {
    let s = server(|_| {}).await;
    let mut client = s.client().await;
    let code = s.f.code_now();
    let accept = client.access("alice", &typed(&code), None).await.unwrap();
    assert_eq!(accept.code, Code::AccessAccept);
    assert_eq!(accept.groups, vec!["vpn", "nurses"]);
    let replay = client.access("alice", &typed(&code), None).await.unwrap();
    assert_eq!(replay.code, Code::AccessReject);
    assert!(
        replay.messages.contains("already used"),
        "{}",
        replay.messages
    );
    let wrong = client
        .access("alice", b"Nurse2024000000", None)
        .await
        .unwrap();
    assert_eq!(wrong.code, Code::AccessReject);
    s.stop().await;
}

#[tokio::test]
async fn retransmission_gets_the_identical_reply_not_a_replay_reject() {
    let s = server(|_| {}).await;
    let mut client = s.client().await;
    let (request, authenticator) = client.request("alice", &typed(&s.f.code_now()), None);
    let first = client
        .exchange(&request, Duration::from_secs(5))
        .await
        .unwrap();
    let again = client
        .exchange(&request, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(first, again, "byte-identical");
    let reply = crate::common::radius_client::parse_reply(&again, &authenticator, SECRET);
    assert_eq!(reply.code, Code::AccessAccept);
    s.stop().await;
}

#[tokio::test]
async fn challenge_round_trip_over_udp() {
    let s = server(|c| c.radius.mode = AuthMode::Challenge).await;
    let mut client = s.client().await;
    let challenge = client.access("alice", PW.as_bytes(), None).await.unwrap();
    assert_eq!(challenge.code, Code::AccessChallenge);
    assert!(
        challenge.messages.contains("6-digit"),
        "{}",
        challenge.messages
    );
    let state = challenge.state.unwrap();
    let accept = client
        .access("alice", s.f.code_now().as_bytes(), Some(&state))
        .await
        .unwrap();
    assert_eq!(accept.code, Code::AccessAccept);
    let reused = client
        .access("alice", s.f.code_now().as_bytes(), Some(&state))
        .await
        .unwrap();
    assert_eq!(reused.code, Code::AccessReject);
    s.stop().await;
}

#[tokio::test]
async fn unknown_client_bad_secret_and_missing_message_authenticator_get_no_reply() {
    let s = server(|_| {}).await;
    let code = s.f.code_now();
    let mut wrong_secret = TestClient::new(s.auth, b"not-the-secret").await;
    let (bytes, _) = wrong_secret.request("alice", &typed(&code), None);
    assert_eq!(
        wrong_secret.exchange(&bytes, SILENCE).await,
        None,
        "bad secret"
    );

    // No Message-Authenticator although the client requires it.
    let mut client = s.client().await;
    let authenticator = radius::random_authenticator().unwrap();
    let hidden = radius::hide_password(&typed(&code), &authenticator, SECRET).unwrap();
    let attrs = [
        Attribute::new(types::USER_NAME, b"alice".to_vec()),
        Attribute::new(types::USER_PASSWORD, hidden),
    ];
    let bare = radius::encode_raw(Code::AccessRequest, 7, &authenticator, &attrs).unwrap();
    assert_eq!(
        client.exchange(&bare, SILENCE).await,
        None,
        "missing Message-Authenticator"
    );

    // A client address that is not configured (127.0.0.2 is loopback too, but only 127.0.0.1/32 is a client).
    let socket = tokio::net::UdpSocket::bind("127.0.0.2:0").await.unwrap();
    let (bytes, _) = client.request("alice", &typed(&code), None);
    socket.send_to(&bytes, s.auth).await.unwrap();
    let mut buf = [0u8; 4096];
    assert!(
        tokio::time::timeout(SILENCE, socket.recv_from(&mut buf))
            .await
            .is_err(),
        "unknown client"
    );

    // The code was never evaluated: it still logs in.
    let accept = client.access("alice", &typed(&code), None).await.unwrap();
    assert_eq!(accept.code, Code::AccessAccept);
    let stats = s.node.as_ref().unwrap().stats.snapshot();
    assert!(
        stats.unknown_client >= 1
            && stats.bad_authenticator >= 1
            && stats.missing_message_authenticator >= 1,
        "{stats:?}"
    );
    s.stop().await;
}

#[tokio::test]
async fn lockout_over_udp_and_expiry() {
    let s = server(|c| {
        c.policy.lockout_failures = 3;
        c.policy.lockout_minutes = 1;
        c.radius.detailed_reasons = true;
    })
    .await;
    let mut client = s.client().await;
    for _ in 0..3 {
        client
            .access("alice", b"Wrong99999123456", None)
            .await
            .unwrap();
    }
    let locked = client
        .access("alice", &typed(&s.f.code_now()), None)
        .await
        .unwrap();
    assert_eq!(locked.code, Code::AccessReject);
    assert!(
        locked.messages.contains("locked until"),
        "{}",
        locked.messages
    );
    s.f.clock.advance(61);
    let accept = client
        .access("alice", &typed(&s.f.code_now()), None)
        .await
        .unwrap();
    assert_eq!(accept.code, Code::AccessAccept);
    s.stop().await;
}

#[tokio::test]
async fn status_server_and_accounting_are_answered() {
    let s = server(|_| {}).await;
    let client = s.client().await;
    let authenticator = radius::random_authenticator().unwrap();
    let status =
        radius::encode_request(Code::StatusServer, 9, &authenticator, &[], SECRET).unwrap();
    let reply = client
        .exchange(&status, Duration::from_secs(5))
        .await
        .unwrap();
    let reply = crate::common::radius_client::parse_reply(&reply, &authenticator, SECRET);
    assert_eq!(reply.code, Code::AccessAccept);

    let acct = TestClient::new(s.accounting, SECRET).await;
    let attrs = [
        Attribute::new(types::USER_NAME, b"alice".to_vec()),
        Attribute::from_u32(types::ACCT_STATUS_TYPE, 1),
        Attribute::new(types::ACCT_SESSION_ID, b"ns-session-42".to_vec()),
    ];
    let request = radius::encode_accounting_request(3, &attrs, SECRET).unwrap();
    let request_authenticator: [u8; 16] = request[4..20].try_into().unwrap();
    let raw = acct
        .exchange(&request, Duration::from_secs(5))
        .await
        .unwrap();
    let reply = crate::common::radius_client::parse_reply(&raw, &request_authenticator, SECRET);
    assert_eq!(reply.code, Code::AccountingResponse);
    s.stop().await;
}

#[tokio::test]
async fn two_nodes_on_one_database_accept_a_code_once() {
    // Two nodes, each opened as `motpd serve` opens it, over one SQLite file and (when MOTPD_TEST_DATABASE_URL
    // is set) one PostgreSQL database.
    let backends = crate::common::store_backends().await;
    for backend in &backends {
        let f = EngineFixture::open(&backend.url, |c| c.radius.language = Language::En).await;
        f.account("alice", PW).await;
        f.device("alice", Kind::Totp).await;
        let g = EngineFixture::open(&backend.url, |c| c.radius.language = Language::En).await;
        let a = RadiusFixture::start(f, true).await;
        let b = RadiusFixture::start_without_client(g).await;
        for round in 0..5 {
            a.f.clock.advance(30);
            b.f.clock.advance(30);
            let code = a.f.code_now();
            let (mut ca, mut cb) = (a.client().await, b.client().await);
            let password = typed(&code);
            let (ra, rb) = tokio::join!(
                ca.access("alice", &password, None),
                cb.access("alice", &password, None)
            );
            let accepts = [ra.unwrap(), rb.unwrap()]
                .iter()
                .filter(|r| r.code == Code::AccessAccept)
                .count();
            assert_eq!(accepts, 1, "{} round {round}", backend.name);
        }
        a.stop().await;
        b.stop().await;
    }
}

#[tokio::test]
async fn clients_added_later_are_picked_up() {
    let s = server(|_| {}).await;
    add_client(
        &s.f,
        "second",
        "127.0.0.3/32",
        b"second-secret-123456",
        true,
    )
    .await;
    let node = s.node.as_ref().unwrap();
    motpd::server::radius::reload_clients(s.f.store.as_ref(), &s.f.key, &node.clients)
        .await
        .unwrap();
    assert!(
        node.clients
            .load()
            .lookup("127.0.0.3".parse().unwrap())
            .is_some()
    );
    s.stop().await;
}
