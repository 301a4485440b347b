//! The engine's rules with a manual clock: password + code, drift window, replay and the reuse window, lockout
//! and its expiry, enforcement date, account states, challenge mode and its expiry, HOTP and mOTP, audit.

use motpd::audit::ChainVerifier;
use motpd::config::{AuthMode, Language};
use motpd::engine::{AccessHandler, Decision, RejectReason};
use motpd::otp::{self, Algorithm, Kind};
use motpd::store::AccountStatus;

use crate::common::NOW;
use crate::common::fixture::{CLIENT, EngineFixture, request};

const PW: &str = "Nurse2024";
const MODE: AuthMode = AuthMode::PasswordOtp;

fn reason(decision: &Decision) -> Option<RejectReason> {
    match decision {
        Decision::Reject { reason, .. } => Some(*reason),
        _ => None,
    }
}

fn message(decision: &Decision) -> String {
    match decision {
        Decision::Accept { message, .. } => message.clone().unwrap_or_default(),
        Decision::Reject { message, .. } | Decision::Challenge { message, .. } => message.clone(),
    }
}

fn accepted(decision: &Decision) -> bool {
    matches!(decision, Decision::Accept { .. })
}

async fn alice(adjust: impl FnOnce(&mut motpd::config::Config)) -> EngineFixture {
    let f = EngineFixture::new(adjust).await;
    f.account("alice", PW).await;
    f.device("alice", Kind::Totp).await;
    f
}

fn typed(code: &str) -> Vec<u8> {
    format!("{PW}{code}").into_bytes()
}

#[tokio::test]
async fn password_plus_code_accepts_and_carries_groups() {
    let f = alice(|_| {}).await;
    let d = f.ask("Alice", &typed(&f.code_now()), MODE).await;
    assert_eq!(
        d,
        Decision::Accept {
            groups: vec!["vpn".into(), "nurses".into()],
            message: None
        }
    );
}

#[tokio::test]
async fn before_both_factors_every_failure_reads_the_same() {
    let f = alice(|c| c.radius.language = Language::En).await;
    f.account_with_hash("newbie", None, AccountStatus::Pending)
        .await;
    let code = f.code_now();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let answers = [
        f.ask("alice", &typed(wrong), MODE).await,
        f.ask("alice", format!("Nurse2025{code}").as_bytes(), MODE)
            .await,
        f.ask("mallory", &typed(&code), MODE).await,
        f.ask("newbie", &typed(&code), MODE).await,
        f.ask("alice", &typed(wrong), AuthMode::OtpOnly).await,
    ];
    let reasons: Vec<_> = answers.iter().map(reason).collect();
    assert_eq!(
        reasons,
        [
            Some(RejectReason::BadCode),
            Some(RejectReason::BadPassword),
            Some(RejectReason::UnknownAccount),
            Some(RejectReason::NotActivated),
            Some(RejectReason::BadCode),
        ]
    );
    for answer in &answers {
        assert_eq!(message(answer), message(&answers[0]));
    }
    assert!(message(&answers[0]).starts_with("Login failed"));
}

#[tokio::test]
async fn wrong_code_wrong_password_and_unknown_account() {
    let f = alice(|c| {
        c.radius.language = Language::En;
        c.radius.detailed_reasons = true;
    })
    .await;
    let code = f.code_now();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let bad_code = f.ask("alice", &typed(wrong), MODE).await;
    assert_eq!(reason(&bad_code), Some(RejectReason::BadCode));
    assert!(message(&bad_code).contains("Wrong code"));
    assert!(message(&bad_code).contains("right after your password"));
    let otp_only = f.ask("alice", wrong.as_bytes(), AuthMode::OtpOnly).await;
    assert!(message(&otp_only).contains("6-digit code"));
    assert!(
        !message(&otp_only).contains("password"),
        "{}",
        message(&otp_only)
    );

    let bad_pw = f
        .ask("alice", format!("Nurse2025{code}").as_bytes(), MODE)
        .await;
    assert_eq!(reason(&bad_pw), Some(RejectReason::BadPassword));
    let unknown = f.ask("mallory", &typed(&code), MODE).await;
    assert_eq!(reason(&unknown), Some(RejectReason::UnknownAccount));
    assert_eq!(
        message(&bad_pw),
        message(&unknown),
        "an unknown account reads like a wrong password"
    );

    let too_short = f.ask("alice", b"123", MODE).await;
    assert_eq!(reason(&too_short), Some(RejectReason::BadPassword));
    let no_password = f
        .ask_with(motpd::engine::AccessRequest {
            password: None,
            ..request("alice", b"", MODE)
        })
        .await;
    assert_eq!(reason(&no_password), Some(RejectReason::Malformed));
}

