//! Selection (time range, severity, size cap) checked line for line against
//! an independent reference written here from PRODUCT.md §1 and
//! corpus/FORMATS.md only.
//!
//! The reference works on a whole file in memory: one regex (or one
//! `serde_json` parse) per line format, jiff's `strptime` for the
//! timestamps, then entries, filters and the cap as whole-buffer operations.
//! Every fixture family is copied into a temporary deployment and collected
//! through the library API with (a) a time window taken from the file's own
//! timestamps and given in another offset, (b) a minimum level, (c) the
//! window and a size cap, (d) the level and a small cap. The archived bytes
//! must equal the reference's exactly, and `linesDropped`, `truncated`,
//! `archivedBytes`, `sizeLimitHit` and `skipped` must agree with it.
//!
//! Resolutions of cases the rules leave open:
//! - the HTTP access log (`ip - user [ts] "…"`) counts as an entry format
//!   (the timestamp is its first bracket), with no severity;
//! - the Ops Manager startup log (`[ts] message`) is an agent-style line
//!   without a level bracket: an entry with no severity;
//! - the cap's line start must lie strictly before the end of the filtered
//!   text (a final `\n` does not start a line); otherwise the last N bytes
//!   are kept as they are;
//! - agent levels are the word after the last `.` of the second bracket;
//!   words other than fatal/error/warn/info/debug count as unknown (kept);
//! - a dotnet record with no `Timestamp` key (the old format) is an entry
//!   with an absent timestamp, like one with `"Timestamp":""`;
//! - the json-seq record separator 0x1E before a JSON record is ignored.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::LazyLock;

use common::entries::{self, cap_tail, instant, sev_letter, Sev, ISO_TEXT};
use jiff::civil;
use jiff::tz::{Offset, TimeZone};
use jiff::Timestamp;
use logpack::{Engine, Format, Options, Output, Request};
use regex::Regex;
use serde_json::{json, Value};

// ===========================================================================
// The reference
// ===========================================================================

/// When an entry happened, as far as its first line says.
#[derive(Clone, Copy, Debug)]
enum When {
    /// A full instant.
    At(Timestamp),
    /// A ctime stamp without year (resolved per file).
    Ctime {
        month: i8,
        day: i8,
        hour: i8,
        minute: i8,
        second: i8,
        milli: i32,
    },
    /// A recognised record without a timestamp (dotnet).
    Absent,
}

/// The first line of an entry.
#[derive(Clone, Copy, Debug)]
struct Head {
    when: When,
    sev: Option<Sev>,
}

static CTIME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?P<mon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (?P<day>[ 0-9][0-9]) (?P<h>\d{2}):(?P<mi>\d{2}):(?P<s>\d{2})(?:\.(?P<ms>\d{3}))?(?: |$)",
    )
    .unwrap()
});
static AGENT_NEW: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\[(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(?:Z|[+-]\d{4}))\]").unwrap()
});
static AGENT_OLD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\[(?P<ts>\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}\.\d{3})\]").unwrap()
});
static ACCESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"^[^ \[]+ [^ ]+ [^ ]+ \[(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(?:Z|[+-]\d{4}))\] ""#,
    )
    .unwrap()
});
/// A mongod severity column right after the timestamp: `I `, `W  `, `D2 `.
static MONGOD_SEV: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?P<l>[A-Z])(?P<d>[1-5])?(?: |$)").unwrap());
/// Ops Manager application/daemon/migration: `[thread] LEVEL `.
static OM_SEV: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\[[^\]]*\] (?P<w>TRACE|DEBUG|INFO|WARN|ERROR|FATAL) ").unwrap());
/// The agent level bracket right after the timestamp bracket.
static AGENT_LEVEL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^ \[(?P<b>[^\]]*)\]").unwrap());
/// logv2 prefix, for a line that does not parse as JSON.
static LOGV2_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^\{"t":\{"\$date":"(?P<ts>[^"]*)"\},"s":"(?P<s>[^"]*)""#).unwrap()
});

fn sev_word(w: &str) -> Option<Sev> {
    match w.to_ascii_lowercase().as_str() {
        "fatal" | "critical" => Some(Sev::Fatal),
        "error" => Some(Sev::Error),
        "warn" | "warning" => Some(Sev::Warn),
        "info" | "information" => Some(Sev::Info),
        "debug" | "trace" => Some(Sev::Debug),
        _ => None,
    }
}

fn agent_sev(w: &str) -> Option<Sev> {
    match w {
        "fatal" => Some(Sev::Fatal),
        "error" => Some(Sev::Error),
        "warn" => Some(Sev::Warn),
        "info" => Some(Sev::Info),
        "debug" => Some(Sev::Debug),
        _ => None,
    }
}

/// The severity column of a legacy text line (`rest` follows the stamp).
fn text_sev(rest: &str) -> Option<Sev> {
    if let Some(c) = MONGOD_SEV.captures(rest) {
        let mut s = c["l"].to_string();
        if let Some(d) = c.name("d") {
            s.push_str(d.as_str());
        }
        return sev_letter(&s);
    }
    OM_SEV.captures(rest).and_then(|c| sev_word(&c["w"]))
}

fn classify_json(body: &str) -> Option<Head> {
    let v: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(_) => {
            let c = LOGV2_PREFIX.captures(body)?;
            return Some(Head {
                when: When::At(instant(&c["ts"])?),
                sev: sev_letter(&c["s"]),
            });
        }
    };
    let obj = v.as_object()?;
    let s = obj.get("s").and_then(Value::as_str);
    if let Some(d) = obj
        .get("t")
        .and_then(|t| t.get("$date"))
        .and_then(Value::as_str)
    {
        // logv2
        return Some(Head {
            when: When::At(instant(d)?),
            sev: s.and_then(sev_letter),
        });
    }
    if let Some(t) = obj.get("t").and_then(Value::as_str) {
        // mongot
        return Some(Head {
            when: When::At(instant(t)?),
            sev: s.and_then(sev_word),
        });
    }
    if let Some(d) = obj
        .get("ts")
        .and_then(|t| t.get("$date"))
        .and_then(Value::as_str)
    {
        // audit
        return Some(Head {
            when: When::At(instant(d)?),
            sev: None,
        });
    }
    if obj.contains_key("Timestamp") || obj.contains_key("LogLevel") {
        // dotnet-monitor
        let when = match obj.get("Timestamp").and_then(Value::as_str) {
            None | Some("") => When::Absent,
            Some(t) => When::At(instant(t)?),
        };
        return Some(Head {
            when,
            sev: obj
                .get("LogLevel")
                .and_then(Value::as_str)
                .and_then(sev_word),
        });
    }
    None
}

