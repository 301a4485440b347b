//! What the two SQL backends share apart from SQL: the row shapes read back from the database, their checked
//! conversion into the domain records, value encodings (dates, groups), error mapping, and the audit-chain
//! linking of a batch.
//!
//! No SQL text lives here (that stays in `sqlite.rs` and `postgres.rs`). Both schemas use 64-bit integers,
//! text, blobs and native booleans, so one `FromRow` struct decodes rows of either backend. A stored value
//! that does not parse becomes [`StoreError::Corrupt`]; nothing here panics on what the database returns.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use ipnet::IpNet;
use time::Date;
use time::macros::format_description;

use super::{
    AcceptedLogin, Account, AccountOverview, AccountStatus, AccountUpsert, Challenge,
    ChallengePurpose, Device, DeviceState, DeviceSummary, LoginRecord, NewDevice, RadiusClient,
    StoreError, SyncedAccount,
};
use crate::audit::{AuditChain, AuditEvent, AuditRecord, GENESIS_MAC};
use crate::config::AuthMode;
use crate::otp::{Algorithm, Kind};

/// The `meta` key under which the master-key check value is kept.
pub(super) const KEY_CHECK: &str = "key_check";

const DATE_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]");

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::RowNotFound => StoreError::NotFound("row".to_owned()),
            other => StoreError::Backend(other),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migrate(err)
    }
}

/// Whether `err` is a unique or primary-key violation.
pub(super) fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|db| db.is_unique_violation())
}

/// Maps a foreign-key violation to "account `id` not found", anything else as [`From`] does.
pub(super) fn foreign_key_or(err: sqlx::Error, id: &str) -> StoreError {
    if err
        .as_database_error()
        .is_some_and(|db| db.is_foreign_key_violation())
    {
        account_not_found(id)
    } else {
        err.into()
    }
}

/// Maps a unique violation to `Conflict(message())`, anything else as [`From`] does.
pub(super) fn conflict_or(err: sqlx::Error, message: impl FnOnce() -> String) -> StoreError {
    if is_unique_violation(&err) {
        StoreError::Conflict(message())
    } else {
        err.into()
    }
}

/// The message for a second active device.
pub(super) fn active_device_conflict(account_id: &str) -> String {
    format!(
        "account {account_id} already has an active device; reset it first with `motpd device reset {account_id}`"
    )
}

/// `NotFound` for an account.
pub(super) fn account_not_found(id: &str) -> StoreError {
    StoreError::NotFound(format!("account {id}"))
}

/// Refuses a batch that names the same account twice (the import would be ambiguous).
pub(super) fn reject_duplicate_ids(accounts: &[AccountUpsert]) -> Result<(), StoreError> {
    let mut seen = HashSet::with_capacity(accounts.len());
    match accounts.iter().find(|a| !seen.insert(a.id.as_str())) {
        Some(dup) => Err(StoreError::Conflict(format!(
            "account {} appears more than once in the import; nothing was imported",
            dup.id
        ))),
        None => Ok(()),
    }
}

/// Refuses a device batch that names the same account twice (one active device per account).
pub(super) fn reject_duplicate_accounts(devices: &[NewDevice]) -> Result<(), StoreError> {
    let mut seen = HashSet::with_capacity(devices.len());
    match devices.iter().find(|d| !seen.insert(d.account_id.as_str())) {
        Some(dup) => Err(StoreError::Conflict(format!(
            "account {} appears more than once in the import; nothing was imported",
            dup.account_id
        ))),
        None => Ok(()),
    }
}

