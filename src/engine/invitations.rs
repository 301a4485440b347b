//! Enrollment flow B without HTTP or SMTP: e-mail invitations. An admin invites an account (a random 32-byte
//! token, shown only in the link; the store keeps its SHA-256), the link opens from any network, asks for the
//! account's password ([`Invitations::unlock`], `invite_unlock.rs`: the mailbox alone never binds a device) and
//! then shows a pending software token, which the app's first code binds; binding uses the invitation up in the
//! same store transaction (single use, on any node). A pending account (no password yet) activates first.
//!
//! The link's pending token is created on the first unlocked visit and shown again on later unlocked visits
//! while the link is valid (a reload, or a second try after a wrong code must not replace the seed the person
//! has scanned). With [`Invitations::invite_with_seed`] (`motpd invite --qr-in-mail`) it is created at invite
//! time and its QR code goes in the mail; it then also activates on its first successful VPN login (see
//! `mailed_seed.rs`). Either way it is valid exactly as long as the link, and useless after. A link of a
//! disabled or expired account starts nothing. Steps are audited: `admin.invite`, `invite.unlock`,
//! `enroll.start` (also when a pending seed is shown again), `enroll.confirm`; never a token, password, seed or
//! code. [`Invitations::invite_by_mail`] (`invite_send.rs`) stores a new link only once its mail was sent, so a
//! failed send leaves the earlier link working. A binding is followed by a notice mail to the account
//! (`device_notice.rs`). No HTTP, no mail transport, no clock reads outside the injected [`Clock`].

use std::net::IpAddr;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::codes;
use super::device_notice::DeviceNotices;
use super::enrollment::{self, TokenSettings};
use super::invite_unlock::InviteGrant;
use super::passwords::{PasswordAuthority, PasswordChecker};
use super::self_service::{ConfirmOutcome, LoginRefusal, SelfService, StartOutcome};
use super::{EngineError, LiveSettings};
use crate::audit::AuditEvent;
use crate::clock::Clock;
use crate::config::PasswordSource;
use crate::runtime::hashing::HashingPool;
use crate::secrets::{Keyring, SecretError, SecretString};
use crate::store::{Account, DeviceState, Invitation as StoredInvitation, Store, StoreError};
use crate::store::{Logins, Stores};

/// The label of devices started from an invitation.
const DEVICE_LABEL: &str = "invitation";

/// Why an invitation was not created.
#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    /// No such account.
    #[error("account {0} does not exist")]
    NoSuchAccount(String),
    /// The account has no e-mail address to send the link to.
    #[error(
        "account {0} has no e-mail address (set one with `motpd user set {0} --email ADDRESS`)"
    )]
    NoEmail(String),
    /// The account is disabled: its link would not open.
    #[error(
        "account {0} is disabled; enable it first with `motpd user set {0} --status active --reason TEXT`"
    )]
    Disabled(String),
    /// The account is past its expiry date: its link would not open.
    #[error(
        "account {0} has expired; give it a later date first with `motpd user set {0} --expires YYYY-MM-DD --reason TEXT`"
    )]
    Expired(String),
    /// The account already has an active device (reset it first, or invite anyway).
    #[error("account {0} already has an active device")]
    AlreadyBound(String),
    /// No randomness for the token.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The mail's QR code could not be drawn (nothing was stored or sent).
    #[error("could not draw the QR code for the mail: {0}")]
    Qr(#[from] crate::qr_png::QrPngError),
    /// The mail was not sent (nothing was stored: an earlier link still works).
    #[error(
        "could not mail the invitation to {email} (nothing changed: an earlier link still works): {source}"
    )]
    Mail {
        /// The recipient.
        email: String,
        /// Why.
        #[source]
        source: crate::notify::NotifyError,
    },
    /// The store or engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// What kind of invitation to create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteMode {
    /// A link only; with `allow_bound` also for an account that has an active device.
    Link {
        /// Invite an account with an active device anyway.
        allow_bound: bool,
    },
    /// A link and the pending token's QR code in the mail (`--qr-in-mail`).
    SeedInMail,
}

/// Whether a link alone can bind a device under `source`: with `password_source = "none"` the link's page has
/// no password to check, so only an invitation with the QR code in the mail binds anything.
pub fn link_alone_binds(source: PasswordSource) -> bool {
    source != PasswordSource::None
}

/// An invitation made but not stored yet: its link works only after [`Invitations::commit`].
#[derive(Debug)]
pub(super) struct Prepared {
    pub(super) invitation: Invitation,
    hash: [u8; 32],
    device: Option<crate::store::NewDevice>,
    allow_bound: bool,
}

