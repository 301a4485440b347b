//! Logins whose password a real directory checks: the real `motpd serve` with `accounts.password_source =
//! "ldap"` against a real OpenLDAP (`tests/ldap/slapd.sh`, Active Directory shape), with FreeRADIUS `radclient`
//! and Python `pyrad` as NetScaler: the directory password plus the code, groups from the directory, an entry
//! disabled there, the directory stopped and paused (fail closed, then recovery), `otp-only` reading the entry,
//! and `password_source = "none"`.

use std::time::{Duration, Instant};

use crate::common::slapd::{Slapd, password_of, user_id};
use crate::external_clients::{
    DirectorySite, SECRET, SEED_BASE32, Server, Setup, code_now, pyrad_as, pyrad_available,
    radclient, radclient_available, stdout,
};

const NURSES: &str = "cn=VPN-Nurses,ou=Groups,dc=hospital,dc=test";
const DOCTORS: &str = "cn=VPN-Doctors,ou=Groups,dc=hospital,dc=test";

/// `[accounts]`, `[ldap]` (over ldaps, groups mapped) and `[radius] mode` for `directory`.
fn site(directory: Option<&Slapd>, mode: &str, account: &str) -> DirectorySite {
    let source = if directory.is_some() { "ldap" } else { "none" };
    let mut text =
        format!("[accounts]\npassword_source = \"{source}\"\n\n[radius]\nmode = \"{mode}\"\n\n");
    if let Some(directory) = directory {
        text.push_str(&directory.toml(
            &[&directory.ldaps_url],
            &[(NURSES, "nurses"), (DOCTORS, "doctors")],
        ));
        text.push('\n');
    }
    let mut tables: toml::Table = text.parse().unwrap();
    // Half a second per operation, so the paused directory is given up on well inside NetScaler's 3 s.
    if let Some(ldap) = tables.get_mut("ldap").and_then(|l| l.as_table_mut()) {
        ldap.insert("timeout_ms".into(), 500.into());
        ldap.insert("connect_timeout_ms".into(), 500.into());
    }
    DirectorySite {
        tables,
        account: account.to_owned(),
    }
}

fn login(user: &str, password: &str) -> String {
    format!("User-Name={user},User-Password={password},Message-Authenticator=0x00")
}

/// Adds `id` to the site with the seed every test account shares.
fn add_account(server: &Server, id: &str) {
    server.motpd(&["user", "add", id, "--groups", "vpn"], None);
    server.motpd(
        &["device", "enroll", id, "--secret-stdin"],
        Some(SEED_BASE32),
    );
}

