//! The store contract: every behaviour of [`Store`] and of the login path ([`LoginStore`]) written once and run
//! on every backend (SQLite in a file, and PostgreSQL when `MOTPD_TEST_DATABASE_URL` is set), each opened as a
//! serving node opens it (the login path behind the cache).
//!
//! Each behaviour is an `async fn` taking the store (or the [`Backend`] when it needs the login path, a second
//! node or a raw connection); the `contract!` list at the bottom turns each into a test that runs it on all
//! backends.

use std::sync::Arc;
use std::time::{Duration, Instant};

use motpd::audit::{AuditBreak, AuditEvent, AuditRecord, ChainVerifier};
use motpd::config::AuthMode;
use motpd::otp::Kind;
use motpd::store::{
    self, AcceptedLogin, AccountFilter, AccountOverview, AccountStatus, AccountUpsert,
    AccountingEntry, AuditFilter, ChallengePurpose, DeviceState, ImportSummary, LoginStore,
    NewChallenge, NewWebSession, RadiusClient, Store, StoreError,
};
use tokio::sync::Barrier;

use crate::common::{self, Backend, NOW, account, client, device, test_chain};

async fn key_check_is_stored_once(store: &dyn Store) {
    assert_eq!(store.ensure_key_check(b"first").await.unwrap(), b"first");
    assert_eq!(store.ensure_key_check(b"second").await.unwrap(), b"first");
}

