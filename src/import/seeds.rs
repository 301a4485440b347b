//! The bulk seed import format (`motpd device import FILE.csv`): reading the CSV and validating every row.
//!
//! Migration from a previous OTP system: one row per account, naming the account, the token kind and the
//! seed (base32 for TOTP/HOTP; the init-secret as typed for mOTP, with its PIN). Every row is validated before
//! anything is written, and each bad row is reported with its line number. Whether the account exists is not
//! known here: the caller checks that against the store and reports it as a row error too.
//!
//! Pure: parsing and validation only, no store, no sealing (the engine's `enrollment::seal_imported` seals
//! an [`ImportedSeed`]). Secrets never appear in an error message: a bad secret or
//! PIN is described by the rule it breaks, never by its value.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]

use std::io::Read;

use super::table::{Cells, CsvFileError, RowError, keep, read_table};
pub use super::text::SourceEncoding;
use crate::account_rules::{FieldError, field_error, normalize_id};
use crate::otp::{self, Algorithm, Kind, OtpError};
use crate::secrets::SecretBytes;

/// The columns a seed file may have, in the documented order.
pub const COLUMNS: [&str; 8] = [
    "id",
    "kind",
    "secret",
    "digits",
    "period",
    "counter",
    "algorithm",
    "pin",
];

/// The columns every seed file must have.
const REQUIRED: [&str; 3] = ["id", "kind", "secret"];

/// mOTP init-secrets are hex text of at least this many characters (64 bits), as the apps generate them.
const MIN_MOTP_SECRET_LEN: usize = 16;
/// Longer cells are refused before any parsing (no real seed comes close).
const MAX_SECRET_LEN: usize = 256;
/// mOTP PINs have at least this many digits.
const MIN_PIN_LEN: usize = 4;
/// mOTP PINs have at most this many digits.
const MAX_PIN_LEN: usize = 16;

/// A seed to import from a previous OTP system, as a seed file row or the CLI's options give it; the
/// engine's enrollment seals and binds it.
#[derive(Debug)]
pub struct ImportedSeed {
    /// TOTP, HOTP or mOTP.
    pub kind: Kind,
    /// The raw seed (for mOTP: the init-secret text as typed in the app).
    pub seed: SecretBytes,
    /// The mOTP PIN.
    pub pin: Option<SecretBytes>,
    /// Code length (mOTP: 6).
    pub digits: u32,
    /// TOTP step seconds (mOTP: 10).
    pub period: u32,
    /// HMAC algorithm.
    pub algorithm: Algorithm,
    /// HOTP: the next counter the token will show.
    pub next_counter: u64,
}

/// One valid row: the account and the seed to bind to it.
#[derive(Debug)]
pub struct SeedRow {
    /// Line in the file (1 = header).
    pub line: u64,
    /// The account ID, normalised (lower case).
    pub account_id: String,
    /// The seed and its settings, ready for the engine's `enrollment::seal_imported`.
    pub seed: ImportedSeed,
}

/// The result of reading a seed file: valid rows and bad rows, both complete.
#[derive(Debug)]
pub struct SeedPlan {
    /// Rows ready to bind, in file order.
    pub rows: Vec<SeedRow>,
    /// Rows that cannot be imported, in file order.
    pub errors: Vec<RowError>,
    /// What the file was read as (Big5: Excel's "CSV" on Taiwanese Windows).
    pub encoding: SourceEncoding,
}

/// The seed file itself cannot be read (not a per-row problem).
pub type SeedFileError = CsvFileError;

/// Reads a seed file (a header row naming the columns, in any order) and validates every row. The same account
/// twice is an error on each later line.
pub fn read_seed_import(input: impl Read) -> Result<SeedPlan, SeedFileError> {
    let table = read_table(input, &COLUMNS, &REQUIRED, row_from_cells)?;
    let rows = table
        .rows
        .into_iter()
        .map(|(line, account_id, seed)| SeedRow {
            line,
            account_id,
            seed,
        })
        .collect();
    Ok(SeedPlan {
        rows,
        errors: table.errors,
        encoding: table.encoding,
    })
}