/// Checks a device batch against what the store holds for its accounts (`has_active`: every existing account
/// of the batch, and whether it has an active device): the first device, in batch order, whose account is
/// missing gives `NotFound`, or whose account has an active device (without `replace`) gives `Conflict`.
pub(super) fn check_bindable(
    devices: &[NewDevice],
    has_active: &HashMap<String, bool>,
    replace: bool,
) -> Result<(), StoreError> {
    for device in devices {
        match has_active.get(&device.account_id) {
            None => return Err(account_not_found(&device.account_id)),
            Some(true) if !replace => {
                return Err(StoreError::Conflict(active_device_conflict(
                    &device.account_id,
                )));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// The message for a unique violation in a device batch that passed [`check_bindable`] under the write lock:
/// only a device ID can collide then.
pub(super) fn device_batch_conflict() -> String {
    "a device ID of the import already exists; nothing was imported (run the import again)"
        .to_owned()
}

/// A date as stored: `YYYY-MM-DD`.
pub(super) fn date_text(date: Date) -> Result<String, StoreError> {
    date.format(DATE_FORMAT)
        .map_err(|e| StoreError::Corrupt(format!("date {date} cannot be written: {e}")))
}

/// Groups as stored: a JSON array of strings.
pub(super) fn groups_json(groups: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(groups)
        .map_err(|e| StoreError::Corrupt(format!("groups cannot be written: {e}")))
}

/// The columns an account insert or upsert binds, already encoded.
#[derive(Debug)]
pub(super) struct AccountValues<'a> {
    pub(super) account: &'a AccountUpsert,
    pub(super) expires_on: Option<String>,
    pub(super) groups: String,
}

impl<'a> AccountValues<'a> {
    pub(super) fn new(account: &'a AccountUpsert) -> Result<Self, StoreError> {
        Ok(Self {
            account,
            expires_on: account.expires_on.map(date_text).transpose()?,
            groups: groups_json(&account.groups)?,
        })
    }
}

fn corrupt(what: &str, value: impl std::fmt::Debug) -> StoreError {
    StoreError::Corrupt(format!("{what} {value:?} is not valid"))
}

fn to_u32(what: &str, value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| corrupt(what, value))
}

fn parse_date(text: &str) -> Result<Date, StoreError> {
    Date::parse(text, DATE_FORMAT).map_err(|_| corrupt("account expiry date", text))
}

fn parse_kind(text: &str) -> Result<Kind, StoreError> {
    Kind::from_str(text).map_err(|_| corrupt("device kind", text))
}

/// An `accounts` row (from a query, or from the JSON a batched SQLite read builds).
#[derive(Debug, sqlx::FromRow, serde::Deserialize)]
pub(super) struct AccountRow {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) phone: Option<String>,
    pub(super) email: Option<String>,
    pub(super) password_hash: Option<String>,
    pub(super) status: String,
    pub(super) expires_on: Option<String>,
    pub(super) groups: String,
    pub(super) sms_fallback: Option<bool>,
    pub(super) failures: i64,
    pub(super) locked_until: Option<i64>,
    pub(super) last_login_at: Option<i64>,
    pub(super) created_at: i64,
    pub(super) updated_at: i64,
}

impl TryFrom<AccountRow> for Account {
    type Error = StoreError;

    fn try_from(row: AccountRow) -> Result<Self, StoreError> {
        Ok(Account {
            status: AccountStatus::parse(&row.status)
                .ok_or_else(|| corrupt("account status", &row.status))?,
            expires_on: row.expires_on.as_deref().map(parse_date).transpose()?,
            groups: serde_json::from_str(&row.groups)
                .map_err(|_| corrupt("account groups", &row.groups))?,
            failures: to_u32("failure count", row.failures)?,
            sms_fallback: row.sms_fallback,
            id: row.id,
            name: row.name,
            phone: row.phone,
            email: row.email,
            password_hash: row.password_hash,
            locked_until: row.locked_until,
            last_login_at: row.last_login_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// An account as a directory sync reads it ([`SyncedAccount`]).
#[derive(Debug, sqlx::FromRow)]
pub(super) struct SyncedRow {
    id: String,
    name: String,
    phone: Option<String>,
    email: Option<String>,
    status: String,
    expires_on: Option<String>,
    groups: String,
    has_password: bool,
    directory_dn: Option<String>,
    sync_disabled: bool,
}

impl TryFrom<SyncedRow> for SyncedAccount {
    type Error = StoreError;

    fn try_from(row: SyncedRow) -> Result<Self, StoreError> {
        Ok(SyncedAccount {
            status: AccountStatus::parse(&row.status)
                .ok_or_else(|| corrupt("account status", &row.status))?,
            expires_on: row.expires_on.as_deref().map(parse_date).transpose()?,
            groups: serde_json::from_str(&row.groups)
                .map_err(|_| corrupt("account groups", &row.groups))?,
            id: row.id,
            name: row.name,
            phone: row.phone,
            email: row.email,
            has_password: row.has_password,
            directory_dn: row.directory_dn,
            sync_disabled: row.sync_disabled,
        })
    }
}

/// An account joined with its active device's summary columns (`device_*`, all NULL when unenrolled).
#[derive(Debug, sqlx::FromRow)]
pub(super) struct OverviewRow {
    #[sqlx(flatten)]
    account: AccountRow,
    device_id: Option<String>,
    device_kind: Option<String>,
    device_label: Option<String>,
    device_confirmed_at: Option<i64>,
    device_last_used_at: Option<i64>,
}

impl TryFrom<OverviewRow> for AccountOverview {
    type Error = StoreError;

    fn try_from(row: OverviewRow) -> Result<Self, StoreError> {
        let device = match (row.device_id, row.device_kind) {
            (Some(id), Some(kind)) => Some(DeviceSummary {
                id,
                kind: parse_kind(&kind)?.as_str(),
                label: row.device_label,
                confirmed_at: row.device_confirmed_at,
                last_used_at: row.device_last_used_at,
            }),
            _ => None,
        };
        let mut account: Account = row.account.try_into()?;
        account.last_login_at = account.last_login(device.as_ref().and_then(|d| d.last_used_at));
        Ok(AccountOverview { account, device })
    }
}

/// A `devices` row (from a query, or from the JSON a batched SQLite read builds, blobs in hex).
#[derive(Debug, sqlx::FromRow, serde::Deserialize)]
pub(super) struct DeviceRow {
    pub(super) id: String,
    pub(super) account_id: String,
    pub(super) kind: String,
    pub(super) algorithm: String,
    pub(super) digits: i64,
    pub(super) period: i64,
    #[serde(deserialize_with = "hex_blob")]
    pub(super) sealed_seed: Vec<u8>,
    #[serde(deserialize_with = "optional_hex_blob")]
    pub(super) sealed_pin: Option<Vec<u8>>,
    pub(super) last_step: Option<i64>,
    pub(super) state: String,
    pub(super) label: Option<String>,
    pub(super) created_at: i64,
    pub(super) confirmed_at: Option<i64>,
    pub(super) last_used_at: Option<i64>,
    #[serde(deserialize_with = "optional_hex_blob")]
    pub(super) last_use_fingerprint: Option<Vec<u8>>,
}

fn hex_blob<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let text: &str = serde::Deserialize::deserialize(d)?;
    hex::decode(text).map_err(serde::de::Error::custom)
}

fn optional_hex_blob<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
    let text: Option<&str> = serde::Deserialize::deserialize(d)?;
    text.map(hex::decode)
        .transpose()
        .map_err(serde::de::Error::custom)
}

/// An account with its active device, as the batched SQLite read returns it (one JSON object each).
#[derive(Debug, serde::Deserialize)]
pub(super) struct LoginRow {
    #[serde(flatten)]
    pub(super) account: AccountRow,
    pub(super) device: Option<DeviceRow>,
}

impl TryFrom<LoginRow> for LoginRecord {
    type Error = StoreError;

    fn try_from(row: LoginRow) -> Result<Self, StoreError> {
        Ok(LoginRecord {
            account: row.account.try_into()?,
            device: row.device.map(Device::try_from).transpose()?,
        })
    }
}

impl TryFrom<DeviceRow> for Device {
    type Error = StoreError;

    fn try_from(row: DeviceRow) -> Result<Self, StoreError> {
        Ok(Device {
            kind: parse_kind(&row.kind)?,
            algorithm: Algorithm::from_str(&row.algorithm)
                .map_err(|_| corrupt("device algorithm", &row.algorithm))?,
            digits: to_u32("device digits", row.digits)?,
            period: to_u32("device period", row.period)?,
            state: DeviceState::parse(&row.state)
                .ok_or_else(|| corrupt("device state", &row.state))?,
            id: row.id,
            account_id: row.account_id,
            sealed_seed: row.sealed_seed,
            sealed_pin: row.sealed_pin,
            last_step: row.last_step,
            label: row.label,
            created_at: row.created_at,
            confirmed_at: row.confirmed_at,
            last_used_at: row.last_used_at,
            last_use_fingerprint: row.last_use_fingerprint,
        })
    }
}

/// A `radius_clients` row.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct ClientRow {
    name: String,
    address: String,
    sealed_secret: Vec<u8>,
    require_message_authenticator: bool,
    mode: Option<String>,
    created_at: i64,
}

impl TryFrom<ClientRow> for RadiusClient {
    type Error = StoreError;

    fn try_from(row: ClientRow) -> Result<Self, StoreError> {
        let mode = match row.mode.as_deref() {
            Some(m) => Some(AuthMode::parse(m).ok_or_else(|| corrupt("client mode", m))?),
            None => None,
        };
        Ok(RadiusClient {
            address: IpNet::from_str(&row.address)
                .map_err(|_| corrupt("client address", &row.address))?,
            mode,
            name: row.name,
            sealed_secret: row.sealed_secret,
            require_message_authenticator: row.require_message_authenticator,
            created_at: row.created_at,
        })
    }
}

/// An `audit_log` row.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct AuditRow {
    seq: i64,
    at: i64,
    kind: String,
    actor: String,
    account_id: Option<String>,
    outcome: String,
    detail: String,
    mac: Vec<u8>,
}

impl TryFrom<AuditRow> for AuditRecord {
    type Error = StoreError;

    fn try_from(row: AuditRow) -> Result<Self, StoreError> {
        let mac = <[u8; 32]>::try_from(row.mac.as_slice()).map_err(|_| {
            StoreError::Corrupt(format!(
                "audit row {} has a MAC of {} bytes",
                row.seq,
                row.mac.len()
            ))
        })?;
        Ok(AuditRecord {
            seq: row.seq,
            event: AuditEvent {
                at: row.at,
                kind: row.kind,
                actor: row.actor,
                account_id: row.account_id,
                outcome: row.outcome,
                detail: row.detail,
            },
            mac,
        })
    }
}

/// The chain's head and the key check value (which names the key of the next links), in one round trip.
pub(super) const AUDIT_HEAD: &str = "SELECT \
    (SELECT seq FROM audit_log ORDER BY seq DESC LIMIT 1) AS seq, \
    (SELECT mac FROM audit_log ORDER BY seq DESC LIMIT 1) AS mac, \
    (SELECT value FROM meta WHERE key = 'key_check') AS key_check";

/// The chain's current head: the last row's `(seq, mac)` (none for an empty trail), and the key check value.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct AuditHead {
    seq: Option<i64>,
    mac: Option<Vec<u8>>,
    /// The key check value, read with the head under the chain's lock: it names the key of the next links.
    key_check: Option<Vec<u8>>,
}

