//! Account field rules and the CSV import format, shared by the CLI and (later) the web pages.
//!
//! Account IDs are compared case-insensitively, so they are stored in lower case. Mobile numbers are Taiwan
//! mobile numbers, normalised to ten digits (`0912345678`); `+886 912 345 678` and `0912-345-678` are accepted.
//! Import validates every row before anything is written and reports each bad row with its line number. The
//! optional `identity` column (national ID number or birth date, see [`normalize_identity`]) is secret: it is
//! normalised here and hashed by the caller, never echoed in an error.
//! Pure: parsing and validation only.

use std::io::Read;

use crate::secrets::SecretString;
use crate::store::{AccountStatus, AccountUpsert};

use crate::csv_table::{Cells, field_error, keep, read_table};
pub use crate::csv_table::{CsvFileError as ImportFileError, FieldError, RowError};
pub use crate::csv_text::SourceEncoding;

/// The end of an admin lock (`motpd user lock`): far enough in the future to mean "until an admin unlocks it".
/// A lock running until this time is never cleared by the owner's activation or password reset.
pub const ADMIN_LOCK_UNTIL: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z

/// Normalises and checks an account ID: 1–64 characters of letters, digits, `.`, `_`, `-`, `@`.
pub fn normalize_id(raw: &str) -> Result<String, FieldError> {
    let id = raw.trim().to_lowercase();
    if id.is_empty() || id.chars().count() > 64 {
        return Err(field_error("id", "must have 1 to 64 characters"));
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@')))
    {
        return Err(field_error(
            "id",
            format!("{raw:?} contains {bad:?}; use letters, digits, '.', '_', '-' or '@'"),
        ));
    }
    Ok(id)
}

/// Normalises a Taiwan mobile number to `09XXXXXXXX`.
pub fn normalize_phone(raw: &str) -> Result<String, FieldError> {
    let digits: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '+'))
        .collect();
    let national = match digits.strip_prefix("886") {
        Some(rest) if raw.trim_start().starts_with('+') || digits.len() == 12 => format!("0{rest}"),
        _ => digits,
    };
    let ok = national.len() == 10
        && national.starts_with("09")
        && national.chars().all(|c| c.is_ascii_digit());
    if ok {
        Ok(national)
    } else {
        Err(field_error(
            "phone",
            format!(
                "{raw:?} is not a Taiwan mobile number (10 digits starting with 09, e.g. 0912345678)"
            ),
        ))
    }
}

/// Masks a number for display: `0912-***-678`.
pub fn mask_phone(phone: &str) -> String {
    match (phone.get(..4), phone.get(phone.len().saturating_sub(3)..)) {
        (Some(head), Some(tail)) if phone.len() == 10 => format!("{head}-***-{tail}"),
        _ => "***".to_owned(),
    }
}

/// Checks an e-mail address (shape only).
pub fn check_email(raw: &str) -> Result<String, FieldError> {
    let email = raw.trim();
    let valid = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
    }) && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.len() <= 254;
    if valid {
        Ok(email.to_owned())
    } else {
        Err(field_error(
            "email",
            format!("{raw:?} is not an e-mail address"),
        ))
    }
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(raw: &str) -> Result<time::Date, FieldError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(raw.trim(), format).map_err(|_| {
        field_error(
            "expires",
            format!("{raw:?} is not a date; write it as YYYY-MM-DD"),
        )
    })
}

/// Normalises the identity the hospital holds for a person (a national ID number or a birth date), so that the
/// way it is typed does not matter: spaces removed; a date (`YYYY-MM-DD`, `YYYY/MM/DD`, `YYYY.MM.DD` or
/// `YYYYMMDD`) in ISO form; anything else upper case, 4–32 letters and digits. The value is secret: the error
/// never repeats it.
pub fn normalize_identity(raw: &str) -> Result<String, FieldError> {
    let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    if let Some(date) = identity_date(&compact) {
        return Ok(format!(
            "{:04}-{:02}-{:02}",
            date.year(),
            u8::from(date.month()),
            date.day()
        ));
    }
    let upper = compact.to_ascii_uppercase();
    if !(4..=32).contains(&upper.len()) || !upper.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(field_error(
            "identity",
            "must be a national ID number (4 to 32 letters and digits) or a birth date (YYYY-MM-DD)",
        ));
    }
    Ok(upper)
}

