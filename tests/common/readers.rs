//! The reader matrix: every archive logpack writes must be read completely,
//! with nothing at all on stderr, by each of several independent readers,
//! and each must see exactly the expected entries (archive path, size and
//! SHA-256 of the body), in order, with `manifest.json` last.
//!
//! tar.gz: GNU tar (`-tzvf` and `-xzf`), bsdtar (`-tf` and `-xf`), Python's
//! tarfile in random-access (`r:gz`) and stream (`r|gz`) mode, Go's
//! `archive/tar` + `compress/gzip` (`tests/go_reader`), `gzip -t`,
//! `zcat | tar` (list and extract), and in-process the single-member
//! `flate2::read::GzDecoder` + the `tar` crate. Python's stream mode and the
//! single-member decoder stop after the first gzip member, so they prove
//! that the whole tar stream lives in that member.
//!
//! tar.zst: `zstd -t`, GNU tar (`--zstd -tvf` and `--zstd -xf`), bsdtar,
//! `zstd -dc | tar`, `zstd -dc | python3 tarfile r|`, and in-process the
//! `zstd` crate's decoder + the `tar` crate.
//!
//! A reader whose program is missing is skipped with a note, except under
//! `CI=1` / `CI=true`, where that fails the test.

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use super::{entries_of_tar, on_path, sha256_hex, walk_files, Entry, Fmt};

/// One entry as a reader saw it: (archive path, size, SHA-256 hex of the body).
pub type Member = (String, u64, String);

/// The members `entries` (as read by the project's own reader) stand for.
pub fn expected_members(entries: &[Entry]) -> Vec<Member> {
    entries
        .iter()
        .map(|e| (e.name.clone(), e.data.len() as u64, sha256_hex(&e.data)))
        .collect()
}

/// What one reader of the matrix made of an archive: the members it listed
/// (`None` for an integrity-only reader such as `gzip -t`), or why it failed
/// (a non-zero exit, anything on stderr, a decode error, a panic).
pub struct ReaderResult {
    pub reader: &'static str,
    pub outcome: Result<Option<Vec<Member>>, String>,
}

type Outcome = Result<Option<Vec<Member>>, String>;

