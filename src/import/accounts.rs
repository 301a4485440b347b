//! The account import CSV format (`motpd user import`): reading the file and validating every row with the
//! account field rules ([`crate::account_rules`]).
//!
//! Import validates every row before anything is written and reports each bad row with its line number. The
//! optional `identity` column (national ID number or birth date, see
//! [`normalize_identity`](crate::account_rules::normalize_identity)) is secret: it is normalised here and
//! hashed by the caller, never echoed in an error.
//! Pure: parsing and validation only.

use std::io::Read;

use crate::account_rules::{
    FieldError, check_email, field_error, normalize_id, normalize_identity, normalize_phone,
    parse_date, parse_groups,
};
use crate::model::{Account, AccountStatus, AccountUpsert};
use crate::secrets::SecretString;

use super::table::{Cells, keep, read_table};
pub use super::table::{CsvFileError as ImportFileError, RowError};
pub use super::text::SourceEncoding;

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
    pub fn keep_absent_columns(&self, row: &mut AccountUpsert, existing: &Account) {
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