async fn accounts_are_created_once(store: &dyn Store) {
    let alice = account("alice");
    store.create_account(&alice, NOW).await.unwrap();
    let stored = store.account("alice").await.unwrap().unwrap();
    assert_eq!(stored.id, "alice");
    assert_eq!(stored.name, alice.name);
    assert_eq!(stored.phone, alice.phone);
    assert_eq!(stored.email, alice.email);
    assert_eq!(stored.password_hash, alice.password_hash);
    assert_eq!(stored.status, AccountStatus::Active);
    assert_eq!(stored.expires_on, alice.expires_on);
    assert_eq!(stored.groups, alice.groups);
    assert_eq!(
        (stored.failures, stored.locked_until, stored.last_login_at),
        (0, None, None)
    );
    assert_eq!((stored.created_at, stored.updated_at), (NOW, NOW));

    match store.create_account(&alice, NOW + 1).await {
        Err(StoreError::Conflict(m)) => assert_eq!(m, "account alice already exists"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(store.account("nobody").await.unwrap(), None);

    // Optional fields really are optional.
    let bare = AccountUpsert {
        phone: None,
        email: None,
        expires_on: None,
        groups: vec![],
        password_hash: None,
        status: AccountStatus::Pending,
        ..account("bare")
    };
    store.create_account(&bare, NOW).await.unwrap();
    let stored = store.account("bare").await.unwrap().unwrap();
    assert_eq!(
        (stored.phone, stored.expires_on, stored.password_hash),
        (None, None, None)
    );
    assert_eq!(
        (stored.groups.len(), stored.status),
        (0, AccountStatus::Pending)
    );
}

async fn import_creates_updates_and_keeps_hashes(store: &dyn Store) {
    store.create_account(&account("alice"), NOW).await.unwrap();
    let alice_hash = account("alice").password_hash;
    let changed_alice = AccountUpsert {
        name: "Alice Renamed".into(),
        phone: None,
        groups: vec!["vendors".into()],
        password_hash: None,
        status: AccountStatus::Disabled,
        ..account("alice")
    };
    let summary = store
        .import_accounts(&[changed_alice, account("bob")], NOW + 60)
        .await
        .unwrap();
    assert_eq!(
        summary,
        ImportSummary {
            created: 1,
            updated: 1
        }
    );

    let alice = store.account("alice").await.unwrap().unwrap();
    assert_eq!(alice.name, "Alice Renamed");
    assert_eq!(alice.phone, None);
    assert_eq!(alice.groups, vec!["vendors".to_owned()]);
    assert_eq!(
        alice.password_hash, alice_hash,
        "a missing hash keeps the stored one"
    );
    assert_eq!(
        alice.status,
        AccountStatus::Active,
        "an import keeps the stored status"
    );
    assert_eq!((alice.created_at, alice.updated_at), (NOW, NOW + 60));
    let bob = store.account("bob").await.unwrap().unwrap();
    assert_eq!(
        (bob.password_hash, bob.created_at),
        (account("bob").password_hash, NOW + 60)
    );

    let new_hash = AccountUpsert {
        password_hash: Some("$6$new".into()),
        ..account("alice")
    };
    let summary = store.import_accounts(&[new_hash], NOW + 120).await.unwrap();
    assert_eq!(
        summary,
        ImportSummary {
            created: 0,
            updated: 1
        }
    );
    let alice = store.account("alice").await.unwrap().unwrap();
    assert_eq!(alice.password_hash.as_deref(), Some("$6$new"));
    assert_eq!(
        store.import_accounts(&[], NOW).await.unwrap(),
        ImportSummary::default()
    );
}

async fn import_is_all_or_nothing(store: &dyn Store) {
    store.create_account(&account("alice"), NOW).await.unwrap();
    let before = store.account("alice").await.unwrap();
    let renamed = AccountUpsert {
        name: "Changed".into(),
        ..account("alice")
    };

    // An empty ID breaks a CHECK constraint in the middle of the batch.
    let bad_row = AccountUpsert {
        id: String::new(),
        ..account("x")
    };
    let result = store
        .import_accounts(
            &[account("carol"), renamed.clone(), bad_row, account("dave")],
            NOW + 1,
        )
        .await;
    assert!(result.is_err(), "{result:?}");

    // The same account twice is refused as a whole.
    let result = store
        .import_accounts(&[account("erin"), renamed, account("erin")], NOW + 1)
        .await;
    assert!(
        matches!(&result, Err(StoreError::Conflict(m)) if m.contains("erin")),
        "{result:?}"
    );

    for absent in ["carol", "dave", "erin"] {
        assert_eq!(store.account(absent).await.unwrap(), None, "{absent}");
    }
    assert_eq!(store.account("alice").await.unwrap(), before);
}

async fn import_of_ten_thousand_accounts(backend: &Backend) {
    let store = &*backend.store;
    let accounts: Vec<AccountUpsert> = (0..10_000)
        .map(|i| account(&format!("user{i:05}")))
        .collect();
    let started = Instant::now();
    let summary = store.import_accounts(&accounts, NOW).await.unwrap();
    let first = started.elapsed();
    assert_eq!(
        summary,
        ImportSummary {
            created: 10_000,
            updated: 0
        }
    );
    let started = Instant::now();
    let summary = store.import_accounts(&accounts, NOW + 1).await.unwrap();
    let second = started.elapsed();
    assert_eq!(
        summary,
        ImportSummary {
            created: 0,
            updated: 10_000
        }
    );
    eprintln!(
        "{}: import of 10,000 accounts: {first:?} (all new), {second:?} (all updates)",
        backend.name
    );
    assert!(first < Duration::from_secs(10) && second < Duration::from_secs(10));
    assert_eq!(
        store
            .list_accounts(AccountFilter::default())
            .await
            .unwrap()
            .len(),
        10_000
    );
}

async fn status_password_lock_and_removal(store: &dyn Store) {
    store.create_account(&account("alice"), NOW).await.unwrap();
    store
        .set_account_status("alice", AccountStatus::Disabled, NOW + 1)
        .await
        .unwrap();
    let a = store.account("alice").await.unwrap().unwrap();
    assert_eq!((a.status, a.updated_at), (AccountStatus::Disabled, NOW + 1));

    store.record_failure("alice", NOW, 10, 60).await.unwrap();
    store
        .set_password_hash("alice", "$argon2id$new", NOW + 2)
        .await
        .unwrap();
    let a = store.account("alice").await.unwrap().unwrap();
    assert_eq!(
        (a.password_hash.as_deref(), a.failures),
        (Some("$argon2id$new"), 0)
    );

    store
        .lock_account("alice", i64::MAX, NOW + 3)
        .await
        .unwrap();
    store
        .record_failure("alice", NOW + 4, 10, 60)
        .await
        .unwrap();
    let a = store.account("alice").await.unwrap().unwrap();
    assert_eq!((a.locked_until, a.failures), (Some(i64::MAX), 1));
    store.unlock_account("alice", NOW + 5).await.unwrap();
    let a = store.account("alice").await.unwrap().unwrap();
    assert_eq!(
        (a.locked_until, a.failures, a.updated_at),
        (None, 0, NOW + 5)
    );

    for result in [
        store
            .set_account_status("ghost", AccountStatus::Active, NOW)
            .await,
        store.set_password_hash("ghost", "h", NOW).await,
        store.lock_account("ghost", NOW, NOW).await,
        store.unlock_account("ghost", NOW).await,
        store.record_success("ghost", NOW).await,
        store.record_failure("ghost", NOW, 3, 60).await.map(|_| ()),
    ] {
        assert!(
            matches!(&result, Err(StoreError::NotFound(m)) if m == "account ghost"),
            "{result:?}"
        );
    }

    store
        .bind_device(&device("d1", "alice"), false, NOW)
        .await
        .unwrap();
    assert!(store.remove_account("alice").await.unwrap());
    assert_eq!(store.account("alice").await.unwrap(), None);
    assert_eq!(
        store.device("d1").await.unwrap(),
        None,
        "devices go with their account"
    );
    assert!(!store.remove_account("alice").await.unwrap());
}

async fn failures_count_lock_and_restart(store: &dyn Store) {
    store.create_account(&account("alice"), NOW).await.unwrap();
    let fail = |at: i64| store.record_failure("alice", at, 3, 900);
    assert_eq!(fail(NOW).await.unwrap().failures, 1);
    let second = fail(NOW + 1).await.unwrap();
    assert_eq!((second.failures, second.locked_until), (2, None));
    let third = fail(NOW + 2).await.unwrap();
    assert_eq!(
        (third.failures, third.locked_until),
        (3, Some(NOW + 2 + 900))
    );
    // While locked, failures still count but the lock is not extended.
    let fourth = fail(NOW + 10).await.unwrap();
    assert_eq!((fourth.failures, fourth.locked_until), (4, Some(NOW + 902)));
    let stored = store.account("alice").await.unwrap().unwrap();
    assert_eq!((stored.failures, stored.locked_until), (4, Some(NOW + 902)));
    // Once the lock has expired the count starts again.
    let after = fail(NOW + 902).await.unwrap();
    assert_eq!((after.failures, after.locked_until), (1, None));

    store.record_success("alice", NOW + 1000).await.unwrap();
    let a = store.account("alice").await.unwrap().unwrap();
    assert_eq!(
        (a.failures, a.locked_until, a.last_login_at),
        (0, None, Some(NOW + 1000))
    );
    // A lock still running at the success (an admin's, set after the login checked) is kept; an expired one
    // is cleared.
    store
        .lock_account("alice", NOW + 5000, NOW + 1000)
        .await
        .unwrap();
    store.record_success("alice", NOW + 1001).await.unwrap();
    let a = store.account("alice").await.unwrap().unwrap();
    assert_eq!((a.failures, a.locked_until), (0, Some(NOW + 5000)));
    store.record_success("alice", NOW + 5000).await.unwrap();
    let a = store.account("alice").await.unwrap().unwrap();
    assert_eq!(a.locked_until, None);
    // A password checked on the enrollment pages clears failures, not the last (VPN) login time; a running lock
    // stays.
    fail(NOW + 5001).await.unwrap();
    store
        .lock_account("alice", NOW + 9000, NOW + 5001)
        .await
        .unwrap();
    store.clear_failures("alice", NOW + 5002).await.unwrap();
    let a = store.account("alice").await.unwrap().unwrap();
    assert_eq!(
        (a.failures, a.locked_until, a.last_login_at),
        (0, Some(NOW + 9000), Some(NOW + 5000))
    );
    store.unlock_account("alice", NOW + 1000).await.unwrap();

    // A threshold of 1 locks at the first failure; 0 never locks.
    let one = store
        .record_failure("alice", NOW + 1001, 1, 60)
        .await
        .unwrap();
    assert_eq!((one.failures, one.locked_until), (1, Some(NOW + 1061)));
    store.unlock_account("alice", NOW + 1002).await.unwrap();
    for n in 1..=5 {
        let s = store
            .record_failure("alice", NOW + 1003, 0, 60)
            .await
            .unwrap();
        assert_eq!((s.failures, s.locked_until), (n, None));
    }
}

async fn bind_device_conflicts_and_replaces(store: &dyn Store) {
    store.create_account(&account("alice"), NOW).await.unwrap();
    let mut d1 = device("d1", "alice");
    d1.kind = Kind::Motp;
    d1.sealed_pin = Some(b"sealed pin".to_vec());
    d1.last_step = Some(41);
    store.bind_device(&d1, false, NOW).await.unwrap();
    let stored = store.active_device("alice").await.unwrap().unwrap();
    assert_eq!(stored.id, "d1");
    assert_eq!((stored.kind, stored.algorithm), (d1.kind, d1.algorithm));
    assert_eq!((stored.digits, stored.period), (6, 30));
    assert_eq!(
        (stored.sealed_seed, stored.sealed_pin),
        (d1.sealed_seed.clone(), d1.sealed_pin.clone())
    );
    assert_eq!(
        (stored.last_step, stored.label),
        (Some(41), d1.label.clone())
    );
    assert_eq!(stored.state, DeviceState::Active);
    assert_eq!(
        (stored.created_at, stored.confirmed_at, stored.last_used_at),
        (NOW, Some(NOW), None)
    );

    match store.bind_device(&device("d2", "alice"), false, NOW).await {
        Err(StoreError::Conflict(m)) => {
            assert!(m.contains("alice already has an active device"), "{m}");
            assert!(m.contains("motpd device reset alice"), "{m}");
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    store
        .bind_device(&device("d2", "alice"), true, NOW + 5)
        .await
        .unwrap();
    assert_eq!(
        store.active_device("alice").await.unwrap().unwrap().id,
        "d2"
    );
    assert_eq!(store.device("d1").await.unwrap(), None);

    let orphan = store.bind_device(&device("d3", "ghost"), false, NOW).await;
    assert!(matches!(orphan, Err(StoreError::NotFound(_))), "{orphan:?}");
    assert_eq!(store.reset_devices("alice").await.unwrap(), 1);
    assert_eq!(store.active_device("alice").await.unwrap(), None);
    assert_eq!(store.reset_devices("alice").await.unwrap(), 0);
}

async fn bind_devices_is_all_or_nothing(store: &dyn Store) {
    for id in ["alice", "bob", "carol", "dave", "erin"] {
        store.create_account(&account(id), NOW).await.unwrap();
    }
    store
        .bind_device(&device("c0", "carol"), false, NOW)
        .await
        .unwrap();
    store
        .begin_enrollment(&device("p0", "dave"), NOW)
        .await
        .unwrap();
    assert_eq!(store.bind_devices(&[], false, NOW).await.unwrap(), 0);

    // Each refusal names the account and binds nothing.
    let a1 = device("a1", "alice");
    match store
        .bind_devices(&[a1.clone(), device("c1", "carol")], false, NOW)
        .await
    {
        Err(StoreError::Conflict(m)) => {
            assert!(m.contains("carol already has an active device"), "{m}");
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    let twice = [a1.clone(), device("b1", "bob"), device("a2", "alice")];
    match store.bind_devices(&twice, false, NOW).await {
        Err(StoreError::Conflict(m)) => assert!(m.contains("account alice appears more"), "{m}"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    match store
        .bind_devices(&[a1.clone(), device("g1", "ghost")], false, NOW)
        .await
    {
        Err(StoreError::NotFound(m)) => assert!(m.contains("ghost"), "{m}"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    for id in ["a1", "b1", "c1", "g1"] {
        assert_eq!(store.device(id).await.unwrap(), None, "{id}");
    }

    // A clean batch: every device active from `now`, as given; pending devices are left alone.
    let mut b1 = device("b1", "bob");
    b1.kind = Kind::Hotp;
    b1.last_step = Some(4);
    let mut d1 = device("d1", "dave");
    d1.kind = Kind::Motp;
    d1.sealed_pin = Some(b"sealed pin".to_vec());
    let batch = [a1.clone(), b1.clone(), d1.clone()];
    assert_eq!(store.bind_devices(&batch, false, NOW + 1).await.unwrap(), 3);
    for new in &batch {
        let stored = store.active_device(&new.account_id).await.unwrap().unwrap();
        assert_eq!(stored.id, new.id);
        assert_eq!((stored.kind, stored.algorithm), (new.kind, new.algorithm));
        assert_eq!((stored.digits, stored.period), (new.digits, new.period));
        assert_eq!(
            (&stored.sealed_seed, &stored.sealed_pin),
            (&new.sealed_seed, &new.sealed_pin)
        );
        assert_eq!(
            (stored.last_step, &stored.label),
            (new.last_step, &new.label)
        );
        assert_eq!(
            (stored.created_at, stored.confirmed_at, stored.last_used_at),
            (NOW + 1, Some(NOW + 1), None)
        );
    }
    let pending = store.device("p0").await.unwrap().unwrap();
    assert_eq!(pending.state, DeviceState::Pending);

    // With replace, every other device of those accounts goes, pending ones included.
    let replacing = [
        device("a2", "alice"),
        device("c2", "carol"),
        device("d2", "dave"),
    ];
    assert_eq!(
        store.bind_devices(&replacing, true, NOW + 2).await.unwrap(),
        3
    );
    for (account_id, id) in [
        ("alice", "a2"),
        ("bob", "b1"),
        ("carol", "c2"),
        ("dave", "d2"),
    ] {
        let active = store.active_device(account_id).await.unwrap().unwrap();
        assert_eq!(active.id, id, "{account_id}");
    }
    for gone in ["a1", "c0", "d1", "p0"] {
        assert_eq!(store.device(gone).await.unwrap(), None, "{gone}");
    }

    // A failure in the middle of writing (a device ID that exists) rolls back the deletes too.
    let clash = [device("e1", "erin"), device("a2", "bob")];
    let result = store.bind_devices(&clash, true, NOW + 3).await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert_eq!(store.active_device("erin").await.unwrap(), None);
    assert_eq!(store.active_device("bob").await.unwrap().unwrap().id, "b1");
}

async fn bind_devices_of_ten_thousand(backend: &Backend) {
    let store = &*backend.store;
    let ids: Vec<String> = (0..10_000).map(|i| format!("user{i:05}")).collect();
    let accounts: Vec<AccountUpsert> = ids.iter().map(|id| account(id)).collect();
    store.import_accounts(&accounts, NOW).await.unwrap();
    let batch = |round: usize| -> Vec<_> {
        ids.iter()
            .map(|id| device(&format!("{id}-{round}"), id))
            .collect()
    };
    let started = Instant::now();
    assert_eq!(
        store.bind_devices(&batch(1), false, NOW).await.unwrap(),
        10_000
    );
    let first = started.elapsed();
    let started = Instant::now();
    assert_eq!(
        store.bind_devices(&batch(2), true, NOW).await.unwrap(),
        10_000
    );
    let second = started.elapsed();
    eprintln!(
        "{}: binding 10,000 devices: {first:?} (new), {second:?} (replacing)",
        backend.name
    );
    assert!(first < Duration::from_secs(10) && second < Duration::from_secs(10));
    if backend.name == "postgres" {
        // A bulk import refreshes the planner statistics: with those of an empty table, the login path's
        // batched device update scanned every device.
        let url = &backend.url;
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url)
            .await
            .unwrap();
        let analyzed: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_user_tables \
             WHERE relname IN ('accounts', 'devices') AND last_analyze IS NOT NULL",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(
            analyzed, 2,
            "accounts and devices analyzed after the import"
        );
    }
    let listed = store.list_accounts(AccountFilter::default()).await.unwrap();
    assert_eq!(listed.len(), 10_000);
    assert!(
        listed
            .iter()
            .all(|o| o.device.as_ref().is_some_and(|d| d.id.ends_with("-2")))
    );
}

async fn racing_device_imports_do_not_interleave(backend: &Backend) {
    let (a, b) = role_nodes(backend).await;
    let ids: Vec<String> = (0..20).map(|i| format!("r{i:02}")).collect();
    for id in &ids {
        a.create_account(&account(id), NOW).await.unwrap();
    }
    // The two nodes name the same accounts in opposite orders: without replace exactly one batch wins
    // whole; with replace both win, one after the other (no deadlock), and one batch's devices remain.
    for replace in [false, true] {
        let names = ids.clone();
        let outcomes = race(&a, &b, move |node, store| {
            let mut batch: Vec<_> = names
                .iter()
                .map(|id| device(&format!("{id}-{replace}-node{node}"), id))
                .collect();
            if node == 1 {
                batch.reverse();
            }
            async move { store.bind_devices(&batch, replace, NOW).await.map(|_| ()) }
        })
        .await;
        if replace {
            assert!(
                outcomes.iter().all(Result::is_ok),
                "{}: {outcomes:?}",
                backend.name
            );
        } else {
            assert_one_winner(&outcomes, backend.name);
        }
        let mut winners = std::collections::HashSet::new();
        for id in &ids {
            let active = a.active_device(id).await.unwrap().unwrap();
            winners.insert(active.id.rsplit_once("-node").unwrap().1.to_owned());
        }
        assert_eq!(winners.len(), 1, "{}: {winners:?}", backend.name);
    }
    b.close().await;
}

async fn enrollment_replaces_pending_and_confirms(store: &dyn Store) {
    store.create_account(&account("alice"), NOW).await.unwrap();
    store
        .begin_enrollment(&device("p1", "alice"), NOW)
        .await
        .unwrap();
    assert_eq!(
        store.device("p1").await.unwrap().unwrap().state,
        DeviceState::Pending
    );
    assert_eq!(store.active_device("alice").await.unwrap(), None);

    store
        .begin_enrollment(&device("p2", "alice"), NOW + 1)
        .await
        .unwrap();
    assert_eq!(
        store.device("p1").await.unwrap(),
        None,
        "a new enrollment replaces the pending one"
    );
    let missing = store.confirm_enrollment("p1", 100, NOW + 2).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );

    store.confirm_enrollment("p2", 100, NOW + 3).await.unwrap();
    let active = store.active_device("alice").await.unwrap().unwrap();
    assert_eq!(
        (active.id.as_str(), active.state),
        ("p2", DeviceState::Active)
    );
    assert_eq!(
        (active.last_step, active.confirmed_at, active.last_used_at),
        (Some(100), Some(NOW + 3), None),
        "the first code binds; it is not a VPN login"
    );
    assert!(
        !store
            .record_accepted_step("p2", 100, NOW + 4, None)
            .await
            .unwrap(),
        "the confirming code is used"
    );
    assert!(
        store
            .record_accepted_step("p2", 101, NOW + 4, None)
            .await
            .unwrap()
    );
    let again = store.confirm_enrollment("p2", 102, NOW + 5).await;
    assert!(matches!(again, Err(StoreError::NotFound(_))), "{again:?}");

    let refused = store
        .begin_enrollment(&device("p3", "alice"), NOW + 6)
        .await;
    assert!(
        matches!(&refused, Err(StoreError::Conflict(m)) if m.contains("reset")),
        "{refused:?}"
    );
    let orphan = store.begin_enrollment(&device("p4", "ghost"), NOW).await;
    assert!(matches!(orphan, Err(StoreError::NotFound(_))), "{orphan:?}");

    // A pending device whose account got an active device meanwhile cannot be confirmed.
    store.create_account(&account("bob"), NOW).await.unwrap();
    store
        .begin_enrollment(&device("b1", "bob"), NOW)
        .await
        .unwrap();
    store
        .bind_device(&device("b2", "bob"), false, NOW)
        .await
        .unwrap();
    let late = store.confirm_enrollment("b1", 7, NOW + 1).await;
    assert!(
        matches!(&late, Err(StoreError::Conflict(m)) if m.contains("bob")),
        "{late:?}"
    );
    assert_eq!(store.active_device("bob").await.unwrap().unwrap().id, "b2");
}

async fn list_shows_device_state(store: &dyn Store) {
    for id in ["carol", "alice", "bob"] {
        store.create_account(&account(id), NOW).await.unwrap();
    }
    store
        .bind_device(&device("da", "alice"), false, NOW + 7)
        .await
        .unwrap();
    store
        .begin_enrollment(&device("pb", "bob"), NOW)
        .await
        .unwrap();

    let all = store.list_accounts(AccountFilter::default()).await.unwrap();
    let ids: Vec<&str> = all.iter().map(|o| o.account.id.as_str()).collect();
    assert_eq!(ids, ["alice", "bob", "carol"]);
    let summary = all[0].device.as_ref().unwrap();
    assert_eq!(
        (summary.id.as_str(), summary.kind, summary.confirmed_at),
        ("da", "totp", Some(NOW + 7))
    );
    assert_eq!(summary.label.as_deref(), Some("phone da"));
    assert!(
        all[1].device.is_none(),
        "a pending device is not an enrollment"
    );
    assert_eq!(
        all[0].account,
        store.account("alice").await.unwrap().unwrap()
    );

    let unenrolled = store
        .list_accounts(AccountFilter {
            unenrolled_only: true,
        })
        .await
        .unwrap();
    let ids: Vec<&str> = unenrolled.iter().map(|o| o.account.id.as_str()).collect();
    assert_eq!(ids, ["bob", "carol"]);
}

async fn replay_guard_accepts_each_step_once(store: &dyn Store) {
    store.create_account(&account("alice"), NOW).await.unwrap();
    store
        .bind_device(&device("d1", "alice"), false, NOW)
        .await
        .unwrap();
    assert!(
        store
            .record_accepted_step("d1", 10, NOW + 1, None)
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_accepted_step("d1", 10, NOW + 2, None)
            .await
            .unwrap(),
        "same step"
    );
    assert!(
        !store
            .record_accepted_step("d1", 9, NOW + 2, None)
            .await
            .unwrap(),
        "earlier step"
    );
    let d = store.device("d1").await.unwrap().unwrap();
    assert_eq!((d.last_step, d.last_used_at), (Some(10), Some(NOW + 1)));
    assert!(
        store
            .record_accepted_step("d1", 11, NOW + 3, None)
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_accepted_step("ghost", 12, NOW, None)
            .await
            .unwrap()
    );
    // A proof on the account pages uses its step up, once, without counting as a login.
    assert!(!store.use_step_for_proof("d1", 11).await.unwrap(), "used");
    assert!(store.use_step_for_proof("d1", 12).await.unwrap());
    assert!(!store.use_step_for_proof("d1", 12).await.unwrap(), "once");
    assert!(
        !store
            .record_accepted_step("d1", 12, NOW + 4, None)
            .await
            .unwrap()
    );
    let d = store.device("d1").await.unwrap().unwrap();
    assert_eq!((d.last_step, d.last_used_at), (Some(12), Some(NOW + 3)));

    // HOTP: the stored counter is the last one used.
    store.create_account(&account("bob"), NOW).await.unwrap();
    let hotp = motpd::store::NewDevice {
        kind: Kind::Hotp,
        last_step: Some(5),
        ..device("h1", "bob")
    };
    store.bind_device(&hotp, false, NOW).await.unwrap();
    assert!(
        !store
            .record_accepted_step("h1", 5, NOW, None)
            .await
            .unwrap()
    );
    assert!(
        store
            .record_accepted_step("h1", 6, NOW, None)
            .await
            .unwrap()
    );

    // Pending devices never accept.
    store.create_account(&account("carol"), NOW).await.unwrap();
    store
        .begin_enrollment(&device("p1", "carol"), NOW)
        .await
        .unwrap();
    assert!(
        !store
            .record_accepted_step("p1", 1, NOW, None)
            .await
            .unwrap()
    );
}

async fn racing_replays_accept_exactly_once(backend: &Backend) {
    let (a, b) = role_nodes(backend).await;
    a.create_account(&account("alice"), NOW).await.unwrap();
    a.bind_device(&device("d1", "alice"), false, NOW)
        .await
        .unwrap();
    for step in 1..=40 {
        let wins = race(&a, &b, move |_, store| async move {
            store
                .record_accepted_step("d1", step, NOW, None)
                .await
                .unwrap()
        })
        .await;
        assert_eq!(
            wins.iter().filter(|w| **w).count(),
            1,
            "{}: step {step}: {wins:?}",
            backend.name
        );
    }
    b.close().await;
}

async fn racing_bindings_leave_one_active_device(backend: &Backend) {
    let (a, b) = role_nodes(backend).await;
    for round in 0..15 {
        let id = format!("u{round}");
        a.create_account(&account(&id), NOW).await.unwrap();
        let outcomes = race(&a, &b, {
            let id = id.clone();
            move |node, store| {
                let id = id.clone();
                async move {
                    let dev = device(&format!("{id}-node{node}"), &id);
                    store.bind_device(&dev, false, NOW).await
                }
            }
        })
        .await;
        assert_one_winner(&outcomes, backend.name);

        // A pending device being confirmed while another device is bound: again exactly one wins.
        let pending_id = format!("{id}-pending");
        a.reset_devices(&id).await.unwrap();
        a.begin_enrollment(&device(&pending_id, &id), NOW)
            .await
            .unwrap();
        let bound = device(&format!("{id}-bound"), &id);
        let outcomes = race(&a, &b, move |node, store| {
            let (pending_id, bound) = (pending_id.clone(), bound.clone());
            async move {
                if node == 0 {
                    store.confirm_enrollment(&pending_id, 1, NOW).await
                } else {
                    store.bind_device(&bound, false, NOW).await
                }
            }
        })
        .await;
        assert_one_winner(&outcomes, backend.name);
        assert!(a.active_device(&id).await.unwrap().is_some());
    }
    b.close().await;
}

async fn phone_changes_swap_only_the_bound_device(store: &dyn Store) {
    store.create_account(&account("alice"), NOW).await.unwrap();
    store
        .bind_device(&device("old", "alice"), false, NOW)
        .await
        .unwrap();
    // Only from the bound device.
    assert!(matches!(
        store
            .begin_phone_change(&device("new", "alice"), "other", NOW)
            .await,
        Err(StoreError::NotFound(_))
    ));
    store
        .begin_phone_change(&device("new", "alice"), "old", NOW)
        .await
        .unwrap();
    assert_eq!(
        store.active_device("alice").await.unwrap().unwrap().id,
        "old"
    );
    assert_eq!(
        store.device("new").await.unwrap().unwrap().state,
        DeviceState::Pending
    );
    // A wrong old device changes nothing.
    assert!(!store.swap_device("other", "new", 7, NOW + 5).await.unwrap());
    assert_eq!(
        store.active_device("alice").await.unwrap().unwrap().id,
        "old"
    );
    assert_eq!(
        store.device("new").await.unwrap().unwrap().state,
        DeviceState::Pending
    );
    // A newer start replaces the pending token: the first one cannot complete.
    store
        .begin_phone_change(&device("newer", "alice"), "old", NOW)
        .await
        .unwrap();
    assert!(store.device("new").await.unwrap().is_none());
    assert!(!store.swap_device("old", "new", 7, NOW + 5).await.unwrap());
    // The swap: old gone, new active with its first step used up.
    assert!(store.swap_device("old", "newer", 7, NOW + 5).await.unwrap());
    let active = store.active_device("alice").await.unwrap().unwrap();
    assert_eq!(
        (active.id.as_str(), active.last_step, active.confirmed_at),
        ("newer", Some(7), Some(NOW + 5))
    );
    assert!(store.device("old").await.unwrap().is_none());
    assert!(!store.swap_device("old", "newer", 8, NOW + 6).await.unwrap());
    // A reset in between: the change fails and nothing is bound.
    store
        .begin_phone_change(&device("third", "alice"), "newer", NOW + 10)
        .await
        .unwrap();
    assert_eq!(store.reset_devices("alice").await.unwrap(), 2);
    assert!(
        !store
            .swap_device("newer", "third", 9, NOW + 11)
            .await
            .unwrap()
    );
    assert!(store.active_device("alice").await.unwrap().is_none());
    // The pending token of a change cannot be confirmed as a flow A enrollment while the old device is bound.
    store
        .bind_device(&device("fourth", "alice"), false, NOW)
        .await
        .unwrap();
    store
        .begin_phone_change(&device("fifth", "alice"), "fourth", NOW + 20)
        .await
        .unwrap();
    assert!(matches!(
        store.confirm_enrollment("fifth", 3, NOW + 21).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.active_device("alice").await.unwrap().unwrap().id,
        "fourth"
    );
}

async fn racing_phone_changes_win_once(backend: &Backend) {
    let (a, b) = role_nodes(backend).await;
    for round in 0..10 {
        let id = format!("p{round}");
        a.create_account(&account(&id), NOW).await.unwrap();
        let old = format!("{id}-old");
        a.bind_device(&device(&old, &id), false, NOW).await.unwrap();
        let new = format!("{id}-new");
        a.begin_phone_change(&device(&new, &id), &old, NOW)
            .await
            .unwrap();
        let outcomes = race(&a, &b, {
            let (old, new) = (old.clone(), new.clone());
            move |node, store| {
                let (old, new) = (old.clone(), new.clone());
                async move {
                    if round % 2 == 1 && node == 1 {
                        // A helpdesk reset racing the change: either the change or the reset comes last.
                        store
                            .reset_devices(&format!("p{round}"))
                            .await
                            .map(|n| n > 0)
                    } else {
                        store.swap_device(&old, &new, 5 + node as i64, NOW).await
                    }
                }
            }
        })
        .await;
        let active = a.active_device(&id).await.unwrap();
        if round % 2 == 0 {
            let wins = outcomes.iter().filter(|o| matches!(o, Ok(true))).count();
            assert_eq!(wins, 1, "{}: {outcomes:?}", backend.name);
            assert_eq!(active.unwrap().id, new, "{}", backend.name);
        } else {
            assert!(
                outcomes.iter().all(Result::is_ok),
                "{}: {outcomes:?}",
                backend.name
            );
            // Change then reset, or reset then a failed change: nothing is left bound either way.
            assert!(active.is_none(), "{}: {outcomes:?}", backend.name);
        }
        assert!(a.device(&old).await.unwrap().is_none(), "{}", backend.name);
    }
    // The old device gone by any other way (here a raw delete that leaves the pending token): no swap.
    a.create_account(&account("q"), NOW).await.unwrap();
    a.bind_device(&device("q-old", "q"), false, NOW)
        .await
        .unwrap();
    a.begin_phone_change(&device("q-new", "q"), "q-old", NOW)
        .await
        .unwrap();
    assert!(
        backend
            .raw_execute("DELETE FROM devices WHERE id = 'q-old'")
            .await
    );
    assert!(!a.swap_device("q-old", "q-new", 5, NOW).await.unwrap());
    assert!(
        a.active_device("q").await.unwrap().is_none(),
        "{}",
        backend.name
    );
    b.close().await;
}

fn assert_one_winner(outcomes: &[Result<(), StoreError>], backend: &str) {
    let wins = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(wins, 1, "{backend}: {outcomes:?}");
    for o in outcomes {
        assert!(
            matches!(o, Ok(()) | Err(StoreError::Conflict(_))),
            "{backend}: {o:?}"
        );
    }
}

/// The roles of two nodes on `backend`'s database.
async fn role_nodes(backend: &Backend) -> (Arc<dyn Store>, Arc<dyn Store>) {
    let (a, b) = backend.nodes().await;
    (a.store, b.store)
}

/// Runs `op` on both nodes at once (each in its own task, released together by a barrier).
async fn race<S, T, F, Fut>(a: &S, b: &S, op: F) -> Vec<T>
where
    S: Clone + Send + 'static,
    T: Send + 'static,
    F: Fn(usize, S) -> Fut + Clone + Send + 'static,
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

async fn clients_round_trip(store: &dyn Store) {
    store
        .add_client(&client("ns1", "10.0.0.0/8", None), NOW)
        .await
        .unwrap();
    store
        .add_client(
            &client("ns0", "2001:db8::1/128", Some(AuthMode::OtpOnly)),
            NOW + 1,
        )
        .await
        .unwrap();
    store
        .add_client(
            &client("ns2", "192.0.2.7/32", Some(AuthMode::Challenge)),
            NOW + 2,
        )
        .await
        .unwrap();
    match store
        .add_client(&client("ns1", "10.9.9.9/32", None), NOW)
        .await
    {
        Err(StoreError::Conflict(m)) => assert_eq!(m, "RADIUS client ns1 already exists"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    let expected = |c: motpd::store::NewClient, created_at| RadiusClient {
        name: c.name,
        address: c.address,
        sealed_secret: c.sealed_secret,
        require_message_authenticator: c.require_message_authenticator,
        mode: c.mode,
        created_at,
    };
    assert_eq!(
        store.clients().await.unwrap(),
        [
            expected(
                client("ns0", "2001:db8::1/128", Some(AuthMode::OtpOnly)),
                NOW + 1
            ),
            expected(client("ns1", "10.0.0.0/8", None), NOW),
            expected(
                client("ns2", "192.0.2.7/32", Some(AuthMode::Challenge)),
                NOW + 2
            ),
        ]
    );
    assert!(store.remove_client("ns1").await.unwrap());
    assert!(!store.remove_client("ns1").await.unwrap());
    assert_eq!(store.clients().await.unwrap().len(), 2);
}

fn event(n: i64, account: Option<&str>) -> AuditEvent {
    AuditEvent::new(
        NOW + n,
        "radius.auth",
        "radius:ns1",
        account,
        "reject",
        serde_json::json!({ "n": n }),
    )
}

/// Reads the whole trail page by page and verifies it; returns the rows.
async fn verified_trail(store: &dyn Store) -> Result<Vec<AuditRecord>, AuditBreak> {
    let chain = test_chain();
    let mut verifier = ChainVerifier::new(&chain);
    let mut rows: Vec<AuditRecord> = Vec::new();
    loop {
        let after = rows.last().map_or(0, |r| r.seq);
        let page = store.audit_page(after, 7).await.unwrap();
        if page.is_empty() {
            return Ok(rows);
        }
        for r in &page {
            verifier.check(r)?;
        }
        rows.extend(page);
    }
}

async fn audit_appends_and_pages(store: &dyn Store) {
    assert_eq!(store.audit_page(0, 10).await.unwrap(), []);
    store
        .append_audit(&[event(1, Some("alice"))])
        .await
        .unwrap();
    store
        .append_audit(&[event(2, None), event(3, Some("bob")), event(4, None)])
        .await
        .unwrap();
    store.append_audit(&[]).await.unwrap();
    let rows = verified_trail(store).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert_eq!(rows[0].event, event(1, Some("alice")));
    assert_eq!(rows[2].event, event(3, Some("bob")));
    let page = store.audit_page(2, 1).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0], rows[2]);
    let batch: Vec<AuditEvent> = (5..=20).map(|n| event(n, None)).collect();
    store.append_audit(&batch).await.unwrap();
    assert_eq!(verified_trail(store).await.unwrap().len(), 20);
}

/// The audit search's filters: actor, a time range (until excluded) and keyset pages (`before_seq`).
async fn audit_search_filters_actor_range_and_pages(store: &dyn Store) {
    let mut batch: Vec<AuditEvent> = (1..=6).map(|n| event(n, Some("alice"))).collect();
    batch.push(AuditEvent::new(
        NOW + 7,
        "admin.user.unlock",
        "console:desk",
        Some("alice"),
        "ok",
        serde_json::json!({}),
    ));
    store.append_audit(&batch).await.unwrap();
    let search = |filter: AuditFilter| async move {
        store
            .search_audit(&filter)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.seq)
            .collect::<Vec<_>>()
    };
    let all = AuditFilter {
        limit: 100,
        ..AuditFilter::default()
    };
    assert_eq!(search(all.clone()).await, [7, 6, 5, 4, 3, 2, 1]);
    let desk = AuditFilter {
        actor: Some("console:desk".into()),
        ..all.clone()
    };
    assert_eq!(search(desk).await, [7]);
    let range = AuditFilter {
        since: Some(NOW + 2),
        until: Some(NOW + 5),
        ..all.clone()
    };
    assert_eq!(
        search(range).await,
        [4, 3, 2],
        "since included, until excluded"
    );
    let first = AuditFilter {
        limit: 3,
        ..all.clone()
    };
    assert_eq!(search(first).await, [7, 6, 5]);
    let next = AuditFilter {
        limit: 3,
        before_seq: Some(5),
        ..all.clone()
    };
    assert_eq!(search(next).await, [4, 3, 2]);
}

async fn concurrent_audit_appends_keep_one_chain(backend: &Backend) {
    let (a, b) = role_nodes(backend).await;
    let writers = [a.clone(), b.clone()].map(|store| {
        tokio::spawn(async move {
            for i in 0..15 {
                let batch: Vec<AuditEvent> =
                    (0..=(i % 3)).map(|n| event(i * 10 + n, None)).collect();
                store.append_audit(&batch).await.unwrap();
            }
        })
    });
    for w in writers {
        w.await.unwrap();
    }
    let rows = verified_trail(&*a).await.unwrap();
    assert_eq!(rows.len(), 2 * (5 * (1 + 2 + 3)), "{}", backend.name);
    b.close().await;
}

async fn tampering_is_detected(backend: &Backend) {
    let store = &*backend.store;
    store
        .append_audit(&[event(1, None), event(2, Some("alice")), event(3, None)])
        .await
        .unwrap();
    assert!(
        backend
            .raw_execute("UPDATE audit_log SET outcome = 'accept' WHERE seq = 2")
            .await
    );
    assert_eq!(
        verified_trail(store).await,
        Err(AuditBreak::BadLink { seq: 2 })
    );

    store.create_account(&account("alice"), NOW).await.unwrap();
    backend
        .raw_execute("UPDATE accounts SET groups = 'not json' WHERE id = 'alice'")
        .await;
    let corrupt = store.account("alice").await;
    assert!(
        matches!(corrupt, Err(StoreError::Corrupt(_))),
        "{corrupt:?}"
    );
}

async fn sqlite_file_is_created_and_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::sqlite_url(&dir);
    let first = store::connect(&url, 2, test_chain()).await.unwrap();
    assert_eq!(first.backend(), "sqlite");
    first.create_account(&account("alice"), NOW).await.unwrap();
    first.append_audit(&[event(1, None)]).await.unwrap();
    // Migrations apply again without error while the first pool is still open, and after it closed.
    let second = store::connect(&url, 2, test_chain()).await.unwrap();
    assert!(second.account("alice").await.unwrap().is_some());
    first.close().await;
    second.close().await;
    let third = store::connect(&url, 2, test_chain()).await.unwrap();
    assert!(third.account("alice").await.unwrap().is_some());
    assert_eq!(verified_trail(&*third).await.unwrap().len(), 1);
    third.close().await;
}

fn challenge(hash_byte: u8, account: &str, expires_at: i64) -> NewChallenge {
    NewChallenge {
        state_hash: vec![hash_byte; 32],
        account_id: account.to_owned(),
        client: "netscaler".to_owned(),
        device_id: Some("d1".to_owned()),
        purpose: ChallengePurpose::Otp,
        counter: None,
        expires_at,
    }
}

async fn challenges_are_single_use_and_expire(backend: &Backend) {
    let (store, logins) = (&*backend.store, &*backend.logins);
    store.create_account(&account("alice"), NOW).await.unwrap();
    logins
        .create_challenge(&challenge(1, "alice", NOW + 60), NOW)
        .await
        .unwrap();
    let mut resync = challenge(2, "alice", NOW + 60);
    resync.purpose = ChallengePurpose::HotpResync;
    resync.counter = Some(41);
    logins.create_challenge(&resync, NOW).await.unwrap();
    logins
        .create_challenge(&challenge(3, "alice", NOW + 5), NOW)
        .await
        .unwrap();

    let taken = logins
        .take_challenge(&[1; 32], NOW + 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (taken.account_id.as_str(), taken.client.as_str()),
        ("alice", "netscaler")
    );
    assert_eq!(taken.purpose, ChallengePurpose::Otp);
    assert!(
        logins
            .take_challenge(&[1; 32], NOW + 1)
            .await
            .unwrap()
            .is_none(),
        "second use"
    );
    let taken = logins
        .take_challenge(&[2; 32], NOW + 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (taken.purpose, taken.counter),
        (ChallengePurpose::HotpResync, Some(41))
    );
    assert!(
        logins
            .take_challenge(&[3; 32], NOW + 5)
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    assert!(
        logins
            .take_challenge(&[9; 32], NOW)
            .await
            .unwrap()
            .is_none(),
        "unknown"
    );

    logins
        .create_challenge(&challenge(4, "alice", NOW + 10), NOW)
        .await
        .unwrap();
    logins
        .create_challenge(&challenge(5, "alice", NOW + 100), NOW)
        .await
        .unwrap();
    assert_eq!(store.purge_expired(NOW + 10).await.unwrap(), 1);
    assert!(
        logins
            .take_challenge(&[5; 32], NOW + 11)
            .await
            .unwrap()
            .is_some()
    );
    // Removing the account removes its challenges.
    logins
        .create_challenge(&challenge(6, "alice", NOW + 100), NOW)
        .await
        .unwrap();
    store.remove_account("alice").await.unwrap();
    assert!(
        logins
            .take_challenge(&[6; 32], NOW)
            .await
            .unwrap()
            .is_none()
    );
}

async fn racing_challenge_answers_win_once(backend: &Backend) {
    let (a, b) = backend.nodes().await;
    a.store
        .create_account(&account("alice"), NOW)
        .await
        .unwrap();
    for round in 0..20u8 {
        a.logins
            .create_challenge(&challenge(round, "alice", NOW + 60), NOW)
            .await
            .unwrap();
        let wins = race(&a.logins, &b.logins, move |_, logins| async move {
            logins
                .take_challenge(&[round; 32], NOW)
                .await
                .unwrap()
                .is_some()
        })
        .await;
        assert_eq!(
            wins.iter().filter(|w| **w).count(),
            1,
            "{}: {wins:?}",
            backend.name
        );
    }
    b.store.close().await;
}

async fn accepted_steps_keep_their_fingerprint(store: &dyn Store) {
    store.create_account(&account("alice"), NOW).await.unwrap();
    store
        .bind_device(&device("d1", "alice"), false, NOW)
        .await
        .unwrap();
    assert!(
        store
            .record_accepted_step("d1", 7, NOW + 1, Some(&[0xab; 32]))
            .await
            .unwrap()
    );
    let stored = store.active_device("alice").await.unwrap().unwrap();
    assert_eq!(stored.last_step, Some(7));
    assert_eq!(stored.last_used_at, Some(NOW + 1));
    assert_eq!(
        stored.last_use_fingerprint.as_deref(),
        Some(&[0xab; 32][..])
    );
    assert!(
        !store
            .record_accepted_step("d1", 7, NOW + 2, Some(&[0xcd; 32]))
            .await
            .unwrap()
    );
    let stored = store.active_device("alice").await.unwrap().unwrap();
    assert_eq!(
        stored.last_use_fingerprint.as_deref(),
        Some(&[0xab; 32][..]),
        "a refused replay changes nothing"
    );
}

async fn accounting_is_recorded(store: &dyn Store) {
    let entry = AccountingEntry {
        client: "netscaler".into(),
        user_name: Some("alice".into()),
        status_type: Some(1),
        session_id: Some("sess-1".into()),
        nas_ip: Some("10.0.0.10".into()),
        calling_station_id: Some("203.0.113.7".into()),
    };
    store.record_accounting(&entry, NOW).await.unwrap();
    let bare = AccountingEntry {
        client: "netscaler".into(),
        user_name: None,
        status_type: None,
        session_id: None,
        nas_ip: None,
        calling_station_id: None,
    };
    store.record_accounting(&bare, NOW).await.unwrap();
}

fn web_session(hash_byte: u8, account: Option<&str>, expires_at: i64) -> NewWebSession {
    NewWebSession {
        id_hash: vec![hash_byte; 32],
        account_id: account.map(str::to_owned),
        csrf: format!("csrf-{hash_byte}"),
        expires_at,
    }
}

async fn web_sessions_expire_move_and_end(store: &dyn Store) {
    store.create_account(&account("alice"), NOW).await.unwrap();
    let anonymous = web_session(1, None, NOW + 60);
    store.create_web_session(&anonymous, NOW).await.unwrap();
    assert!(
        store.create_web_session(&anonymous, NOW).await.is_err(),
        "an ID hash is stored once"
    );
    let found = store.touch_web_session(&[1; 32], NOW + 59, NOW + 159).await;
    let found = found.unwrap().unwrap();
    assert_eq!(found.account_id, None);
    assert_eq!(found.csrf, "csrf-1");
    assert_eq!(found.expires_at, NOW + 159);
    // The deadline moved; a gain under a minute writes nothing (a read, not a write per page view).
    let later = store.touch_web_session(&[1; 32], NOW + 158, NOW + 160);
    assert_eq!(later.await.unwrap().unwrap().expires_at, NOW + 159);
    let expired = store.touch_web_session(&[1; 32], NOW + 159, NOW + 999);
    assert!(expired.await.unwrap().is_none());
    assert!(
        store
            .touch_web_session(&[9; 32], NOW, NOW + 60)
            .await
            .unwrap()
            .is_none()
    );
    // Logout.
    let alice = web_session(2, Some("alice"), NOW + 60);
    store.create_web_session(&alice, NOW).await.unwrap();
    let found = store.touch_web_session(&[2; 32], NOW, NOW + 60).await;
    assert_eq!(found.unwrap().unwrap().account_id.as_deref(), Some("alice"));
    assert!(store.remove_web_session(&[2; 32]).await.unwrap());
    assert!(!store.remove_web_session(&[2; 32]).await.unwrap());
    assert!(
        store
            .touch_web_session(&[2; 32], NOW, NOW + 60)
            .await
            .unwrap()
            .is_none()
    );
    // The expiry sweep removes only expired rows (the anonymous one expired at NOW + 160).
    store
        .create_web_session(&web_session(3, None, NOW + 500), NOW)
        .await
        .unwrap();
    assert_eq!(
        store.purge_expired_web_sessions(NOW + 200).await.unwrap(),
        1
    );
    assert!(
        store
            .touch_web_session(&[3; 32], NOW + 200, NOW + 500)
            .await
            .unwrap()
            .is_some()
    );
}

async fn web_sessions_end_with_their_account(store: &dyn Store) {
    for id in ["alice", "bob"] {
        store.create_account(&account(id), NOW).await.unwrap();
    }
    for (byte, id) in [
        (1, Some("alice")),
        (2, Some("alice")),
        (3, Some("bob")),
        (4, None),
    ] {
        let session = web_session(byte, id, NOW + 60);
        store.create_web_session(&session, NOW).await.unwrap();
    }
    assert_eq!(store.remove_account_web_sessions("alice").await.unwrap(), 2);
    assert_eq!(store.remove_account_web_sessions("alice").await.unwrap(), 0);
    for (byte, alive) in [(1, false), (2, false), (3, true), (4, true)] {
        let found = store.touch_web_session(&[byte; 32], NOW, NOW + 60).await;
        assert_eq!(found.unwrap().is_some(), alive, "session {byte}");
    }
    // Removing the account removes its sessions.
    store.remove_account("bob").await.unwrap();
    assert!(
        store
            .touch_web_session(&[3; 32], NOW, NOW + 60)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .touch_web_session(&[4; 32], NOW, NOW + 60)
            .await
            .unwrap()
            .is_some()
    );
}

/// Turns behaviour functions into tests that run them on every backend.
async fn invitations_are_single_use_expire_and_are_replaced(store: &dyn Store) {
    store.create_account(&account("alice"), NOW).await.unwrap();
    let first = [1u8; 32];
    let second = [2u8; 32];
    assert!(store.invitation(&first).await.unwrap().is_none());
    store
        .create_invitation("alice", &first, NOW + 100, NOW)
        .await
        .unwrap();
    let stored = store.invitation(&first).await.unwrap().unwrap();
    assert_eq!(stored.account_id, "alice");
    assert_eq!(
        (stored.created_at, stored.expires_at, stored.used_at),
        (NOW, NOW + 100, None)
    );
    // Expired at its expiry time: not usable.
    assert!(!store.use_invitation(&first, NOW + 100).await.unwrap());
    // Re-inviting deletes the first link.
    store
        .create_invitation("alice", &second, NOW + 200, NOW + 1)
        .await
        .unwrap();
    assert!(store.invitation(&first).await.unwrap().is_none());
    assert!(!store.use_invitation(&first, NOW + 2).await.unwrap());
    // Used exactly once.
    assert!(store.use_invitation(&second, NOW + 2).await.unwrap());
    assert!(!store.use_invitation(&second, NOW + 3).await.unwrap());
    let used = store.invitation(&second).await.unwrap().unwrap();
    assert_eq!(used.used_at, Some(NOW + 2));
    // The listing (for `motpd report unenrolled`) holds the one invitation left.
    let listed = store.list_invitations().await.unwrap();
    assert_eq!(listed, [used]);
    // Unknown account, and the account's removal cascades.
    match store
        .create_invitation("nobody", &first, NOW + 100, NOW)
        .await
    {
        Err(StoreError::NotFound(m)) => assert_eq!(m, "account nobody"),
        other => panic!("{other:?}"),
    }
    assert!(store.remove_account("alice").await.unwrap());
    assert!(store.invitation(&second).await.unwrap().is_none());
    assert!(store.list_invitations().await.unwrap().is_empty());
}

async fn invitations_with_a_mailed_seed_activate_once_while_valid(store: &dyn Store) {
    store.create_account(&account("alice"), NOW).await.unwrap();
    store.create_account(&account("bob"), NOW).await.unwrap();
    // An earlier pending device (flow A) is replaced by the mailed one.
    store
        .begin_enrollment(&device("flow-a", "alice"), NOW)
        .await
        .unwrap();
    store
        .create_invitation_with_seed(&[1; 32], NOW + 100, &device("mailed", "alice"), NOW)
        .await
        .unwrap();
    assert!(store.device("flow-a").await.unwrap().is_none());
    let stored = store.invitation(&[1; 32]).await.unwrap().unwrap();
    assert_eq!(stored.device_id.as_deref(), Some("mailed"));
    assert!(stored.seed_in_mail);
    let mailed = store
        .mailed_pending_device("alice", NOW + 99)
        .await
        .unwrap();
    assert_eq!(
        mailed.map(|d| (d.id, d.state)),
        Some(("mailed".into(), DeviceState::Pending))
    );
    // Useless at the expiry time, and for other accounts.
    assert!(
        store
            .mailed_pending_device("alice", NOW + 100)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .mailed_pending_device("bob", NOW)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !store
            .confirm_invited_device("mailed", 7, NOW + 100)
            .await
            .unwrap()
    );
    assert_eq!(
        store.device("mailed").await.unwrap().unwrap().state,
        DeviceState::Pending
    );
    // Before: activates once, uses the invitation up, with the step used.
    assert!(
        store
            .confirm_invited_device("mailed", 7, NOW + 50)
            .await
            .unwrap()
    );
    let active = store.active_device("alice").await.unwrap().unwrap();
    assert_eq!((active.id.as_str(), active.last_step), ("mailed", Some(7)));
    assert_eq!(
        store.invitation(&[1; 32]).await.unwrap().unwrap().used_at,
        Some(NOW + 50)
    );
    assert!(
        store
            .mailed_pending_device("alice", NOW + 51)
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        store.confirm_invited_device("mailed", 8, NOW + 51).await,
        Err(StoreError::NotFound(_))
    ));
    // Not for an account with an active device, nor one that does not exist.
    let refused = store
        .create_invitation_with_seed(&[2; 32], NOW + 100, &device("again", "alice"), NOW)
        .await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    assert!(
        store.invitation(&[2; 32]).await.unwrap().is_none(),
        "nothing written"
    );
    let ghost = store
        .create_invitation_with_seed(&[3; 32], NOW + 100, &device("ghost-d", "ghost"), NOW)
        .await;
    assert!(matches!(ghost, Err(StoreError::NotFound(_))), "{ghost:?}");
    // A pending device that no invitation shows is not confirmed through one.
    store
        .begin_enrollment(&device("plain", "bob"), NOW)
        .await
        .unwrap();
    assert!(!store.confirm_invited_device("plain", 1, NOW).await.unwrap());
    assert!(store.active_device("bob").await.unwrap().is_none());
}

async fn an_invitation_shows_one_pending_device_at_a_time(store: &dyn Store) {
    store.create_account(&account("carol"), NOW).await.unwrap();
    store
        .create_invitation("carol", &[4; 32], NOW + 100, NOW)
        .await
        .unwrap();
    let plain = store.invitation(&[4; 32]).await.unwrap().unwrap();
    assert_eq!((plain.device_id, plain.seed_in_mail), (None, false));
    // Compare-and-set: attached only while the invitation still shows what the caller saw.
    assert!(
        store
            .attach_invitation_device(&[4; 32], None, &device("first", "carol"), NOW)
            .await
            .unwrap()
    );
    assert!(
        !store
            .attach_invitation_device(&[4; 32], None, &device("racer", "carol"), NOW)
            .await
            .unwrap()
    );
    assert!(
        store.device("racer").await.unwrap().is_none(),
        "the loser wrote nothing"
    );
    assert_eq!(
        store
            .invitation(&[4; 32])
            .await
            .unwrap()
            .unwrap()
            .device_id
            .as_deref(),
        Some("first")
    );
    assert!(
        store
            .attach_invitation_device(&[4; 32], Some("first"), &device("second", "carol"), NOW)
            .await
            .unwrap()
    );
    assert!(store.device("first").await.unwrap().is_none(), "replaced");
    // Not mailed: no VPN activation.
    assert!(
        store
            .mailed_pending_device("carol", NOW)
            .await
            .unwrap()
            .is_none()
    );
    // A newer flow A start removes the invitation's device; the invitation forgets it.
    store
        .begin_enrollment(&device("flow-a", "carol"), NOW)
        .await
        .unwrap();
    assert_eq!(
        store.invitation(&[4; 32]).await.unwrap().unwrap().device_id,
        None
    );
    assert!(
        !store
            .confirm_invited_device("flow-a", 1, NOW)
            .await
            .unwrap()
    );
    // Not for an expired or used invitation, nor another account's.
    store.create_account(&account("dave"), NOW).await.unwrap();
    assert!(
        !store
            .attach_invitation_device(&[4; 32], None, &device("dave-d", "dave"), NOW)
            .await
            .unwrap()
    );
    assert!(
        !store
            .attach_invitation_device(&[4; 32], None, &device("late", "carol"), NOW + 100)
            .await
            .unwrap()
    );
    assert!(
        store
            .attach_invitation_device(&[4; 32], None, &device("third", "carol"), NOW + 1)
            .await
            .unwrap()
    );
    assert!(
        store
            .confirm_invited_device("third", 3, NOW + 2)
            .await
            .unwrap()
    );
    assert!(
        !store
            .attach_invitation_device(&[4; 32], Some("third"), &device("after", "carol"), NOW + 3)
            .await
            .unwrap()
    );
    assert_eq!(
        store.active_device("carol").await.unwrap().unwrap().id,
        "third"
    );
}

/// Two nodes confirm the same mailed device at once (the link page and a VPN login): one activates it.
async fn racing_invited_confirmations_activate_once(backend: &Backend) {
    let (a, b) = role_nodes(backend).await;
    for round in 0..10 {
        let id = format!("inv{round}");
        a.create_account(&account(&id), NOW).await.unwrap();
        let device_id = format!("{id}-mailed");
        a.create_invitation_with_seed(&[round; 32], NOW + 100, &device(&device_id, &id), NOW)
            .await
            .unwrap();
        let outcomes = race(&a, &b, move |node, store| {
            let device_id = device_id.clone();
            async move {
                let step = i64::try_from(node).unwrap() + 1;
                store
                    .confirm_invited_device(&device_id, step, NOW + 1)
                    .await
            }
        })
        .await;
        let wins = outcomes.iter().filter(|o| matches!(o, Ok(true))).count();
        assert_eq!(wins, 1, "{}: {outcomes:?}", backend.name);
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, Ok(_) | Err(StoreError::NotFound(_)))),
            "{}: {outcomes:?}",
            backend.name
        );
        assert!(a.active_device(&id).await.unwrap().is_some());
    }
    b.close().await;
}

async fn web_session_flows_are_taken_once(store: &dyn Store) {
    store
        .create_web_session(&web_session(4, None, NOW + 60), NOW)
        .await
        .unwrap();
    let flow = |now| store.touch_web_session(&[4; 32], now, NOW + 60);
    assert_eq!(flow(NOW).await.unwrap().unwrap().flow, None);
    assert!(
        store
            .set_web_session_flow(&[4; 32], Some("grant-a"), NOW)
            .await
            .unwrap()
    );
    assert_eq!(
        flow(NOW).await.unwrap().unwrap().flow.as_deref(),
        Some("grant-a")
    );
    assert!(
        !store
            .take_web_session_flow(&[4; 32], "grant-b", NOW)
            .await
            .unwrap()
    );
    let (one, two) = tokio::join!(
        store.take_web_session_flow(&[4; 32], "grant-a", NOW),
        store.take_web_session_flow(&[4; 32], "grant-a", NOW)
    );
    assert!(one.unwrap() ^ two.unwrap(), "taken exactly once");
    assert_eq!(flow(NOW).await.unwrap().unwrap().flow, None);
    // Replacing and clearing; an expired or unknown session has no flow to set or take.
    store
        .set_web_session_flow(&[4; 32], Some("step"), NOW)
        .await
        .unwrap();
    store
        .set_web_session_flow(&[4; 32], None, NOW)
        .await
        .unwrap();
    assert_eq!(flow(NOW).await.unwrap().unwrap().flow, None);
    store
        .set_web_session_flow(&[4; 32], Some("late"), NOW)
        .await
        .unwrap();
    assert!(
        !store
            .take_web_session_flow(&[4; 32], "late", NOW + 60)
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_web_session_flow(&[4; 32], Some("x"), NOW + 60)
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_web_session_flow(&[8; 32], Some("x"), NOW)
            .await
            .unwrap()
    );
}

async fn owner_passwords_activate_and_reset_in_one_step(store: &dyn Store) {
    const ADMIN: i64 = motpd::account_rules::ADMIN_LOCK_UNTIL;
    let mut intern = account("intern");
    intern.status = AccountStatus::Pending;
    intern.password_hash = None;
    store.create_account(&intern, NOW).await.unwrap();
    store.create_account(&account("alice"), NOW).await.unwrap();
    let mut dave = account("dave");
    dave.status = AccountStatus::Disabled;
    store.create_account(&dave, NOW).await.unwrap();
    for (byte, id) in [(5, "intern"), (6, "alice"), (7, "alice"), (8, "dave")] {
        store
            .create_web_session(&web_session(byte, Some(id), NOW + 600), NOW)
            .await
            .unwrap();
    }
    // A failure lock on the pending account: activation clears it and makes the account active.
    store.record_failure("intern", NOW, 1, 900).await.unwrap();
    assert_eq!(
        store
            .reset_password("intern", "$new", ADMIN, NOW)
            .await
            .unwrap(),
        None,
        "a pending account is activated, not reset"
    );
    assert_eq!(
        store
            .activate_with_password("intern", "$argon2id$intern", ADMIN, NOW + 1)
            .await
            .unwrap(),
        Some(1)
    );
    let a = store.account("intern").await.unwrap().unwrap();
    assert_eq!(a.status, AccountStatus::Active);
    assert_eq!(a.password_hash.as_deref(), Some("$argon2id$intern"));
    assert_eq!((a.failures, a.locked_until), (0, None));
    assert!(
        store
            .touch_web_session(&[5; 32], NOW + 1, NOW + 600)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .activate_with_password("intern", "$again", ADMIN, NOW + 2)
            .await
            .unwrap(),
        None,
        "activation happens once"
    );

    // An admin lock survives a reset; the failures and the account's sessions do not.
    store.lock_account("alice", ADMIN, NOW).await.unwrap();
    store.record_failure("alice", NOW, 0, 0).await.unwrap();
    assert_eq!(
        store
            .reset_password("alice", "$argon2id$alice-new", ADMIN, NOW + 3)
            .await
            .unwrap(),
        Some(2)
    );
    let a = store.account("alice").await.unwrap().unwrap();
    assert_eq!(a.password_hash.as_deref(), Some("$argon2id$alice-new"));
    assert_eq!((a.failures, a.locked_until), (0, Some(ADMIN)));
    assert_eq!(
        store
            .activate_with_password("alice", "$x", ADMIN, NOW)
            .await
            .unwrap(),
        None
    );

    // A disabled account is neither reset nor activated; unknown accounts change nothing.
    for result in [
        store.reset_password("dave", "$x", ADMIN, NOW).await,
        store.activate_with_password("dave", "$x", ADMIN, NOW).await,
        store.reset_password("nobody", "$x", ADMIN, NOW).await,
        store
            .activate_with_password("nobody", "$x", ADMIN, NOW)
            .await,
    ] {
        assert_eq!(result.unwrap(), None);
    }
    let d = store.account("dave").await.unwrap().unwrap();
    assert_eq!(d.status, AccountStatus::Disabled);
    assert_eq!(d.password_hash, dave.password_hash);
    assert!(
        store
            .touch_web_session(&[8; 32], NOW, NOW + 600)
            .await
            .unwrap()
            .is_some()
    );
}

fn accepted(account: &str, device: &str, step: i64, now: i64) -> AcceptedLogin {
    AcceptedLogin {
        account_id: account.to_owned(),
        device_id: device.to_owned(),
        step,
        now,
        fingerprint: Some(vec![step as u8; 32]),
        audit: None,
    }
}

/// Accounts alice and bob, with active devices d1 and d2.
async fn alice_and_bob_with_devices(store: &dyn Store) {
    for (id, dev) in [("alice", "d1"), ("bob", "d2")] {
        store.create_account(&account(id), NOW).await.unwrap();
        store
            .bind_device(&device(dev, id), false, NOW)
            .await
            .unwrap();
    }
}

async fn accepted_logins_are_recorded_in_order(backend: &Backend) {
    let (store, logins) = (&*backend.store, &*backend.logins);
    alice_and_bob_with_devices(store).await;
    store.record_failure("alice", NOW, 5, 60).await.unwrap();
    let logins_in_order = [
        accepted("alice", "d1", 10, NOW + 1),
        accepted("bob", "d2", 5, NOW + 1),
        accepted("alice", "d1", 10, NOW + 2), // the same code again
        accepted("alice", "d1", 11, NOW + 3), // the next step, after the first
        accepted("ghost", "nope", 1, NOW + 3),
    ];
    let mut won = Vec::new();
    for login in &logins_in_order {
        won.push(logins.record_accepted_login(login.clone()).await.unwrap());
    }
    assert_eq!(won, [true, true, false, true, false]);
    let d1 = store.device("d1").await.unwrap().unwrap();
    assert_eq!((d1.last_step, d1.last_used_at), (Some(11), Some(NOW + 3)));
    assert_eq!(d1.last_use_fingerprint, Some(vec![11; 32]));
    // The failures are cleared; the login's time is on the device, not written to the account row.
    let alice = store.account("alice").await.unwrap().unwrap();
    assert_eq!((alice.failures, alice.last_login_at), (0, None));
    assert_eq!(alice.last_login(d1.last_used_at), Some(NOW + 3));
    assert!(
        !logins
            .record_accepted_login(logins_in_order[3].clone())
            .await
            .unwrap()
    );
    assert!(
        logins
            .record_accepted_login(accepted("bob", "d2", 6, NOW + 4))
            .await
            .unwrap()
    );
    // A login without a code step (a re-sent code) is recorded on the account; a list shows the later one.
    store.record_success("bob", NOW + 2).await.unwrap();
    let bob = store.account("bob").await.unwrap().unwrap();
    assert_eq!(bob.last_login_at, Some(NOW + 2));
    let last_logins = |list: Vec<AccountOverview>| -> Vec<(String, Option<i64>)> {
        let pairs = list
            .into_iter()
            .map(|o| (o.account.id, o.account.last_login_at));
        pairs.collect()
    };
    let list = store.list_accounts(AccountFilter::default()).await.unwrap();
    assert_eq!(
        last_logins(list),
        [
            ("alice".into(), Some(NOW + 3)),
            ("bob".into(), Some(NOW + 4))
        ]
    );
    // A lock set while the login was in flight (an admin's, another node's lockout) refuses its accept: the
    // step stays unused and the lock stays.
    store
        .lock_account("bob", i64::MAX / 2, NOW + 4)
        .await
        .unwrap();
    assert!(
        !logins
            .record_accepted_login(accepted("bob", "d2", 8, NOW + 5))
            .await
            .unwrap()
    );
    let bob = store.account("bob").await.unwrap().unwrap();
    assert_eq!(bob.locked_until, Some(i64::MAX / 2));
    let d2 = store.device("d2").await.unwrap().unwrap();
    assert_eq!((d2.last_step, d2.last_used_at), (Some(6), Some(NOW + 4)));
    // A device reset elsewhere: nothing to accept any more, and its last use stays the account's last login.
    store.reset_devices("bob").await.unwrap();
    assert!(
        !logins
            .record_accepted_login(accepted("bob", "d2", 7, NOW + 5))
            .await
            .unwrap()
    );
    let bob = store.account("bob").await.unwrap().unwrap();
    assert_eq!(bob.last_login_at, Some(NOW + 4));
    // An account deleted with its device (the fold has no account left to write).
    assert!(store.remove_account("alice").await.unwrap());
    assert!(store.account("alice").await.unwrap().is_none());
}

/// A winning accepted login stores its audit event before it answers, on every backend; a losing one stores
/// none, and the chain stays intact.
async fn an_accepted_logins_audit_event_is_stored_only_if_it_wins(backend: &Backend) {
    let (store, logins) = (&*backend.store, &*backend.logins);
    alice_and_bob_with_devices(store).await;
    let audited = |step: i64| AcceptedLogin {
        audit: Some(AuditEvent::new(
            NOW,
            "radius.auth",
            "radius:test",
            Some("alice"),
            "accept",
            serde_json::json!({ "step": step }),
        )),
        ..accepted("alice", "d1", step, NOW + 1)
    };
    let mut won = Vec::new();
    for step in [10, 10, 9, 11] {
        won.push(logins.record_accepted_login(audited(step)).await.unwrap());
    }
    assert_eq!(won, [true, false, false, true], "{}", backend.name);
    let rows = verified_trail(store).await.unwrap();
    let steps: Vec<&str> = rows.iter().map(|r| r.event.detail.as_str()).collect();
    assert_eq!(
        steps,
        [r#"{"step":10}"#, r#"{"step":11}"#],
        "{}: one row per winning login",
        backend.name
    );
}

/// A login's read and its accept are apart in time: the device may be replaced between them, and its old row's
/// place taken by another account's device. The accept goes to the device it names, wherever that row is now
/// (the SQLite hot path remembers where each read found the device).
async fn an_accept_after_a_device_was_replaced_finds_its_row(backend: &Backend) {
    let (store, logins) = (&*backend.store, &*backend.logins);
    alice_and_bob_with_devices(store).await;
    store.create_account(&account("carol"), NOW).await.unwrap();
    let read = logins.login_record("bob").await.unwrap().unwrap();
    assert_eq!(read.device.as_ref().map(|d| d.id.as_str()), Some("d2"));
    // Bob's device goes; carol's new device may take its row; bob's device comes back in another.
    assert_eq!(store.reset_devices("bob").await.unwrap(), 1);
    store
        .bind_device(&device("d3", "carol"), false, NOW)
        .await
        .unwrap();
    store
        .bind_device(&device("d2", "bob"), false, NOW)
        .await
        .unwrap();
    assert!(
        logins
            .record_accepted_login(accepted("bob", "d2", 9, NOW + 1))
            .await
            .unwrap()
    );
    let d2 = store.device("d2").await.unwrap().unwrap();
    let d3 = store.device("d3").await.unwrap().unwrap();
    assert_eq!((d2.last_step, d3.last_step), (Some(9), None));
    // A replay after the read still meets the guard.
    logins.login_record("bob").await.unwrap();
    assert!(
        !logins
            .record_accepted_login(accepted("bob", "d2", 9, NOW + 2))
            .await
            .unwrap()
    );
    // And a device removed after the read accepts nothing.
    logins.login_record("alice").await.unwrap();
    store.reset_devices("alice").await.unwrap();
    assert!(
        !logins
            .record_accepted_login(accepted("alice", "d1", 9, NOW + 2))
            .await
            .unwrap()
    );
}

async fn login_records_read_accounts_with_their_active_device(backend: &Backend) {
    let (store, logins) = (&*backend.store, &*backend.logins);
    assert!(!store.any_account().await.unwrap());
    for id in ["alice", "carol", "dave"] {
        store.create_account(&account(id), NOW).await.unwrap();
    }
    assert!(store.any_account().await.unwrap());
    store
        .bind_device(&device("d1", "alice"), false, NOW)
        .await
        .unwrap();
    store
        .begin_enrollment(&device("d3", "dave"), NOW)
        .await
        .unwrap();
    let mut records = Vec::new();
    for id in ["alice", "carol", "dave", "ghost", "alice"] {
        records.push(logins.login_record(id).await.unwrap());
    }
    let got: Vec<Option<(&str, Option<&str>)>> = records
        .iter()
        .map(|r| {
            r.as_ref().map(|r| {
                (
                    r.account.id.as_str(),
                    r.device.as_ref().map(|d| d.id.as_str()),
                )
            })
        })
        .collect();
    assert_eq!(
        got,
        [
            Some(("alice", Some("d1"))),
            Some(("carol", None)),
            Some(("dave", None)),
            None,
            Some(("alice", Some("d1")))
        ]
    );
    let alice = records[0].as_ref().unwrap();
    assert_eq!(
        alice.account,
        store.account("alice").await.unwrap().unwrap()
    );
    assert_eq!(alice.device, store.active_device("alice").await.unwrap());
    assert_eq!(records[4], records[0], "the same account read again");
}

async fn racing_accepted_logins_win_once(backend: &Backend) {
    let (a, b) = backend.nodes().await;
    for n in 0..20 {
        let id = format!("user{n}");
        a.store.create_account(&account(&id), NOW).await.unwrap();
        a.store
            .bind_device(&device(&format!("dev{n}"), &id), false, NOW)
            .await
            .unwrap();
    }
    // Every login sent three times to each node, all at once.
    let mut tasks = tokio::task::JoinSet::new();
    for node in [a.logins, b.logins] {
        for copy in 0..3 {
            for n in 0..20 {
                let node = node.clone();
                tasks.spawn(async move {
                    let login = accepted(&format!("user{n}"), &format!("dev{n}"), 9, NOW + copy);
                    (n, node.record_accepted_login(login).await.unwrap())
                });
            }
        }
    }
    let mut wins = vec![0; 20];
    while let Some(done) = tasks.join_next().await {
        let (n, won) = done.unwrap();
        wins[n] += usize::from(won);
    }
    assert!(wins.iter().all(|&w| w == 1), "{}: {wins:?}", backend.name);
}

macro_rules! contract {
    (store: $($name:ident),* ; backend: $($bname:ident),* $(,)?) => {
        mod on_every_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    for backend in crate::common::store_backends().await {
                        eprintln!("-- {} on {}", stringify!($name), backend.name);
                        super::$name(&*backend.store).await;
                    }
                }
            )*
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

contract!(
    store:
        key_check_is_stored_once,
        accounts_are_created_once,
        import_creates_updates_and_keeps_hashes,
        import_is_all_or_nothing,
        status_password_lock_and_removal,
        failures_count_lock_and_restart,
        bind_device_conflicts_and_replaces,
        bind_devices_is_all_or_nothing,
        enrollment_replaces_pending_and_confirms,
        list_shows_device_state,
        replay_guard_accepts_each_step_once,
        clients_round_trip,
        audit_appends_and_pages,
        audit_search_filters_actor_range_and_pages,
        accepted_steps_keep_their_fingerprint,
        accounting_is_recorded,
        web_sessions_expire_move_and_end,
        web_sessions_end_with_their_account,
        invitations_are_single_use_expire_and_are_replaced,
        invitations_with_a_mailed_seed_activate_once_while_valid,
        an_invitation_shows_one_pending_device_at_a_time,
        web_session_flows_are_taken_once,
        owner_passwords_activate_and_reset_in_one_step,
        phone_changes_swap_only_the_bound_device;
    backend:
        challenges_are_single_use_and_expire,
        accepted_logins_are_recorded_in_order,
        an_accepted_logins_audit_event_is_stored_only_if_it_wins,
        an_accept_after_a_device_was_replaced_finds_its_row,
        login_records_read_accounts_with_their_active_device,
        import_of_ten_thousand_accounts,
        racing_replays_accept_exactly_once,
        racing_accepted_logins_win_once,
        racing_challenge_answers_win_once,
        racing_bindings_leave_one_active_device,
        bind_devices_of_ten_thousand,
        racing_device_imports_do_not_interleave,
        concurrent_audit_appends_keep_one_chain,
        tampering_is_detected,
        racing_invited_confirmations_activate_once,
        racing_phone_changes_win_once,
);

#[tokio::test]
async fn sqlite_file_is_created_migrated_twice_and_reopened() {
    sqlite_file_is_created_and_reopened().await;
}

#[tokio::test]
async fn unreachable_postgres_is_a_quick_backend_error() {
    let started = Instant::now();
    let result = store::connect("postgres://postgres@127.0.0.1:1/x", 2, test_chain()).await;
    assert!(matches!(result, Err(StoreError::Backend(_))), "{result:?}");
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn unknown_url_schemes_are_refused() {
    let result = store::connect("mysql://u:secret@db/x", 2, test_chain()).await;
    match result {
        Err(StoreError::UnsupportedUrl(u)) => assert!(!u.contains("secret"), "{u}"),
        other => panic!("expected UnsupportedUrl, got {other:?}"),
    }
}
