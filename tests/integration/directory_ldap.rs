//! The LDAP directory client against a real OpenLDAP (`tests/ldap/slapd.sh`): binds, injection attempts,
//! disabled and expired entries, groups, ldaps and StartTLS, the wrong CA, a stopped or frozen directory, failover
//! and the paged read of every entry.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use motpd::clock::ManualClock;
use motpd::config::LdapConfig;
use motpd::directory::{Authentication, Directory, DirectoryError, LdapDirectory};
use motpd::secrets::SecretBytes;
use time::macros::{date, offset};

use crate::common::slapd::{Slapd, password_of, user_id};

const NURSES: &str = "CN=VPN-Nurses,OU=Groups,DC=hospital,DC=test";
const DOCTORS: &str = "cn=vpn-doctors, ou=groups, dc=hospital, dc=test";

fn secret(text: &str) -> SecretBytes {
    SecretBytes::new(text.as_bytes().to_vec())
}

fn with_groups(mut config: LdapConfig) -> LdapConfig {
    config.groups.insert(NURSES.into(), "nurses".into());
    config.groups.insert(DOCTORS.into(), "doctors".into());
    config
}

fn directory(config: &LdapConfig) -> LdapDirectory {
    LdapDirectory::new(config, offset!(+8)).unwrap()
}

async fn login(directory: &LdapDirectory, id: &str) -> Result<Authentication, DirectoryError> {
    directory.authenticate(id, &secret(&password_of(id))).await
}

fn authenticated(
    answer: Result<Authentication, DirectoryError>,
) -> motpd::directory::DirectoryEntry {
    match answer {
        Ok(Authentication::Authenticated(entry)) => entry,
        other => panic!("not authenticated: {other:?}"),
    }
}