/// Links `events` after `head` (or after the genesis when the trail is empty): the rows to insert, in order.
pub(super) fn link_batch<'e>(
    chain: &AuditChain,
    head: AuditHead,
    events: impl IntoIterator<Item = &'e AuditEvent>,
) -> Result<Vec<AuditRecord>, StoreError> {
    let key = chain.span(head.key_check.as_deref())?;
    let (mut seq, mut prev) = match (head.seq, head.mac) {
        (Some(seq), Some(mac)) => {
            let link = <[u8; 32]>::try_from(mac.as_slice()).map_err(|_| {
                StoreError::Corrupt(format!("audit row {seq} has a MAC of {} bytes", mac.len()))
            })?;
            (seq, link)
        }
        _ => (0, GENESIS_MAC),
    };
    let events = events.into_iter();
    let mut records = Vec::with_capacity(events.size_hint().0);
    for event in events {
        seq += 1;
        let mac = key.link(&prev, seq, event);
        prev = mac;
        records.push(AuditRecord {
            seq,
            event: event.clone(),
            mac,
        });
    }
    Ok(records)
}

/// When the next SMS may go out under `limits`, given the sends of the last window (`sent`: account ID, number,
/// time); `None` if one may go out now. The account's sends and the number's sends are limited separately.
pub(super) fn sms_next_allowed(
    sent: &[(String, String, i64)],
    account_id: &str,
    phone: &str,
    limits: &super::SmsLimits,
    now: i64,
) -> Option<i64> {
    let window_start = now - limits.window_seconds;
    let next_for = |times: Vec<i64>| -> Option<i64> {
        let mut times: Vec<i64> = times.into_iter().filter(|&t| t > window_start).collect();
        times.sort_unstable();
        let mut next = None::<i64>;
        if let Some(&last) = times.last() {
            let after_interval = last + limits.min_interval_seconds;
            if after_interval > now {
                next = Some(after_interval);
            }
        }
        let max = usize::try_from(limits.max_per_window).unwrap_or(usize::MAX);
        if times.len() >= max {
            // The oldest sends must leave the window until only max - 1 remain.
            let index = times.len() - max;
            if let Some(&oldest) = times.get(index) {
                let after_window = oldest + limits.window_seconds;
                next = Some(next.map_or(after_window, |n| n.max(after_window)));
            }
        }
        next
    };
    let by_account = next_for(
        sent.iter()
            .filter(|(a, _, _)| a == account_id)
            .map(|&(_, _, t)| t)
            .collect(),
    );
    let by_phone = next_for(
        sent.iter()
            .filter(|(_, p, _)| p == phone)
            .map(|&(_, _, t)| t)
            .collect(),
    );
    match (by_account, by_phone) {
        (Some(a), Some(p)) => Some(a.max(p)),
        (a, p) => a.or(p),
    }
}

