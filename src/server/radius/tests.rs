//! The transport end to end on real UDP sockets (127.0.0.1:0 and [::1]:0) with a fake engine.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::time::{Duration, Instant};

use super::test_support::*;
use super::*;
use crate::config::{AuthMode, StoreErrorAction};
use crate::radius::{
    Attribute, Code, MessageAuthenticator, Packet, encode_accounting_request, encode_request,
    encode_response, types, verify_response,
};

const AUTH: [u8; 16] = *b"0123456789abcdef";

/// Verifies a response as a BlastRADIUS-safe NAS would: authenticators, and Message-Authenticator first.
fn verified<'a>(bytes: &'a [u8], request_authenticator: &[u8; 16]) -> Packet<'a> {
    let response = verify_response(bytes, request_authenticator, SECRET).unwrap();
    assert_eq!(response.message_authenticator, MessageAuthenticator::Valid);
    assert_eq!(
        response.packet.attributes().next().unwrap().typ,
        types::MESSAGE_AUTHENTICATOR
    );
    response.packet
}

fn text<'a>(values: impl Iterator<Item = &'a [u8]>) -> Vec<String> {
    values
        .map(|v| String::from_utf8(v.to_vec()).unwrap())
        .collect()
}

#[tokio::test]
async fn accept_reject_and_challenge_are_signed_and_carry_their_attributes() {
    let server = start(loopback_clients()).await;
    let nas = Nas::new(server.auth).await;

    let bytes = nas
        .exchange(&access_request(1, AUTH, "accept", SECRET))
        .await
        .unwrap();
    let accept = verified(&bytes, &AUTH);
    assert_eq!(
        (accept.code(), accept.identifier()),
        (Code::AccessAccept, 1)
    );
    assert_eq!(text(accept.reply_messages()), ["welcome"]);
    let groups = accept.vendor_attributes().unwrap();
    assert_eq!(
        (groups[0].vendor_id, groups[0].vendor_type, groups[0].value),
        (66, 16, &b"staff,vpn"[..])
    );

    let auth2 = *b"fedcba9876543210";
    let bytes = nas
        .exchange(&access_request(2, auth2, "reject", SECRET))
        .await
        .unwrap();
    let reject = verified(&bytes, &auth2);
    assert_eq!(reject.code(), Code::AccessReject);
    assert_eq!(text(reject.reply_messages()), ["wrong code"]);

    let auth3 = [3; 16];
    let bytes = nas
        .exchange(&access_request(3, auth3, "challenge", SECRET))
        .await
        .unwrap();
    let challenge = verified(&bytes, &auth3);
    assert_eq!(challenge.code(), Code::AccessChallenge);
    assert_eq!(challenge.state().unwrap(), Some(&b"state-1"[..]));
    assert_eq!(text(challenge.reply_messages()), ["enter code"]);

    let request = server.engine.requests.lock().unwrap()[0].clone();
    assert_eq!(
        (&*request.client, request.user_name.as_str()),
        ("nas-v4", "accept")
    );
    assert_eq!(request.password.unwrap().expose(), PASSWORD);
    assert_eq!(request.mode, AuthMode::PasswordOtp);
    assert_eq!(request.nas_ip, Some("10.0.0.9".parse().unwrap()));
    assert_eq!(request.nas_identifier.as_deref(), Some("netscaler-1"));
    assert_eq!(request.calling_station_id.as_deref(), Some("203.0.113.7"));
    assert_eq!(request.state, None);
    let stats = server.stats.snapshot();
    assert_eq!(
        (
            stats.accepted,
            stats.rejected,
            stats.challenged,
            stats.received
        ),
        (1, 1, 1, 3)
    );
}

#[tokio::test]
async fn a_retransmission_gets_the_same_bytes_without_a_second_evaluation() {
    let server = start(loopback_clients()).await;
    let nas = Nas::new(server.auth).await;
    let request = access_request(7, AUTH, "accept", SECRET);
    let first = nas.exchange(&request).await.unwrap();
    let second = nas.exchange(&request).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(server.engine.calls(), 1);
    assert_eq!(server.stats.snapshot().duplicates_resent, 1);

    // Same Identifier, new Request Authenticator: a new request.
    let third = nas
        .exchange(&access_request(7, [9; 16], "accept", SECRET))
        .await
        .unwrap();
    verified(&third, &[9; 16]);
    assert_eq!(server.engine.calls(), 2);

    // Same bytes from another source port: another request too.
    let other = Nas::new(server.auth).await;
    other.exchange(&request).await.unwrap();
    assert_eq!(server.engine.calls(), 3);
}