/// Validates one record. Every field is checked, so a row's message lists all its problems.
fn row_from_cells(cells: &Cells<'_>) -> Result<(String, ImportedSeed), Vec<FieldError>> {
    let cell = |name: &str| cells.get(name);
    let mut errors = Vec::new();
    let id = keep(&mut errors, normalize_id(cell("id")));
    let kind = keep(&mut errors, parse_kind(cell("kind")));
    let algorithm = keep(&mut errors, parse_algorithm(cell("algorithm")));
    // The other fields' rules depend on the kind: without one they cannot be checked.
    let seed = kind.and_then(|kind| seed_from_cells(kind, algorithm, &cell, &mut errors));
    match (id, seed) {
        (Some(id), Some(seed)) if errors.is_empty() => Ok((id, seed)),
        _ => Err(errors),
    }
}

/// The kind-dependent fields of a row; `None` if any of them (or `algorithm`) is invalid.
fn seed_from_cells<'r>(
    kind: Kind,
    algorithm: Option<Algorithm>,
    cell: &impl Fn(&str) -> &'r str,
    errors: &mut Vec<FieldError>,
) -> Option<ImportedSeed> {
    let digits = keep(errors, parse_digits(kind, cell("digits")));
    let period = keep(errors, parse_period(kind, cell("period")));
    let next_counter = keep(errors, parse_counter(kind, cell("counter")));
    let seed = keep(errors, parse_secret(kind, cell("secret")));
    let pin = keep(errors, parse_pin(kind, cell("pin")));
    Some(ImportedSeed {
        kind,
        seed: seed?,
        pin: pin?,
        digits: digits?,
        period: period?,
        algorithm: algorithm?,
        next_counter: next_counter?,
    })
}

fn parse_kind(raw: &str) -> Result<Kind, FieldError> {
    if raw.is_empty() {
        return Err(field_error("kind", "must be totp, hotp or motp"));
    }
    raw.parse()
        .map_err(|_| field_error("kind", format!("{raw:?} is not totp, hotp or motp")))
}

fn parse_algorithm(raw: &str) -> Result<Algorithm, FieldError> {
    if raw.is_empty() {
        return Ok(Algorithm::Sha1);
    }
    raw.parse().map_err(|_| {
        field_error(
            "algorithm",
            format!("{raw:?} is not sha1, sha256 or sha512"),
        )
    })
}

/// A whole number, or `default` for an empty cell.
fn number(field: &'static str, raw: &str, default: u64) -> Result<u64, FieldError> {
    if raw.is_empty() {
        return Ok(default);
    }
    raw.parse()
        .map_err(|_| field_error(field, format!("{raw:?} is not a whole number")))
}

/// A cell that does not apply to `kind` must be empty: a filled one usually means the kind column is wrong.
fn not_for(field: &'static str, for_kind: Kind, kind: Kind) -> FieldError {
    field_error(
        field,
        format!("only for {for_kind} rows; leave it empty for {kind}"),
    )
}

/// Code length: 6 to 8, default 6; mOTP codes always have 6.
fn parse_digits(kind: Kind, raw: &str) -> Result<u32, FieldError> {
    let digits = u32::try_from(number("digits", raw, 6)?)
        .ok()
        .filter(|d| (otp::MIN_DIGITS..=otp::MAX_DIGITS).contains(d))
        .ok_or_else(|| field_error("digits", "must be 6, 7 or 8"))?;
    if kind == Kind::Motp && digits != 6 {
        return Err(field_error("digits", "mOTP codes have 6 digits"));
    }
    Ok(digits)
}