/// A date in one of the forms [`normalize_identity`] accepts.
fn identity_date(compact: &str) -> Option<time::Date> {
    let parts: Vec<&str> = if compact.len() == 8 && compact.bytes().all(|b| b.is_ascii_digit()) {
        vec![compact.get(..4)?, compact.get(4..6)?, compact.get(6..)?]
    } else {
        compact.split(['-', '/', '.']).collect()
    };
    let [year, month, day] = parts.as_slice() else {
        return None;
    };
    if year.len() != 4 || !(1..=2).contains(&month.len()) || !(1..=2).contains(&day.len()) {
        return None;
    }
    let month = time::Month::try_from(month.parse::<u8>().ok()?).ok()?;
    time::Date::from_calendar_date(year.parse().ok()?, month, day.parse().ok()?).ok()
}

/// Splits a group list (`a;b` or `a,b`), dropping empty entries and duplicates.
pub fn parse_groups(raw: &str) -> Result<Vec<String>, FieldError> {
    let mut groups: Vec<String> = Vec::new();
    for group in raw
        .split([';', ','])
        .map(str::trim)
        .filter(|g| !g.is_empty())
    {
        if group.len() > 128 || group.chars().any(char::is_control) {
            return Err(field_error(
                "groups",
                format!("{group:?} is not a valid group name"),
            ));
        }
        if !groups.iter().any(|g| g == group) {
            groups.push(group.to_owned());
        }
    }
    Ok(groups)
}

/// The result of reading an import file: valid rows and bad rows, both complete.
#[derive(Debug, Default)]
pub struct ImportPlan {
    /// Rows ready to write, with their line numbers.
    pub rows: Vec<(u64, AccountUpsert)>,
    /// Rows that cannot be imported.
    pub errors: Vec<RowError>,
    /// The optional columns the file has; the others keep their stored values on update.
    pub columns: Vec<&'static str>,
    /// With an `identity` column: each valid row's account and its normalised identity (`None`: an empty
    /// cell, which clears the identity on file).
    pub identities: Vec<(String, Option<SecretString>)>,
    /// What the file was read as (Big5: Excel's "CSV" on Taiwanese Windows).
    pub encoding: SourceEncoding,
}

impl ImportPlan {
    /// The valid rows whose last day (`expires`) is before `today`: imported as asked, but unable to log in.
    pub fn already_expired(
        &self,
        today: time::Date,
    ) -> impl Iterator<Item = &(u64, AccountUpsert)> {
        self.rows
            .iter()
            .filter(move |(_, row)| row.expires_on.is_some_and(|last_day| last_day < today))
    }

    /// For an update of `existing`, keeps the stored values of the columns the file does not have (an empty
    /// cell in a present column does clear the value).
    pub fn keep_absent_columns(&self, row: &mut AccountUpsert, existing: &crate::store::Account) {
        let has = |column| self.columns.contains(&column);
        if !has("phone") {
            row.phone.clone_from(&existing.phone);
        }
        if !has("email") {
            row.email.clone_from(&existing.email);
        }
        if !has("expires") {
            row.expires_on = existing.expires_on;
        }
        if !has("groups") {
            row.groups.clone_from(&existing.groups);
        }
    }
}

const COLUMNS: [&str; 8] = [
    "id",
    "name",
    "phone",
    "email",
    "expires",
    "groups",
    "password_hash",
    "identity",
];

