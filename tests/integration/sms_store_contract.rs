//! The store contract of SMS codes and their rate limits, run on every backend (SQLite in a file,
//! PostgreSQL when `MOTPD_TEST_DATABASE_URL` is set): limits checked and recorded atomically (two nodes
//! racing for one slot: one wins), the try counter, expiry, single use (two racing uses: one wins), replacement,
//! discarding after a failed send, the per-account switch, the limits per purpose; and the identity hashes,
//! helpdesk codes and SMS pauses of the account pages.

use std::sync::Arc;

use motpd::store::{NewSmsCode, SmsIssue, SmsLimits, SmsPurpose, Store, StoreError};
use tokio::sync::Barrier;

use crate::common::{Backend, NOW, account};

const LIMITS: SmsLimits = SmsLimits {
    min_interval_seconds: 60,
    max_per_window: 3,
    window_seconds: 86_400,
};

fn code(
    account_id: &str,
    phone: &str,
    purpose: SmsPurpose,
    hash_byte: u8,
    expires_at: i64,
) -> NewSmsCode {
    NewSmsCode {
        account_id: account_id.to_owned(),
        phone: phone.to_owned(),
        purpose,
        code_hash: vec![hash_byte; 32],
        expires_at,
    }
}

async fn issue(store: &dyn Store, c: &NewSmsCode, now: i64) -> SmsIssue {
    store.issue_sms_code(c, &LIMITS, now).await.unwrap()
}

async fn rate_limits_per_account_and_number(store: &dyn Store) {
    store.create_account(&account("alice"), NOW).await.unwrap();
    store.create_account(&account("bob"), NOW).await.unwrap();
    let login = |id: &str, phone: &str, b: u8| code(id, phone, SmsPurpose::Login, b, NOW + 10_000);
    assert_eq!(
        issue(store, &login("alice", "0912000001", 1), NOW).await,
        SmsIssue::Issued
    );
    // The interval holds for the account (another number) and for the number (another account).
    for (id, phone) in [("alice", "0912000009"), ("bob", "0912000001")] {
        assert_eq!(
            issue(store, &login(id, phone, 2), NOW + 59).await,
            SmsIssue::RateLimited {
                next_allowed_at: NOW + 60
            },
            "{id} {phone}"
        );
    }
    // A refused send recorded nothing: the next slot is still NOW + 60.
    assert_eq!(
        issue(store, &login("alice", "0912000001", 3), NOW + 60).await,
        SmsIssue::Issued
    );
    assert_eq!(
        issue(store, &login("alice", "0912000001", 4), NOW + 120).await,
        SmsIssue::Issued
    );
    // Three within 24 hours: the fourth waits until the first leaves the rolling window.
    assert_eq!(
        issue(store, &login("alice", "0912000001", 5), NOW + 1000).await,
        SmsIssue::RateLimited {
            next_allowed_at: NOW + 86_400
        }
    );
    // Another purpose has limits of its own: the account pages cannot use up the VPN login's quota.
    assert_eq!(
        issue(
            store,
            &code("alice", "0912000001", SmsPurpose::Reset, 6, NOW + 90_000),
            NOW + 1000
        )
        .await,
        SmsIssue::Issued
    );
    assert_eq!(
        issue(
            store,
            &code("alice", "0912000001", SmsPurpose::Reset, 6, NOW + 90_000),
            NOW + 1001
        )
        .await,
        SmsIssue::RateLimited {
            next_allowed_at: NOW + 1060
        }
    );
    // Bob on his own number is not affected.
    assert_eq!(
        issue(store, &login("bob", "0912000002", 7), NOW + 1000).await,
        SmsIssue::Issued
    );
    // The window rolls on: the limit resets.
    assert_eq!(
        issue(store, &login("alice", "0912000001", 8), NOW + 86_400).await,
        SmsIssue::Issued
    );
    // Purging old sends keeps the recent ones.
    store
        .purge_sms(NOW + 86_400, NOW + 86_400 - 86_400)
        .await
        .unwrap();
    assert_eq!(
        issue(store, &login("alice", "0912000001", 9), NOW + 86_410).await,
        SmsIssue::RateLimited {
            next_allowed_at: NOW + 86_460
        }
    );
    // Unknown accounts.
    match store
        .issue_sms_code(&login("nobody", "0912999999", 1), &LIMITS, NOW)
        .await
    {
        Err(StoreError::NotFound(m)) => assert_eq!(m, "account nobody"),
        other => panic!("{other:?}"),
    }
}