/// TOTP step seconds: 1 to 3600, default 30. mOTP steps are 10 s (an empty cell or 10); HOTP has none (the
/// stored value is unused).
fn parse_period(kind: Kind, raw: &str) -> Result<u32, FieldError> {
    let motp_step = otp::MOTP_STEP_SECS;
    match kind {
        Kind::Totp => u32::try_from(number("period", raw, 30)?)
            .ok()
            .filter(|p| (1..=3600).contains(p))
            .ok_or_else(|| field_error("period", "must be 1 to 3600 seconds")),
        Kind::Hotp if raw.is_empty() => Ok(30),
        Kind::Hotp => Err(not_for("period", Kind::Totp, kind)),
        Kind::Motp => match number("period", raw, motp_step)? {
            step if step == motp_step => Ok(u32::try_from(step).unwrap_or(10)),
            _ => Err(field_error("period", "mOTP steps are 10 seconds")),
        },
    }
}

/// HOTP: the counter of the token's next code, default 0 (it must fit the store's 64-bit signed column).
fn parse_counter(kind: Kind, raw: &str) -> Result<u64, FieldError> {
    match kind {
        Kind::Hotp => {
            let counter = number("counter", raw, 0)?;
            match i64::try_from(counter) {
                Ok(_) => Ok(counter),
                Err(_) => Err(field_error("counter", "is too large")),
            }
        }
        Kind::Totp | Kind::Motp if raw.is_empty() => Ok(0),
        Kind::Totp | Kind::Motp => Err(not_for("counter", Kind::Hotp, kind)),
    }
}

/// The seed: base32 for TOTP/HOTP; for mOTP the hex init-secret as typed in the app, in lower case. The
/// messages name the rule broken, never the value.
fn parse_secret(kind: Kind, raw: &str) -> Result<SecretBytes, FieldError> {
    if raw.is_empty() {
        return Err(field_error("secret", "must not be empty"));
    }
    if raw.len() > MAX_SECRET_LEN {
        return Err(field_error(
            "secret",
            format!("longer than {MAX_SECRET_LEN} characters"),
        ));
    }
    match kind {
        Kind::Totp | Kind::Hotp => match otp::parse_base32_seed(raw) {
            Ok(seed) => Ok(SecretBytes::new(seed)),
            Err(OtpError::SeedTooShort { bits }) => Err(field_error(
                "secret",
                format!("too short ({bits} bits; at least 80 are required)"),
            )),
            Err(_) => Err(field_error(
                "secret",
                "not valid base32 (letters A-Z and digits 2-7)",
            )),
        },
        Kind::Motp => {
            if raw.len() < MIN_MOTP_SECRET_LEN || !raw.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(field_error(
                    "secret",
                    format!(
                        "an mOTP init-secret is at least {MIN_MOTP_SECRET_LEN} hexadecimal characters"
                    ),
                ));
            }
            Ok(SecretBytes::new(raw.to_ascii_lowercase().into_bytes()))
        }
    }
}

