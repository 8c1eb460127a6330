//! A random mongod log directory, collected and read back.
//!
//! Each input builds one host with one mongod whose `logPath` is
//! `logs/mongod.log`, and fills `logs/` with the live log, rotated siblings
//! (`mongod.log.<token>`), unrelated files, symlinks (inside and outside the
//! directory), directories and sockets. Names come from a small alphabet that
//! includes the two bytes `0xc3` and `0xff`, so some names are not UTF-8.
//!
//! The collection goes to a `Vec<u8>` as plain tar with one reader thread.
//! Then `verify_reader` must accept it, its manifest must be the one that
//! `collect` returned, and the archive must hold exactly the files the rules
//! select (the live log and its siblings that are, or link inside the
//! directory to, regular files), each with the bytes on disk, rotated
//! siblings before the live log and `manifest.json` last.

#![no_main]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use logpack::manifest::{Status, MANIFEST_NAME};
use logpack::{Engine, Format, Options, Output, Request};

const LIVE: &str = "mongod.log";
/// At most this many directory entries per input.
const MAX_ENTRIES: usize = 12;
/// At most this many bytes padded out per input: one file may cross the
/// reader's 256 KiB chunk size, which keeps an iteration cheap.
const MAX_TOTAL_BYTES: usize = 320 * 1024;
/// The reader's chunk size (`read::CHUNK_SIZE`, private to the crate).
const CHUNK: usize = 256 * 1024;

/// Bytes allowed in file name tokens. Small, so that names meet often:
/// digits make numbered (`.1`) and dated (`.2026`) rotations, `g` and `z`
/// make `.gz`, and `0xc3` and `0xff` alone are not UTF-8.
const ALPHABET: &[u8] = b"agz0129-._\xc3\xff";
/// Bytes allowed in host and replica set names (never `/`, `.` or `..`
/// because of the fixed prefix).
const NAME_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789-._";

#[derive(Debug)]
struct Token(Vec<u8>);

impl<'a> Arbitrary<'a> for Token {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let len = u.int_in_range(1..=8)?;
        let mut bytes = Vec::with_capacity(len);
        for _ in 0..len {
            bytes.push(*u.choose(ALPHABET)?);
        }
        // Sometimes long enough for a GNU long-name entry (archive paths of
        // 100 bytes and more), always within NAME_MAX.
        if u.ratio(1, 8)? {
            while bytes.len() < 120 {
                bytes.extend_from_within(..bytes.len().min(120 - bytes.len()));
            }
        }
        Ok(Token(bytes))
    }
}

#[derive(Debug)]
struct Label(String);

impl<'a> Arbitrary<'a> for Label {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let len = u.int_in_range(0..=8)?;
        let mut s = String::with_capacity(len);
        for _ in 0..len {
            s.push(*u.choose(NAME_ALPHABET)? as char);
        }
        Ok(Label(s))
    }
}

#[derive(Arbitrary, Debug)]
enum Name {
    /// `mongod.log`.
    Live,
    /// `mongod.log.<token>`: a rotated sibling.
    Sibling(Token),
    /// `<prefix><token>`: may or may not be selected (`mongod.lo` + `g.1`).
    Other(u8, Token),
}

