//! Helpers shared by the integration tests: temporary deployment trees, the
//! built CLI, and independent readers of the archives it writes.
#![allow(dead_code)]

pub mod entries;
pub mod readers;
pub mod serve;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------
// Temporary deployment trees

/// A temporary directory to build a deployment (and its request) in.
pub struct Tree {
    pub dir: tempfile::TempDir,
}

impl Tree {
    pub fn new() -> Tree {
        Tree {
            dir: tempfile::Builder::new()
                .prefix("logpack-test-")
                .tempdir()
                .expect("create a temp dir"),
        }
    }

    /// The tree's root, canonical (so that symlink checks compare like with like).
    pub fn root(&self) -> PathBuf {
        fs::canonicalize(self.dir.path()).expect("canonical temp dir")
    }

    /// An absolute path inside the tree.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    /// Creates `rel` (and its parents) with `content`.
    pub fn file(&self, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, content).unwrap();
        p
    }

    /// Creates the directory `rel` and its parents.
    pub fn mkdir(&self, rel: &str) -> PathBuf {
        let p = self.path(rel);
        fs::create_dir_all(&p).unwrap();
        p
    }

    /// Creates a symlink at `rel` pointing to `target` (taken as is).
    pub fn symlink(&self, target: impl AsRef<Path>, rel: &str) -> PathBuf {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, &p).unwrap();
        p
    }

    /// Creates a FIFO at `rel`.
    pub fn fifo(&self, rel: &str) -> PathBuf {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        let status = Command::new("mkfifo").arg(&p).status().expect("run mkfifo");
        assert!(status.success(), "mkfifo {}", p.display());
        p
    }

    /// Writes `request` as `<rel>` and returns its path.
    pub fn request_at(&self, rel: &str, request: &Value) -> PathBuf {
        self.file(rel, serde_json::to_vec_pretty(request).unwrap())
    }

    /// Writes `request` as `request.json` at the root.
    pub fn request(&self, request: &Value) -> PathBuf {
        self.request_at("request.json", request)
    }
}

/// Deterministic mongod-like log text of exactly `len` bytes, ending with a
/// newline when `len > 0`; `seed` makes files distinguishable.
pub fn log_text(len: usize, seed: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 200);
    let mut i = 0u64;
    while out.len() < len {
        let line = format!(
            "{{\"t\":{{\"$date\":\"2026-11-20T10:{:02}:{:02}.{:03}Z\"}},\"s\":\"I\",\"c\":\"NETWORK\",\"id\":{},\"ctx\":\"conn{}\",\"msg\":\"seed {seed} line {i}\"}}\n",
            (i / 60) % 60,
            i % 60,
            i % 1000,
            22943 + (i % 7),
            i % 97
        );
        out.extend_from_slice(line.as_bytes());
        i += 1;
    }
    out.truncate(len);
    if len > 0 {
        out[len - 1] = b'\n';
    }
    out
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Names in `dir` that look like the engine's temporary files.
pub fn temp_files_in(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".logpack-") || n.ends_with(".tmp"))
        .collect()
}

/// Every name in `dir`, sorted.
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

// ---------------------------------------------------------------------------
// The CLI

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_logpack")
}

/// The sample deployment shipped with the crate.
pub fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sample")
}

