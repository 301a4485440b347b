//! Feeds arbitrary datagrams to the RADIUS decoder and every check and accessor; a decoded packet must re-encode
//! to its own bytes. In CI the same property runs as a proptest (`radius::tests`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    assert!(motpd::radius::fuzz_decode(data));
});
