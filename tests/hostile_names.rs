//! No file name can crash a run: agent, mongod, mongos, FTDC and Ops Manager
//! log directories full of hostile names (a multi-byte character at every
//! byte position of a realistic name, bytes that are not UTF-8, names that
//! almost match, 255-byte names, newlines, `.gz` twins), collected by the
//! CLI under several requests with one and two threads.
//!
//! Every run must exit 0 (a panic is exit 101), write an archive that
//! `logpack verify` accepts and GNU tar lists and extracts, and account for
//! every name exactly as PRODUCT.md §2 says: a name that a component's
//! pattern selects is either archived (with the bytes on disk, or as the
//! selection made them) or listed under that component's `skipped`, never
//! lost; any other name appears nowhere.

mod common;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------
// The deployment

const AGENT_DIR: &str = "hosts/h1/agent";
const MONGOD_DIR: &str = "hosts/h1/rs0_27017";
const FTDC_DIR: &str = "hosts/h1/rs0_27017/db/diagnostic.data";
/// A mongos whose own log name is hostile: its FTDC directory is named
/// after it (`<logPath without extension>.diagnostic.data`).
const MONGOS_DIR: &str = "hosts/h1/mongos 日";
const MONGOS_LIVE: &str = "mongos\né.log";
const MONGOS_FTDC_DIR: &str = "hosts/h1/mongos 日/mongos\né.diagnostic.data";
const OM_DIR: &str = "hosts/om1/logs";

/// One component of the request, as PRODUCT.md §2 describes it.
struct Component {
    log_type: &'static str,
    /// The child's archive path without its first (host) component, which
    /// redaction replaces with a token.
    path: &'static str,
    dir: &'static str,
    /// Whether its files are text (a `.gz` of them may be decompressed).
    text: bool,
    /// Whether it collects a file of this archive name.
    wants: fn(&str) -> bool,
}

fn components() -> Vec<Component> {
    let c = |log_type, path, dir, text, wants| Component {
        log_type,
        path,
        dir,
        text,
        wants,
    };
    vec![
        c(
            "AUTOMATION_AGENT",
            "automation_agent",
            AGENT_DIR,
            true,
            |n| glob("automation-agent*.log*", n),
        ),
        c(
            "MONITORING_AGENT",
            "automation_agent",
            AGENT_DIR,
            true,
            |n| glob("monitoring-agent*.log*", n),
        ),
        c("BACKUP_AGENT", "automation_agent", AGENT_DIR, true, |n| {
            glob("backup-agent*.log*", n)
        }),
        c("MONGODB", "rs0/27017", MONGOD_DIR, true, |n| {
            n == "mongod.log" || n.starts_with("mongod.log.")
        }),
        c("FTDC", "rs0/27017/diagnostic.data", FTDC_DIR, false, |_| {
            true
        }),
        c("MONGODB", "mongos/27016", MONGOS_DIR, true, |n| {
            n == MONGOS_LIVE || n.starts_with(&format!("{MONGOS_LIVE}."))
        }),
        c(
            "FTDC",
            "mongos/27016/diagnostic.data",
            MONGOS_FTDC_DIR,
            false,
            |_| true,
        ),
        c("APPLICATION", "application", OM_DIR, true, |n| {
            glob("mms[0-9]*.log*", n) && !glob("mms[0-9]*-access*", n)
        }),
        c("HTTP_ACCESS", "http_access", OM_DIR, true, |n| {
            glob("mms[0-9]*-access*.log*", n)
        }),
        c("MIGRATION", "migration", OM_DIR, true, |n| {
            glob("mms-migration*.log*", n)
        }),
        c("DAEMON", "daemon", OM_DIR, true, |n| {
            glob("daemon*.log*", n)
        }),
    ]
}

