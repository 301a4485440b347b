//! Master key rotation while logins run: real RADIUS Access-Requests on loopback against real nodes (one on an
//! SQLite file; two sharing PostgreSQL when `MOTPD_TEST_DATABASE_URL` is set), `motpd secrets rotate` run as the
//! real binary in the middle of the load. Checks: no login fails; every sealed value ends under the new key id;
//! a node seals new values under the new key after the rotation (on PostgreSQL the node that did not rotate);
//! `motpd audit verify` passes over both keys' spans; after a restart with only the new key every account still
//! logs in, and `audit verify` reports the old span as unverified (its key is gone), not as broken.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use motpd::audit::AuditChain;
use motpd::clock::{Clock, ManualClock};
use motpd::config::Language;
use motpd::otp::{self, Algorithm, Kind};
use motpd::radius::Code;
use motpd::secrets::{Aad, Keyring, MasterKey, sealed_key_id};
use motpd::store::{self, key_rotation::SealedKind};

use crate::common::fixture::{CLIENT, EngineFixture, SEED};
use crate::common::radius_client::{RadiusFixture, SECRET, TestClient, add_client};
use crate::common::{CACHE, NOW, postgres_backend, sqlite_url};

const PW: &str = "Nurse2024";
/// Accounts logging in every round (each once per time step, so replay never explains a reject).
const ACCOUNTS: usize = 10;

fn user(i: usize) -> String {
    format!("nurse{i}")
}

/// An installation's files: the old key, where the new one will be copied, and the configuration.
struct Site {
    dir: tempfile::TempDir,
    url: String,
    old_key: PathBuf,
    new_key: PathBuf,
    config: PathBuf,
}

impl Site {
    fn new(dir: tempfile::TempDir, url: String) -> Self {
        let old_key = dir.path().join("motpd.key");
        MasterKey::create_file(&old_key).unwrap();
        let site = Self {
            new_key: dir.path().join("motpd.key.next"),
            config: dir.path().join("motpd.toml"),
            old_key,
            url,
            dir,
        };
        // The new key's file is listed before it exists: the admin copies it there before rotating.
        site.write_config(&site.old_key, &[&site.new_key]);
        site
    }

    fn write_config(&self, key_file: &Path, extra: &[&Path]) {
        let extra: Vec<String> = extra
            .iter()
            .map(|p| format!("{:?}", p.display().to_string()))
            .collect();
        let text = format!(
            "[database]\nurl = {:?}\n\n[secrets]\nkey_file = {:?}\nextra_key_files = [{}]\n",
            self.url,
            key_file.display().to_string(),
            extra.join(", ")
        );
        std::fs::write(&self.config, text).unwrap();
    }

    /// Runs the real `motpd` binary with this site's configuration: success, and stdout + stderr.
    async fn motpd(&self, args: &[&str]) -> (bool, String) {
        let (code, text) = self.motpd_code(args).await;
        (code == Some(0), text)
    }

    /// As [`Site::motpd`], with the exit code.
    async fn motpd_code(&self, args: &[&str]) -> (Option<i32>, String) {
        let config = self.config.clone();
        let cwd = self.dir.path().to_owned();
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        tokio::task::spawn_blocking(move || {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_motpd"))
                .arg("--config")
                .arg(&config)
                .args(&args)
                .current_dir(cwd)
                .output()
                .unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            (out.status.code(), text)
        })
        .await
        .unwrap()
    }
}

/// A serving node on the site's database with `ring`, as `motpd serve` opens it (keyring audit chain, key check
/// value adopted).
async fn start_node(site: &Site, ring: Keyring, clock: &ManualClock) -> RadiusFixture {
    RadiusFixture::start_without_client(node_fixture(site, ring, clock).await).await
}

/// The engine of a node, not serving yet.
async fn node_fixture(site: &Site, ring: Keyring, clock: &ManualClock) -> EngineFixture {
    let ring = Arc::new(ring);
    let chain = AuditChain::keyring(ring.clone());
    let stores = store::open(&site.url, 4, chain, Arc::new(clock.clone()), CACHE)
        .await
        .unwrap();
    let candidate = ring.primary().key_check_value().unwrap();
    let stored = stores.store.ensure_key_check(&candidate).await.unwrap();
    ring.adopt_key_check(&stored).unwrap();
    EngineFixture::with_stores_and_key(stores, clock.clone(), ring, |c| {
        c.radius.language = Language::En;
    })
    .await
}

/// What the login loop saw.
#[derive(Default)]
struct Load {
    stop: AtomicBool,
    sent: AtomicU64,
    accepted: AtomicU64,
    failures: Mutex<Vec<String>>,
}

