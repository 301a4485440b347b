//! Self-service enrollment (flow A) without HTTP: the password login of the enrollment pages, starting a
//! pending software token, and confirming it with the app's first code.
//!
//! The login uses the same password check as RADIUS but a failure counter of its own (`Counter::Web`, with the
//! policy's thresholds), counted before the password is compared (hashing is slow: concurrent guesses would
//! otherwise all be evaluated). A password-only login here never clears the VPN counter, which guards the
//! code; a running VPN lock (or an admin's lock) refuses the pages too. A pending seed is valid for
//! [`PENDING_TTL_SECONDS`]; the one-device-per-account race is decided atomically by the store. Every step is
//! audited (`enroll.login`, `enroll.start`, `enroll.confirm`), never with a password, seed or code; a binding
//! (here or through an invitation) is followed by a notice mail to the account (`device_notice.rs`). This
//! module knows no HTTP, no cookies and no sessions: the web layer calls it.

use std::net::IpAddr;
use std::sync::Arc;

use super::codes::{self, CodeCheck};
use super::device_notice::{BoundVia, DeviceNotices};
use super::directory_view::as_directory_says;
use super::enrollment::{self, EnrollError};
use super::passwords::{PasswordAuthority, PasswordCheck, PasswordChecker};
use super::{EngineError, LiveSettings};
use crate::account_rules::normalize_id;
use crate::audit::AuditEvent;
use crate::clock::{Clock, local_date};
use crate::runtime::hashing::HashingPool;
use crate::secrets::{Keyring, SecretString};
use crate::store::{
    Account, AccountStatus, Counter, DeviceState, LockoutPolicy, Reservation, Store, StoreError,
};
use crate::store::{LoginStore, Logins, Stores};

/// How long a pending (scanned but not yet confirmed) seed may be confirmed.
pub const PENDING_TTL_SECONDS: i64 = 600;

/// Why a login on the enrollment pages was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginRefusal {
    /// Unknown account or wrong password (not told apart).
    BadCredentials,
    /// Locked after too many failures (or by an admin) until this time.
    Locked {
        /// Unix seconds.
        until: i64,
    },
    /// Disabled by an admin.
    Disabled,
    /// Past its expiry date.
    Expired,
    /// No password set yet.
    NotActivated,
    /// motpd checks no password (`accounts.password_source = "none"`), so it cannot log anyone in here.
    NoPasswordCheck,
}

impl LoginRefusal {
    /// The snake_case name for the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadCredentials => "bad_credentials",
            Self::Locked { .. } => "locked",
            Self::Disabled => "disabled",
            Self::Expired => "expired",
            Self::NotActivated => "not_activated",
            Self::NoPasswordCheck => "no_password_check",
        }
    }
}

/// The result of [`SelfService::login`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Logged in as this (normalised) account ID.
    LoggedIn {
        /// The account.
        account_id: String,
    },
    /// Refused.
    Refused(LoginRefusal),
}

/// The result of [`SelfService::start_enrollment`].
#[derive(Debug)]
pub enum StartOutcome {
    /// The account already has an active device (a new one needs `motpd device reset` first).
    AlreadyBound {
        /// When it became active.
        confirmed_at: Option<i64>,
        /// Its last accepted code.
        last_used_at: Option<i64>,
    },
    /// A new pending device: show its seed once.
    Pending {
        /// The pending device.
        device_id: String,
        /// The "initial key" in base32.
        secret_base32: SecretString,
        /// The `otpauth://` URI for the QR code.
        uri: SecretString,
    },
}

/// The result of [`SelfService::confirm`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmOutcome {
    /// The device is now active.
    Bound,
    /// The code does not match; the device stays pending.
    WrongCode,
    /// The pending seed is too old, was replaced by a newer one, or does not exist.
    Expired,
    /// The account has an active device (maybe from another tab that won the race).
    AlreadyBound,
}

/// Whose pending device is confirmed: flow A's (valid [`PENDING_TTL_SECONDS`]) or an invitation's (valid while
/// the invitation is, checked by the store as it binds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    SelfService,
    Invitation,
}

