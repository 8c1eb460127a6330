//! Every function that reads meaning into a file name, on arbitrary bytes.
//!
//! The input is up to 8 names separated by NUL (the one byte no name or path
//! holds); each is taken as raw `OsStr` bytes, so most are not UTF-8. Each
//! goes through:
//!
//! - `walk::archive_name`: the raw name as an archive name (`\xNN` escapes);
//! - `walk::rotation_key`, `walk::archived_name`, `walk::file_key`: the
//!   archive order and the name a `.gz` is archived under;
//! - `select::ftdc::start_from_name` and `select::ftdc::Spans`: the time
//!   span of an FTDC file from the names of its directory;
//! - `select::text::plan`: the text selection, which renames a `.gz` it
//!   decompresses, on a small file (gzip when the name ends with `.gz`).
//!
//! None may panic, and what they say must agree: an escape is lossless, a
//! start read from a name prints back as the stamp in that name, a span never
//! ends before it starts, equal keys mean equal names, and two files that
//! share an archive name (a `.gz` and its plain twin) sort next to each other
//! under the name that `text::plan` gives the decompressed one.

#![no_main]

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Seek, Write};
use std::os::unix::ffi::OsStrExt;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use logpack::select::ftdc::{start_from_name, Spans};
use logpack::select::text::{self, TextDecision};
use logpack::select::Selection;
use logpack::walk::{archive_name, archived_name, file_key, rotation_key, Rotation};
use logpack::CancelToken;

const MAX_NAMES: usize = 8;
const LIVE: &str = "mongod.log";

/// What a plain and a gzip text file look like to `text::plan`.
fn files() -> &'static (File, u64, File, u64) {
    static FILES: OnceLock<(File, u64, File, u64)> = OnceLock::new();
    FILES.get_or_init(|| {
        let text: Vec<u8> = (0..8)
            .flat_map(|i| {
                format!(
                    "{{\"t\":{{\"$date\":\"2026-11-20T10:00:0{i}.000Z\"}},\"s\":\"I\",\"c\":\"NETWORK\",\"id\":1,\"ctx\":\"conn{i}\",\"msg\":\"line {i}\"}}\n"
                )
                .into_bytes()
            })
            .collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&text).unwrap();
        let gz = gz.finish().unwrap();
        let file = |bytes: &[u8]| {
            let mut f = tempfile::tempfile().expect("a temporary file");
            f.write_all(bytes).unwrap();
            f.rewind().unwrap();
            f
        };
        (file(&text), text.len() as u64, file(&gz), gz.len() as u64)
    })
}

/// Checks one archive name; returns its FTDC start.
fn check_name(name: &str) -> Option<i64> {
    let (family, rotation) = rotation_key(name);
    assert!(family.len() <= name.len(), "{name:?}: family {family:?}");
    for decompress in [false, true] {
        let archived = archived_name(name, decompress);
        assert!(
            archived == name || (decompress && format!("{archived}.gz") == name),
            "{name:?} archived as {archived:?}"
        );
        for live in [None, Some(LIVE), Some(archived)] {
            let (is_live, _, key_rotation, key_name, renamed) = file_key(name, live, decompress);
            assert_eq!(is_live, live == Some(archived), "{name:?}");
            assert_eq!(key_name, archived);
            assert_eq!(renamed, archived != name);
            if is_live {
                assert_eq!(key_rotation, Rotation::Live);
            } else if !renamed {
                assert_eq!(key_rotation, rotation, "{name:?}");
            }
        }
    }

    let start = start_from_name(name);
    if let Some(ms) = start {
        // Only `metrics.` and a stamp of this exact shape in the last
        // component, and the instant prints back as that stamp.
        let last = name.rsplit('/').next().unwrap();
        let stamp = last
            .strip_prefix("metrics.")
            .and_then(|r| r.get(..20))
            .unwrap_or_else(|| panic!("{name:?} has a start but no stamp"));
        let printed = jiff::Timestamp::from_millisecond(ms)
            .unwrap()
            .strftime("%Y-%m-%dT%H-%M-%SZ")
            .to_string();
        // A leap second (`-60Z`) reads as the second before it.
        let stamp = match stamp.strip_suffix("-60Z") {
            Some(minute) => format!("{minute}-59Z"),
            None => stamp.to_string(),
        };
        assert_eq!(printed, stamp, "{name:?} starts at {ms}");
    }
    start
}

/// The text selection's name for `name`, under a cap (so that it does not
/// archive the file whole): a decompressed `.gz` loses its suffix, exactly
/// as `archived_name` says.
fn check_text_plan(name: &str) {
    let (plain, plain_len, gz, gz_len) = files();
    let (file, size) = if name.ends_with(".gz") {
        (gz, *gz_len)
    } else {
        (plain, *plain_len)
    };
    let selection = Selection {
        cap: Some(100),
        ..Selection::default()
    };
    let decision = text::plan(file, name, size, 0, &selection, &CancelToken::default())
        .unwrap_or_else(|e| panic!("{name:?}: {e}"));
    let TextDecision::Select(plan) = decision else {
        panic!("{name:?}: the cap must select");
    };
    let got = plan.selection.name.as_deref().unwrap_or(name);
    assert_eq!(got, archived_name(name, true), "{name:?}");
}

fuzz_target!(|data: &[u8]| {
    let raw: Vec<&[u8]> = data.split(|&b| b == 0).take(MAX_NAMES).collect();
    let mut names = Vec::with_capacity(raw.len());
    for bytes in &raw {
        let name = archive_name(OsStr::from_bytes(bytes));
        match std::str::from_utf8(bytes) {
            Ok(text) => assert_eq!(name, text, "a UTF-8 name is its own archive name"),
            Err(_) => assert!(name.len() > bytes.len() && name.contains("\\x")),
        }
        names.push(name);
    }

    let starts: Vec<Option<i64>> = names.iter().map(|n| check_name(n)).collect();
    for name in names.iter().take(2) {
        check_text_plan(name);
    }

    // Equal keys only for equal names; equal archive names share all of the
    // key but the last field, so sorting puts twins side by side.
    for a in &names {
        for b in &names {
            for decompress in [false, true] {
                let (ka, kb) = (
                    file_key(a, Some(LIVE), decompress),
                    file_key(b, Some(LIVE), decompress),
                );
                assert_eq!(ka == kb, a == b, "{a:?} / {b:?}");
                if archived_name(a, decompress) == archived_name(b, decompress) {
                    assert_eq!((&ka.0, &ka.1, &ka.2, &ka.3), (&kb.0, &kb.1, &kb.2, &kb.3));
                }
            }
        }
    }

    // FTDC spans over the names as one directory, in the given order.
    let dated = starts
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some((i, (*s)?)))
        .collect::<Vec<_>>();
    let newest = dated.iter().map(|d| d.1).max();
    let mut spans = Spans::new(dated.into_iter(), newest);
    for (i, name) in names.iter().enumerate() {
        let (start, end) = spans.span(i, name);
        match starts[i] {
            Some(s) => {
                assert_eq!(start, Some(s));
                assert!(end.is_none_or(|e| e > s), "{name:?}: span {s}..{end:?}");
            }
            None => assert_eq!((start, end), (newest, None), "{name:?}"),
        }
    }
});