async fn attempts_are_counted_before_use_and_codes_are_single_use(store: &dyn Store) {
    store.create_account(&account("alice"), NOW).await.unwrap();
    let purpose = SmsPurpose::Activate;
    assert_eq!(
        store.count_sms_attempt("alice", purpose).await.unwrap(),
        None
    );
    issue(
        store,
        &code("alice", "0912345678", purpose, 1, NOW + 120),
        NOW,
    )
    .await;
    for n in 1..=3 {
        let attempt = store
            .count_sms_attempt("alice", purpose)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((attempt.attempts, attempt.expires_at), (n, NOW + 120));
        assert_eq!(attempt.code_hash, vec![1; 32]);
    }
    // Another purpose has no code.
    assert_eq!(
        store
            .count_sms_attempt("alice", SmsPurpose::Login)
            .await
            .unwrap(),
        None
    );
    // Over the limit of tries, expired, or another hash: not used.
    assert!(
        !store
            .consume_sms_code("alice", purpose, &[1; 32], 2, NOW + 1)
            .await
            .unwrap()
    );
    assert!(
        !store
            .consume_sms_code("alice", purpose, &[1; 32], 5, NOW + 120)
            .await
            .unwrap()
    );
    assert!(
        !store
            .consume_sms_code("alice", purpose, &[2; 32], 5, NOW + 1)
            .await
            .unwrap()
    );
    // Used once.
    assert!(
        store
            .consume_sms_code("alice", purpose, &[1; 32], 3, NOW + 119)
            .await
            .unwrap()
    );
    assert!(
        !store
            .consume_sms_code("alice", purpose, &[1; 32], 5, NOW + 119)
            .await
            .unwrap()
    );
    assert_eq!(
        store.count_sms_attempt("alice", purpose).await.unwrap(),
        None
    );
}

async fn new_codes_replace_and_failed_sends_are_discarded(store: &dyn Store) {
    store.create_account(&account("alice"), NOW).await.unwrap();
    let purpose = SmsPurpose::Reset;
    issue(
        store,
        &code("alice", "0912345678", purpose, 1, NOW + 120),
        NOW,
    )
    .await;
    store.count_sms_attempt("alice", purpose).await.unwrap();
    issue(
        store,
        &code("alice", "0912345678", purpose, 2, NOW + 200),
        NOW + 60,
    )
    .await;
    // The earlier code stopped working; the new one starts with no tries.
    assert!(
        !store
            .consume_sms_code("alice", purpose, &[1; 32], 5, NOW + 61)
            .await
            .unwrap()
    );
    let attempt = store
        .count_sms_attempt("alice", purpose)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((attempt.code_hash, attempt.attempts), (vec![2; 32], 1));
    // Discarding only removes the code it names.
    assert!(
        !store
            .discard_sms_code("alice", purpose, &[1; 32])
            .await
            .unwrap()
    );
    assert!(
        store
            .discard_sms_code("alice", purpose, &[2; 32])
            .await
            .unwrap()
    );
    assert_eq!(
        store.count_sms_attempt("alice", purpose).await.unwrap(),
        None
    );
    // The discarded send still counts for the limits.
    assert!(matches!(
        issue(
            store,
            &code("alice", "0912345678", purpose, 3, NOW + 300),
            NOW + 100
        )
        .await,
        SmsIssue::RateLimited { .. }
    ));
    // Expired codes are purged; removing the account removes its codes.
    issue(
        store,
        &code("alice", "0912345678", purpose, 4, NOW + 300),
        NOW + 120,
    )
    .await;
    assert_eq!(store.purge_sms(NOW + 299, 0).await.unwrap(), 0);
    assert_eq!(store.purge_sms(NOW + 300, 0).await.unwrap(), 1);
    issue(
        store,
        &code("alice", "0912345678", purpose, 5, NOW + 400),
        NOW + 180,
    )
    .await;
    assert!(store.remove_account("alice").await.unwrap());
    assert_eq!(
        store.count_sms_attempt("alice", purpose).await.unwrap(),
        None
    );
}

