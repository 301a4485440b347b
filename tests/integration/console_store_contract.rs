//! The store contract of the helpdesk console, run on every backend (SQLite in a file, PostgreSQL when
//! `MOTPD_TEST_DATABASE_URL` is set): admins created once; the attempt counter that locks before any secret
//! is compared and starts again after the lock; the replay guard's compare-and-set (two racing logins with one
//! step: one wins); a new TOTP ending the sessions; sessions that expire, carry the admin's role, and end with a
//! disabled or removed admin, and are never taken for an enrollment session (one table holds both kinds);
//! the account search (partial, case-insensitive, wildcards literal, bounded); the desk page's lists
//! (accounts locked now, last days in a range). A database of the schema before that table (version 15), on
//! SQLite and PostgreSQL, keeps its live sessions of both kinds through the migration.

use std::sync::Arc;

use motpd::model::{AccountStatus, AdminRole, NewAdmin, NewAdminSession, NewWebSession};
use motpd::store::{AccountUpsert, Store, StoreError};
use tokio::sync::Barrier;

use crate::common::{Backend, NOW, account};

fn admin(name: &str, role: AdminRole) -> NewAdmin {
    NewAdmin {
        name: name.to_owned(),
        role,
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$salt${name}"),
        sealed_totp: vec![1, 2, 3],
        totp_last_step: 100,
    }
}

fn session(byte: u8, name: &str, expires_at: i64) -> NewAdminSession {
    NewAdminSession {
        id_hash: vec![byte; 32],
        admin_name: name.to_owned(),
        csrf: format!("csrf-{byte}"),
        expires_at,
    }
}

