//! RADIUS codec benchmarks: what the transport does per datagram, without the socket.
//!
//! - `access_request_decode_verify_unhide`: decode a typical NetScaler Access-Request, verify its
//!   Message-Authenticator (HMAC-MD5), read User-Name and unhide the PAP User-Password (MD5 chain).
//! - `access_accept_encode_sign`: encode an Access-Accept with the Citrix group VSA and a Reply-Message,
//!   Message-Authenticator first, then the Response Authenticator.

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use motpd::radius::{
    Attribute, Code, MessageAuthenticator, Packet, encode_access_request, encode_response, types,
};

const SECRET: &[u8] = b"a-long-shared-secret-for-netscaler";
const AUTHENTICATOR: [u8; 16] = *b"0123456789abcdef";
/// Password followed by the 6-digit code, as NetScaler sends it in password+otp mode.
const PASSWORD: &[u8] = b"Nurse.Chen2024!287082";

/// An Access-Request shaped like NetScaler's: User-Name, User-Password, NAS-IP-Address, NAS-Identifier,
/// Calling-Station-Id (the user's address), Service-Type and Message-Authenticator.
fn netscaler_request() -> Vec<u8> {
    let extra = [
        Attribute::from_ipv4(types::NAS_IP_ADDRESS, Ipv4Addr::new(10, 1, 2, 3)),
        Attribute::new(types::NAS_IDENTIFIER, b"ns-vpn-01".to_vec()),
        Attribute::new(types::CALLING_STATION_ID, b"203.0.113.7".to_vec()),
        Attribute::from_u32(types::SERVICE_TYPE, 8),
    ];
    encode_access_request(42, &AUTHENTICATOR, b"nurse.chen", PASSWORD, &extra, SECRET)
        .expect("the request encodes")
}

fn decode_verify_unhide(raw: &[u8]) -> usize {
    let packet = Packet::decode(raw).expect("decodes");
    let ma = packet
        .verify_request_message_authenticator(SECRET)
        .expect("Message-Authenticator verifies");
    assert_eq!(ma, MessageAuthenticator::Valid);
    let user = packet.user_name().expect("user name").expect("present");
    let password = packet
        .user_password(SECRET)
        .expect("password unhides")
        .expect("present");
    user.len() + password.len()
}

fn codec(c: &mut Criterion) {
    let raw = netscaler_request();
    let password = Packet::decode(&raw)
        .and_then(|p| p.user_password(SECRET))
        .expect("decodes")
        .expect("present");
    assert_eq!(password.as_bytes(), PASSWORD, "the request round-trips");
    c.bench_function("access_request_decode_verify_unhide", |b| {
        b.iter(|| decode_verify_unhide(black_box(&raw)));
    });

    let groups = Attribute::vendor_specific(
        types::CITRIX_VENDOR_ID,
        types::CITRIX_USER_GROUPS,
        b"vpn,nurses",
    )
    .expect("VSA");
    let mut attributes = vec![groups];
    attributes.extend(Attribute::reply_messages("Welcome, Chen."));
    c.bench_function("access_accept_encode_sign", |b| {
        b.iter(|| {
            encode_response(
                Code::AccessAccept,
                black_box(42),
                black_box(&AUTHENTICATOR),
                black_box(&attributes),
                SECRET,
            )
            .expect("encodes")
        });
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    targets = codec
}
criterion_main!(benches);
