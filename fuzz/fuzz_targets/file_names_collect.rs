//! Hostile file names in every directory logpack lists, collected.
//!
//! Each input names up to 12 files: a known prefix (`automation-agent`,
//! `mongod.log.`, `metrics.2026-11-20T10-00-00Z-`, `mms0-access`, `daemon`,
//! …, or none) followed by arbitrary bytes, put in the agent log directory,
//! the mongod's log directory, its `diagnostic.data` or the Ops Manager log
//! directory. Names that cannot exist (empty, `.`, `..`, a NUL, too long, a
//! `/` outside `diagnostic.data`) are left out. A file may get a `.gz` twin
//! (`x` and `x.gz`). A text file holds a few log lines (gzip when its name
//! ends with `.gz`), an FTDC file a few documents.
//!
//! The request is collected plain, with a time range, with a size cap or
//! redacted (plain tar, one thread, into a `Vec`). The run must not panic,
//! `verify_reader` must accept the archive, and every name in the manifest
//! (archived or skipped) must be one of the names put in that child's
//! directory (or, for a decompressed `.gz`, that name without `.gz`), and
//! belong to one child only.

#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use logpack::walk::archive_name;
use logpack::{Engine, Format, Options, Output, Request};

const MAX_FILES: usize = 12;

const PREFIXES: &[&str] = &[
    "",
    "automation-agent",
    "automation-agent-verbose.log.",
    "monitoring-agent.log",
    "backup-agent",
    "mongod.log",
    "mongod.log.",
    "mongod.log.2026-11-20T10-00-00",
    "metrics.",
    "metrics.2026-11-20T10-00-00Z-",
    "mms0",
    "mms0.2026-11-20",
    "mms0-access",
    "mms-migration",
    "daemon",
];

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq)]
enum Dir {
    Agent,
    Mongod,
    Ftdc,
    Om,
}

impl Dir {
    fn rel(self) -> &'static str {
        match self {
            Dir::Agent => "agent",
            Dir::Mongod => "rs0",
            Dir::Ftdc => "rs0/db/diagnostic.data",
            Dir::Om => "om",
        }
    }

    /// The archive paths (without the host) of the children that list it.
    fn children(self) -> &'static [&'static str] {
        match self {
            Dir::Agent => &["automation_agent"],
            Dir::Mongod => &["rs0/27017"],
            Dir::Ftdc => &["rs0/27017/diagnostic.data"],
            Dir::Om => &["application", "http_access", "migration", "daemon"],
        }
    }
}

#[derive(Arbitrary, Debug)]
struct FileSpec {
    dir: Dir,
    prefix: u8,
    tail: Vec<u8>,
    /// A `.gz` whose bytes are not gzip (reading it fails: a FAILURE child).
    bogus_gz: bool,
    /// Also put `<name>.gz` beside it: decompressed, it takes this name.
    gz_twin: bool,
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq)]
enum Variant {
    Plain,
    Window,
    Before,
    Cap(u16),
    Redacted,
}

#[derive(Arbitrary, Debug)]
struct Input {
    files: Vec<FileSpec>,
    variant: Variant,
}

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        Engine::new(Options {
            threads: 1,
            format: Format::Tar,
            ..Options::default()
        })
        .expect("valid options")
    })
}

/// `$LOGPACK_FUZZ_TMPDIR`, else `/dev/shm`, else the temp dir (as
/// `manifest_roundtrip`).
fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("LOGPACK_FUZZ_TMPDIR") {
            return dir.into();
        }
        let shm = Path::new("/dev/shm");
        match tempfile::tempdir_in(shm) {
            Ok(_) => shm.to_path_buf(),
            Err(_) => std::env::temp_dir(),
        }
    })
}

