//! What a directory sync would change, decided without I/O: from the directory's entries (the sync search) and
//! the stored accounts, which accounts are created, updated (which fields), disabled (and why), re-enabled,
//! or left as they are. [`super::directory_sync`] reads both sides, applies the plan and audits it.
//!
//! The rules an Active Directory administrator expects:
//! - the directory is the source of the mapped attributes (name, phone, e-mail, expiry, and the reply groups
//!   when `[ldap.groups]` maps any); an attribute whose mapping is empty stays motpd's;
//! - an account that came from the directory and is gone from the sync search, or disabled or expired there,
//!   is disabled, its devices kept (a returning person is not re-enrolled);
//! - only an account a sync disabled is re-enabled by a sync; one an admin disabled stays disabled;
//! - an account motpd keeps itself (CSV, `user add`) is never disabled for being absent; one whose ID the
//!   directory has is adopted (linked to its entry, and synced from then on);
//! - the safety brake: a sync that would disable more than [`BRAKE_MIN_ACCOUNTS`] accounts and more than
//!   [`BRAKE_PERCENT`] % of the directory's accounts, or that found no entry at all but would disable any, is
//!   refused unless forced (a wrong filter or an empty answer must not switch off the hospital).

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};

use crate::account_rules::mask_phone;
use crate::directory::DirectoryEntry;
use crate::store::{AccountStatus, AccountUpsert, SyncUpsert, SyncWrite, SyncedAccount};

/// The brake holds a sync back that would disable more than this many accounts ...
pub const BRAKE_MIN_ACCOUNTS: usize = 10;
/// ... and more than this share (in percent) of the accounts that come from the directory.
pub const BRAKE_PERCENT: usize = 10;

/// How the plan is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanSettings {
    /// The status of a new account: active when motpd keeps no password (`password_source` ldap or none),
    /// pending (waiting for activation) when it does.
    pub new_status: AccountStatus,
    /// Whether motpd keeps the passwords (`password_source = "local"`): a re-enabled account without a
    /// password hash then returns to pending.
    pub keeps_passwords: bool,
    /// Today in the site's time zone: an entry whose expiry is before it is expired.
    pub today: time::Date,
    /// Whether the name attribute is mapped (`ldap.name_attribute` not empty).
    pub name_mapped: bool,
    /// Whether the phone attribute is mapped.
    pub phone_mapped: bool,
    /// Whether the e-mail attribute is mapped.
    pub email_mapped: bool,
    /// Go past the safety brake.
    pub force: bool,
}

/// Why a sync disables an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisableReason {
    /// The entry is no longer found by the sync search (deleted, moved out of the base, filtered out).
    Gone,
    /// Disabled in the directory.
    DisabledThere,
    /// Expired in the directory.
    Expired,
}

impl DisableReason {
    /// The reason as printed and audited.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gone => "not in the directory's sync search",
            Self::DisabledThere => "disabled in the directory",
            Self::Expired => "expired in the directory",
        }
    }

    /// The reason's short name in the audit detail.
    pub fn code(self) -> &'static str {
        match self {
            Self::Gone => "gone",
            Self::DisabledThere => "disabled",
            Self::Expired => "expired",
        }
    }
}

/// What happens to one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Created from its entry.
    Create,
    /// Fields updated (the status unchanged).
    Update,
    /// Disabled (fields may be updated too).
    Disable(DisableReason),
    /// Re-enabled, to this status (fields may be updated too).
    Reenable(AccountStatus),
}

/// One account's change: the action and the fields that change, `{"field": {"old": …, "new": …}}` (phone
/// numbers masked, as `user show` shows them).
#[derive(Debug, Clone, PartialEq)]
pub struct AccountChange {
    /// Account ID.
    pub id: String,
    /// What happens.
    pub action: Action,
    /// The changed fields by name (`directory`, `email`, `expires`, `groups`, `name`, `phone`).
    pub fields: Map<String, Value>,
    /// A local account taken over by its directory entry.
    pub adopted: bool,
}

