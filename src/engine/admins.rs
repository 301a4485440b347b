//! The helpdesk console's admins: creating one (an Argon2id password hash and a new TOTP seed, sealed, stored
//! only once its first code was typed), replacing its TOTP, removing it, and the console login decision:
//! name, password and code, all three required, one outcome for every failure. Before any secret is compared
//! an attempt is counted in the store (the lockout holds across nodes and concurrent requests); a code is
//! accepted once (compare-and-set on the admin's last step). Admins are not staff accounts: nothing here reads
//! an account, so no staff factor ever opens the console. Audited: `admin.admin.add|reset|disable|enable|remove`
//! (the CLI) and
//! `console.login` (every decision, with the failure's reason, which the login page never shows).

use std::sync::{Arc, OnceLock};

use serde_json::json;

use crate::account_rules;
use crate::audit::AuditEvent;
use crate::clock::Clock;
use crate::model::{AdminRole, NewAdmin};
use crate::otp::{self, Algorithm, Kind, TotpParams, UriParams, Verification};
use crate::password::{self, Verified};
use crate::runtime::hashing::HashingPool;
use crate::secrets::{Aad, Keyring, SecretBytes, SecretError, SecretString};
use crate::store::{Store, StoreError};

/// The issuer the authenticator app shows for an admin's TOTP.
pub const ISSUER: &str = "motpd console";
/// Steps either side of now a code may come from.
const WINDOW: u8 = 1;

