//! The `provision` subcommand: writes the population's files into `--out`:
//! - `users.csv` for `motpd user import` (`id,name,phone,email,expires,groups,password_hash`, Argon2id PHC
//!   hashes computed in parallel threads);
//! - `devices.csv` for `motpd device import` (`id,kind,secret,digits,period`: TOTP, base32, 6 digits, 30 s);
//! - `freeradius-users`, a FreeRADIUS `users` file (`Cleartext-Password`, and `TOTP-Secret` for rlm_totp).
//!
//! Writes only those three files; never talks to a server.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use argon2::password_hash::PasswordHasher;
use argon2::{Argon2, Params};
use motpd::otp::seed_to_base32;

use crate::LoadError;
use crate::cli::{HashCost, ProvisionArgs};
use crate::population::{DIGITS, Naming, PERIOD, Population};

/// `--hash-cost fast`: Argon2id with 1 MiB of memory and one pass.
const FAST_MEMORY_KIB: u32 = 1024;
/// Group of every provisioned account.
const GROUP: &str = "loadtest";

pub(crate) fn provision(args: &ProvisionArgs) -> Result<(), LoadError> {
    if args.users == 0 {
        return Err(LoadError::Usage("--users must be at least 1".into()));
    }
    std::fs::create_dir_all(&args.out).map_err(|source| LoadError::File {
        path: args.out.clone(),
        source,
    })?;
    let population = Population::new(&args.seed_key, args.users, args.names);
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
        .max(1);
    eprintln!(
        "radius_load: hashing {} passwords with Argon2id ({:?} cost) on {threads} threads",
        args.users, args.hash_cost
    );
    let started = Instant::now();
    let hashes = hash_all(args.users, args.hash_cost, args.names, threads)?;
    eprintln!(
        "radius_load: hashed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let paths = ["users.csv", "devices.csv", "freeradius-users"].map(|name| args.out.join(name));
    let [users, devices, freeradius] = &paths;
    write_accounts(users, &population, &hashes)?;
    write_devices(devices, &population)?;
    write_freeradius(freeradius, &population, !args.no_totp_secret)?;
    explain(args, &paths);
    Ok(())
}

fn explain(args: &ProvisionArgs, paths: &[PathBuf; 3]) {
    let [users, devices, freeradius] = paths;
    println!(
        "wrote {}, {} and {}",
        users.display(),
        devices.display(),
        freeradius.display()
    );
    println!("  motpd user import {}", users.display());
    println!("  motpd device import {}", devices.display());
    println!("  (or per user: printf '%s' SECRET | motpd device enroll ID --secret-stdin)");
    println!(
        "  FreeRADIUS: $INCLUDE {} from mods-config/files/authorize",
        freeradius.display()
    );
    if args.hash_cost == HashCost::Fast {
        println!(
            "note: fast hashes verify, but motpd re-hashes each at its own cost on the user's first successful \
             login (one more Argon2id hash and a database write per user): the first pass is slower"
        );
    }
}

fn hash_error(error: impl std::fmt::Display) -> LoadError {
    LoadError::Hash(error.to_string())
}

fn fast_hasher() -> Result<Argon2<'static>, LoadError> {
    let params = Params::new(FAST_MEMORY_KIB, 1, 1, None).map_err(hash_error)?;
    Ok(Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        params,
    ))
}

fn hash_one(cost: HashCost, fast: &Argon2<'_>, password: &[u8]) -> Result<String, LoadError> {
    match cost {
        HashCost::Default => motpd::password::hash_password(password).map_err(hash_error),
        HashCost::Fast => fast
            .hash_password(password)
            .map(|hash| hash.to_string())
            .map_err(hash_error),
    }
}

/// The hashes of users `range`, in order, counting progress in `done` (a line every 5 % of `total`).
fn hash_range(
    range: std::ops::Range<u64>,
    cost: HashCost,
    names: Naming,
    done: &AtomicU64,
    total: u64,
) -> Result<Vec<String>, LoadError> {
    let fast = fast_hasher()?;
    let every = (total / 20).max(1);
    range
        .map(|index| {
            let hash = hash_one(cost, &fast, names.password(&names.name(index)).as_bytes());
            let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
            if finished.is_multiple_of(every) {
                eprintln!("radius_load: {finished}/{total} hashed");
            }
            hash
        })
        .collect()
}