/// Whether `line` (without its `\n`) starts an entry, and what it says.
fn classify(line: &str) -> Option<Head> {
    let body = line.strip_prefix('\u{1e}').unwrap_or(line);
    if body.starts_with('{') {
        return classify_json(body);
    }
    if let Some(c) = ISO_TEXT.captures(line) {
        let rest = &line[c.get(0).unwrap().end()..];
        return Some(Head {
            when: When::At(instant(&c["ts"])?),
            sev: text_sev(rest),
        });
    }
    if let Some(c) = CTIME.captures(line) {
        let months = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let month = months.iter().position(|m| *m == &c["mon"]).unwrap() as i8 + 1;
        let rest = &line[c.get(0).unwrap().end()..];
        return Some(Head {
            when: When::Ctime {
                month,
                day: c["day"].trim().parse().unwrap(),
                hour: c["h"].parse().unwrap(),
                minute: c["mi"].parse().unwrap(),
                second: c["s"].parse().unwrap(),
                milli: c.name("ms").map_or(0, |m| m.as_str().parse().unwrap()),
            },
            sev: text_sev(rest),
        });
    }
    let agent = |end: usize| {
        AGENT_LEVEL
            .captures(&line[end..])
            .and_then(|b| b["b"].rsplit_once('.').and_then(|(_, w)| agent_sev(w)))
    };
    if let Some(c) = AGENT_NEW.captures(line) {
        return Some(Head {
            when: When::At(instant(&c["ts"])?),
            sev: agent(c.get(0).unwrap().end()),
        });
    }
    if let Some(c) = AGENT_OLD.captures(line) {
        let t = civil::DateTime::strptime("%Y/%m/%d %H:%M:%S%.f", &c["ts"]).ok()?;
        if t.year() < 1970 {
            return None;
        }
        return Some(Head {
            when: When::At(t.to_zoned(TimeZone::UTC).ok()?.timestamp()),
            sev: agent(c.get(0).unwrap().end()),
        });
    }
    if let Some(c) = ACCESS.captures(line) {
        return Some(Head {
            when: When::At(instant(&c["ts"])?),
            sev: None,
        });
    }
    None
}

/// Per line: `None` = not an entry start; `Some((time, sev))` otherwise,
/// with ctime years resolved from `mtime_year`.
fn heads(lines: &[&[u8]], mtime_year: i16) -> Vec<Option<(Option<Timestamp>, Option<Sev>)>> {
    let raw: Vec<Option<Head>> = lines
        .iter()
        .map(|l| {
            let l = l.strip_suffix(b"\n").unwrap_or(l);
            classify(&String::from_utf8_lossy(l))
        })
        .collect();
    let months: Vec<i8> = raw
        .iter()
        .filter_map(|h| match h {
            Some(Head {
                when: When::Ctime { month, .. },
                ..
            }) => Some(*month),
            _ => None,
        })
        .collect();
    let mut year = mtime_year;
    if let (Some(first), Some(last)) = (months.first(), months.last()) {
        if last < first {
            year -= 1;
        }
    }
    let mut prev_month = months.first().copied().unwrap_or(1);
    raw.into_iter()
        .map(|h| {
            let h = h?;
            let t = match h.when {
                When::At(t) => Some(t),
                When::Absent => None,
                When::Ctime {
                    month,
                    day,
                    hour,
                    minute,
                    second,
                    milli,
                } => {
                    if month < prev_month {
                        year += 1;
                    }
                    prev_month = month;
                    let dt = civil::Date::new(year, month, day)
                        .expect("reference: valid ctime date")
                        .at(hour, minute, second, milli * 1_000_000);
                    Some(dt.to_zoned(TimeZone::UTC).unwrap().timestamp())
                }
            };
            Some((t, h.sev))
        })
        .collect()
}

/// A selection: the request's fields.
#[derive(Clone, Debug, Default)]
pub struct Sel {
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub level: Option<Sev>,
    pub cap: Option<usize>,
    /// Harness only: write `from`/`to` as integer epoch seconds.
    pub epoch_seconds: bool,
}

/// What the reference expects for one file.
#[derive(Clone, Debug, PartialEq)]
pub struct Expect {
    /// `None`: the filter selected nothing, the file must be skipped.
    pub kept: Option<Vec<u8>>,
    pub lines_dropped: u64,
    pub truncated: bool,
}

/// The timestamps of the entries of `data`, in file order.
pub fn entry_times(data: &[u8], mtime_year: i16) -> Vec<Timestamp> {
    let lines: Vec<&[u8]> = data.split_inclusive(|&b| b == b'\n').collect();
    heads(&lines, mtime_year)
        .into_iter()
        .flatten()
        .filter_map(|(t, _)| t)
        .collect()
}

/// The severities of the entries of `data`.
pub fn entry_sevs(data: &[u8]) -> Vec<Option<Sev>> {
    let lines: Vec<&[u8]> = data.split_inclusive(|&b| b == b'\n').collect();
    heads(&lines, 2000)
        .into_iter()
        .flatten()
        .map(|(_, s)| s)
        .collect()
}

