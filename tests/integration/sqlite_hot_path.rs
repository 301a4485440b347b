//! The SQLite serving hot path (`src/store/sqlite/hot.rs`: one thread, its own connection, group commit) beyond
//! the store contract, which every SQLite-file test already runs through it: a write that cannot be stored fails
//! alone instead of taking the other requests of its batch with it, and many concurrent logins of the same
//! device are accepted exactly once.

use std::sync::Arc;

use motpd::audit::AuditEvent;
use motpd::store::{AcceptedLogin, Store};

use crate::common::{self, NOW};

fn accepted(step: i64) -> AcceptedLogin {
    AcceptedLogin {
        account_id: "alice".to_owned(),
        device_id: "d1".to_owned(),
        step,
        now: NOW,
        fingerprint: Some(vec![0xab; 32]),
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
    let store = backend.store.clone();
    // The audit table is gone (a hand edit, a broken restore): every audit append fails from now on.
    assert!(backend.raw_execute("DROP TABLE audit_log").await);
    let event = AuditEvent::new(
        NOW,
        "radius.auth",
        "radius:test",
        Some("alice"),
        "accept",
        serde_json::json!({}),
    );
    // Handed in together, so they usually share a batch; the outcome must not depend on it.
    let login = [accepted(100)];
    let (won, audited) = tokio::join!(
        store.record_accepted_logins(&login),
        store.append_audit(std::slice::from_ref(&event))
    );
    assert_eq!(won.unwrap(), vec![true], "the login is stored");
    assert!(audited.is_err(), "the audit append fails");
    // Durable and guarded: the same step again is refused, by this store and by a second one on the file.
    assert_eq!(
        store.record_accepted_logins(&login).await.unwrap(),
        vec![false]
    );
    let (_, other) = backend.nodes().await;
    let device = other.active_device("alice").await.unwrap().unwrap();
    assert_eq!(device.last_step, Some(100));
    assert_eq!(device.last_use_fingerprint, Some(vec![0xab; 32]));
}

#[tokio::test]
async fn concurrent_logins_of_one_device_are_accepted_once_per_step() {
    let backend = site().await;
    let store: Arc<dyn Store> = backend.store.clone();
    let mut calls = tokio::task::JoinSet::new();
    // 50 steps, each sent 4 times, all at once.
    for step in 0..200 {
        let store = store.clone();
        calls.spawn(async move {
            let step = 1_000 + step / 4;
            let won = store.record_accepted_logins(&[accepted(step)]).await;
            (step, won.unwrap()[0])
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
