//! Master key rotation in the store: every sealed value (device seeds, mOTP PINs, RADIUS shared secrets, the
//! console admins' TOTP seeds) read,
//! re-sealed by the caller and written back, the key check value replaced and the rotation's audit row appended,
//! all in one transaction that holds the audit chain's lock, so that no audit row is linked under the old key
//! after the key check value names the new one (`audit.rs`).
//!
//! The store never sees a key: the caller passes the re-sealing as a function. Locking: SQLite's `BEGIN
//! IMMEDIATE` (one writer for the whole database); PostgreSQL locks the device and client rows in ID order, then
//! takes the audit lock, the same order as an accepted login (device row, then audit lock), so the two wait for
//! each other instead of deadlocking.

use super::StoreError;
use crate::audit::AuditEvent;
use crate::secrets::SecretError;

/// Which column a sealed value lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SealedKind {
    /// `devices.sealed_seed`.
    DeviceSeed,
    /// `devices.sealed_pin`.
    DevicePin,
    /// `radius_clients.sealed_secret`.
    ClientSecret,
    /// `admins.sealed_totp`.
    AdminTotp,
}

impl SealedKind {
    /// For messages and `motpd secrets status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DeviceSeed => "device_seed",
            Self::DevicePin => "device_pin",
            Self::ClientSecret => "client_secret",
            Self::AdminTotp => "admin_totp",
        }
    }
}

/// One sealed value and the row it belongs to (its associated data).
#[derive(Debug, Clone)]
pub struct SealedValue {
    /// The column.
    pub kind: SealedKind,
    /// The device ID, the client's or the admin's name.
    pub row: String,
    /// The device's account (empty for a client).
    pub account_id: String,
    /// The sealed bytes.
    pub sealed: Vec<u8>,
}

/// How many values a rotation re-sealed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResealCounts {
    /// Device seeds.
    pub seeds: u64,
    /// mOTP PINs.
    pub pins: u64,
    /// RADIUS shared secrets.
    pub client_secrets: u64,
    /// Console admins' TOTP seeds.
    pub admin_totps: u64,
}

/// Re-seals one value under the new key (opening it with the keyring).
pub type Reseal<'a> = &'a (dyn Fn(&SealedValue) -> Result<Vec<u8>, SecretError> + Send + Sync);

/// One rotation, as the caller prepared it.
pub struct Rotation<'a> {
    /// The key check value the caller read: if another value is stored when the transaction starts (another
    /// rotation ran meanwhile), nothing is written (`Conflict`).
    pub expected_key_check: &'a [u8],
    /// The new key's key check value.
    pub new_key_check: &'a [u8],
    /// Re-seals one value; an error rolls the whole rotation back.
    pub reseal: Reseal<'a>,
    /// The rotation's audit row, given the counts; linked under the key `expected_key_check` names.
    pub event: &'a (dyn Fn(&ResealCounts) -> AuditEvent + Send + Sync),
}

impl std::fmt::Debug for Rotation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rotation").finish_non_exhaustive()
    }
}

