//! The store contract of the lockout counters, run on the login path of every backend (SQLite in a file, and
//! PostgreSQL when `MOTPD_TEST_DATABASE_URL` is set; both behind the cache, as a node serves): attempts reserved before
//! comparing and refused at the threshold, the lock set at settlement, an expired lock and a stale count
//! restarting, the conditional success and accept, the web counter kept apart, and two nodes racing for the
//! last attempts (exactly the threshold is granted).

use std::sync::Arc;

use motpd::store::{AcceptedLogin, Counter, LockoutPolicy, LoginStore, Reservation, StoreError};
use tokio::sync::Barrier;

use crate::common::{Backend, NOW, account, device};

const POLICY: LockoutPolicy = LockoutPolicy {
    threshold: 3,
    lock_seconds: 60,
};

async fn reserve(backend: &Backend, counter: Counter, now: i64) -> Option<Reservation> {
    backend
        .logins
        .reserve_attempt(counter, "alice", now, POLICY)
        .await
        .unwrap()
}

fn granted(failures: u32) -> Option<Reservation> {
    Some(Reservation::Granted { failures })
}

fn refused(until: i64) -> Option<Reservation> {
    Some(Reservation::Refused { until })
}

async fn failures(backend: &Backend) -> (u32, Option<i64>) {
    let a = backend.store.account("alice").await.unwrap().unwrap();
    (a.failures, a.locked_until)
}

async fn attempts_are_counted_before_and_lock_at_settlement(backend: &Backend) {
    let (store, logins) = (&*backend.store, &*backend.logins);
    let ghost = logins
        .reserve_attempt(Counter::Vpn, "ghost", NOW, POLICY)
        .await
        .unwrap();
    assert_eq!(ghost, None);
    assert!(matches!(
        logins
            .settle_failure(Counter::Vpn, "ghost", NOW, POLICY)
            .await,
        Err(StoreError::NotFound(_))
    ));
    store.create_account(&account("alice"), NOW).await.unwrap();
    for n in 1..=3 {
        assert_eq!(reserve(backend, Counter::Vpn, NOW).await, granted(n));
    }
    // The count reached the threshold before anything settled: the next guess is not even evaluated.
    assert_eq!(
        reserve(backend, Counter::Vpn, NOW + 1).await,
        refused(NOW + 60)
    );
    assert_eq!(failures(backend).await, (3, None));
    // Settling does not count again; the one that finds the threshold reached locks.
    let state = logins
        .settle_failure(Counter::Vpn, "alice", NOW + 2, POLICY)
        .await
        .unwrap();
    assert_eq!((state.failures, state.locked_until), (3, Some(NOW + 62)));
    let again = logins
        .settle_failure(Counter::Vpn, "alice", NOW + 3, POLICY)
        .await
        .unwrap();
    assert_eq!(again.locked_until, Some(NOW + 62), "a running lock is kept");
    assert_eq!(
        reserve(backend, Counter::Vpn, NOW + 10).await,
        refused(NOW + 62)
    );
    assert!(
        !logins
            .settle_success(Counter::Vpn, "alice", NOW + 10)
            .await
            .unwrap(),
        "no success while locked"
    );
    // An expired lock restarts the count.
    assert_eq!(reserve(backend, Counter::Vpn, NOW + 62).await, granted(1));
    assert_eq!(failures(backend).await, (1, None));
    logins.release_attempt(Counter::Vpn, "alice").await.unwrap();
    logins.release_attempt(Counter::Vpn, "alice").await.unwrap();
    assert_eq!(failures(backend).await.0, 0, "never below 0");
    assert_eq!(reserve(backend, Counter::Vpn, NOW + 63).await, granted(1));
    assert!(
        logins
            .settle_success(Counter::Vpn, "alice", NOW + 63)
            .await
            .unwrap()
    );
    let a = store.account("alice").await.unwrap().unwrap();
    assert_eq!((a.failures, a.last_login_at), (0, Some(NOW + 63)));
    // An admin's lock refuses reservations and successes alike.
    store
        .lock_account("alice", i64::MAX, NOW + 64)
        .await
        .unwrap();
    assert_eq!(
        reserve(backend, Counter::Vpn, NOW + 65).await,
        refused(i64::MAX)
    );
    assert!(
        !logins
            .settle_success(Counter::Vpn, "alice", NOW + 65)
            .await
            .unwrap()
    );
}

async fn a_count_left_at_the_threshold_restarts_after_the_lock_time(backend: &Backend) {
    let (store, logins) = (&*backend.store, &*backend.logins);
    store.create_account(&account("alice"), NOW).await.unwrap();
    for _ in 0..3 {
        reserve(backend, Counter::Vpn, NOW).await;
    }
    // Never settled (the node stopped): refused for one lock time after the last attempt, not forever.
    assert_eq!(
        reserve(backend, Counter::Vpn, NOW + 59).await,
        refused(NOW + 60)
    );
    assert_eq!(reserve(backend, Counter::Vpn, NOW + 60).await, granted(1));
    // With no threshold nothing is ever refused.
    let open = LockoutPolicy {
        threshold: 0,
        lock_seconds: 60,
    };
    for n in 2..=6 {
        let r = logins
            .reserve_attempt(Counter::Vpn, "alice", NOW + 61, open)
            .await
            .unwrap();
        assert_eq!(r, granted(n));
    }
}