#[tokio::test]
async fn drift_window_edges() {
    let f = alice(|c| c.otp.window = 1).await;
    // Clock in the middle of a step so ±30 s land exactly one step away.
    f.clock.set(NOW - NOW % 30 + 600 + 15);
    let now = NOW - NOW % 30 + 600 + 15;
    assert!(
        accepted(&f.ask("alice", &typed(&f.totp(now - 30)), MODE).await),
        "step - 1"
    );
    assert!(
        accepted(&f.ask("alice", &typed(&f.totp(now + 30)), MODE).await),
        "step + 1"
    );
    f.clock.advance(300);
    let now = now + 300;
    assert_eq!(
        reason(&f.ask("alice", &typed(&f.totp(now - 60)), MODE).await),
        Some(RejectReason::BadCode)
    );
    assert_eq!(
        reason(&f.ask("alice", &typed(&f.totp(now + 60)), MODE).await),
        Some(RejectReason::BadCode)
    );

    let strict = alice(|c| c.otp.window = 0).await;
    let now = motpd::clock::Clock::now(&strict.clock);
    assert_eq!(
        reason(
            &strict
                .ask("alice", &typed(&strict.totp(now - 30)), MODE)
                .await
        ),
        Some(RejectReason::BadCode)
    );
    assert!(accepted(
        &strict.ask("alice", &typed(&strict.totp(now)), MODE).await
    ));
}

#[tokio::test]
async fn a_code_is_accepted_once() {
    let f = alice(|_| {}).await;
    let code = f.code_now();
    assert!(accepted(&f.ask("alice", &typed(&code), MODE).await));
    let replay = f.ask("alice", &typed(&code), MODE).await;
    assert_eq!(reason(&replay), Some(RejectReason::Replayed));
    // An older code inside the window is a replay too (the stored step only moves forward).
    let now = motpd::clock::Clock::now(&f.clock);
    assert_ne!(
        reason(&f.ask("alice", &typed(&f.totp(now - 30)), MODE).await),
        None
    );
    f.clock.advance(30);
    assert!(
        accepted(&f.ask("alice", &typed(&f.code_now()), MODE).await),
        "next step works"
    );
}

#[tokio::test]
async fn reuse_window_accepts_the_same_cached_login_only() {
    let f = alice(|c| c.otp.reuse_seconds = 25).await;
    let code = f.code_now();
    assert!(accepted(&f.ask("alice", &typed(&code), MODE).await));
    f.clock.advance(20);
    assert!(
        accepted(&f.ask("alice", &typed(&code), MODE).await),
        "same client, station, code within 60 s"
    );
    let mut other_station = request("alice", &typed(&code), MODE);
    other_station.calling_station_id = Some("198.51.100.9".into());
    assert_eq!(
        reason(&f.ask_with(other_station).await),
        Some(RejectReason::Replayed)
    );
    let mut other_client = request("alice", &typed(&code), MODE);
    other_client.client = "other-gateway".into();
    assert_eq!(
        reason(&f.ask_with(other_client).await),
        Some(RejectReason::Replayed)
    );
    assert_eq!(
        reason(
            &f.ask("alice", format!("Wrong1234{code}").as_bytes(), MODE)
                .await
        ),
        Some(RejectReason::BadPassword),
        "the password must still be right"
    );
    f.clock.advance(6);
    assert_eq!(
        reason(&f.ask("alice", &typed(&code), MODE).await),
        Some(RejectReason::Replayed),
        "after 26 s"
    );
}