async fn the_fallback_switch_is_stored(store: &dyn Store) {
    store.create_account(&account("alice"), NOW).await.unwrap();
    assert_eq!(
        store.account("alice").await.unwrap().unwrap().sms_fallback,
        None
    );
    for value in [Some(false), Some(true), None] {
        store
            .set_sms_fallback("alice", value, NOW + 1)
            .await
            .unwrap();
        let stored = store.account("alice").await.unwrap().unwrap();
        assert_eq!((stored.sms_fallback, stored.updated_at), (value, NOW + 1));
    }
    assert!(matches!(
        store.set_sms_fallback("nobody", Some(true), NOW).await,
        Err(StoreError::NotFound(_))
    ));
}

/// Runs `op` on both nodes at once; returns their results.
async fn identities_helpdesk_codes_and_sms_pauses_are_stored(store: &dyn Store) {
    store.create_account(&account("alice"), NOW).await.unwrap();
    // Identity: none, set, replaced, cleared.
    assert_eq!(store.identity_hash("alice").await.unwrap(), None);
    store
        .set_identity_hash("alice", Some(&[1; 32]), NOW)
        .await
        .unwrap();
    store
        .set_identity_hash("alice", Some(&[2; 32]), NOW)
        .await
        .unwrap();
    assert_eq!(
        store.identity_hash("alice").await.unwrap(),
        Some(vec![2; 32])
    );
    // The pause never shortens, and does not touch the identity.
    assert_eq!(store.sms_paused_until("alice").await.unwrap(), None);
    store
        .pause_sms_fallback("alice", NOW + 100, NOW)
        .await
        .unwrap();
    store
        .pause_sms_fallback("alice", NOW + 50, NOW)
        .await
        .unwrap();
    assert_eq!(
        store.sms_paused_until("alice").await.unwrap(),
        Some(NOW + 100)
    );
    store
        .pause_sms_fallback("alice", NOW + 200, NOW)
        .await
        .unwrap();
    assert_eq!(
        store.sms_paused_until("alice").await.unwrap(),
        Some(NOW + 200)
    );
    assert_eq!(
        store.identity_hash("alice").await.unwrap(),
        Some(vec![2; 32])
    );
    // A helpdesk code: taken once with its hash, before it expires; a new one replaces the old.
    store
        .set_helpdesk_code("alice", &[3; 32], NOW + 10, NOW)
        .await
        .unwrap();
    assert!(
        !store
            .take_helpdesk_code("alice", &[4; 32], NOW)
            .await
            .unwrap()
    );
    assert!(
        store
            .take_helpdesk_code("alice", &[3; 32], NOW)
            .await
            .unwrap()
    );
    assert!(
        !store
            .take_helpdesk_code("alice", &[3; 32], NOW)
            .await
            .unwrap()
    );
    store
        .set_helpdesk_code("alice", &[5; 32], NOW + 10, NOW)
        .await
        .unwrap();
    store
        .set_helpdesk_code("alice", &[6; 32], NOW + 10, NOW)
        .await
        .unwrap();
    assert!(
        !store
            .take_helpdesk_code("alice", &[5; 32], NOW)
            .await
            .unwrap()
    );
    assert!(
        !store
            .take_helpdesk_code("alice", &[6; 32], NOW + 10)
            .await
            .unwrap()
    );
    store.set_identity_hash("alice", None, NOW).await.unwrap();
    assert_eq!(store.identity_hash("alice").await.unwrap(), None);
    // Unknown accounts; removing the account removes its row.
    for result in [
        store.set_identity_hash("nobody", Some(&[1; 32]), NOW).await,
        store.set_helpdesk_code("nobody", &[1; 32], NOW, NOW).await,
        store.pause_sms_fallback("nobody", NOW, NOW).await,
    ] {
        assert!(matches!(result, Err(StoreError::NotFound(_))), "{result:?}");
    }
    assert!(store.remove_account("alice").await.unwrap());
    store.create_account(&account("alice"), NOW).await.unwrap();
    assert_eq!(store.sms_paused_until("alice").await.unwrap(), None);
}