/// Runs every reader of the matrix for `fmt` on `archive` and asserts each
/// yields exactly `expected`, in order, and kept stderr empty. Every reader
/// runs before the assertion, whose message names each failing reader with
/// its error or its first difference from `expected`.
pub fn check_reader_matrix(archive: &Path, fmt: Fmt, expected: &[Entry], scratch: &Path) {
    let want = expected_members(expected);
    assert_eq!(
        want.last().map(|m| m.0.as_str()),
        Some("manifest.json"),
        "the expected entries must end with manifest.json"
    );
    let results = run_reader_matrix(archive, fmt, scratch);
    let mut failures = Vec::new();
    for r in &results {
        match &r.outcome {
            Err(e) => failures.push(format!("[{}] {e}", r.reader)),
            Ok(None) => {}
            Ok(Some(got)) => {
                if let Some(diff) = first_difference(got, &want) {
                    failures.push(format!("[{}] {diff}", r.reader));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} readers failed on {}:\n{}",
        failures.len(),
        results.len(),
        archive.display(),
        failures.join("\n")
    );
}

/// Runs every reader of the matrix for `fmt` on `archive`, without judging
/// what they listed. A reader whose program is missing is left out with a
/// note on stderr, or fails the test under CI.
pub fn run_reader_matrix(archive: &Path, fmt: Fmt, scratch: &Path) -> Vec<ReaderResult> {
    fs::create_dir_all(scratch).unwrap();
    let dir = |name: &str| scratch.join(name);
    let mut out = Vec::new();
    let mut run = |reader: &'static str, progs: &[&str], f: &dyn Fn() -> Outcome| {
        if progs.iter().all(|p| available(p, reader)) {
            let outcome =
                catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| Err(panic_text(&*p)));
            out.push(ReaderResult { reader, outcome });
        }
    };
    match fmt {
        Fmt::Gz => {
            run("GNU tar -tzvf/-xzf", &["tar", "gzip"], &|| {
                gnu_tar(TarInput::File(archive, Some("-z")), &dir("gnu-tar-z"))
            });
            run("bsdtar -tf/-xf", &["bsdtar"], &|| {
                bsdtar(archive, &dir("bsdtar"))
            });
            run("python3 tarfile r:gz", &["python3"], &|| {
                python(TarInput::File(archive, None), "r:gz")
            });
            run("python3 tarfile r|gz", &["python3"], &|| {
                python(TarInput::File(archive, None), "r|gz")
            });
            run("go archive/tar + compress/gzip", &["go"], &|| {
                go_reader(archive)
            });
            run("gzip -t", &["gzip"], &|| {
                let mut cmd = Command::new("gzip");
                cmd.arg("-t").arg(archive);
                tool(cmd).map(|_| None)
            });
            run("zcat | GNU tar -tvf -/-xf -", &["zcat", "tar"], &|| {
                let zcat = || {
                    let mut c = Command::new("zcat");
                    c.arg(archive);
                    c
                };
                gnu_tar(TarInput::Pipe(&zcat), &dir("zcat-tar"))
            });
            run(
                "rust flate2 GzDecoder (first member only) + tar crate",
                &[],
                &|| {
                    let mut bytes = Vec::new();
                    flate2::read::GzDecoder::new(fs::File::open(archive).unwrap())
                        .read_to_end(&mut bytes)
                        .map_err(|e| format!("gzip: {e}"))?;
                    in_process_tar(&bytes)
                },
            );
        }
        Fmt::Zst => {
            run("zstd -t", &["zstd"], &|| {
                let mut cmd = Command::new("zstd");
                cmd.arg("-q").arg("-t").arg(archive);
                tool(cmd).map(|_| None)
            });
            run("GNU tar --zstd -tvf/-xf", &["tar", "zstd"], &|| {
                gnu_tar(
                    TarInput::File(archive, Some("--zstd")),
                    &dir("gnu-tar-zstd"),
                )
            });
            run("bsdtar -tf/-xf", &["bsdtar"], &|| {
                bsdtar(archive, &dir("bsdtar"))
            });
            let zstd_dc = || {
                let mut c = Command::new("zstd");
                c.arg("-q").arg("-dc").arg(archive);
                c
            };
            run("zstd -dc | GNU tar -tvf -/-xf -", &["zstd", "tar"], &|| {
                gnu_tar(TarInput::Pipe(&zstd_dc), &dir("zstd-tar"))
            });
            run(
                "zstd -dc | python3 tarfile r|",
                &["zstd", "python3"],
                &|| python(TarInput::Pipe(&zstd_dc), "r|"),
            );
            run("rust zstd Decoder + tar crate", &[], &|| {
                let mut bytes = Vec::new();
                zstd::stream::read::Decoder::new(fs::File::open(archive).unwrap())
                    .and_then(|mut d| d.read_to_end(&mut bytes))
                    .map_err(|e| format!("zstd: {e}"))?;
                in_process_tar(&bytes)
            });
        }
        Fmt::Tar => {
            run("GNU tar -tvf/-xf", &["tar"], &|| {
                gnu_tar(TarInput::File(archive, None), &dir("gnu-tar"))
            });
            run("bsdtar -tf/-xf", &["bsdtar"], &|| {
                bsdtar(archive, &dir("bsdtar"))
            });
            run("python3 tarfile r:", &["python3"], &|| {
                python(TarInput::File(archive, None), "r:")
            });
            run("rust tar crate", &[], &|| {
                in_process_tar(&fs::read(archive).unwrap())
            });
        }
    }
    for r in &out {
        match &r.outcome {
            Ok(None) => println!("reader matrix: {}: ok", r.reader),
            Ok(Some(m)) => println!("reader matrix: {}: {} entries", r.reader, m.len()),
            Err(e) => println!("reader matrix: {}: FAILED: {e}", r.reader),
        }
    }
    out
}