impl AccountChange {
    /// The audit row's detail: the changed fields, plus what happened.
    pub fn detail(&self) -> Value {
        let mut detail = self.fields.clone();
        let (action, extra) = match &self.action {
            Action::Create => ("created", None),
            Action::Update => ("updated", None),
            Action::Disable(reason) => ("disabled", Some(("reason", reason.code()))),
            Action::Reenable(status) => ("re-enabled", Some(("status", status.as_str()))),
        };
        detail.insert("sync".into(), json!(action));
        if let Some((key, value)) = extra {
            detail.insert(key.into(), json!(value));
        }
        if self.adopted {
            detail.insert("adopted".into(), json!(true));
        }
        Value::Object(detail)
    }
}

/// Counts of a plan, for the summary line, the audit summary and the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PlanCounts {
    /// Entries the sync search returned.
    pub entries: usize,
    /// Accounts created.
    pub created: usize,
    /// Accounts updated (no status change).
    pub updated: usize,
    /// Accounts disabled.
    pub disabled: usize,
    /// Accounts re-enabled.
    pub reenabled: usize,
    /// Accounts left as they are.
    pub unchanged: usize,
    /// Entries skipped: no ID, an ID more than one entry has, or disabled or expired in the directory
    /// without an account here.
    pub skipped: usize,
}

/// A sync's plan.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncPlan {
    /// The changes, in account ID order.
    pub changes: Vec<AccountChange>,
    /// What the store writes.
    pub write: SyncWrite,
    /// Counts.
    pub counts: PlanCounts,
    /// Entries that were skipped, and why (printed and logged; they change nothing).
    pub warnings: Vec<String>,
}

/// The plan was refused by the safety brake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the sync would disable {disable} of {directory_accounts} accounts from the directory ({why}); nothing \
     was changed. Check ldap.base_dn and ldap.sync_filter; if the directory really lost them, run \
     `motpd user sync --dry-run` to see the list and `motpd user sync --force` to apply it"
)]
pub struct BrakeError {
    /// Accounts the sync would disable.
    pub disable: usize,
    /// Accounts that come from the directory (before the sync).
    pub directory_accounts: usize,
    /// Which rule held it back.
    pub why: &'static str,
}