/// A created invitation: where to send it and the link (secret: it is the credential).
#[derive(Debug)]
pub struct Invitation {
    /// The invited account.
    pub account: Account,
    /// Its e-mail address.
    pub email: String,
    /// `{public_url}/invite/{token}`.
    pub link: SecretString,
    /// Unix seconds after which the link no longer works.
    pub expires_at: i64,
    /// `--qr-in-mail`: the pending token's `otpauth://` URI, for the mail's QR code (secret: it is the seed).
    pub mailed_uri: Option<SecretString>,
}

/// What a link is worth now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// Usable, for this account.
    Valid {
        /// The invited account.
        account_id: String,
    },
    /// It already bound a device.
    Used,
    /// Past its expiry.
    Expired,
    /// Never issued, or replaced by a newer invitation.
    Unknown,
    /// The account was disabled after the invitation.
    AccountDisabled,
    /// The account is past its expiry date (`--expires`).
    AccountExpired,
    /// The account has no password yet: activate it first, then come back to the same link while it is valid.
    AccountNotActivated {
        /// The invited account.
        account_id: String,
    },
    /// Valid, but this visitor has not given the account's password (or gave it for another link).
    PasswordNeeded {
        /// The invited account (the only one this link can bind).
        account_id: String,
    },
}

/// The invitation service.
#[derive(Debug)]
pub struct Invitations {
    pub(super) store: Arc<dyn Store>,
    /// The login path: account records, lockout reservations, challenges.
    pub(super) logins: Arc<Logins>,
    key: Arc<Keyring>,
    pub(super) clock: Arc<dyn Clock>,
    service: SelfService,
    pub(super) settings: LiveSettings,
    pub(super) passwords: PasswordChecker,
    public_url: String,
    ttl_seconds: i64,
}

impl Invitations {
    /// A service whose links start with `settings.public_url` and live `ttl_hours`. The link's password check
    /// runs on this process's hashing threads ([`HashingPool::process`]), like the RADIUS engine's.
    pub fn new(
        stores: &Stores,
        key: Arc<Keyring>,
        clock: Arc<dyn Clock>,
        settings: impl Into<LiveSettings>,
        ttl_hours: u32,
    ) -> Self {
        let settings = settings.into();
        Self {
            public_url: settings.load().public_url.trim_end_matches('/').to_owned(),
            ttl_seconds: i64::from(ttl_hours).saturating_mul(3600),
            service: SelfService::new(
                stores,
                key.clone(),
                clock.clone(),
                settings.clone(),
                // Only starting and confirming go through it: they check no password.
                HashingPool::new(1),
            ),
            passwords: PasswordChecker::new(stores.store.clone(), HashingPool::process()),
            settings,
            store: stores.store.clone(),
            logins: stores.logins.clone(),
            key,
            clock,
        }
    }

    /// The service, mailing a notice to the account after each binding through `notices`.
    #[must_use]
    pub fn with_notices(mut self, notices: Arc<DeviceNotices>) -> Self {
        self.set_notices(notices);
        self
    }

    /// Checks the link page's passwords where `authority` says passwords live (default: motpd's own).
    pub fn set_password_authority(&mut self, authority: PasswordAuthority) {
        self.service.set_password_authority(authority.clone());
        self.passwords.authority = authority;
    }

    /// Sets where binding notices go (see [`Invitations::with_notices`]).
    pub fn set_notices(&mut self, notices: Arc<DeviceNotices>) {
        self.service.set_notices(notices);
    }

    /// Creates an invitation for `account_id` (replacing its earlier ones), audited `admin.invite` by `actor`.
    /// With `allow_bound` an account with an active device is invited anyway (its page then says so until
    /// the device is reset). To mail it, use [`Invitations::invite_by_mail`], which stores it only once sent.
    pub async fn invite(
        &self,
        account_id: &str,
        allow_bound: bool,
        actor: &str,
    ) -> Result<Invitation, InviteError> {
        let prepared = self
            .prepare(account_id, InviteMode::Link { allow_bound })
            .await?;
        self.commit(prepared, actor, None).await
    }

    /// `motpd invite --qr-in-mail`: like [`Invitations::invite`], but the pending software token is created now
    /// and its `otpauth://` URI returned for the mail's QR code. The device activates on its first correct code,
    /// on the link's page or at a VPN login, while the link is valid. Never for an account with an active device.
    pub async fn invite_with_seed(
        &self,
        account_id: &str,
        actor: &str,
    ) -> Result<Invitation, InviteError> {
        let prepared = self.prepare(account_id, InviteMode::SeedInMail).await?;
        self.commit(prepared, actor, None).await
    }