/// The filtered text (before the cap), lines dropped, and whether any entry
/// was kept (`None` when a filter applies and selects nothing).
pub fn filtered(data: &[u8], mtime_year: i16, sel: &Sel) -> Option<(Vec<u8>, u64)> {
    let lines: Vec<&[u8]> = data.split_inclusive(|&b| b == b'\n').collect();
    let hs = heads(&lines, mtime_year);
    let filtering = sel.from.is_some() || sel.to.is_some() || sel.level.is_some();
    if hs.iter().all(Option::is_none) || !filtering {
        return Some((data.to_vec(), 0));
    }
    let decide = |(t, s): (Option<Timestamp>, Option<Sev>)| {
        let time_ok = match t {
            None => true,
            Some(t) => sel.from.is_none_or(|f| f <= t) && sel.to.is_none_or(|to| t <= to),
        };
        let sev_ok = match (sel.level, s) {
            (Some(min), Some(s)) => s >= min,
            _ => true,
        };
        time_ok && sev_ok
    };
    entries::keep_entries(&lines, &hs, decide)
}

/// The reference: what the archive must hold for `data` under `sel`.
pub fn reference(data: &[u8], mtime_year: i16, sel: &Sel) -> Expect {
    match filtered(data, mtime_year, sel) {
        None => Expect {
            kept: None,
            lines_dropped: 0,
            truncated: false,
        },
        Some((text, lines_dropped)) => {
            let (kept, truncated) = match sel.cap {
                Some(n) => cap_tail(&text, n),
                None => (text, false),
            };
            Expect {
                kept: Some(kept),
                lines_dropped,
                truncated,
            }
        }
    }
}

// ===========================================================================
// The harness
// ===========================================================================

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(rel: &str) -> Vec<u8> {
    fs::read(crate_dir().join("tests/fixtures").join(rel)).unwrap()
}

fn sample(rel: &str) -> PathBuf {
    crate_dir().join("examples/sample/hosts").join(rel)
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// One source file of a family.
struct Source {
    /// Expected archive path.
    archive: String,
    /// Content as the reference sees it (decompressed).
    data: Vec<u8>,
    /// Year of the file's mtime (UTC).
    mtime_year: i16,
}

/// A temporary deployment with one request.
struct Family {
    name: String,
    dir: tempfile::TempDir,
    request: Value,
    sources: Vec<Source>,
    /// The source the window, level and cap are chosen from.
    primary: usize,
    /// The offset the window is written in.
    offset_seconds: i32,
    /// Selections of this family on top of the four common ones.
    extra: Vec<(String, Sel)>,
}

impl Family {
    fn new(name: &str, request: Value) -> Family {
        Family {
            name: name.to_string(),
            dir: tempfile::Builder::new()
                .prefix("logpack-selref-")
                .tempdir()
                .unwrap(),
            request,
            sources: Vec::new(),
            primary: 0,
            offset_seconds: 9 * 3600 + 1800,
            extra: Vec::new(),
        }
    }

    fn root(&self) -> PathBuf {
        fs::canonicalize(self.dir.path()).unwrap()
    }

    /// Writes `bytes` at `rel` with mtime `mtime`; `data` is the content the
    /// reference sees (the decompressed bytes for a `.gz`).
    fn put(&mut self, rel: &str, bytes: &[u8], data: Vec<u8>, mtime: Timestamp, archive: &str) {
        let p = self.root().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, bytes).unwrap();
        let f = fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(std::time::SystemTime::from(mtime)).unwrap();
        drop(f);
        let mtime_year = mtime.to_zoned(TimeZone::UTC).year();
        self.sources.push(Source {
            archive: archive.to_string(),
            data,
            mtime_year,
        });
    }

    fn put_text(&mut self, rel: &str, data: Vec<u8>, mtime: Timestamp, archive: &str) {
        self.put(rel, &data.clone(), data, mtime, archive);
    }

    fn put_gz(&mut self, rel: &str, data: Vec<u8>, mtime: Timestamp, archive: &str) {
        self.put(rel, &gzip(&data), data, mtime, archive);
    }

    fn primary(mut self, archive: &str) -> Family {
        self.primary = self
            .sources
            .iter()
            .position(|s| s.archive == archive)
            .expect("primary source");
        self
    }

    fn offset(mut self, seconds: i32) -> Family {
        self.offset_seconds = seconds;
        self
    }

    fn extra(mut self, label: &str, sel: Sel) -> Family {
        self.extra.push((label.to_string(), sel));
        self
    }
}

/// A family with one mongod (or mongos) whose live log is `data`.
fn one_process(name: &str, kind: &str, data: Vec<u8>, mtime: Timestamp) -> Family {
    let mut fam = Family::new(name, Value::Null);
    let (file, archive) = if kind == "mongos" {
        ("mongos.log", "h1/mongos/27017/mongos.log")
    } else {
        ("mongod.log", "h1/rs0/27017/mongod.log")
    };
    let log_path = fam.root().join("p").join(file);
    let mut process = json!({"type": kind, "port": 27017, "logPath": log_path});
    if kind == "mongod" {
        process["replicaSet"] = json!("rs0");
    }
    fam.request =
        json!({"logTypes": ["MONGODB"], "hosts": [{"hostname": "h1", "processes": [process]}]});
    fam.put_text(&format!("p/{file}"), data, mtime, archive);
    fam
}

const DEFAULT_MTIME: &str = "2026-11-20T10:30:00Z";