#[tokio::test]
async fn copies_arriving_during_the_evaluation_are_dropped_and_the_first_answer_goes_out() {
    let server = start(loopback_clients()).await;
    let nas = Nas::new(server.auth).await;
    let request = access_request(8, AUTH, "slow", SECRET);
    nas.send(&request).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    nas.send(&request).await;
    let answer = nas.recv(Duration::from_secs(2)).await.unwrap();
    assert_eq!(verified(&answer, &AUTH).code(), Code::AccessAccept);
    assert_eq!(nas.recv(SILENCE).await, None, "exactly one answer");
    assert_eq!(server.engine.calls(), 1);
    assert_eq!(server.stats.snapshot().in_progress_duplicates, 1);
}

#[tokio::test]
async fn unknown_clients_get_nothing() {
    let server = start(vec![Client::new(
        "other",
        "127.0.0.2/32".parse().unwrap(),
        SECRET,
        true,
    )])
    .await;
    let nas = Nas::new(server.auth).await;
    nas.send(&access_request(1, AUTH, "accept", SECRET)).await;
    assert_eq!(nas.recv(SILENCE).await, None);
    assert_eq!(server.engine.calls(), 0);
    assert_eq!(server.stats.snapshot().unknown_client, 1);
}

#[tokio::test]
async fn a_wrong_secret_or_a_missing_message_authenticator_gets_nothing() {
    let server = start(loopback_clients()).await;
    let nas = Nas::new(server.auth).await;
    nas.send(&access_request(1, AUTH, "accept", b"not-the-secret"))
        .await;
    assert_eq!(nas.recv(SILENCE).await, None);
    nas.send(&access_request_without_ma(2, AUTH, "accept", &[]))
        .await;
    assert_eq!(nas.recv(SILENCE).await, None);
    let stats = server.stats.snapshot();
    assert_eq!(
        (stats.bad_authenticator, stats.missing_message_authenticator),
        (1, 1)
    );
    assert_eq!(server.engine.calls(), 0);
}

#[tokio::test]
async fn a_client_that_does_not_require_message_authenticator_is_answered_without_one() {
    let mut lax = Client::new("lax", "127.0.0.1/32".parse().unwrap(), SECRET, false);
    lax.mode = Some(AuthMode::OtpOnly);
    let server = start(vec![lax]).await;
    let nas = Nas::new(server.auth).await;
    let answer = nas
        .exchange(&access_request_without_ma(1, AUTH, "reject", &[]))
        .await
        .unwrap();
    assert_eq!(
        verified(&answer, &AUTH).code(),
        Code::AccessReject,
        "the answer still carries MA first"
    );
    let request = server.engine.requests.lock().unwrap()[0].clone();
    assert_eq!(
        request.mode,
        AuthMode::OtpOnly,
        "the client's mode overrides radius.mode"
    );
    assert_eq!(request.password.unwrap().expose(), PASSWORD);
}