async fn admins_are_created_once_and_removed_with_their_sessions(store: &dyn Store) {
    store
        .create_admin(&admin("desk", AdminRole::Helpdesk), NOW)
        .await
        .unwrap();
    match store
        .create_admin(&admin("desk", AdminRole::Admin), NOW)
        .await
    {
        Err(StoreError::Conflict(m)) => assert!(m.contains("desk"), "{m}"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    store
        .create_admin(&admin("boss", AdminRole::Admin), NOW)
        .await
        .unwrap();
    let desk = store.admin("desk").await.unwrap().unwrap();
    assert_eq!(desk.role, AdminRole::Helpdesk);
    assert_eq!(desk.sealed_totp, vec![1, 2, 3]);
    assert_eq!(desk.totp_last_step, Some(100));
    assert_eq!(
        (desk.failures, desk.locked_until, desk.disabled),
        (0, None, false)
    );
    assert_eq!((desk.created_at, desk.last_login_at), (NOW, None));
    let names: Vec<String> = store
        .list_admins()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, ["boss", "desk"]);
    assert!(store.admin("nobody").await.unwrap().is_none());

    store
        .create_admin_session(&session(1, "desk", NOW + 600), NOW)
        .await
        .unwrap();
    assert!(store.remove_admin("desk").await.unwrap());
    assert!(!store.remove_admin("desk").await.unwrap());
    assert!(
        store
            .touch_admin_session(&[1; 32], NOW, NOW + 600)
            .await
            .unwrap()
            .is_none()
    );
}

async fn attempts_lock_before_the_secret_and_a_success_clears_them(store: &dyn Store) {
    store
        .create_admin(&admin("desk", AdminRole::Helpdesk), NOW)
        .await
        .unwrap();
    let lock = NOW + 900;
    for n in 1..=3 {
        let reserved = store
            .reserve_admin_attempt("desk", 3, lock, NOW)
            .await
            .unwrap();
        assert_eq!(reserved, Some((n, None)), "attempt {n} is not locked");
    }
    let fourth = store
        .reserve_admin_attempt("desk", 3, lock, NOW)
        .await
        .unwrap();
    assert_eq!(fourth, Some((4, Some(lock))), "past 3 failures: locked");
    assert!(
        !store
            .record_admin_login("desk", 101, NOW + 1)
            .await
            .unwrap(),
        "a locked admin's code is not recorded"
    );
    // After the lock the counting starts again.
    let after = store
        .reserve_admin_attempt("desk", 3, lock + 1000, lock)
        .await
        .unwrap();
    assert_eq!(after, Some((1, None)));
    assert!(store.record_admin_login("desk", 101, lock).await.unwrap());
    let desk = store.admin("desk").await.unwrap().unwrap();
    assert_eq!((desk.failures, desk.locked_until), (0, None));
    assert_eq!(desk.last_login_at, Some(lock));
    assert_eq!(
        store
            .reserve_admin_attempt("nobody", 3, lock, NOW)
            .await
            .unwrap(),
        None
    );
}

async fn each_step_logs_in_once(store: &dyn Store) {
    store
        .create_admin(&admin("desk", AdminRole::Helpdesk), NOW)
        .await
        .unwrap();
    assert!(
        !store.record_admin_login("desk", 100, NOW).await.unwrap(),
        "the confirming code's step"
    );
    assert!(store.record_admin_login("desk", 101, NOW).await.unwrap());
    assert!(!store.record_admin_login("desk", 101, NOW).await.unwrap());
    assert!(!store.record_admin_login("desk", 99, NOW).await.unwrap());
    assert!(store.record_admin_login("desk", 103, NOW).await.unwrap());

    store
        .create_admin_session(&session(7, "desk", NOW + 600), NOW)
        .await
        .unwrap();
    assert!(
        store
            .replace_admin_totp("desk", &[9, 9], 200)
            .await
            .unwrap()
    );
    assert!(!store.replace_admin_totp("nobody", &[9], 200).await.unwrap());
    let desk = store.admin("desk").await.unwrap().unwrap();
    assert_eq!(
        (desk.sealed_totp, desk.totp_last_step),
        (vec![9, 9], Some(200))
    );
    assert!(
        store
            .touch_admin_session(&[7; 32], NOW, NOW + 600)
            .await
            .unwrap()
            .is_none(),
        "a new TOTP ends the sessions"
    );
    assert!(!store.record_admin_login("desk", 150, NOW).await.unwrap());
}

async fn disabled_admins_neither_log_in_nor_keep_sessions(store: &dyn Store) {
    store
        .create_admin(&admin("desk", AdminRole::Helpdesk), NOW)
        .await
        .unwrap();
    store
        .create_admin_session(&session(5, "desk", NOW + 600), NOW)
        .await
        .unwrap();
    assert!(store.set_admin_disabled("desk", true).await.unwrap());
    assert!(!store.set_admin_disabled("nobody", true).await.unwrap());
    assert!(store.admin("desk").await.unwrap().unwrap().disabled);
    assert!(
        store
            .touch_admin_session(&[5; 32], NOW, NOW + 600)
            .await
            .unwrap()
            .is_none()
    );
    assert!(!store.record_admin_login("desk", 101, NOW).await.unwrap());
    assert!(store.set_admin_disabled("desk", false).await.unwrap());
    assert!(store.record_admin_login("desk", 101, NOW).await.unwrap());
}

async fn racing_logins_with_one_step_admit_one(backend: &Backend) {
    backend
        .store
        .create_admin(&admin("desk", AdminRole::Helpdesk), NOW)
        .await
        .unwrap();
    let (a, b) = backend.nodes().await;
    let barrier = Arc::new(Barrier::new(2));
    let nodes: [Arc<dyn Store>; 2] = [a.store, b.store];
    let tasks: Vec<_> = nodes
        .into_iter()
        .map(|store| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                store.record_admin_login("desk", 150, NOW).await.unwrap()
            })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        wins += usize::from(task.await.unwrap());
    }
    assert_eq!(wins, 1);
}

