//! The whole Access-Request path: an Access-Request built from the input (any attributes; User-Name,
//! User-Password, State and Message-Authenticator present, repeated, garbled or absent), signed with the
//! client's secret, through the server's receive path and the real engine over an SQLite file, with a manual
//! clock the input moves forward. Three clients (password-otp, otp-only, challenge) and an unknown address.
//!
//! Invariants: nothing panics; only a known client's request gets a reply, and the reply verifies with
//! `motpd_radius` (Response Authenticator, Message-Authenticator first and valid, the request's Identifier);
//! an Access-Accept only for the active account with a device (`nurse.chen`), for a request carrying its
//! password and a code of the current time window as the client's mode asks for them (in the challenge mode:
//! the code with a State the server issued to a request carrying the right password).
#![no_main]

include!("site.rs");

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use libfuzzer_sys::arbitrary::{Result as ArbitraryResult, Unstructured};
use motpd::clock::{Clock, ManualClock};
use motpd::config::{AuthMode, Config};
use motpd::engine::{AuditSink, Engine, EngineSettings};
use motpd::otp::{Algorithm, totp_at};
use motpd::radius::{
    Attribute, Code, MessageAuthenticator, Packet, encode_raw, encode_request, hide_password,
    types, verify_response,
};
use motpd::runtime::hashing::HashingPool;
use motpd::server::radius::{Client, ClientTable, RadiusServer, SharedClientTable};
use motpd::store::AccountStatus;

const NOW: i64 = 1_750_000_000;
/// RFC 6238's SHA1 seed.
const SEED: &[u8] = b"12345678901234567890";
const PASSWORD: &[u8] = b"Nurse.Chen2024!";
/// Active, with a TOTP device: the only account that may be accepted.
const USER: &str = "nurse.chen";
/// Active, no device (enforced: refused).
const NO_DEVICE: &str = "dr.wang";
/// Disabled, with a device.
const DISABLED: &str = "clerk.lin";
const SECRET: &[u8] = b"fuzzing-shared-secret";
/// The clients by last octet of 10.0.0.x: 1 password-otp, 2 otp-only, 3 challenge; 4 is no client.
const MODES: [AuthMode; 3] = [
    AuthMode::PasswordOtp,
    AuthMode::OtpOnly,
    AuthMode::Challenge,
];

struct Harness {
    runtime: tokio::runtime::Runtime,
    server: RadiusServer,
    clock: ManualClock,
    /// States of Access-Challenges answered to a request carrying the right password, with their client.
    issued: Mutex<HashSet<(Vec<u8>, usize)>>,
    /// The last State the server sent, for the input to send back.
    last_state: Mutex<Option<Vec<u8>>>,
    /// The replies by client, Identifier and Request Authenticator: the server's duplicate cache answers a
    /// request with the same three (and a valid Message-Authenticator) with the earlier reply, by design
    /// (RFC 5080), whatever its other attributes.
    replies: Mutex<HashMap<(usize, u8, [u8; 16]), (Instant, Vec<u8>)>>,
}

/// Longer than `radius.duplicate_cache_seconds` (30 s by default), in real time as the cache counts it.
const REPLY_MEMORY: Duration = Duration::from_secs(60);

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let clock = ManualClock::new(NOW);
        let server = runtime.block_on(server(&clock));
        Harness {
            runtime,
            server,
            clock,
            issued: Mutex::default(),
            last_state: Mutex::default(),
            replies: Mutex::default(),
        }
    })
}

async fn server(clock: &ManualClock) -> RadiusServer {
    let (stores, key) = open_site("radius", clock).await;
    let store = stores.store.clone();
    let mut config = Config::default();
    config.policy.enforce_after = None;
    config.validate().expect("valid config");
    let hash = motpd::password::hash_password(PASSWORD).expect("hash");
    for (id, status) in [
        (USER, AccountStatus::Active),
        (NO_DEVICE, AccountStatus::Active),
        (DISABLED, AccountStatus::Disabled),
    ] {
        add_account(
            store.as_ref(),
            id,
            status,
            Some(hash.clone()),
            None,
            &["vpn", "nurses"],
        )
        .await;
    }
    for id in [USER, DISABLED] {
        bind_seed(store.as_ref(), &key, id).await;
    }
    let (sink, _task) = AuditSink::spawn(store.clone());
    let engine = Arc::new(Engine::new(
        &stores,
        key,
        Arc::new(clock.clone()),
        EngineSettings::from_config(&config),
        sink,
        HashingPool::new(1),
    ));
    let clients = MODES
        .iter()
        .enumerate()
        .map(|(index, &mode)| {
            let name = format!("nas-{index}");
            let network = format!("10.0.0.{}/32", index + 1).parse().expect("network");
            // The otp-only client accepts requests without Message-Authenticator.
            let mut client = Client::new(&name, network, SECRET, mode != AuthMode::OtpOnly);
            client.mode = Some(mode);
            client
        })
        .collect();
    let table = SharedClientTable::new(ClientTable::new(clients));
    RadiusServer::new(engine, table, &config.radius).expect("server")
}