fn rfc3339(t: Timestamp, offset_seconds: i32) -> String {
    let tz = TimeZone::fixed(Offset::from_seconds(offset_seconds).unwrap());
    t.to_zoned(tz)
        .strftime("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string()
}

struct Collected {
    files: BTreeMap<String, Vec<u8>>,
    manifest: Value,
}

fn collect(fam: &Family, sel: &Sel) -> Collected {
    let mut req = fam.request.clone();
    let when = |t: Timestamp| {
        if sel.epoch_seconds {
            assert_eq!(t.subsec_nanosecond(), 0, "epoch seconds are whole");
            json!(t.as_second())
        } else {
            json!(rfc3339(t, fam.offset_seconds))
        }
    };
    if let Some(f) = sel.from {
        req["logCollectionFromDate"] = when(f);
    }
    if let Some(t) = sel.to {
        req["logCollectionToDate"] = when(t);
    }
    if let Some(l) = sel.level {
        req["level"] = json!(l.request_name());
    }
    if let Some(c) = sel.cap {
        req["sizeRequestedPerFileBytes"] = json!(c);
    }
    let request = Request::from_json(&req.to_string(), &fam.root())
        .unwrap_or_else(|e| panic!("{}: request {req} refused: {e}", fam.name));
    let engine = Engine::new(Options {
        threads: 1,
        format: Format::Tar,
        compression_level: None,
    })
    .unwrap();
    let mut buf = Vec::new();
    engine
        .collect(&request, Output::Writer(&mut buf), None)
        .unwrap_or_else(|e| panic!("{}: collect failed: {e}", fam.name));
    let mut files = BTreeMap::new();
    let mut archive = tar::Archive::new(&buf[..]);
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let name = String::from_utf8(e.path_bytes().into_owned()).unwrap();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        files.insert(name, data);
    }
    let manifest: Value =
        serde_json::from_slice(files.get("manifest.json").expect("manifest.json")).unwrap();
    Collected { files, manifest }
}

fn short(s: &str) -> String {
    if s.len() > 400 {
        let mut end = 400;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}… ({} bytes)", &s[..end], s.len())
    } else {
        s.to_string()
    }
}

/// The first differing line of two texts, for a failure message.
fn first_difference(expected: &[u8], got: &[u8]) -> String {
    let e: Vec<&[u8]> = expected.split_inclusive(|&b| b == b'\n').collect();
    let g: Vec<&[u8]> = got.split_inclusive(|&b| b == b'\n').collect();
    for i in 0..e.len().max(g.len()) {
        let a = e.get(i).copied();
        let b = g.get(i).copied();
        if a != b {
            let show = |x: Option<&[u8]>| {
                x.map_or("<none>".to_string(), |x| {
                    format!("{:?}", short(&String::from_utf8_lossy(x)))
                })
            };
            return format!(
                "expected {} bytes / {} lines, got {} bytes / {} lines; first difference at line {} (1-based):\n      expected: {}\n      got:      {}",
                expected.len(),
                e.len(),
                got.len(),
                g.len(),
                i + 1,
                show(a),
                show(b)
            );
        }
    }
    "identical".to_string()
}

fn file_record<'m>(manifest: &'m Value, archive: &str) -> Option<&'m Value> {
    manifest["childJobs"].as_array()?.iter().find_map(|c| {
        let dir = c["path"].as_str()?;
        c["files"].as_array()?.iter().find(|f| {
            f["name"]
                .as_str()
                .is_some_and(|n| format!("{dir}/{n}") == archive)
        })
    })
}

fn skipped_in(manifest: &Value, archive: &str) -> bool {
    let (dir, name) = archive.rsplit_once('/').unwrap();
    manifest["childJobs"].as_array().unwrap().iter().any(|c| {
        c["path"].as_str() == Some(dir)
            && c["skipped"].as_array().is_some_and(|s| {
                s.iter().any(|k| {
                    let n = k["name"].as_str().unwrap_or("");
                    n == name || n == format!("{name}.gz")
                })
            })
    })
}

/// Runs one selection and compares every source; returns the mismatches.
fn check(fam: &Family, label: &str, sel: &Sel) -> Vec<String> {
    let got = collect(fam, sel);
    let mut errs = Vec::new();
    let mut any_truncated = false;
    let expected_names: Vec<&str> = fam.sources.iter().map(|s| s.archive.as_str()).collect();
    for name in got.files.keys() {
        if name != "manifest.json" && !expected_names.contains(&name.as_str()) {
            errs.push(format!("[{label}] unexpected archive entry {name}"));
        }
    }
    for c in got.manifest["childJobs"].as_array().unwrap() {
        if c["status"] != "SUCCESS" {
            errs.push(format!("[{label}] child {} is {}", c["path"], c["status"]));
        }
    }
    for src in &fam.sources {
        let exp = reference(&src.data, src.mtime_year, sel);
        eprintln!(
            "  [{label}] {}: reference {}",
            src.archive,
            match &exp.kept {
                None => "skipped".to_string(),
                Some(k) => format!(
                    "keeps {} of {} bytes, {} lines dropped{}",
                    k.len(),
                    src.data.len(),
                    exp.lines_dropped,
                    if exp.truncated { ", truncated" } else { "" }
                ),
            }
        );
        let rec = file_record(&got.manifest, &src.archive);
        match &exp.kept {
            None => {
                if got.files.contains_key(&src.archive) || rec.is_some() {
                    errs.push(format!(
                        "[{label}] {}: the filter selects nothing, expected it skipped, but it was archived ({} bytes)",
                        src.archive,
                        got.files.get(&src.archive).map_or(0, Vec::len)
                    ));
                } else if !skipped_in(&got.manifest, &src.archive) {
                    errs.push(format!(
                        "[{label}] {}: not archived (correct) but not in its child's skipped list",
                        src.archive
                    ));
                }
            }
            Some(kept) => {
                any_truncated |= exp.truncated;
                let Some(data) = got.files.get(&src.archive) else {
                    errs.push(format!(
                        "[{label}] {}: missing from the archive (reference keeps {} bytes{}); skipped = {}",
                        src.archive,
                        kept.len(),
                        if exp.truncated { ", truncated" } else { "" },
                        skipped_in(&got.manifest, &src.archive)
                    ));
                    continue;
                };
                if data != kept {
                    errs.push(format!(
                        "[{label}] {}: content differs: {}",
                        src.archive,
                        first_difference(kept, data)
                    ));
                }
                let Some(rec) = rec else {
                    errs.push(format!("[{label}] {}: no manifest record", src.archive));
                    continue;
                };
                if rec["linesDropped"].as_u64() != Some(exp.lines_dropped) {
                    errs.push(format!(
                        "[{label}] {}: linesDropped expected {}, got {}",
                        src.archive, exp.lines_dropped, rec["linesDropped"]
                    ));
                }
                if rec["truncated"].as_bool() != Some(exp.truncated) {
                    errs.push(format!(
                        "[{label}] {}: truncated expected {}, got {}",
                        src.archive, exp.truncated, rec["truncated"]
                    ));
                }
                if rec["archivedBytes"].as_u64() != Some(data.len() as u64) {
                    errs.push(format!(
                        "[{label}] {}: archivedBytes {} but the entry has {} bytes",
                        src.archive,
                        rec["archivedBytes"],
                        data.len()
                    ));
                }
            }
        }
    }
    if got.manifest["sizeLimitHit"].as_bool() != Some(any_truncated) {
        errs.push(format!(
            "[{label}] sizeLimitHit expected {any_truncated}, got {}",
            got.manifest["sizeLimitHit"]
        ));
    }
    errs
}

