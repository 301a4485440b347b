// Shared by the CSV import targets (included with `include!`, not a target itself).

/// The number of lines of an import file as an admin's editor shows them: CRLF, lone CR and LF each end a line.
fn line_count(data: &[u8]) -> u64 {
    let mut lines = 1;
    let mut bytes = data.iter().peekable();
    while let Some(&b) = bytes.next() {
        match b {
            b'\n' => lines += 1,
            b'\r' => {
                if bytes.peek() == Some(&&b'\n') {
                    bytes.next();
                }
                lines += 1;
            }
            _ => {}
        }
    }
    lines
}

/// Every row error names a line of the file (1 = header, so a row is on line 2 or later).
fn check_lines(data: &[u8], errors: &[motpd::import::table::RowError]) {
    let lines = line_count(data);
    for error in errors {
        assert!(
            (1..=lines).contains(&error.line),
            "row error on line {} of a {lines}-line file: {}",
            error.line,
            error.reason
        );
    }
}