/// The enrollment service.
#[derive(Debug)]
pub struct SelfService {
    pub(super) store: Arc<dyn Store>,
    /// The login path: account records, lockout reservations, challenges.
    pub(super) logins: Arc<Logins>,
    pub(super) key: Arc<Keyring>,
    clock: Arc<dyn Clock>,
    pub(super) settings: LiveSettings,
    passwords: PasswordChecker,
    pub(super) notices: Option<Arc<DeviceNotices>>,
}

impl SelfService {
    /// A service over `store`; password hashing runs within `hashing`.
    pub fn new(
        stores: &Stores,
        key: Arc<Keyring>,
        clock: Arc<dyn Clock>,
        settings: impl Into<LiveSettings>,
        hashing: HashingPool,
    ) -> Self {
        Self {
            passwords: PasswordChecker::new(stores.store.clone(), hashing),
            store: stores.store.clone(),
            logins: stores.logins.clone(),
            key,
            clock,
            settings: settings.into(),
            notices: None,
        }
    }

    /// Checks passwords where `authority` says they live (default: motpd's own).
    pub fn set_password_authority(&mut self, authority: PasswordAuthority) {
        self.passwords.authority = authority;
    }

    /// Mails a notice to the account after each binding through `notices`.
    pub fn set_notices(&mut self, notices: Arc<DeviceNotices>) {
        self.notices = Some(notices);
    }

    /// The current time of the service's clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Checks account and password like RADIUS does, on the web counter (see the module documentation).
    pub async fn login(
        &self,
        account_id: &str,
        password: &[u8],
        client_ip: IpAddr,
    ) -> Result<LoginOutcome, EngineError> {
        let now = self.clock.now();
        let (account, outcome) = self.decide_login(account_id, password, now).await?;
        let (label, reason) = match &outcome {
            LoginOutcome::LoggedIn { .. } => ("ok", None),
            LoginOutcome::Refused(r) => ("reject", Some(r.as_str())),
        };
        let detail = serde_json::json!({
            "user": account_id.chars().take(64).collect::<String>(),
            "reason": reason,
        });
        self.audit(
            now,
            "enroll.login",
            client_ip,
            account.as_deref(),
            label,
            detail,
        )
        .await?;
        Ok(outcome)
    }

    pub(super) async fn decide_login(
        &self,
        account_id: &str,
        password: &[u8],
        now: i64,
    ) -> Result<(Option<String>, LoginOutcome), EngineError> {
        let refused = |r| Ok((None, LoginOutcome::Refused(r)));
        let Ok(id) = normalize_id(account_id) else {
            return refused(LoginRefusal::BadCredentials);
        };
        let Some(account) = self.store.account(&id).await? else {
            let dummy = crate::secrets::SecretBytes::new(password.to_vec());
            self.passwords.burn_time(&id, &dummy).await?;
            return refused(LoginRefusal::BadCredentials);
        };
        let known = |r| Ok((Some(id.clone()), LoginOutcome::Refused(r)));
        if let Some(until) = account.locked_until.filter(|&until| until > now) {
            return known(LoginRefusal::Locked { until });
        }
        if self.passwords.awaits_activation(&account) {
            return known(LoginRefusal::NotActivated);
        }
        let lockout = self.lockout_policy();
        match self
            .logins
            .reserve_attempt(Counter::Web, &id, now, lockout)
            .await?
        {
            Some(Reservation::Granted { .. }) => {}
            Some(Reservation::Refused { until }) => return known(LoginRefusal::Locked { until }),
            None => return refused(LoginRefusal::BadCredentials),
        }
        let checked = match self.passwords.check(&account, password, now).await {
            Ok(checked) => checked,
            Err(error) => {
                if matches!(error, EngineError::Overloaded | EngineError::Directory(_)) {
                    self.logins.release_attempt(Counter::Web, &id).await?;
                }
                return Err(error);
            }
        };
        let (account, matched) = match checked {
            PasswordCheck::Right(None) => (account, true),
            PasswordCheck::Right(Some(entry)) => (as_directory_says(&account, &entry), true),
            // Disabled or expired in the directory, the password untried: told like a wrong one.
            PasswordCheck::Refused(_) => {
                self.logins.release_attempt(Counter::Web, &id).await?;
                return known(LoginRefusal::BadCredentials);
            }
            PasswordCheck::Unchecked => {
                self.logins.release_attempt(Counter::Web, &id).await?;
                return known(LoginRefusal::NoPasswordCheck);
            }
            PasswordCheck::Wrong => (account, false),
        };
        if !matched {
            let state = self
                .logins
                .settle_failure(Counter::Web, &id, now, lockout)
                .await?;
            return match state.locked_until.filter(|&until| until > now) {
                Some(until) => known(LoginRefusal::Locked { until }),
                None => known(LoginRefusal::BadCredentials),
            };
        }
        if let Some(refusal) = self.account_refusal(&account, now) {
            self.logins.release_attempt(Counter::Web, &id).await?;
            return known(refusal);
        }
        if !self.logins.settle_success(Counter::Web, &id, now).await? {
            let until = self
                .store
                .account(&id)
                .await?
                .and_then(|a| a.locked_until)
                .filter(|&until| until > now)
                .unwrap_or(now + lockout.lock_seconds);
            return known(LoginRefusal::Locked { until });
        }
        Ok((Some(id.clone()), LoginOutcome::LoggedIn { account_id: id }))
    }