/// A loopback port nothing listens on.
fn dead_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The helper's directory answers a bind with a generated password, and stop/start keep its data.
#[test]
fn slapd_helper_serves_generated_users() {
    let Some(mut slapd) = Slapd::start(5) else {
        return;
    };
    let whoami = |slapd: &Slapd| {
        Command::new("ldapwhoami")
            .env("LDAPTLS_CACERT", &slapd.ca_file)
            .env("LDAPTLS_REQCERT", "demand")
            .args(["-x", "-o", "nettimeout=2", "-H", &slapd.ldaps_url, "-D"])
            .arg(format!("cn={},{}", user_id(1), slapd.base_dn))
            .args(["-w", &password_of(&user_id(1))])
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(whoami(&slapd));
    slapd.stop();
    assert!(!whoami(&slapd));
    slapd.restart();
    assert!(whoami(&slapd));
    assert_eq!(slapd.users, 5);

    // The TOML section a test configuration includes reads back as the same settings.
    #[derive(serde::Deserialize)]
    struct Section {
        ldap: LdapConfig,
    }
    let urls = [slapd.ldaps_url.as_str(), slapd.ldap_url.as_str()];
    let parsed: Section = toml::from_str(&slapd.toml(&urls, &[(NURSES, "nurses")])).unwrap();
    let mut expected = slapd.config(&urls);
    expected.groups.insert(NURSES.into(), "nurses".into());
    assert_eq!(parsed.ldap, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binds_map_entries_and_groups_over_ldaps_and_starttls() {
    let Some(slapd) = Slapd::start(20) else {
        return;
    };
    for url in [&slapd.ldaps_url, &slapd.ldap_url] {
        let dir = directory(&with_groups(slapd.config(&[url])));
        let entry = authenticated(login(&dir, "user00001").await);
        assert_eq!(entry.id, "user00001");
        assert_eq!(entry.dn, format!("cn=user00001,{}", slapd.base_dn));
        assert_eq!(entry.name.as_deref(), Some("User 00001"));
        assert_eq!(entry.phone.as_deref(), Some("0900000001"));
        assert_eq!(entry.email.as_deref(), Some("user00001@hospital.test"));
        assert_eq!(entry.groups, Some(vec!["nurses".to_owned()]));
        assert!(!entry.disabled);
        assert_eq!(entry.expires_on, None);

        // The ID as a gateway may send it: case and surrounding blanks do not matter.
        let entry = authenticated(
            dir.authenticate(" USER00001 ", &secret(&password_of("user00001")))
                .await,
        );
        assert_eq!(entry.id, "user00001");

        // Staff-All is not in the table: only the doctors' group is sent. Expiry: the last day at UTC+8.
        let entry = authenticated(login(&dir, "user00006").await);
        assert_eq!(entry.groups, Some(vec!["doctors".to_owned()]));
        assert_eq!(entry.expires_on, Some(date!(2099 - 12 - 31)));
        let entry = authenticated(login(&dir, "user00007").await);
        assert_eq!(entry.name.as_deref(), Some("王小明"));
        assert_eq!(entry.phone, None);

        assert_eq!(
            dir.authenticate("user00001", &secret("Passw0rd-user00002"))
                .await
                .unwrap(),
            Authentication::WrongPassword
        );
        assert_eq!(
            dir.authenticate("user00001", &secret("passw0rd-user00001"))
                .await
                .unwrap(),
            Authentication::WrongPassword
        );
        assert_eq!(
            login(&dir, "nobody").await.unwrap(),
            Authentication::NotFound
        );
        // An empty password would be an anonymous bind that succeeds: never sent.
        for empty in ["", "  "] {
            assert_eq!(
                dir.authenticate("user00001", &secret(empty)).await.unwrap(),
                Authentication::WrongPassword
            );
        }
        assert_eq!(
            dir.find("user00009").await.unwrap().unwrap().id,
            "user00009"
        );
        assert_eq!(dir.find("user99999").await.unwrap(), None);
    }
    // Without a table, the directory's groups are not motpd's business.
    let dir = directory(&slapd.config(&[&slapd.ldaps_url]));
    assert_eq!(authenticated(login(&dir, "user00001").await).groups, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_and_expired_entries_are_refused_without_a_bind() {
    let Some(slapd) = Slapd::start(10) else {
        return;
    };
    let dir = directory(&slapd.config(&[&slapd.ldaps_url]));
    // userAccountControl 514, nsAccountLock, pwdAccountLockedTime.
    for id in ["user00002", "user00004", "user00005"] {
        for password in [password_of(id), "wrong".to_owned()] {
            match dir.authenticate(id, &secret(&password)).await.unwrap() {
                // The same answer with a wrong password: no bind decided it.
                Authentication::Refused(entry) => assert!(entry.disabled, "{id}"),
                other => panic!("{id}: {other:?}"),
            }
        }
    }
    // accountExpires 2020-01-01T00:00Z: the last day is 2020-01-01 at UTC+8.
    for password in [password_of("user00003"), "wrong".to_owned()] {
        match dir
            .authenticate("user00003", &secret(&password))
            .await
            .unwrap()
        {
            Authentication::Refused(entry) => {
                assert!(!entry.disabled);
                assert_eq!(entry.expires_on, Some(date!(2020 - 01 - 01)));
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(dir.find("user00002").await.unwrap().unwrap().disabled);

    // user00006 expires at 2100-01-01T00:00+08:00: the last second of 2099-12-31 still logs in, midnight not.
    let midnight = 4_102_444_800 - 8 * 3600;
    let at = |unix: i64| {
        directory(&slapd.config(&[&slapd.ldaps_url])).with_clock(Arc::new(ManualClock::new(unix)))
    };
    authenticated(login(&at(midnight - 1), "user00006").await);
    assert!(matches!(
        login(&at(midnight), "user00006").await.unwrap(),
        Authentication::Refused(_)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_injection_finds_and_binds_nothing() {
    let Some(slapd) = Slapd::start(20) else {
        return;
    };
    let dir = directory(&slapd.config(&[&slapd.ldaps_url]));
    let attempts = [
        "*",
        "*)(sAMAccountName=*",
        "user00001)(|(x=*",
        "user00001*",
        "user0000*",
        "user00001\0",
        "user00001\0)(x=*",
        "\\2a",
        "user0000\\31",
        "*)(objectClass=*))(|(sAMAccountName=*",
    ];
    for id in attempts {
        // Each with the password of the entry a broken filter would pick.
        let answer = dir
            .authenticate(id, &secret(&password_of("user00001")))
            .await
            .unwrap();
        assert_eq!(answer, Authentication::NotFound, "{id:?}");
        assert_eq!(dir.find(id).await.unwrap(), None, "{id:?}");
    }
    // A filter that matches by another attribute still yields only the entry carrying the asked-for ID.
    let mut by_cn_or_mail = slapd.config(&[&slapd.ldaps_url]);
    by_cn_or_mail.user_filter = "(|(sAMAccountName={id})(mail={id}))".into();
    let dir = directory(&by_cn_or_mail);
    assert_eq!(
        dir.authenticate(
            "user00001@hospital.test",
            &secret(&password_of("user00001"))
        )
        .await
        .unwrap(),
        Authentication::NotFound
    );
    authenticated(login(&dir, "user00001").await);
    // Two entries with one ID: ambiguous, so unknown.
    let mut whole_tree = slapd.config(&[&slapd.ldaps_url]);
    whole_tree.base_dn = slapd.suffix.clone();
    let dir = directory(&whole_tree);
    assert_eq!(dir.find("twin").await.unwrap(), None);
    assert_eq!(
        dir.authenticate("twin", &secret(&password_of("twin")))
            .await
            .unwrap(),
        Authentication::NotFound
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_another_ca_is_refused() {
    let Some(slapd) = Slapd::start(5) else {
        return;
    };
    for url in [&slapd.ldaps_url, &slapd.ldap_url] {
        let mut config = slapd.config(&[url]);
        config.ca_file = Some(slapd.wrong_ca_file.clone());
        let dir = directory(&config);
        let answer = login(&dir, "user00001").await;
        assert!(
            matches!(answer, Err(DirectoryError::Tls(_))),
            "{url}: {answer:?}"
        );
        let answer = dir.entries().await;
        assert!(
            matches!(answer, Err(DirectoryError::Tls(_))),
            "{url}: {answer:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_directory_fails_closed_and_recovers() {
    let Some(mut slapd) = Slapd::start(5) else {
        return;
    };
    let mut config = slapd.config(&[&slapd.ldaps_url]);
    config.timeout_ms = 1000;
    config.connect_timeout_ms = 1000;
    let dir = directory(&config);
    authenticated(login(&dir, "user00001").await);
    slapd.stop();
    for _ in 0..2 {
        let started = Instant::now();
        let answer = login(&dir, "user00001").await;
        assert!(
            matches!(
                answer,
                Err(DirectoryError::Unreachable(_) | DirectoryError::Timeout(_))
            ),
            "{answer:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert!(dir.find("user00001").await.is_err());
        assert!(dir.entries().await.is_err());
    }
    slapd.restart();
    authenticated(login(&dir, "user00001").await);
    assert_eq!(dir.entries().await.unwrap().len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_directory_times_out_and_recovers() {
    let Some(mut slapd) = Slapd::start(5) else {
        return;
    };
    let mut config = slapd.config(&[&slapd.ldaps_url]);
    config.timeout_ms = 500;
    config.connect_timeout_ms = 500;
    let dir = directory(&config);
    authenticated(login(&dir, "user00001").await);
    slapd.pause();
    // Once on the pooled connection (the operation time-out), once on a new one (TCP connects, TLS never
    // completes: the connect time-out).
    for _ in 0..2 {
        let started = Instant::now();
        let answer = login(&dir, "user00001").await;
        let took = started.elapsed();
        assert!(
            matches!(answer, Err(DirectoryError::Timeout(_))),
            "{answer:?}"
        );
        // Generous for a loaded machine: five time-outs.
        assert!(took < Duration::from_millis(2500), "{took:?}");
        assert!(took >= Duration::from_millis(400), "{took:?}");
    }
    slapd.resume();
    authenticated(login(&dir, "user00001").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_first_server_fails_over_to_the_next() {
    let Some(slapd) = Slapd::start(5) else {
        return;
    };
    let dead = format!("ldaps://127.0.0.1:{}", dead_port());
    let dead_starttls = format!("ldap://127.0.0.1:{}", dead_port());
    let dir = directory(&slapd.config(&[&dead, &dead_starttls, &slapd.ldap_url]));
    for _ in 0..3 {
        authenticated(login(&dir, "user00001").await);
        assert_eq!(
            dir.authenticate("user00001", &secret("wrong"))
                .await
                .unwrap(),
            Authentication::WrongPassword
        );
    }
    assert_eq!(dir.entries().await.unwrap().len(), 5);
    // Only dead servers: an error, never an answer.
    let dir = directory(&slapd.config(&[&dead]));
    assert!(matches!(
        login(&dir, "user00001").await,
        Err(DirectoryError::Unreachable(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_entry_is_read_page_by_page() {
    let Some(slapd) = Slapd::start(1200) else {
        return;
    };
    // slapd answers at most 1000 entries to a search without paging, as Active Directory does.
    let mut config = with_groups(slapd.config(&[&slapd.ldaps_url]));
    config.page_size = 500;
    let dir = directory(&config);
    let entries = dir.entries().await.unwrap();
    assert_eq!(entries.len(), 1200);
    let ids: Vec<String> = entries.iter().map(|e| e.id.clone()).collect();
    let expected: Vec<String> = (1..=1200).map(user_id).collect();
    assert_eq!(ids, expected);
    // 00002, 00004, 00005 and every hundredth.
    assert_eq!(entries.iter().filter(|e| e.disabled).count(), 15);
    let e = &entries[1199];
    assert_eq!(e.phone.as_deref(), Some("0900001200"));
    assert_eq!(e.groups, Some(vec!["doctors".to_owned()]));
    assert!(e.disabled);
}

/// Established TCP connections to `port` on loopback (the client ends: `ss` shows each connection twice).
fn connections_to(port: &str) -> usize {
    let out = Command::new("ss")
        .args(["-Htn", "state", "established"])
        .arg(format!("( dport = :{port} )"))
        .output()
        .expect("ss (iproute2)");
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_logins_share_a_bounded_pool() {
    let Some(slapd) = Slapd::start(40) else {
        return;
    };
    let mut config = slapd.config(&[&slapd.ldaps_url]);
    config.pool_size = 2;
    config.timeout_ms = 5000;
    let dir = Arc::new(directory(&config));
    let mut tasks = Vec::new();
    for n in 1..=40 {
        let dir = dir.clone();
        tasks.push(tokio::spawn(async move {
            let id = user_id(n);
            (n, login(&dir, &id).await)
        }));
    }
    for task in tasks {
        let (n, answer) = task.await.unwrap();
        match answer {
            Ok(Authentication::Authenticated(_)) => {}
            // 2, 4, 5 are disabled, 3 expired.
            Ok(Authentication::Refused(_)) if [2, 3, 4, 5].contains(&n) => {}
            other => panic!("{n}: {other:?}"),
        }
    }
    // Two search and two bind connections at most stay open.
    let port = slapd.ldaps_url.rsplit(':').next().unwrap();
    let open = connections_to(port);
    assert!((1..=4).contains(&open), "{open} connections");
}