/// Every user's hash, in user order, on `threads` threads.
fn hash_all(
    users: u64,
    cost: HashCost,
    names: Naming,
    threads: usize,
) -> Result<Vec<String>, LoadError> {
    let threads = u64::try_from(threads).unwrap_or(1).clamp(1, users);
    let chunk = users.div_ceil(threads);
    let done = AtomicU64::new(0);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let range = (t * chunk).min(users)..((t + 1) * chunk).min(users);
                let done = &done;
                scope.spawn(move || hash_range(range, cost, names, done, users))
            })
            .collect();
        let mut all = Vec::new();
        for handle in handles {
            let part = handle
                .join()
                .map_err(|_| LoadError::Hash("a hashing thread panicked".into()))??;
            all.extend(part);
        }
        Ok(all)
    })
}

fn csv_error(path: &Path) -> impl Fn(csv::Error) -> LoadError + '_ {
    move |source| LoadError::Csv {
        path: path.to_owned(),
        source,
    }
}

fn write_accounts(
    path: &Path,
    population: &Population,
    hashes: &[String],
) -> Result<(), LoadError> {
    let mut out = csv::Writer::from_path(path).map_err(csv_error(path))?;
    out.write_record([
        "id",
        "name",
        "phone",
        "email",
        "expires",
        "groups",
        "password_hash",
    ])
    .map_err(csv_error(path))?;
    for (index, hash) in (0_u64..).zip(hashes) {
        let id = population.name(index);
        let name = format!("Load User {}", index + 1);
        out.write_record([id.as_str(), &name, "", "", "", GROUP, hash])
            .map_err(csv_error(path))?;
    }
    out.flush().map_err(|source| file_error(path, source))
}

fn write_devices(path: &Path, population: &Population) -> Result<(), LoadError> {
    let mut out = csv::Writer::from_path(path).map_err(csv_error(path))?;
    out.write_record(["id", "kind", "secret", "digits", "period"])
        .map_err(csv_error(path))?;
    let (digits, period) = (DIGITS.to_string(), PERIOD.to_string());
    for index in 0..population.users() {
        let id = population.name(index);
        let secret = seed_to_base32(&population.seed(&id));
        out.write_record([id.as_str(), "totp", &secret, &digits, &period])
            .map_err(csv_error(path))?;
    }
    out.flush().map_err(|source| file_error(path, source))
}

fn file_error(path: &Path, source: std::io::Error) -> LoadError {
    LoadError::File {
        path: path.to_owned(),
        source,
    }
}

/// One `users` entry: `load000001 Cleartext-Password := "Pwload0000011", TOTP-Secret := "BASE32"`.
pub(crate) fn freeradius_line(population: &Population, index: u64, totp_secret: bool) -> String {
    let id = population.name(index);
    let mut line = format!(
        "{id} Cleartext-Password := \"{}\"",
        population.password(&id)
    );
    if totp_secret {
        let secret = seed_to_base32(&population.seed(&id));
        line.push_str(&format!(", TOTP-Secret := \"{secret}\""));
    }
    line
}