#[tokio::test]
async fn lockout_after_failures_and_its_expiry() {
    let f = alice(|c| {
        c.policy.lockout_failures = 3;
        c.policy.lockout_minutes = 15;
        c.radius.language = Language::En;
        c.radius.detailed_reasons = true;
    })
    .await;
    for _ in 0..2 {
        assert_eq!(
            reason(&f.ask("alice", b"wrongpass1000000", MODE).await),
            Some(RejectReason::BadPassword)
        );
    }
    let third = f.ask("alice", b"wrongpass1000000", MODE).await;
    assert!(
        message(&third).contains("locked until"),
        "{}",
        message(&third)
    );
    let right = f.ask("alice", &typed(&f.code_now()), MODE).await;
    assert_eq!(
        reason(&right),
        Some(RejectReason::Locked),
        "right credentials are refused while locked"
    );
    f.clock.advance(15 * 60 - 1);
    assert_eq!(
        reason(&f.ask("alice", &typed(&f.code_now()), MODE).await),
        Some(RejectReason::Locked)
    );
    f.clock.advance(1);
    assert!(
        accepted(&f.ask("alice", &typed(&f.code_now()), MODE).await),
        "lock expired"
    );
    let account = f.store.account("alice").await.unwrap().unwrap();
    assert_eq!((account.failures, account.locked_until), (0, None));
}

#[tokio::test]
async fn enforcement_date_decides_about_accounts_without_a_device() {
    let f = EngineFixture::new(|c| {
        // NOW is 2025-06-15 in Taipei.
        c.policy.enforce_after = Some(time::macros::date!(2025 - 07 - 01));
        c.radius.language = Language::En;
    })
    .await;
    f.account("bob", PW).await;
    let before = f.ask("bob", PW.as_bytes(), MODE).await;
    assert!(accepted(&before), "{before:?}");
    assert!(
        message(&before).contains("2025-07-01"),
        "reminder names the date"
    );
    f.clock.advance(20 * 86_400);
    let after = f.ask("bob", PW.as_bytes(), MODE).await;
    assert_eq!(reason(&after), Some(RejectReason::NotEnrolled));
    assert!(message(&after).contains("/enroll"));
}

#[tokio::test]
async fn disabled_expired_and_unactivated_accounts() {
    let f = alice(|_| {}).await;
    f.store
        .set_account_status("alice", AccountStatus::Disabled, NOW)
        .await
        .unwrap();
    assert_eq!(
        reason(&f.ask("alice", &typed(&f.code_now()), MODE).await),
        Some(RejectReason::Disabled)
    );
    f.store
        .set_account_status("alice", AccountStatus::Active, NOW)
        .await
        .unwrap();

    // NOW is 2025-06-15 (Taipei): the last valid day is accepted, the day after is not.
    let mut upsert = crate::common::account("alice");
    upsert.password_hash = None;
    upsert.expires_on = Some(time::macros::date!(2025 - 06 - 15));
    f.store
        .import_accounts(&[upsert.clone()], NOW)
        .await
        .unwrap();
    assert!(accepted(&f.ask("alice", &typed(&f.code_now()), MODE).await));
    upsert.expires_on = Some(time::macros::date!(2025 - 06 - 14));
    f.store.import_accounts(&[upsert], NOW).await.unwrap();
    f.clock.advance(30);
    let expired = f.ask("alice", &typed(&f.code_now()), MODE).await;
    assert_eq!(reason(&expired), Some(RejectReason::Expired));
    assert!(message(&expired).contains("2025-06-14"));

    f.account_with_hash("intern", None, AccountStatus::Pending)
        .await;
    assert_eq!(
        reason(&f.ask("intern", b"anything123456", MODE).await),
        Some(RejectReason::NotActivated)
    );
}

