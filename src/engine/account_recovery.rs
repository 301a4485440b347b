//! Account activation (first use) and forgotten-password reset without HTTP: the owner proves who they are
//! with two independent proofs, then sets a password. Either a possession proof (a code by SMS to the
//! registered number, or the bound authenticator app's code) AND the identity the hospital holds (national ID
//! number or birth date, kept as a keyed hash, see [`super::identity`]), or alone a one-time helpdesk code
//! given in person (`motpd user reset-password`, see [`super::helpdesk_codes`]). Never the phone alone: its
//! app and its SMS are one factor. An account without an identity on file can only use the helpdesk code. A
//! wrong identity counts towards the account's lockout, like a wrong app code.
//!
//! Until a code is verified nothing tells an unknown account, a wrong number or a missing phone apart from the
//! normal case: [`AccountRecovery::send_sms_code`] answers `()` in every case and sends in the background (so
//! the gateway's latency shows nowhere), and a failed verification is one [`Verification::Failed`]. The reasons
//! go only to the audit trail (`account.code_request`, `account.verify`). An app code is checked like at the
//! VPN: a used code is refused, and a wrong one counts towards the account's lockout. After a verified code the
//! account's [`Standing`] decides whether the password may be set; the new password passes
//! [`crate::password::check_policy`] and must differ from the current one; it is stored with the status change,
//! the cleared lockout and the end of the account's web sessions in one store call (`account.activate`,
//! `account.reset`). An admin lock ([`ADMIN_LOCK_UNTIL`]) and a disabled status are never lifted here. Before
//! the password is stored, SMS at the VPN is paused for `policy.sms_pause_hours_after_reset`; after it, the
//! owner gets a notice by mail and SMS ([`super::recovery_notice`]).
//! Never a password, code or phone number in the audit trail. This module knows no HTTP and no sessions.

use std::net::IpAddr;
use std::sync::Arc;

use subtle::ConstantTimeEq;

use super::codes::{self, CodeCheck};
use super::helpdesk_codes::HelpdeskCodes;
use super::identity::IdentityKey;
use super::passwords::{PasswordAuthority, PasswordChecker};
use super::recovery_notice;
use super::{EngineError, LiveSettings};
use crate::account_rules::{ADMIN_LOCK_UNTIL, normalize_id, normalize_phone};
use crate::audit::AuditEvent;
use crate::clock::{Clock, local_date};
use crate::config::Language;
use crate::notify::Mailer;
use crate::password::{PolicyViolation, check_policy};
use crate::runtime::hashing::HashingPool;
use crate::secrets::Keyring;
use crate::store::{Account, AccountStatus, Store};
use crate::store::{Counter, LockoutPolicy, Reservation};
use crate::store::{LoginStore, Logins, Stores};

pub use super::recovery_types::{
    Committed, PasswordCheck, PreparedPassword, ProofMethod, RecoveryPurpose, RecoverySms,
    SmsCodeCheck, Standing, Verification,
};

/// One verification attempt, for the audit trail.
struct Attempt {
    now: i64,
    purpose: RecoveryPurpose,
    method: ProofMethod,
    client_ip: IpAddr,
}

/// The activation and reset service.
#[derive(Debug)]
pub struct AccountRecovery {
    store: Arc<dyn Store>,
    /// The login path: account records, lockout reservations, challenges.
    logins: Arc<Logins>,
    key: Arc<Keyring>,
    clock: Arc<dyn Clock>,
    settings: LiveSettings,
    passwords: PasswordChecker,
    sms: Option<Arc<dyn RecoverySms>>,
    mailer: Option<Arc<dyn Mailer>>,
    identity: IdentityKey,
    helpdesk: HelpdeskCodes,
}