/// The plan of one sync. `entries` is the whole sync search; `accounts` every stored account.
pub fn plan(
    entries: &[DirectoryEntry],
    accounts: &[SyncedAccount],
    settings: &PlanSettings,
) -> Result<SyncPlan, BrakeError> {
    let mut warnings = Vec::new();
    let mut counts = PlanCounts {
        entries: entries.len(),
        ..PlanCounts::default()
    };
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(entries.len());
    for entry in entries {
        *seen.entry(entry.id.as_str()).or_default() += 1;
    }
    let mut by_id: HashMap<&str, &DirectoryEntry> = HashMap::with_capacity(entries.len());
    let mut duplicated: HashSet<&str> = HashSet::new();
    for entry in entries {
        if entry.id.trim().is_empty() {
            counts.skipped += 1;
            warnings.push(format!("{}: no account ID; skipped", entry.dn));
        } else if seen.get(entry.id.as_str()).copied().unwrap_or(0) > 1 {
            counts.skipped += 1;
            warnings.push(format!(
                "{}: account ID {} is held by more than one entry; skipped (the account, if any, is left as it is)",
                entry.dn, entry.id
            ));
            duplicated.insert(entry.id.as_str());
        } else {
            by_id.insert(entry.id.as_str(), entry);
        }
    }
    let stored: HashMap<&str, &SyncedAccount> =
        accounts.iter().map(|a| (a.id.as_str(), a)).collect();
    let mut changes = Vec::new();
    let mut write = SyncWrite::default();

    let mut ids: Vec<&str> = by_id.keys().copied().collect();
    ids.sort_unstable();
    for id in ids {
        let Some(entry) = by_id.get(id) else { continue };
        let inactive = inactive_reason(entry, settings.today);
        match stored.get(id) {
            // Nobody to create: a disabled or expired entry gets its account once it is enabled there.
            None if inactive.is_some() => counts.skipped += 1,
            None => {
                let account = new_account(entry, settings);
                let mut fields = Map::new();
                let blank = blank(id);
                compare(&mut fields, &blank, &account, None, Some(&entry.dn));
                write.upserts.push(SyncUpsert {
                    account,
                    directory_dn: entry.dn.clone(),
                });
                counts.created += 1;
                changes.push(AccountChange {
                    id: id.to_owned(),
                    action: Action::Create,
                    fields,
                    adopted: false,
                });
            }
            Some(current) => {
                let wanted = updated_account(current, entry, settings);
                let mut fields = Map::new();
                let old = upsert_of(current);
                compare(
                    &mut fields,
                    &old,
                    &wanted,
                    current.directory_dn.as_deref(),
                    Some(&entry.dn),
                );
                let adopted = current.directory_dn.is_none();
                let action = match (inactive, current.status) {
                    (Some(reason), AccountStatus::Active | AccountStatus::Pending) => {
                        Some(Action::Disable(reason))
                    }
                    (None, AccountStatus::Disabled) if current.sync_disabled => {
                        Some(Action::Reenable(reenabled_status(current, settings)))
                    }
                    _ => None,
                };
                if !fields.is_empty() {
                    write.upserts.push(SyncUpsert {
                        account: wanted,
                        directory_dn: entry.dn.clone(),
                    });
                }
                let action = match action {
                    Some(Action::Disable(reason)) => {
                        write.disable.push(id.to_owned());
                        counts.disabled += 1;
                        Action::Disable(reason)
                    }
                    Some(Action::Reenable(status)) => {
                        write.enable.push((id.to_owned(), status));
                        counts.reenabled += 1;
                        Action::Reenable(status)
                    }
                    _ if fields.is_empty() => {
                        counts.unchanged += 1;
                        continue;
                    }
                    _ => {
                        counts.updated += 1;
                        Action::Update
                    }
                };
                changes.push(AccountChange {
                    id: id.to_owned(),
                    action,
                    fields,
                    adopted,
                });
            }
        }
    }

    let mut directory_accounts: usize = 0;
    for account in accounts {
        if account.directory_dn.is_none() {
            continue;
        }
        directory_accounts += 1;
        let id = account.id.as_str();
        if by_id.contains_key(id) || duplicated.contains(id) {
            continue;
        }
        if account.status == AccountStatus::Disabled {
            counts.unchanged += 1;
            continue;
        }
        write.disable.push(account.id.clone());
        counts.disabled += 1;
        changes.push(AccountChange {
            id: account.id.clone(),
            action: Action::Disable(DisableReason::Gone),
            fields: Map::new(),
            adopted: false,
        });
    }
    changes.sort_by(|a, b| a.id.cmp(&b.id));

    let disable = counts.disabled;
    if !settings.force && disable > 0 {
        let why = if entries.is_empty() {
            Some("the sync search found no entry at all")
        } else if disable > BRAKE_MIN_ACCOUNTS
            && disable.saturating_mul(100) > directory_accounts.saturating_mul(BRAKE_PERCENT)
        {
            Some("more than 10 accounts and more than 10 % of them")
        } else {
            None
        };
        if let Some(why) = why {
            return Err(BrakeError {
                disable,
                directory_accounts,
                why,
            });
        }
    }
    Ok(SyncPlan {
        changes,
        write,
        counts,
        warnings,
    })
}

/// Why an entry's account may not be used, if it may not.
fn inactive_reason(entry: &DirectoryEntry, today: time::Date) -> Option<DisableReason> {
    if entry.disabled {
        Some(DisableReason::DisabledThere)
    } else if entry.expires_on.is_some_and(|last| last < today) {
        Some(DisableReason::Expired)
    } else {
        None
    }
}

