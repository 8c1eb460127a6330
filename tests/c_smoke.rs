//! Compiles `tests/c/smoke.c` against `include/logpack.h` and the static
//! library that this `cargo test` built, runs it, and checks its report
//! (STYLE.md rule 21).
//!
//! - The compiler is `$CC` (default `cc`), with
//!   `-std=c11 -Wall -Wextra -Werror -pedantic`.
//! - Under CI (`CI` set) the program is also built and run with
//!   `-fsanitize=address,undefined`, unless the compiler rejects the flag.
//! - Without a C compiler the tests are skipped with a message, except under
//!   CI, where that is a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

/// What `rustc --print native-static-libs` prints for this crate on Linux
/// (include/logpack.h and the README give the same list). Used when it
/// cannot be asked for.
const LINUX_NATIVE_LIBS: &[&str] = &[
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];

/// Every section of smoke.c, in order: each prints `ok <name>`.
const SECTIONS: &[&str] = &[
    "versions",
    "result_names",
    "null_parameters",
    "bad_request",
    "invalid_option",
    "invalid_state",
    "run_to_path",
    "partial",
    "progress",
    "cancel_from_progress",
    "cancel_from_token",
    "cancel_before_run",
    "failing_writer",
    "stream_zstd",
    "stream_gzip_and_tar",
    "base_dir",
    "non_utf8_paths",
    "store_null_parameters",
    "store",
    "store_retry_and_limits",
    "capture_null_parameters",
    "capture_duration",
    "capture_cancel_from_token",
    "capture_limit",
];