impl AccountRecovery {
    /// A service over `store`; password hashing runs within `hashing`. Without
    /// [`Self::set_sms`] only the app code can prove ownership.
    pub fn new(
        stores: &Stores,
        key: Arc<Keyring>,
        clock: Arc<dyn Clock>,
        settings: impl Into<LiveSettings>,
        hashing: HashingPool,
    ) -> Self {
        Self {
            passwords: PasswordChecker::new(stores.store.clone(), hashing),
            identity: IdentityKey::new(key.clone()),
            helpdesk: HelpdeskCodes::new(key.clone()),
            store: stores.store.clone(),
            logins: stores.logins.clone(),
            key,
            clock,
            settings: settings.into(),
            sms: None,
            mailer: None,
        }
    }

    /// Whether motpd keeps passwords (`accounts.password_source = "local"`); otherwise activation and reset
    /// belong to the directory and the pages say where to go (see [`Self::set_password_authority`]).
    pub fn stores_passwords(&self) -> bool {
        self.passwords.authority.stores_passwords()
    }

    /// Where passwords live (default: motpd's own).
    pub fn set_password_authority(&mut self, authority: PasswordAuthority) {
        self.passwords.authority = authority;
    }

    /// Offers SMS codes (and sends SMS notices) from now on.
    pub fn set_sms(&mut self, sms: Arc<dyn RecoverySms>) {
        self.sms = Some(sms);
    }

    /// Sends the notice mail after a password change through `mailer` from now on.
    pub fn set_mailer(&mut self, mailer: Arc<dyn Mailer>) {
        self.mailer = Some(mailer);
    }

    /// Whether SMS is offered.
    pub fn sms_enabled(&self) -> bool {
        self.sms.as_ref().is_some_and(|s| s.enabled())
    }

    /// The current time of the service's clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Sends a code to the account's registered number if the typed number is that number (compared in
    /// constant time) and the account may use the flow. Answers the same in every case; the sending itself
    /// runs in the background, its failure is logged and audited.
    pub async fn send_sms_code(
        &self,
        purpose: RecoveryPurpose,
        typed_account: &str,
        typed_phone: &str,
        language: Language,
        client_ip: IpAddr,
    ) -> Result<(), EngineError> {
        let now = self.clock.now();
        let (account, reason) = self.sms_recipient(typed_account, typed_phone).await?;
        let detail = serde_json::json!({
            "user": shown(typed_account),
            "purpose": purpose.as_str(),
            "reason": reason,
        });
        let account_id = account.as_ref().map(|a| a.id.clone());
        let outcome = if reason.is_none() { "ok" } else { "reject" };
        self.audit(
            now,
            "account.code_request",
            client_ip,
            account_id.as_deref(),
            outcome,
            detail,
        )
        .await?;
        if let (Some(account), None, Some(sms)) = (account, reason, self.sms.clone()) {
            // In the background: the gateway's latency must not tell a match from a mismatch. The SMS
            // service audits (`sms.send`) and counts every send, failed or not.
            tokio::spawn(async move {
                if let Err(reason) = sms.send(&account, purpose, language, now).await {
                    tracing::warn!(account = %account.id, %reason, "SMS code for the account pages not sent");
                }
            });
        }
        Ok(())
    }

    /// The account to text, or why not (for the audit trail only).
    async fn sms_recipient(
        &self,
        typed_account: &str,
        typed_phone: &str,
    ) -> Result<(Option<Account>, Option<&'static str>), EngineError> {
        if !self.sms_enabled() {
            return Ok((None, Some("sms_disabled")));
        }
        let Ok(id) = normalize_id(typed_account) else {
            return Ok((None, Some("unknown_account")));
        };
        let Some(account) = self.store.account(&id).await? else {
            return Ok((None, Some("unknown_account")));
        };
        let typed = normalize_phone(typed_phone).unwrap_or_default();
        let reason = match account.phone.as_deref() {
            None => Some("no_phone"),
            Some(stored) if !bool::from(stored.as_bytes().ct_eq(typed.as_bytes())) => {
                Some("phone_mismatch")
            }
            Some(_) if account.status == AccountStatus::Disabled => Some("disabled"),
            Some(_) => None,
        };
        Ok((Some(account), reason))
    }

