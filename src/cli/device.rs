//! `motpd device enroll|import|reset`: binding and unbinding authenticator devices.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context as _;

use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;

use super::args::{AlgorithmArg, DeviceCommand, KindArg};
use super::confirm::confirm;
use super::context::{Context, KeyMode};
use super::{CliError, note_encoding, read_stdin_secret};
use crate::account_rules;
use crate::clock::local_date;
use crate::engine::enrollment::{self, EnrollError};
use crate::import::seeds::{self, ImportedSeed, SeedPlan};
use crate::import::table::RowError;
use crate::otp::{self, Algorithm, Kind};
use crate::secrets::SecretBytes;
use crate::store::{AccountFilter, NewDevice, StoreError};

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
            let id =
                account_rules::normalize_id(&id).map_err(|e| CliError::Input(e.to_string()))?;
            if secret_stdin {
                let seed = read_seed(kind, digits, period, algorithm, counter)?;
                import(&ctx, &id, &seed, replace).await
            } else {
                generate(&ctx, &id, replace).await
            }
        }
        DeviceCommand::Import {
            file,
            replace,
            skip_invalid,
            dry_run,
        } => import_file(&ctx, &file, replace, skip_invalid, dry_run).await,
        DeviceCommand::Reset { id, yes, reason } => {
            let id = super::user::existing(&ctx, &id).await?.id;
            let device = match ctx.stores.store.active_device(&id).await? {
                Some(d) => format!("its {} device", d.kind.as_str()),
                None => "its pending enrollment (no active device)".to_owned(),
            };
            confirm(
                &format!(
                    "Unbind {device} from {id}? Its VPN logins fail until a new phone is enrolled."
                ),
                yes,
                &format!("motpd device reset {id} --yes"),
            )?;
            let reason = super::reason(reason.as_deref());
            let removed = enrollment::reset_devices(
                ctx.stores.store.as_ref(),
                &id,
                &ctx.actor(),
                reason.as_deref(),
                ctx.now(),
            )
            .await?;
            println!("{id}: {removed} device(s) removed; the next enrollment binds a new one");
            Ok(())
        }
    };
    ctx.stores.store.close().await;
    result
}

async fn generate(ctx: &Context, id: &str, replace: bool) -> anyhow::Result<()> {
    let seed = enrollment::bind_new_device(
        ctx.stores.store.as_ref(),
        &ctx.key,
        &ctx.config.otp,
        id,
        replace,
        &ctx.actor(),
        ctx.now(),
    )
    .await
    .map_err(|e| already_bound(e, id))?;
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

/// A device already bound (and no `--replace`): say which option binds the new one anyway.
fn already_bound(error: EnrollError, id: &str) -> anyhow::Error {
    match error {
        EnrollError::Store(StoreError::Conflict(_)) => CliError::Conflict(format!(
            "{id} already has a device: use --replace to bind this one in its place (the old one stops \
             working), or unbind it first with `motpd device reset {id}`"
        ))
        .into(),
        other => other.into(),
    }
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
        ctx.stores.store.as_ref(),
        &ctx.key,
        id,
        seed,
        replace,
        &ctx.actor(),
        ctx.now(),
    )
    .await
    .map_err(|e| already_bound(e, id))?;
    println!(
        "bound imported {} device {device_id} to {id}",
        seed.kind.as_str()
    );
    Ok(())
}

