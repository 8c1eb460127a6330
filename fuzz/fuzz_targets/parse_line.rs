//! The line and timestamp parser never panics, whatever the bytes, and
//! what it accepts is a plausible instant.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logpack::select::parse::{ctime_month, LineParser};

fuzz_target!(|data: &[u8]| {
    let year = 1970 + i32::from(data.first().copied().unwrap_or(0)) * 40;
    let mut parser = LineParser::new(year);
    for line in data.split(|&b| b == b'\n') {
        if let Some(entry) = parser.parse(line) {
            if let Some(ms) = entry.millis {
                // Years 1970..=9999 (an offset may move a line a day either way).
                assert!((-86_400_000..=253_402_387_200_000).contains(&ms), "{ms}");
            }
        }
        if let Some(m) = ctime_month(line) {
            assert!((1..=12).contains(&m));
        }
    }
});
