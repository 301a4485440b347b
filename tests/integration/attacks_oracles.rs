//! Attacks on what a VPN login reply gives away, over real UDP: before both factors are verified every failure
//! reads the same (wrong code, wrong password, unknown, pending, admin-locked, disabled and expired accounts)
//! and costs the same (one password hash), so the login page confirms neither a stolen password nor an
//! account. Also: an admin lock (stored as the last second of year 9999) is answered, not a panic.

use std::time::{Duration, Instant};

use motpd::account_rules::ADMIN_LOCK_UNTIL;
use motpd::config::Language;
use motpd::otp::Kind;
use motpd::radius::Code;
use motpd::store::{AccountStatus, AccountUpsert};

use crate::common::NOW;
use crate::common::fixture::EngineFixture;
use crate::common::radius_client::{RadiusFixture, TestClient};

const PW: &str = "Nurse2024";

/// alice (active, device), newbie (pending), held (admin lock), gone (disabled), vendor (expired); each with
/// a device where it can have one, so that nothing but the account's state differs.
async fn server(adjust: impl FnOnce(&mut motpd::config::Config)) -> RadiusFixture {
    let f = EngineFixture::new(|c| {
        c.radius.language = Language::En;
        c.policy.lockout_failures = 1000;
        adjust(c);
    })
    .await;
    for id in ["alice", "held", "gone", "vendor"] {
        f.account(id, PW).await;
        f.device(id, Kind::Totp).await;
    }
    f.account_with_hash("newbie", None, AccountStatus::Pending)
        .await;
    f.store
        .lock_account("held", ADMIN_LOCK_UNTIL, NOW)
        .await
        .unwrap();
    f.store
        .set_account_status("gone", AccountStatus::Disabled, NOW)
        .await
        .unwrap();
    let vendor = AccountUpsert {
        id: "vendor".to_owned(),
        name: "Vendor".to_owned(),
        phone: None,
        email: None,
        expires_on: Some(time::macros::date!(2020 - 01 - 01)),
        groups: Vec::new(),
        password_hash: None,
        status: AccountStatus::Active,
    };
    f.store
        .import_accounts(std::slice::from_ref(&vendor), NOW)
        .await
        .unwrap();
    RadiusFixture::start(f, true).await
}

fn wrong_code(right: &str) -> String {
    if right == "000000" {
        "111111"
    } else {
        "000000"
    }
    .to_owned()
}

async fn reply_text(client: &mut TestClient, user: &str, typed: &str) -> (Code, String) {
    let reply = client.access(user, typed.as_bytes(), None).await.unwrap();
    (reply.code, reply.messages)
}

#[tokio::test]
async fn every_failure_before_both_factors_reads_the_same() {
    let s = server(|_| {}).await;
    let mut client = s.client().await;
    let code = s.f.code_now();
    let wrong = wrong_code(&code);
    let attempts = [
        ("alice", format!("{PW}{wrong}")), // the password is right, the code is not
        ("alice", format!("Nurse2025{code}")), // the code is right, the password is not
        ("mallory", format!("{PW}{code}")), // no such account
        ("newbie", format!("{PW}{code}")), // pending
        ("held", format!("{PW}{wrong}")),  // locked by an admin
        ("gone", format!("{PW}{wrong}")),  // disabled
        ("vendor", format!("{PW}{wrong}")), // expired
        ("gone", format!("Nurse2025{code}")), // disabled, wrong password
        ("vendor", format!("Nurse2025{code}")), // expired, wrong password
    ];
    let mut texts = Vec::new();
    for (user, typed) in &attempts {
        let (code, text) = reply_text(&mut client, user, typed).await;
        assert_eq!(code, Code::AccessReject, "{user}");
        texts.push(text);
    }
    for (text, (user, _)) in texts.iter().zip(&attempts) {
        assert_eq!(text, &texts[0], "{user} reads differently");
    }
    assert!(texts[0].starts_with("Login failed"), "{}", texts[0]);
    // Once both factors are right, the account's own state is told.
    let (_, disabled) = reply_text(&mut client, "gone", &format!("{PW}{code}")).await;
    assert!(disabled.contains("disabled"), "{disabled}");
    s.stop().await;
}

#[tokio::test]
async fn detailed_reasons_tell_the_admin_lock_without_a_panic() {
    let s = server(|c| c.radius.detailed_reasons = true).await;
    let mut client = s.client().await;
    let code = s.f.code_now();
    let (answer, text) = reply_text(&mut client, "held", &format!("{PW}{code}")).await;
    assert_eq!(answer, Code::AccessReject);
    assert!(text.contains("IT unlocks it"), "{text}");
    let (_, text) = reply_text(&mut client, "newbie", "whatever123456").await;
    assert!(text.contains("/account/activate"), "{text}");
    s.stop().await;
}

/// The median reply time of each login in `attempts`, measured in turns (one of each per round), so that a
/// burst of load on the machine slows every kind alike.
async fn medians(
    client: &mut TestClient,
    attempts: &[(&str, String)],
    rounds: usize,
) -> Vec<Duration> {
    let mut times = vec![Vec::with_capacity(rounds); attempts.len()];
    for _ in 0..rounds {
        for ((user, typed), times) in attempts.iter().zip(&mut times) {
            let started = Instant::now();
            let reply = client.access(user, typed.as_bytes(), None).await.unwrap();
            times.push(started.elapsed());
            assert_eq!(reply.code, Code::AccessReject, "{user}");
        }
    }
    times
        .into_iter()
        .map(|mut t| {
            t.sort();
            t[rounds / 2]
        })
        .collect()
}

#[tokio::test]
async fn every_refusal_costs_one_password_hash() {
    let s = server(|_| {}).await;
    let mut client = s.client().await;
    let code = s.f.code_now();
    let wrong = wrong_code(&code);
    let attempts = [
        ("mallory", format!("{PW}{code}")),
        ("alice", format!("Nurse2025{wrong}")),
        ("newbie", format!("{PW}{wrong}")),
        ("held", format!("{PW}{wrong}")),
        ("gone", format!("{PW}{wrong}")),
        ("vendor", format!("{PW}{wrong}")),
    ];
    // A hash is tens of milliseconds (more in a debug build); a refusal without one is well under one. The
    // bounds are loose (a factor of 3) so that a busy machine does not fail them, and still far from "no
    // hash" or "two hashes".
    let medians = medians(&mut client, &attempts, 9).await;
    let unknown = medians[0];
    for ((user, _), this) in attempts.iter().zip(&medians).skip(1) {
        assert!(
            *this * 3 >= unknown && *this <= unknown * 3,
            "{user}: {this:?} against {unknown:?} for an unknown account"
        );
    }
    s.stop().await;
}
