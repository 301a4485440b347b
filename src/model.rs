//! The domain records: accounts, devices, RADIUS clients, challenges, sessions, invitations, SMS codes and
//! the login record the hot path reads. Plain data that the engine, the store and the CLI share: no SQL, no policy.
//!
//! Times are Unix seconds (`i64`); calendar dates (account expiry) are `time::Date`, compared by the engine in
//! the site's time zone.

use ipnet::IpNet;
use serde::Serialize;

use crate::config::AuthMode;
use crate::otp::{Algorithm, Kind};

/// Whether an account may be used at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    /// Normal.
    Active,
    /// Switched off by an admin; refused everywhere.
    Disabled,
    /// Created without a usable password; the user must activate it (SMS or MOTP proof, then a new password).
    Pending,
}

impl AccountStatus {
    /// The stored and printed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
            Self::Pending => "pending",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "disabled" => Some(Self::Disabled),
            "pending" => Some(Self::Pending),
            _ => None,
        }
    }
}

/// A stored account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    /// Login name (as NetScaler sends it in User-Name).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Mobile number for SMS, digits only (`0912345678`).
    pub phone: Option<String>,
    /// E-mail for invitations.
    pub email: Option<String>,
    /// PHC / crypt string; `None` until a password is set.
    #[serde(skip)]
    pub password_hash: Option<String>,
    /// Whether the account may be used.
    pub status: AccountStatus,
    /// Last day the account may log in (vendor accounts).
    #[serde(serialize_with = "crate::config::serialize_opt_date")]
    pub expires_on: Option<time::Date>,
    /// Groups sent to NetScaler in the Accept.
    pub groups: Vec<String>,
    /// Whether SMS may replace the app at VPN login for this account: `None` follows `sms.allow_vpn_fallback`.
    pub sms_fallback: Option<bool>,
    /// Consecutive failed logins.
    pub failures: u32,
    /// Refused until this time, if locked.
    pub locked_until: Option<i64>,
    /// Last successful login recorded on the account: a login without a code step (password only, a re-sent
    /// code), or the last use of a device that was since removed. A login with a code of the active device is
    /// recorded on the device only (`Device::last_used_at`), so that a login writes one row, not two; see
    /// [`Account::last_login`]. Lists ([`AccountOverview`]) hold the later of the two here already.
    pub last_login_at: Option<i64>,
    /// Created.
    pub created_at: i64,
    /// Last changed.
    pub updated_at: i64,
}

impl Account {
    /// The account's last successful login: the later of [`Account::last_login_at`] and the last accepted code
    /// of its active device (`device_last_used`).
    pub fn last_login(&self, device_last_used: Option<i64>) -> Option<i64> {
        self.last_login_at.max(device_last_used)
    }
}

/// The fields an admin or an import sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountUpsert {
    /// Login name.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Mobile number, digits only.
    pub phone: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Last valid day.
    pub expires_on: Option<time::Date>,
    /// NetScaler groups.
    pub groups: Vec<String>,
    /// A hash to set; `None` keeps the stored one (on update) or leaves the account without password.
    pub password_hash: Option<String>,
    /// Status for a new account (updates keep the stored status).
    pub status: AccountStatus,
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    /// New accounts.
    pub created: u64,
    /// Existing accounts updated.
    pub updated: u64,
}

/// An account as the directory sync compares it with the directory's entry (`motpd user sync`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncedAccount {
    /// Login name.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Mobile number, digits only.
    pub phone: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Status.
    pub status: AccountStatus,
    /// Last valid day.
    pub expires_on: Option<time::Date>,
    /// NetScaler groups.
    pub groups: Vec<String>,
    /// Whether a password hash is stored (a re-enabled account without one waits for activation again when
    /// motpd keeps the passwords).
    pub has_password: bool,
    /// The directory entry the account is synced from; `None` for an account motpd keeps itself.
    pub directory_dn: Option<String>,
    /// Disabled by a sync (not by an admin): the only disabled accounts a sync re-enables.
    pub sync_disabled: bool,
}

/// An account a sync creates or updates: the fields to store and the entry it comes from. On update the
/// status and the password hash stay (status changes are [`SyncWrite::disable`] and [`SyncWrite::enable`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncUpsert {
    /// The account (its `status` is used only when it is created; `password_hash` is never written).
    pub account: AccountUpsert,
    /// The directory entry's distinguished name.
    pub directory_dn: String,
}

