//! The RADIUS transport, the logs and the database files as an attacker would try them, over real UDP against a
//! node on 127.0.0.1:0 (and the real `motpd serve` binary for the log and file tests):
//! - a copy of a request with a broken Message-Authenticator gets nothing, not the cached reply;
//! - a request whose reply could not fit in 4096 octets is refused before its code is used up;
//! - a User-Name with a line break and terminal escapes stays on one log line, escaped;
//! - the database files are private (0600), and a database others can read is refused.

use std::time::Duration;

use motpd::config::Language;
use motpd::otp::Kind;
use motpd::radius::{self, Attribute, Code, types};
use motpd::store::{AccountStatus, AccountUpsert};

use crate::common::NOW;
use crate::common::fixture::EngineFixture;
use crate::common::radius_client::{RadiusFixture, SECRET, parse_reply};

const PW: &str = "Nurse2024";
const SILENCE: Duration = Duration::from_millis(400);

fn typed(code: &str) -> Vec<u8> {
    format!("{PW}{code}").into_bytes()
}

/// A node whose account `alice` (password [`PW`], the fixture's TOTP seed) has `groups`.
async fn server(groups: Vec<String>) -> RadiusFixture {
    let f = EngineFixture::new(|c| c.radius.language = Language::En).await;
    let hash = motpd::password::hash_password(PW.as_bytes()).unwrap();
    let account = AccountUpsert {
        id: "alice".to_owned(),
        name: "Alice Example".to_owned(),
        phone: None,
        email: None,
        expires_on: None,
        groups,
        password_hash: Some(hash),
        status: AccountStatus::Active,
    };
    f.store.create_account(&account, NOW).await.unwrap();
    f.device("alice", Kind::Totp).await;
    RadiusFixture::start(f, true).await
}

#[tokio::test]
async fn a_copy_with_a_broken_message_authenticator_does_not_get_the_cached_reply() {
    let s = server(vec!["vpn".to_owned()]).await;
    let mut client = s.client().await;
    let (request, authenticator) = client.request("alice", &typed(&s.f.code_now()), None);
    let first = client
        .exchange(&request, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        parse_reply(&first, &authenticator, SECRET).code,
        Code::AccessAccept
    );

    // Same Identifier and Request Authenticator (the cache key), Message-Authenticator (the first attribute,
    // its value at offset 22) altered.
    assert_eq!(request[20], types::MESSAGE_AUTHENTICATOR);
    let mut forged = request.clone();
    forged[25] ^= 0x5a;
    let before = s.node.as_ref().unwrap().stats.snapshot();
    assert_eq!(client.exchange(&forged, SILENCE).await, None, "no reply");
    let after = s.node.as_ref().unwrap().stats.snapshot();
    assert_eq!(after.bad_authenticator, before.bad_authenticator + 1);
    assert_eq!(after.duplicates_resent, before.duplicates_resent);

    // The real retransmission still gets the cached bytes.
    let again = client
        .exchange(&request, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(again, first, "byte-identical");
    let stats = s.node.as_ref().unwrap().stats.snapshot();
    assert_eq!(stats.duplicates_resent, after.duplicates_resent + 1);
    s.stop().await;
}

#[tokio::test]
async fn a_request_whose_reply_cannot_fit_is_refused_before_its_code_is_used() {
    // 24 groups of 20 octets: a reply of the request's Proxy-States and these groups would exceed 4096 octets.
    let groups: Vec<String> = (0..24).map(|i| format!("hospital-group-{i:05}")).collect();
    let s = server(groups.clone()).await;
    let mut client = s.client().await;
    let code = s.f.code_now();

    // 15 Proxy-States of 253 octets and one of 173: 4,000 octets; the request itself is 4,063.
    let mut proxy: Vec<Attribute<'_>> = (0..15u8)
        .map(|i| Attribute::new(types::PROXY_STATE, vec![i; 253]))
        .collect();
    proxy.push(Attribute::new(types::PROXY_STATE, vec![0xee; 173]));
    let authenticator = radius::random_authenticator().unwrap();
    let request =
        radius::encode_access_request(9, &authenticator, b"alice", &typed(&code), &proxy, SECRET)
            .unwrap();
    assert!(request.len() <= 4096, "a valid request: {}", request.len());
    assert_eq!(client.exchange(&request, SILENCE).await, None, "no reply");
    let stats = s.node.as_ref().unwrap().stats.snapshot();
    assert_eq!(stats.reply_too_large, 1, "{stats:?}");
    assert_eq!(
        stats.accepted + stats.rejected + stats.errors,
        0,
        "{stats:?}"
    );

    // The code was not used up: the NAS's retry without the proxy loop logs in, with every group.
    let accept = client.access("alice", &typed(&code), None).await.unwrap();
    assert_eq!(accept.code, Code::AccessAccept, "{}", accept.messages);

    // Proxy-States that leave room for the largest reply are echoed as before.
    let code = s.f.totp(motpd::clock::Clock::now(&s.f.clock) + 30);
    s.f.clock.advance(30);
    let few = [Attribute::new(types::PROXY_STATE, b"hop-1".to_vec())];
    let authenticator = radius::random_authenticator().unwrap();
    let request =
        radius::encode_access_request(10, &authenticator, b"alice", &typed(&code), &few, SECRET)
            .unwrap();
    let raw = client
        .exchange(&request, Duration::from_secs(5))
        .await
        .unwrap();
    let reply = parse_reply(&raw, &authenticator, SECRET);
    assert_eq!(reply.code, Code::AccessAccept);
    let packet = radius::verify_response(&raw, &authenticator, SECRET)
        .unwrap()
        .packet;
    assert_eq!(packet.proxy_states().collect::<Vec<_>>(), [&b"hop-1"[..]]);
    s.stop().await;
}
