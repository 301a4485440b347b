//! Applying a directory sync ([`DirectoryStore::apply_sync`](crate::store::DirectoryStore::apply_sync)) in one
//! transaction: the checks and the encoding are written once here; each backend's `directory_sync.rs` supplies
//! `apply_sync(pool, sync, now)` (SQLite: one write transaction of multi-row statements; PostgreSQL: one
//! transaction of array statements, `UNNEST` and `= ANY`, a fixed number of round trips whatever the size).

use std::collections::HashSet;

use super::rows::{date_text, groups_json};
use super::{AccountStatus, StoreError, SyncWrite};

/// One upsert's columns, encoded.
#[derive(Debug)]
pub(super) struct UpsertValues<'a> {
    pub(super) id: &'a str,
    pub(super) name: &'a str,
    pub(super) phone: Option<&'a str>,
    pub(super) email: Option<&'a str>,
    pub(super) status: &'static str,
    pub(super) expires_on: Option<String>,
    pub(super) groups: String,
    pub(super) directory_dn: &'a str,
}

/// The sync's writes, checked and encoded; upserts and status changes in ID order, the order in which the
/// login path's batches lock accounts (PostgreSQL), so the two never wait on each other in a cycle.
#[derive(Debug)]
pub(super) struct SyncValues<'a> {
    pub(super) upserts: Vec<UpsertValues<'a>>,
    pub(super) disable: Vec<&'a str>,
    /// Re-enables by the status they return to.
    pub(super) enable: Vec<(AccountStatus, Vec<&'a str>)>,
}

impl<'a> SyncValues<'a> {
    pub(super) fn new(sync: &'a SyncWrite) -> Result<Self, StoreError> {
        let mut seen = HashSet::with_capacity(sync.upserts.len());
        if let Some(dup) = sync
            .upserts
            .iter()
            .find(|u| !seen.insert(u.account.id.as_str()))
        {
            return Err(StoreError::Conflict(format!(
                "account {} appears more than once in the sync; nothing was written",
                dup.account.id
            )));
        }
        let mut upserts = sync
            .upserts
            .iter()
            .map(|u| {
                let a = &u.account;
                Ok(UpsertValues {
                    id: &a.id,
                    name: &a.name,
                    phone: a.phone.as_deref(),
                    email: a.email.as_deref(),
                    status: a.status.as_str(),
                    expires_on: a.expires_on.map(date_text).transpose()?,
                    groups: groups_json(&a.groups)?,
                    directory_dn: &u.directory_dn,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        upserts.sort_by(|a, b| a.id.cmp(b.id));
        let mut disable: Vec<&str> = sync.disable.iter().map(String::as_str).collect();
        disable.sort_unstable();
        disable.dedup();
        let mut enable = Vec::new();
        for status in [
            AccountStatus::Active,
            AccountStatus::Pending,
            AccountStatus::Disabled,
        ] {
            let mut ids: Vec<&str> = sync
                .enable
                .iter()
                .filter(|(_, s)| *s == status)
                .map(|(id, _)| id.as_str())
                .collect();
            if ids.is_empty() {
                continue;
            }
            ids.sort_unstable();
            ids.dedup();
            enable.push((status, ids));
        }
        Ok(Self {
            upserts,
            disable,
            enable,
        })
    }
}
