//! Self-service phone change on the enrollment pages: the account's password and a fresh code from the bound
//! (old) phone start it, the new phone's first code completes it, and the store swaps the devices in one
//! compare-and-set transaction (the old one must still be the bound one).
//!
//! Two factors, as at the VPN: the password goes through the pages' login check (`Counter::Web`), the old
//! phone's code through the VPN's lockout (`Counter::Vpn`, reserved before comparing) and the same replay guard
//! as a VPN login (`DeviceStore::use_step_for_proof`: a code used here is refused at the VPN and the other way
//! round). Audited `phone.change_start` and `phone.change` with the account itself as actor; the owner gets the
//! device notice by mail. No HTTP here.

use std::net::IpAddr;

use super::EngineError;
use super::codes::{self, CodeCheck};
use super::device_notice::BoundVia;
use super::enrollment;
use super::self_service::{
    LoginOutcome, LoginRefusal, PENDING_TTL_SECONDS, SelfService, enroll_error,
};
use crate::audit::AuditEvent;
use crate::secrets::SecretString;
use crate::store::{Counter, DeviceState, LoginStore, Reservation, StoreError};

/// Why a phone change was not started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeRefusal {
    /// The password or the old phone's code is wrong, or the code was already used (not told apart).
    BadProof,
    /// The account's login is refused (locked, disabled, expired, no password check, ...).
    Login(LoginRefusal),
    /// The account has no bound device: flow A registers one.
    NoDevice,
}

impl ChangeRefusal {
    fn as_str(self) -> &'static str {
        match self {
            Self::BadProof => "bad_proof",
            Self::Login(r) => r.as_str(),
            Self::NoDevice => "no_device",
        }
    }
}

/// The result of [`SelfService::start_phone_change`].
#[derive(Debug)]
pub enum ChangeStart {
    /// Both factors verified: a pending token for the new phone, shown once.
    Started {
        /// The bound device the change replaces.
        old_device_id: String,
        /// The pending device for the new phone.
        new_device_id: String,
        /// The "initial key" in base32.
        secret_base32: SecretString,
        /// The `otpauth://` URI for the QR code.
        uri: SecretString,
    },
    /// Refused; nothing was started.
    Refused(ChangeRefusal),
}

/// The result of [`SelfService::confirm_phone_change`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOutcome {
    /// The old device is gone, the new one bound.
    Changed,
    /// The new phone's code does not match; nothing changed.
    WrongCode,
    /// The pending token is too old, was replaced, or does not exist; nothing changed.
    Expired,
    /// The old device is no longer the bound one (reset by IT, or another change won); nothing changed.
    Superseded,
}

impl ChangeOutcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Changed => "changed",
            Self::WrongCode => "wrong_code",
            Self::Expired => "expired",
            Self::Superseded => "superseded",
        }
    }
}

impl SelfService {
    /// Checks the password (web counter) and a fresh code of the bound device (VPN counter, used up like a VPN
    /// login's), then stores a pending token for the new phone.
    pub async fn start_phone_change(
        &self,
        account_id: &str,
        password: &[u8],
        old_code: &str,
        label: Option<String>,
        client_ip: IpAddr,
    ) -> Result<ChangeStart, EngineError> {
        let now = self.now();
        let outcome = self
            .decide_start(account_id, password, old_code, label, now)
            .await?;
        let detail = match &outcome {
            ChangeStart::Started {
                old_device_id,
                new_device_id,
                ..
            } => serde_json::json!({
                "client": client_ip.to_string(),
                "old_device": old_device_id,
                "new_device": new_device_id,
            }),
            ChangeStart::Refused(r) => serde_json::json!({
                "client": client_ip.to_string(),
                "reason": r.as_str(),
            }),
        };
        let label = if matches!(outcome, ChangeStart::Started { .. }) {
            "ok"
        } else {
            "reject"
        };
        self.audit_change(now, "phone.change_start", account_id, label, detail)
            .await?;
        Ok(outcome)
    }