/// Where the first difference between `got` and `want` is, if any.
fn first_difference(got: &[Member], want: &[Member]) -> Option<String> {
    if let Some(i) = (0..got.len().min(want.len())).find(|&i| got[i] != want[i]) {
        return Some(format!(
            "entry {i} differs: got {:?}, expected {:?}",
            got[i], want[i]
        ));
    }
    match got.len().cmp(&want.len()) {
        std::cmp::Ordering::Less => Some(format!(
            "{} entries, expected {}: missing from {:?} on",
            got.len(),
            want.len(),
            want[got.len()].0
        )),
        std::cmp::Ordering::Greater => Some(format!(
            "{} entries, expected {}: extra from {:?} on",
            got.len(),
            want.len(),
            got[want.len()]
        )),
        std::cmp::Ordering::Equal => None,
    }
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        format!("panicked: {s}")
    } else if let Some(s) = p.downcast_ref::<String>() {
        format!("panicked: {s}")
    } else {
        "panicked".to_string()
    }
}

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Whether `prog` can be run for `reader`. A missing program fails the test
/// under CI and leaves the reader out, with a note, otherwise. `tar` must be
/// GNU tar and `go` must build the reader.
fn available(prog: &str, reader: &str) -> bool {
    let why = match prog {
        "tar" if on_path("tar") => (!is_gnu_tar()).then(|| "`tar` is not GNU tar".to_string()),
        "go" if on_path("go") => go_reader_bin().as_ref().err().cloned(),
        _ if on_path(prog) => None,
        _ => Some(format!("{prog} is not on PATH")),
    };
    let Some(why) = why else { return true };
    assert!(!under_ci(), "reader {reader}: {why}, and CI requires it");
    eprintln!("note: skipping reader {reader}: {why}");
    false
}

fn is_gnu_tar() -> bool {
    static GNU: OnceLock<bool> = OnceLock::new();
    *GNU.get_or_init(|| {
        Command::new("tar")
            .arg("--version")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("GNU tar"))
    })
}

// ---------------------------------------------------------------------------
// Running programs

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        let a = a.to_string_lossy();
        s.push(' ');
        // An inline script (python3 -c) is shown as `<script>`.
        s.push_str(if a.contains('\n') { "<script>" } else { &a });
    }
    s
}

/// Checks that a finished program exited 0 with nothing on stderr.
fn judge(shown: &str, out: &Output) -> Result<(), String> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!(
            "`{shown}` failed ({}); stderr: {stderr:?}",
            out.status
        ));
    }
    if !stderr.is_empty() {
        return Err(format!(
            "`{shown}` succeeded but wrote to stderr: {stderr:?}"
        ));
    }
    Ok(())
}

/// Runs `cmd` (stdin closed); its stdout if it exited 0 with an empty stderr.
fn tool(mut cmd: Command) -> Result<Vec<u8>, String> {
    let shown = describe(&cmd);
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("`{shown}`: {e}"))?;
    judge(&shown, &out)?;
    Ok(out.stdout)
}

/// Runs `first | second`; second's stdout if both exited 0 with an empty
/// stderr (first's goes to an anonymous file, so that neither can block).
fn pipeline(mut first: Command, mut second: Command) -> Result<Vec<u8>, String> {
    let shown = format!("{} | {}", describe(&first), describe(&second));
    let mut err_file = tempfile::tempfile().unwrap();
    let mut a = first
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(err_file.try_clone().unwrap())
        .spawn()
        .map_err(|e| format!("`{shown}`: {e}"))?;
    let b = second
        .stdin(Stdio::from(a.stdout.take().unwrap()))
        .output()
        .map_err(|e| format!("`{shown}`: {e}"));
    let status = a.wait().unwrap();
    let mut stderr = Vec::new();
    err_file.seek(SeekFrom::Start(0)).unwrap();
    err_file.read_to_end(&mut stderr).unwrap();
    let a_out = Output {
        status,
        stdout: Vec::new(),
        stderr,
    };
    judge(&describe(&first), &a_out).map_err(|e| format!("in `{shown}`: {e}"))?;
    let b = b?;
    judge(&describe(&second), &b).map_err(|e| format!("in `{shown}`: {e}"))?;
    Ok(b.stdout)
}

/// What a tar program reads: a file (with GNU tar's decompression option,
/// if any), or the stdout of a decompressor.
#[derive(Clone, Copy)]
enum TarInput<'a> {
    File(&'a Path, Option<&'static str>),
    Pipe(&'a dyn Fn() -> Command),
}

