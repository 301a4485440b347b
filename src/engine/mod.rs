//! The decisions: who may log in, with what, and how devices are bound.
//!
//! The engine owns every accept and reject and every device binding. It knows no sockets and no SQL: it talks
//! to the [`crate::store::Store`] trait, gets the time from a [`crate::clock::Clock`], and writes the audit
//! trail. The RADIUS transport hands it an [`AccessRequest`] (already authenticated as coming from a known
//! client) and turns the [`Decision`] into a packet.
//!
//! A Reject is a value, not an error: [`EngineError`] is only for infrastructure failures (the database), which
//! the transport answers with no reply or a Reject, never an Accept.

mod access;
pub mod account_recovery;
pub mod admins;
mod audit_sink;
pub mod audit_verify;
mod challenge;
mod codes;
pub mod device_notice;
pub mod directory_sync;
mod directory_view;
pub mod enrollment;
pub mod enrollment_report;
pub mod helpdesk;
pub mod helpdesk_codes;
pub mod identity;
pub mod invitations;
mod invite_mail;
mod invite_send;
pub mod invite_unlock;
mod lockout;
mod mailed_seed;
mod messages;
mod passwords;
pub mod phone_change;
pub mod radius_clients;
mod recovery_notice;
mod recovery_sms;
mod recovery_types;
pub mod self_service;
mod settings;
pub mod sms;
mod sms_login;
mod sms_texts;
pub mod sync_plan;

pub use access::Engine;
pub use audit_sink::AuditSink;
pub use passwords::PasswordAuthority;
pub use settings::{EngineSettings, LiveSettings};

use std::net::IpAddr;

use crate::config::AuthMode;
use crate::secrets::SecretBytes;
use crate::store::StoreError;

/// One Access-Request, in domain terms.
#[derive(Debug, Clone)]
pub struct AccessRequest {
    /// The RADIUS client's configured name (shared with the client table: not copied per request).
    pub client: std::sync::Arc<str>,
    /// The mode in force for this client.
    pub mode: AuthMode,
    /// User-Name as sent.
    pub user_name: String,
    /// The decoded User-Password (PAP), if present.
    pub password: Option<SecretBytes>,
    /// State from an earlier Access-Challenge.
    pub state: Option<Vec<u8>>,
    /// NAS-IP-Address or NAS-IPv6-Address.
    pub nas_ip: Option<IpAddr>,
    /// NAS-Identifier.
    pub nas_identifier: Option<String>,
    /// Calling-Station-Id (NetScaler: the user's address).
    pub calling_station_id: Option<String>,
}

/// Why a login was refused (for logs, the audit trail and tests; the user sees [`Decision::Reject::message`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RejectReason {
    /// No such account (reported to the user like a wrong password).
    UnknownAccount,
    /// Wrong password.
    BadPassword,
    /// Wrong code (or password and code not separable).
    BadCode,
    /// The code was already used.
    Replayed,
    /// Locked after too many failures, or by an admin.
    Locked,
    /// Disabled by an admin.
    Disabled,
    /// Not yet activated (no password).
    NotActivated,
    /// Past its expiry date.
    Expired,
    /// No device bound after the enforcement date.
    NotEnrolled,
    /// The State is unknown, used or expired.
    BadState,
    /// The request lacks what the mode needs (no User-Password...).
    Malformed,
    /// An SMS code was asked for but not sent (SMS off for the account, no number, rate limit, gateway).
    SmsUnavailable,
    /// SMS at the VPN is paused after the account's password was reset or first set on the account pages
    /// (`policy.sms_pause_hours_after_reset`); the user is told SMS is unavailable.
    SmsPaused,
    /// A password was to be checked, but motpd checks none (`accounts.password_source = "none"` with a client
    /// in a mode other than `otp-only`).
    NoPasswordSource,
}

impl RejectReason {
    /// The snake_case name used in logs and the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownAccount => "unknown_account",
            Self::BadPassword => "bad_password",
            Self::BadCode => "bad_code",
            Self::Replayed => "replayed",
            Self::Locked => "locked",
            Self::Disabled => "disabled",
            Self::NotActivated => "not_activated",
            Self::Expired => "expired",
            Self::NotEnrolled => "not_enrolled",
            Self::BadState => "bad_state",
            Self::Malformed => "malformed",
            Self::SmsUnavailable => "sms_unavailable",
            Self::SmsPaused => "sms_paused",
            Self::NoPasswordSource => "no_password_source",
        }
    }
}

/// The answer to an [`AccessRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Let the user in.
    Accept {
        /// The account's groups (the transport puts them where the config says).
        groups: Vec<String>,
        /// Shown to the user (e.g. a reminder to register before the enforcement date).
        message: Option<String>,
    },
    /// Refuse.
    Reject {
        /// Why (never sent as such).
        reason: RejectReason,
        /// Shown to the user, in the configured language.
        message: String,
    },
    /// Ask for more (the code after a password, or an SMS code).
    Challenge {
        /// Opaque State to send back; single use, bound to user, client and expiry.
        state: Vec<u8>,
        /// The prompt.
        message: String,
    },
}

/// One Accounting-Request, in domain terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountingRecord {
    /// The RADIUS client's name.
    pub client: String,
    /// User-Name.
    pub user_name: Option<String>,
    /// Acct-Status-Type (1 Start, 2 Stop, 3 Interim-Update, 7 Accounting-On, 8 Accounting-Off).
    pub status_type: Option<u32>,
    /// Acct-Session-Id.
    pub session_id: Option<String>,
    /// NAS-IP-Address.
    pub nas_ip: Option<IpAddr>,
    /// Calling-Station-Id.
    pub calling_station_id: Option<String>,
}

/// An infrastructure failure: the decision could not be made. Never turned into an Accept.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The database failed.
    #[error("store failure: {0}")]
    Store(#[from] StoreError),
    /// A sealed secret did not open (wrong key or damaged row).
    #[error("secret failure: {0}")]
    Secret(#[from] crate::secrets::SecretError),
    /// Every hashing thread stayed busy for longer than a NAS waits: the request was shed, nothing changed.
    #[error(
        "overloaded: password checks queued for more than 2 s; request shed (nothing recorded)"
    )]
    Overloaded,
    /// Hashing on a hashing thread failed.
    #[error("password check failed: {0}")]
    Hashing(String),
    /// The directory could not answer a password check or a lookup (fail closed: no decision).
    #[error("directory failure: {0}")]
    Directory(#[from] crate::directory::DirectoryError),
    /// A new device could not be generated (bad `[otp]` settings, no randomness).
    #[error("enrollment failed: {0}")]
    Enroll(String),
}

/// What the RADIUS transport needs from the engine. Implemented by the real engine, and by small fakes in
/// transport tests.
#[async_trait::async_trait]
pub trait AccessHandler: Send + Sync + std::fmt::Debug {
    /// Decides an Access-Request.
    async fn access(&self, request: &AccessRequest) -> Result<Decision, EngineError>;
    /// Records an Accounting-Request (the transport answers only after this succeeds).
    async fn accounting(&self, record: AccountingRecord) -> Result<(), EngineError>;
    /// The language of the handler's own Reply-Messages as it stands now (it changes on reload); `None` leaves
    /// the transport's configured language.
    fn reply_language(&self) -> Option<crate::config::Language> {
        None
    }
}

/// The Reply-Message of a Reject sent because the decision could not be made (`radius.on_store_error = "reject"`).
pub fn unavailable_message(language: crate::config::Language) -> String {
    messages::Message::TemporaryFailure.text(language)
}