async fn race<T, F, Fut>(a: &Arc<dyn Store>, b: &Arc<dyn Store>, op: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize, Arc<dyn Store>) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(2));
    let tasks = [(0, a.clone()), (1, b.clone())].map(|(node, store)| {
        let (barrier, op) = (barrier.clone(), op.clone());
        tokio::spawn(async move {
            barrier.wait().await;
            op(node, store).await
        })
    });
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

async fn racing_sends_pass_a_limit_once(backend: &Backend) {
    let (a, b) = backend.nodes().await;
    let (a, b) = (a.store, b.store);
    a.create_account(&account("alice"), NOW).await.unwrap();
    for round in 0..10i64 {
        let now = NOW + round * 100;
        let results = race(&a, &b, move |node, store| async move {
            let c = code(
                "alice",
                "0912345678",
                SmsPurpose::Login,
                node as u8 + 1,
                now + 120,
            );
            store
                .issue_sms_code(
                    &c,
                    &SmsLimits {
                        max_per_window: 100,
                        ..LIMITS
                    },
                    now,
                )
                .await
                .unwrap()
        })
        .await;
        let issued = results.iter().filter(|r| **r == SmsIssue::Issued).count();
        assert_eq!(issued, 1, "{}: {results:?}", backend.name);
    }
    b.close().await;
}

async fn racing_right_codes_are_valid_once(backend: &Backend) {
    let (a, b) = backend.nodes().await;
    let (a, b) = (a.store, b.store);
    a.create_account(&account("alice"), NOW).await.unwrap();
    for round in 0..10i64 {
        let now = NOW + round * 100;
        a.issue_sms_code(
            &code("alice", "0912345678", SmsPurpose::Login, 9, now + 120),
            &SmsLimits {
                max_per_window: 100,
                ..LIMITS
            },
            now,
        )
        .await
        .unwrap();
        let wins = race(&a, &b, move |_, store| async move {
            // The other node may already have used the code up (then there is nothing to count).
            if store
                .count_sms_attempt("alice", SmsPurpose::Login)
                .await
                .unwrap()
                .is_none()
            {
                return false;
            }
            store
                .consume_sms_code("alice", SmsPurpose::Login, &[9; 32], 5, now + 1)
                .await
                .unwrap()
        })
        .await;
        assert_eq!(
            wins.iter().filter(|w| **w).count(),
            1,
            "{}: {wins:?}",
            backend.name
        );
    }
    b.close().await;
}

macro_rules! on_every_backend {
    (store: $($name:ident),* ; backend: $($bname:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                for backend in store_backends().await {
                    eprintln!("-- {} on {}", stringify!($name), backend.name);
                    super::$name(&*backend.store).await;
                }
            }
        )*
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $bname() {
                for backend in store_backends().await {
                    eprintln!("-- {} on {}", stringify!($bname), backend.name);
                    super::$bname(&backend).await;
                }
            }
        )*
    };
}

mod on_every_backend {
    use crate::common::store_backends;

    on_every_backend!(
        store:
            rate_limits_per_account_and_number,
            attempts_are_counted_before_use_and_codes_are_single_use,
            new_codes_replace_and_failed_sends_are_discarded,
            the_fallback_switch_is_stored,
            identities_helpdesk_codes_and_sms_pauses_are_stored;
        backend:
            racing_sends_pass_a_limit_once,
            racing_right_codes_are_valid_once,
    );
}
