//! Feeds arbitrary text to the configuration parser, then to `validate()` and `relaxations()` when it parses:
//! neither may panic, whatever the file says.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = motpd::config::Config::from_toml_str(text) {
        let _ = config.validate();
        let _ = config.relaxations();
    }
});