fn sha256_file(path: &Path) -> Result<(u64, String), String> {
    let data = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((data.len() as u64, sha256_hex(&data)))
}

/// Pairs a listing (name, listed size) with the files extracted into
/// `dest`: each listed name must have been extracted with the listed size,
/// and nothing else extracted.
fn with_extracted(listed: Vec<(String, u64)>, dest: &Path) -> Outcome {
    let mut members = Vec::new();
    for (name, size) in listed {
        let (got, sha) = sha256_file(&dest.join(&name))?;
        if got != size {
            return Err(format!("{name}: listed with {size} bytes, extracted {got}"));
        }
        members.push((name, size, sha));
    }
    let mut extracted: Vec<String> = walk_files(dest)
        .iter()
        .map(|p| p.strip_prefix(dest).unwrap().to_string_lossy().into_owned())
        .collect();
    extracted.sort();
    let mut names: Vec<String> = members.iter().map(|m| m.0.clone()).collect();
    names.sort();
    names.dedup();
    if extracted != names {
        return Err(format!(
            "extracted files {extracted:?} differ from the listed names {names:?}"
        ));
    }
    Ok(Some(members))
}

fn fresh_dir(dest: &Path) {
    if dest.exists() {
        fs::remove_dir_all(dest).unwrap();
    }
    fs::create_dir_all(dest).unwrap();
}

// ---------------------------------------------------------------------------
// The readers

/// GNU tar: `tar [-z|--zstd] -tvf` lists names and sizes in order, and
/// `tar -xf` into `dest` gives the bytes.
fn gnu_tar(input: TarInput, dest: &Path) -> Outcome {
    let tar = |mode: &str| {
        let mut cmd = Command::new("tar");
        match input {
            TarInput::File(archive, opt) => {
                cmd.args(opt).arg(mode).arg(archive);
            }
            TarInput::Pipe(_) => {
                cmd.arg(mode).arg("-");
            }
        }
        cmd
    };
    let run = |cmd: Command| match input {
        TarInput::File(..) => tool(cmd),
        TarInput::Pipe(first) => pipeline(first(), cmd),
    };
    let listing = run(tar("-tvf"))?;
    let listed = parse_gnu_tar_verbose(&listing)?;
    fresh_dir(dest);
    let mut x = tar("-xf");
    x.arg("-C").arg(dest);
    run(x)?;
    with_extracted(listed, dest)
}

/// Parses `tar -tv` lines: `MODE OWNER/GROUP SIZE DATE TIME NAME`.
fn parse_gnu_tar_verbose(out: &[u8]) -> Result<Vec<(String, u64)>, String> {
    let text = String::from_utf8(out.to_vec()).map_err(|e| format!("listing: {e}"))?;
    text.lines()
        .map(|line| {
            let mut rest = line;
            let mut fields = Vec::new();
            for _ in 0..5 {
                rest = rest.trim_start_matches(' ');
                let end = rest.find(' ').ok_or_else(|| format!("bad line {line:?}"))?;
                fields.push(&rest[..end]);
                rest = &rest[end..];
            }
            let name = rest.strip_prefix(' ').unwrap_or(rest);
            if !fields[0].starts_with('-') {
                return Err(format!("not a regular file: {line:?}"));
            }
            let size = fields[2]
                .parse()
                .map_err(|_| format!("bad size in {line:?}"))?;
            Ok((name.to_string(), size))
        })
        .collect()
}

/// bsdtar: `bsdtar -tf` lists the names in order, and `bsdtar -xf` into
/// `dest` gives sizes and bytes.
fn bsdtar(archive: &Path, dest: &Path) -> Outcome {
    let mut t = Command::new("bsdtar");
    t.arg("-tf").arg(archive);
    let names = tool(t)?;
    let names = String::from_utf8(names).map_err(|e| format!("listing: {e}"))?;
    fresh_dir(dest);
    let mut x = Command::new("bsdtar");
    x.arg("-xf").arg(archive).arg("-C").arg(dest);
    tool(x)?;
    let mut listed = Vec::new();
    for name in names.lines() {
        let (size, _) = sha256_file(&dest.join(name))?;
        listed.push((name.to_string(), size));
    }
    with_extracted(listed, dest)
}

