//! A real OpenLDAP directory for tests: `tests/ldap/slapd.sh` run into a temporary directory (a test CA, ldaps://
//! and StartTLS on loopback ports, N generated users in Active Directory shape; the script's header lists them).
//! The handle stops slapd by its PID when dropped, and can stop and start it again on the same ports with the
//! same data, or pause it (SIGSTOP: the port accepts connections and nothing answers) and resume it.
//!
//! slapd missing: [`Slapd::start`] says loudly that the test is skipped and returns `None`, or fails when
//! `MOTPD_REQUIRE_EXTERNAL_CLIENTS=1` (CI sets it and installs slapd).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use motpd::config::LdapConfig;

const REQUIRE_ENV: &str = "MOTPD_REQUIRE_EXTERNAL_CLIENTS";

/// The deterministic password of a generated user (`user00001` → `Passw0rd-user00001`).
pub(crate) fn password_of(id: &str) -> String {
    format!("Passw0rd-{id}")
}

/// The generated user number `n` (`user00001`).
pub(crate) fn user_id(n: usize) -> String {
    format!("user{n:05}")
}

/// A running slapd and what a client needs to reach it.
#[derive(Debug)]
pub(crate) struct Slapd {
    dir: tempfile::TempDir,
    pid: Option<u32>,
    paused: bool,
    /// Every `KEY=VALUE` line the script printed.
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) ldaps_url: String,
    pub(crate) ldap_url: String,
    pub(crate) ca_file: PathBuf,
    pub(crate) wrong_ca_file: PathBuf,
    pub(crate) bind_dn: String,
    pub(crate) bind_password_file: PathBuf,
    pub(crate) base_dn: String,
    /// The whole tree (`dc=hospital,dc=test`): the twins outside `base_dn` are found from here.
    pub(crate) suffix: String,
    pub(crate) users: usize,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ldap/slapd.sh")
}

fn slapd_installed() -> bool {
    let in_path = Command::new("sh")
        .args(["-c", "command -v slapd && command -v ldapwhoami"])
        .output()
        .is_ok_and(|o| o.status.success());
    in_path
        || (Path::new("/usr/sbin/slapd").exists()
            && Command::new("sh")
                .args(["-c", "command -v ldapwhoami"])
                .output()
                .is_ok_and(|o| o.status.success()))
}