fn write_freeradius(
    path: &Path,
    population: &Population,
    totp_secret: bool,
) -> Result<(), LoadError> {
    let file = File::create(path).map_err(|source| file_error(path, source))?;
    let mut out = BufWriter::new(file);
    let header = format!(
        "# radius_load provision: {} users, passwords Pw<user>1, TOTP seeds HMAC-SHA1(seed-key, user)\n\
         # ({DIGITS} digits, {PERIOD} s, SHA1). TOTP-Secret is read by rlm_totp (FreeRADIUS 3.2+).\n",
        population.users()
    );
    out.write_all(header.as_bytes())
        .map_err(|source| file_error(path, source))?;
    for index in 0..population.users() {
        writeln!(out, "{}", freeradius_line(population, index, totp_secret))
            .map_err(|source| file_error(path, source))?;
    }
    out.flush().map_err(|source| file_error(path, source))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_hashes_verify_with_motpd_and_ask_for_a_rehash() {
        let fast = fast_hasher().unwrap();
        let hash = hash_one(HashCost::Fast, &fast, b"Pwload0000011").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{hash}");
        assert!(motpd::password::is_supported_hash(&hash));
        assert_eq!(
            motpd::password::verify_password(b"Pwload0000011", &hash),
            Ok(motpd::password::Verified::Match { needs_rehash: true })
        );
        assert_eq!(
            motpd::password::verify_password(b"Pwload0000012", &hash),
            Ok(motpd::password::Verified::Mismatch)
        );
    }

    #[test]
    fn hashes_come_back_in_user_order() {
        let hashes = hash_all(5, HashCost::Fast, Naming::Load, 3).unwrap();
        assert_eq!(hashes.len(), 5);
        for (index, hash) in (0_u64..).zip(&hashes) {
            let password = Naming::Load.password(&Naming::Load.name(index));
            assert!(matches!(
                motpd::password::verify_password(password.as_bytes(), hash),
                Ok(motpd::password::Verified::Match { .. })
            ));
        }
    }

    #[test]
    fn accounts_csv_is_what_motpd_user_import_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.csv");
        let hashes = hash_all(3, HashCost::Fast, Naming::Load, 2).unwrap();
        write_accounts(&path, &Population::new("k", 3, Naming::Load), &hashes).unwrap();
        let plan = motpd::import::accounts::read_import(File::open(&path).unwrap()).unwrap();
        assert!(plan.errors.is_empty(), "{:?}", plan.errors);
        assert_eq!(plan.rows.len(), 3);
        let (line, row) = &plan.rows[2];
        assert_eq!(*line, 4);
        assert_eq!(row.id, "load000003");
        assert_eq!(row.groups, vec![GROUP.to_owned()]);
        assert_eq!(row.password_hash.as_deref(), Some(hashes[2].as_str()));
    }

    #[test]
    fn directory_names_match_the_entries_of_slapd_sh() {
        // tests/ldap/slapd.sh: sAMAccountName user00002, password Passw0rd-user00002.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.csv");
        let hashes = hash_all(2, HashCost::Fast, Naming::Directory, 1).unwrap();
        write_accounts(&path, &Population::new("k", 2, Naming::Directory), &hashes).unwrap();
        let plan = motpd::import::accounts::read_import(File::open(&path).unwrap()).unwrap();
        assert_eq!(plan.rows[1].1.id, "user00002");
        assert!(matches!(
            motpd::password::verify_password(b"Passw0rd-user00002", &hashes[1]),
            Ok(motpd::password::Verified::Match { .. })
        ));
        let population = Population::new("k", 2, Naming::Directory);
        assert!(
            freeradius_line(&population, 1, false)
                .starts_with("user00002 Cleartext-Password := \"Passw0rd-user00002\"")
        );
    }

    #[test]
    fn devices_csv_columns_and_seeds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("devices.csv");
        let population = Population::new("k", 2, Naming::Load);
        write_devices(&path, &population).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "id,kind,secret,digits,period");
        let secret = seed_to_base32(&population.seed("load000002"));
        assert_eq!(lines[2], format!("load000002,totp,{secret},6,30"));
        assert_eq!(
            motpd::otp::parse_base32_seed(&secret).unwrap(),
            population.seed("load000002")
        );
    }

    #[test]
    fn freeradius_entry() {
        let population = Population::new("k", 2, Naming::Load);
        let secret = seed_to_base32(&population.seed("load000002"));
        assert_eq!(secret.len(), 32, "20 bytes are 32 base32 characters");
        assert_eq!(
            freeradius_line(&population, 1, true),
            format!(
                "load000002 Cleartext-Password := \"Pwload0000021\", TOTP-Secret := \"{secret}\""
            )
        );
        assert_eq!(
            freeradius_line(&population, 0, false),
            "load000001 Cleartext-Password := \"Pwload0000011\""
        );
    }
}