/// Python's tarfile in `mode`, reading each member fully, then the rest of
/// the (decompressed) stream to EOF, which must be zeros.
const PYTHON_READER: &str = r#"
import hashlib, sys, tarfile
src, mode = sys.argv[1], sys.argv[2]
if src == "-":
    tf = tarfile.open(fileobj=sys.stdin.buffer, mode=mode)
else:
    tf = tarfile.open(src, mode=mode)
out = []
for m in tf:
    if not m.isreg():
        sys.exit("%s: not a regular file" % m.name)
    data = tf.extractfile(m).read()
    if len(data) != m.size:
        sys.exit("%s: read %d bytes, header says %d" % (m.name, len(data), m.size))
    out.append("%s\t%d\t%s\n" % (m.name, m.size, hashlib.sha256(data).hexdigest()))
rest = 0
while True:
    chunk = tf.fileobj.read(1 << 16)
    if not chunk:
        break
    if chunk.count(0) != len(chunk):
        sys.exit("non-zero data after the tar end-of-archive marker")
    rest += len(chunk)
tf.close()
sys.stdout.write("".join(out))
"#;

fn python(input: TarInput, mode: &str) -> Outcome {
    let mut py = Command::new("python3");
    py.arg("-c").arg(PYTHON_READER);
    let out = match input {
        TarInput::File(archive, _) => {
            py.arg(archive).arg(mode);
            tool(py)?
        }
        TarInput::Pipe(first) => {
            py.arg("-").arg(mode);
            pipeline(first(), py)?
        }
    };
    parse_tab_members(&out).map(Some)
}

/// Parses `path\tsize\tsha256` lines (the path may hold tabs).
fn parse_tab_members(out: &[u8]) -> Result<Vec<Member>, String> {
    let text = String::from_utf8(out.to_vec()).map_err(|e| format!("output: {e}"))?;
    text.lines()
        .map(|l| {
            let mut parts = l.rsplitn(3, '\t');
            let sha = parts.next().unwrap();
            let size = parts.next().and_then(|s| s.parse().ok());
            match (parts.next(), size) {
                (Some(name), Some(size)) => Ok((name.to_string(), size, sha.to_string())),
                _ => Err(format!("bad line {l:?}")),
            }
        })
        .collect()
}

/// The Go reader in `tests/go_reader`, built once per test process into
/// the target directory (offline, with caches under /tmp unless GOPATH /
/// GOCACHE are set, like `.ci/run` builds `examples/go`).
fn go_reader_bin() -> &'static Result<PathBuf, String> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/go_reader");
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("go_reader");
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let bin = dir.join("logpackreader");
        // Built under a name of its own, then renamed: test binaries run
        // concurrently may build it at the same time.
        let tmp = dir.join(format!("logpackreader.{}", std::process::id()));
        let env_or = |k: &str, d: &str| std::env::var_os(k).unwrap_or_else(|| d.into());
        let mut cmd = Command::new("go");
        cmd.current_dir(&src)
            .args(["build", "-buildvcs=false", "-o"])
            .arg(&tmp)
            .arg(".")
            .env("GOFLAGS", "-mod=mod")
            .env("GOPROXY", "off")
            .env("GOTOOLCHAIN", "local")
            .env("GOPATH", env_or("GOPATH", "/tmp/logpack-go/path"))
            .env("GOCACHE", env_or("GOCACHE", "/tmp/logpack-go/cache"));
        let shown = describe(&cmd);
        let out = cmd.output().map_err(|e| format!("`{shown}`: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "`{shown}` failed to build the Go reader: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        fs::rename(&tmp, &bin).map_err(|e| format!("{}: {e}", bin.display()))?;
        Ok(bin)
    })
}

fn go_reader(archive: &Path) -> Outcome {
    let bin = go_reader_bin().as_ref().map_err(Clone::clone)?;
    let mut cmd = Command::new(bin);
    cmd.arg(archive);
    parse_tab_members(&tool(cmd)?).map(Some)
}

/// The tar crate, in process, on an uncompressed tar stream.
fn in_process_tar(tar_bytes: &[u8]) -> Outcome {
    Ok(Some(expected_members(&entries_of_tar(tar_bytes))))
}