fn parse(stdout: &str) -> BTreeMap<String, String> {
    stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

impl Slapd {
    /// Starts a directory with `users` generated users, or `None` (after a loud skip message) when slapd is not
    /// installed and `MOTPD_REQUIRE_EXTERNAL_CLIENTS` is not `1`.
    pub(crate) fn start(users: usize) -> Option<Slapd> {
        if !slapd_installed() {
            assert!(
                std::env::var(REQUIRE_ENV).as_deref() != Ok("1"),
                "OpenLDAP slapd is required ({REQUIRE_ENV}=1) but not installed; install it with: \
                 apt-get install slapd ldap-utils"
            );
            // Straight to the process's stderr: the harness would capture `eprintln!` and hide the skip.
            let _ = writeln!(
                std::io::stderr(),
                "\n!!!!!!!! SKIPPED: OpenLDAP slapd is not installed, so this directory test did not run. \
                 Install it with `apt-get install slapd ldap-utils`; set {REQUIRE_ENV}=1 to make this a \
                 failure. !!!!!!!!\n"
            );
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("motpd-slapd")
            .tempdir()
            .expect("temporary directory");
        let output = Command::new("bash")
            .arg(script())
            .args(["setup", "--users", &users.to_string(), "--dir"])
            .arg(dir.path().join("slapd"))
            .output()
            .expect("run tests/ldap/slapd.sh");
        assert!(
            output.status.success(),
            "tests/ldap/slapd.sh failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let env = parse(&String::from_utf8_lossy(&output.stdout));
        let get = |key: &str| {
            env.get(key)
                .unwrap_or_else(|| panic!("slapd.sh printed no {key}"))
                .clone()
        };
        let slapd = Slapd {
            pid: Some(get("PID").parse().expect("PID")),
            paused: false,
            ldaps_url: get("LDAPS_URL"),
            ldap_url: get("LDAP_URL"),
            ca_file: get("CA_FILE").into(),
            wrong_ca_file: get("WRONG_CA_FILE").into(),
            bind_dn: get("BIND_DN"),
            bind_password_file: get("BIND_PASSWORD_FILE").into(),
            base_dn: get("BASE_DN"),
            suffix: get("SUFFIX"),
            users: get("USERS").parse().expect("USERS"),
            env,
            dir,
        };
        Some(slapd)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("slapd")
    }

    /// Stops slapd (SIGTERM, waits for it to exit).
    pub(crate) fn stop(&mut self) {
        if self.pid.take().is_none() {
            return;
        }
        self.paused = false;
        let status = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(self.data_dir())
            .status()
            .expect("run slapd.sh stop");
        assert!(status.success(), "slapd.sh stop failed");
    }

    /// Starts slapd again on the same ports with the same data.
    pub(crate) fn restart(&mut self) {
        assert!(self.pid.is_none(), "slapd still runs");
        let output = Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(self.data_dir())
            .output()
            .expect("run slapd.sh start");
        assert!(
            output.status.success(),
            "slapd.sh start failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let env = parse(&String::from_utf8_lossy(&output.stdout));
        self.pid = Some(env["PID"].parse().expect("PID"));
    }

    fn signal(&self, signal: &str) {
        let pid = self.pid.expect("slapd runs");
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} {pid} failed");
    }

    /// Freezes slapd (SIGSTOP): connections are accepted by the kernel, nothing is answered.
    pub(crate) fn pause(&mut self) {
        self.signal("-STOP");
        self.paused = true;
    }

    /// Thaws a paused slapd (SIGCONT).
    pub(crate) fn resume(&mut self) {
        self.signal("-CONT");
        self.paused = false;
    }

    /// The PID of the running slapd.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// An `[ldap]` configuration for this directory over `urls` (the test's choice of ldaps/StartTLS).
    pub(crate) fn config(&self, urls: &[&str]) -> LdapConfig {
        LdapConfig {
            urls: urls.iter().map(|u| (*u).to_owned()).collect(),
            ca_file: Some(self.ca_file.clone()),
            bind_dn: self.bind_dn.clone(),
            bind_password_file: Some(self.bind_password_file.clone()),
            base_dn: self.base_dn.clone(),
            ..LdapConfig::default()
        }
    }

    /// The `[ldap]` TOML section for a test configuration file, over `urls`, with `groups` as `[ldap.groups]`.
    pub(crate) fn toml(&self, urls: &[&str], groups: &[(&str, &str)]) -> String {
        let quote = |s: &str| format!("{s:?}");
        let mut out = format!(
            "[ldap]\nurls = [{}]\nca_file = {}\nbind_dn = {}\nbind_password_file = {}\nbase_dn = {}\n",
            urls.iter().map(|u| quote(u)).collect::<Vec<_>>().join(", "),
            quote(&self.ca_file.display().to_string()),
            quote(&self.bind_dn),
            quote(&self.bind_password_file.display().to_string()),
            quote(&self.base_dn),
        );
        if !groups.is_empty() {
            out.push_str("\n[ldap.groups]\n");
            for (dn, group) in groups {
                out.push_str(&format!("{} = {}\n", quote(dn), quote(group)));
            }
        }
        out
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.take() {
            if self.paused {
                let _ = Command::new("kill")
                    .args(["-CONT", &pid.to_string()])
                    .status();
            }
            let _ = Command::new("bash")
                .arg(script())
                .arg("stop")
                .arg(self.data_dir())
                .status();
        }
    }
}