/// Runs the four selections of a family and fails with every mismatch.
fn run_family(fam: Family) {
    let p = &fam.sources[fam.primary];
    let times = entry_times(&p.data, p.mtime_year);
    assert!(
        !times.is_empty(),
        "{}: the reference finds no timed entry in the primary file",
        fam.name
    );
    let (mut from, mut to) = (times[times.len() * 3 / 10], times[times.len() * 6 / 10]);
    if from > to {
        std::mem::swap(&mut from, &mut to);
    }
    let window = Sel {
        from: Some(from),
        to: Some(to),
        ..Sel::default()
    };
    let has_warn = entry_sevs(&p.data).contains(&Some(Sev::Warn));
    let level = Sel {
        level: Some(if has_warn { Sev::Warn } else { Sev::Error }),
        ..Sel::default()
    };
    let window_len = filtered(&p.data, p.mtime_year, &window).map_or(0, |(t, _)| t.len());
    let cap = if window_len > 2000 {
        2000
    } else {
        (window_len * 2 / 3).max(1)
    };
    let capped = Sel {
        cap: Some(cap),
        ..window.clone()
    };
    let small = Sel {
        cap: Some(300),
        ..level.clone()
    };
    // A cap that ends exactly on a line start of the window's output: the
    // byte length of its last (up to) three lines.
    let exact = filtered(&p.data, p.mtime_year, &window).map(|(t, _)| {
        let lines: Vec<&[u8]> = t.split_inclusive(|&b| b == b'\n').collect();
        let k = lines.len().saturating_sub(1).clamp(1, 3);
        Sel {
            cap: Some(lines[lines.len() - k..].iter().map(|l| l.len()).sum()),
            ..window.clone()
        }
    });
    eprintln!(
        "{}: window {} .. {} ({} of {} timed entries in the primary), level {:?}, cap {cap}",
        fam.name,
        rfc3339(from, fam.offset_seconds),
        rfc3339(to, fam.offset_seconds),
        times.iter().filter(|t| **t >= from && **t <= to).count(),
        times.len(),
        level.level.unwrap()
    );
    let mut errs = Vec::new();
    errs.extend(check(&fam, "a: window", &window));
    errs.extend(check(&fam, "b: level", &level));
    errs.extend(check(&fam, "c: window+cap", &capped));
    errs.extend(check(&fam, "d: level+cap 300", &small));
    if let Some(exact) = exact {
        errs.extend(check(&fam, "e: window+cap on a line start", &exact));
    }
    for (label, sel) in &fam.extra {
        errs.extend(check(&fam, label, sel));
    }
    assert!(
        errs.is_empty(),
        "{}: {} mismatch(es) with the reference:\n  {}",
        fam.name,
        errs.len(),
        errs.join("\n  ")
    );
}

// ===========================================================================
// The reference, checked on hand-made lines (so that its own bugs show)
// ===========================================================================