async fn sessions_expire_carry_the_role_and_end_with_the_admin(store: &dyn Store) {
    store
        .create_admin(&admin("boss", AdminRole::Admin), NOW)
        .await
        .unwrap();
    store
        .create_admin_session(&session(2, "boss", NOW + 600), NOW)
        .await
        .unwrap();
    let found = store
        .touch_admin_session(&[2; 32], NOW + 10, NOW + 610)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.admin_name.as_str(), found.role, found.csrf.as_str()),
        ("boss", AdminRole::Admin, "csrf-2")
    );
    assert_eq!(
        found.expires_at,
        NOW + 600,
        "moved only when it gains a minute"
    );
    let moved = store
        .touch_admin_session(&[2; 32], NOW + 300, NOW + 900)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved.expires_at, NOW + 900);
    assert!(
        store
            .touch_admin_session(&[2; 32], NOW + 900, NOW + 1500)
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    assert!(
        store
            .touch_admin_session(&[3; 32], NOW, NOW + 600)
            .await
            .unwrap()
            .is_none()
    );
    store
        .create_admin_session(&session(4, "boss", NOW + 2000), NOW)
        .await
        .unwrap();
    assert_eq!(
        store.purge_expired_admin_sessions(NOW + 901).await.unwrap(),
        1
    );
    assert!(store.remove_admin_session(&[4; 32]).await.unwrap());
    assert!(!store.remove_admin_session(&[4; 32]).await.unwrap());
}

