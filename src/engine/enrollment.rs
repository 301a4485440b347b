//! Device binding, shared by the admin CLI and the enrollment pages: new seeds, imported seeds, resets.
//!
//! Seeds and PINs are sealed here (the store sees only ciphertext bound to the device and account IDs), the
//! one-device-per-account rule is enforced by the store atomically, and every change goes to the audit trail.

use crate::audit::AuditEvent;
use crate::config::OtpConfig;
use crate::import::seeds::ImportedSeed;
use crate::otp::{self, Algorithm, Kind, UriParams};
use crate::secrets::{Aad, Keyring, SecretBytes, SecretError, SecretString};
use crate::store::{NewDevice, Store, StoreError};

/// Why a device could not be bound or reset.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    /// No such account.
    #[error("account {0} does not exist")]
    NoSuchAccount(String),
    /// The seed or its settings are not usable.
    #[error("{0}")]
    Otp(#[from] otp::OtpError),
    /// An mOTP token needs its PIN.
    #[error("an mOTP token needs its PIN")]
    MissingPin,
    /// Sealing failed.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The store refused (conflict: already bound) or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A freshly generated device, to show once to the person enrolling.
#[derive(Debug)]
pub struct NewSeed {
    /// The device's ID.
    pub device_id: String,
    /// The seed in base32 (the "initial key").
    pub secret_base32: SecretString,
    /// `otpauth://` URI for the QR code.
    pub uri: SecretString,
}

/// A random device ID (128 bits, hex).
pub fn new_device_id() -> Result<String, SecretError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| SecretError::Random)?;
    Ok(hex::encode(bytes))
}

/// Generates a TOTP seed with the site's settings, seals it, and returns the device to store (active for the
/// CLI, pending for the web flow) together with what the user must see once.
pub fn generate_device(
    key: &Keyring,
    otp_config: &OtpConfig,
    account_id: &str,
    label: Option<String>,
) -> Result<(NewDevice, NewSeed), EnrollError> {
    let algorithm: Algorithm = otp_config.algorithm.parse()?;
    let seed = SecretBytes::new(otp::generate_seed(algorithm)?);
    let device_id = new_device_id()?;
    let device = NewDevice {
        sealed_seed: key.seal(&Aad::device_seed(&device_id, account_id), seed.expose())?,
        id: device_id.clone(),
        account_id: account_id.to_owned(),
        kind: Kind::Totp,
        algorithm,
        digits: otp_config.digits,
        period: otp_config.period,
        sealed_pin: None,
        last_step: None,
        label,
    };
    let shown = describe_seed(
        &otp_config.issuer,
        &device_id,
        account_id,
        &device_settings(&device),
        seed.expose(),
    )?;
    Ok((device, shown))
}

/// A software token's settings, as its QR code spells them out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenSettings {
    /// HMAC hash.
    pub algorithm: Algorithm,
    /// Code length.
    pub digits: u32,
    /// Seconds per step.
    pub period: u32,
}

fn device_settings(device: &NewDevice) -> TokenSettings {
    TokenSettings {
        algorithm: device.algorithm,
        digits: device.digits,
        period: device.period,
    }
}

/// What the person enrolling sees of a TOTP seed: the initial key and the `otpauth://` URI for the QR code
/// (a new seed, or a pending one shown again).
pub fn describe_seed(
    issuer: &str,
    device_id: &str,
    account_id: &str,
    settings: &TokenSettings,
    seed: &[u8],
) -> Result<NewSeed, EnrollError> {
    let secret_base32 = SecretString::new(otp::seed_to_base32(seed));
    let uri = otp::otpauth_uri(&UriParams {
        kind: Kind::Totp,
        issuer: Some(issuer.to_owned()),
        account: account_id.to_owned(),
        secret_base32: secret_base32.expose().to_owned().into(),
        digits: settings.digits,
        period: u64::from(settings.period),
        counter: 0,
        algorithm: settings.algorithm,
    })?;
    Ok(NewSeed {
        device_id: device_id.to_owned(),
        secret_base32,
        uri: SecretString::new(uri),
    })
}