/// What a CLI run produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Runs `logpack ARGS` to completion.
pub fn logpack<S: AsRef<OsStr>>(args: &[S]) -> Run {
    let out = Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run logpack");
    Run {
        code: out.status.code().expect("logpack exited by a signal"),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `logpack collect REQ -o OUT --format F --quiet`; asserts exit 0.
pub fn collect_ok(req: &Path, out: &Path, fmt: Fmt) -> Run {
    collect_ok_with(req, out, fmt, &[])
}

/// [`collect_ok`] with `extra` flags after the others.
pub fn collect_ok_with(req: &Path, out: &Path, fmt: Fmt, extra: &[&str]) -> Run {
    let mut args = vec![
        "collect".as_ref(),
        req.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
        "--format".as_ref(),
        fmt.flag().as_ref(),
        "--quiet".as_ref(),
    ];
    args.extend(extra.iter().map(OsStr::new));
    let run = logpack(&args);
    assert_eq!(run.code, 0, "collect failed: {}", run.stderr);
    run
}

/// Runs `logpack ARGS`, killing it and failing the test if it has not
/// finished after `limit`.
pub fn logpack_within<S: AsRef<OsStr>>(args: &[S], limit: Duration) -> Run {
    run_within(Command::new(bin()).args(args), limit)
}

/// Runs `cmd` (stdin closed, stdout and stderr through temporary files),
/// killing it and failing the test if it has not finished after `limit`.
pub fn run_within(cmd: &mut Command, limit: Duration) -> Run {
    try_run_within(cmd, limit).unwrap_or_else(|| panic!("{cmd:?} did not finish within {limit:?}"))
}

/// [`run_within`], but `None` (the process killed) when it has not finished
/// after `limit`, for a caller that has more to say.
pub fn try_run_within(cmd: &mut Command, limit: Duration) -> Option<Run> {
    let mut out = tempfile::tempfile().unwrap();
    let mut err = tempfile::tempfile().unwrap();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(err.try_clone().unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |f: &mut fs::File| {
        use std::io::{Seek, SeekFrom};
        let mut v = Vec::new();
        f.seek(SeekFrom::Start(0)).unwrap();
        f.read_to_end(&mut v).unwrap();
        v
    };
    Some(Run {
        code: status.code().expect("exited by a signal"),
        stdout: read(&mut out),
        stderr: String::from_utf8_lossy(&read(&mut err)).into_owned(),
    })
}

// ---------------------------------------------------------------------------
// Reading archives back with the tar crate

/// One archive entry.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub kind: tar::EntryType,
    pub mode: u32,
    pub data: Vec<u8>,
}

/// The uncompressed tar stream of an archive's bytes (gzip, zstd or plain,
/// told apart by magic bytes).
pub fn decompress(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    if bytes.starts_with(&[0x1f, 0x8b]) {
        flate2::read::MultiGzDecoder::new(bytes)
            .read_to_end(&mut out)
            .expect("gzip stream decodes");
    } else if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        zstd::stream::read::Decoder::new(bytes)
            .unwrap()
            .read_to_end(&mut out)
            .expect("zstd stream decodes");
    } else {
        out = bytes.to_vec();
    }
    out
}

/// Every entry of a tar stream, in order.
pub fn entries_of_tar(tar_bytes: &[u8]) -> Vec<Entry> {
    let mut archive = tar::Archive::new(tar_bytes);
    let mut out = Vec::new();
    for e in archive.entries().expect("tar entries") {
        let mut e = e.expect("tar entry");
        let name = String::from_utf8(e.path_bytes().into_owned()).expect("utf-8 entry name");
        let kind = e.header().entry_type();
        let mode = e.header().mode().unwrap_or(0);
        let mut data = Vec::new();
        e.read_to_end(&mut data).expect("entry body");
        assert_eq!(
            data.len() as u64,
            e.header().size().unwrap(),
            "{name}: body length differs from the header size"
        );
        out.push(Entry {
            name,
            kind,
            mode,
            data,
        });
    }
    out
}

/// Every entry of the archive at `path`, in order.
pub fn read_entries(path: &Path) -> Vec<Entry> {
    entries_of_tar(&decompress(&fs::read(path).unwrap()))
}

/// Checks that `manifest.json` is the last entry, and returns it parsed.
pub fn manifest_of(entries: &[Entry]) -> Value {
    let last = entries.last().expect("the archive has entries");
    assert_eq!(last.name, "manifest.json", "manifest.json must be last");
    assert_eq!(
        entries.iter().filter(|e| e.name == "manifest.json").count(),
        1,
        "exactly one manifest.json"
    );
    serde_json::from_slice(&last.data).expect("manifest.json parses")
}

/// Archive path → file record, over every child of the manifest.
pub fn manifest_files(manifest: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for child in manifest["childJobs"].as_array().expect("childJobs") {
        let dir = child["path"].as_str().unwrap();
        for f in child["files"].as_array().unwrap() {
            let path = format!("{dir}/{}", f["name"].as_str().unwrap());
            assert!(
                out.insert(path.clone(), f.clone()).is_none(),
                "{path} twice"
            );
        }
    }
    out
}

/// Checks that the manifest lists exactly the archive's entries (manifest
/// excluded), with their sizes and SHA-256s.
pub fn check_manifest_matches(entries: &[Entry], manifest: &Value) {
    let files = manifest_files(manifest);
    let body: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.name != "manifest.json")
        .collect();
    assert_eq!(
        files.keys().cloned().collect::<Vec<_>>(),
        {
            let mut v: Vec<String> = body.iter().map(|e| e.name.clone()).collect();
            v.sort();
            v
        },
        "manifest files vs archive entries"
    );
    let mut total = 0;
    for e in body {
        assert_eq!(e.kind, tar::EntryType::Regular, "{} is not regular", e.name);
        let f = &files[&e.name];
        assert_eq!(
            f["sha256"].as_str().unwrap(),
            sha256_hex(&e.data),
            "{}",
            e.name
        );
        assert_eq!(
            f["archivedBytes"].as_u64().unwrap(),
            e.data.len() as u64,
            "{}",
            e.name
        );
        total += e.data.len() as u64;
    }
    assert_eq!(
        manifest["uncompressedSizeTotalBytes"].as_u64().unwrap(),
        total
    );
}