/// The mOTP PIN (required there, 4 to 16 digits); other kinds have none.
fn parse_pin(kind: Kind, raw: &str) -> Result<Option<SecretBytes>, FieldError> {
    match kind {
        Kind::Motp => {
            let digits_only = raw.bytes().all(|b| b.is_ascii_digit());
            if raw.is_empty() {
                Err(field_error("pin", "required for motp rows"))
            } else if !digits_only || !(MIN_PIN_LEN..=MAX_PIN_LEN).contains(&raw.len()) {
                Err(field_error(
                    "pin",
                    format!("must be {MIN_PIN_LEN} to {MAX_PIN_LEN} digits"),
                ))
            } else {
                Ok(Some(SecretBytes::new(raw.as_bytes().to_vec())))
            }
        }
        Kind::Totp | Kind::Hotp if raw.is_empty() => Ok(None),
        Kind::Totp | Kind::Hotp => Err(field_error(
            "pin",
            format!("only for motp rows; leave it empty for {kind}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    /// RFC 4226/6238's SHA1 seed `12345678901234567890` in base32.
    const RFC_SEED_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    fn plan(csv: &str) -> SeedPlan {
        read_seed_import(csv.as_bytes()).unwrap()
    }

    #[test]
    fn valid_rows_of_each_kind_with_defaults() {
        let csv = format!(
            "id,kind,secret,digits,period,counter,algorithm,pin\n\
             Alice,totp,{RFC_SEED_B32},,,,,\n\
             bob,HOTP,{},8,,42,sha256,\n\
             carol,motp,0123456789ABCDEF,,,,,1234\n\
             dave,totp,{RFC_SEED_B32},,60,,sha512,\n",
            RFC_SEED_B32.to_lowercase()
        );
        let plan = plan(&csv);
        assert!(plan.errors.is_empty(), "{:?}", plan.errors);
        let rows: Vec<_> = plan
            .rows
            .iter()
            .map(|r| {
                let s = &r.seed;
                (
                    r.line,
                    r.account_id.as_str(),
                    s.kind,
                    s.digits,
                    s.period,
                    s.next_counter,
                    s.algorithm,
                )
            })
            .collect();
        assert_eq!(
            rows,
            vec![
                (2, "alice", Kind::Totp, 6, 30, 0, Algorithm::Sha1),
                (3, "bob", Kind::Hotp, 8, 30, 42, Algorithm::Sha256),
                (4, "carol", Kind::Motp, 6, 10, 0, Algorithm::Sha1),
                (5, "dave", Kind::Totp, 6, 60, 0, Algorithm::Sha512),
            ]
        );
        // Base32 is decoded (either case); the mOTP secret is kept as text, lower-cased.
        assert_eq!(plan.rows[0].seed.seed.expose(), b"12345678901234567890");
        assert_eq!(plan.rows[1].seed.seed.expose(), b"12345678901234567890");
        assert_eq!(plan.rows[2].seed.seed.expose(), b"0123456789abcdef");
        assert_eq!(plan.rows[2].seed.pin.as_ref().unwrap().expose(), b"1234");
        assert!(plan.rows[0].seed.pin.is_none());
        // The decoded seed gives the RFC 6238 Appendix B code (T = 59, 8 digits: 94287082).
        let code = otp::totp_at(plan.rows[0].seed.seed.expose(), 59, 30, 8, Algorithm::Sha1);
        assert_eq!(code.unwrap(), "94287082");
    }

    #[test]
    fn only_the_required_columns_in_any_order_with_bom() {
        let csv = format!("\u{feff}secret,ID,kind\n{RFC_SEED_B32},x,totp\n");
        let plan = plan(&csv);
        assert!(plan.errors.is_empty(), "{:?}", plan.errors);
        assert_eq!(plan.rows[0].account_id, "x");
        // A motp row without a pin column is a row error, not a header error.
        let plan = self::plan("id,kind,secret\ny,motp,0123456789abcdef\n");
        assert!(
            plan.errors[0].reason.contains("pin: required"),
            "{:?}",
            plan.errors
        );
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line_and_all_its_problems() {
        let csv = format!(
            "id,kind,secret,digits,period,counter,algorithm,pin\n\
             alice,totp,{RFC_SEED_B32},,,,,\n\
             bob,sms,{RFC_SEED_B32},,,,,\n\
             carol,totp,not base32!,9,0,,md5,\n\
             ALICE,totp,{RFC_SEED_B32},,,,,\n\
             dave,hotp,{RFC_SEED_B32},,30,-1,,\n\
             erin,motp,0123456789abcdef,8,30,,,12\n\
             frank,totp,{RFC_SEED_B32},,,,,1234\n\
             a b,totp,,,,,,\n\
             gina,hotp,GEZDGNBV,,,,,\n\
             hank,totp,{RFC_SEED_B32}\n"
        );
        let plan = plan(&csv);
        assert_eq!(plan.rows.len(), 1);
        let lines: Vec<u64> = plan.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6, 7, 8, 9, 10, 11]);
        let reason = |line: u64| {
            plan.errors
                .iter()
                .find(|e| e.line == line)
                .map(|e| e.reason.clone())
                .unwrap()
        };
        assert!(reason(3).starts_with("kind: \"sms\""), "{}", reason(3));
        for part in [
            "secret: not valid base32",
            "digits: must be 6, 7 or 8",
            "algorithm: \"md5\"",
        ] {
            assert!(reason(4).contains(part), "{part}: {}", reason(4));
        }
        assert!(
            reason(5).contains("already appears on line 2"),
            "{}",
            reason(5)
        );
        assert!(reason(6).contains("period: only for totp"), "{}", reason(6));
        assert!(
            reason(7).contains("digits: mOTP codes have 6 digits"),
            "{}",
            reason(7)
        );
        assert!(
            reason(7).contains("pin: must be 4 to 16 digits"),
            "{}",
            reason(7)
        );
        assert!(
            reason(8).contains("pin: only for motp rows"),
            "{}",
            reason(8)
        );
        assert!(reason(9).contains("id:") && reason(9).contains("secret: must not be empty"));
        assert!(
            reason(10).contains("secret: too short (40 bits"),
            "{}",
            reason(10)
        );
        assert!(
            reason(11).contains("found record with 3 fields"),
            "{}",
            reason(11)
        );
    }

    #[test]
    fn secrets_and_pins_never_appear_in_messages() {
        let secrets = ["S3CR3T!!SEED0000", "ZZZZ-NOT-HEX-9999", "GEZDGNBV"];
        let csv = format!(
            "id,kind,secret,pin\n\
             a,totp,{},\n\
             b,motp,{},98765432109876543210\n\
             c,hotp,{},\n\
             d,motp,0123456789abcdef,98x7\n",
            secrets[0], secrets[1], secrets[2]
        );
        let plan = plan(&csv);
        assert_eq!(plan.errors.len(), 4, "{:?}", plan.errors);
        let all: String = plan.errors.iter().map(|e| e.reason.clone()).collect();
        for secret in secrets
            .iter()
            .chain(&["98765432109876543210", "98x7", "0123456789abcdef"])
        {
            assert!(!all.contains(secret), "{secret} leaked: {all}");
            assert!(
                !all.to_lowercase().contains(&secret.to_lowercase()),
                "{secret} leaked: {all}"
            );
        }
        let debug = format!(
            "{:?}",
            self::plan("id,kind,secret\nz,totp,GEZDGNBVGY3TQOJQ\n")
        );
        assert!(
            !debug.contains("12345678") && debug.contains("redacted"),
            "{debug}"
        );
    }

    #[test]
    fn header_rules() {
        for (csv, expected) in [
            ("id,kind,seed\n", "unknown column \"seed\""),
            ("id,kind\n", "missing column \"secret\""),
            ("id,kind,secret,Kind\n", "appears twice"),
        ] {
            match read_seed_import(csv.as_bytes()) {
                Err(SeedFileError::Header(m)) => assert!(m.contains(expected), "{m}"),
                other => panic!("{csv}: {other:?}"),
            }
        }
        assert!(plan("id,kind,secret\n").rows.is_empty());
    }

    #[test]
    fn counters_and_periods_at_their_limits() {
        let csv = format!(
            "id,kind,secret,period,counter\n\
             a,hotp,{RFC_SEED_B32},,9223372036854775807\n\
             b,hotp,{RFC_SEED_B32},,9223372036854775808\n\
             c,totp,{RFC_SEED_B32},3601,\n\
             d,totp,{RFC_SEED_B32},,5\n\
             e,motp,0123456789abcdef,10,\n"
        );
        let plan = plan(&csv);
        assert_eq!(plan.rows.len(), 1, "{:?}", plan.errors);
        assert_eq!(plan.rows[0].seed.next_counter, i64::MAX as u64);
        let reasons: Vec<&str> = plan.errors.iter().map(|e| e.reason.as_str()).collect();
        assert_eq!(reasons[0], "counter: is too large");
        assert_eq!(reasons[1], "period: must be 1 to 3600 seconds");
        assert_eq!(
            reasons[2],
            "counter: only for hotp rows; leave it empty for totp"
        );
        assert_eq!(reasons[3], "pin: required for motp rows");
    }
}