async fn accounts_are_found_by_part_of_id_name_or_phone(store: &dyn Store) {
    let people = [
        ("chen.mei", "陳美玲", "0912345678"),
        ("lin_wei", "Lin Wei", "0922000111"),
        ("linda", "Linda Wu", "0933000222"),
        ("x%y", "Percent Person", "0944000333"),
    ];
    for (id, name, phone) in people {
        let upsert = AccountUpsert {
            name: name.to_owned(),
            phone: Some(phone.to_owned()),
            ..account(id)
        };
        store.create_account(&upsert, NOW).await.unwrap();
    }
    let ids = |found: Vec<motpd::model::Account>| -> Vec<String> {
        found.into_iter().map(|a| a.id).collect()
    };
    assert_eq!(
        ids(store.search_accounts("LIN", 10).await.unwrap()),
        ["lin_wei", "linda"]
    );
    assert_eq!(
        ids(store.search_accounts("wu", 10).await.unwrap()),
        ["linda"]
    );
    assert_eq!(
        ids(store.search_accounts("美玲", 10).await.unwrap()),
        ["chen.mei"]
    );
    assert_eq!(
        ids(store.search_accounts("0922-000", 10).await.unwrap()),
        ["lin_wei"]
    );
    assert_eq!(
        ids(store.search_accounts("345", 10).await.unwrap()),
        ["chen.mei"]
    );
    assert_eq!(
        ids(store.search_accounts("+886 933", 10).await.unwrap()),
        ["linda"]
    );
    assert!(
        store.search_accounts("wei0", 10).await.unwrap().is_empty(),
        "a text with letters is no phone number"
    );
    assert_eq!(
        ids(store.search_accounts("n_w", 10).await.unwrap()),
        ["lin_wei"],
        "_ is literal"
    );
    assert_eq!(
        ids(store.search_accounts("%", 10).await.unwrap()),
        ["x%y"],
        "% is literal"
    );
    assert_eq!(
        ids(store.search_accounts("lin", 1).await.unwrap()),
        ["lin_wei"]
    );
    assert!(
        store
            .search_accounts("nobody", 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn locked_accounts_and_near_last_days_are_listed(store: &dyn Store) {
    use time::macros::date;
    let days = [
        ("a-soon", Some(date!(2026 - 12 - 10)), AccountStatus::Active),
        (
            "b-today",
            Some(date!(2026 - 12 - 07)),
            AccountStatus::Active,
        ),
        (
            "c-later",
            Some(date!(2027 - 01 - 30)),
            AccountStatus::Active,
        ),
        ("d-past", Some(date!(2026 - 12 - 06)), AccountStatus::Active),
        (
            "e-off",
            Some(date!(2026 - 12 - 08)),
            AccountStatus::Disabled,
        ),
        ("f-never", None, AccountStatus::Active),
    ];
    for (id, expires_on, status) in days {
        let upsert = AccountUpsert {
            expires_on,
            status,
            ..account(id)
        };
        store.create_account(&upsert, NOW).await.unwrap();
    }
    let ids = |found: Vec<motpd::model::Account>| -> Vec<String> {
        found.into_iter().map(|a| a.id).collect()
    };
    let (from, to) = (date!(2026 - 12 - 07), date!(2026 - 12 - 21));
    assert_eq!(
        ids(store.expiring_accounts(from, to, 10).await.unwrap()),
        ["b-today", "a-soon"],
        "soonest first; past, later, disabled and open-ended ones left out"
    );
    assert_eq!(
        ids(store.expiring_accounts(from, to, 1).await.unwrap()),
        ["b-today"]
    );

    assert!(store.locked_accounts(NOW, 10).await.unwrap().is_empty());
    store.lock_account("a-soon", NOW + 600, NOW).await.unwrap();
    store.lock_account("c-later", NOW + 60, NOW).await.unwrap();
    store
        .lock_account("d-past", NOW - 1, NOW - 900)
        .await
        .unwrap();
    assert_eq!(
        ids(store.locked_accounts(NOW, 10).await.unwrap()),
        ["a-soon", "c-later"],
        "running locks only, the one ending last first"
    );
    assert_eq!(
        ids(store.locked_accounts(NOW, 1).await.unwrap()),
        ["a-soon"]
    );
    store.unlock_account("a-soon", NOW).await.unwrap();
    assert_eq!(
        ids(store.locked_accounts(NOW, 10).await.unwrap()),
        ["c-later"]
    );
}

/// A session of one kind is not found, changed, ended or swept as the other: a console cookie's value is no
/// enrollment session, and the reverse.
async fn console_and_enrollment_sessions_stay_apart(store: &dyn Store) {
    store
        .create_admin(&admin("boss", AdminRole::Admin), NOW)
        .await
        .unwrap();
    let web = NewWebSession {
        id_hash: vec![7; 32],
        account_id: None,
        csrf: "csrf-web".into(),
        expires_at: NOW + 60,
    };
    store.create_web_session(&web, NOW).await.unwrap();
    store
        .create_admin_session(&session(8, "boss", NOW + 60), NOW)
        .await
        .unwrap();
    assert!(
        store
            .create_admin_session(&session(7, "boss", NOW + 60), NOW)
            .await
            .is_err(),
        "one ID hash, one session, whatever its kind"
    );
    let as_console = store.touch_admin_session(&[7; 32], NOW, NOW + 60).await;
    assert!(as_console.unwrap().is_none());
    let as_web = store.touch_web_session(&[8; 32], NOW, NOW + 60).await;
    assert!(as_web.unwrap().is_none());
    assert!(
        !store
            .set_web_session_flow(&[8; 32], Some("step"), NOW)
            .await
            .unwrap()
    );
    assert!(!store.remove_web_session(&[8; 32]).await.unwrap());
    assert!(!store.remove_admin_session(&[7; 32]).await.unwrap());
    let web_found = store.touch_web_session(&[7; 32], NOW, NOW + 60).await;
    assert_eq!(web_found.unwrap().unwrap().csrf, "csrf-web");
    let console_found = store.touch_admin_session(&[8; 32], NOW, NOW + 60).await;
    assert_eq!(console_found.unwrap().unwrap().csrf, "csrf-8");
    assert_eq!(store.count_admin_sessions(NOW).await.unwrap(), 1);
    assert_eq!(store.count_admin_sessions(NOW + 60).await.unwrap(), 0);
    assert_eq!(store.purge_expired_web_sessions(NOW + 61).await.unwrap(), 1);
    assert_eq!(
        store.purge_expired_admin_sessions(NOW + 61).await.unwrap(),
        1
    );
}

/// The migrations in `dir` before the one session table (version 16).
async fn schema_15(dir: &str) -> sqlx::migrate::Migrator {
    let mut migrator = sqlx::migrate::Migrator::new(std::path::Path::new(dir))
        .await
        .unwrap();
    let before: Vec<_> = migrator
        .migrations
        .iter()
        .filter(|m| m.version < 16)
        .cloned()
        .collect();
    assert_eq!(before.last().map(|m| m.version), Some(15));
    migrator.migrations = before.into();
    migrator
}

/// Migrates `$pool` to version 15 from `$dir` and stores an admin, an enrollment session in the middle of
/// the account pages (a flow) and a console session, in the tables of that version.
macro_rules! sessions_at_schema_15 {
    ($pool:expr, $dir:expr) => {{
        schema_15($dir).await.run(&$pool).await.unwrap();
        sqlx::query(
            "INSERT INTO admins (name, role, password_hash, sealed_totp, created_at) \
             VALUES ('boss', 'admin', 'x', $1, 0)",
        )
        .bind(vec![1u8])
        .execute(&$pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO web_sessions (id_hash, csrf, expires_at, created_at, flow) \
             VALUES ($1, 'csrf-web', $2, 0, 'step-1')",
        )
        .bind(vec![5u8; 32])
        .bind(NOW + 600)
        .execute(&$pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO admin_sessions (id_hash, admin_name, csrf, expires_at, created_at) \
             VALUES ($1, 'boss', 'csrf-console', $2, 0)",
        )
        .bind(vec![6u8; 32])
        .bind(NOW + 600)
        .execute(&$pool)
        .await
        .unwrap();
        $pool.close().await;
    }};
}

/// Opens the database at `url` (migrating it) and finds the sessions [`sessions_at_schema_15!`] stored.
async fn the_sessions_carry_on(url: &str) {
    let clock = Arc::new(motpd::clock::SystemClock);
    let store = crate::common::open_stores(url, clock).await.store;
    let web = store.touch_web_session(&[5; 32], NOW, NOW + 600).await;
    let web = web.unwrap().expect("the enrollment session carries on");
    assert_eq!(
        (web.csrf.as_str(), web.flow.as_deref()),
        ("csrf-web", Some("step-1"))
    );
    let console = store.touch_admin_session(&[6; 32], NOW, NOW + 600).await;
    let console = console.unwrap().expect("the console session carries on");
    assert_eq!(
        (
            console.admin_name.as_str(),
            console.role,
            console.csrf.as_str()
        ),
        ("boss", AdminRole::Admin, "csrf-console")
    );
    let crossed = store.touch_admin_session(&[5; 32], NOW, NOW + 600).await;
    assert!(crossed.unwrap().is_none(), "kinds kept");
    store.close().await;
}

#[tokio::test]
async fn sqlite_sessions_carry_on_through_the_migration_to_one_table() {
    use std::os::unix::fs::OpenOptionsExt;
    use std::str::FromStr;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("motpd.db");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .unwrap();
    let url = crate::common::sqlite_url(&dir);
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
        .unwrap()
        .foreign_keys(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    sessions_at_schema_15!(pool, "migrations/sqlite");
    the_sessions_carry_on(&url).await;
}

#[tokio::test]
async fn postgres_sessions_carry_on_through_the_migration_to_one_table() {
    let Ok(admin_url) = std::env::var(crate::common::PG_ENV) else {
        eprintln!(
            "PostgreSQL migration test skipped: set {}",
            crate::common::PG_ENV
        );
        return;
    };
    let db = crate::common::PgDatabase::create(&admin_url).await;
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    sessions_at_schema_15!(pool, "migrations/postgres");
    the_sessions_carry_on(&db.url).await;
}

macro_rules! console_contract {
    (store: $($name:ident),* ; backend: $($bname:ident),* $(,)?) => {
        mod on_every_backend {
            use crate::common::store_backends;
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
        }
    };
}

console_contract!(
    store:
        admins_are_created_once_and_removed_with_their_sessions,
        attempts_lock_before_the_secret_and_a_success_clears_them,
        each_step_logs_in_once,
        sessions_expire_carry_the_role_and_end_with_the_admin,
        accounts_are_found_by_part_of_id_name_or_phone,
        locked_accounts_and_near_last_days_are_listed,
        disabled_admins_neither_log_in_nor_keep_sessions,
        console_and_enrollment_sessions_stay_apart;
    backend:
        racing_logins_with_one_step_admit_one,
);