    async fn decide_start(
        &self,
        account_id: &str,
        password: &[u8],
        old_code: &str,
        label: Option<String>,
        now: i64,
    ) -> Result<ChangeStart, EngineError> {
        let refused = |r| Ok(ChangeStart::Refused(r));
        match self.decide_login(account_id, password, now).await?.1 {
            LoginOutcome::LoggedIn { account_id: id } if id == account_id => {}
            LoginOutcome::LoggedIn { .. } => return refused(ChangeRefusal::BadProof),
            LoginOutcome::Refused(LoginRefusal::BadCredentials) => {
                return refused(ChangeRefusal::BadProof);
            }
            LoginOutcome::Refused(r) => return refused(ChangeRefusal::Login(r)),
        }
        let Some(old) = self.store.active_device(account_id).await? else {
            return refused(ChangeRefusal::NoDevice);
        };
        let policy = self.lockout_policy();
        match self
            .logins
            .reserve_attempt(Counter::Vpn, account_id, now, policy)
            .await?
        {
            Some(Reservation::Granted { .. }) => {}
            Some(Reservation::Refused { until }) => {
                return refused(ChangeRefusal::Login(LoginRefusal::Locked { until }));
            }
            None => return refused(ChangeRefusal::BadProof),
        }
        let (seed, pin) = codes::open_seed(&self.key, &old)?;
        let code: String = old_code.chars().filter(|c| !c.is_whitespace()).collect();
        let check = codes::check_code(
            &old,
            &seed,
            pin.as_ref(),
            &code,
            now,
            &self.settings.load().otp,
        );
        let used = match check {
            CodeCheck::Valid(step) => self.store.use_step_for_proof(&old.id, step).await?,
            CodeCheck::Replayed(_) | CodeCheck::HotpOutOfStep(_) | CodeCheck::Invalid => false,
        };
        if !used {
            let state = self
                .logins
                .settle_failure(Counter::Vpn, account_id, now, policy)
                .await?;
            return match state.locked_until.filter(|&until| until > now) {
                Some(until) => refused(ChangeRefusal::Login(LoginRefusal::Locked { until })),
                None => refused(ChangeRefusal::BadProof),
            };
        }
        // A proof, not a VPN login: the reservation is given back, the VPN's count is not cleared.
        self.logins
            .release_attempt(Counter::Vpn, account_id)
            .await?;
        let (device, seed) =
            enrollment::generate_device(&self.key, &self.settings.load().otp, account_id, label)
                .map_err(enroll_error)?;
        match self.store.begin_phone_change(&device, &old.id, now).await {
            Ok(()) => {}
            // Reset or changed between the check and now: nothing to start from.
            Err(StoreError::NotFound(_)) => return refused(ChangeRefusal::NoDevice),
            Err(e) => return Err(e.into()),
        }
        Ok(ChangeStart::Started {
            old_device_id: old.id,
            new_device_id: seed.device_id,
            secret_base32: seed.secret_base32,
            uri: seed.uri,
        })
    }

    /// Completes a started change with the new phone's first code: the old device is retired and the new one
    /// bound in one transaction, only if the old one is still the bound one; then the owner is notified.
    pub async fn confirm_phone_change(
        &self,
        account_id: &str,
        old_device_id: &str,
        new_device_id: &str,
        code: &str,
        client_ip: IpAddr,
    ) -> Result<ChangeOutcome, EngineError> {
        let now = self.now();
        let old = self
            .store
            .device(old_device_id)
            .await?
            .filter(|d| d.account_id == account_id);
        let outcome = self
            .decide_confirm_change(account_id, old_device_id, new_device_id, code, now)
            .await?;
        let detail = serde_json::json!({
            "client": client_ip.to_string(),
            "result": outcome.as_str(),
            "retired": { "device": old_device_id, "kind": old.as_ref().map(|d| d.kind.as_str()) },
            "bound": { "device": new_device_id, "kind": "totp" },
        });
        let label = if outcome == ChangeOutcome::Changed {
            "ok"
        } else {
            "reject"
        };
        self.audit_change(now, "phone.change", account_id, label, detail)
            .await?;
        if outcome == ChangeOutcome::Changed
            && let Some(notices) = &self.notices
            && let Some(account) = self.store.account(account_id).await?
        {
            notices.device_bound(&account, BoundVia::PhoneChange, now);
        }
        Ok(outcome)
    }

    async fn decide_confirm_change(
        &self,
        account_id: &str,
        old_device_id: &str,
        new_device_id: &str,
        code: &str,
        now: i64,
    ) -> Result<ChangeOutcome, EngineError> {
        let pending = self
            .store
            .device(new_device_id)
            .await?
            .filter(|d| d.account_id == account_id && d.state == DeviceState::Pending);
        let Some(pending) = pending else {
            // A reset removes the pending token with the old device: told as the change it is.
            let bound = self.store.active_device(account_id).await?;
            if bound.is_some_and(|d| d.id == old_device_id) {
                return Ok(ChangeOutcome::Expired);
            }
            return Ok(ChangeOutcome::Superseded);
        };
        if now.saturating_sub(pending.created_at) > PENDING_TTL_SECONDS {
            return Ok(ChangeOutcome::Expired);
        }
        let (seed, pin) = codes::open_seed(&self.key, &pending)?;
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        let CodeCheck::Valid(step) = codes::check_code(
            &pending,
            &seed,
            pin.as_ref(),
            &code,
            now,
            &self.settings.load().otp,
        ) else {
            return Ok(ChangeOutcome::WrongCode);
        };
        if self
            .store
            .swap_device(old_device_id, new_device_id, step, now)
            .await?
        {
            Ok(ChangeOutcome::Changed)
        } else {
            Ok(ChangeOutcome::Superseded)
        }
    }

    async fn audit_change(
        &self,
        now: i64,
        kind: &str,
        account_id: &str,
        outcome: &str,
        detail: serde_json::Value,
    ) -> Result<(), EngineError> {
        let actor = format!("account:{account_id}");
        let event = AuditEvent::new(now, kind, &actor, Some(account_id), outcome, detail);
        event.log();
        self.store.append_audit(&[event]).await?;
        Ok(())
    }
}