impl Name {
    fn bytes(&self) -> Vec<u8> {
        const PREFIXES: [&str; 5] = ["mongod.lo", "mongod.logs", "mongos.log.", "mongod", "x"];
        match self {
            Name::Live => LIVE.as_bytes().to_vec(),
            Name::Sibling(t) => [format!("{LIVE}.").as_bytes(), &t.0].concat(),
            Name::Other(p, t) => [PREFIXES[*p as usize % PREFIXES.len()].as_bytes(), &t.0].concat(),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Size {
    /// The bytes as given.
    AsIs,
    /// 511, 512 or 513 bytes: around a tar block.
    Block(u8),
    /// One chunk, minus one, exactly, or plus one.
    Chunk(u8),
}

#[derive(Arbitrary, Debug)]
enum Kind {
    File(Vec<u8>, Size),
    /// A relative symlink to the n-th entry (maybe itself, maybe missing).
    Link(u8),
    /// An absolute symlink to a regular file outside the directory.
    LinkOutside,
    Dir,
    Socket,
}

#[derive(Arbitrary, Debug)]
struct Entry {
    name: Name,
    kind: Kind,
}

#[derive(Arbitrary, Debug)]
struct Input {
    host: Label,
    replica_set: Option<Label>,
    port: u16,
    entries: Vec<Entry>,
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

/// The archive name logpack gives a file name: UTF-8 as it is, any other
/// byte written as `\xNN` (src/walk.rs `archive_name`). Written out again
/// here so that the target checks the rule rather than reusing the code.
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

/// Where each iteration's directory goes: `$LOGPACK_FUZZ_TMPDIR`, else
/// `/dev/shm` (tmpfs: creating and removing a dozen files per iteration on a
/// disk file system costs more than the collection), else the temp dir.
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

fn content(bytes: &[u8], size: &Size, budget: &mut usize) -> Vec<u8> {
    let want = match size {
        Size::AsIs => return bytes.to_vec(),
        Size::Block(n) => 511 + *n as usize % 3,
        Size::Chunk(n) => CHUNK - 1 + *n as usize % 3,
    };
    if want > *budget {
        return bytes.to_vec();
    }
    *budget -= want;
    if bytes.is_empty() {
        return vec![0; want];
    }
    bytes.iter().copied().cycle().take(want).collect()
}

fn selected(name: &str) -> bool {
    name == LIVE || name.starts_with(&format!("{LIVE}."))
}

fuzz_target!(|input: Input| {
    let temp = tempfile::Builder::new()
        .prefix("logpack-fuzz-")
        .tempdir_in(scratch_dir())
        .expect("temp dir");
    let logs = temp.path().join("logs");
    let outside = temp.path().join("outside.log");
    fs::create_dir(&logs).unwrap();
    fs::write(&outside, b"outside the log directory\n").unwrap();

    // Build the directory; the first entry of a name wins.
    let mut names: Vec<Vec<u8>> = Vec::new();
    let mut budget = MAX_TOTAL_BYTES;
    for entry in input.entries.iter().take(MAX_ENTRIES) {
        let name = entry.name.bytes();
        if names.contains(&name) {
            continue;
        }
        // A name spelling out `\xNN` next to the raw byte maps to the same
        // archive name; logpack then skips the later one. Not generated.
        if names.iter().any(|n| escaped(n) == escaped(&name)) {
            continue;
        }
        let path = logs.join(OsStr::from_bytes(&name));
        match &entry.kind {
            Kind::File(bytes, size) => fs::write(&path, content(bytes, size, &mut budget)).unwrap(),
            Kind::Link(i) => {
                // Names are only known up to this entry: a later index dangles.
                let target = match names.get(*i as usize) {
                    Some(t) => t.clone(),
                    None => b"missing".to_vec(),
                };
                std::os::unix::fs::symlink(OsStr::from_bytes(&target), &path).unwrap();
            }
            Kind::LinkOutside => std::os::unix::fs::symlink(&outside, &path).unwrap(),
            Kind::Dir => fs::create_dir(&path).unwrap(),
            // sun_path holds 108 bytes: long names get no socket.
            Kind::Socket => match UnixListener::bind(&path) {
                Ok(listener) => drop(listener),
                Err(_) => continue,
            },
        }
        names.push(name);
    }

    // What the rules select: a selected name that is a regular file, or a
    // symlink whose target is a regular file inside the directory.
    let root = fs::canonicalize(&logs).unwrap();
    let mut expected: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut collisions: Vec<&OsStr> = Vec::new();
    for name in &names {
        let archived_name = escaped(name);
        if !selected(&archived_name) {
            continue;
        }
        let path = logs.join(OsStr::from_bytes(name));
        let Ok(real) = fs::canonicalize(&path) else {
            continue; // dangling or looping symlink
        };
        if !real.starts_with(&root) || !fs::metadata(&real).unwrap().is_file() {
            continue;
        }
        if expected
            .insert(archived_name, fs::read(&real).unwrap())
            .is_some()
        {
            // Two names that differ only in non-UTF-8 bytes: checked below,
            // after collect and verify have shown what they make of it.
            collisions.push(OsStr::from_bytes(name));
        }
    }

    let host = format!("h{}", input.host.0);
    let port = input.port.max(1);
    let mut process = serde_json::json!({
        "type": "mongod",
        "port": port,
        "logPath": "logs/mongod.log",
    });
    let group = match &input.replica_set {
        Some(rs) => {
            let rs = format!("rs{}", rs.0);
            process["replicaSet"] = rs.clone().into();
            rs
        }
        None => "standalone".to_string(),
    };
    let json = serde_json::json!({ "hosts": [{ "hostname": host, "processes": [process] }] });
    let request = Request::from_json(&json.to_string(), temp.path()).expect("a valid request");

    let mut out = Vec::new();
    let report = engine()
        .collect(&request, Output::Writer(&mut out), None)
        .expect("collecting into a Vec cannot fail");
    let verified = logpack::verify::verify_reader(&out[..])
        .unwrap_or_else(|e| panic!("verify rejects a fresh archive: {e}"));
    assert!(
        collisions.is_empty(),
        "verify accepted an archive where {collisions:?} share an archive name"
    );
    let manifest = report.manifest.load().expect("the records read back");
    assert_eq!(verified.manifest, manifest);
    assert_eq!(verified.entries, expected.len());
    assert_eq!(
        verified.bytes,
        expected.values().map(|v| v.len() as u64).sum::<u64>()
    );

    let manifest = &manifest;
    let want_status = if expected.is_empty() {
        Status::Failure // neither the live log nor a sibling exists
    } else {
        Status::Success
    };
    assert_eq!(manifest.status, want_status, "{manifest:#?}");
    assert_eq!(manifest.child_jobs.len(), 1);
    let dir = format!("{host}/{group}/{port}");
    assert_eq!(manifest.child_jobs[0].path, dir);

    // Read the tar back independently of verify.
    let mut archive = tar::Archive::new(&out[..]);
    let mut got: Vec<(String, Vec<u8>)> = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = String::from_utf8(entry.path_bytes().into_owned()).expect("UTF-8 entry path");
        let mut body = Vec::new();
        entry.read_to_end(&mut body).unwrap();
        got.push((path, body));
    }
    let (last, _) = got.pop().expect("at least the manifest");
    assert_eq!(last, MANIFEST_NAME);
    let prefix = format!("{dir}/");
    let mut archived: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut order = Vec::new();
    for (path, body) in got {
        let name = path
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{path} is outside {prefix}"))
            .to_string();
        assert!(
            archived.insert(name.clone(), body).is_none(),
            "{name} archived twice"
        );
        order.push(name);
    }
    assert_eq!(
        archived.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "archived names differ from the selected ones"
    );
    for (name, body) in &archived {
        assert!(
            expected[name] == *body,
            "{name}: archived bytes differ from the file"
        );
    }
    if expected.contains_key(LIVE) {
        assert_eq!(
            order.last().map(String::as_str),
            Some(LIVE),
            "live log not last"
        );
    }
    let listed: Vec<String> = manifest.child_jobs[0]
        .files
        .iter()
        .map(|f| f.name.clone())
        .collect();
    assert_eq!(listed, order, "manifest order differs from archive order");
});