#[test]
fn reference_reads_each_format() {
    let t = |line: &str| {
        let h = classify(line).unwrap_or_else(|| panic!("not an entry: {line}"));
        let at = match h.when {
            When::At(t) => Some(t),
            _ => None,
        };
        (at, h.sev)
    };
    assert_eq!(
        t(r#"{"t":{"$date":"2024-03-18T10:49:06.979-04:00"},"s":"W",  "c":"CONTROL"}"#),
        (Some(ts("2024-03-18T14:49:06.979Z")), Some(Sev::Warn))
    );
    assert_eq!(
        t("2020-02-07T11:59:14.144+1100 W NETWORK  [x] y"),
        (Some(ts("2020-02-07T00:59:14.144Z")), Some(Sev::Warn))
    );
    assert_eq!(
        t("2022-02-24T20:10:27.972+0000 D2 NETWORK  [x] y").1,
        Some(Sev::Debug)
    );
    assert_eq!(
        t("2014-10-31T13:00:03.996+0000 U STORAGE  [FileAllocator] a").1,
        None
    );
    assert_eq!(
        t("2014-04-09T23:16:20.437-0400 [initandlisten] db version v2.6.0"),
        (Some(ts("2014-04-10T03:16:20.437Z")), None)
    );
    assert_eq!(
        t("2018-02-08T13:21:09.966Z I CONTROL  [initandlisten] modules: enterprise").0,
        Some(ts("2018-02-08T13:21:09.966Z"))
    );
    assert!(classify("1014-04-09T23:24:16.197-0400 [clientcursormon]  connections:8").is_none());
    assert!(classify("2014-04-0 [conn48] buil").is_none());
    assert!(classify("=== a line without a datetime ===").is_none());
    assert_eq!(
        t("[2019/09/10 04:07:50.537] [.error] [a] b"),
        (Some(ts("2019-09-10T04:07:50.537Z")), Some(Sev::Error))
    );
    assert_eq!(
        t("[2026-05-19T14:18:38.046+0000] [collstats.monitor-6a0b.warn] [m] x"),
        (Some(ts("2026-05-19T14:18:38.046Z")), Some(Sev::Warn))
    );
    assert_eq!(
        t("2026-11-19T09:55:40.412+0000 [main] WARN  com.x [y] - z"),
        (Some(ts("2026-11-19T09:55:40.412Z")), Some(Sev::Warn))
    );
    assert_eq!(
        t(
            r#"203.0.113.45 - ops@example.net [2026-11-20T08:41:55.871+0000] "POST /x HTTP/1.1" 200"#
        ),
        (Some(ts("2026-11-20T08:41:55.871Z")), None)
    );
    assert_eq!(
        t(r#"{"t":"2026-05-19T14:18:47.756+0000","s":"DEBUG","svc":"MONGOT"}"#),
        (Some(ts("2026-05-19T14:18:47.756Z")), Some(Sev::Debug))
    );
    assert_eq!(
        t(r#"{"Timestamp":"2024-04-18 12:49:54Z","LogLevel":"Critical"}"#),
        (Some(ts("2024-04-18T12:49:54Z")), Some(Sev::Fatal))
    );
    assert_eq!(
        t(r#"{"Timestamp":"","LogLevel":"Warning"}"#),
        (None, Some(Sev::Warn))
    );
    assert_eq!(
        t(r#"{ "atype" : "logout", "ts" : { "$date" : "2022-09-15T23:56:28.071+00:00" } }"#),
        (Some(ts("2022-09-15T23:56:28.071Z")), None)
    );
    // ctime: the year comes from the mtime, minus one across New Year.
    let text = b"Tue Dec 31 23:59:59.900 [a] x\ncont\nWed Jan  1 00:00:00.100 I X [b] y\n";
    assert_eq!(
        entry_times(text, 2014),
        vec![
            ts("2013-12-31T23:59:59.900Z"),
            ts("2014-01-01T00:00:00.100Z")
        ]
    );
    // Inclusive ends, leading lines follow the first entry, cap at a line start.
    let text =
        b"pre\n2020-01-01T00:00:00.000Z I X [a] one\n2020-01-01T00:00:00.001Z W X [a] two\ncont\n";
    let sel = Sel {
        to: Some(ts("2020-01-01T00:00:00Z")),
        ..Sel::default()
    };
    let e = reference(text, 2020, &sel);
    assert_eq!(
        e.kept.as_deref(),
        Some(&b"pre\n2020-01-01T00:00:00.000Z I X [a] one\n"[..])
    );
    assert_eq!(e.lines_dropped, 2);
    let sel = Sel {
        level: Some(Sev::Warn),
        cap: Some(10),
        ..Sel::default()
    };
    let e = reference(text, 2020, &sel);
    assert_eq!(e.kept.as_deref(), Some(&b"cont\n"[..]));
    assert!(e.truncated);
    assert_eq!(cap_tail(b"abcdef\n", 3), (b"ef\n".to_vec(), true));
    assert_eq!(cap_tail(b"ab\ncd\n", 4), (b"cd\n".to_vec(), true));
}

// ===========================================================================
// Families
// ===========================================================================

#[test]
fn mtools_225_ctime() {
    run_family(one_process(
        "mtools/mongod_225.log",
        "mongod",
        fixture("mtools/mongod_225.log"),
        ts("2013-08-20T12:00:00Z"),
    ));
}

#[test]
fn mtools_year_rollover() {
    // mtime in January 2014: the December lines are 2013.
    run_family(one_process(
        "mtools/year_rollover.log",
        "mongod",
        fixture("mtools/year_rollover.log"),
        ts("2014-01-15T12:00:00Z"),
    ));
}

#[test]
fn mtools_26_corrupt() {
    run_family(
        one_process(
            "mtools/mongod_26_corrupt.log",
            "mongod",
            fixture("mtools/mongod_26_corrupt.log"),
            ts(DEFAULT_MTIME),
        )
        .offset(-(2 * 3600 + 1800))
        // The entry whose continuation is the year-1014 line.
        .extra(
            "x: the instant of the entry before the 1014 line",
            Sel {
                from: Some(ts("2014-04-10T03:24:16.197Z")),
                to: Some(ts("2014-04-10T03:24:16.197Z")),
                ..Sel::default()
            },
        )
        // Entries out of order: 2014-04-08, 2014-03-09, 2013-04-09.
        .extra(
            "y: before 2014-04-09 (back-steps)",
            Sel {
                to: Some(ts("2014-04-09T00:00:00Z")),
                ..Sel::default()
            },
        ),
    );
}

#[test]
fn mtools_278_unknown_letter() {
    run_family(one_process(
        "mtools/mongod_278.log",
        "mongod",
        fixture("mtools/mongod_278.log"),
        ts(DEFAULT_MTIME),
    ));
}

#[test]
fn mtools_306_ctime() {
    run_family(one_process(
        "mtools/mongod_306_ctime.log",
        "mongod",
        fixture("mtools/mongod_306_ctime.log"),
        ts("2016-07-20T12:00:00Z"),
    ));
}

#[test]
fn mtools_4218_two_column_severity() {
    run_family(one_process(
        "mtools/mongod_4.2.18_x509.log",
        "mongod",
        fixture("mtools/mongod_4.2.18_x509.log"),
        ts(DEFAULT_MTIME),
    ));
}

#[test]
fn mtools_360_mongos() {
    run_family(
        one_process(
            "mtools/sharding_360_mongos.log",
            "mongos",
            fixture("mtools/sharding_360_mongos.log"),
            ts(DEFAULT_MTIME),
        )
        .offset(-(2 * 3600 + 1800)),
    );
}

#[test]
fn hatchet_rs2_logv2() {
    run_family(
        one_process(
            "hatchet/rs2.log",
            "mongod",
            fixture("hatchet/rs2.log"),
            ts(DEFAULT_MTIME),
        )
        // Integer epoch seconds (seed 003): 14:50:57Z is 10:50:57-04:00 (181
        // entries in that second); `to` = 14:51:11Z keeps only .000 of the
        // 110 entries of 10:51:11.
        .extra(
            "x: epoch seconds",
            Sel {
                from: Some(ts("2024-03-18T14:50:57Z")),
                to: Some(ts("2024-03-18T14:51:11Z")),
                epoch_seconds: true,
                ..Sel::default()
            },
        ),
    );
}

#[test]
fn atlas_8012_logv2_svc() {
    run_family(
        one_process(
            "mongo-log-parser/atlas-8.0.12.log",
            "mongod",
            fixture("mongo-log-parser/atlas-8.0.12.log"),
            ts(DEFAULT_MTIME),
        )
        .offset(-(2 * 3600 + 1800)),
    );
}

#[test]
fn keyhole_40_text() {
    run_family(one_process(
        "keyhole/mongod.log",
        "mongod",
        fixture("keyhole/mongod.log"),
        ts(DEFAULT_MTIME),
    ));
}

#[test]
fn ops_agent_text_then_json() {
    run_family(one_process(
        "ops-agent/input.log",
        "mongod",
        fixture("ops-agent/input.log"),
        ts(DEFAULT_MTIME),
    ));
}

#[test]
fn beats_444_mixed_offsets() {
    run_family(
        one_process(
            "beats/mongodb-ubuntu-4.4.4-json.log",
            "mongod",
            fixture("beats/mongodb-ubuntu-4.4.4-json.log"),
            ts(DEFAULT_MTIME),
        )
        // The +03:00 line is at 10:13:20.632Z.
        .extra(
            "x: exactly the +03:00 entry",
            Sel {
                from: Some(ts("2022-07-05T10:13:20.632Z")),
                to: Some(ts("2022-07-05T10:13:20.632Z")),
                ..Sel::default()
            },
        )
        .extra(
            "y: one ms after the +03:00 entry, as seen in local time",
            Sel {
                from: Some(ts("2022-07-05T13:13:20.633Z")),
                ..Sel::default()
            },
        ),
    );
}

#[test]
fn otel_42_text() {
    run_family(one_process(
        "opentelemetry-collector-contrib/4.2.log",
        "mongod",
        fixture("opentelemetry-collector-contrib/4.2.log"),
        ts(DEFAULT_MTIME),
    ));
}

#[test]
fn otel_50_audit() {
    run_family(one_process(
        "opentelemetry-collector-contrib/5.0_audit.log",
        "mongod",
        fixture("opentelemetry-collector-contrib/5.0_audit.log"),
        ts(DEFAULT_MTIME),
    ));
}

#[test]
fn mongo_loginfo_sample() {
    run_family(one_process(
        "mongo-loginfo/sample.log",
        "mongod",
        fixture("mongo-loginfo/sample.log"),
        ts(DEFAULT_MTIME),
    ));
}

/// A live log and a rotated `.gz` sibling: the `.gz` is decompressed and
/// archived without its suffix.
#[test]
fn rotated_gz_mongod() {
    let mut fam = one_process(
        "rotated .gz (4.2.18) + live (4.2)",
        "mongod",
        fixture("opentelemetry-collector-contrib/4.2.log"),
        ts(DEFAULT_MTIME),
    );
    fam.put_gz(
        "p/mongod.log.2022-02-25T00-00-00.gz",
        fixture("mtools/mongod_4.2.18_x509.log"),
        ts("2022-02-25T00:00:00Z"),
        "h1/rs0/27017/mongod.log.2022-02-25T00-00-00",
    );
    run_family(fam.primary("h1/rs0/27017/mongod.log.2022-02-25T00-00-00"));
}

/// Every agent log of the sample's db1, the window taken from `primary`.
fn agent_family(name: &str, primary: &str) -> Family {
    let mut fam = Family::new(name, Value::Null);
    let dir = fam.root().join("agent");
    fam.request = json!({
        "logTypes": ["AUTOMATION_AGENT", "MONITORING_AGENT", "BACKUP_AGENT"],
        "hosts": [{"hostname": "h1", "agentLogDir": dir}]
    });
    let mut names: Vec<String> = fs::read_dir(sample("db1/agent"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| {
            ["automation-agent", "monitoring-agent", "backup-agent"]
                .iter()
                .any(|p| n.starts_with(p))
        })
        .collect();
    names.sort();
    for n in names {
        let bytes = fs::read(sample("db1/agent").join(&n)).unwrap();
        match n.strip_suffix(".gz") {
            Some(plain) => fam.put_gz(
                &format!("agent/{n}"),
                gunzip(&bytes),
                ts(DEFAULT_MTIME),
                &format!("h1/automation_agent/{plain}"),
            ),
            None => fam.put_text(
                &format!("agent/{n}"),
                bytes,
                ts(DEFAULT_MTIME),
                &format!("h1/automation_agent/{n}"),
            ),
        }
    }
    fam.primary(&format!("h1/automation_agent/{primary}"))
}

#[test]
fn agent_logs_window_from_live_verbose() {
    run_family(agent_family(
        "sample db1 agent (window from the live verbose log)",
        "automation-agent-verbose.log",
    ));
}

#[test]
fn agent_logs_window_across_format_switch() {
    // The oldest verbose log switches from [YYYY/MM/DD ...] to [...T...+0000].
    run_family(
        agent_family(
            "sample db1 agent (window from the oldest .gz, old→new format)",
            "automation-agent-verbose.log.2026-11-18T10-00-00",
        )
        .offset(-(2 * 3600 + 1800)),
    );
}

/// Every Ops Manager log of the sample's om1, the window taken from `primary`.
fn om_family(name: &str, primary: &str) -> Family {
    let mut fam = Family::new(name, Value::Null);
    let dir = fam.root().join("om");
    fam.request = json!({
        "logTypes": ["APPLICATION", "HTTP_ACCESS", "MIGRATION", "DAEMON"],
        "hosts": [{"hostname": "h1", "omLogDir": dir}]
    });
    let src = sample("om1/logs");
    let mut names: Vec<String> = fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for n in names {
        let plain = n.strip_suffix(".gz").unwrap_or(&n).to_string();
        let component = if plain.starts_with("mms-migration") {
            "migration"
        } else if plain.starts_with("daemon") {
            "daemon"
        } else if plain.contains("-access") {
            "http_access"
        } else {
            "application"
        };
        let archive = format!("h1/{component}/{plain}");
        let bytes = fs::read(src.join(&n)).unwrap();
        if n.ends_with(".gz") {
            fam.put_gz(
                &format!("om/{n}"),
                gunzip(&bytes),
                ts(DEFAULT_MTIME),
                &archive,
            );
        } else {
            fam.put_text(&format!("om/{n}"), bytes, ts(DEFAULT_MTIME), &archive);
        }
    }
    fam.primary(primary)
}

#[test]
fn om_server_logs_window_from_application_log() {
    run_family(om_family(
        "sample om1 (window from mms0.log)",
        "h1/application/mms0.log",
    ));
}

#[test]
fn om_server_logs_window_from_access_log() {
    run_family(
        om_family(
            "sample om1 (window from mms0-access.log)",
            "h1/http_access/mms0-access.log",
        )
        .offset(-(2 * 3600 + 1800)),
    );
}

/// A small deterministic generator for the synthetic files.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// mongot (FORMATS.md §4.6): `t` a plain string with `+0000`, word severities.
fn mongot_log() -> Vec<u8> {
    let mut r = Lcg(7);
    let mut t = ts("2026-05-19T14:18:40.000Z");
    let levels = ["TRACE", "DEBUG", "INFO", "INFO", "INFO", "WARN", "ERROR"];
    let mut out = String::new();
    for i in 0..60 {
        let step = if i % 17 == 16 {
            -(r.below(80) as i64) - 1
        } else {
            r.below(4000) as i64
        };
        t = t
            .checked_add(jiff::SignedDuration::from_millis(step))
            .unwrap();
        let s = levels[r.below(levels.len() as u64) as usize];
        out.push_str(&format!(
            "{{\"t\":\"{}\",\"s\":\"{s}\",\"svc\":\"MONGOT\",\"ctx\":\"change-stream-sync-dispatcher\",\"n\":\"org.mongodb.driver.protocol.command\",\"msg\":\"Command \\\"getMore\\\" succeeded on database \\\"sample_mflix\\\" in {}.{:06} ms, entry {i}\"}}\n",
            t.to_zoned(TimeZone::UTC).strftime("%Y-%m-%dT%H:%M:%S%.3f%z"),
            r.below(2000),
            r.below(1_000_000),
        ));
        if i % 23 == 5 {
            out.push_str(
                "\tat com.xgen.mongot.index.lucene.LuceneIndex.refresh(LuceneIndex.java:412)\n",
            );
        }
    }
    out.into_bytes()
}

/// dotnet-monitor ndjson (FORMATS.md §4.8): `"u"` timestamps, some empty,
/// a few old-format records without `Timestamp`; `seq` adds the 0x1E prefix.
fn dotnet_log(seed: u64, seq: bool) -> Vec<u8> {
    let mut r = Lcg(seed);
    let mut t = ts("2024-04-18T12:49:54Z");
    let levels = [
        "Trace",
        "Debug",
        "Information",
        "Information",
        "Warning",
        "Error",
        "Critical",
    ];
    let mut out = Vec::new();
    for i in 0..50 {
        t = t
            .checked_add(jiff::SignedDuration::from_secs(r.below(30) as i64))
            .unwrap();
        let lvl = levels[r.below(levels.len() as u64) as usize];
        let line = if i % 11 == 7 {
            format!(
                "{{\"LogLevel\":\"{lvl}\",\"EventId\":\"{i}\",\"Category\":\"Microsoft.AspNetCore.Hosting.Diagnostics\",\"Message\":\"Request starting HTTP/1.1 GET http://localhost:7001/ {i}\",\"Scopes\":{{\"RequestId\":\"0HM0N9ARKHVJK:{i:08}\"}},\"Arguments\":{{}}}}"
            )
        } else {
            let stamp = if i % 9 == 4 {
                String::new()
            } else {
                t.to_zoned(TimeZone::UTC)
                    .strftime("%Y-%m-%d %H:%M:%SZ")
                    .to_string()
            };
            format!(
                "{{\"Timestamp\":\"{stamp}\",\"LogLevel\":\"{lvl}\",\"EventId\":7,\"EventName\":\"FailedAfterRetries\",\"Category\":\"MyNamespace.MyClass\",\"Message\":\"Attempt {i} failed\",\"Exception\":\"System.Exception: boom\\r\\n   at MyNamespace.MyClass.Run()\",\"State\":{{\"Message\":\"Attempt {i} failed\",\"attempts\":\"{i}\",\"{{OriginalFormat}}\":\"Attempt {{attempts}} failed\"}},\"Scopes\":[{{\"RequestId\":\"r{i}\"}}]}}"
            )
        };
        if seq {
            out.push(0x1e);
        }
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out
}

#[test]
fn mongot_synthetic() {
    run_family(one_process(
        "synthetic mongot",
        "mongod",
        mongot_log(),
        ts(DEFAULT_MTIME),
    ));
}

#[test]
fn dotnet_synthetic_ndjson_and_json_seq() {
    let mut fam = one_process(
        "synthetic dotnet (ndjson live log of 27017, json-seq of 27018)",
        "mongod",
        dotnet_log(11, false),
        ts(DEFAULT_MTIME),
    );
    let log2 = fam.root().join("q/mongod.log");
    fam.request["hosts"][0]["processes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "mongod", "replicaSet": "rs0", "port": 27018, "logPath": log2}));
    fam.put_text(
        "q/mongod.log",
        dotnet_log(12, true),
        ts(DEFAULT_MTIME),
        "h1/rs0/27018/mongod.log",
    );
    run_family(fam);
}
