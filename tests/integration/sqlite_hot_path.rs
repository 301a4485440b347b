//! The SQLite serving hot path (`src/store/sqlite/hot.rs`: one thread, its own connection, group commit) beyond
//! the store contract, whose login-path tests already run through it (behind the cache): a write that cannot be stored fails
//! alone instead of taking the other requests of its batch with it, many concurrent logins of the same device
//! are accepted exactly once, and an accepted login's audit row is stored in the transaction of its step (or
//! neither is).

use motpd::audit::AuditEvent;
use motpd::store::{AcceptedLogin, LoginStore};

use crate::common::{self, NOW};

fn accepted(step: i64) -> AcceptedLogin {
    AcceptedLogin {
        account_id: "alice".to_owned(),
        device_id: "d1".to_owned(),
        step,
        now: NOW,
        fingerprint: Some(vec![0xab; 32]),
        audit: None,
    }
}

/// The audit row of an Accept for alice.
fn accept_event(detail: serde_json::Value) -> AuditEvent {
    AuditEvent::new(
        NOW,
        "radius.auth",
        "radius:test",
        Some("alice"),
        "accept",
        detail,
    )
}

/// A login of `step` that carries its audit row (the step in the row's detail).
fn audited(step: i64) -> AcceptedLogin {
    AcceptedLogin {
        audit: Some(accept_event(serde_json::json!({ "step": step }))),
        ..accepted(step)
    }
}

async fn site() -> common::Backend {
    let backend = common::sqlite_file().await;
    let store = &backend.store;
    store
        .create_account(&common::account("alice"), NOW)
        .await
        .unwrap();
    store
        .bind_device(&common::device("d1", "alice"), false, NOW)
        .await
        .unwrap();
    backend
}

#[tokio::test]
async fn a_write_that_cannot_be_stored_fails_alone() {
    let backend = site().await;
    let logins = backend.logins.clone();
    // The audit table is gone (a hand edit, a broken restore): every audit append fails from now on.
    assert!(backend.raw_execute("DROP TABLE audit_log").await);
    let event = accept_event(serde_json::json!({}));
    // Handed in together, so they usually share a batch; the outcome must not depend on it.
    let (won, audited) = tokio::join!(
        logins.record_accepted_login(accepted(100)),
        logins.append_audit(vec![event])
    );
    assert!(won.unwrap(), "the login is stored");
    assert!(audited.is_err(), "the audit append fails");
    // Durable and guarded: the same step again is refused, by this store and by a second one on the file.
    assert!(!logins.record_accepted_login(accepted(100)).await.unwrap());
    let (_, other) = backend.nodes().await;
    let device = other.store.active_device("alice").await.unwrap().unwrap();
    assert_eq!(device.last_step, Some(100));
    assert_eq!(device.last_use_fingerprint, Some(vec![0xab; 32]));
}

#[tokio::test]
async fn concurrent_logins_of_one_device_are_accepted_once_per_step() {
    let backend = site().await;
    let store = backend.store.clone();
    let mut calls = tokio::task::JoinSet::new();
    // 50 steps, each sent 4 times, all at once.
    for step in 0..200 {
        let logins = backend.logins.clone();
        calls.spawn(async move {
            let step = 1_000 + step / 4;
            let won = logins.record_accepted_login(accepted(step)).await;
            (step, won.unwrap())
        });
    }
    let mut accepted_steps = Vec::new();
    while let Some(done) = calls.join_next().await {
        let (step, won) = done.unwrap();
        if won {
            accepted_steps.push(step);
        }
    }
    accepted_steps.sort_unstable();
    let mut distinct = accepted_steps.clone();
    distinct.dedup();
    assert_eq!(accepted_steps, distinct, "no step accepted twice");
    // Steps only go forward: whatever was accepted last is the stored one.
    let last = store
        .active_device("alice")
        .await
        .unwrap()
        .unwrap()
        .last_step;
    assert_eq!(last, accepted_steps.last().copied());
}

/// A login that carries its audit row: the row is appended in the transaction of the step, only if the step
/// wins, and the chain stays intact with other appends between.
#[tokio::test]
async fn an_accepted_logins_audit_row_is_stored_with_its_step_and_only_if_it_wins() {
    let backend = site().await;
    let (store, logins) = (&backend.store, &backend.logins);
    let other = AuditEvent::new(
        NOW,
        "admin.user.set",
        "cli",
        Some("bob"),
        "ok",
        serde_json::json!({}),
    );
    // One login after the other, while another event is appended through the same thread.
    let in_order = async {
        let mut won = Vec::new();
        for step in [100, 100, 99, 101] {
            won.push(logins.record_accepted_login(audited(step)).await.unwrap());
        }
        won
    };
    let (won, appended) = tokio::join!(in_order, logins.append_audit(vec![other]));
    assert_eq!(won, vec![true, false, false, true]);
    appended.unwrap();
    let rows = store.audit_page(0, 100).await.unwrap();
    let steps: Vec<&str> = rows
        .iter()
        .filter(|r| r.event.kind == "radius.auth")
        .map(|r| r.event.detail.as_str())
        .collect();
    assert_eq!(
        steps,
        [r#"{"step":100}"#, r#"{"step":101}"#],
        "one row per winning login"
    );
    assert_eq!(rows.len(), 3);
    let chain = common::test_chain();
    let mut verifier = motpd::audit::ChainVerifier::new(&chain);
    for row in &rows {
        verifier.check(row).unwrap();
    }
}

/// The audit row is part of the login: if it cannot be stored, the step is not recorded either (no Accept
/// goes out without its audit row), and the code stays unused.
#[tokio::test]
async fn a_login_whose_audit_row_cannot_be_stored_is_not_recorded() {
    let backend = site().await;
    let store = &backend.store;
    assert!(backend.raw_execute("DROP TABLE audit_log").await);
    assert!(
        backend
            .logins
            .record_accepted_login(audited(100))
            .await
            .is_err()
    );
    let device = store.active_device("alice").await.unwrap().unwrap();
    assert_eq!(
        device.last_step, None,
        "the step was rolled back with the audit row"
    );
}