/// What went wrong managing or logging in an admin (a refused login is not an error: see [`Login`]).
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The name is not usable.
    #[error("{0}")]
    Name(#[from] account_rules::FieldError),
    /// No such admin.
    #[error("admin {0} does not exist")]
    NoSuchAdmin(String),
    /// The password could not be hashed or checked.
    #[error("password hashing failed")]
    Hash,
    /// A seed could not be made, sealed or opened.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The seed's URI could not be built.
    #[error("{0}")]
    Otp(#[from] otp::OtpError),
    /// The password breaks the policy.
    #[error("{0}")]
    Password(String),
    /// An admin tried to disable or remove itself (the console would lock its last admin out by a slip).
    #[error("admin {0} cannot disable or remove itself")]
    Itself(String),
    /// The store refused (conflict: the name is taken) or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Admin passwords are never shorter than this, whatever `policy.min_password_length` says.
pub const MIN_ADMIN_PASSWORD: usize = 12;

/// Who changes an admin, why (the console asks; the CLI's `--reason`) and when.
#[derive(Debug, Clone, Copy)]
pub struct By<'a> {
    /// The audit actor.
    pub actor: &'a str,
    /// The reason, if given.
    pub reason: Option<&'a str>,
    /// Now (unix seconds).
    pub now: i64,
}

/// Checks a new admin password: the site's policy, and at least [`MIN_ADMIN_PASSWORD`] characters.
pub fn check_password(
    name: &str,
    password: &SecretString,
    policy_min: usize,
) -> Result<(), AdminError> {
    let min = policy_min.max(MIN_ADMIN_PASSWORD);
    password::check_policy(name, password.expose(), min)
        .map_err(|v| AdminError::Password(v.to_string()))
}

/// The TOTP settings of every admin device: what every authenticator app supports.
fn params() -> TotpParams {
    TotpParams::default()
}

/// A new admin TOTP seed, shown once (QR code, URI, initial key) and kept only after its first code.
#[derive(Debug)]
pub struct AdminSeed {
    seed: SecretBytes,
    /// The seed in base32 (the "initial key").
    pub secret_base32: SecretString,
    /// `otpauth://` URI for the QR code.
    pub uri: SecretString,
}

impl AdminSeed {
    /// A random seed for admin `name`.
    pub fn generate(name: &str) -> Result<Self, AdminError> {
        let seed = otp::generate_seed(Algorithm::Sha1)?;
        Self::from_base32(name, &otp::seed_to_base32(&seed))
    }

    /// The seed of a pending device, from its initial key (the console carries it sealed between its pages).
    pub fn from_base32(name: &str, secret_base32: &str) -> Result<Self, AdminError> {
        let seed = otp::parse_base32_seed(secret_base32)?;
        let p = params();
        let uri = otp::otpauth_uri(&UriParams {
            kind: Kind::Totp,
            issuer: Some(ISSUER.to_owned()),
            account: name.to_owned(),
            secret_base32: secret_base32.to_owned().into(),
            digits: p.digits,
            period: p.period,
            counter: 0,
            algorithm: p.algorithm,
        })?;
        Ok(Self {
            seed: SecretBytes::new(seed),
            secret_base32: SecretString::new(secret_base32.to_owned()),
            uri: SecretString::new(uri),
        })
    }

    /// The step `code` matches at `now`, if it is this seed's code (the confirmation of a new device).
    pub fn first_code_step(&self, code: &str, now: i64) -> Option<i64> {
        let now = u64::try_from(now).ok()?;
        match otp::verify_totp(
            &params(),
            self.seed.expose(),
            code.trim(),
            now,
            WINDOW,
            None,
        ) {
            Verification::Valid { step } => i64::try_from(step).ok(),
            Verification::Replayed { .. } | Verification::Invalid => None,
        }
    }

    fn sealed(&self, key: &Keyring, name: &str) -> Result<Vec<u8>, SecretError> {
        key.seal(&Aad::admin_totp(name), self.seed.expose())
    }
}

/// The normalised admin name (the account ID rules: 1–64 letters, digits, `.`, `_`, `-`, `@`).
pub fn normalize_name(raw: &str) -> Result<String, AdminError> {
    Ok(account_rules::normalize_id(raw)?)
}

/// Stores a new admin whose device was confirmed with a code of `step`; audited `admin.admin.add`.
#[allow(clippy::too_many_arguments)]
pub async fn add_admin(
    store: &dyn Store,
    key: &Keyring,
    name: &str,
    role: AdminRole,
    password: &SecretString,
    seed: &AdminSeed,
    step: i64,
    by: By<'_>,
) -> Result<(), AdminError> {
    let password_hash =
        password::hash_password(password.expose().as_bytes()).map_err(|_| AdminError::Hash)?;
    add_admin_hashed(store, key, (name, role), password_hash, seed, step, by).await
}

/// [`add_admin`] with the password already hashed (the console hashes it before it shows the QR code).
pub async fn add_admin_hashed(
    store: &dyn Store,
    key: &Keyring,
    (name, role): (&str, AdminRole),
    password_hash: String,
    seed: &AdminSeed,
    step: i64,
    by: By<'_>,
) -> Result<(), AdminError> {
    let name = normalize_name(name)?;
    let admin = NewAdmin {
        name: name.clone(),
        role,
        password_hash,
        sealed_totp: seed.sealed(key, &name)?,
        totp_last_step: step,
    };
    store.create_admin(&admin, by.now).await?;
    let detail = json!({ "admin": name, "role": role.as_str() });
    audit(store, "admin.admin.add", by, detail).await
}

/// Replaces the admin's TOTP with `seed`, confirmed with a code of `step` (clears its lock, ends its sessions);
/// audited `admin.admin.reset`.
pub async fn reset_totp(
    store: &dyn Store,
    key: &Keyring,
    name: &str,
    (seed, step): (&AdminSeed, i64),
    by: By<'_>,
) -> Result<(), AdminError> {
    let name = normalize_name(name)?;
    if !store
        .replace_admin_totp(&name, &seed.sealed(key, &name)?, step)
        .await?
    {
        return Err(AdminError::NoSuchAdmin(name));
    }
    audit(store, "admin.admin.reset", by, json!({ "admin": name })).await
}

/// Disables an admin (its sessions end) or enables it again; audited `admin.admin.disable` / `.enable`. An
/// admin cannot disable itself.
pub async fn set_disabled(
    store: &dyn Store,
    name: &str,
    disabled: bool,
    by: By<'_>,
) -> Result<(), AdminError> {
    let name = normalize_name(name)?;
    if disabled && by.actor == actor(&name) {
        return Err(AdminError::Itself(name));
    }
    if !store.set_admin_disabled(&name, disabled).await? {
        return Err(AdminError::NoSuchAdmin(name));
    }
    let kind = if disabled {
        "admin.admin.disable"
    } else {
        "admin.admin.enable"
    };
    audit(store, kind, by, json!({ "admin": name })).await
}

/// Removes an admin and its sessions; audited `admin.admin.remove`. An admin cannot remove itself.
pub async fn remove_admin(store: &dyn Store, name: &str, by: By<'_>) -> Result<(), AdminError> {
    let name = normalize_name(name)?;
    if by.actor == actor(&name) {
        return Err(AdminError::Itself(name));
    }
    let Some(admin) = store.admin(&name).await? else {
        return Err(AdminError::NoSuchAdmin(name));
    };
    if !store.remove_admin(&name).await? {
        return Err(AdminError::NoSuchAdmin(name));
    }
    let detail = json!({ "admin": name, "role": admin.role.as_str() });
    audit(store, "admin.admin.remove", by, detail).await
}

/// One audit row (with the reason, if given), also logged.
async fn audit(
    store: &dyn Store,
    kind: &str,
    by: By<'_>,
    mut detail: serde_json::Value,
) -> Result<(), AdminError> {
    if let (Some(reason), Some(fields)) = (by.reason, detail.as_object_mut()) {
        fields.insert("reason".into(), reason.into());
    }
    record(store, by.now, kind, by.actor, "ok", detail).await
}

async fn record(
    store: &dyn Store,
    now: i64,
    kind: &str,
    actor: &str,
    outcome: &str,
    detail: serde_json::Value,
) -> Result<(), AdminError> {
    let event = AuditEvent::new(now, kind, actor, None, outcome, detail);
    event.log();
    store.append_audit(&[event]).await?;
    Ok(())
}

/// A console login's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// Both factors were right and the code was new: the admin's name and role.
    Admitted {
        /// The admin.
        name: String,
        /// What it may do.
        role: AdminRole,
    },
    /// Refused (the same answer for every reason; the reason is in the audit row and the metrics only).
    Refused(Refusal),
}