/// Rounds of logins until told to stop: each round moves the shared clock to a new time step and logs every
/// account in once, concurrently, spread over the nodes (alternating between rounds).
async fn run_load(nodes: Vec<std::net::SocketAddr>, clock: ManualClock, load: Arc<Load>) {
    let mut round = 0usize;
    while !load.stop.load(Ordering::SeqCst) {
        round += 1;
        clock.set(NOW + 30 * i64::try_from(round).unwrap());
        let t = u64::try_from(clock.now()).unwrap();
        let code = otp::totp_at(SEED, t, 30, 6, Algorithm::Sha1).unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..ACCOUNTS {
            let server = nodes[(i + round) % nodes.len()];
            let password = format!("{PW}{code}");
            let load = load.clone();
            tasks.spawn(async move {
                let mut client = TestClient::new(server, SECRET).await;
                load.sent.fetch_add(1, Ordering::SeqCst);
                match client.access(&user(i), password.as_bytes(), None).await {
                    Some(reply) if reply.code == Code::AccessAccept => {
                        load.accepted.fetch_add(1, Ordering::SeqCst);
                    }
                    other => load.failures.lock().unwrap().push(format!(
                        "round {round} {} via {server}: {:?}",
                        user(i),
                        other.map(|r| (r.code, r.messages))
                    )),
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    }
}

/// Waits until the loop has accepted `n` logins in all (bounded).
async fn accepted_at_least(load: &Load, n: u64) {
    for _ in 0..600 {
        if load.accepted.load(Ordering::SeqCst) >= n || !load.failures.lock().unwrap().is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the login loop stalled");
}

async fn rotation_under_load(site: Site, node_count: usize) {
    let clock = ManualClock::new(NOW);
    let old_id = MasterKey::load(&site.old_key).unwrap().key_id();
    let ring = || Keyring::load(&site.old_key, std::slice::from_ref(&site.new_key)).unwrap();
    let f = node_fixture(&site, ring(), &clock).await;
    add_client(&f, CLIENT, "127.0.0.1/32", SECRET, true).await;
    for i in 0..ACCOUNTS {
        f.account(&user(i), PW).await;
        f.device(&user(i), Kind::Totp).await;
    }
    // An mOTP device, so that a PIN is re-sealed too.
    f.account("pinned", PW).await;
    f.device("pinned", Kind::Motp).await;
    let mut nodes = vec![RadiusFixture::start_without_client(f).await];
    for _ in 1..node_count {
        nodes.push(start_node(&site, ring(), &clock).await);
    }

    // The new key is created (and "copied" to every node: they share this directory) while the nodes run.
    let new_key = site.new_key.display().to_string();
    let (ok, out) = site.motpd(&["secrets", "new-key", &new_key]).await;
    assert!(ok, "{out}");
    let new_id = MasterKey::load(&site.new_key).unwrap().key_id();

    let load = Arc::new(Load::default());
    let addrs = nodes.iter().map(|n| n.auth).collect();
    let looping = tokio::spawn(run_load(addrs, clock.clone(), load.clone()));
    accepted_at_least(&load, 2 * ACCOUNTS as u64).await;

    let answered = |load: &Load| {
        load.accepted.load(Ordering::SeqCst) + load.failures.lock().unwrap().len() as u64
    };
    let (sent_before, answered_before) = (load.sent.load(Ordering::SeqCst), answered(&load));
    let started = std::time::Instant::now();
    let (ok, out) = site
        .motpd(&["secrets", "rotate", "--new-key-file", &new_key])
        .await;
    let took = started.elapsed();
    // Logins in flight when the rotation started, and sent while it ran.
    let sent_during = sent_before - answered_before.min(sent_before)
        + load.sent.load(Ordering::SeqCst)
        - sent_before;
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("rotated from key {old_id} to key {new_id}")),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "re-sealed {} seed(s), 1 PIN(s), 1 client secret(s)",
            ACCOUNTS + 1
        )),
        "{out}"
    );
    assert!(
        sent_during > 0,
        "no login was in flight while the rotation ran"
    );

    let after = load.accepted.load(Ordering::SeqCst);
    accepted_at_least(&load, after + 3 * ACCOUNTS as u64).await;
    load.stop.store(true, Ordering::SeqCst);
    looping.await.unwrap();
    let failures = load.failures.lock().unwrap().clone();
    assert!(failures.is_empty(), "failed logins: {failures:?}");
    eprintln!(
        "{node_count} node(s): {} logins accepted, 0 failed, {sent_during} in flight while `secrets rotate` ran ({took:?}, process start included)",
        load.accepted.load(Ordering::SeqCst)
    );

    // Every sealed value is version 2 under the new key id.
    let store = nodes[0].f.store.clone();
    let values = store.sealed_values().await.unwrap();
    assert_eq!(values.len(), ACCOUNTS + 3, "seeds, a PIN, a client secret");
    for value in &values {
        assert_eq!(value.sealed[0], 2, "{value:?}");
        assert_eq!(
            sealed_key_id(&value.sealed).map(hex::encode),
            Some(new_id.clone())
        );
    }

    // The last node (on PostgreSQL not the one whose side rotated) seals new values under the new key.
    let last = nodes.last().unwrap();
    assert_eq!(
        last.f.key.key_id(),
        new_id,
        "the node follows the database's key"
    );
    last.f.account("late", PW).await;
    last.f.device("late", Kind::Totp).await;
    let late = store.sealed_values().await.unwrap();
    let late = late.iter().find(|v| v.account_id == "late").unwrap();
    assert_eq!(
        sealed_key_id(&late.sealed).map(hex::encode),
        Some(new_id.clone())
    );

    let (ok, out) = site.motpd(&["secrets", "status", "--json"]).await;
    assert!(ok, "{out}");
    let status: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(status["database_key_id"], new_id.as_str());
    let under = status["values"].as_object().unwrap();
    assert_eq!(under.keys().collect::<Vec<_>>(), vec![&new_id], "{status}");

    let (ok, out) = site.motpd(&["audit", "verify", "--json"]).await;
    assert!(ok, "{out}");
    let verified: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(verified["ok"], true, "{verified}");
    assert_eq!(verified["unverified_rows"], 0, "{verified}");
    let rotations = store
        .search_audit(&motpd::store::AuditFilter {
            kind_prefix: Some(motpd::audit::ROTATION_KIND.to_owned()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rotations.len(), 1);
    assert!(rotations[0].event.detail.contains(&new_id));

    for node in nodes {
        node.stop().await;
    }

    // The admin removes the old key from the configuration and restarts: only the new key.
    site.write_config(&site.new_key, &[]);
    let only_new = Keyring::load(&site.new_key, &[]).unwrap();
    let node = start_node(&site, only_new, &clock).await;
    clock.set(NOW + 30 * 10_000);
    let code = node.f.code_now();
    let mut client = node.client().await;
    for id in (0..ACCOUNTS).map(user).chain(["late".to_owned()]) {
        let reply = client
            .access(&id, format!("{PW}{code}").as_bytes(), None)
            .await
            .unwrap();
        assert_eq!(reply.code, Code::AccessAccept, "{id}: {}", reply.messages);
    }
    let pin = store.sealed_values().await.unwrap();
    let pin = pin
        .iter()
        .find(|v| v.kind == SealedKind::DevicePin)
        .unwrap();
    let opened = node
        .f
        .key
        .open(&Aad::device_pin(&pin.row, &pin.account_id), &pin.sealed)
        .unwrap();
    assert_eq!(opened.expose(), b"1234");
    node.stop().await;

    // Without the old key the old span cannot be checked: reported as unverified, the rest verified.
    let (ok, out) = site.motpd(&["audit", "verify", "--json"]).await;
    assert!(ok, "{out}");
    let verified: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(verified["ok"], true, "{verified}");
    assert!(
        verified["unverified_rows"].as_u64().unwrap() > 0,
        "{verified}"
    );
    assert_eq!(verified["unverified_key_id"], old_id.as_str(), "{verified}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_rotation_under_load_loses_no_login() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    rotation_under_load(Site::new(dir, url), 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_nodes_rotation_under_load_loses_no_login() {
    let Some(backend) = postgres_backend().await else {
        eprintln!("skipped: set MOTPD_TEST_DATABASE_URL");
        return;
    };
    let site = Site::new(tempfile::tempdir().unwrap(), backend.url.clone());
    rotation_under_load(site, 2).await;
    drop(backend);
}

#[tokio::test]
async fn a_missed_step_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    let site = Site::new(dir, url);
    site.write_config(&site.old_key, &[]);
    let (ok, out) = site.motpd(&["init"]).await;
    assert!(ok, "{out}");
    let new_key = site.new_key.display().to_string();
    let (ok, out) = site.motpd(&["secrets", "new-key", &new_key]).await;
    assert!(ok, "{out}");
    let new_id = MasterKey::load(&site.new_key).unwrap().key_id();

    // The new key file is not listed in this node's configuration: refused, nothing changed.
    let rotate = ["secrets", "rotate", "--new-key-file", new_key.as_str()];
    let (code, out) = site.motpd_code(&rotate).await;
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("is not listed in this node's configuration"),
        "{out}"
    );
    let (ok, out) = site.motpd(&["secrets", "status", "--json"]).await;
    assert!(ok, "{out}");
    assert!(!out.contains(&new_id), "{out}");

    site.write_config(&site.old_key, &[&site.new_key]);
    let (ok, out) = site.motpd(&rotate).await;
    assert!(ok, "{out}");
    // Run again with the same key: nothing left under the old key, the chain still verifies.
    let (ok, out) = site.motpd(&rotate).await;
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("rotated from key {new_id} to key {new_id}")),
        "{out}"
    );
    let (ok, out) = site.motpd(&["audit", "verify"]).await;
    assert!(ok, "{out}");

    // A node whose configuration lacks the key the database names refuses, naming it.
    site.write_config(&site.old_key, &[]);
    let (code, out) = site.motpd_code(&["secrets", "status"]).await;
    assert_eq!(code, Some(4), "{out}");
    assert!(out.contains(&format!("which uses key {new_id}")), "{out}");
}