fn text(seed: usize) -> Vec<u8> {
    (0..4)
        .flat_map(|i| {
            format!(
                "{{\"t\":{{\"$date\":\"2026-11-20T10:0{i}:00.000Z\"}},\"s\":\"I\",\"c\":\"NETWORK\",\"id\":{seed},\"ctx\":\"conn{i}\",\"msg\":\"file {seed}\"}}\n"
            )
            .into_bytes()
        })
        .collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn ftdc(seed: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..1 + seed % 4 {
        out.extend_from_slice(&40u32.to_le_bytes());
        out.extend(std::iter::repeat_n(b'a' + (i % 26) as u8, 35));
        out.push(0);
    }
    out
}

/// Whether `name` can be created under a directory: a single component
/// (several inside `diagnostic.data`), none empty, `.` or `..`.
fn creatable(name: &[u8], nested: bool) -> bool {
    !name.contains(&0)
        && name
            .split(|&b| b == b'/')
            .all(|c| !c.is_empty() && c != b"." && c != b".." && c.len() <= 255)
        && (nested || !name.contains(&b'/'))
}

fuzz_target!(|input: Input| {
    let temp = tempfile::Builder::new()
        .prefix("logpack-fuzz-")
        .tempdir_in(scratch_dir())
        .expect("temp dir");
    let root = temp.path();
    for dir in [Dir::Agent, Dir::Mongod, Dir::Ftdc, Dir::Om] {
        fs::create_dir_all(root.join(dir.rel())).unwrap();
    }

    // The archive names put in each directory.
    let mut put: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    for (i, f) in input.files.iter().take(MAX_FILES).enumerate() {
        let prefix = PREFIXES[f.prefix as usize % PREFIXES.len()];
        let name = [prefix.as_bytes(), &f.tail].concat();
        let twin = f.gz_twin.then(|| [&name[..], b".gz"].concat());
        for (k, name) in std::iter::once(name).chain(twin).enumerate() {
            if !creatable(&name, f.dir == Dir::Ftdc) {
                continue;
            }
            let seed = 2 * i + k;
            let dir = root.join(f.dir.rel());
            let path = dir.join(OsStr::from_bytes(&name));
            let body = match f.dir {
                Dir::Ftdc => ftdc(seed),
                _ if name.ends_with(b".gz") && !f.bogus_gz => gzip(&text(seed)),
                _ => text(seed),
            };
            if let Some(parent) = path.parent() {
                if fs::create_dir_all(parent).is_err() {
                    continue; // a file is in the way
                }
            }
            if fs::write(&path, body).is_err() {
                continue; // a directory is in the way
            }
            let archived = archive_name(path.strip_prefix(&dir).unwrap().as_os_str());
            put.entry(f.dir.rel()).or_default().insert(archived);
        }
    }

    let mut request = serde_json::json!({"hosts": [
        {"hostname": "h1", "agentLogDir": "agent",
         "processes": [{"type": "mongod", "replicaSet": "rs0", "port": 27017,
                        "logPath": "rs0/mongod.log", "dbPath": "rs0/db"}]},
        {"hostname": "h2", "omLogDir": "om"}]});
    match input.variant {
        Variant::Plain => {}
        Variant::Window => {
            request["logCollectionFromDate"] = "2026-11-20T10:01:00Z".into();
            request["logCollectionToDate"] = "2026-11-20T10:02:00Z".into();
        }
        Variant::Before => request["logCollectionToDate"] = "2026-11-01T00:00:00Z".into(),
        Variant::Cap(n) => request["sizeRequestedPerFileBytes"] = (1 + n as u64).into(),
        Variant::Redacted => request["redacted"] = true.into(),
    }
    let request = Request::from_json(&request.to_string(), root).expect("a valid request");

    let mut out = Vec::new();
    let report = engine()
        .collect(&request, Output::Writer(&mut out), None)
        .expect("collecting into a Vec cannot fail");
    let verified = logpack::verify::verify_reader(&out[..])
        .unwrap_or_else(|e| panic!("verify rejects a fresh archive: {e}"));
    let manifest = report.manifest.load().expect("the records read back");
    assert_eq!(verified.manifest, manifest);

    // Every name listed was put in that child's directory, in one child.
    let decompresses = input.variant != Variant::Plain;
    let mut seen: BTreeSet<(&str, String)> = BTreeSet::new();
    for child in &manifest.child_jobs {
        let (_host, path) = child.path.split_once('/').expect("host/...");
        let dir = [Dir::Agent, Dir::Mongod, Dir::Ftdc, Dir::Om]
            .into_iter()
            .find(|d| d.children().contains(&path))
            .unwrap_or_else(|| panic!("unexpected child {}", child.path));
        let names = put.get(dir.rel());
        let was_put = |n: &str| names.is_some_and(|s| s.contains(n));
        for f in &child.files {
            // A decompressed `.gz` is archived without `.gz`: a name that
            // still ends with `.gz`, or that was not put, came from one.
            let renamed =
                decompresses && dir != Dir::Ftdc && (f.name.ends_with(".gz") || !was_put(&f.name));
            let source = if renamed {
                format!("{}.gz", f.name)
            } else {
                f.name.clone()
            };
            assert!(
                was_put(&source),
                "{}: {:?} was never put there",
                child.path,
                f.name
            );
            assert!(
                seen.insert((dir.rel(), source)),
                "{:?} listed twice",
                f.name
            );
        }
        for s in &child.skipped {
            assert!(
                was_put(&s.name),
                "{}: {:?} was never put there",
                child.path,
                s.name
            );
            assert!(
                seen.insert((dir.rel(), s.name.clone())),
                "{:?} listed twice",
                s.name
            );
        }
    }
});
