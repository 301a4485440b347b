//! The VPN side of `motpd invite --qr-in-mail`: a seed mailed as a QR code is a pending device that also
//! activates on its first VPN login with a correct code, while its invitation is unused and unexpired.
//!
//! [`Engine::login_device`] gives the login its device (the active one, read with the account, else such a
//! mailed pending one); a correct code from a pending device goes to [`Engine::activate_mailed_seed`] instead of
//! the replay guard: one store transaction activates the device (at most one active device per account, the
//! code's step used up) and uses the invitation up. After the link expires (or is used, or replaced) the pending seed is useless.
//! Audited `enroll.confirm` with actor `radius:<client>`, never the code; then a notice is mailed to the account
//! (`device_notice.rs`).
//!
//! The mailed seed is what the mailbox holds, so its first activation needs the password too: in
//! `password+otp` and `challenge` modes the engine checks it before the code; in `otp-only` mode the gateway
//! checked the directory password before asking motpd. An account without a password (pending) never
//! activates one: it is refused before its device is looked up, and again here.

use std::borrow::Cow;

use std::sync::Arc;

use super::access::Outcome;
use super::device_notice::{BoundVia, DeviceNotices};
use super::messages::Message;
use super::{AccessRequest, Decision, Engine, EngineError, RejectReason};
use crate::audit::AuditEvent;
use crate::store::{Account, Device, StoreError};

impl Engine {
    /// The engine, mailing a notice to the account when a mailed seed is activated at the VPN.
    #[must_use]
    pub fn with_notices(mut self, notices: Arc<DeviceNotices>) -> Self {
        self.notices = Some(notices);
        self
    }

    /// The device a login is checked against: the account's `active` device (read with the account), else the
    /// pending device whose seed was mailed with a still-valid invitation.
    pub(super) async fn login_device<'a>(
        &self,
        active: Option<&'a Device>,
        account_id: &str,
        now: i64,
    ) -> Result<Option<Cow<'a, Device>>, EngineError> {
        if let Some(device) = active {
            return Ok(Some(Cow::Borrowed(device)));
        }
        let pending = self.store.mailed_pending_device(account_id, now).await?;
        Ok(pending.map(Cow::Owned))
    }

    /// The password and a code of the mailed pending `device` (time step `step`) were right: activate it and
    /// let the user in. If another request activated it first, or the link ran out meanwhile, the code counts
    /// as used (Reject, like a replay).
    pub(super) async fn activate_mailed_seed(
        &self,
        request: &AccessRequest,
        account: &Account,
        device: &Device,
        step: i64,
        now: i64,
    ) -> Result<Outcome, EngineError> {
        if self.passwords.awaits_activation(account) {
            let message = Message::NotActivated(format!(
                "{}/account/activate",
                self.settings.load().public_url
            ));
            return Ok(self.reject(RejectReason::NotActivated, &message, Some(account)));
        }
        let result = match self
            .store
            .confirm_invited_device(&device.id, step, now)
            .await
        {
            Ok(true) => "bound",
            Ok(false) => "expired",
            Err(StoreError::Conflict(_)) => "already_bound",
            Err(StoreError::NotFound(_)) => "gone",
            Err(e) => return Err(e.into()),
        };
        let bound = result == "bound";
        let detail =
            serde_json::json!({ "device": device.id, "result": result, "via": "vpn_login" });
        let event = AuditEvent::new(
            now,
            "enroll.confirm",
            &format!("radius:{}", request.client),
            Some(&account.id),
            if bound { "ok" } else { "reject" },
            detail,
        );
        event.log();
        self.store.append_audit(&[event]).await?;
        if !bound {
            return Ok(self.reject(RejectReason::Replayed, &Message::Replayed, Some(account)));
        }
        if let Some(notices) = &self.notices {
            notices.device_bound(account, BoundVia::MailedQrAtVpn, now);
        }
        // The success clears the count only if no lock came meanwhile (the same rule as every accept).
        if let Some(locked) = self.verified_success(account, now).await? {
            return Ok(locked);
        }
        Ok(Outcome {
            decision: Decision::Accept {
                groups: account.groups.clone(),
                message: None,
            },
            account: Some(account.id.clone()),
            commit: None,
        })
    }
}
