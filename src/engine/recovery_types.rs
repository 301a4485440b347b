//! The vocabulary of account activation and reset ([`super::account_recovery`]): the purpose, the proof, the
//! SMS side the flows need ([`RecoverySms`]), where a verified account stands, and the results of each step.
//! Re-exported by `account_recovery`; no logic beyond names.

use super::EngineError;
use crate::config::Language;
use crate::password::PolicyViolation;
use crate::store::Account;

/// What the owner wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryPurpose {
    /// First use: a pending account gets its password and becomes active.
    Activate,
    /// Forgotten password: an active account gets a new one.
    Reset,
}

impl RecoveryPurpose {
    /// The snake_case name (URLs, audit trail).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Activate => "activate",
            Self::Reset => "reset",
        }
    }

    /// Parses [`Self::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "activate" => Some(Self::Activate),
            "reset" => Some(Self::Reset),
            _ => None,
        }
    }
}

/// How the owner proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProofMethod {
    /// A code sent by SMS to the registered number, and the identity on file.
    Sms,
    /// The current code of the bound authenticator app, and the identity on file.
    App,
    /// A one-time code from the helpdesk, which checked the person's ID card.
    Helpdesk,
}

impl ProofMethod {
    /// The name in the audit trail.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms+identity",
            Self::App => "app+identity",
            Self::Helpdesk => "helpdesk",
        }
    }
}

/// What an SMS code check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsCodeCheck {
    /// The code is right; it is used up.
    Valid,
    /// Refused, with the reason for the audit trail (`wrong`, `expired`, `too_many_tries`, `no_code`...).
    Refused(&'static str),
}

/// The SMS side the flows need: sending a code to an account's registered number and checking it. Implemented
/// by the SMS service (`crate::engine::sms`); kept a trait so this module does not depend on its internals.
#[async_trait::async_trait]
pub trait RecoverySms: Send + Sync + std::fmt::Debug {
    /// Whether SMS codes can be sent at all (`sms.provider` is not `none`).
    fn enabled(&self) -> bool;
    /// Sends a fresh code for `purpose` to the account's registered number. `Err` carries a short reason for
    /// the log and the audit trail (rate limited, gateway failure...), never the code.
    async fn send(
        &self,
        account: &Account,
        purpose: RecoveryPurpose,
        language: Language,
        now: i64,
    ) -> Result<(), String>;
    /// Sends a notice (no code) to the account's registered number; `Err` carries a short reason for the log.
    async fn notify(&self, account: &Account, text: &str, now: i64) -> Result<(), String>;
    /// Checks (and on success uses up) the account's code for `purpose`.
    async fn verify(
        &self,
        account_id: &str,
        purpose: RecoveryPurpose,
        code: &str,
        now: i64,
    ) -> Result<SmsCodeCheck, EngineError>;
}

/// Where a verified owner's account stands for the purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// The password may be set now.
    MaySetPassword,
    /// Activation asked for an account that is already active: use the forgotten-password flow.
    AlreadyActive,
    /// Reset asked for an account that was never activated: use the activation flow.
    NotActivated,
    /// Disabled by an admin.
    Disabled,
    /// Past its expiry date.
    Expired,
    /// Locked by an admin (`motpd user lock`).
    AdminLocked,
    /// Gone or changed meanwhile (removed, activated in another tab).
    Unavailable,
}

impl Standing {
    /// The name in the audit trail.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::MaySetPassword => "may_set_password",
            Self::AlreadyActive => "already_active",
            Self::NotActivated => "not_activated",
            Self::Disabled => "disabled",
            Self::Expired => "expired",
            Self::AdminLocked => "admin_locked",
            Self::Unavailable => "unavailable",
        }
    }
}

/// The result of checking a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// The code proved ownership of this (normalised) account.
    Verified {
        /// The account.
        account_id: String,
        /// What may happen next.
        standing: Standing,
    },
    /// Wrong, used or expired code, wrong or missing identity, unknown account, no device, locked...:
    /// deliberately not told apart.
    Failed,
}

/// A new password, checked and hashed, waiting for [`super::account_recovery::AccountRecovery::commit_password`]. No `Debug` of the
/// hash.
pub struct PreparedPassword {
    pub(super) purpose: RecoveryPurpose,
    pub(super) method: ProofMethod,
    pub(super) account_id: String,
    pub(super) hash: String,
}

impl std::fmt::Debug for PreparedPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedPassword")
            .field("purpose", &self.purpose)
            .field("account_id", &self.account_id)
            .finish_non_exhaustive()
    }
}

/// The result of [`super::account_recovery::AccountRecovery::prepare_password`].
#[derive(Debug)]
pub enum PasswordCheck {
    /// Acceptable: commit it.
    Prepared(PreparedPassword),
    /// Against the password policy (or equal to the current password).
    Refused(PolicyViolation),
    /// The account may not (any more) get a password this way.
    NotAllowed(Standing),
}

/// The result of [`super::account_recovery::AccountRecovery::commit_password`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    /// Stored; the account is active and this many web sessions of it ended.
    Done {
        /// Web sessions ended.
        sessions_ended: u64,
    },
    /// The account's status changed meanwhile; nothing was stored.
    Changed,
}