/// `motpd device import`: validates every row (including that its account exists and, without `replace`, has
/// no device yet), then binds all rows in one store transaction, or none.
async fn import_file(
    ctx: &Context,
    file: &Path,
    replace: bool,
    skip_invalid: bool,
    dry_run: bool,
) -> anyhow::Result<()> {
    let reader = std::fs::File::open(file)
        .with_context(|| format!("cannot open {}", file.display()))
        .map_err(|e| CliError::Input(format!("{e:#}")))?;
    let mut plan = seeds::read_seed_import(std::io::BufReader::new(reader))
        .map_err(|e| CliError::Input(format!("{}: {e}", file.display())))?;
    note_encoding(file, plan.encoding);
    let (previous, expired) = check_accounts(ctx, &mut plan, replace).await?;
    for error in &plan.errors {
        eprintln!("{}:{}: {}", file.display(), error.line, error.reason);
    }
    for (line, id, last_day) in expired {
        eprintln!(
            "{}:{line}: warning: account {id} expired on {last_day}: the device is bound, but it cannot log in",
            file.display()
        );
    }
    if !plan.errors.is_empty() && !skip_invalid {
        return Err(CliError::Input(format!(
            "{} invalid row(s); nothing was imported. Fix them, or import the valid rows with --skip-invalid",
            plan.errors.len()
        ))
        .into());
    }
    if dry_run {
        println!(
            "{} valid row(s), {} invalid; nothing written (--dry-run)",
            plan.rows.len(),
            plan.errors.len()
        );
        return Ok(());
    }
    let devices = plan
        .rows
        .iter()
        .map(|row| enrollment::seal_imported(&ctx.key, &row.account_id, &row.seed))
        .collect::<Result<Vec<NewDevice>, _>>()?;
    let bound = ctx
        .stores
        .store
        .bind_devices(&devices, replace, ctx.now())
        .await?;
    let file_name = file.display().to_string();
    ctx.audit_each(
        "admin.device.import",
        devices.iter().map(|d| {
            let old = previous.get(&d.account_id).copied().flatten();
            let detail = serde_json::json!({
                "device": { "old": old, "new": d.kind.as_str() },
                "seed": "changed",
                "file": file_name,
            });
            (d.account_id.clone(), detail)
        }),
    )
    .await?;
    println!(
        "imported {}: {bound} device(s) bound, {} skipped",
        file.display(),
        plan.errors.len()
    );
    println!(
        "the file holds the seeds in clear: delete it (shred) now that they are sealed in the database"
    );
    Ok(())
}

/// Turns rows whose account does not exist, or (without `replace`) already has an active device, into row
/// errors, so that they are reported with their line numbers like every other bad row. Returns each
/// account's active device kind (for the audit's old value), and the valid rows whose account is past its
/// last day (in `policy.utc_offset`): `(line, account, last day)`.
async fn check_accounts(
    ctx: &Context,
    plan: &mut SeedPlan,
    replace: bool,
) -> anyhow::Result<CheckedAccounts> {
    let accounts: HashMap<String, (Option<&'static str>, Option<time::Date>)> = ctx
        .stores
        .store
        .list_accounts(AccountFilter::default())
        .await?
        .into_iter()
        .map(|o| {
            (
                o.account.id,
                (o.device.map(|d| d.kind), o.account.expires_on),
            )
        })
        .collect();
    let today = local_date(ctx.now(), ctx.config.policy.utc_offset);
    let mut expired = Vec::new();
    for row in std::mem::take(&mut plan.rows) {
        let problem = match accounts.get(&row.account_id).copied() {
            None => format!(
                "id: no account {:?} (create it first: `motpd user add` or `motpd user import`)",
                row.account_id
            ),
            Some((Some(_), _)) if !replace => format!(
                "id: {:?} already has a device (use --replace to replace it)",
                row.account_id
            ),
            Some((_, last_day)) => {
                if let Some(last_day) = last_day.filter(|&d| d < today) {
                    expired.push((row.line, row.account_id.clone(), last_day));
                }
                plan.rows.push(row);
                continue;
            }
        };
        plan.errors.push(RowError {
            line: row.line,
            reason: problem,
        });
    }
    plan.errors.sort_by_key(|e| e.line);
    let previous = accounts
        .into_iter()
        .map(|(id, (kind, _))| (id, kind))
        .collect();
    Ok((previous, expired))
}

/// Each account's active device kind, and the rows of expired accounts (see [`check_accounts`]).
type CheckedAccounts = (
    HashMap<String, Option<&'static str>>,
    Vec<(u64, String, time::Date)>,
);
