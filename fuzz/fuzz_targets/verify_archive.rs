//! `verify::verify_reader` on arbitrary bytes: plain tar, or gzip or zstd
//! streams when the input starts with their magic bytes.
//!
//! It must never panic. It may only succeed on a complete archive whose
//! manifest matches its entries; the checks below are the cheap, independent
//! part of that promise (the SHA-256 comparison is verify's own job).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(verified) = logpack::verify::verify_reader(data) else {
        return;
    };
    let listed: Vec<_> = verified.manifest.archived_files().collect();
    assert_eq!(
        listed.len(),
        verified.entries,
        "success with {} entries for {} listed files",
        verified.entries,
        listed.len()
    );
    let listed_bytes: u64 = listed.iter().map(|(_, f)| f.archived_bytes).sum();
    assert_eq!(
        listed_bytes, verified.bytes,
        "entry bytes disagree with the manifest"
    );
});