/// The codes of the current time window (`otp.window = 1`).
fn valid_codes(now: i64) -> Vec<String> {
    let now = u64::try_from(now).unwrap_or(0);
    [now.saturating_sub(30), now, now + 30]
        .iter()
        .filter_map(|&at| totp_at(SEED, at, 30, 6, Algorithm::Sha1).ok())
        .collect()
}

/// An Access-Request built from the input, and the client index it comes from (`None`: no client).
struct Request {
    bytes: Vec<u8>,
    authenticator: [u8; 16],
    client: Option<usize>,
}

fn bytes(u: &mut Unstructured<'_>, max: usize) -> ArbitraryResult<Vec<u8>> {
    let len = u.int_in_range(0..=max)?;
    Ok(u.bytes(len)?.to_vec())
}

fn build(u: &mut Unstructured<'_>, h: &Harness) -> ArbitraryResult<Option<Request>> {
    let now = h.clock.now();
    let client = usize::from(u.int_in_range(0u8..=3)?);
    let mode = MODES.get(client).copied().unwrap_or(AuthMode::PasswordOtp);
    let identifier: u8 = u.arbitrary()?;
    let authenticator: [u8; 16] = u.arbitrary()?;
    let signing: u8 = u.int_in_range(0..=3)?;
    let codes = valid_codes(now);
    let mut attributes: Vec<Attribute<'static>> = Vec::new();
    while !u.is_empty() && attributes.len() < 48 {
        let attribute = match u.int_in_range(0u8..=13)? {
            0 => Attribute::new(types::USER_NAME, USER.as_bytes().to_vec()),
            1 => {
                let name = *u.choose(&[" Nurse.Chen ", "NURSE.CHEN", NO_DEVICE, DISABLED, ""])?;
                Attribute::new(types::USER_NAME, name.as_bytes().to_vec())
            }
            2 => Attribute::new(types::USER_NAME, bytes(u, 253)?),
            3 => {
                // What the mode asks for, with a code of the window.
                let code = u.choose(&codes)?.as_bytes();
                let typed = match mode {
                    AuthMode::PasswordOtp => [PASSWORD, code].concat(),
                    AuthMode::OtpOnly => code.to_vec(),
                    AuthMode::Challenge if u.arbitrary()? => code.to_vec(),
                    AuthMode::Challenge => PASSWORD.to_vec(),
                };
                hidden(&typed, &authenticator)
            }
            4 => hidden(&[PASSWORD, &bytes(u, 8)?].concat(), &authenticator),
            5 => hidden(&bytes(u, 128)?, &authenticator),
            6 => Attribute::new(types::USER_PASSWORD, bytes(u, 253)?),
            7 => match h.last_state.lock().expect("lock").clone() {
                Some(state) => Attribute::new(types::STATE, state),
                None => continue,
            },
            8 => Attribute::new(types::STATE, bytes(u, 253)?),
            9 => Attribute::new(types::PROXY_STATE, bytes(u, 253)?),
            10 => Attribute::new(types::MESSAGE_AUTHENTICATOR, bytes(u, 20)?),
            11 => Attribute::new(types::NAS_IP_ADDRESS, bytes(u, 6)?),
            12 => Attribute::new(types::NAS_IPV6_ADDRESS, bytes(u, 18)?),
            _ => Attribute::new(u.arbitrary::<u8>()?, bytes(u, 253)?),
        };
        attributes.push(attribute);
    }
    let encoded = match signing {
        // Message-Authenticator first, signed with the client's secret (or a wrong one).
        0 | 1 => encode_request(
            Code::AccessRequest,
            identifier,
            &authenticator,
            &attributes,
            SECRET,
        ),
        2 => encode_request(
            Code::AccessRequest,
            identifier,
            &authenticator,
            &attributes,
            b"another-secret",
        ),
        // As given: none, or the input's own Message-Authenticator attributes.
        _ => encode_raw(Code::AccessRequest, identifier, &authenticator, &attributes),
    };
    let Ok(bytes) = encoded else {
        return Ok(None);
    };
    Ok(Some(Request {
        bytes,
        authenticator,
        client: (client < MODES.len()).then_some(client),
    }))
}

fn hidden(password: &[u8], authenticator: &[u8; 16]) -> Attribute<'static> {
    let value = hide_password(password, authenticator, SECRET).unwrap_or_default();
    Attribute::new(types::USER_PASSWORD, value)
}