#[tokio::test]
async fn challenge_mode_round_trip_single_use_and_expiry() {
    let f = alice(|c| c.radius.challenge_ttl_seconds = 60).await;
    let first = f.ask("alice", PW.as_bytes(), AuthMode::Challenge).await;
    let Decision::Challenge { state, message } = first else {
        panic!("expected a challenge, got {first:?}");
    };
    assert!(message.contains('6'), "{message}");
    assert!(state.len() >= 16);
    let mut answer = request("alice", f.code_now().as_bytes(), AuthMode::Challenge);
    answer.state = Some(state.clone());
    assert!(accepted(&f.ask_with(answer.clone()).await));
    assert_eq!(
        reason(&f.ask_with(answer).await),
        Some(RejectReason::BadState),
        "State is single use"
    );

    // Wrong password: no challenge.
    assert_eq!(
        reason(&f.ask("alice", b"Wrong12345", AuthMode::Challenge).await),
        Some(RejectReason::BadPassword)
    );

    // Expired State.
    let Decision::Challenge { state, .. } =
        f.ask("alice", PW.as_bytes(), AuthMode::Challenge).await
    else {
        panic!("expected a challenge");
    };
    f.clock.advance(61);
    let mut late = request("alice", f.code_now().as_bytes(), AuthMode::Challenge);
    late.state = Some(state);
    assert_eq!(
        reason(&f.ask_with(late).await),
        Some(RejectReason::BadState)
    );

    // State bound to the client and the user.
    let Decision::Challenge { state, .. } =
        f.ask("alice", PW.as_bytes(), AuthMode::Challenge).await
    else {
        panic!("expected a challenge");
    };
    let mut elsewhere = request("alice", f.code_now().as_bytes(), AuthMode::Challenge);
    elsewhere.state = Some(state);
    elsewhere.client = "another-nas".into();
    assert_eq!(
        reason(&f.ask_with(elsewhere).await),
        Some(RejectReason::BadState)
    );
    assert_eq!(CLIENT, "netscaler");
}

#[tokio::test]
async fn otp_only_mode_checks_the_code_alone() {
    let f = alice(|_| {}).await;
    assert!(accepted(
        &f.ask("alice", f.code_now().as_bytes(), AuthMode::OtpOnly)
            .await
    ));
    f.clock.advance(30);
    assert_eq!(
        reason(&f.ask("alice", b"12345", AuthMode::OtpOnly).await),
        Some(RejectReason::BadCode)
    );
}

#[tokio::test]
async fn hotp_look_ahead_and_resynchronisation() {
    let f = EngineFixture::new(|c| c.otp.hotp_look_ahead = 5).await;
    f.account("carol", PW).await;
    f.device("carol", Kind::Hotp).await;
    let code = |c: u64| otp::hotp(crate::common::fixture::SEED, c, 6, Algorithm::Sha1);
    assert!(accepted(&f.ask("carol", &typed(&code(0)), MODE).await));
    assert!(
        accepted(&f.ask("carol", &typed(&code(4)), MODE).await),
        "within look-ahead"
    );
    assert_eq!(
        reason(&f.ask("carol", &typed(&code(4)), MODE).await),
        Some(RejectReason::Replayed)
    );
    // Counter 30 is beyond the look-ahead: a challenge asks for the next code.
    let Decision::Challenge { state, .. } = f.ask("carol", &typed(&code(30)), MODE).await else {
        panic!("expected a resynchronisation challenge");
    };
    let mut next = request("carol", code(31).as_bytes(), MODE);
    next.state = Some(state);
    assert!(accepted(&f.ask_with(next).await));
    assert!(
        accepted(&f.ask("carol", &typed(&code(32)), MODE).await),
        "in step again"
    );
}

#[tokio::test]
async fn motp_tokens_within_three_minutes() {
    let f = EngineFixture::new(|_| {}).await;
    f.account("dave", PW).await;
    f.device("dave", Kind::Motp).await;
    let code_at = |t: i64| otp::motp_at(b"0123456789abcdef", b"1234", u64::try_from(t).unwrap());
    assert!(accepted(
        &f.ask("dave", &typed(&code_at(NOW - 170)), MODE).await
    ));
    assert_eq!(
        reason(&f.ask("dave", &typed(&code_at(NOW - 190)), MODE).await),
        Some(RejectReason::BadCode)
    );
    assert!(accepted(
        &f.ask("dave", &typed(&code_at(NOW + 100).to_uppercase()), MODE)
            .await
    ));
}