/// Why a console login was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No admin of that name (a staff account's name is none).
    UnknownAdmin,
    /// The admin is disabled.
    Disabled,
    /// The admin is locked after failures.
    Locked,
    /// The password was wrong.
    WrongPassword,
    /// The code was wrong.
    WrongCode,
    /// The code was right but its step was used already.
    CodeUsed,
    /// The admin's seed could not be opened (another key file?).
    SeedUnreadable,
}

impl Refusal {
    /// The audit row's reason.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownAdmin => "unknown admin",
            Self::Disabled => "disabled",
            Self::Locked => "locked",
            Self::WrongPassword => "wrong password",
            Self::WrongCode => "wrong code",
            Self::CodeUsed => "code already used",
            Self::SeedUnreadable => "seed unreadable",
        }
    }
}

/// The lockout of console logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminLockout {
    /// Failed logins in a row before the lock.
    pub failures: u32,
    /// How long the lock lasts.
    pub seconds: i64,
}

/// Decides console logins.
#[derive(Debug, Clone)]
pub struct AdminLogins {
    store: Arc<dyn Store>,
    key: Arc<Keyring>,
    clock: Arc<dyn Clock>,
    hashing: HashingPool,
    lockout: AdminLockout,
}

impl AdminLogins {
    /// Logins over `store`, opening seeds with `key`, hashing on `hashing`.
    pub fn new(
        store: Arc<dyn Store>,
        key: Arc<Keyring>,
        clock: Arc<dyn Clock>,
        hashing: HashingPool,
        lockout: AdminLockout,
    ) -> Self {
        Self {
            store,
            key,
            clock,
            hashing,
            lockout,
        }
    }

    /// The time now.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Hashes a new admin's password on the hashing pool (the console's add form).
    pub async fn hash_new_password(&self, password: SecretString) -> Result<String, AdminError> {
        match self
            .hashing
            .run(move || password::hash_password(password.expose().as_bytes()))
            .await
        {
            Ok(Ok(hash)) => Ok(hash),
            _ => Err(AdminError::Hash),
        }
    }