#[test]
fn radclient_and_pyrad_log_in_with_the_directory_password_and_a_code() {
    if !radclient_available() || !pyrad_available() {
        return;
    }
    let Some(directory) = Slapd::start(20) else {
        return;
    };
    let alice = user_id(1);
    let server = Server::start(&Setup {
        language: Some("en"),
        directory: Some(site(Some(&directory), "password+otp", &alice)),
        ..Setup::default()
    });
    let code = code_now();

    // The directory's password and the code: Accept, with the groups the directory maps (user00001 is a nurse),
    // not the ones motpd holds for the account.
    let typed = format!("{}{code}", password_of(&alice));
    let (status, out) = radclient(server.auth, &login(&alice, &typed), "auth", SECRET, 3);
    assert!(
        status.success() && out.contains("Received Access-Accept"),
        "{out}"
    );
    assert!(
        out.contains(r#"Citrix-User-Groups = "nurses""#),
        "groups: {out}"
    );

    // A wrong directory password with a right code: Reject.
    let bob = user_id(11);
    add_account(&server, &bob);
    let (status, out) = radclient(
        server.auth,
        &login(&bob, &format!("Passw0rd-wrong{code}")),
        "auth",
        SECRET,
        3,
    );
    assert!(
        !status.success() && out.contains("Received Access-Reject"),
        "{out}"
    );

    // pyrad, another account, the right password: Accept.
    let out = pyrad_as(
        &server,
        &bob,
        SECRET,
        &format!("{}{code}", password_of(&bob)),
        "accept",
        &[],
    );
    assert!(out.status.success(), "pyrad: {}", stdout(&out));

    // Disabled in the directory (user00002: userAccountControl 514), active at motpd: the right password and
    // code are refused, and nothing is bound to the directory as that user.
    let disabled = user_id(2);
    add_account(&server, &disabled);
    let typed = format!("{}{code}", password_of(&disabled));
    let (status, out) = radclient(server.auth, &login(&disabled, &typed), "auth", SECRET, 3);
    assert!(
        !status.success() && out.contains("Received Access-Reject"),
        "{out}"
    );

    // Expired in the directory (user00003: accountExpires 2020): refused too.
    let expired = user_id(3);
    add_account(&server, &expired);
    let typed = format!("{}{code}", password_of(&expired));
    let (status, out) = radclient(server.auth, &login(&expired, &typed), "auth", SECRET, 3);
    assert!(
        !status.success() && out.contains("Received Access-Reject"),
        "{out}"
    );

    let log = server.stop();
    assert!(
        !log.contains(&password_of(&alice)) && !log.contains("Passw0rd-wrong"),
        "no password in the log:\n{log}"
    );
    assert!(log.contains(r#"reason="disabled""#), "{log}");
    assert!(log.contains(r#"reason="expired""#), "{log}");
}

#[test]
fn a_directory_that_is_away_or_silent_gets_no_accept_and_service_returns_by_itself() {
    if !radclient_available() {
        return;
    }
    let Some(mut directory) = Slapd::start(20) else {
        return;
    };
    let alice = user_id(1);
    let mut site = site(Some(&directory), "password+otp", &alice);
    // Two failures lock: the retries below would lock alice if an outage counted as failures.
    let policy = toml::Table::from_iter([("lockout_failures".to_owned(), 2.into())]);
    site.tables.insert("policy".into(), policy.into());
    let server = Server::start(&Setup {
        language: Some("en"),
        directory: Some(site),
        ..Setup::default()
    });
    let typed = format!("{}{}", password_of(&alice), code_now());
    let request = login(&alice, &typed);

    // Stopped: nothing listens. No reply (radius.on_store_error = "drop": NetScaler tries the next server), as
    // often as NetScaler retries, and the same for an account motpd does not hold (no oracle).
    directory.stop();
    for _ in 0..3 {
        let (status, out) = radclient(server.auth, &request, "auth", SECRET, 2);
        assert!(
            !status.success() && out.contains("No reply from server"),
            "stopped: {out}"
        );
        assert!(!out.contains("Access-Accept"), "stopped: {out}");
    }
    let (status, out) = radclient(server.auth, &login("nobody", &typed), "auth", SECRET, 2);
    assert!(
        !status.success() && out.contains("No reply from server"),
        "unknown: {out}"
    );

    // Back: the same request (its code never used, no failure counted) is accepted, without a restart of
    // motpd.
    directory.restart();
    let (status, out) = radclient(server.auth, &request, "auth", SECRET, 3);
    assert!(
        status.success() && out.contains("Received Access-Accept"),
        "restarted: {out}"
    );

    // Paused (the port accepts, nothing answers): given up on within the operation time-out, no reply, and the
    // server answers the next request the moment the directory does.
    let bob = user_id(11);
    add_account(&server, &bob);
    let request = login(&bob, &format!("{}{}", password_of(&bob), code_now()));
    directory.pause();
    let started = Instant::now();
    let (status, out) = radclient(server.auth, &request, "auth", SECRET, 2);
    assert!(
        !status.success() && !out.contains("Access-Accept"),
        "paused: {out}"
    );
    directory.resume();
    let (status, out) = radclient(server.auth, &request, "auth", SECRET, 3);
    assert!(
        status.success() && out.contains("Received Access-Accept"),
        "resumed: {out}"
    );
    assert!(started.elapsed() < Duration::from_secs(30), "bounded");

    let log = server.stop();
    for failure in [
        "no reply (radius.on_store_error = \"drop\")",
        "error=directory failure: directory unreachable",
        "error=directory failure: directory did not answer within 500 ms",
    ] {
        assert!(log.contains(failure), "{failure} is logged:\n{log}");
    }
}

#[test]
fn otp_only_reads_groups_and_disabled_state_from_the_directory() {
    if !radclient_available() {
        return;
    }
    let Some(directory) = Slapd::start(20) else {
        return;
    };
    let doctor = user_id(10);
    let server = Server::start(&Setup {
        language: Some("en"),
        directory: Some(site(Some(&directory), "otp-only", &doctor)),
        ..Setup::default()
    });
    let code = code_now();
    let (status, out) = radclient(server.auth, &login(&doctor, &code), "auth", SECRET, 3);
    assert!(
        status.success() && out.contains("Received Access-Accept"),
        "{out}"
    );
    assert!(
        out.contains(r#"Citrix-User-Groups = "doctors""#),
        "groups: {out}"
    );

    let disabled = user_id(2);
    add_account(&server, &disabled);
    let (status, out) = radclient(server.auth, &login(&disabled, &code), "auth", SECRET, 3);
    assert!(
        !status.success() && out.contains("Received Access-Reject"),
        "{out}"
    );
    server.stop();
}

#[test]
fn password_source_none_serves_otp_only_without_any_password_at_motpd() {
    if !radclient_available() {
        return;
    }
    let server = Server::start(&Setup {
        language: Some("en"),
        directory: Some(site(None, "otp-only", "carol")),
        ..Setup::default()
    });
    // Active without a password (nothing to activate), and no password can be set.
    let shown = server.motpd(&["user", "show", "carol"], None);
    assert!(shown.contains("active"), "{shown}");
    let refused = server.motpd_fails(
        &["user", "set-password", "carol", "--password-stdin"],
        "Nurse2024x",
    );
    assert!(refused.contains("keeps no passwords"), "{refused}");
    // An invitation link would ask for a password nobody can check: only the mailed QR code is offered.
    let refused = server.motpd_fails(&["invite", "carol"], "");
    assert!(refused.contains("--qr-in-mail"), "{refused}");
    let (status, out) = radclient(server.auth, &login("carol", &code_now()), "auth", SECRET, 3);
    assert!(
        status.success() && out.contains("Received Access-Accept"),
        "{out}"
    );
    server.stop();
}

/// The enrollment pages with the directory's passwords: the login takes the directory password (and not
/// anything else), an account disabled there is told so, and the activation and reset pages point to the
/// directory's own process.
#[tokio::test]
async fn the_enrollment_pages_log_in_with_the_directory_password() {
    use std::sync::Arc;

    use axum::http::StatusCode;
    use motpd::config::PasswordSource;
    use motpd::directory::LdapDirectory;
    use motpd::engine::PasswordAuthority;
    use motpd::server::web::WebState;
    use motpd::store::AccountStatus;

    use crate::common::fixture::EngineFixture;
    use crate::web_enroll::{Browser, INSIDE, web_config};

    let Some(directory) = Slapd::start(20) else {
        return;
    };
    let ldap = directory.config(&[&directory.ldap_url]);
    let f = EngineFixture::new(|config| {
        web_config(config);
        config.accounts.password_source = PasswordSource::Ldap;
        config.ldap = ldap.clone();
        config.ldap.password_help_url = "https://password.hospital.test".into();
    })
    .await;
    let (alice, disabled) = (user_id(1), user_id(2));
    for id in [&alice, &disabled] {
        f.account_with_hash(id, None, AccountStatus::Active).await;
    }
    let mut state = WebState::new(
        &f.config,
        &f.stores,
        f.key.clone(),
        Arc::new(f.clock.clone()),
    );
    let authority = LdapDirectory::new(&f.config.ldap, f.config.policy.utc_offset).unwrap();
    state.set_password_authority(PasswordAuthority::Directory(Arc::new(authority)));
    let state = Arc::new(state);

    let mut b = Browser::new(&state, INSIDE).with_header("accept-language", "en");
    let log_in = async |b: &mut Browser, account: &str, password: &str| {
        let csrf = b.get("/enroll").await.field("csrf");
        b.post(
            "/enroll/login",
            &[
                ("csrf", &csrf),
                ("account", account),
                ("password", password),
            ],
        )
        .await
    };
    let wrong = log_in(&mut b, &alice, "Passw0rd-wrong").await;
    assert_eq!(wrong.status, StatusCode::OK);
    assert!(
        wrong.body.contains("Wrong account or password"),
        "{}",
        wrong.body
    );
    // Disabled in the directory: no bind, and told like a wrong password (the page confirms nothing).
    let refused = log_in(&mut b, &disabled, &password_of(&disabled)).await;
    assert!(
        refused.body.contains("Wrong account or password"),
        "{}",
        refused.body
    );
    let right = log_in(&mut b, &alice, &password_of(&alice)).await;
    assert_eq!(right.status, StatusCode::SEE_OTHER, "{}", right.body);
    assert_eq!(right.location(), "/enroll/device");

    for page in ["/account/reset", "/account/activate"] {
        let shown = Browser::new(&state, INSIDE)
            .with_header("accept-language", "en")
            .get(page)
            .await;
        assert!(
            shown.body.contains("https://password.hospital.test")
                && shown.body.contains("does not keep it"),
            "{page}: {}",
            shown.body
        );
    }
}