/// Pairs each account with its active device.
pub(super) fn join_records(
    accounts: Vec<AccountRow>,
    devices: Vec<DeviceRow>,
) -> Result<Vec<LoginRecord>, StoreError> {
    let mut by_account: HashMap<String, Device> = HashMap::with_capacity(devices.len());
    for row in devices {
        let device = Device::try_from(row)?;
        by_account.insert(device.account_id.clone(), device);
    }
    accounts
        .into_iter()
        .map(|row| {
            let account = Account::try_from(row)?;
            let device = by_account.remove(&account.id);
            Ok(LoginRecord { account, device })
        })
        .collect()
}

/// Splits `logins` into rounds in which every device appears at most once, keeping batch order: a device's
/// second login goes into the next round, so it sees the first one's step (as if recorded one after the
/// other).
pub(super) fn rounds(logins: &[AcceptedLogin]) -> Vec<Vec<usize>> {
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    let mut next_round: HashMap<&str, usize> = HashMap::new();
    for (index, login) in logins.iter().enumerate() {
        let round = next_round.entry(&login.device_id).or_insert(0);
        if *round == rounds.len() {
            rounds.push(Vec::new());
        }
        if let Some(members) = rounds.get_mut(*round) {
            members.push(index);
        }
        *round += 1;
    }
    rounds
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use crate::secrets::SecretBytes;

    fn login(device: &str, step: i64) -> AcceptedLogin {
        AcceptedLogin {
            account_id: format!("a-{device}"),
            device_id: device.to_owned(),
            step,
            now: 0,
            fingerprint: None,
            audit: None,
        }
    }

    #[test]
    fn a_device_appears_once_per_round_in_batch_order() {
        let batch = [
            login("x", 1),
            login("y", 1),
            login("x", 2),
            login("x", 3),
            login("z", 1),
        ];
        assert_eq!(rounds(&batch), vec![vec![0, 1, 4], vec![2], vec![3]]);
        assert!(rounds(&[]).is_empty());
    }

    fn account_row() -> AccountRow {
        AccountRow {
            id: "alice".into(),
            name: "Alice".into(),
            phone: None,
            email: None,
            password_hash: None,
            status: "active".into(),
            expires_on: Some("2026-12-31".into()),
            groups: r#"["vpn","staff"]"#.into(),
            sms_fallback: None,
            failures: 2,
            locked_until: None,
            last_login_at: None,
            created_at: 1,
            updated_at: 2,
        }
    }

    #[test]
    fn sms_limits_count_account_and_number_separately() {
        let limits = crate::store::SmsLimits {
            min_interval_seconds: 60,
            max_per_window: 3,
            window_seconds: 86_400,
        };
        let send = |a: &str, p: &str, t: i64| (a.to_owned(), p.to_owned(), t);
        assert_eq!(sms_next_allowed(&[], "a", "0912", &limits, 1000), None);
        // The interval, by account and by number.
        let sent = [send("a", "0912", 950)];
        assert_eq!(
            sms_next_allowed(&sent, "a", "0999", &limits, 1000),
            Some(1010)
        );
        assert_eq!(
            sms_next_allowed(&sent, "b", "0912", &limits, 1000),
            Some(1010)
        );
        assert_eq!(sms_next_allowed(&sent, "b", "0999", &limits, 1000), None);
        assert_eq!(sms_next_allowed(&sent, "a", "0912", &limits, 1010), None);
        // The daily maximum: the oldest of the last three must leave the rolling window.
        let sent = [
            send("a", "1", 100),
            send("a", "2", 5000),
            send("a", "3", 9000),
        ];
        assert_eq!(
            sms_next_allowed(&sent, "a", "4", &limits, 20_000),
            Some(86_500)
        );
        assert_eq!(sms_next_allowed(&sent, "a", "4", &limits, 86_500), None);
        // Sends outside the window do not count.
        assert_eq!(sms_next_allowed(&sent, "a", "4", &limits, 86_500 + 1), None);
    }

    #[test]
    fn account_rows_convert_and_bad_values_are_corrupt() {
        let a = Account::try_from(account_row()).unwrap();
        assert_eq!(a.expires_on, Some(time::macros::date!(2026 - 12 - 31)));
        assert_eq!(a.groups, vec!["vpn".to_owned(), "staff".to_owned()]);
        assert_eq!(date_text(a.expires_on.unwrap()).unwrap(), "2026-12-31");

        for broken in [
            AccountRow {
                status: "gone".into(),
                ..account_row()
            },
            AccountRow {
                expires_on: Some("31.12.2026".into()),
                ..account_row()
            },
            AccountRow {
                groups: "vpn".into(),
                ..account_row()
            },
            AccountRow {
                failures: -1,
                ..account_row()
            },
        ] {
            assert!(matches!(
                Account::try_from(broken),
                Err(StoreError::Corrupt(_))
            ));
        }
    }

    #[test]
    fn short_macs_are_corrupt_and_batches_link_from_the_head() {
        let chain = AuditChain::new(SecretBytes::new(vec![1; 32]));
        let event = AuditEvent::new(5, "k", "a", None, "ok", serde_json::json!({}));
        let head = AuditHead {
            seq: Some(7),
            mac: Some(vec![0; 31]),
            key_check: None,
        };
        assert!(matches!(
            link_batch(&chain, head, std::slice::from_ref(&event)),
            Err(StoreError::Corrupt(_))
        ));

        let empty = AuditHead {
            seq: None,
            mac: None,
            key_check: None,
        };
        let rows = link_batch(&chain, empty, &[event.clone(), event.clone()]).unwrap();
        assert_eq!(rows.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(rows[0].mac, chain.link(&GENESIS_MAC, 1, &event));
        assert_eq!(rows[1].mac, chain.link(&rows[0].mac, 2, &event));
    }

    #[test]
    fn duplicate_ids_in_a_batch_conflict() {
        let a = AccountUpsert {
            id: "bob".into(),
            name: "Bob".into(),
            phone: None,
            email: None,
            expires_on: None,
            groups: vec![],
            password_hash: None,
            status: AccountStatus::Active,
        };
        assert!(reject_duplicate_ids(std::slice::from_ref(&a)).is_ok());
        assert!(
            matches!(reject_duplicate_ids(&[a.clone(), a]), Err(StoreError::Conflict(m)) if m.contains("bob"))
        );
    }
}

/// A `challenges` row.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct ChallengeRow {
    account_id: String,
    client: String,
    device_id: Option<String>,
    purpose: String,
    counter: Option<i64>,
    expires_at: i64,
}