#[tokio::test]
async fn responses_garbage_and_requests_without_user_name_get_nothing_and_the_server_keeps_serving()
{
    let server = start(loopback_clients()).await;
    let nas = Nas::new(server.auth).await;
    let reflected = encode_response(Code::AccessAccept, 1, &AUTH, &[], SECRET).unwrap();
    let bad_length = [
        1, 1, 0x0f, 0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let bad_attribute = [[1, 1, 0, 23].as_slice(), &AUTH, &[1, 9, 0]].concat();
    let no_user = encode_request(Code::AccessRequest, 4, &AUTH, &[], SECRET).unwrap();
    let accounting_here = encode_accounting_request(5, &[], SECRET).unwrap();
    for datagram in [
        &reflected[..],
        &[1, 2, 3],
        &bad_length,
        &bad_attribute,
        &no_user,
        &accounting_here,
    ] {
        nas.send(datagram).await;
    }
    assert_eq!(nas.recv(SILENCE).await, None);
    let stats = server.stats.snapshot();
    assert_eq!(
        (stats.not_request, stats.wrong_port, stats.malformed),
        (1, 1, 4)
    );
    assert_eq!(server.engine.calls(), 0);
    let answer = nas
        .exchange(&access_request(6, AUTH, "accept", SECRET))
        .await
        .unwrap();
    assert_eq!(verified(&answer, &AUTH).code(), Code::AccessAccept);
}

#[tokio::test]
async fn status_server_is_answered_without_the_engine_and_needs_message_authenticator() {
    let server = start(loopback_clients()).await;
    let nas = Nas::new(server.auth).await;
    let proxy = [Attribute::new(types::PROXY_STATE, b"ps".to_vec())];
    let status = encode_request(Code::StatusServer, 9, &AUTH, &proxy, SECRET).unwrap();
    let answer = nas.exchange(&status).await.unwrap();
    let packet = verified(&answer, &AUTH);
    assert_eq!(
        (packet.code(), packet.identifier()),
        (Code::AccessAccept, 9)
    );
    assert_eq!(packet.proxy_states().collect::<Vec<_>>(), [b"ps"]);
    let without_ma = crate::radius::encode_raw(Code::StatusServer, 10, &[1; 16], &[]).unwrap();
    nas.send(&without_ma).await;
    assert_eq!(nas.recv(SILENCE).await, None);

    let accounting = Nas::new(server.accounting).await;
    let answer = accounting
        .exchange(&encode_request(Code::StatusServer, 11, &AUTH, &[], SECRET).unwrap())
        .await;
    let response = verify_response(answer.as_deref().unwrap(), &AUTH, SECRET).unwrap();
    assert_eq!(response.packet.code(), Code::AccountingResponse);
    assert_eq!(server.engine.calls(), 0);
    assert_eq!(server.stats.snapshot().status_server, 2);
}

#[tokio::test]
async fn proxy_states_are_echoed_last_in_order() {
    let server = start(loopback_clients()).await;
    let nas = Nas::new(server.auth).await;
    let states = [b"first".to_vec(), b"second".to_vec(), b"third".to_vec()];
    let extra: Vec<Attribute<'_>> = states
        .iter()
        .map(|s| Attribute::new(types::PROXY_STATE, s.clone()))
        .collect();
    let request =
        crate::radius::encode_access_request(3, &AUTH, b"challenge", PASSWORD, &extra, SECRET)
            .unwrap();
    let answer = nas.exchange(&request).await.unwrap();
    let packet = verified(&answer, &AUTH);
    assert_eq!(
        packet.proxy_states().collect::<Vec<_>>(),
        [&b"first"[..], b"second", b"third"]
    );
    let kinds: Vec<u8> = packet.attributes().map(|a| a.typ).collect();
    assert_eq!(kinds[kinds.len() - 3..], [types::PROXY_STATE; 3]);
}

async fn engine_failure(
    action: StoreErrorAction,
    user: &str,
) -> (TestServer, Nas, Option<Vec<u8>>) {
    let config = RadiusConfig {
        on_store_error: action,
        language: crate::config::Language::En,
        ..Default::default()
    };
    let options = ServerOptions {
        request_timeout: Duration::from_millis(200),
        ..Default::default()
    };
    let server = start_with(loopback_clients(), config, options).await;
    let nas = Nas::new(server.auth).await;
    nas.send(&access_request(1, AUTH, user, SECRET)).await;
    let answer = nas.recv(Duration::from_secs(1)).await;
    (server, nas, answer)
}

#[tokio::test]
async fn engine_failures_are_dropped_or_rejected_never_accepted() {
    let (server, nas, answer) = engine_failure(StoreErrorAction::Drop, "error").await;
    assert_eq!(answer, None);
    // Not cached: the retransmission is evaluated again (the database may be back).
    nas.send(&access_request(1, AUTH, "error", SECRET)).await;
    assert_eq!(nas.recv(SILENCE).await, None);
    assert_eq!(
        (server.engine.calls(), server.stats.snapshot().errors),
        (2, 2)
    );

    for user in ["error", "hang"] {
        let (server, _, answer) = engine_failure(StoreErrorAction::Reject, user).await;
        let answer = answer.unwrap_or_else(|| panic!("{user}: no Reject"));
        let packet = verified(&answer, &AUTH);
        assert_eq!(packet.code(), Code::AccessReject, "{user}");
        let expected = crate::engine::unavailable_message(crate::config::Language::En);
        assert_eq!(text(packet.reply_messages()), [expected]);
        assert_eq!(server.stats.snapshot().errors, 1);
    }
}

#[tokio::test]
async fn beyond_max_in_flight_requests_are_shed() {
    let config = RadiusConfig {
        max_in_flight: 1,
        ..Default::default()
    };
    let server = start_with(loopback_clients(), config, ServerOptions::default()).await;
    let (slow, quick) = (Nas::new(server.auth).await, Nas::new(server.auth).await);
    slow.send(&access_request(1, AUTH, "slow", SECRET)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    quick
        .send(&access_request(2, [2; 16], "accept", SECRET))
        .await;
    assert_eq!(quick.recv(SILENCE).await, None);
    assert!(slow.recv(Duration::from_secs(2)).await.is_some());
    assert_eq!(
        (server.stats.snapshot().shed, server.engine.calls()),
        (1, 1)
    );
    // Once the slot is free, the NAS's retransmission gets through.
    assert!(
        quick
            .exchange(&access_request(2, [2; 16], "accept", SECRET))
            .await
            .is_some()
    );
}

#[tokio::test]
async fn accounting_is_answered_only_once_recorded() {
    let server = start(loopback_clients()).await;
    let nas = Nas::new(server.accounting).await;
    let attributes = [
        Attribute::new(types::USER_NAME, b"alice".to_vec()),
        Attribute::from_u32(types::ACCT_STATUS_TYPE, 1),
        Attribute::new(types::ACCT_SESSION_ID, b"sess-1".to_vec()),
        Attribute::new(types::PROXY_STATE, b"ps".to_vec()),
    ];
    let request = encode_accounting_request(4, &attributes, SECRET).unwrap();
    let answer = nas.exchange(&request).await.unwrap();
    let authenticator: [u8; 16] = request[4..20].try_into().unwrap();
    let response = verify_response(&answer, &authenticator, SECRET).unwrap();
    assert_eq!(
        (response.packet.code(), response.packet.identifier()),
        (Code::AccountingResponse, 4)
    );
    assert_eq!(response.packet.proxy_states().collect::<Vec<_>>(), [b"ps"]);
    let record = server.engine.records.lock().unwrap()[0].clone();
    assert_eq!(record.client, "nas-v4");
    assert_eq!(record.user_name.as_deref(), Some("alice"));
    assert_eq!(
        (record.status_type, record.session_id.as_deref()),
        (Some(1), Some("sess-1"))
    );

    let failing = encode_accounting_request(
        5,
        &[Attribute::new(types::USER_NAME, b"fail".to_vec())],
        SECRET,
    );
    nas.send(&failing.unwrap()).await;
    let mut forged = request.clone();
    forged[1] = 6; // new Identifier, stale Request Authenticator
    nas.send(&forged).await;
    nas.send(&access_request(7, AUTH, "accept", SECRET)).await; // wrong port
    assert_eq!(nas.recv(SILENCE).await, None);
    let stats = server.stats.snapshot();
    assert_eq!(
        (
            stats.accounting,
            stats.errors,
            stats.bad_authenticator,
            stats.wrong_port
        ),
        (1, 1, 1, 1)
    );
}

#[tokio::test]
async fn ipv6_sockets_and_clients_work() {
    let server = start(loopback_clients()).await;
    let nas = Nas::new(server.auth_v6).await;
    let answer = nas
        .exchange(&access_request(1, AUTH, "accept", SECRET))
        .await
        .unwrap();
    assert_eq!(verified(&answer, &AUTH).code(), Code::AccessAccept);
    assert_eq!(&*server.engine.requests.lock().unwrap()[0].client, "nas-v6");
}

#[tokio::test]
async fn a_reloaded_client_table_takes_effect_at_once() {
    let server = start(vec![]).await;
    let nas = Nas::new(server.auth).await;
    nas.send(&access_request(1, AUTH, "accept", SECRET)).await;
    assert_eq!(nas.recv(SILENCE).await, None);
    server.clients.store(ClientTable::new(loopback_clients()));
    assert!(
        nas.exchange(&access_request(2, AUTH, "accept", SECRET))
            .await
            .is_some()
    );
}

#[tokio::test]
async fn shutdown_finishes_requests_in_flight_then_returns() {
    let server = start(loopback_clients()).await;
    let nas = Nas::new(server.auth).await;
    nas.send(&access_request(1, AUTH, "slow", SECRET)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    server.token.cancel();
    assert!(
        nas.recv(Duration::from_secs(2)).await.is_some(),
        "the request in flight is answered"
    );
    tokio::time::timeout(Duration::from_secs(2), server.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    nas.send(&access_request(2, AUTH, "accept", SECRET)).await;
    assert_eq!(
        nas.recv(SILENCE).await,
        None,
        "nothing is received after shutdown"
    );
}

#[tokio::test]
async fn shutdown_abandons_requests_past_the_deadline() {
    let options = ServerOptions {
        shutdown_deadline: Duration::from_millis(200),
        ..Default::default()
    };
    let server = start_with(loopback_clients(), RadiusConfig::default(), options).await;
    let nas = Nas::new(server.auth).await;
    nas.send(&access_request(1, AUTH, "hang", SECRET)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    server.token.cancel();
    tokio::time::timeout(Duration::from_secs(2), server.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(nas.recv(Duration::from_millis(50)).await, None);
}

#[tokio::test]
async fn serve_needs_an_authentication_socket() {
    let server = RadiusServer::new(
        std::sync::Arc::new(FakeEngine::default()),
        SharedClientTable::default(),
        &RadiusConfig::default(),
    )
    .unwrap();
    let result = server
        .serve(vec![], vec![], tokio_util::sync::CancellationToken::new())
        .await;
    assert!(matches!(result, Err(RadiusServerError::NoSockets)));
}

/// Cross-check with the `radius` crate: it builds the request (without Message-Authenticator, which it cannot
/// compute) and checks our Response Authenticator and attributes.
#[tokio::test]
async fn the_radius_crate_accepts_our_answer() {
    use radius::core::{code::Code as OracleCode, packet::Packet as OraclePacket, rfc2865};
    let server = start(vec![Client::new(
        "lax",
        "127.0.0.1/32".parse().unwrap(),
        SECRET,
        false,
    )])
    .await;
    let nas = Nas::new(server.auth).await;
    let mut request = OraclePacket::new_with_identifier(OracleCode::AccessRequest, SECRET, 42);
    rfc2865::add_user_name(&mut request, "challenge");
    rfc2865::add_user_password(&mut request, PASSWORD).unwrap();
    let request = request.encode().unwrap();
    let answer = nas.exchange(&request).await.unwrap();
    assert!(OraclePacket::is_authentic_response(
        &answer, &request, SECRET
    ));
    let decoded = OraclePacket::decode(&answer, SECRET).unwrap();
    assert_eq!(decoded.get_code(), OracleCode::AccessChallenge);
    assert_eq!(decoded.get_identifier(), 42);
    assert_eq!(
        rfc2865::lookup_reply_message(&decoded).unwrap().unwrap(),
        "enter code"
    );
    assert_eq!(rfc2865::lookup_state(&decoded).unwrap(), b"state-1");
    assert_eq!(
        server.engine.requests.lock().unwrap()[0]
            .password
            .as_ref()
            .unwrap()
            .expose(),
        PASSWORD
    );
}

#[tokio::test]
async fn the_receive_loops_beat_while_they_run_and_not_after() {
    use super::{BEAT, Seen};
    let server = start(loopback_clients()).await;
    let mut seen = Seen::default();
    tokio::time::sleep(BEAT / 2).await;
    assert!(server.heartbeat.all_alive_since(&mut seen), "just started");
    for _ in 0..2 {
        tokio::time::sleep(BEAT * 2).await;
        assert!(server.heartbeat.all_alive_since(&mut seen), "serving");
    }
    server.token.cancel();
    server.task.await.unwrap().unwrap();
    tokio::time::sleep(BEAT * 2).await;
    assert!(!server.heartbeat.all_alive_since(&mut seen), "stopped");
}

/// The fuzz targets' entry point answers as the receive loop does: the same checks, the same signed bytes, the
/// duplicate cache.
#[tokio::test]
async fn the_fuzzing_entry_point_takes_the_receive_path() {
    let engine = Arc::new(FakeEngine::default());
    let table = SharedClientTable::new(ClientTable::new(loopback_clients()));
    let server = RadiusServer::new(engine.clone(), table, &RadiusConfig::default()).unwrap();
    let nas: SocketAddr = "127.0.0.1:50000".parse().unwrap();
    let request = access_request(4, AUTH, "accept", SECRET);

    let bytes = server.fuzz_auth_datagram(&request, nas).await.unwrap();
    assert_eq!(verified(&bytes, &AUTH).code(), Code::AccessAccept);
    let again = server.fuzz_auth_datagram(&request, nas).await.unwrap();
    assert_eq!(again, bytes, "a retransmission gets the cached bytes");
    assert_eq!(engine.calls(), 1);

    let stranger: SocketAddr = "192.0.2.1:50000".parse().unwrap();
    assert_eq!(server.fuzz_auth_datagram(&request, stranger).await, None);
    let forged = access_request(5, AUTH, "accept", b"not-the-secret");
    assert_eq!(server.fuzz_auth_datagram(&forged, nas).await, None);
    assert_eq!(engine.calls(), 1);
}