/// What the server reads from the request: the user (normalised), the password, the State, if each is there
/// once and well-formed.
fn credentials(bytes: &[u8]) -> Option<(String, Vec<u8>, Option<Vec<u8>>)> {
    let packet = Packet::decode(bytes).ok()?;
    let user = std::str::from_utf8(packet.user_name().ok()??).ok()?;
    let user = motpd::account_rules::normalize_id(user).ok()?;
    let password = packet.user_password(SECRET).ok()??.as_bytes().to_vec();
    let state = packet.state().ok()?.map(<[u8]>::to_vec);
    Some((user, password, state))
}

/// `MOTPD_FUZZ_TRACE=1`: one line per input saying what the server answered (to check what the seeds reach).
fn trace() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("MOTPD_FUZZ_TRACE").is_some())
}

fn is_code(typed: &[u8], codes: &[String]) -> bool {
    codes.iter().any(|code| code.as_bytes() == typed)
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let h = harness();
    let mut u = Unstructured::new(data);
    // The clock moves first: a new step, past a lockout, or a few seconds.
    let advance = match u.int_in_range(0u8..=3).unwrap_or(0) {
        0 => 0,
        1 => 30,
        2 => 16 * 60,
        _ => i64::from(u.arbitrary::<u8>().unwrap_or(0)),
    };
    h.clock.advance(advance);
    let now = h.clock.now();
    let Ok(Some(request)) = build(&mut u, h) else {
        return;
    };
    let client = request.client.map_or(4, |index| index + 1);
    let src = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, client as u8)), 50_000);
    let reply = h
        .runtime
        .block_on(h.server.fuzz_auth_datagram(&request.bytes, src));
    if trace() {
        let code = reply.as_deref().and_then(|r| r.first().copied());
        eprintln!("client {:?}: reply code {code:?}", request.client);
    }
    let Some(reply) = reply else {
        return;
    };
    let Some(client) = request.client else {
        panic!("a reply to an address that is no client");
    };
    let verified = verify_response(&reply, &request.authenticator, SECRET)
        .expect("the reply verifies with the client's secret");
    assert_eq!(verified.message_authenticator, MessageAuthenticator::Valid);
    let packet = verified.packet;
    assert_eq!(
        packet.attributes().next().map(|a| a.typ),
        Some(types::MESSAGE_AUTHENTICATOR),
        "Message-Authenticator first"
    );
    let sent = Packet::decode(&request.bytes).expect("the request decodes");
    assert_eq!(packet.identifier(), sent.identifier());
    let key = (client, sent.identifier(), request.authenticator);
    let resent = {
        let mut replies = h.replies.lock().expect("lock");
        if replies.len() > 100_000 {
            replies.retain(|_, (at, _)| at.elapsed() < REPLY_MEMORY);
        }
        let resent = replies
            .get(&key)
            .is_some_and(|(_, earlier)| *earlier == reply);
        replies.insert(key, (Instant::now(), reply.clone()));
        resent
    };
    if resent {
        // The duplicate cache's answer to an earlier request: checked when it was first sent.
        return;
    }
    let codes = valid_codes(now);
    let right_password = |typed: &[u8]| typed == PASSWORD;
    let creds = credentials(&request.bytes);
    match packet.code() {
        Code::AccessAccept => {
            let (user, typed, state) = creds.expect("an Accept for a request without credentials");
            assert_eq!(user, USER, "an Accept for another account");
            let mode = MODES[client];
            let carried = match (&state, mode) {
                (Some(state), AuthMode::Challenge) => {
                    h.issued
                        .lock()
                        .expect("lock")
                        .contains(&(state.clone(), client))
                        && is_code(&typed, &codes)
                }
                (Some(_), _) => false,
                (None, AuthMode::PasswordOtp) => {
                    typed.len() > 6
                        && right_password(&typed[..typed.len() - 6])
                        && is_code(&typed[typed.len() - 6..], &codes)
                }
                (None, AuthMode::OtpOnly) => is_code(&typed, &codes),
                (None, AuthMode::Challenge) => false,
            };
            assert!(carried, "an Accept without the password and a current code");
        }
        Code::AccessChallenge => {
            let state = packet
                .state()
                .expect("one State")
                .expect("a Challenge carries a State")
                .to_vec();
            if let Some((user, typed, None)) = &creds
                && user == USER
                && right_password(typed)
            {
                h.issued
                    .lock()
                    .expect("lock")
                    .insert((state.clone(), client));
            }
            *h.last_state.lock().expect("lock") = Some(state);
        }
        Code::AccessReject => {}
        other => panic!("an answer of code {other:?}"),
    }
});
