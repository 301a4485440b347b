//! Feeds arbitrary bytes to the account import reader (UTF-8/Big5 detection, header, every row's rules): it
//! never panics, and every row error it reports names a line within the file (`1..=line count`).
#![no_main]

include!("line_count.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(plan) = motpd::import::accounts::read_import(data) {
        check_lines(data, &plan.errors);
        let lines = line_count(data);
        assert!(plan.rows.iter().all(|(line, _)| (2..=lines).contains(line)));
    }
});
