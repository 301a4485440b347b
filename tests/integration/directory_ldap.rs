//! The LDAP directory client against a real OpenLDAP (`tests/ldap/slapd.sh`): binds, injection attempts,
//! disabled and expired entries, groups, ldaps and StartTLS, the wrong CA, a stopped or frozen directory, failover
//! and the paged read of every entry.

use std::process::Command;

use crate::common::slapd::{Slapd, password_of, user_id};

/// The helper's directory answers a bind with a generated password, and stop/start/pause keep its data.
#[test]
fn slapd_helper_serves_generated_users() {
    let Some(mut slapd) = Slapd::start(5) else {
        return;
    };
    let whoami = |slapd: &Slapd, url: &str| {
        Command::new("ldapwhoami")
            .env("LDAPTLS_CACERT", &slapd.ca_file)
            .env("LDAPTLS_REQCERT", "demand")
            .args(["-x", "-o", "nettimeout=2", "-H", url, "-D"])
            .arg(format!("cn={},{}", user_id(1), slapd.base_dn))
            .args(["-w", &password_of(&user_id(1))])
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(whoami(&slapd, &slapd.ldaps_url.clone()));
    slapd.stop();
    assert!(!whoami(&slapd, &slapd.ldaps_url.clone()));
    slapd.restart();
    assert!(whoami(&slapd, &slapd.ldaps_url.clone()));
    assert_eq!(slapd.users, 5);
}