/// Admin enrollment: binds a new generated TOTP device now. Refused if a device is active, unless `replace`.
pub async fn bind_new_device(
    store: &dyn Store,
    key: &Keyring,
    otp_config: &OtpConfig,
    account_id: &str,
    replace: bool,
    actor: &str,
    now: i64,
) -> Result<NewSeed, EnrollError> {
    require_account(store, account_id).await?;
    let (device, seed) = generate_device(key, otp_config, account_id, None)?;
    store.bind_device(&device, replace, now).await?;
    audit_bind(store, &device, replace, "generated", actor, now).await?;
    Ok(seed)
}

/// Migration from a previous OTP system: binds a known seed. Returns the device ID.
pub async fn bind_imported_device(
    store: &dyn Store,
    key: &Keyring,
    account_id: &str,
    seed: &ImportedSeed,
    replace: bool,
    actor: &str,
    now: i64,
) -> Result<String, EnrollError> {
    require_account(store, account_id).await?;
    let device = seal_imported(key, account_id, seed)?;
    store.bind_device(&device, replace, now).await?;
    audit_bind(store, &device, replace, "imported", actor, now).await?;
    Ok(device.id)
}

/// Checks an imported seed's settings and seals it into a device record (also used by bulk import).
pub fn seal_imported(
    key: &Keyring,
    account_id: &str,
    seed: &ImportedSeed,
) -> Result<NewDevice, EnrollError> {
    if seed.kind == Kind::Motp && seed.pin.is_none() {
        return Err(EnrollError::MissingPin);
    }
    if !(otp::MIN_DIGITS..=otp::MAX_DIGITS).contains(&seed.digits) {
        return Err(otp::OtpError::InvalidDigits(seed.digits).into());
    }
    if seed.period == 0 {
        return Err(otp::OtpError::InvalidPeriod.into());
    }
    let id = new_device_id()?;
    let sealed_pin = match &seed.pin {
        Some(pin) => Some(key.seal(&Aad::device_pin(&id, account_id), pin.expose())?),
        None => None,
    };
    Ok(NewDevice {
        sealed_seed: key.seal(&Aad::device_seed(&id, account_id), seed.seed.expose())?,
        sealed_pin,
        id,
        account_id: account_id.to_owned(),
        kind: seed.kind,
        algorithm: seed.algorithm,
        digits: seed.digits,
        period: seed.period,
        last_step: match seed.kind {
            // The store keeps the last counter used; the token's next code is for `next_counter`.
            Kind::Hotp => i64::try_from(seed.next_counter).ok().map(|c| c - 1),
            Kind::Totp | Kind::Motp => None,
        },
        label: None,
    })
}

/// Unbinds every device of the account (lost or replaced phone). Returns how many were removed; audited
/// `admin.device.reset` with the active device's kind as old value and the `reason` given (the console
/// requires one), and not at all when there was none.
pub async fn reset_devices(
    store: &dyn Store,
    account_id: &str,
    actor: &str,
    reason: Option<&str>,
    now: i64,
) -> Result<u64, EnrollError> {
    require_account(store, account_id).await?;
    let active = store.active_device(account_id).await?;
    let removed = store.reset_devices(account_id).await?;
    if removed == 0 {
        return Ok(0);
    }
    let mut detail = serde_json::json!({
        "removed": removed,
        "device": { "old": active.map(|d| d.kind.as_str()), "new": null },
    });
    if let (Some(reason), Some(object)) = (reason, detail.as_object_mut()) {
        object.insert("reason".to_owned(), reason.into());
    }
    store
        .append_audit(&[AuditEvent::new(
            now,
            "admin.device.reset",
            actor,
            Some(account_id),
            "ok",
            detail,
        )])
        .await?;
    Ok(removed)
}

async fn require_account(store: &dyn Store, account_id: &str) -> Result<(), EnrollError> {
    match store.account(account_id).await? {
        Some(_) => Ok(()),
        None => Err(EnrollError::NoSuchAccount(account_id.to_owned())),
    }
}

async fn audit_bind(
    store: &dyn Store,
    device: &NewDevice,
    replace: bool,
    source: &str,
    actor: &str,
    now: i64,
) -> Result<(), StoreError> {
    store
        .append_audit(&[AuditEvent::new(
            now,
            "admin.device.bind",
            actor,
            Some(&device.account_id),
            "ok",
            serde_json::json!({
                "device": device.id,
                "kind": device.kind.as_str(),
                "source": source,
                "replaced": replace,
            }),
        )])
        .await
}
