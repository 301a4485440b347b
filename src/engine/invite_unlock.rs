//! The password step of an invitation link: the link holder proves the invited account's password before any
//! seed is shown or bound, so the mailbox alone never yields a device. The account is the link's; a link never
//! binds another.
//!
//! A right password yields an [`InviteGrant`] for this link and account, which the web layer keeps server-side
//! in the visitor's session and hands back to [`Invitations::start`] and [`Invitations::confirm`]. A wrong one
//! counts on the account's failure counter (the one RADIUS locks on) and leaves the link usable. A right one
//! clears nothing: only a full two-factor success does. Audited `invite.unlock`, never with the password.

use std::net::IpAddr;

use subtle::ConstantTimeEq;

use super::EngineError;
use super::invitations::{Invitations, LinkState};
use super::self_service::LoginRefusal;
use crate::audit::AuditEvent;

/// What [`InviteGrant`]'s text starts with (it is kept as a session's state).
const GRANT_PREFIX: &str = "invite-grant:";

/// Proof that this session gave the password of the link's account: the SHA-256 of the link's token (never the
/// token) and the account ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteGrant(String);

impl InviteGrant {
    fn new(token_hash: &[u8; 32], account_id: &str) -> Self {
        Self(format!(
            "{GRANT_PREFIX}{}:{account_id}",
            hex::encode(token_hash)
        ))
    }

    /// The grant kept as `stored` (a session's state), if it is one.
    pub fn parse(stored: Option<&str>) -> Option<Self> {
        stored
            .filter(|s| s.starts_with(GRANT_PREFIX))
            .map(|s| Self(s.to_owned()))
    }

    /// The text to keep in the session.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it was given for the link with this token hash and account.
    pub(super) fn admits(&self, token_hash: &[u8; 32], account_id: &str) -> bool {
        let expected = Self::new(token_hash, account_id);
        bool::from(self.0.as_bytes().ct_eq(expected.0.as_bytes()))
    }
}

/// The result of [`Invitations::unlock`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unlock {
    /// The password was right: keep the grant in the session.
    Granted(InviteGrant),
    /// Refused (wrong password, or locked): the link stays usable.
    Refused {
        /// The link's account.
        account_id: String,
        /// Why: [`LoginRefusal::BadCredentials`] or [`LoginRefusal::Locked`].
        refusal: LoginRefusal,
    },
    /// The link cannot be used (any more), or the account must be activated first.
    Link(LinkState),
}

impl Invitations {
    /// Checks `password` against the link's account.
    pub async fn unlock(
        &self,
        token: &str,
        password: &[u8],
        client_ip: IpAddr,
    ) -> Result<Unlock, EngineError> {
        let (hash, invitation, account) = match self.usable(token).await? {
            Ok(usable) => usable,
            Err(state) => return Ok(Unlock::Link(state)),
        };
        let now = self.clock.now();
        let refused = |refusal| Unlock::Refused {
            account_id: account.id.clone(),
            refusal,
        };
        let outcome = if let Some(until) = account.locked_until.filter(|&until| until > now) {
            refused(LoginRefusal::Locked { until })
        } else if self.passwords.check(&account, password, now).await? {
            Unlock::Granted(InviteGrant::new(&hash, &invitation.account_id))
        } else {
            let policy = &self.settings.policy;
            let lock_seconds = i64::from(policy.lockout_minutes) * 60;
            // The web's password check will count on its own counter once the store has one; the RADIUS
            // counter is the one that exists today.
            let state = self
                .store
                .record_failure(&account.id, now, policy.lockout_failures, lock_seconds)
                .await?;
            match state.locked_until.filter(|&until| until > now) {
                Some(until) => refused(LoginRefusal::Locked { until }),
                None => refused(LoginRefusal::BadCredentials),
            }
        };
        let (label, reason) = match &outcome {
            Unlock::Refused { refusal, .. } => ("reject", Some(refusal.as_str())),
            _ => ("ok", None),
        };
        let event = AuditEvent::new(
            now,
            "invite.unlock",
            &format!("web:{client_ip}"),
            Some(&account.id),
            label,
            serde_json::json!({ "reason": reason }),
        );
        self.store.append_audit(&[event]).await?;
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_admits_only_its_link_and_account() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let grant = InviteGrant::new(&a, "alice");
        assert!(grant.admits(&a, "alice"));
        assert!(!grant.admits(&b, "alice"));
        assert!(!grant.admits(&a, "bob"));
        let kept = InviteGrant::parse(Some(grant.as_str()));
        assert_eq!(kept.as_ref(), Some(&grant));
        // The account pages' own state is not a grant.
        assert_eq!(InviteGrant::parse(Some("{\"purpose\":\"reset\"}")), None);
        assert_eq!(InviteGrant::parse(None), None);
    }
}
