//! The password step of an invitation link: the link holder proves the invited account's password before any
//! seed is shown or bound, so the mailbox alone never yields a device. The account is the link's; a link never
//! binds another.
//!
//! A right password yields an [`InviteGrant`] for this link and account, which the web layer keeps server-side
//! in the visitor's session and hands back to [`Invitations::start`] and [`Invitations::confirm`]. The check is
//! counted before comparing on the web pages' own counter (as `/enroll`'s login; a VPN or admin lock refuses it
//! too); a wrong one leaves the link usable, a right one clears nothing. Audited `invite.unlock`, never with
//! the password.

use crate::store::LoginStore;
use std::net::IpAddr;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::EngineError;
use super::invitations::{Invitations, LinkState};
use super::passwords::PasswordCheck;
use super::self_service::LoginRefusal;
use crate::audit::AuditEvent;
use crate::store::Account;

/// What [`InviteGrant`]'s text starts with (it is kept as a session's state).
const GRANT_PREFIX: &str = "invite-grant:";

/// Proof that the visitor's web session gave the password of the link's account: the SHA-256 of the link's token (never the
/// token), the SHA-256 of the account's stored password hash (a new password voids the grant) and the account
/// ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteGrant(String);

impl InviteGrant {
    fn new(token_hash: &[u8; 32], account: &Account) -> Self {
        let password = Sha256::digest(account.password_hash.as_deref().unwrap_or_default());
        Self(format!(
            "{GRANT_PREFIX}{}:{}:{}",
            hex::encode(token_hash),
            hex::encode(password),
            account.id
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

    /// Whether it was given for the link with this token hash and this account, with its current password.
    pub(super) fn admits(&self, token_hash: &[u8; 32], account: &Account) -> bool {
        let expected = Self::new(token_hash, account);
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
        let (hash, _, account) = match self.usable(token).await? {
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
        } else {
            self.checked_on_the_web_counter(&account, password, now)
                .await?
                .map_or_else(
                    || Unlock::Granted(InviteGrant::new(&hash, &account)),
                    refused,
                )
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
        event.log();
        self.store.append_audit(&[event]).await?;
        Ok(outcome)
    }
}

impl Invitations {
    /// The link's password check on the web pages' own counter (counted before comparing, like `/enroll`'s
    /// login): `None` when the password is right, else why not.
    async fn checked_on_the_web_counter(
        &self,
        account: &crate::store::Account,
        password: &[u8],
        now: i64,
    ) -> Result<Option<LoginRefusal>, EngineError> {
        use crate::store::{Counter, Reservation};
        let lockout = super::lockout::lockout_policy(&self.settings.load().policy);
        let id = &account.id;
        match self
            .logins
            .reserve_attempt(Counter::Web, id, now, lockout)
            .await?
        {
            Some(Reservation::Granted { .. }) => {}
            Some(Reservation::Refused { until }) => {
                return Ok(Some(LoginRefusal::Locked { until }));
            }
            None => return Ok(Some(LoginRefusal::BadCredentials)),
        }
        let checked = match self.passwords.check(account, password, now).await {
            Ok(checked) => checked,
            Err(error) => {
                if matches!(error, EngineError::Overloaded | EngineError::Directory(_)) {
                    self.logins.release_attempt(Counter::Web, id).await?;
                }
                return Err(error);
            }
        };
        let refused = match &checked {
            PasswordCheck::Right(_) | PasswordCheck::Wrong => None,
            // Disabled or expired in the directory, the password untried: told like a wrong one.
            PasswordCheck::Refused(_) => Some(LoginRefusal::BadCredentials),
            PasswordCheck::Unchecked => Some(LoginRefusal::NoPasswordCheck),
        };
        if let Some(refusal) = refused {
            self.logins.release_attempt(Counter::Web, id).await?;
            return Ok(Some(refusal));
        }
        if matches!(checked, PasswordCheck::Right(_)) {
            // The grant is not a login: the count goes back, nothing is cleared.
            self.logins.release_attempt(Counter::Web, id).await?;
            return Ok(None);
        }
        let state = self
            .logins
            .settle_failure(Counter::Web, id, now, lockout)
            .await?;
        Ok(Some(
            match state.locked_until.filter(|&until| until > now) {
                Some(until) => LoginRefusal::Locked { until },
                None => LoginRefusal::BadCredentials,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_admits_only_its_link_account_and_password() {
        let account = |id: &str, hash: &str| Account {
            id: id.into(),
            name: String::new(),
            phone: None,
            email: None,
            password_hash: Some(hash.into()),
            status: crate::store::AccountStatus::Active,
            expires_on: None,
            groups: Vec::new(),
            sms_fallback: None,
            failures: 0,
            locked_until: None,
            last_login_at: None,
            created_at: 0,
            updated_at: 0,
        };
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let alice = account("alice", "$argon2id$one");
        let grant = InviteGrant::new(&a, &alice);
        assert!(grant.admits(&a, &alice));
        assert!(!grant.admits(&b, &alice));
        assert!(!grant.admits(&a, &account("bob", "$argon2id$one")));
        assert!(
            !grant.admits(&a, &account("alice", "$argon2id$two")),
            "a new password voids it"
        );
        assert!(!grant.as_str().contains("argon2"));
        let kept = InviteGrant::parse(Some(grant.as_str()));
        assert_eq!(kept.as_ref(), Some(&grant));
        // The account pages' own state is not a grant.
        assert_eq!(InviteGrant::parse(Some("{\"purpose\":\"reset\"}")), None);
        assert_eq!(InviteGrant::parse(None), None);
    }
}
