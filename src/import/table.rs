//! Reading an admin's CSV file for an import: a header row naming the columns (any order; UTF-8 with or
//! without a BOM, or Big5, CRLF or LF, see [`super::text`]), then every row validated by the caller's parser.
//! Every bad row is reported with its line number and all its problems; a key that appears twice is an error on
//! each later line. Shared by the account import and the seed import. Pure: parsing only.

use std::collections::HashMap;
use std::io::Read;

use super::text::{EncodingError, SourceEncoding};
use crate::account_rules::FieldError;

/// Keeps a field's value, or records its error and gives `None` (so a row reports all its problems).
pub(crate) fn keep<T>(errors: &mut Vec<FieldError>, result: Result<T, FieldError>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

/// A row that failed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// Line in the file (1 = header).
    pub line: u64,
    /// What is wrong.
    pub reason: String,
}

/// The file itself cannot be read (not a per-row problem).
#[derive(Debug, thiserror::Error)]
pub enum CsvFileError {
    /// CSV syntax or I/O. (The csv crate's messages name positions, never cell contents.)
    #[error("cannot read the CSV file: {0}")]
    Csv(#[from] csv::Error),
    /// The header row is wrong; the message names the expected columns.
    #[error("bad header row: {0}")]
    Header(String),
    /// The file cannot be read.
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    /// The bytes are not text motpd can read.
    #[error(transparent)]
    Encoding(#[from] EncodingError),
}

/// The cells of one row, by column name (an absent column reads as empty).
#[derive(Debug)]
pub(crate) struct Cells<'a> {
    record: &'a csv::StringRecord,
    index: &'a HashMap<&'static str, usize>,
}

impl<'a> Cells<'a> {
    /// The trimmed cell of `column`, or `""`.
    pub(crate) fn get(&self, column: &str) -> &'a str {
        self.index
            .get(column)
            .and_then(|&i| self.record.get(i))
            .unwrap_or("")
    }
}

/// Valid rows (with line numbers and keys) and bad rows, both complete.
#[derive(Debug)]
pub(crate) struct Table<T> {
    /// `(line, key, value)`.
    pub(crate) rows: Vec<(u64, String, T)>,
    pub(crate) errors: Vec<RowError>,
    /// The columns the file has.
    pub(crate) columns: Vec<&'static str>,
    /// What the file was read as.
    pub(crate) encoding: SourceEncoding,
}

/// Reads `input` with `columns` known and `required` mandatory; `parse` turns a row into `(key, value)`.
pub(crate) fn read_table<T>(
    mut input: impl Read,
    columns: &[&'static str],
    required: &[&'static str],
    parse: impl Fn(&Cells<'_>) -> Result<(String, T), Vec<FieldError>>,
) -> Result<Table<T>, CsvFileError> {
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes)?;
    let (text, encoding) = super::text::decode(&bytes)?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let index = header_index(reader.headers()?, columns, required)?;
    let mut table = Table {
        rows: Vec::new(),
        errors: Vec::new(),
        columns: columns
            .iter()
            .copied()
            .filter(|c| index.contains_key(c))
            .collect(),
        encoding,
    };
    let mut seen: HashMap<String, u64> = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                table.errors.push(RowError {
                    line,
                    reason: e.to_string(),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, csv::Position::line);
        match parse(&Cells {
            record: &record,
            index: &index,
        }) {
            Ok((key, value)) => match seen.get(&key) {
                Some(first) => table.errors.push(RowError {
                    line,
                    reason: format!("id {key:?} already appears on line {first}"),
                }),
                None => {
                    seen.insert(key.clone(), line);
                    table.rows.push((line, key, value));
                }
            },
            Err(errors) => table.errors.push(RowError {
                line,
                reason: errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            }),
        }
    }
    Ok(table)
}

fn header_index(
    header: &csv::StringRecord,
    columns: &[&'static str],
    required: &[&'static str],
) -> Result<HashMap<&'static str, usize>, CsvFileError> {
    let optional: Vec<&str> = columns
        .iter()
        .copied()
        .filter(|c| !required.contains(c))
        .collect();
    let bad = |problem: String| {
        CsvFileError::Header(format!(
            "{problem} (expected columns: {}[,{}])",
            required.join(","),
            optional.join(",")
        ))
    };
    let mut index = HashMap::new();
    for (i, raw) in header.iter().enumerate() {
        let name = raw.trim().trim_start_matches('\u{feff}').to_lowercase();
        let Some(&column) = columns.iter().find(|c| **c == name) else {
            return Err(bad(format!("unknown column {name:?}")));
        };
        if index.insert(column, i).is_some() {
            return Err(bad(format!("column {name:?} appears twice")));
        }
    }
    match required.iter().find(|c| !index.contains_key(*c)) {
        Some(missing) => Err(bad(format!("missing column {missing:?}"))),
        None => Ok(index),
    }
}