    /// A new invitation (token, expiry, and with [`InviteMode::SeedInMail`] its pending device), not stored yet.
    pub(super) async fn prepare(
        &self,
        account_id: &str,
        mode: InviteMode,
    ) -> Result<Prepared, InviteError> {
        let now = self.clock.now();
        let allow_bound = matches!(mode, InviteMode::Link { allow_bound: true });
        let (account, email) = self.invitable(account_id, allow_bound).await?;
        let (token, hash) = new_token()?;
        let expires_at = now.saturating_add(self.ttl_seconds);
        let (device, mailed_uri) = match mode {
            InviteMode::Link { .. } => (None, None),
            InviteMode::SeedInMail => {
                let (device, seed) = enrollment::generate_device(
                    &self.key,
                    &self.settings.load().otp,
                    &account.id,
                    Some(DEVICE_LABEL.into()),
                )
                .map_err(super::self_service::enroll_error)?;
                (Some(device), Some(seed.uri))
            }
        };
        Ok(Prepared {
            invitation: self.invitation(account, email, &token, expires_at, mailed_uri),
            hash,
            device,
            allow_bound,
        })
    }

    /// Stores a prepared invitation, replacing the account's earlier ones in the same transaction, and audits
    /// `admin.invite` `ok` (with the admin's `reason`, if given).
    pub(super) async fn commit(
        &self,
        prepared: Prepared,
        actor: &str,
        reason: Option<&str>,
    ) -> Result<Invitation, InviteError> {
        let now = self.clock.now();
        let Prepared {
            invitation,
            hash,
            device,
            allow_bound,
        } = prepared;
        let account_id = invitation.account.id.clone();
        let expires_at = invitation.expires_at;
        let mut detail = match &device {
            None => {
                self.store
                    .create_invitation(&account_id, &hash, expires_at, now)
                    .await
                    .map_err(EngineError::from)?;
                serde_json::json!({ "expires_at": expires_at, "allow_bound": allow_bound })
            }
            Some(device) => {
                match self
                    .store
                    .create_invitation_with_seed(&hash, expires_at, device, now)
                    .await
                {
                    Ok(()) => {}
                    Err(StoreError::Conflict(_)) => {
                        return Err(InviteError::AlreadyBound(account_id));
                    }
                    Err(e) => return Err(EngineError::from(e).into()),
                }
                serde_json::json!({
                    "expires_at": expires_at,
                    "allow_bound": false,
                    "qr_in_mail": true,
                    "device": device.id,
                })
            }
        };
        if let (Some(reason), Some(fields)) = (reason, detail.as_object_mut()) {
            fields.insert("reason".into(), reason.into());
        }
        self.audit_invite(now, actor, &account_id, "ok", detail)
            .await?;
        Ok(invitation)
    }

    /// The account, if it exists, is neither disabled nor expired, has an e-mail address, and (unless
    /// `allow_bound`) no active device.
    async fn invitable(
        &self,
        account_id: &str,
        allow_bound: bool,
    ) -> Result<(Account, String), InviteError> {
        let account = self
            .store
            .account(account_id)
            .await
            .map_err(EngineError::from)?
            .ok_or_else(|| InviteError::NoSuchAccount(account_id.to_owned()))?;
        // Its link would only answer 403.
        match self.service.account_refusal(&account, self.clock.now()) {
            Some(LoginRefusal::Disabled) => return Err(InviteError::Disabled(account.id)),
            Some(_) => return Err(InviteError::Expired(account.id)),
            None => {}
        }
        let Some(email) = account.email.clone().filter(|e| !e.trim().is_empty()) else {
            return Err(InviteError::NoEmail(account.id));
        };
        let bound = self.store.active_device(&account.id).await;
        if !allow_bound && bound.map_err(EngineError::from)?.is_some() {
            return Err(InviteError::AlreadyBound(account.id));
        }
        Ok((account, email))
    }

    pub(super) async fn audit_invite(
        &self,
        now: i64,
        actor: &str,
        account_id: &str,
        outcome: &str,
        detail: serde_json::Value,
    ) -> Result<(), EngineError> {
        let event = AuditEvent::new(
            now,
            "admin.invite",
            actor,
            Some(account_id),
            outcome,
            detail,
        );
        event.log();
        self.store.append_audit(&[event]).await?;
        Ok(())
    }