const WARNINGS: &[&str] = &["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"];
const SANITIZERS: &[&str] = &[
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
    "-fno-omit-frame-pointer",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

fn skip_or_fail(why: &str) {
    if in_ci() {
        panic!("{why} (CI is set, so this is a failure)");
    }
    eprintln!("SKIPPED: {why}");
}

fn cc() -> String {
    std::env::var("CC")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .unwrap_or_else(|| "cc".into())
}

/// `$CC` may carry flags (`CC="ccache gcc"`, `CC="gcc -m64"`).
fn compiler(cc: &str) -> Command {
    let mut words = cc.split_whitespace();
    let mut cmd = Command::new(words.next().expect("CC is not empty"));
    cmd.args(words);
    cmd
}

fn compiler_works(cc: &str) -> bool {
    compiler(cc)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `liblogpack.a` as built by this `cargo test`. Integration tests run from
/// `target/<profile>/deps/`; cargo leaves the staticlib there and, after a
/// `cargo build`, also one level up. The newest wins.
fn static_library() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("the test binary's directory");
    let mut candidates: Vec<(SystemTime, PathBuf)> = [Some(deps), deps.parent()]
        .into_iter()
        .flatten()
        .map(|d| d.join("liblogpack.a"))
        .filter_map(|p| {
            let modified = std::fs::metadata(&p).ok()?.modified().ok()?;
            Some((modified, p))
        })
        .collect();
    candidates.sort();
    match candidates.pop() {
        Some((_, p)) => p,
        None => panic!(
            "no liblogpack.a in {} or its parent: Cargo.toml's crate-type must include \"staticlib\"",
            deps.display()
        ),
    }
}

/// The libraries a static Rust library needs from the system, as rustc says
/// for an empty staticlib built by the same rustc. logpack adds none of its
/// own (zstd is compiled into the archive), so that is the whole list; a
/// crate that linked a system library would need it added here.
fn native_static_libs(scratch: &Path) -> Vec<String> {
    let fallback = || LINUX_NATIVE_LIBS.iter().map(|s| s.to_string()).collect();
    let probe = scratch.join("probe.rs");
    std::fs::write(&probe, "").unwrap();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc)
        .args(["--crate-type", "staticlib", "--crate-name", "probe"])
        .args(["--print", "native-static-libs", "-o"])
        .arg(scratch.join("libprobe.a"))
        .arg(&probe)
        .output();
    let Ok(out) = out else {
        eprintln!("rustc not found: using the usual Linux list");
        return fallback();
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    let Some(line) = stderr
        .lines()
        .find_map(|l| l.split_once("native-static-libs:").map(|(_, libs)| libs))
    else {
        eprintln!("rustc printed no native-static-libs: using the usual Linux list\n{stderr}");
        return fallback();
    };
    let libs: Vec<String> = line.split_whitespace().map(String::from).collect();
    if cfg!(target_os = "linux") {
        assert_eq!(
            libs, LINUX_NATIVE_LIBS,
            "rustc's native-static-libs changed: update LINUX_NATIVE_LIBS here, the link \
             line in cbindgen.toml's header (then `LOGPACK_BLESS=1 cargo test --test header`) \
             and the README"
        );
    }
    libs
}

fn show(out: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Compiles smoke.c with `extra` flags into `exe` and runs it.
fn build_and_run(cc: &str, extra: &[&str], exe: &Path, scratch: &Path) {
    let lib = static_library();
    let libs = native_static_libs(scratch);
    let mut cmd = compiler(cc);
    cmd.args(WARNINGS)
        .args(["-g", "-pthread", "-I"])
        .arg(root().join("include"))
        .args(extra)
        .arg(root().join("tests/c/smoke.c"))
        .arg("-o")
        .arg(exe)
        .arg(&lib)
        .args(&libs);
    eprintln!("{cmd:?}");
    let built = cmd.output().expect("run the C compiler");
    assert!(
        built.status.success(),
        "smoke.c does not build\n{}",
        show(&built)
    );

    // The deployment trees go under target/tmp, so that a failed run (which
    // keeps its tree) leaves nothing in /tmp.
    // A tree kept by a failed run is removed by the next one.
    let tmp = scratch.join("trees");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let ran = Command::new(exe)
        .env("TMPDIR", &tmp)
        // The job store's section collects the sample deployment.
        .env("LOGPACK_SAMPLE_DIR", root().join("examples/sample"))
        .env("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
        .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        .output()
        .expect("run the smoke program");
    let report = show(&ran);
    eprintln!("{report}");
    assert!(ran.status.success(), "smoke.c failed\n{report}");
    let stdout = String::from_utf8_lossy(&ran.stdout);
    let oks: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("ok "))
        .collect();
    assert_eq!(oks, SECTIONS, "smoke.c's sections\n{report}");
    assert!(
        stdout.lines().any(|l| l == "smoke: all passed"),
        "no final line\n{report}"
    );
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn smoke_c_passes() {
    let cc = cc();
    if !compiler_works(&cc) {
        return skip_or_fail(&format!(
            "no C compiler ({cc}); set CC to run the C smoke test"
        ));
    }
    let dir = scratch("c_smoke");
    build_and_run(&cc, &[], &dir.join("smoke"), &dir);
}

#[test]
fn smoke_c_passes_under_sanitizers() {
    if !in_ci() {
        eprintln!("SKIPPED: the sanitizer build runs when CI is set");
        return;
    }
    let cc = cc();
    if !compiler_works(&cc) {
        return skip_or_fail(&format!("no C compiler ({cc})"));
    }
    let dir = scratch("c_smoke_san");
    // Does the compiler (and its runtime) support the sanitizers at all?
    let probe = dir.join("probe.c");
    std::fs::write(&probe, "int main(void) { return 0; }\n").unwrap();
    let supported = compiler(&cc)
        .args(SANITIZERS)
        .arg(&probe)
        .arg("-o")
        .arg(dir.join("probe"))
        .output()
        .is_ok_and(|o| o.status.success())
        && Command::new(dir.join("probe"))
            .status()
            .is_ok_and(|s| s.success());
    if !supported {
        eprintln!("SKIPPED: {cc} does not support {}", SANITIZERS.join(" "));
        return;
    }
    build_and_run(&cc, SANITIZERS, &dir.join("smoke"), &dir);
}

/// The header's C++ guards: a C++ program includes it and links against the
/// C symbols.
#[test]
fn header_links_from_cpp() {
    let cxx = std::env::var("CXX")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .unwrap_or_else(|| "c++".into());
    if !compiler_works(&cxx) {
        eprintln!("SKIPPED: no C++ compiler ({cxx})");
        return;
    }
    let dir = scratch("cpp_smoke");
    let src = dir.join("smoke.cpp");
    std::fs::write(
        &src,
        r#"#include "logpack.h"
#include <cstdio>
#include <cstring>
int main() {
  logpack_job *job = logpack_job_new();
  if (job == nullptr) return 1;
  logpack_result rc = logpack_job_set_option(job, LOGPACK_OPTION_THREADS, 0);
  enum logpack_result tagged = rc;
  logpack_job_free(job);
  if (tagged != LOGPACK_RESULT_INVALID_OPTION) return 2;
  if (logpack_version_number() != LOGPACK_VERSION_NUMBER) return 3;
  std::printf("%s\n", logpack_result_name(rc));
  return std::strcmp(logpack_result_name(rc), "LOGPACK_RESULT_INVALID_OPTION");
}
"#,
    )
    .unwrap();
    let exe = dir.join("smoke");
    let built = compiler(&cxx)
        .args([
            "-std=c++11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-pthread",
            "-I",
        ])
        .arg(root().join("include"))
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .arg(static_library())
        .args(native_static_libs(&dir))
        .output()
        .expect("run the C++ compiler");
    assert!(built.status.success(), "C++ build\n{}", show(&built));
    let ran = Command::new(&exe).output().unwrap();
    assert!(ran.status.success(), "C++ run\n{}", show(&ran));
}
