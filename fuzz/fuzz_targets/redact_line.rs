//! The redactor never panics, keeps JSON valid, and is deterministic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logpack::redact::Redactor;

fuzz_target!(|data: &[u8]| {
    let redactor = Redactor::new([7; 32], &["db1.example.net".to_string()]);
    let mut out = Vec::new();
    let mut found = Vec::new();
    let n = redactor.redact_line(data, &mut out, &mut found);
    assert_eq!(n, found.len());
    if let Ok(text) = std::str::from_utf8(data) {
        if text.starts_with('{') && serde_json::from_str::<serde_json::Value>(text).is_ok() {
            let redacted = std::str::from_utf8(&out).expect("JSON in gives UTF-8 out");
            assert!(
                serde_json::from_str::<serde_json::Value>(redacted).is_ok(),
                "JSON in, not JSON out: {redacted}"
            );
        }
    }
    for (kind, _, token) in &found {
        assert!(token.starts_with(kind.prefix()), "{token} is not a {kind:?} token");
    }
    let mut again = Vec::new();
    redactor.redact_line(data, &mut again, &mut Vec::new());
    assert_eq!(out, again, "same key, same input: same output");
});
