//! Where a session is in the account activation / reset pages, kept in the web session (its `flow`, JSON).
//!
//! [`AccountFlow::Identified`] holds the typed account (not looked up: the pages say nothing about it before a
//! code is verified). [`AccountFlow::Verified`] is the right to set the password: bound to the account, the
//! purpose and the proof, valid for [`VERIFIED_TTL_SECONDS`], and single use (taken from the session with an
//! atomic compare-and-clear right before the password is stored). Pure apart from the random nonce.

use serde::{Deserialize, Serialize};

use super::WebError;
use super::session::random_token;
use crate::engine::account_recovery::{ProofMethod, RecoveryPurpose};

/// How long a verified code allows setting the password.
pub(crate) const VERIFIED_TTL_SECONDS: i64 = 600;

/// The account pages' state of one session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub(crate) enum AccountFlow {
    /// An account ID was typed; a code is to be requested or checked.
    Identified {
        /// Activation or reset.
        purpose: RecoveryPurpose,
        /// The typed account ID, trimmed and lower-cased (maybe not an account at all).
        account: String,
    },
    /// A code was verified for this account: the password may be set once, until `expires_at`.
    Verified {
        /// Activation or reset.
        purpose: RecoveryPurpose,
        /// The verified account.
        account: String,
        /// How it was verified.
        method: ProofMethod,
        /// Unix seconds.
        expires_at: i64,
        /// Makes every grant distinct, so an old copy can never be taken twice.
        nonce: String,
    },
}

impl AccountFlow {
    /// A fresh grant after a verified code.
    pub(crate) fn verified(
        purpose: RecoveryPurpose,
        account: String,
        method: ProofMethod,
        now: i64,
    ) -> Result<Self, WebError> {
        Ok(Self::Verified {
            purpose,
            account,
            method,
            expires_at: now.saturating_add(VERIFIED_TTL_SECONDS),
            nonce: random_token()?,
        })
    }

    /// The stored form.
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The state in a session's stored form (`None` for none or an unreadable one).
    pub(crate) fn parse(stored: Option<&str>) -> Option<Self> {
        stored.and_then(|s| serde_json::from_str(s).ok())
    }

    /// The typed account of an `Identified` flow for `purpose`.
    pub(crate) fn identified(stored: Option<&str>, purpose: RecoveryPurpose) -> Option<String> {
        match Self::parse(stored) {
            Some(Self::Identified {
                purpose: p,
                account,
            }) if p == purpose => Some(account),
            _ => None,
        }
    }

    /// The account and proof of an unexpired `Verified` flow for `purpose`.
    pub(crate) fn granted(
        stored: Option<&str>,
        purpose: RecoveryPurpose,
        now: i64,
    ) -> Option<(String, ProofMethod)> {
        match Self::parse(stored) {
            Some(Self::Verified {
                purpose: p,
                account,
                method,
                expires_at,
                ..
            }) if p == purpose && now < expires_at => Some((account, method)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_grant_is_bound_to_purpose_and_time() {
        let grant = AccountFlow::verified(
            RecoveryPurpose::Reset,
            "alice".into(),
            ProofMethod::Sms,
            1000,
        )
        .unwrap();
        let stored = grant.to_json();
        assert_eq!(AccountFlow::parse(Some(&stored)), Some(grant.clone()));
        assert_eq!(
            AccountFlow::granted(Some(&stored), RecoveryPurpose::Reset, 1599),
            Some(("alice".to_owned(), ProofMethod::Sms))
        );
        assert_eq!(
            AccountFlow::granted(Some(&stored), RecoveryPurpose::Reset, 1600),
            None
        );
        assert_eq!(
            AccountFlow::granted(Some(&stored), RecoveryPurpose::Activate, 1100),
            None
        );
        assert_eq!(
            AccountFlow::identified(Some(&stored), RecoveryPurpose::Reset),
            None
        );
        let again = AccountFlow::verified(
            RecoveryPurpose::Reset,
            "alice".into(),
            ProofMethod::Sms,
            1000,
        )
        .unwrap();
        assert_ne!(again.to_json(), stored, "every grant is distinct");
        assert_eq!(AccountFlow::parse(Some("not json")), None);
    }
}