    fn invitation(
        &self,
        account: Account,
        email: String,
        token: &[u8; 32],
        expires_at: i64,
        mailed_uri: Option<SecretString>,
    ) -> Invitation {
        let link = SecretString::new(format!("{}/invite/{}", self.public_url, hex::encode(token)));
        Invitation {
            account,
            email,
            link,
            expires_at,
            mailed_uri,
        }
    }

    /// The state of the link with this token (the last path segment of the link).
    pub async fn open(&self, token: &str) -> Result<LinkState, EngineError> {
        Ok(match self.usable(token).await? {
            Ok((_, invitation, _)) => LinkState::Valid {
                account_id: invitation.account_id,
            },
            Err(state) => state,
        })
    }

    /// The link's invitation (its token hash, and the account) if it can be used now, else why not.
    pub(super) async fn usable(
        &self,
        token: &str,
    ) -> Result<Result<([u8; 32], StoredInvitation, Account), LinkState>, EngineError> {
        let Some(hash) = parse_token(token) else {
            return Ok(Err(LinkState::Unknown));
        };
        let Some(invitation) = self.store.invitation(&hash).await? else {
            return Ok(Err(LinkState::Unknown));
        };
        let now = self.clock.now();
        if invitation.used_at.is_some() {
            return Ok(Err(LinkState::Used));
        }
        if invitation.expires_at <= now {
            return Ok(Err(LinkState::Expired));
        }
        let Some(account) = self.store.account(&invitation.account_id).await? else {
            return Ok(Err(LinkState::Unknown));
        };
        if self.passwords.awaits_activation(&account) {
            return Ok(Err(LinkState::AccountNotActivated {
                account_id: account.id,
            }));
        }
        Ok(match self.service.account_refusal(&account, now) {
            Some(LoginRefusal::Disabled) => Err(LinkState::AccountDisabled),
            Some(_) => Err(LinkState::AccountExpired),
            None => Ok((hash, invitation, account)),
        })
    }

    /// The link's invitation if it can be used now by the holder of `grant` (given by [`Invitations::unlock`]
    /// for this link and account), else why not.
    async fn granted(
        &self,
        token: &str,
        grant: Option<&InviteGrant>,
    ) -> Result<Result<([u8; 32], StoredInvitation, Account), LinkState>, EngineError> {
        let (hash, invitation, account) = match self.usable(token).await? {
            Ok(usable) => usable,
            Err(state) => return Ok(Err(state)),
        };
        if !grant.is_some_and(|g| g.admits(&hash, &account)) {
            return Ok(Err(LinkState::PasswordNeeded {
                account_id: invitation.account_id,
            }));
        }
        Ok(Ok((hash, invitation, account)))
    }

    /// The link's pending device for a valid link whose password `grant` proves: the one it already shows if
    /// that is still pending, else a new one. `Err(state)` if the link is not valid, or
    /// [`LinkState::PasswordNeeded`] without a matching grant.
    pub async fn start(
        &self,
        token: &str,
        grant: Option<&InviteGrant>,
        client_ip: IpAddr,
    ) -> Result<Result<(String, StartOutcome), LinkState>, EngineError> {
        let (hash, invitation, _) = match self.granted(token, grant).await? {
            Ok(usable) => usable,
            Err(state) => return Ok(Err(state)),
        };
        let account_id = invitation.account_id;
        let mut shown = invitation.device_id;
        // Two first visits can race (a mail scanner and the person): the store's compare-and-set lets one
        // attach its device; the other shows that one. A third round means the device keeps being replaced.
        for _ in 0..3 {
            if let Some(bound) = self.service.status(&account_id).await? {
                return Ok(Ok((account_id, bound)));
            }
            if let Some(pending) = self
                .show_again(&account_id, shown.as_deref(), client_ip)
                .await?
            {
                return Ok(Ok((account_id, pending)));
            }
            match self
                .attach_new(&hash, &account_id, shown.as_deref(), client_ip)
                .await?
            {
                Some(pending) => return Ok(Ok((account_id, pending))),
                None => match self.usable(token).await? {
                    Ok((_, invitation, _)) => shown = invitation.device_id,
                    Err(state) => return Ok(Err(state)),
                },
            }
        }
        Err(EngineError::Store(StoreError::Conflict(
            "the invitation's pending device kept changing".into(),
        )))
    }