    /// The policy's thresholds for the web counter (the same numbers as the VPN's).
    pub(super) fn lockout_policy(&self) -> LockoutPolicy {
        super::lockout::lockout_policy(&self.settings.load().policy)
    }

    /// Disabled, or past its expiry date (checked before anything is started for the account).
    pub(super) fn account_refusal(&self, account: &Account, now: i64) -> Option<LoginRefusal> {
        if account.status == AccountStatus::Disabled {
            return Some(LoginRefusal::Disabled);
        }
        let today = local_date(now, self.settings.load().policy.utc_offset);
        account
            .expires_on
            .filter(|&last_day| today > last_day)
            .map(|_| LoginRefusal::Expired)
    }

    /// The account's active device, as `AlreadyBound`, if any.
    pub async fn status(&self, account_id: &str) -> Result<Option<StartOutcome>, EngineError> {
        Ok(self
            .store
            .active_device(account_id)
            .await?
            .map(|d| StartOutcome::AlreadyBound {
                confirmed_at: d.confirmed_at,
                last_used_at: d.last_used_at,
            }))
    }

    /// Creates a pending software token for a logged-in account (replacing an earlier pending one).
    pub async fn start_enrollment(
        &self,
        account_id: &str,
        label: Option<String>,
        client_ip: IpAddr,
    ) -> Result<StartOutcome, EngineError> {
        let now = self.clock.now();
        if let Some(bound) = self.status(account_id).await? {
            return Ok(bound);
        }
        let (device, seed) =
            enrollment::generate_device(&self.key, &self.settings.load().otp, account_id, label)
                .map_err(enroll_error)?;
        match self.store.begin_enrollment(&device, now).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                if let Some(bound) = self.status(account_id).await? {
                    return Ok(bound);
                }
                return Err(EngineError::Store(StoreError::Conflict(
                    "device appeared and vanished".into(),
                )));
            }
            Err(e) => return Err(e.into()),
        }
        let detail = serde_json::json!({ "device": device.id });
        self.audit(
            now,
            "enroll.start",
            client_ip,
            Some(account_id),
            "ok",
            detail,
        )
        .await?;
        Ok(StartOutcome::Pending {
            device_id: seed.device_id,
            secret_base32: seed.secret_base32,
            uri: seed.uri,
        })
    }

    /// Confirms a pending device of `account_id` with the app's current code.
    pub async fn confirm(
        &self,
        account_id: &str,
        device_id: &str,
        code: &str,
        client_ip: IpAddr,
    ) -> Result<ConfirmOutcome, EngineError> {
        self.confirm_as(Pending::SelfService, account_id, device_id, code, client_ip)
            .await
    }

    /// Confirms the pending device of an invitation: valid as long as the invitation (not 10 minutes), and
    /// binding it uses the invitation up in the same transaction.
    pub(super) async fn confirm_invited(
        &self,
        account_id: &str,
        device_id: &str,
        code: &str,
        client_ip: IpAddr,
    ) -> Result<ConfirmOutcome, EngineError> {
        self.confirm_as(Pending::Invitation, account_id, device_id, code, client_ip)
            .await
    }

    async fn confirm_as(
        &self,
        pending: Pending,
        account_id: &str,
        device_id: &str,
        code: &str,
        client_ip: IpAddr,
    ) -> Result<ConfirmOutcome, EngineError> {
        let now = self.clock.now();
        let outcome = self
            .decide_confirm(pending, account_id, device_id, code, now)
            .await?;
        let (label, result) = match outcome {
            ConfirmOutcome::Bound => ("ok", "bound"),
            ConfirmOutcome::WrongCode => ("reject", "wrong_code"),
            ConfirmOutcome::Expired => ("reject", "expired"),
            ConfirmOutcome::AlreadyBound => ("reject", "already_bound"),
        };
        let detail = serde_json::json!({ "device": device_id, "result": result });
        self.audit(
            now,
            "enroll.confirm",
            client_ip,
            Some(account_id),
            label,
            detail,
        )
        .await?;
        if outcome == ConfirmOutcome::Bound
            && let Some(notices) = &self.notices
            && let Some(account) = self.store.account(account_id).await?
        {
            let via = match pending {
                Pending::SelfService => BoundVia::SelfService,
                Pending::Invitation => BoundVia::InvitationLink,
            };
            notices.device_bound(&account, via, now);
        }
        Ok(outcome)
    }

    async fn decide_confirm(
        &self,
        pending: Pending,
        account_id: &str,
        device_id: &str,
        code: &str,
        now: i64,
    ) -> Result<ConfirmOutcome, EngineError> {
        let device = self
            .store
            .device(device_id)
            .await?
            .filter(|d| d.account_id == account_id);
        let Some(device) = device.filter(|d| d.state == DeviceState::Pending) else {
            return self.gone(account_id).await;
        };
        if pending == Pending::SelfService
            && now.saturating_sub(device.created_at) > PENDING_TTL_SECONDS
        {
            return Ok(ConfirmOutcome::Expired);
        }
        let (seed, pin) = codes::open_seed(&self.key, &device)?;
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        let CodeCheck::Valid(step) = codes::check_code(
            &device,
            &seed,
            pin.as_ref(),
            &code,
            now,
            &self.settings.load().otp,
        ) else {
            return Ok(ConfirmOutcome::WrongCode);
        };
        let activated = match pending {
            Pending::SelfService => self
                .store
                .confirm_enrollment(device_id, step, now)
                .await
                .map(|()| true),
            Pending::Invitation => {
                self.store
                    .confirm_invited_device(device_id, step, now)
                    .await
            }
        };
        match activated {
            Ok(true) => Ok(ConfirmOutcome::Bound),
            Ok(false) => Ok(ConfirmOutcome::Expired),
            Err(StoreError::Conflict(_)) => Ok(ConfirmOutcome::AlreadyBound),
            Err(StoreError::NotFound(_)) => self.gone(account_id).await,
            Err(e) => Err(e.into()),
        }
    }

    /// The pending device is not there (any more): another tab won, or it was replaced.
    async fn gone(&self, account_id: &str) -> Result<ConfirmOutcome, EngineError> {
        Ok(match self.store.active_device(account_id).await? {
            Some(_) => ConfirmOutcome::AlreadyBound,
            None => ConfirmOutcome::Expired,
        })
    }

    pub(super) async fn audit(
        &self,
        now: i64,
        kind: &str,
        client_ip: IpAddr,
        account_id: Option<&str>,
        outcome: &str,
        detail: serde_json::Value,
    ) -> Result<(), EngineError> {
        let actor = format!("web:{client_ip}");
        let event = AuditEvent::new(now, kind, &actor, account_id, outcome, detail);
        event.log();
        self.store.append_audit(&[event]).await?;
        Ok(())
    }
}

pub(super) fn enroll_error(error: EnrollError) -> EngineError {
    match error {
        EnrollError::Store(e) => EngineError::Store(e),
        EnrollError::Secret(e) => EngineError::Secret(e),
        other => EngineError::Enroll(other.to_string()),
    }
}