/// Everything one sync writes, applied in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncWrite {
    /// Accounts created or updated.
    pub upserts: Vec<SyncUpsert>,
    /// Accounts the sync disables (and marks as disabled by a sync); one an admin meanwhile disabled is left.
    pub disable: Vec<String>,
    /// Accounts the sync re-enables, with the status they return to; only if still disabled by a sync.
    pub enable: Vec<(String, AccountStatus)>,
}

/// What the store did with a [`SyncWrite`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SyncApplied {
    /// Accounts created.
    pub created: u64,
    /// Accounts updated.
    pub updated: u64,
    /// Accounts disabled.
    pub disabled: u64,
    /// Accounts re-enabled.
    pub enabled: u64,
}

/// Which accounts to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountFilter {
    /// Only accounts without an active device.
    pub unenrolled_only: bool,
}

/// An account with its device state, for lists and reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountOverview {
    /// The account.
    #[serde(flatten)]
    pub account: Account,
    /// The active device, if bound.
    pub device: Option<DeviceSummary>,
}

/// What a list shows of a device (no secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceSummary {
    /// Device ID.
    pub id: String,
    /// TOTP, HOTP or mOTP.
    pub kind: &'static str,
    /// User-given name.
    pub label: Option<String>,
    /// When it became active.
    pub confirmed_at: Option<i64>,
    /// Last login with its code (the first code, which bound it, is not a login).
    pub last_used_at: Option<i64>,
}

/// The failure counter after a failed login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureState {
    /// Consecutive failures including this one.
    pub failures: u32,
    /// Set when this failure (or an earlier one) locked the account.
    pub locked_until: Option<i64>,
}

/// Pending (enrollment started, first code not yet confirmed) or active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceState {
    /// Waiting for its first code.
    Pending,
    /// Bound: its codes log the account in.
    Active,
}

impl DeviceState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "active" => Some(Self::Active),
            _ => None,
        }
    }
}

/// A device to store. Seeds and PINs arrive sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDevice {
    /// Random ID chosen by the caller (it is part of the seed's associated data).
    pub id: String,
    /// Owner.
    pub account_id: String,
    /// Algorithm family.
    pub kind: Kind,
    /// HMAC hash (TOTP/HOTP).
    pub algorithm: Algorithm,
    /// 6 or 8.
    pub digits: u32,
    /// Seconds per step (TOTP 30, mOTP 10); unused for HOTP.
    pub period: u32,
    /// The sealed seed.
    pub sealed_seed: Vec<u8>,
    /// The sealed mOTP PIN.
    pub sealed_pin: Option<Vec<u8>>,
    /// HOTP: the last counter already used (the next code is for `last_step + 1`); TOTP/mOTP: `None`.
    pub last_step: Option<i64>,
    /// User-given name.
    pub label: Option<String>,
}

/// A stored device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// ID.
    pub id: String,
    /// Owner.
    pub account_id: String,
    /// Algorithm family.
    pub kind: Kind,
    /// HMAC hash.
    pub algorithm: Algorithm,
    /// Code length.
    pub digits: u32,
    /// Seconds per step.
    pub period: u32,
    /// The sealed seed.
    pub sealed_seed: Vec<u8>,
    /// The sealed mOTP PIN.
    pub sealed_pin: Option<Vec<u8>>,
    /// Last accepted time step (TOTP/mOTP) or counter (HOTP).
    pub last_step: Option<i64>,
    /// Pending or active.
    pub state: DeviceState,
    /// User-given name.
    pub label: Option<String>,
    /// Created.
    pub created_at: i64,
    /// Became active.
    pub confirmed_at: Option<i64>,
    /// Last login with its code (the first code, which bound it, is not a login).
    pub last_used_at: Option<i64>,
    /// Keyed fingerprint of the last accepted use (for `otp.reuse_seconds`).
    pub last_use_fingerprint: Option<Vec<u8>>,
}

/// A RADIUS client to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewClient {
    /// Unique name (appears in logs and the audit trail).
    pub name: String,
    /// Source addresses allowed to use this client's secret.
    pub address: IpNet,
    /// The sealed shared secret.
    pub sealed_secret: Vec<u8>,
    /// Drop requests without a valid Message-Authenticator.
    pub require_message_authenticator: bool,
    /// Overrides `radius.mode` for this client.
    pub mode: Option<AuthMode>,
}