#[tokio::test]
async fn passwords_are_bytes_utf8_and_latin1() {
    let f = EngineFixture::new(|_| {}).await;
    f.account("erin", "護理師abc123").await;
    f.device("erin", Kind::Totp).await;
    let typed = format!("護理師abc123{}", f.code_now());
    assert!(accepted(&f.ask("erin", typed.as_bytes(), MODE).await));
    // A Latin-1 password ("pässwort1" as ISO-8859-1 bytes) verified against a hash of the same bytes.
    let latin1: Vec<u8> = b"p\xe4sswort1".to_vec();
    let hash = motpd::password::hash_password(&latin1).unwrap();
    f.account_with_hash("frank", Some(hash), AccountStatus::Active)
        .await;
    f.device("frank", Kind::Totp).await;
    f.clock.advance(30);
    let mut typed = latin1.clone();
    typed.extend_from_slice(f.code_now().as_bytes());
    assert!(accepted(&f.ask("frank", &typed, MODE).await));
}

#[tokio::test]
async fn legacy_hashes_are_upgraded_after_login() {
    let f = EngineFixture::new(|_| {}).await;
    // `openssl passwd -6 -salt saltsalt Passw0rd`
    let legacy = "$6$saltsalt$MaIx3.BSZhnkUYbnTBq7lviIBfA4YkzRbVGCFdOwzVJ2gBCSLfytJYAcA9MxV7Gfu.UUQUVzCYKeWSgSBF1Vl0";
    f.account_with_hash("gina", Some(legacy.into()), AccountStatus::Active)
        .await;
    f.device("gina", Kind::Totp).await;
    assert!(accepted(
        &f.ask("gina", format!("Passw0rd{}", f.code_now()).as_bytes(), MODE)
            .await
    ));
    let mut upgraded = false;
    for _ in 0..100 {
        let hash = f
            .store
            .account("gina")
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .unwrap();
        if hash.starts_with("$argon2id$") {
            upgraded = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(upgraded, "the sha-crypt hash was replaced by Argon2id");
}

/// On the serving store (the login cache over the SQLite hot-path thread), which writes an Accept's audit row
/// with its step: the engine audits it nowhere else.
#[tokio::test]
async fn every_decision_is_audited_without_secrets() {
    every_decision_is_audited_once(alice(|_| {}).await).await;
}

/// An Accept, the same code again (a replay), and an unknown account: three `radius.auth` rows in that order,
/// no password or code in them, and an intact chain.
async fn every_decision_is_audited_once(f: EngineFixture) {
    let code = f.code_now();
    f.ask("alice", &typed(&code), MODE).await;
    f.ask("alice", &typed(&code), MODE).await;
    f.ask("nobody", b"Secret99x123456", MODE).await;
    f.engine.flush_audit().await;
    let rows = f.store.audit_page(0, 100).await.unwrap();
    let auth: Vec<_> = rows
        .iter()
        .filter(|r| r.event.kind == "radius.auth")
        .collect();
    assert_eq!(auth.len(), 3);
    assert_eq!(auth[0].event.outcome, "accept");
    assert_eq!(auth[1].event.outcome, "reject");
    assert!(auth[1].event.detail.contains("replayed"));
    assert_eq!(auth[2].event.account_id, None);
    for row in &rows {
        assert!(
            !row.event.detail.contains(PW) && !row.event.detail.contains(&code),
            "{:?}",
            row.event
        );
        assert!(!row.event.detail.contains("Secret99"));
    }
    assert!(
        auth[0].event.detail.contains("203.0.113.7") && auth[0].event.detail.contains("10.0.0.10")
    );
    let chain = motpd::audit::AuditChain::keyring(f.key.clone());
    let mut verifier = ChainVerifier::new(&chain);
    for row in &rows {
        verifier.check(row).unwrap();
    }
}

#[tokio::test]
async fn a_store_failure_is_an_error_never_an_accept() {
    let f = alice(|_| {}).await;
    f.store.close().await;
    let result = f
        .engine
        .access(&request("alice", &typed(&f.code_now()), MODE))
        .await;
    assert!(result.is_err(), "{result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_sheds_password_checks_without_side_effects() {
    // Two hashing threads, ~25 ms per Argon2id check: 400 checks at once cannot all start within 2 s.
    let f = alice(|c| c.policy.lockout_failures = 1000).await;
    let requests = (0..400).map(|_| {
        let engine = f.engine.clone();
        tokio::spawn(async move {
            engine
                .access(&request("alice", b"Wrong99999123456", MODE))
                .await
        })
    });
    let mut shed = 0;
    let mut rejected = 0;
    for outcome in futures_join(requests).await {
        match outcome {
            Err(motpd::engine::EngineError::Overloaded) => shed += 1,
            Ok(decision) => {
                assert_eq!(reason(&decision), Some(RejectReason::BadPassword));
                rejected += 1;
            }
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    assert!(shed > 0 && rejected > 0, "shed {shed}, rejected {rejected}");
    let account = f.store.account("alice").await.unwrap().unwrap();
    assert_eq!(
        account.failures, rejected,
        "a shed request counts no failure"
    );
}

async fn futures_join<T>(handles: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for handle in handles.collect::<Vec<_>>() {
        out.push(handle.await.unwrap());
    }
    out
}

/// A seed mailed with `motpd invite --qr-in-mail` (its URI taken from the invitation instead of the mail): the
/// first correct code activates it in every RADIUS mode, and a wrong one does not.
#[tokio::test]
async fn a_mailed_seed_activates_at_its_first_vpn_login_in_every_mode() {
    use motpd::clock::Clock;
    use motpd::engine::EngineSettings;
    use motpd::engine::invitations::Invitations;

    let f = EngineFixture::new(|_| {}).await;
    let invitations = Invitations::new(
        &f.stores,
        f.key.clone(),
        std::sync::Arc::new(f.clock.clone()),
        EngineSettings::from_config(&f.config),
        72,
    );
    for (id, mode) in [
        ("pw", AuthMode::PasswordOtp),
        ("only", AuthMode::OtpOnly),
        ("chal", AuthMode::Challenge),
    ] {
        f.account(id, PW).await;
        let invitation = invitations.invite_with_seed(id, "cli:test").await.unwrap();
        let uri = invitation.mailed_uri.unwrap();
        let params = otp::parse_otpauth_uri(uri.expose()).unwrap();
        let seed = otp::parse_base32_seed(&params.secret_base32).unwrap();
        let code = |t: i64| {
            otp::totp_at(&seed, u64::try_from(t).unwrap(), 30, 6, Algorithm::Sha1).unwrap()
        };
        let typed = |code: &str| match mode {
            AuthMode::PasswordOtp => format!("{PW}{code}"),
            _ => code.to_owned(),
        };
        let ask = |code: String| {
            let f = &f;
            async move {
                if mode != AuthMode::Challenge {
                    return f.ask(id, typed(&code).as_bytes(), mode).await;
                }
                let Decision::Challenge { state, .. } = f.ask(id, PW.as_bytes(), mode).await else {
                    panic!("{id}: expected a challenge for the mailed device");
                };
                let mut answer = request(id, code.as_bytes(), mode);
                answer.state = Some(state);
                f.ask_with(answer).await
            }
        };
        let wrong = ask(code(f.clock.now() + 3600)).await;
        assert_eq!(reason(&wrong), Some(RejectReason::BadCode), "{id}");
        assert!(f.store.active_device(id).await.unwrap().is_none(), "{id}");
        let first = ask(code(f.clock.now())).await;
        assert!(accepted(&first), "{id}: {first:?}");
        let active = f.store.active_device(id).await.unwrap().unwrap();
        assert_eq!(active.label.as_deref(), Some("invitation"), "{id}");
        assert_eq!(
            reason(&ask(code(f.clock.now())).await),
            Some(RejectReason::Replayed),
            "{id}"
        );
    }
}