    /// Checks an SMS code sent by [`Self::send_sms_code`], then the identity.
    pub async fn verify_sms_code(
        &self,
        purpose: RecoveryPurpose,
        typed_account: &str,
        code: &str,
        typed_identity: &str,
        client_ip: IpAddr,
    ) -> Result<Verification, EngineError> {
        let now = self.clock.now();
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        let result = match (normalize_id(typed_account), self.sms.as_ref()) {
            (Err(_), _) => Err("unknown_account"),
            (Ok(_), None) => Err("sms_disabled"),
            (Ok(_), Some(sms)) if !sms.enabled() => Err("sms_disabled"),
            (Ok(id), Some(sms)) => match sms.verify(&id, purpose, &code, now).await? {
                SmsCodeCheck::Valid => match self.store.account(&id).await? {
                    Some(account) => self.check_identity(account, typed_identity, now).await?,
                    None => Err("unknown_account"),
                },
                SmsCodeCheck::Refused(reason) => Err(reason),
            },
        };
        let attempt = Attempt {
            now,
            purpose,
            method: ProofMethod::Sms,
            client_ip,
        };
        self.verified(&attempt, typed_account, result).await
    }

    /// Checks the current code of the account's bound app, like at the VPN (the code is used up, a wrong one
    /// counts towards the lockout, a locked account is refused whatever the code), then the identity.
    pub async fn verify_app_code(
        &self,
        purpose: RecoveryPurpose,
        typed_account: &str,
        code: &str,
        typed_identity: &str,
        client_ip: IpAddr,
    ) -> Result<Verification, EngineError> {
        let now = self.clock.now();
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        let result = match self.check_app_code(typed_account, &code, now).await? {
            Ok(account) => self.check_identity(account, typed_identity, now).await?,
            Err(reason) => Err(reason),
        };
        let attempt = Attempt {
            now,
            purpose,
            method: ProofMethod::App,
            client_ip,
        };
        self.verified(&attempt, typed_account, result).await
    }

    /// Checks a one-time helpdesk code (`motpd user reset-password`): alone enough, used up on success.
    pub async fn verify_helpdesk_code(
        &self,
        purpose: RecoveryPurpose,
        typed_account: &str,
        code: &str,
        client_ip: IpAddr,
    ) -> Result<Verification, EngineError> {
        let now = self.clock.now();
        let result = match normalize_id(typed_account) {
            Err(_) => Err("unknown_account"),
            Ok(id) => {
                let mut taken = false;
                for hash in self.helpdesk.candidate_hashes(&id, code) {
                    if self.store.take_helpdesk_code(&id, &hash, now).await? {
                        taken = true;
                        break;
                    }
                }
                if taken {
                    self.store.account(&id).await?.ok_or("unknown_account")
                } else {
                    Err("wrong_helpdesk_code")
                }
            }
        };
        let attempt = Attempt {
            now,
            purpose,
            method: ProofMethod::Helpdesk,
            client_ip,
        };
        self.verified(&attempt, typed_account, result).await
    }