/// A stored RADIUS client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RadiusClient {
    /// Unique name.
    pub name: String,
    /// Source addresses.
    pub address: IpNet,
    /// The sealed shared secret.
    pub sealed_secret: Vec<u8>,
    /// Drop requests without a valid Message-Authenticator.
    pub require_message_authenticator: bool,
    /// Per-client mode.
    pub mode: Option<AuthMode>,
    /// Created.
    pub created_at: i64,
}

/// What an outstanding Access-Challenge waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengePurpose {
    /// The code after a correct password.
    Otp,
    /// The next HOTP code, to resynchronise a token that ran ahead.
    HotpResync,
    /// A code sent by SMS (no device involved).
    Sms,
}

impl ChallengePurpose {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Otp => "otp",
            Self::HotpResync => "hotp_resync",
            Self::Sms => "sms",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "otp" => Some(Self::Otp),
            "hotp_resync" => Some(Self::HotpResync),
            "sms" => Some(Self::Sms),
            _ => None,
        }
    }
}

/// A challenge to store. The State itself is never stored, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChallenge {
    /// SHA-256 of the State sent to the NAS.
    pub state_hash: Vec<u8>,
    /// The account being logged in.
    pub account_id: String,
    /// The RADIUS client that must send the answer.
    pub client: String,
    /// The device whose code is expected (`None` for an SMS code).
    pub device_id: Option<String>,
    /// What the answer must be.
    pub purpose: ChallengePurpose,
    /// HOTP resynchronisation: the counter the first code matched.
    pub counter: Option<i64>,
    /// The answer must arrive before this time.
    pub expires_at: i64,
}

/// A web session to store. The cookie's value is never stored, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebSession {
    /// SHA-256 of the session cookie's value.
    pub id_hash: Vec<u8>,
    /// The logged-in account, once the password was checked.
    pub account_id: Option<String>,
    /// The token every form of the session must carry.
    pub csrf: String,
    /// The session ends at this time unless it is used before.
    pub expires_at: i64,
}

/// A stored, unexpired web session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    /// The logged-in account, if any.
    pub account_id: Option<String>,
    /// The session's CSRF token.
    pub csrf: String,
    /// When it ends unless used again.
    pub expires_at: i64,
    /// The web layer's state of the account activation / reset pages (opaque to the store).
    pub flow: Option<String>,
}

/// A stored challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The account being logged in.
    pub account_id: String,
    /// The RADIUS client that must send the answer.
    pub client: String,
    /// The device whose code is expected (`None` for an SMS code).
    pub device_id: Option<String>,
    /// What the answer must be.
    pub purpose: ChallengePurpose,
    /// HOTP resynchronisation counter.
    pub counter: Option<i64>,
    /// Expiry.
    pub expires_at: i64,
}

/// One accounting record (RFC 2866) as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountingEntry {
    /// The RADIUS client's name.
    pub client: String,
    /// User-Name.
    pub user_name: Option<String>,
    /// Acct-Status-Type.
    pub status_type: Option<u32>,
    /// Acct-Session-Id.
    pub session_id: Option<String>,
    /// NAS-IP-Address, as text.
    pub nas_ip: Option<String>,
    /// Calling-Station-Id.
    pub calling_station_id: Option<String>,
}

/// An e-mail invitation (enrollment flow B), found by the SHA-256 of its link's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// The invited account.
    pub account_id: String,
    /// When it was sent.
    pub created_at: i64,
    /// When the link stops working.
    pub expires_at: i64,
    /// When it bound a device (single use), if it did.
    pub used_at: Option<i64>,
    /// The pending device it shows (or mailed), while that device exists.
    pub device_id: Option<String>,
    /// The seed went out in the mail as a QR code (`motpd invite --qr-in-mail`): its device may also activate
    /// on its first VPN login while the link is valid.
    pub seed_in_mail: bool,
}

/// What an SMS code proves (each purpose has its own outstanding code per account).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsPurpose {
    /// The second factor of a VPN login.
    Login,
    /// First-time account activation on the web.
    Activate,
    /// Forgotten-password reset on the web.
    Reset,
}

impl SmsPurpose {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Activate => "activate",
            Self::Reset => "reset",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "login" => Some(Self::Login),
            "activate" => Some(Self::Activate),
            "reset" => Some(Self::Reset),
            _ => None,
        }
    }
}

/// A new SMS code to store (only its keyed hash), with the send it is part of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSmsCode {
    /// The account the code is for.
    pub account_id: String,
    /// The number it is sent to (digits only), for the per-number rate limit.
    pub phone: String,
    /// What the code proves.
    pub purpose: SmsPurpose,
    /// Keyed hash (HMAC-SHA256) of the code; 32 bytes.
    pub code_hash: Vec<u8>,
    /// The code is refused from this time on.
    pub expires_at: i64,
}