/// The child of `manifest` whose archive path is `path` and type is `log_type`.
pub fn child<'m>(manifest: &'m Value, path: &str, log_type: &str) -> &'m Value {
    manifest["childJobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == path && c["logCollectionType"] == log_type)
        .unwrap_or_else(|| panic!("no {log_type} child at {path}: {manifest:#}"))
}

/// The names a manifest child lists under `skipped`, in order.
pub fn skipped_names(child: &Value) -> Vec<&str> {
    child["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect()
}

/// The entry named `name`.
pub fn entry<'e>(entries: &'e [Entry], name: &str) -> &'e Entry {
    entries.iter().find(|e| e.name == name).unwrap_or_else(|| {
        panic!(
            "no entry {name}; entries: {:?}",
            entries.iter().map(|e| &e.name).collect::<Vec<_>>()
        )
    })
}

// ---------------------------------------------------------------------------
// Outside readers

/// The archive formats the CLI writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fmt {
    Gz,
    Zst,
    Tar,
}

impl Fmt {
    pub fn flag(self) -> &'static str {
        match self {
            Fmt::Gz => "tar.gz",
            Fmt::Zst => "tar.zst",
            Fmt::Tar => "tar",
        }
    }

    /// GNU tar's option for the compression, if any.
    fn gnu_tar_option(self) -> Option<&'static str> {
        match self {
            Fmt::Gz => Some("-z"),
            Fmt::Zst => Some("--zstd"),
            Fmt::Tar => None,
        }
    }
}

fn lines_of(out: Vec<u8>) -> Vec<String> {
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn run_tool(mut cmd: Command) -> (Vec<u8>, String) {
    let shown = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{shown}: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{shown} failed ({}): {stderr}",
        out.status
    );
    assert!(stderr.is_empty(), "{shown} wrote to stderr: {stderr}");
    (out.stdout, stderr)
}

/// `tar -t[v]` with GNU tar; requires exit 0 and an empty stderr. Returns the
/// listed names (`-t`) or lines (`-tv`).
pub fn gnu_tar_list(archive: &Path, fmt: Fmt, verbose: bool) -> Vec<String> {
    let mut cmd = Command::new("tar");
    if let Some(o) = fmt.gnu_tar_option() {
        cmd.arg(o);
    }
    cmd.arg(if verbose { "-tvf" } else { "-tf" }).arg(archive);
    lines_of(run_tool(cmd).0)
}

/// `tar -x` with GNU tar into `dest`; requires exit 0 and an empty stderr.
pub fn gnu_tar_extract(archive: &Path, fmt: Fmt, dest: &Path) {
    fs::create_dir_all(dest).unwrap();
    let mut cmd = Command::new("tar");
    if let Some(o) = fmt.gnu_tar_option() {
        cmd.arg(o);
    }
    cmd.arg("-xf").arg(archive).arg("-C").arg(dest);
    run_tool(cmd);
}

/// Checks that GNU tar extracts exactly the archive's entries into `dest`
/// with their bytes (compared with `entries`, which came from the tar crate).
pub fn gnu_tar_extract_matches(archive: &Path, fmt: Fmt, dest: &Path, entries: &[Entry]) {
    gnu_tar_extract(archive, fmt, dest);
    let mut extracted = Vec::new();
    for e in walk_files(dest) {
        extracted.push(e.strip_prefix(dest).unwrap().to_string_lossy().into_owned());
    }
    extracted.sort();
    let mut names: Vec<String> = entries.iter().map(|e| e.name.clone()).collect();
    names.sort();
    assert_eq!(
        extracted, names,
        "GNU tar extracted a different set of files"
    );
    for e in entries {
        let got = fs::read(dest.join(&e.name)).unwrap();
        assert!(
            got == e.data,
            "{}: GNU tar extracted different bytes",
            e.name
        );
    }
}

/// Every regular file below `dir`, recursively (symlinks not followed).
pub fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

const PYTHON_READER: &str = r#"
import hashlib, sys, tarfile
src = sys.argv[1]
if src == "-":
    tf = tarfile.open(fileobj=sys.stdin.buffer, mode="r|")
else:
    tf = tarfile.open(src, mode="r:*")
for m in tf:
    if not m.isreg():
        print("NOTREG", 0, m.name)
        continue
    data = tf.extractfile(m).read()
    if len(data) != m.size:
        sys.exit("%s: read %d bytes, header says %d" % (m.name, len(data), m.size))
    print(hashlib.sha256(data).hexdigest(), m.size, m.name)