impl TryFrom<ChallengeRow> for Challenge {
    type Error = StoreError;

    fn try_from(row: ChallengeRow) -> Result<Self, StoreError> {
        Ok(Challenge {
            purpose: ChallengePurpose::parse(&row.purpose)
                .ok_or_else(|| corrupt("challenge purpose", &row.purpose))?,
            account_id: row.account_id,
            client: row.client,
            device_id: row.device_id,
            counter: row.counter,
            expires_at: row.expires_at,
        })
    }
}

/// An `invitations` row as the queries select it.
#[derive(sqlx::FromRow)]
pub(super) struct InvitationRow {
    account_id: String,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
    device_id: Option<String>,
    seed_in_mail: bool,
}

impl From<InvitationRow> for super::Invitation {
    fn from(row: InvitationRow) -> Self {
        Self {
            account_id: row.account_id,
            created_at: row.created_at,
            expires_at: row.expires_at,
            used_at: row.used_at,
            device_id: row.device_id,
            seed_in_mail: row.seed_in_mail,
        }
    }
}

/// An outstanding SMS code's row after a counted try.
#[derive(sqlx::FromRow)]
pub(super) struct SmsAttemptRow {
    code_hash: Vec<u8>,
    attempts: i64,
    expires_at: i64,
}

impl From<SmsAttemptRow> for super::SmsCodeAttempt {
    fn from(row: SmsAttemptRow) -> Self {
        Self {
            code_hash: row.code_hash,
            attempts: row.attempts,
            expires_at: row.expires_at,
        }
    }
}