/// The SMS rate limits, applied to the account and to the number separately, per purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmsLimits {
    /// At least this many seconds between two sends.
    pub min_interval_seconds: i64,
    /// At most this many sends within `window_seconds`.
    pub max_per_window: u32,
    /// The rolling window of `max_per_window` (a day: 86 400).
    pub window_seconds: i64,
}

/// What [`crate::store::SmsStore::issue_sms_code`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsIssue {
    /// The send is recorded and the code stored (replacing the earlier one of the same purpose).
    Issued,
    /// Nothing was recorded: a limit would be exceeded until this time.
    RateLimited {
        /// The earliest time a send to this account and number is allowed.
        next_allowed_at: i64,
    },
}

/// An outstanding SMS code after one more try was counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsCodeAttempt {
    /// Keyed hash of the code.
    pub code_hash: Vec<u8>,
    /// Tries counted so far, including this one.
    pub attempts: i64,
    /// The code is refused from this time on.
    pub expires_at: i64,
}

/// An account with its active device: what one login needs from the store, read in one batch
/// ([`crate::store::LoginStore::login_record`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRecord {
    /// The account.
    pub account: Account,
    /// Its active device, if it has one.
    pub device: Option<Device>,
}

/// A code accepted for a login, to be recorded: the replay guard's compare-and-set on the device and, if
/// it wins, the account's success bookkeeping and the Accept's audit row
/// ([`crate::store::LoginStore::record_accepted_login`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedLogin {
    /// The account that logs in.
    pub account_id: String,
    /// Its active device.
    pub device_id: String,
    /// The matched time step (TOTP/mOTP) or counter (HOTP).
    pub step: i64,
    /// When.
    pub now: i64,
    /// Keyed fingerprint of this use (for `otp.reuse_seconds`).
    pub fingerprint: Option<Vec<u8>>,
    /// The audit row of the Accept, stored before the answer if (and only if) the step is accepted (on SQLite
    /// in the transaction of the step). `None`: the caller audits the decision itself.
    pub audit: Option<crate::audit::AuditEvent>,
}

/// What a console admin may do: `helpdesk` (find accounts, unlock, reset devices) or `admin` (besides: admins,
/// RADIUS clients, reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AdminRole {
    /// The IT service desk.
    Helpdesk,
    /// Everything the helpdesk may do, and the console's administration.
    Admin,
}

impl AdminRole {
    /// The stored and printed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Helpdesk => "helpdesk",
            Self::Admin => "admin",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "helpdesk" => Some(Self::Helpdesk),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// A console admin (not a staff account: a name, password and TOTP device of its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    /// Login name.
    pub name: String,
    /// What the admin may do.
    pub role: AdminRole,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// The TOTP seed, sealed with the master key ([`crate::secrets::Aad::admin_totp`]).
    pub sealed_totp: Vec<u8>,
    /// The last accepted TOTP step (the replay guard).
    pub totp_last_step: Option<i64>,
    /// Consecutive failed console logins.
    pub failures: u32,
    /// Refused until this time, if locked.
    pub locked_until: Option<i64>,
    /// Refused everywhere.
    pub disabled: bool,
    /// Created.
    pub created_at: i64,
    /// Last successful console login.
    pub last_login_at: Option<i64>,
}

/// An admin to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAdmin {
    /// Login name.
    pub name: String,
    /// What the admin may do.
    pub role: AdminRole,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// The sealed TOTP seed.
    pub sealed_totp: Vec<u8>,
    /// The step of the first code, typed to confirm the device (never accepted again).
    pub totp_last_step: i64,
}

/// A console session to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAdminSession {
    /// SHA-256 of the session cookie's value.
    pub id_hash: Vec<u8>,
    /// The logged-in admin.
    pub admin_name: String,
    /// The token every form of the session must carry.
    pub csrf: String,
    /// The session ends at this time unless it is used before.
    pub expires_at: i64,
}

/// A stored, unexpired console session, with its admin's role as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSession {
    /// The logged-in admin.
    pub admin_name: String,
    /// The admin's role (read with the session, so a role change applies at the next request).
    pub role: AdminRole,
    /// The session's CSRF token.
    pub csrf: String,
    /// When it ends unless used again.
    pub expires_at: i64,
}