async fn the_web_counter_is_kept_apart(backend: &Backend) {
    let (store, logins) = (&*backend.store, &*backend.logins);
    store.create_account(&account("alice"), NOW).await.unwrap();
    reserve(backend, Counter::Vpn, NOW).await;
    for n in 1..=3 {
        assert_eq!(reserve(backend, Counter::Web, NOW).await, granted(n));
        logins
            .settle_failure(Counter::Web, "alice", NOW, POLICY)
            .await
            .unwrap();
    }
    assert_eq!(
        reserve(backend, Counter::Web, NOW + 1).await,
        refused(NOW + 60)
    );
    // The web lock is the pages' alone: the VPN counter is untouched and still open.
    assert_eq!(failures(backend).await, (1, None));
    assert_eq!(reserve(backend, Counter::Vpn, NOW + 1).await, granted(2));
    assert!(
        !logins
            .settle_success(Counter::Web, "alice", NOW + 2)
            .await
            .unwrap()
    );
    // After it, a web success clears the web counter and never the VPN's.
    assert_eq!(reserve(backend, Counter::Web, NOW + 60).await, granted(1));
    assert!(
        logins
            .settle_success(Counter::Web, "alice", NOW + 60)
            .await
            .unwrap()
    );
    assert_eq!(failures(backend).await, (2, None));
    // A VPN lock refuses the pages too; unlocking clears both counters.
    store
        .lock_account("alice", NOW + 600, NOW + 61)
        .await
        .unwrap();
    assert_eq!(
        reserve(backend, Counter::Web, NOW + 62).await,
        refused(NOW + 600)
    );
    store.unlock_account("alice", NOW + 63).await.unwrap();
    assert_eq!(failures(backend).await, (0, None));
    assert_eq!(reserve(backend, Counter::Web, NOW + 64).await, granted(1));
}

async fn an_accept_is_refused_while_the_account_is_locked(backend: &Backend) {
    let (store, logins) = (&*backend.store, &*backend.logins);
    store.create_account(&account("alice"), NOW).await.unwrap();
    store
        .bind_device(&device("d1", "alice"), false, NOW)
        .await
        .unwrap();
    let login = |step: i64, now: i64| AcceptedLogin {
        account_id: "alice".to_owned(),
        device_id: "d1".to_owned(),
        step,
        now,
        fingerprint: None,
        audit: None,
    };
    // The right code evaluated under a granted reservation, while the other guesses locked the account.
    for _ in 0..3 {
        reserve(backend, Counter::Vpn, NOW).await;
    }
    logins
        .settle_failure(Counter::Vpn, "alice", NOW, POLICY)
        .await
        .unwrap();
    assert!(
        !logins
            .record_accepted_login(login(10, NOW + 1))
            .await
            .unwrap()
    );
    let d = store.device("d1").await.unwrap().unwrap();
    assert_eq!(d.last_step, None, "the step stays unused");
    // Once the lock has expired the same code is accepted, and the accept clears the count.
    assert!(
        logins
            .record_accepted_login(login(10, NOW + 60))
            .await
            .unwrap()
    );
    assert_eq!(failures(backend).await.0, 0);
}

async fn racing_reservations_grant_exactly_the_threshold(backend: &Backend) {
    let (a, b) = backend.nodes().await;
    a.store
        .create_account(&account("alice"), NOW)
        .await
        .unwrap();
    let policy = LockoutPolicy {
        threshold: 10,
        lock_seconds: 600,
    };
    let barrier = Arc::new(Barrier::new(40));
    let tasks: Vec<_> = (0..40)
        .map(|n| {
            let logins = if n % 2 == 0 {
                a.logins.clone()
            } else {
                b.logins.clone()
            };
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                logins
                    .reserve_attempt(Counter::Vpn, "alice", NOW, policy)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut granted = 0;
    for task in tasks {
        if let Some(Reservation::Granted { .. }) = task.await.unwrap() {
            granted += 1;
        }
    }
    assert_eq!(granted, 10, "{}", backend.name);
    let account = b.store.account("alice").await.unwrap().unwrap();
    assert_eq!(account.failures, 10, "{}", backend.name);
    b.store.close().await;
}

async fn reservations_answer_one_after_the_other(backend: &Backend) {
    let (store, logins) = (&*backend.store, &*backend.logins);
    store.create_account(&account("alice"), NOW).await.unwrap();
    store.create_account(&account("bob"), NOW).await.unwrap();
    let mut answers = Vec::new();
    for id in ["bob", "alice", "nobody", "alice", "alice", "alice"] {
        let answer = logins.reserve_attempt(Counter::Vpn, id, NOW, POLICY).await;
        answers.push(answer.unwrap());
    }
    assert_eq!(
        answers,
        [
            granted(1),
            granted(1),
            None,
            granted(2),
            granted(3),
            refused(NOW + 60)
        ]
    );
    assert_eq!(failures(backend).await, (3, None));
}

macro_rules! on_every_backend {
    (backend: $($bname:ident),* $(,)?) => {
        mod on_every_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $bname() {
                    for backend in crate::common::store_backends().await {
                        eprintln!("-- {} on {}", stringify!($bname), backend.name);
                        super::$bname(&backend).await;
                    }
                }
            )*
        }
    };
}

on_every_backend!(
    backend:
        attempts_are_counted_before_and_lock_at_settlement,
        a_count_left_at_the_threshold_restarts_after_the_lock_time,
        the_web_counter_is_kept_apart,
        an_accept_is_refused_while_the_account_is_locked,
        reservations_answer_one_after_the_other,
        racing_reservations_grant_exactly_the_threshold,
);