/// The groups the entry gives (sorted, without repeats), or `None` when the mapping table is empty.
fn entry_groups(entry: &DirectoryEntry) -> Option<Vec<String>> {
    entry.groups.as_ref().map(|groups| {
        let mut groups = groups.clone();
        groups.sort_unstable();
        groups.dedup();
        groups
    })
}

fn new_account(entry: &DirectoryEntry, settings: &PlanSettings) -> AccountUpsert {
    AccountUpsert {
        id: entry.id.clone(),
        name: entry.name.clone().unwrap_or_default(),
        phone: entry.phone.clone(),
        email: entry.email.clone(),
        expires_on: entry.expires_on,
        groups: entry_groups(entry).unwrap_or_default(),
        password_hash: None,
        status: settings.new_status,
    }
}

/// The stored account with the entry's mapped attributes.
fn updated_account(
    current: &SyncedAccount,
    entry: &DirectoryEntry,
    settings: &PlanSettings,
) -> AccountUpsert {
    let mut account = upsert_of(current);
    if settings.name_mapped {
        // A name is needed: an entry without one keeps the stored name.
        if let Some(name) = entry.name.as_ref().filter(|n| !n.trim().is_empty()) {
            account.name.clone_from(name);
        }
    }
    if settings.phone_mapped {
        account.phone.clone_from(&entry.phone);
    }
    if settings.email_mapped {
        account.email.clone_from(&entry.email);
    }
    account.expires_on = entry.expires_on;
    if let Some(groups) = entry_groups(entry) {
        account.groups = groups;
    }
    account
}

fn reenabled_status(current: &SyncedAccount, settings: &PlanSettings) -> AccountStatus {
    if settings.keeps_passwords && !current.has_password {
        AccountStatus::Pending
    } else {
        AccountStatus::Active
    }
}

fn upsert_of(account: &SyncedAccount) -> AccountUpsert {
    AccountUpsert {
        id: account.id.clone(),
        name: account.name.clone(),
        phone: account.phone.clone(),
        email: account.email.clone(),
        expires_on: account.expires_on,
        groups: account.groups.clone(),
        password_hash: None,
        status: account.status,
    }
}

fn blank(id: &str) -> AccountUpsert {
    AccountUpsert {
        id: id.to_owned(),
        name: String::new(),
        phone: None,
        email: None,
        expires_on: None,
        groups: Vec::new(),
        password_hash: None,
        status: AccountStatus::Pending,
    }
}

/// Records in `fields` what differs between `old` and `new` (and the entry's DN). A phone number is masked
/// as `user show` shows it; a change is recorded even when both numbers mask alike.
fn compare(
    fields: &mut Map<String, Value>,
    old: &AccountUpsert,
    new: &AccountUpsert,
    old_dn: Option<&str>,
    new_dn: Option<&str>,
) {
    let masked = |p: &Option<String>| p.as_deref().map(mask_phone);
    let pairs = [
        (
            "name",
            old.name != new.name,
            json!(old.name),
            json!(new.name),
        ),
        (
            "phone",
            old.phone != new.phone,
            json!(masked(&old.phone)),
            json!(masked(&new.phone)),
        ),
        (
            "email",
            old.email != new.email,
            json!(old.email),
            json!(new.email),
        ),
        (
            "expires",
            old.expires_on != new.expires_on,
            json!(old.expires_on.map(|d| d.to_string())),
            json!(new.expires_on.map(|d| d.to_string())),
        ),
        (
            "groups",
            old.groups != new.groups,
            json!(old.groups),
            json!(new.groups),
        ),
        ("directory", old_dn != new_dn, json!(old_dn), json!(new_dn)),
    ];
    for (name, differs, o, n) in pairs {
        if differs {
            fields.insert(name.to_owned(), json!({ "old": o, "new": n }));
        }
    }
}

#[cfg(test)]
#[path = "sync_plan_tests.rs"]
mod tests;