    /// Checks `name`, `password` and `code` from `client`; every decision is audited `console.login`.
    pub async fn log_in(
        &self,
        raw_name: &str,
        password: &SecretString,
        code: &str,
        client: &str,
    ) -> Result<Login, AdminError> {
        let now = self.clock.now();
        let name = normalize_name(raw_name).unwrap_or_default();
        let admin = if name.is_empty() {
            None
        } else {
            self.store.admin(&name).await?
        };
        // Counted before any secret is compared; a disabled or unknown admin has nothing to count.
        let locked = match &admin {
            Some(a) if !a.disabled => {
                let reserved = self
                    .store
                    .reserve_admin_attempt(
                        &a.name,
                        self.lockout.failures,
                        now.saturating_add(self.lockout.seconds),
                        now,
                    )
                    .await?;
                reserved.is_some_and(|(_, lock)| lock.is_some_and(|until| until > now))
            }
            _ => false,
        };
        // The same hash is computed whoever asks, so the time taken tells nothing about the name.
        let stored = admin
            .as_ref()
            .map_or_else(|| dummy_hash().to_owned(), |a| a.password_hash.clone());
        let typed = password.expose().as_bytes().to_vec();
        let password_ok = matches!(
            self.hashing
                .run(move || password::verify_password(&typed, &stored))
                .await,
            Ok(Ok(Verified::Match { .. }))
        );
        let Some(admin) = admin else {
            return self
                .refuse(raw_name, client, Refusal::UnknownAdmin, now)
                .await;
        };
        let code_step = self.code_step(&admin, code, now);
        let reason = if admin.disabled {
            Refusal::Disabled
        } else if locked {
            Refusal::Locked
        } else if !password_ok {
            Refusal::WrongPassword
        } else {
            match code_step {
                Ok(Verification::Valid { step }) => {
                    let step = i64::try_from(step).unwrap_or(i64::MAX);
                    if self
                        .store
                        .record_admin_login(&admin.name, step, now)
                        .await?
                    {
                        let detail = json!({ "admin": admin.name, "client": client });
                        record(
                            &*self.store,
                            now,
                            "console.login",
                            &actor(&admin.name),
                            "ok",
                            detail,
                        )
                        .await?;
                        return Ok(Login::Admitted {
                            name: admin.name,
                            role: admin.role,
                        });
                    }
                    Refusal::CodeUsed
                }
                Ok(Verification::Replayed { .. }) => Refusal::CodeUsed,
                Ok(Verification::Invalid) => Refusal::WrongCode,
                Err(_) => Refusal::SeedUnreadable,
            }
        };
        self.refuse(&admin.name, client, reason, now).await
    }

    fn code_step(
        &self,
        admin: &crate::model::Admin,
        code: &str,
        now: i64,
    ) -> Result<Verification, SecretError> {
        let seed = self
            .key
            .open(&Aad::admin_totp(&admin.name), &admin.sealed_totp)?;
        let last = admin.totp_last_step.and_then(|s| u64::try_from(s).ok());
        let now = u64::try_from(now).unwrap_or(0);
        Ok(otp::verify_totp(
            &params(),
            seed.expose(),
            code.trim(),
            now,
            WINDOW,
            last,
        ))
    }

    async fn refuse(
        &self,
        name: &str,
        client: &str,
        reason: Refusal,
        now: i64,
    ) -> Result<Login, AdminError> {
        let shown: String = name.chars().take(64).collect();
        let detail = json!({ "admin": shown, "client": client, "reason": reason.as_str() });
        record(
            &*self.store,
            now,
            "console.login",
            &format!("web:{client}"),
            "reject",
            detail,
        )
        .await?;
        Ok(Login::Refused(reason))
    }
}

/// The audit actor of an admin's console actions.
pub fn actor(name: &str) -> String {
    format!("console:{name}")
}

/// An Argon2id hash of nothing anyone types, computed once, for the logins of unknown names.
fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| password::hash_password(b"motpd: no such admin").unwrap_or_default())
}