/// Reads a CSV import (a header row naming the columns, in any order; `id` and `name` are required) and
/// validates every row. Duplicate IDs within the file are errors on each later line.
pub fn read_import(input: impl Read) -> Result<ImportPlan, ImportFileError> {
    let table = read_table(input, &COLUMNS, &["id", "name"], |cells| {
        let identity = Some(cells.get("identity"))
            .filter(|raw| !raw.is_empty())
            .map(|raw| normalize_identity(raw).map(SecretString::new));
        match (account_from_cells(cells), identity.transpose()) {
            (Ok(account), Ok(identity)) => Ok((account.id.clone(), (account, identity))),
            (Ok(_), Err(e)) => Err(vec![e]),
            (Err(mut errors), identity) => {
                errors.extend(identity.err());
                Err(errors)
            }
        }
    })?;
    let with_identity = table.columns.contains(&"identity");
    let mut plan = ImportPlan {
        errors: table.errors,
        columns: table.columns,
        encoding: table.encoding,
        ..ImportPlan::default()
    };
    for (line, _, (account, identity)) in table.rows {
        if with_identity {
            plan.identities.push((account.id.clone(), identity));
        }
        plan.rows.push((line, account));
    }
    Ok(plan)
}

fn account_from_cells(cells: &Cells<'_>) -> Result<AccountUpsert, Vec<FieldError>> {
    let cell = |name: &str| cells.get(name);
    let optional = |name: &str| Some(cell(name)).filter(|raw| !raw.is_empty());
    let mut errors = Vec::new();
    let id = keep(&mut errors, normalize_id(cell("id")));
    let name = cell("name").to_owned();
    if name.is_empty() {
        errors.push(field_error("name", "must not be empty"));
    }
    let phone = optional("phone").and_then(|p| keep(&mut errors, normalize_phone(p)));
    let email = optional("email").and_then(|e| keep(&mut errors, check_email(e)));
    let expires_on = optional("expires").and_then(|d| keep(&mut errors, parse_date(d)));
    let groups = keep(&mut errors, parse_groups(cell("groups"))).unwrap_or_default();
    let password_hash = optional("password_hash").map(str::to_owned);
    if let Some(hash) = &password_hash
        && !crate::password::is_supported_hash(hash)
    {
        errors.push(field_error(
            "password_hash",
            "not a supported hash ($argon2id$…, $6$…, $5$… or bcrypt $2b$…)",
        ));
    }
    match id {
        Some(id) if errors.is_empty() => Ok(AccountUpsert {
            id,
            name,
            phone,
            email,
            expires_on,
            groups,
            status: if password_hash.is_some() {
                AccountStatus::Active
            } else {
                AccountStatus::Pending
            },
            password_hash,
        }),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_normalise_and_never_echo() {
        assert_eq!(normalize_identity(" a123 456 789 ").unwrap(), "A123456789");
        for date in ["1990-03-07", "1990/3/7", "1990.03.07", "19900307"] {
            assert_eq!(normalize_identity(date).unwrap(), "1990-03-07", "{date}");
        }
        assert!(normalize_identity("1990-02-30").is_err());
        assert!(normalize_identity("abc").is_err());
        let error = normalize_identity("A12345678-9!").unwrap_err().to_string();
        assert!(!error.contains("A12345678"), "{error}");
    }

    #[test]
    fn ids_phones_emails() {
        assert_eq!(normalize_id(" Nurse.Chen ").unwrap(), "nurse.chen");
        assert!(normalize_id("a b").is_err());
        assert!(normalize_id("").is_err());
        assert!(normalize_id(&"x".repeat(65)).is_err());
        for ok in [
            "0912345678",
            "0912-345-678",
            "+886 912 345 678",
            "886912345678",
        ] {
            assert_eq!(normalize_phone(ok).unwrap(), "0912345678", "{ok}");
        }
        for bad in ["912345678", "0212345678", "09123456789", "09123x5678", ""] {
            assert!(normalize_phone(bad).is_err(), "{bad}");
        }
        assert_eq!(mask_phone("0912345678"), "0912-***-678");
        assert!(check_email("chen@hospital.org.tw").is_ok());
        for bad in ["chen", "chen@", "@x.org", "a b@x.org", "a@x", "a@@x.org"] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_groups("vpn; nurses;vpn,,").unwrap(),
            vec!["vpn", "nurses"]
        );
    }

    #[test]
    fn import_validates_every_row_with_line_numbers() {
        let csv = "id,name,phone,email,expires,groups\n\
                   alice,Alice Chen,0912345678,alice@h.org,,vpn\n\
                   bob,Bob,12345,bob@h,2025-13-01,\n\
                   Alice,Dup,,,,\n\
                   carol,,,,,\n";
        let plan = read_import(csv.as_bytes()).unwrap();
        assert_eq!(plan.rows.len(), 1);
        let lines: Vec<u64> = plan.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 5]);
        assert!(plan.errors[0].reason.contains("phone"));
        assert!(plan.errors[0].reason.contains("email"));
        assert!(plan.errors[0].reason.contains("expires"));
        assert!(plan.errors[1].reason.contains("line 2"));
        assert!(plan.errors[2].reason.contains("name"));
    }

    #[test]
    fn import_identity_column_is_normalised_and_never_echoed() {
        let csv = "id,name,identity\na,A, a123456789 \nb,B,\nc,C,1990/3/7\nd,D,X9!SECRET\n";
        let plan = read_import(csv.as_bytes()).unwrap();
        assert_eq!(plan.rows.len(), 3);
        let shown: Vec<(String, Option<String>)> = plan
            .identities
            .iter()
            .map(|(id, i)| (id.clone(), i.as_ref().map(|s| s.expose().to_owned())))
            .collect();
        assert_eq!(
            shown,
            [
                ("a".to_owned(), Some("A123456789".to_owned())),
                ("b".to_owned(), None),
                ("c".to_owned(), Some("1990-03-07".to_owned())),
            ]
        );
        assert_eq!(plan.errors.len(), 1);
        assert!(
            !plan.errors[0].reason.contains("SECRET"),
            "{}",
            plan.errors[0].reason
        );
        let plan = read_import("id,name\na,A\n".as_bytes()).unwrap();
        assert!(
            plan.identities.is_empty(),
            "no column: identities stay as they are"
        );
    }

    #[test]
    fn excel_crlf_and_big5_keep_line_numbers_and_past_expiry_is_found() {
        let plan = read_import(
            b"id,name,expires\r\na,A,2026-01-31\r\nA,B,\r\nc,C,2026-02-01\r\n".as_slice(),
        )
        .unwrap();
        assert_eq!(plan.errors[0].line, 3);
        assert!(
            plan.errors[0].reason.contains("line 2"),
            "{:?}",
            plan.errors
        );
        let today = time::macros::date!(2026 - 02 - 01);
        let past: Vec<u64> = plan.already_expired(today).map(|(line, _)| *line).collect();
        assert_eq!(past, [2], "the last day itself is not past");
        let plan = read_import(b"id,name\r\nchen,\xb3\xaf\xa4\x70\xac\xfc\r\n".as_slice()).unwrap();
        let row = &plan.rows[0];
        assert_eq!(
            (row.0, row.1.name.as_str(), plan.encoding),
            (2, "陳小美", SourceEncoding::Big5)
        );
    }

    #[test]
    fn import_header_rules() {
        assert!(matches!(
            read_import("id,nme\n".as_bytes()),
            Err(ImportFileError::Header(_))
        ));
        assert!(matches!(
            read_import("name,phone\n".as_bytes()),
            Err(ImportFileError::Header(_))
        ));
        // Columns in another order, BOM, password hash: fine.
        let hash = crate::password::hash_password(b"Passw0rd1").unwrap();
        // Argon2 PHC strings contain commas, so the cell is quoted.
        let csv = format!("\u{feff}name,id,password_hash\nDr. Lin,lin,\"{hash}\"\n");
        let plan = read_import(csv.as_bytes()).unwrap();
        assert!(plan.errors.is_empty(), "{:?}", plan.errors);
        assert_eq!(plan.rows[0].1.status, AccountStatus::Active);
        let plan = read_import("id,name,password_hash\nx,X,plain\n".as_bytes()).unwrap();
        assert!(plan.errors[0].reason.contains("password_hash"));
        // A row with the wrong number of fields is a row error, not a crash.
        let plan = read_import("id,name\na,A\nb,B,extra\n".as_bytes()).unwrap();
        assert_eq!(plan.rows.len(), 1);
        assert_eq!(plan.errors.len(), 1);
    }
}