    /// The still-pending device `device_id` of the account, its sealed seed opened to be shown again.
    async fn show_again(
        &self,
        account_id: &str,
        device_id: Option<&str>,
        client_ip: IpAddr,
    ) -> Result<Option<StartOutcome>, EngineError> {
        let Some(device_id) = device_id else {
            return Ok(None);
        };
        let device = self.store.device(device_id).await?;
        let Some(device) =
            device.filter(|d| d.account_id == account_id && d.state == DeviceState::Pending)
        else {
            return Ok(None);
        };
        let (seed, _) = codes::open_seed(&self.key, &device)?;
        let settings = TokenSettings {
            algorithm: device.algorithm,
            digits: device.digits,
            period: device.period,
        };
        let shown = enrollment::describe_seed(
            &self.settings.load().otp.issuer,
            &device.id,
            account_id,
            &settings,
            seed.expose(),
        )
        .map_err(super::self_service::enroll_error)?;
        let detail = serde_json::json!({ "device": device.id, "shown_again": true });
        self.audit_web(client_ip, "enroll.start", account_id, detail)
            .await?;
        Ok(Some(StartOutcome::Pending {
            device_id: shown.device_id,
            secret_base32: shown.secret_base32,
            uri: shown.uri,
        }))
    }

    /// A new pending device for the link, unless the link's device changed since it showed `expected`
    /// (`None`: then the caller looks again).
    async fn attach_new(
        &self,
        hash: &[u8; 32],
        account_id: &str,
        expected: Option<&str>,
        client_ip: IpAddr,
    ) -> Result<Option<StartOutcome>, EngineError> {
        let now = self.clock.now();
        let (device, seed) = enrollment::generate_device(
            &self.key,
            &self.settings.load().otp,
            account_id,
            Some(DEVICE_LABEL.into()),
        )
        .map_err(super::self_service::enroll_error)?;
        match self
            .store
            .attach_invitation_device(hash, expected, &device, now)
            .await
        {
            Ok(true) => {}
            Ok(false) | Err(StoreError::Conflict(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        let detail = serde_json::json!({ "device": device.id });
        self.audit_web(client_ip, "enroll.start", account_id, detail)
            .await?;
        Ok(Some(StartOutcome::Pending {
            device_id: seed.device_id,
            secret_base32: seed.secret_base32,
            uri: seed.uri,
        }))
    }

    async fn audit_web(
        &self,
        client_ip: IpAddr,
        kind: &str,
        account_id: &str,
        detail: serde_json::Value,
    ) -> Result<(), EngineError> {
        let actor = format!("web:{client_ip}");
        let event = AuditEvent::new(
            self.clock.now(),
            kind,
            &actor,
            Some(account_id),
            "ok",
            detail,
        );
        event.log();
        self.store.append_audit(&[event]).await?;
        Ok(())
    }

    /// Binds the link's pending device with the app's code and uses the link up (one store transaction), for
    /// the holder of `grant` only; then a notice goes to the account's mailbox. `Err(state)` if the link is not
    /// valid (any more), or [`LinkState::PasswordNeeded`] without a matching grant.
    pub async fn confirm(
        &self,
        token: &str,
        grant: Option<&InviteGrant>,
        device_id: &str,
        code: &str,
        client_ip: IpAddr,
    ) -> Result<Result<ConfirmOutcome, LinkState>, EngineError> {
        let invitation = match self.granted(token, grant).await? {
            Ok((_, invitation, _)) => invitation,
            Err(state) => return Ok(Err(state)),
        };
        let outcome = self
            .service
            .confirm_invited(&invitation.account_id, device_id, code, client_ip)
            .await?;
        Ok(Ok(outcome))
    }
}

/// A new random link token and its SHA-256.
fn new_token() -> Result<([u8; 32], [u8; 32]), SecretError> {
    let mut token = [0u8; 32];
    getrandom::fill(&mut token).map_err(|_| SecretError::Random)?;
    Ok((token, token_hash(&token)))
}

/// The SHA-256 of a token's bytes: what the store keeps.
fn token_hash(token: &[u8]) -> [u8; 32] {
    Sha256::digest(token).into()
}

/// The stored hash for a link token (64 hex digits), `None` if it cannot be one.
fn parse_token(token: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(token).ok()?;
    (bytes.len() == 32).then(|| token_hash(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_64_hex_digits_and_hashed_with_sha256() {
        // FIPS 180-2 / NIST example: SHA-256 of 32 zero bytes.
        assert_eq!(
            parse_token(&"00".repeat(32)).map(hex::encode).as_deref(),
            Some("66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925")
        );
        assert_eq!(parse_token(&"00".repeat(31)), None);
        assert_eq!(parse_token("zz"), None);
        assert_eq!(parse_token(""), None);
    }
}