/// The sealed values and their rotation.
#[async_trait::async_trait]
pub trait SealedStore: Send + Sync + std::fmt::Debug {
    /// Every sealed value (for `motpd secrets status`).
    async fn sealed_values(&self) -> Result<Vec<SealedValue>, StoreError>;
    /// Re-seals every value, replaces the key check value and appends the rotation's audit row, in one
    /// transaction (see the module doc). A value that does not open rolls everything back.
    async fn rotate_key(&self, rotation: &Rotation<'_>) -> Result<ResealCounts, StoreError>;
}

/// Re-seals `values` with `rotation.reseal`: the new bytes per value, and the counts.
pub(super) fn reseal_all(
    rotation: &Rotation<'_>,
    values: &[SealedValue],
) -> Result<(Vec<Vec<u8>>, ResealCounts), StoreError> {
    let mut counts = ResealCounts::default();
    let mut resealed = Vec::with_capacity(values.len());
    for value in values {
        let sealed = (rotation.reseal)(value).map_err(|e| {
            StoreError::Corrupt(format!(
                "the {} of {} does not open with this node's keyring ({e}); nothing was changed",
                value.kind.as_str(),
                value.row
            ))
        })?;
        match value.kind {
            SealedKind::DeviceSeed => counts.seeds += 1,
            SealedKind::DevicePin => counts.pins += 1,
            SealedKind::ClientSecret => counts.client_secrets += 1,
            SealedKind::AdminTotp => counts.admin_totps += 1,
        }
        resealed.push(sealed);
    }
    Ok((resealed, counts))
}

/// A device row's ID, account, sealed seed and sealed PIN.
pub(super) type DeviceSecrets = (String, String, Vec<u8>, Option<Vec<u8>>);

/// The rows of the three tables as sealed values (devices: seed, then PIN if any).
pub(super) fn to_values(
    devices: Vec<DeviceSecrets>,
    clients: Vec<(String, Vec<u8>)>,
    admins: Vec<(String, Vec<u8>)>,
) -> Vec<SealedValue> {
    let mut values = Vec::with_capacity(devices.len() * 2 + clients.len());
    for (id, account_id, seed, pin) in devices {
        if let Some(pin) = pin {
            values.push(SealedValue {
                kind: SealedKind::DevicePin,
                row: id.clone(),
                account_id: account_id.clone(),
                sealed: pin,
            });
        }
        values.push(SealedValue {
            kind: SealedKind::DeviceSeed,
            row: id,
            account_id,
            sealed: seed,
        });
    }
    for (name, secret) in clients {
        values.push(SealedValue {
            kind: SealedKind::ClientSecret,
            row: name,
            account_id: String::new(),
            sealed: secret,
        });
    }
    for (name, seed) in admins {
        values.push(SealedValue {
            kind: SealedKind::AdminTotp,
            row: name,
            account_id: String::new(),
            sealed: seed,
        });
    }
    values
}

/// The SQL both backends share (`$n` placeholders work for both); `$lock` is appended to the reads inside the
/// rotation (PostgreSQL: `FOR UPDATE`).
macro_rules! sealed_store_impl {
    ($Store:ty, $lock:expr) => {
        #[async_trait::async_trait]
        impl crate::store::key_rotation::SealedStore for $Store {
            async fn sealed_values(
                &self,
            ) -> Result<Vec<crate::store::key_rotation::SealedValue>, StoreError> {
                let devices = sqlx::query_as(
                    "SELECT id, account_id, sealed_seed, sealed_pin FROM devices ORDER BY id",
                )
                .fetch_all(&self.pool)
                .await?;
                let clients =
                    sqlx::query_as("SELECT name, sealed_secret FROM radius_clients ORDER BY name")
                        .fetch_all(&self.pool)
                        .await?;
                let admins = sqlx::query_as("SELECT name, sealed_totp FROM admins ORDER BY name")
                    .fetch_all(&self.pool)
                    .await?;
                Ok(crate::store::key_rotation::to_values(
                    devices, clients, admins,
                ))
            }

            async fn rotate_key(
                &self,
                rotation: &crate::store::key_rotation::Rotation<'_>,
            ) -> Result<crate::store::key_rotation::ResealCounts, StoreError> {
                use crate::store::key_rotation::{SealedKind, reseal_all, to_values};
                let _gate = self.gate().await;
                let mut tx = self.begin_rotation().await?;
                let devices = sqlx::query_as(concat!(
                    "SELECT id, account_id, sealed_seed, sealed_pin FROM devices ORDER BY id",
                    $lock
                ))
                .fetch_all(&mut *tx)
                .await?;
                let clients = sqlx::query_as(concat!(
                    "SELECT name, sealed_secret FROM radius_clients ORDER BY name",
                    $lock
                ))
                .fetch_all(&mut *tx)
                .await?;
                let admins = sqlx::query_as(concat!(
                    "SELECT name, sealed_totp FROM admins ORDER BY name",
                    $lock
                ))
                .fetch_all(&mut *tx)
                .await?;
                self.lock_audit(&mut tx).await?;
                let stored: Option<Vec<u8>> =
                    sqlx::query_scalar("SELECT value FROM meta WHERE key = 'key_check'")
                        .fetch_optional(&mut *tx)
                        .await?;
                if stored.as_deref() != Some(rotation.expected_key_check) {
                    return Err(StoreError::Conflict(
                        "the database's key check value changed while the rotation was prepared \
                         (another rotation ran); nothing was changed, run the command again"
                            .to_owned(),
                    ));
                }
                let values = to_values(devices, clients, admins);
                let (resealed, counts) = reseal_all(rotation, &values)?;
                for (value, sealed) in values.iter().zip(&resealed) {
                    let statement = match value.kind {
                        SealedKind::DeviceSeed => {
                            "UPDATE devices SET sealed_seed = $2 WHERE id = $1"
                        }
                        SealedKind::DevicePin => "UPDATE devices SET sealed_pin = $2 WHERE id = $1",
                        SealedKind::ClientSecret => {
                            "UPDATE radius_clients SET sealed_secret = $2 WHERE name = $1"
                        }
                        SealedKind::AdminTotp => {
                            "UPDATE admins SET sealed_totp = $2 WHERE name = $1"
                        }
                    };
                    sqlx::query(statement)
                        .bind(&value.row)
                        .bind(sealed)
                        .execute(&mut *tx)
                        .await?;
                }
                // Linked under the key the stored key check value names (the old one): the last row of its span.
                let event = (rotation.event)(&counts);
                self.append_rotation_row(&mut tx, &event).await?;
                sqlx::query("UPDATE meta SET value = $1 WHERE key = 'key_check'")
                    .bind(rotation.new_key_check)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(counts)
            }
        }
    };
}
pub(super) use sealed_store_impl;