"#;

/// One member as Python's tarfile read it: (name, size, sha256).
pub type PyMember = (String, u64, String);

fn parse_python(out: &[u8]) -> Vec<PyMember> {
    String::from_utf8(out.to_vec())
        .unwrap()
        .lines()
        .map(|l| {
            let mut parts = l.splitn(3, ' ');
            let sha = parts.next().unwrap().to_string();
            let size = parts.next().unwrap().parse().unwrap();
            let name = parts.next().unwrap().to_string();
            (name, size, sha)
        })
        .collect()
}

/// Reads every member of the archive fully with Python's tarfile. zstd
/// archives are piped through the `zstd` program (tarfile has no zstd).
pub fn python_members(archive: &Path, fmt: Fmt) -> Vec<PyMember> {
    if fmt != Fmt::Zst {
        let mut cmd = Command::new("python3");
        cmd.arg("-c").arg(PYTHON_READER).arg(archive);
        let (out, _) = run_tool(cmd);
        return parse_python(&out);
    }
    let mut zstd = Command::new("zstd")
        .arg("-dc")
        .arg(archive)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run zstd");
    let py = Command::new("python3")
        .arg("-c")
        .arg(PYTHON_READER)
        .arg("-")
        .stdin(Stdio::from(zstd.stdout.take().unwrap()))
        .output()
        .expect("run python3");
    let zout = zstd.wait_with_output().unwrap();
    assert!(zout.status.success(), "zstd -dc failed");
    assert!(
        zout.stderr.is_empty(),
        "zstd -dc: {}",
        String::from_utf8_lossy(&zout.stderr)
    );
    let err = String::from_utf8_lossy(&py.stderr);
    assert!(py.status.success() && err.is_empty(), "python3: {err}");
    parse_python(&py.stdout)
}

/// Python's view must list the same members, with the same bytes, as `entries`.
pub fn python_matches(archive: &Path, fmt: Fmt, entries: &[Entry]) {
    let got = python_members(archive, fmt);
    let want: Vec<PyMember> = entries
        .iter()
        .map(|e| (e.name.clone(), e.data.len() as u64, sha256_hex(&e.data)))
        .collect();
    assert_eq!(got, want, "Python's tarfile reads a different archive");
}

/// Whether `prog` is on PATH.
pub fn on_path(prog: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(prog).is_file()))
        .unwrap_or(false)
}

/// True when bsdtar can be used. Without it the test fails under CI=true
/// and prints a skip note otherwise.
pub fn bsdtar_available() -> bool {
    if on_path("bsdtar") {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(!ci, "bsdtar is required in CI but is not on PATH");
    eprintln!("note: bsdtar is not on PATH; skipping the bsdtar check");
    false
}

/// `bsdtar -tf`; requires exit 0 and an empty stderr.
pub fn bsdtar_list(archive: &Path) -> Vec<String> {
    let mut cmd = Command::new("bsdtar");
    cmd.arg("-tf").arg(archive);
    lines_of(run_tool(cmd).0)
}

/// `gzip -t`; requires exit 0 and an empty stderr.
pub fn gzip_test(archive: &Path) {
    let mut cmd = Command::new("gzip");
    cmd.arg("-t").arg(archive);
    run_tool(cmd);
}

/// Reads an archive with every outside reader available (GNU tar list and
/// extract, Python's tarfile, gzip/zstd integrity, bsdtar) and checks they
/// all agree with `entries` (read by the tar crate).
pub fn check_outside_readers(archive: &Path, fmt: Fmt, entries: &[Entry], scratch: &Path) {
    let names: Vec<String> = entries.iter().map(|e| e.name.clone()).collect();
    assert_eq!(gnu_tar_list(archive, fmt, false), names, "GNU tar -t");
    let verbose = gnu_tar_list(archive, fmt, true);
    assert_eq!(verbose.len(), names.len(), "GNU tar -tv");
    gnu_tar_extract_matches(archive, fmt, &scratch.join("gnu-x"), entries);
    python_matches(archive, fmt, entries);
    match fmt {
        Fmt::Gz => gzip_test(archive),
        Fmt::Zst => {
            let mut cmd = Command::new("zstd");
            cmd.arg("-q").arg("-t").arg(archive);
            run_tool(cmd);
        }
        Fmt::Tar => {}
    }
    if bsdtar_available() {
        assert_eq!(bsdtar_list(archive), names, "bsdtar -t");
    }
}

/// Pipes `bytes` into `cmd` and returns its output.
pub fn pipe_into(mut cmd: Command, bytes: &[u8]) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().unwrap();
    let data = bytes.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}