    /// The second proof after a possession proof: the identity on file, compared in constant time. A wrong
    /// answer counts towards the lockout; a locked account, or one without an identity on file, is refused.
    async fn check_identity(
        &self,
        account: Account,
        typed_identity: &str,
        now: i64,
    ) -> Result<Result<Account, &'static str>, EngineError> {
        let Some(stored) = self.store.identity_hash(&account.id).await? else {
            return Ok(Err("no_identity"));
        };
        if let Err(refused) = self.reserve(&account.id, now).await? {
            return Ok(Err(refused));
        }
        if self.identity.matches(&account.id, &stored, typed_identity) {
            self.logins
                .release_attempt(Counter::Vpn, &account.id)
                .await?;
            return Ok(Ok(account));
        }
        self.logins
            .settle_failure(Counter::Vpn, &account.id, now, self.lockout_policy())
            .await?;
        Ok(Err("wrong_identity"))
    }

    /// The lockout policy, as the store takes it.
    fn lockout_policy(&self) -> LockoutPolicy {
        super::lockout::lockout_policy(&self.settings.load().policy)
    }

    /// Counts an attempt on the VPN counter before a secret is compared (atomic, on every node), as a login
    /// does: `Err` when the account is locked (or gone) and nothing may be compared.
    async fn reserve(&self, id: &str, now: i64) -> Result<Result<(), &'static str>, EngineError> {
        Ok(
            match self
                .logins
                .reserve_attempt(Counter::Vpn, id, now, self.lockout_policy())
                .await?
            {
                Some(Reservation::Granted { .. }) => Ok(()),
                Some(Reservation::Refused { .. }) => Err("locked"),
                None => Err("unknown_account"),
            },
        )
    }

    /// The account if the code is right, else why not.
    async fn check_app_code(
        &self,
        typed_account: &str,
        code: &str,
        now: i64,
    ) -> Result<Result<Account, &'static str>, EngineError> {
        let Ok(id) = normalize_id(typed_account) else {
            return Ok(Err("unknown_account"));
        };
        let Some(account) = self.store.account(&id).await? else {
            return Ok(Err("unknown_account"));
        };
        let Some(device) = self.store.active_device(&id).await? else {
            return Ok(Err("no_device"));
        };
        if let Err(refused) = self.reserve(&id, now).await? {
            return Ok(Err(refused));
        }
        let (seed, pin) = codes::open_seed(&self.key, &device)?;
        let check = codes::check_code(
            &device,
            &seed,
            pin.as_ref(),
            code,
            now,
            &self.settings.load().otp,
        );
        let reason = match check {
            CodeCheck::Valid(step) => {
                if self.store.use_step_for_proof(&device.id, step).await? {
                    // One proof of two: the count is given back, not cleared.
                    self.logins.release_attempt(Counter::Vpn, &id).await?;
                    return Ok(Ok(account));
                }
                "replayed"
            }
            CodeCheck::Replayed(_) => "replayed",
            CodeCheck::HotpOutOfStep(_) | CodeCheck::Invalid => "wrong_code",
        };
        self.logins
            .settle_failure(Counter::Vpn, &id, now, self.lockout_policy())
            .await?;
        Ok(Err(reason))
    }

    /// Audits a verification and says where the account stands.
    async fn verified(
        &self,
        attempt: &Attempt,
        typed_account: &str,
        result: Result<Account, &'static str>,
    ) -> Result<Verification, EngineError> {
        let (known, standing, reason) = match &result {
            Ok(account) => (
                Some(account.id.clone()),
                Some(self.standing(attempt.purpose, account, attempt.now)),
                None,
            ),
            Err(reason) => {
                let known = match normalize_id(typed_account) {
                    Ok(id) if self.store.account(&id).await?.is_some() => Some(id),
                    _ => None,
                };
                (known, None, Some(*reason))
            }
        };
        let detail = serde_json::json!({
            "user": shown(typed_account),
            "purpose": attempt.purpose.as_str(),
            "method": attempt.method.as_str(),
            "reason": reason,
            "standing": standing.map(Standing::as_str),
        });
        let outcome = if result.is_ok() { "ok" } else { "reject" };
        let event = AuditEvent::new(
            attempt.now,
            "account.verify",
            &format!("web:{}", attempt.client_ip),
            known.as_deref(),
            outcome,
            detail,
        );
        event.log();
        self.store.append_audit(&[event]).await?;
        Ok(match (result, standing) {
            (Ok(account), Some(standing)) => Verification::Verified {
                account_id: account.id,
                standing,
            },
            _ => Verification::Failed,
        })
    }

    /// Where a verified account stands for `purpose` at `now`.
    fn standing(&self, purpose: RecoveryPurpose, account: &Account, now: i64) -> Standing {
        let today = local_date(now, self.settings.load().policy.utc_offset);
        if account.status == AccountStatus::Disabled {
            Standing::Disabled
        } else if account.expires_on.is_some_and(|last_day| today > last_day) {
            Standing::Expired
        } else if account
            .locked_until
            .is_some_and(|until| until >= ADMIN_LOCK_UNTIL)
        {
            Standing::AdminLocked
        } else {
            match (purpose, account.status) {
                (RecoveryPurpose::Activate, AccountStatus::Pending)
                | (RecoveryPurpose::Reset, AccountStatus::Active) => Standing::MaySetPassword,
                (RecoveryPurpose::Activate, _) => Standing::AlreadyActive,
                (RecoveryPurpose::Reset, _) => Standing::NotActivated,
            }
        }
    }

    /// Checks a new password for a verified account (policy, not the current password) and hashes it. Changes
    /// nothing.
    pub async fn prepare_password(
        &self,
        purpose: RecoveryPurpose,
        method: ProofMethod,
        account_id: &str,
        new_password: &str,
    ) -> Result<PasswordCheck, EngineError> {
        let now = self.clock.now();
        let Some(account) = self.store.account(account_id).await? else {
            return Ok(PasswordCheck::NotAllowed(Standing::Unavailable));
        };
        let standing = self.standing(purpose, &account, now);
        if standing != Standing::MaySetPassword {
            return Ok(PasswordCheck::NotAllowed(standing));
        }
        let min = self.settings.load().policy.min_password_length;
        if let Err(violation) = check_policy(&account.id, new_password, min) {
            return Ok(PasswordCheck::Refused(violation));
        }
        if let Some(current) = &account.password_hash
            && self.passwords.matches(current, new_password).await?
        {
            return Ok(PasswordCheck::Refused(PolicyViolation::Unchanged));
        }
        let hash = self.passwords.hash(new_password).await?;
        Ok(PasswordCheck::Prepared(PreparedPassword {
            purpose,
            method,
            account_id: account.id,
            hash,
        }))
    }

    /// Stores a prepared password: activation or reset in one atomic store call, audited.
    pub async fn commit_password(
        &self,
        prepared: PreparedPassword,
        client_ip: IpAddr,
    ) -> Result<Committed, EngineError> {
        let now = self.clock.now();
        let PreparedPassword {
            purpose,
            method,
            account_id,
            hash,
        } = prepared;
        // Paused before the password changes, so no moment exists in which the new password and an SMS code
        // would be enough at the VPN.
        let pause_hours = self.settings.load().policy.sms_pause_hours_after_reset;
        if pause_hours > 0 {
            let until = now.saturating_add(i64::from(pause_hours) * 3600);
            self.store
                .pause_sms_fallback(&account_id, until, now)
                .await?;
        }
        let done = match purpose {
            RecoveryPurpose::Activate => {
                self.store
                    .activate_with_password(&account_id, &hash, ADMIN_LOCK_UNTIL, now)
                    .await?
            }
            RecoveryPurpose::Reset => {
                self.store
                    .reset_password(&account_id, &hash, ADMIN_LOCK_UNTIL, now)
                    .await?
            }
        };
        let kind = match purpose {
            RecoveryPurpose::Activate => "account.activate",
            RecoveryPurpose::Reset => "account.reset",
        };
        let (outcome, detail) = match done {
            Some(ended) => (
                "ok",
                serde_json::json!({ "method": method.as_str(), "sessions_ended": ended }),
            ),
            None => (
                "reject",
                serde_json::json!({ "method": method.as_str(), "reason": "status_changed" }),
            ),
        };
        self.audit(now, kind, client_ip, Some(&account_id), outcome, detail)
            .await?;
        if done.is_some()
            && let Some(account) = self.store.account(&account_id).await?
        {
            recovery_notice::send_in_background(
                account,
                purpose,
                pause_hours,
                self.mailer.clone(),
                self.sms.clone(),
                now,
            );
        }
        Ok(match done {
            Some(sessions_ended) => Committed::Done { sessions_ended },
            None => Committed::Changed,
        })
    }

    async fn audit(
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

/// A typed account name as the audit trail shows it (bounded).
fn shown(typed: &str) -> String {
    typed.trim().chars().take(64).collect()
}
