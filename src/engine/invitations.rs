//! Enrollment flow B without HTTP or SMTP: e-mail invitations. An admin invites an account (a random 32-byte
//! token, shown only in the link; the store keeps its SHA-256), the link opens from any network, starts a
//! pending software token and binds it with the app's first code; binding uses the invitation up (single use,
//! decided atomically by the store). Starting and confirming reuse [`SelfService`] (same seeds, same code
//! check, same `enroll.start` / `enroll.confirm` audit); the invitation itself is audited `admin.invite`.
//! No HTTP, no mail transport, no clock reads outside the injected [`Clock`].

use std::net::IpAddr;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::self_service::{ConfirmOutcome, SelfService, StartOutcome};
use super::{EngineError, EngineSettings};
use crate::audit::AuditEvent;
use crate::clock::Clock;
use crate::secrets::{MasterKey, SecretError, SecretString};
use crate::store::{Account, Store};

/// Why an invitation was not created.
#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    /// No such account.
    #[error("account {0} does not exist")]
    NoSuchAccount(String),
    /// The account has no e-mail address to send the link to.
    #[error("account {0} has no e-mail address (set one with `motpd user update --email`)")]
    NoEmail(String),
    /// The account already has an active device (reset it first, or invite anyway).
    #[error("account {0} already has an active device")]
    AlreadyBound(String),
    /// No randomness for the token.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The store or engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
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
}

/// The invitation service.
#[derive(Debug)]
pub struct Invitations {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    service: SelfService,
    public_url: String,
    ttl_seconds: i64,
}

impl Invitations {
    /// A service whose links start with `settings.public_url` and live `ttl_hours`.
    pub fn new(
        store: Arc<dyn Store>,
        key: Arc<MasterKey>,
        clock: Arc<dyn Clock>,
        settings: EngineSettings,
        ttl_hours: u32,
    ) -> Self {
        Self {
            public_url: settings.public_url.trim_end_matches('/').to_owned(),
            ttl_seconds: i64::from(ttl_hours).saturating_mul(3600),
            service: SelfService::new(store.clone(), key, clock.clone(), settings, 1),
            store,
            clock,
        }
    }

    /// Creates an invitation for `account_id` (replacing its earlier ones), audited `admin.invite` by `actor`.
    /// With `allow_bound` an account with an active device is invited anyway (its page then says so until
    /// the device is reset).
    pub async fn invite(
        &self,
        account_id: &str,
        allow_bound: bool,
        actor: &str,
    ) -> Result<Invitation, InviteError> {
        let now = self.clock.now();
        let account = self
            .store
            .account(account_id)
            .await
            .map_err(EngineError::from)?
            .ok_or_else(|| InviteError::NoSuchAccount(account_id.to_owned()))?;
        let Some(email) = account.email.clone().filter(|e| !e.trim().is_empty()) else {
            return Err(InviteError::NoEmail(account.id));
        };
        let bound = self.store.active_device(&account.id).await;
        if !allow_bound && bound.map_err(EngineError::from)?.is_some() {
            return Err(InviteError::AlreadyBound(account.id));
        }
        let mut token = [0u8; 32];
        getrandom::fill(&mut token).map_err(|_| SecretError::Random)?;
        let expires_at = now.saturating_add(self.ttl_seconds);
        self.store
            .create_invitation(&account.id, &token_hash(&token), expires_at, now)
            .await
            .map_err(EngineError::from)?;
        let detail = serde_json::json!({ "expires_at": expires_at, "allow_bound": allow_bound });
        let event = AuditEvent::new(now, "admin.invite", actor, Some(&account.id), "ok", detail);
        self.store
            .append_audit(&[event])
            .await
            .map_err(EngineError::from)?;
        let link = SecretString::new(format!("{}/invite/{}", self.public_url, hex::encode(token)));
        Ok(Invitation {
            account,
            email,
            link,
            expires_at,
        })
    }

    /// The state of the link with this token (the last path segment of the link).
    pub async fn open(&self, token: &str) -> Result<LinkState, EngineError> {
        let Some(hash) = parse_token(token) else {
            return Ok(LinkState::Unknown);
        };
        let Some(invitation) = self.store.invitation(&hash).await? else {
            return Ok(LinkState::Unknown);
        };
        Ok(if invitation.used_at.is_some() {
            LinkState::Used
        } else if invitation.expires_at <= self.clock.now() {
            LinkState::Expired
        } else {
            LinkState::Valid {
                account_id: invitation.account_id,
            }
        })
    }

    /// Starts a pending device for a valid link (replacing an earlier pending one); `Err(state)` if the link
    /// is not valid.
    pub async fn start(
        &self,
        token: &str,
        client_ip: IpAddr,
    ) -> Result<Result<(String, StartOutcome), LinkState>, EngineError> {
        let account_id = match self.open(token).await? {
            LinkState::Valid { account_id } => account_id,
            other => return Ok(Err(other)),
        };
        let outcome = self
            .service
            .start_enrollment(&account_id, Some("invitation".into()), client_ip)
            .await?;
        Ok(Ok((account_id, outcome)))
    }

    /// Binds the pending device with the app's code and uses the link up; `Err(state)` if the link is not
    /// valid (any more).
    pub async fn confirm(
        &self,
        token: &str,
        device_id: &str,
        code: &str,
        client_ip: IpAddr,
    ) -> Result<Result<ConfirmOutcome, LinkState>, EngineError> {
        let account_id = match self.open(token).await? {
            LinkState::Valid { account_id } => account_id,
            other => return Ok(Err(other)),
        };
        let outcome = self
            .service
            .confirm(&account_id, device_id, code, client_ip)
            .await?;
        if let (ConfirmOutcome::Bound, Some(hash)) = (outcome, parse_token(token)) {
            self.store.use_invitation(&hash, self.clock.now()).await?;
        }
        Ok(Ok(outcome))
    }
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
