//! The account as the directory describes it at the moment of a login (`accounts.password_source = "ldap"`):
//! the reply groups mapped through `[ldap.groups]`, disabled there, and the earlier of both expiry dates. It is
//! a copy for the one decision; the stored account changes through `motpd user sync` only, so a login never
//! writes what the directory said.

use std::borrow::Cow;

use super::access::{Engine, Outcome};
use super::messages::Message;
use super::passwords::PasswordCheck;
use super::{EngineError, RejectReason};
use crate::directory::DirectoryEntry;
use crate::store::{Account, AccountStatus};

/// `account` with what `entry` says now.
pub(super) fn as_directory_says(account: &Account, entry: &DirectoryEntry) -> Account {
    let mut view = account.clone();
    if let Some(groups) = &entry.groups {
        view.groups.clone_from(groups);
    }
    if entry.disabled {
        view.status = AccountStatus::Disabled;
    }
    view.expires_on = match (account.expires_on, entry.expires_on) {
        (Some(ours), Some(theirs)) => Some(ours.min(theirs)),
        (ours, theirs) => ours.or(theirs),
    };
    view
}

impl Engine {
    /// Checks the password of a VPN login: the account to go on with (as the directory says, when it checked
    /// the password), or the refusal. A wrong password counts as a failure; the others do not.
    pub(super) async fn vpn_password<'a>(
        &self,
        account: &'a Account,
        password: &[u8],
        now: i64,
    ) -> Result<Result<Cow<'a, Account>, Outcome>, EngineError> {
        Ok(match self.passwords.check(account, password, now).await? {
            PasswordCheck::Right(None) => Ok(Cow::Borrowed(account)),
            PasswordCheck::Right(Some(entry)) => Ok(Cow::Owned(as_directory_says(account, &entry))),
            PasswordCheck::Wrong => Err(self
                .fail(
                    account,
                    RejectReason::BadPassword,
                    Message::BadCredentials,
                    now,
                )
                .await?),
            PasswordCheck::Refused(entry) => {
                let view = as_directory_says(account, &entry);
                Err(self.account_refusal(&view, now, false).unwrap_or_else(|| {
                    self.refuse(RejectReason::Disabled, &Message::Disabled, Some(account))
                }))
            }
            PasswordCheck::Unchecked => Err(self.refuse(
                RejectReason::NoPasswordSource,
                &Message::BadCredentials,
                Some(account),
            )),
        })
    }

    /// The account as the directory says now, for a login whose password was not checked in this request
    /// (`otp-only`, the code after a challenge): one search. An account the directory no longer holds is
    /// refused. Without a directory: the account as stored.
    pub(super) async fn directory_current<'a>(
        &self,
        account: &'a Account,
    ) -> Result<Result<Cow<'a, Account>, Outcome>, EngineError> {
        if self.passwords.authority.directory().is_none() {
            return Ok(Ok(Cow::Borrowed(account)));
        }
        Ok(match self.passwords.directory_entry(&account.id).await? {
            Some(entry) => Ok(Cow::Owned(as_directory_says(account, &entry))),
            None => Err(self.refuse(
                RejectReason::UnknownAccount,
                &Message::BadCredentials,
                Some(account),
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> Account {
        Account {
            id: "alice".into(),
            name: "Alice".into(),
            phone: None,
            email: None,
            password_hash: None,
            status: AccountStatus::Active,
            expires_on: Some(time::macros::date!(2027 - 03 - 31)),
            groups: vec!["local".into()],
            sms_fallback: None,
            failures: 0,
            locked_until: None,
            last_login_at: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn entry() -> DirectoryEntry {
        DirectoryEntry {
            id: "alice".into(),
            dn: "CN=Alice,OU=Staff,DC=hospital,DC=test".into(),
            name: Some("Alice Chen".into()),
            phone: None,
            email: None,
            groups: None,
            disabled: false,
            expires_on: None,
            password_changed_at: None,
        }
    }

    #[test]
    fn an_unmapped_directory_keeps_the_stored_groups_and_expiry() {
        let view = as_directory_says(&account(), &entry());
        assert_eq!(view, account());
    }

    #[test]
    fn mapped_groups_replace_the_stored_ones_and_the_earlier_expiry_wins() {
        let mut entry = entry();
        entry.groups = Some(vec!["nurses".into()]);
        entry.expires_on = Some(time::macros::date!(2027 - 01 - 15));
        let view = as_directory_says(&account(), &entry);
        assert_eq!(view.groups, ["nurses"]);
        assert_eq!(view.expires_on, Some(time::macros::date!(2027 - 01 - 15)));
        entry.expires_on = Some(time::macros::date!(2028 - 01 - 15));
        let view = as_directory_says(&account(), &entry);
        assert_eq!(view.expires_on, Some(time::macros::date!(2027 - 03 - 31)));
        let mut mapped_to_nothing = self::entry();
        mapped_to_nothing.groups = Some(Vec::new());
        assert!(
            as_directory_says(&account(), &mapped_to_nothing)
                .groups
                .is_empty()
        );
    }

    #[test]
    fn disabled_in_the_directory_is_disabled_here() {
        let mut entry = entry();
        entry.disabled = true;
        assert_eq!(
            as_directory_says(&account(), &entry).status,
            AccountStatus::Disabled
        );
    }
}