/// The patterns of PRODUCT.md §2 on a file name (no `/`): `*` is any run of
/// bytes, `[0-9]` one digit. Written out here rather than reusing globset.
fn glob(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p {
            [] => s.is_empty(),
            [b'*', rest @ ..] => (0..=s.len()).any(|i| go(rest, &s[i..])),
            [b'[', b'0', b'-', b'9', b']', rest @ ..] => {
                s.first().is_some_and(u8::is_ascii_digit) && go(rest, &s[1..])
            }
            [c, rest @ ..] => s.first() == Some(c) && go(rest, &s[1..]),
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

/// The archive name of a file name: UTF-8 as it is, any other byte written
/// as `\xNN` (PRODUCT.md: a name is never lost to lossy decoding).
fn escaped(name: &[u8]) -> String {
    let mut out = String::new();
    for chunk in name.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// One file put in the tree.
struct Placed {
    dir: &'static str,
    name: Vec<u8>,
    /// The bytes on disk.
    disk: Vec<u8>,
    /// The text a reader sees: `disk`, or what a `.gz` decompresses to.
    text: Vec<u8>,
    /// A regular file every run must archive (when its selection keeps it).
    well_formed: bool,
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// `n` length-prefixed documents of 100 bytes, as FTDC files hold.
fn ftdc_docs(n: usize, seed: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        out.extend_from_slice(&100u32.to_le_bytes());
        out.extend(std::iter::repeat_n(b'a' + ((seed + i) % 26) as u8, 95));
        out.push(0);
    }
    out
}

/// `base` with the multi-byte `c` at every byte position (all of them
/// character boundaries: the bases are ASCII): inserted, and in place of as
/// many bytes, so that parsers reading at fixed offsets of a name of the
/// usual length meet it inside their fields too.
fn inserted(base: &str, c: &str) -> Vec<Vec<u8>> {
    let (b, c) = (base.as_bytes(), c.as_bytes());
    let insert = (0..=b.len()).map(|i| [&b[..i], c, &b[i..]].concat());
    let replace = (0..=b.len() - c.len()).map(|i| [&b[..i], c, &b[i + c.len()..]].concat());
    insert.chain(replace).collect()
}

/// `prefix` padded with `fill` to exactly 255 bytes (NAME_MAX).
fn name_255(prefix: &str, fill: &str) -> Vec<u8> {
    let mut n = prefix.to_string();
    while n.len() + fill.len() <= 255 {
        n.push_str(fill);
    }
    while n.len() < 255 {
        n.push('x');
    }
    assert_eq!(n.len(), 255);
    n.into_bytes()
}

/// Hostile names per directory (the well-formed ones are added apart).
fn hostile_names() -> Vec<(&'static str, Vec<Vec<u8>>)> {
    let mut agent: Vec<Vec<u8>> = Vec::new();
    let mut mongod: Vec<Vec<u8>> = Vec::new();
    let mut ftdc: Vec<Vec<u8>> = Vec::new();
    let mut om: Vec<Vec<u8>> = Vec::new();
    for c in ["é", "日", "🦀"] {
        agent.extend(inserted(
            "automation-agent-verbose.log.2026-11-19T10-00-00",
            c,
        ));
        mongod.extend(inserted("mongod.log.2026-11-20T10-00-00", c));
        ftdc.extend(inserted("metrics.2026-11-20T10-00-00Z-00000", c));
        for base in ["mms0.2026-11-20.log", "mms0-access.log", "daemon.log"] {
            om.extend(inserted(base, c));
        }
    }
    let b = |s: &[u8]| s.to_vec();
    // Not UTF-8: lone continuation bytes, Latin-1 é, a truncated 🦀.
    agent.extend([
        b(b"automation-agent\xff.log"),
        b(b"automation-agent.log.2026-11-1\xe9T10-00-00"),
        b(b"automation-agent.log.\xf0\x9f\xa6"),
        b(b"\xffautomation-agent.log"),
    ]);
    mongod.extend([
        b(b"mongod.log.\xff"),
        b(b"mongod.log.\xc3"),
        b(b"mongod.log.2026-11-20T1\xe9-00-00"),
        b(b"mongod.log.\x80\x80\x80\x80"),
        b(b"mongod.log\xff"),
        b(b"\xff"),
    ]);
    // The name that crashed `collect` (exit 101): `é` inside the stamp.
    ftdc.push("metrics.2026-11-20T1é-00-0Z".into());
    ftdc.extend([
        b(b"metrics.2026-11-20T1\xe9-00-0Z"),
        b(b"metrics.2026-11-20T10-00-00Z-0000\xff"),
        b(b"metrics.\xf0\x9f\xa6"),
        b(b"metrics.\xff"),
        b(b"\xc3"),
    ]);
    om.extend([
        b(b"mms0.2026-11-2\xe9.log"),
        b(b"mms\xff.log"),
        b(b"mms0-access\xff.log"),
        b(b"daemon.log\xff"),
        b(b"mms-migration.log.\xc3"),
    ]);
    // Almost: prefix only, suffix only, truncated dates, dates with letters,
    // numbers too long for a rotation number, empty tokens.
    for n in [
        "automation-agent",
        "automation-agent.lo",
        "automation-agent.log.",
        "automation-agent.log..",
        "automation-agent-verbose.log.2026-11-19T1",
        "automation-agent-verbose.log.2O26-11-19T10-00-00",
        "automation-agent.log.2026-1a-19T10-00-00",
        "monitoring-agent.log.1",
        "monitoring-agent.log.99999999999999999999999",
        "backup-agent.log.007",
        "backup-agent",
        ".log",
        "log.2026-11-19T10-00-00",
        "verbose.log.2026-11-19T10-00-00",
        ".automation-agent.log.swp",
    ] {
        agent.push(n.into());
    }
    for n in [
        "mongod.log.",
        "mongod.log..",
        "mongod.lo",
        "mongod",
        "mongod.log.2026-11-2",
        "mongod.log.2026",
        "mongod.log.2026-1a-20T10-00-00",
        "mongod.log.YYYY-MM-DDTHH-MM-SS",
        "mongod.log.1",
        "mongod.log.007",
        "mongod.log.18446744073709551616",
        "mongod.log.99999999999999999999999",
        "mongod.log.-1",
        "mongod.log.1.2.3",
        "log.2026-11-20T10-00-00",
        "mongod.logs",
    ] {
        mongod.push(n.into());
    }
    for n in [
        "metrics.",
        "metrics",
        "metrics.interim",
        "metrics.2026-11-20T10-00-0",
        "metrics.2026-11-20T10",
        "metrics.2026-11-20Tab-cd-efZ-00000",
        "metrics.YYYY-MM-DDTHH-MM-SSZ-00000",
        "metrics.2026-13-20T10-00-00Z-00000",
        "metrics.2026-11-20T10-00-00Z",
        "metrics.+026-11-20T10-00-00Z-00000",
        "Z-00000",
        "-00000",
        ".gz",
    ] {
        ftdc.push(n.into());
    }
    for n in [
        "mms0",
        "mms",
        "mms0.lo",
        "mms0-access",
        "mms-access.log",
        "mms0.2026-11.log",
        "mms0.2026-II-20.log",
        "mms0.2026-11-20",
        "mms0-startup.log",
        "mms12.log",
        "mms-migration.log",
        "mms-migration",
        "daemon",
        "daemon.lo",
        "-access.log",
        ".log",
    ] {
        om.push(n.into());
    }
    // Newlines.
    agent.extend([
        b(b"automation-agent.log\n"),
        b(b"automation-agent\n.log.2026-11-19T10-00-00"),
        b(b"\n"),
    ]);
    mongod.extend([
        b(b"mongod.log.\n"),
        b(b"mongod.log.2026-11-20\nT10-00-00"),
        b(b"mongod.log\n"),
        b(b"\nmongod.log"),
    ]);
    ftdc.extend([
        b(b"metrics.2026-11-20T10-00-00Z-00000\n"),
        b(b"metrics.2026-11-20\nT10-00-00Z-00000"),
        b(b"\n\n"),
    ]);
    om.extend([
        b(b"mms0.log\n"),
        b(b"daemon\n.log"),
        b(b"mms0-access.log\n"),
    ]);
    // 255 bytes, the longest name a file can have.
    agent.push(name_255("automation-agent.log.", "é"));
    mongod.push(name_255("mongod.log.", "9"));
    mongod.push(name_255("mongod.log.2026-11-20T10-00-00.", "🦀"));
    ftdc.push(name_255("metrics.2026-11-20T10-00-00Z-", "0"));
    om.push(name_255("mms0.2026-11-20.log.", "日"));
    om.push(name_255("daemon.log", "\n"));
    // `.gz` names: hostile ones and the twin of a plain file. A decompressed
    // `x.gz` would be archived as `x`: with selection, it is skipped.
    agent.extend([
        b(b"automation-agent.log.gz"),
        b(b"automation-agent.log\xff.gz"),
    ]);
    mongod.extend([
        b(b"mongod.log.gz"),
        b(b"mongod.log.1.gz"),
        b(b"mongod.log.2026-11-20T1\xe9-00-00.gz"),
        b(b"mongod.log..gz"),
        b(b"mongod.log.gz.gz"),
    ]);
    ftdc.push(b(b"metrics.2026-11-20T10-00-00Z-00001.gz"));
    om.extend([b(b"daemon.log.gz"), b(b"mms0.log.gz")]);
    vec![
        (AGENT_DIR, agent),
        (MONGOD_DIR, mongod),
        (FTDC_DIR, ftdc),
        (OM_DIR, om),
    ]
}

const WELL_FORMED: &[(&str, &str)] = &[
    (AGENT_DIR, "automation-agent.log"),
    (AGENT_DIR, "automation-agent-verbose.log"),
    (
        AGENT_DIR,
        "automation-agent-verbose.log.2026-11-19T10-00-00",
    ),
    (
        AGENT_DIR,
        "automation-agent-verbose.log.2026-11-18T10-00-00.gz",
    ),
    (AGENT_DIR, "monitoring-agent.log"),
    (AGENT_DIR, "backup-agent.log"),
    (MONGOD_DIR, "mongod.log"),
    (MONGOD_DIR, "mongod.log.2026-11-20T10-00-00"),
    (MONGOD_DIR, "mongod.log.2026-11-19T10-00-00.gz"),
    (FTDC_DIR, "metrics.2026-11-19T10-00-00Z-00000"),
    (FTDC_DIR, "metrics.2026-11-20T10-00-00Z-00000"),
    (MONGOS_DIR, MONGOS_LIVE),
    (MONGOS_DIR, "mongos\né.log.2026-11-20T10-00-00"),
    (MONGOS_FTDC_DIR, "metrics.2026-11-20T10-00-00Z-00000"),
    (OM_DIR, "mms0.log"),
    (OM_DIR, "mms0.2026-11-20.log"),
    (OM_DIR, "mms0-access.log"),
    (OM_DIR, "mms-migration.log.2026-11-20"),
    (OM_DIR, "daemon.log"),
];

/// Builds the deployment; returns every file put in it and the request.
fn deployment(t: &Tree) -> (Vec<Placed>, Value) {
    let mut placed = Vec::new();
    let mut seed = 0usize;
    let mut put = |dir: &'static str, name: Vec<u8>, well_formed: bool| {
        seed += 1;
        let is_ftdc = dir == FTDC_DIR || dir == MONGOS_FTDC_DIR;
        let (disk, text) = if is_ftdc {
            // 300 to 1,500 bytes of documents: some are cut by the cap.
            let d = ftdc_docs(3 + seed % 13, seed);
            (d.clone(), d)
        } else {
            // 400 to 2,500 bytes of 2026-11-20T10:xx entries.
            let text = log_text(400 + (seed * 337) % 2100, seed as u32);
            if name.ends_with(b".gz") {
                (gzip(&text), text)
            } else {
                (text.clone(), text)
            }
        };
        let path = t.path(dir).join(OsStr::from_bytes(&name));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, &disk).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        placed.push(Placed {
            dir,
            name,
            disk,
            text,
            well_formed,
        });
    };
    for (dir, name) in WELL_FORMED {
        put(dir, name.as_bytes().to_vec(), true);
    }
    for (dir, names) in hostile_names() {
        for name in names {
            put(dir, name, false);
        }
    }
    for name in [
        &b"mongos\n\xc3\xa9.log.\xff"[..],
        b"mongos\n\xc3\xa9.log.\xe9",
    ] {
        put(MONGOS_DIR, name.to_vec(), false);
    }
    for name in inserted("metrics.2026-11-20T10-00-00Z-00000", "é") {
        put(MONGOS_FTDC_DIR, name, false);
    }
    // Every name put once per directory (a collision would be a test bug).
    let mut seen = std::collections::BTreeSet::new();
    for p in &placed {
        assert!(seen.insert((p.dir, escaped(&p.name))), "{:?}", p.name);
    }
    let request = json!({
        "resourceName": "hostile",
        "hosts": [
            {"hostname": "h1",
             "agentLogDir": AGENT_DIR,
             "processes": [
                {"type": "mongod", "replicaSet": "rs0", "port": 27017,
                 "logPath": format!("{MONGOD_DIR}/mongod.log"),
                 "dbPath": format!("{MONGOD_DIR}/db")},
                {"type": "mongos", "port": 27016,
                 "logPath": format!("{MONGOS_DIR}/{MONGOS_LIVE}")}]},
            {"hostname": "om1", "omLogDir": OM_DIR}
        ]
    });
    (placed, request)
}

// ---------------------------------------------------------------------------
// What each request must make of each name

#[derive(Clone, Copy, Debug, PartialEq)]
enum Variant {
    /// No selection: every selected name archived as it is.
    Plain,
    /// A time range holding every entry and every FTDC span.
    Window,
    /// A time range before every entry and every FTDC span.
    Before,
    /// `sizeRequestedPerFileBytes`.
    Cap,
    /// `redacted: true`.
    Redacted,
}

const CAP: usize = 1000;

impl Variant {
    fn fields(self) -> Value {
        match self {
            Variant::Plain => json!({}),
            Variant::Window => json!({
                "logCollectionFromDate": "2026-11-20T00:00:00Z",
                "logCollectionToDate": "2026-11-21T00:00:00Z"}),
            Variant::Before => json!({"logCollectionToDate": "2026-11-01T00:00:00Z"}),
            Variant::Cap => json!({"sizeRequestedPerFileBytes": CAP}),
            Variant::Redacted => json!({"redacted": true}),
        }
    }

    /// Whether a text `.gz` is archived decompressed, without `.gz`.
    fn decompresses(self) -> bool {
        self != Variant::Plain
    }
}

/// The child key: log type and archive path without its host.
type Key = (String, String);

#[derive(Debug)]
enum Outcome {
    /// Archived under `name`: exactly `bytes`, or (with the cap) its tail.
    Archived { name: String, bytes: Vec<u8> },
    /// Listed under `skipped`, with a reason holding this text.
    Skipped { reason: &'static str },
}

/// What the request variant must make of each placed name, by child and
/// archive name. Names no component selects are absent.
fn expected(placed: &[Placed], variant: Variant) -> BTreeMap<(Key, String), Outcome> {
    let comps = components();
    let mut out = BTreeMap::new();
    for p in placed {
        let name = escaped(&p.name);
        let mut wanting = comps.iter().filter(|c| c.dir == p.dir && (c.wants)(&name));
        let Some(c) = wanting.next() else {
            assert!(!p.well_formed, "{name:?} is selected by no component");
            continue;
        };
        assert!(wanting.next().is_none(), "{name:?}: two components");
        let key = (c.log_type.to_string(), c.path.to_string());
        let gz_plain = name.strip_suffix(".gz");
        let decompressed = c.text && variant.decompresses() && gz_plain.is_some();
        // Its plain twin `x` keeps the name (a `x.gz.gz` takes the name of
        // `x.gz` only when that one is not decompressed itself).
        let twin = decompressed
            && placed.iter().any(|q| {
                let n = escaped(&q.name);
                q.dir == p.dir && Some(n.as_str()) == gz_plain && !n.ends_with(".gz")
            });
        let outcome = if twin {
            Outcome::Skipped {
                reason: "decompressed to select lines, it would be archived as",
            }
        } else {
            match (variant, c.text) {
                (Variant::Before, true) => Outcome::Skipped {
                    reason: "no entries selected",
                },
                (Variant::Before, false) => Outcome::Skipped {
                    reason: "time span lies outside the requested time range",
                },
                (Variant::Redacted, false) => Outcome::Skipped {
                    reason: "binary FTDC cannot be redacted",
                },
                _ if decompressed => Outcome::Archived {
                    name: gz_plain.unwrap().to_string(),
                    bytes: p.text.clone(),
                },
                _ => Outcome::Archived {
                    name: name.clone(),
                    bytes: p.disk.clone(),
                },
            }
        };
        // Well-formed files are archived unless the range leaves them out
        // or they are FTDC, which cannot be redacted.
        let kept = variant != Variant::Before && (c.text || variant != Variant::Redacted);
        if p.well_formed && kept {
            assert!(matches!(outcome, Outcome::Archived { .. }), "{name}");
        }
        assert!(out.insert((key, name), outcome).is_none());
    }
    out
}

// ---------------------------------------------------------------------------
// GNU tar

/// `tar -t` as GNU tar prints it in the C locale (quoting style `escape`:
/// `\\`, `\n` and friends, other bytes in octal), decoded back to bytes.
fn gnu_tar_names(archive: &Path) -> Vec<Vec<u8>> {
    let out = Command::new("tar")
        .env("LC_ALL", "C")
        .arg("-tzf")
        .arg(archive)
        .output()
        .expect("run GNU tar");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.is_empty(),
        "tar -t: {stderr}"
    );
    out.stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|line| {
            let mut name = Vec::new();
            let mut i = 0;
            while i < line.len() {
                if line[i] != b'\\' {
                    name.push(line[i]);
                    i += 1;
                    continue;
                }
                let e = line[i + 1];
                i += 2;
                name.push(match e {
                    b'\\' => b'\\',
                    b'n' => b'\n',
                    b't' => b'\t',
                    b'r' => b'\r',
                    b'a' => 7,
                    b'b' => 8,
                    b'f' => 12,
                    b'v' => 11,
                    b'?' => b'?',
                    b'0'..=b'7' => {
                        let octal = std::str::from_utf8(&line[i - 1..i + 2]).unwrap();
                        i += 2;
                        u8::from_str_radix(octal, 8).unwrap()
                    }
                    other => panic!("tar -t: unknown escape \\{}", other as char),
                });
            }
            name
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The test

fn run_variant(t: &Tree, placed: &[Placed], base: &Value, variant: Variant, threads: usize) {
    let what = format!("{variant:?}, --threads {threads}");
    let mut request = base.clone();
    for (k, v) in variant.fields().as_object().unwrap() {
        request[k] = v.clone();
    }
    let req = t.request_at(&format!("req-{variant:?}.json"), &request);
    let out = t.path(&format!("out-{variant:?}-{threads}.tar.gz"));
    let run = logpack(&[
        "collect".as_ref(),
        req.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
        "--threads".as_ref(),
        threads.to_string().as_ref(),
        "--quiet".as_ref(),
    ]);
    assert_ne!(run.code, 101, "{what}: logpack panicked: {}", run.stderr);
    // Every file is readable and every directory exists: nothing fails.
    assert_eq!(run.code, 0, "{what}: {}", run.stderr);

    let verify = logpack(&["verify".as_ref(), out.as_os_str()]);
    assert_eq!(verify.code, 0, "{what}: verify: {}", verify.stderr);

    let entries = read_entries(&out);
    let manifest = manifest_of(&entries);
    check_manifest_matches(&entries, &manifest);
    assert_eq!(manifest["status"], "SUCCESS", "{what}");

    // GNU tar lists exactly the entries, byte for byte, and extracts them.
    let listed = gnu_tar_names(&out);
    let names: Vec<&[u8]> = entries.iter().map(|e| e.name.as_bytes()).collect();
    assert_eq!(listed, names, "{what}: GNU tar -t");
    gnu_tar_extract_matches(
        &out,
        Fmt::Gz,
        &t.path(&format!("x-{variant:?}-{threads}")),
        &entries,
    );

    // What the manifest and the archive hold, by child.
    let body: BTreeMap<&str, &Entry> = entries.iter().map(|e| (e.name.as_str(), e)).collect();
    let mut got_archived: BTreeMap<(Key, String), (&Value, &[u8])> = BTreeMap::new();
    let mut got_skipped: BTreeMap<(Key, String), String> = BTreeMap::new();
    for c in manifest["childJobs"].as_array().unwrap() {
        assert_eq!(c["status"], "SUCCESS", "{what}: {c:#}");
        let path = c["path"].as_str().unwrap();
        let (_host, rest) = path.split_once('/').unwrap();
        let key = (
            c["logCollectionType"].as_str().unwrap().to_string(),
            rest.to_string(),
        );
        for f in c["files"].as_array().unwrap() {
            let name = f["name"].as_str().unwrap().to_string();
            let data = &body[format!("{path}/{name}").as_str()].data;
            assert!(got_archived
                .insert((key.clone(), name), (f, data))
                .is_none());
        }
        for s in c["skipped"].as_array().unwrap() {
            let name = s["name"].as_str().unwrap().to_string();
            let reason = s["reason"].as_str().unwrap().to_string();
            assert!(got_skipped.insert((key.clone(), name), reason).is_none());
        }
    }

    let want = expected(placed, variant);
    let (mut archived, mut skipped) = (0, 0);
    for ((key, name), outcome) in &want {
        match outcome {
            Outcome::Archived {
                name: archived_as,
                bytes,
            } => {
                archived += 1;
                let (record, data) = got_archived
                    .remove(&(key.clone(), archived_as.clone()))
                    .unwrap_or_else(|| {
                        panic!(
                            "{what}: {key:?} {name:?} is not archived as {archived_as:?}; \
                             skipped: {:?}",
                            got_skipped.get(&(key.clone(), name.clone()))
                        )
                    });
                if variant == Variant::Cap && bytes.len() > CAP {
                    assert_eq!(record["truncated"], true, "{what}: {name:?}");
                    assert!(
                        data.len() <= CAP && !data.is_empty() && bytes.ends_with(data),
                        "{what}: {name:?}: not a tail of at most {CAP} bytes"
                    );
                } else {
                    assert!(data == &bytes[..], "{what}: {key:?} {name:?}: bytes differ");
                }
            }
            Outcome::Skipped { reason } => {
                skipped += 1;
                let got = got_skipped
                    .remove(&(key.clone(), name.clone()))
                    .unwrap_or_else(|| panic!("{what}: {key:?} {name:?} is not skipped"));
                assert!(got.contains(reason), "{what}: {name:?} skipped: {got}");
            }
        }
    }
    // Nothing else: no name the components do not select, no name twice.
    assert!(
        got_archived.is_empty(),
        "{what}: unexpected files {:?}",
        got_archived.keys()
    );
    assert!(
        got_skipped.is_empty(),
        "{what}: unexpected skips {got_skipped:?}"
    );
    assert_eq!(
        entries.len(),
        archived + 1,
        "{what}: entries besides the manifest"
    );

    // The live logs come last in their children when archived whole.
    if variant == Variant::Plain {
        assert!(
            archived > 400 && skipped == 0,
            "{what}: {archived} archived"
        );
        for (path, live) in [("rs0/27017", "mongod.log"), ("mongos/27016", MONGOS_LIVE)] {
            let c = manifest["childJobs"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["logCollectionType"] == "MONGODB" && c["path"] == format!("h1/{path}"))
                .unwrap();
            let files = c["files"].as_array().unwrap();
            assert_eq!(files.last().unwrap()["name"], live, "{what}");
        }
    }
    if variant == Variant::Before {
        assert_eq!(archived, 0, "{what}");
    }
}

#[test]
fn no_file_name_crashes_a_run() {
    let t = Tree::new();
    let (placed, request) = deployment(&t);
    for variant in [
        Variant::Plain,
        Variant::Window,
        Variant::Before,
        Variant::Cap,
        Variant::Redacted,
    ] {
        for threads in [1, 2] {
            run_variant(&t, &placed, &request, variant, threads);
        }
    }
}

/// The plan (`--dry-run --json`) lists the same names, and a name that is
/// not UTF-8 keeps the raw bytes of its path as `source`.
#[test]
fn the_plan_lists_hostile_names() {
    let t = Tree::new();
    let (placed, request) = deployment(&t);
    let req = t.request(&request);
    let run = logpack(&[
        "collect".as_ref(),
        req.as_os_str(),
        "--dry-run".as_ref(),
        "--json".as_ref(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let plan: Value = serde_json::from_slice(&run.stdout).expect("the plan is JSON");
    let comps = components();
    let mut got = Vec::new();
    for c in plan["components"].as_array().unwrap() {
        let (_host, path) = c["archiveDir"].as_str().unwrap().split_once('/').unwrap();
        let comp = comps
            .iter()
            .find(|k| k.log_type == c["logType"] && k.path == path)
            .unwrap();
        for f in c["files"].as_array().unwrap() {
            let name = f["name"].as_str().unwrap().to_string();
            let p = placed
                .iter()
                .find(|p| p.dir == comp.dir && escaped(&p.name) == name)
                .unwrap_or_else(|| panic!("{name:?} was not placed in {}", comp.dir));
            assert_eq!(f["size"], p.disk.len(), "{name:?}");
            let source: Option<Vec<u8>> = match &f["source"] {
                Value::Null => None,
                Value::String(s) => Some(s.as_bytes().to_vec()),
                Value::Array(a) => Some(a.iter().map(|b| b.as_u64().unwrap() as u8).collect()),
                other => panic!("{name:?}: source {other}"),
            };
            if std::str::from_utf8(&p.name).is_err() {
                let path = t.path(comp.dir).join(OsStr::from_bytes(&p.name));
                assert_eq!(
                    source.as_deref(),
                    Some(path.as_os_str().as_bytes()),
                    "{name:?}"
                );
            } else {
                assert_eq!(source, None, "{name:?}");
            }
            got.push(((comp.log_type.to_string(), path.to_string()), name));
        }
    }
    got.sort();
    let want: Vec<(Key, String)> = expected(&placed, Variant::Plain).into_keys().collect();
    assert_eq!(got, want);
}
