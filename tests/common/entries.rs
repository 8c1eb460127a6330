//! PRODUCT.md §1's selection rules, written once for the test references
//! (which are independent of `src/select`): whole entries are kept or
//! dropped, lines before the first entry follow it, and the cap keeps the
//! newest bytes from a line start. Also the pieces of the line model both
//! references share: severities, mongod's severity letters and ISO times.

use std::sync::LazyLock;

use jiff::Timestamp;
use regex::Regex;

/// Severity, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Sev {
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl Sev {
    pub const ALL: [Sev; 5] = [Sev::Debug, Sev::Info, Sev::Warn, Sev::Error, Sev::Fatal];

    /// The name a request's `level` uses.
    pub fn request_name(self) -> &'static str {
        match self {
            Sev::Debug => "DEBUG",
            Sev::Info => "INFO",
            Sev::Warn => "WARN",
            Sev::Error => "ERROR",
            Sev::Fatal => "FATAL",
        }
    }
}

/// mongod's one-letter severities (`D1`..`D5` are debug levels).
pub fn sev_letter(l: &str) -> Option<Sev> {
    match l {
        "F" => Some(Sev::Fatal),
        "E" => Some(Sev::Error),
        "W" => Some(Sev::Warn),
        "I" => Some(Sev::Info),
        "D" | "D1" | "D2" | "D3" | "D4" | "D5" => Some(Sev::Debug),
        _ => None,
    }
}

/// A legacy text line's leading ISO 8601 time, with milliseconds.
pub static ISO_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(?:Z|[+-]\d{4}))(?: |$)")
        .unwrap()
});

/// A timestamp string of any of the formats (RFC 3339 with `:` in the
/// offset, ISO with `±HHMM`, `Z`, dotnet's `yyyy-MM-dd HH:mm:ssZ`). Years
/// before 1970 are not timestamps.
pub fn instant(ts: &str) -> Option<Timestamp> {
    let year: i32 = ts.get(..4)?.parse().ok()?;
    if year < 1970 {
        return None;
    }
    let norm = match ts.strip_suffix('Z') {
        Some(p) => format!("{p}+0000"),
        None => ts.to_string(),
    };
    [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%z",
    ]
    .iter()
    .find_map(|f| Timestamp::strptime(f, &norm).ok())
}

/// Keeps the lines of the entries `keeps` accepts. `heads[i]` is what line
/// `i` says when it starts an entry. Returns the kept text and the number
/// of lines dropped, or `None` when no entry is kept.
pub fn keep_entries<H: Copy>(
    lines: &[&[u8]],
    heads: &[Option<H>],
    keeps: impl Fn(H) -> bool,
) -> Option<(Vec<u8>, u64)> {
    let first = heads.iter().flatten().next()?;
    let mut keep = keeps(*first);
    let (mut out, mut dropped, mut any) = (Vec::new(), 0u64, false);
    for (line, head) in lines.iter().zip(heads) {
        if let Some(h) = head {
            keep = keeps(*h);
            any |= keep;
        }
        if keep {
            out.extend_from_slice(line);
        } else {
            dropped += 1;
        }
    }
    any.then_some((out, dropped))
}

/// The newest `n` bytes of `text`, from a line start when one lies in them,
/// and whether anything was cut.
pub fn cap_tail(text: &[u8], n: usize) -> (Vec<u8>, bool) {
    let len = text.len();
    if len <= n {
        return (text.to_vec(), false);
    }
    let lo = len - n;
    let start = (lo..len).find(|&p| text[p - 1] == b'\n').unwrap_or(lo);
    (text[start..].to_vec(), true)
}
