//! `motpd device enroll|reset`: binding and unbinding authenticator devices.

use std::path::Path;

use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;

use super::args::{AlgorithmArg, DeviceCommand, KindArg};
use super::context::{Context, KeyMode};
use super::{CliError, read_stdin_secret};
use crate::accounts;
use crate::engine::enrollment::{self, ImportedSeed};
use crate::otp::{self, Algorithm, Kind};
use crate::secrets::SecretBytes;

pub(super) async fn run(config_path: Option<&Path>, command: DeviceCommand) -> anyhow::Result<()> {
    let ctx = Context::open(config_path, KeyMode::MustExist).await?;
    let result = match command {
        DeviceCommand::Enroll {
            id,
            secret_stdin,
            kind,
            digits,
            period,
            algorithm,
            counter,
            replace,
        } => {
            let id = accounts::normalize_id(&id).map_err(|e| CliError::Input(e.to_string()))?;
            if secret_stdin {
                let seed = read_seed(kind, digits, period, algorithm, counter)?;
                import(&ctx, &id, &seed, replace).await
            } else {
                generate(&ctx, &id, replace).await
            }
        }
        DeviceCommand::Reset { id } => {
            let id = accounts::normalize_id(&id).map_err(|e| CliError::Input(e.to_string()))?;
            let removed =
                enrollment::reset_devices(ctx.store.as_ref(), &id, &ctx.actor(), ctx.now()).await?;
            println!("{id}: {removed} device(s) removed; the next enrollment binds a new one");
            Ok(())
        }
    };
    ctx.store.close().await;
    result
}

async fn generate(ctx: &Context, id: &str, replace: bool) -> anyhow::Result<()> {
    let seed = enrollment::bind_new_device(
        ctx.store.as_ref(),
        &ctx.key,
        &ctx.config.otp,
        id,
        replace,
        &ctx.actor(),
        ctx.now(),
    )
    .await?;
    let qr = QrCode::new(seed.uri.expose().as_bytes())
        .map(|code| {
            code.render::<Dense1x2>()
                .dark_color(Dense1x2::Light)
                .light_color(Dense1x2::Dark)
                .quiet_zone(true)
                .build()
        })
        .unwrap_or_else(|_| "(the URI is too long for a QR code)".to_owned());
    println!("{qr}");
    println!(
        "bound a new TOTP device to {id}; scan the QR code above with the authenticator app, or enter:"
    );
    println!(
        "  initial key  {}",
        otp::group_in_fours(seed.secret_base32.expose())
    );
    println!(
        "  settings     time-based, {} digits, every {} s, {}",
        ctx.config.otp.digits,
        ctx.config.otp.period,
        ctx.config.otp.algorithm.to_uppercase()
    );
    println!("  URI          {}", seed.uri.expose());
    println!("This is shown once. Treat this screen like a password.");
    Ok(())
}

fn read_seed(
    kind: KindArg,
    digits: u32,
    period: u32,
    algorithm: AlgorithmArg,
    counter: u64,
) -> anyhow::Result<ImportedSeed> {
    let input = read_stdin_secret("seed")?;
    let mut lines = input
        .expose()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty());
    let secret = lines.next().unwrap_or_default();
    let kind = match kind {
        KindArg::Totp => Kind::Totp,
        KindArg::Hotp => Kind::Hotp,
        KindArg::Motp => Kind::Motp,
    };
    let algorithm = match algorithm {
        AlgorithmArg::Sha1 => Algorithm::Sha1,
        AlgorithmArg::Sha256 => Algorithm::Sha256,
        AlgorithmArg::Sha512 => Algorithm::Sha512,
    };
    let (seed, pin, digits, period) = if kind == Kind::Motp {
        // Classic mOTP: the init-secret is used as typed (hex text); the PIN follows on the next line.
        let pin = lines.next().ok_or_else(|| {
            CliError::Input(
                "an mOTP token needs its PIN on the second line of standard input".into(),
            )
        })?;
        if !pin.chars().all(|c| c.is_ascii_digit()) || pin.len() < 4 {
            return Err(CliError::Input("the mOTP PIN must be at least 4 digits".into()).into());
        }
        let secret = secret.to_ascii_lowercase();
        if secret.len() < 16 || !secret.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(CliError::Input(
                "the mOTP init-secret must be at least 16 hexadecimal characters".into(),
            )
            .into());
        }
        let seed = SecretBytes::new(secret.into_bytes());
        (
            seed,
            Some(SecretBytes::new(pin.as_bytes().to_vec())),
            6,
            otp::MOTP_STEP_SECS as u32,
        )
    } else {
        let seed =
            otp::parse_base32_seed(secret).map_err(|e| CliError::Input(format!("seed: {e}")))?;
        (SecretBytes::new(seed), None, digits, period)
    };
    Ok(ImportedSeed {
        kind,
        seed,
        pin,
        digits,
        period,
        algorithm,
        next_counter: counter,
    })
}

async fn import(ctx: &Context, id: &str, seed: &ImportedSeed, replace: bool) -> anyhow::Result<()> {
    let device_id = enrollment::bind_imported_device(
        ctx.store.as_ref(),
        &ctx.key,
        id,
        seed,
        replace,
        &ctx.actor(),
        ctx.now(),
    )
    .await?;
    println!(
        "bound imported {} device {device_id} to {id}",
        seed.kind.as_str()
    );
    Ok(())
}
