//! Feeds arbitrary datagrams to the RADIUS decoder and every check and accessor; a decoded packet must re-encode
//! to its own bytes. In CI the same property runs as a proptest (`motpd_radius::tests`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    assert!(motpd_radius::fuzz_decode(data));
});
