//! `logpack serve` under load (PRODUCT.md §11): 200 concurrent Digest
//! clients list jobs and download a finished job's archive for ~10 s while
//! jobs are created, run, downloaded and deleted beside them, up to the
//! store's limit (`--max-in-progress 4`; a create over it is 429
//! `RATE_LIMITED`, a correct answer counted apart).
//!
//! The load itself is tests/serve_load.py (Python `requests` with
//! `HTTPDigestAuth`, one session per client thread); this side starts the
//! server over a copy of examples/sample, samples the server's RSS from
//! /proc and checks that it does not grow under a steady load, and that
//! the server stops cleanly afterwards. Before the load, the script also
//! runs 40 jobs one after the other and checks that they leave no memory
//! mappings behind in the server (a job's thread that is never joined keeps
//! its stack). Without python3 or requests the test is skipped with a note,
//! except under `CI=1`, where it fails.
//!
//! `LOGPACK_LOAD_CLIENTS` and `LOGPACK_LOAD_SECONDS` override 200 and 10.

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{bin, sample_dir, Tree};

const GROUP: &str = "5f3c2a1b9d8e7f6a5b4c3d2e";
const USER: &str = "load-owner";
const PASSWORD: &str = "load-private-key-0123456789";
/// Log text added to the copy's standalone mongod (`db2.example.net:27020`),
/// whose jobs are the ones created during the load: long enough (about half
/// a second of a debug build's CPU) that four of them run at once and a
/// fifth create meets the limit.
const PADDING: usize = 2 << 20;
/// RSS samples are taken this often.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// The first part of the load, left out of the growth check: connections,
/// the blocking pool's threads and the allocator's arenas are being set up.
const WARM_UP: Duration = Duration::from_secs(2);
/// The last third's peak may exceed the first third's by this fraction...
const GROWTH_FRACTION: f64 = 0.20;
/// ... or by this many KiB, whichever is larger.
const GROWTH_KIB: u64 = 16 * 1024;

/// True when python3 can import requests. Without it the test fails under
/// CI and prints a skip note otherwise.
fn python_requests_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import requests"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !ci,
        "python3 with the requests module is required in CI \
         (python3 -m pip install requests)"
    );
    eprintln!("note: python3 or its requests module is missing; skipping the serve load test");
    false
}

/// Copies the directory tree `from` to `to` (regular files and directories).
fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            copy_tree(&e.path(), &target);
        } else if ft.is_file() {
            fs::copy(e.path(), &target).unwrap();
        } else {
            panic!("{}: not a file or a directory", e.path().display());
        }
    }
}

/// `logpack serve`, killed if the test ends without stopping it.
struct Server {
    child: Child,
    addr: String,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    fn start(spool: &Path, deployment: &Path, keys: &Path) -> Server {
        let mut child = Command::new(bin())
            .arg("serve")
            .arg("--spool")
            .arg(spool)
            .arg("--deployment")
            .arg(deployment)
            .arg("--keys")
            .arg(keys)
            .args(["--listen", "127.0.0.1:0", "--max-in-progress", "4"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn logpack serve");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let mut lines = BufReader::new(child.stderr.take().unwrap());
        let keep = stderr.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            let mut told = false;
            while lines.read_line(&mut line).unwrap_or(0) > 0 {
                if !told {
                    if let Some(a) = line.trim().strip_prefix("listening on ") {
                        let _ = tx.send(a.to_string());
                        told = true;
                    }
                }
                keep.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "logpack serve did not say `listening on`: {}",
                    stderr.lock().unwrap()
                );
            }
        };
        Server {
            child,
            addr,
            stderr,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then the exit code (it must stop within `limit`).
    fn stop(&mut self, limit: Duration) -> i32 {
        // SAFETY: kill(2) on the pid of a child this test spawned and has not reaped.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code().expect("logpack serve ended by a signal");
            }
            assert!(
                Instant::now() < deadline,
                "logpack serve did not stop within {limit:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A number of `/proc/PID/status` (in kB for VmRSS and VmHWM), if the
/// process lives.
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line[field.len() + 1..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

#[test]
fn serve_answers_200_clients_with_jobs_running_and_its_rss_stays_flat() {
    if !python_requests_available() {
        return;
    }
    let clients = env_or("LOGPACK_LOAD_CLIENTS", "200");
    let seconds = env_or("LOGPACK_LOAD_SECONDS", "10");

    let t = Tree::new();
    copy_tree(&sample_dir(), &t.path("sample"));
    {
        use std::io::Write;
        let log = t.path("sample/hosts/db2/standalone/mongod.log");
        let mut f = fs::OpenOptions::new().append(true).open(&log).unwrap();
        f.write_all(&common::log_text(PADDING, 7)).unwrap();
    }
    let keys: PathBuf = t.file(
        "keys.json",
        serde_json::json!({
            "apiKeys": [{"publicKey": USER, "privateKey": PASSWORD, "roles": ["GROUP_OWNER"]}],
            "monitorApiKeys": ["load-monitor-token-0123456789"],
        })
        .to_string(),
    );
    fs::set_permissions(&keys, fs::Permissions::from_mode(0o600)).unwrap();
    let spool = t.path("spool");
    let mut server = Server::start(&spool, &t.path("sample/deployment.json"), &keys);
    let pid = server.pid();
    let started = Instant::now();

    // RSS (and thread count) samples, from now until the load is over.
    let samples: Arc<Mutex<Vec<(Instant, u64, u64)>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (samples, done) = (samples.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if let (Some(kib), Some(threads)) =
                    (status_kib(pid, "VmRSS"), status_kib(pid, "Threads"))
                {
                    samples.lock().unwrap().push((Instant::now(), kib, threads));
                }
                std::thread::sleep(SAMPLE_EVERY);
            }
        })
    };

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/serve_load.py");
    let mut py = Command::new("python3")
        .arg(&script)
        .args(["--base", &format!("http://{}", server.addr)])
        .args(["--group", GROUP, "--user", USER, "--password", PASSWORD])
        .args(["--clients", &clients, "--seconds", &seconds])
        .args(["--max-in-progress", "4", "--server-pid", &pid.to_string()])
        .args(["--job-resource", "PROCESS:db2.example.net:27020"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3 tests/serve_load.py");
    // Its stdout, line by line with the time each came (the PHASE markers
    // bound the load); its stderr, whole.
    let (tx, rx) = mpsc::channel::<(Instant, String)>();
    let out = BufReader::new(py.stdout.take().unwrap());
    let out_reader = std::thread::spawn(move || {
        for line in out.lines().map_while(Result::ok) {
            let _ = tx.send((Instant::now(), line));
        }
    });
    let mut err = py.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    let limit = Duration::from_secs(180);
    let py_status = loop {
        if let Some(s) = py.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > limit {
            let _ = py.kill();
            let _ = py.wait();
            panic!(
                "serve_load.py did not finish within {limit:?}; server stderr: {}",
                server.stderr.lock().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    out_reader.join().unwrap();
    let py_err = err_reader.join().unwrap();
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let hwm = status_kib(pid, "VmHWM").unwrap_or(0);

    let mut load_start = None;
    let mut load_end = None;
    let mut summary = None;
    for (at, line) in rx.try_iter() {
        eprintln!("serve_load.py: {line}");
        match line.as_str() {
            "PHASE load-start" => load_start = Some(at),
            "PHASE load-end" => load_end = Some(at),
            l if l.starts_with("SUMMARY ") => summary = Some(l["SUMMARY ".len()..].to_string()),
            _ => {}
        }
    }
    if !py_err.is_empty() {
        eprintln!("serve_load.py (stderr):\n{py_err}");
    }
    let Some(summary) = summary else {
        panic!(
            "serve_load.py printed no SUMMARY ({py_status}): {py_err}\nserver stderr: {}",
            server.stderr.lock().unwrap()
        );
    };
    let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();

    // RSS: the last third of the steady load against the first third.
    let (start, end) = (
        load_start.expect("no PHASE load-start") + WARM_UP,
        load_end.expect("no PHASE load-end"),
    );
    assert!(end > start, "the load was shorter than the warm-up");
    let third = (end - start) / 3;
    let samples = samples.lock().unwrap();
    let before = samples
        .iter()
        .filter(|(at, ..)| *at < start - WARM_UP)
        .map(|s| s.1)
        .max()
        .unwrap_or(0);
    // (peak RSS, peak thread count) between two instants.
    let peak_in = |from: Instant, to: Instant| {
        let v: Vec<(u64, u64)> = samples
            .iter()
            .filter(|(at, ..)| *at >= from && *at < to)
            .map(|s| (s.1, s.2))
            .collect();
        assert!(
            v.len() >= 3,
            "only {} RSS samples between {:?} and {:?} after the start",
            v.len(),
            from - started,
            to - started
        );
        (
            v.iter().map(|s| s.0).max().unwrap(),
            v.iter().map(|s| s.1).max().unwrap(),
        )
    };
    let (first, first_threads) = peak_in(start, start + third);
    let (last, last_threads) = peak_in(end - third, end);
    let allowed = first + ((first as f64 * GROWTH_FRACTION) as u64).max(GROWTH_KIB);
    let c = &summary["counts"];
    eprintln!(
        "serve load: {} clients for {} s: {} requests ({} a second: {} lists, {} gets, \
         {} downloads, {} range downloads); {} jobs created, {} create answers 429 RATE_LIMITED, \
         {} jobs deleted; errors: {}",
        summary["clients"],
        summary["seconds"],
        summary["requests"],
        summary["perSecond"],
        c["list"],
        c["get"],
        c["download"],
        c["range"],
        c["create"],
        c.get("create-429").and_then(|v| v.as_u64()).unwrap_or(0),
        c["delete"],
        summary["errors"],
    );
    eprintln!(
        "serve load: client latency p50 {} / p99 {} (ms)",
        summary["p50ms"], summary["p99ms"]
    );
    eprintln!(
        "serve RSS: {} before the load; peak {} in the first third after {:?} of warm-up \
         ({} threads), {} in the last third ({} threads; allowed up to {}); VmHWM {}; \
         {} samples",
        mib(before),
        mib(first),
        WARM_UP,
        first_threads,
        mib(last),
        last_threads,
        mib(allowed),
        mib(hwm),
        samples.len()
    );
    // Each second's peak, from the start of the load.
    let load_start = start - WARM_UP;
    let mut timeline: Vec<(u64, u64)> = Vec::new();
    for (at, kib, threads) in samples.iter().filter(|s| s.0 >= load_start && s.0 <= end) {
        let sec = (*at - load_start).as_secs() as usize;
        if timeline.len() <= sec {
            timeline.resize(sec + 1, (0, 0));
        }
        timeline[sec] = (timeline[sec].0.max(*kib), timeline[sec].1.max(*threads));
    }
    eprintln!(
        "serve RSS each second of the load (MiB/threads): {}",
        timeline
            .iter()
            .map(|(k, t)| format!("{}/{t}", k / 1024))
            .collect::<Vec<_>>()
            .join(" ")
    );
    if let Some(leak) = summary.get("jobChurn") {
        eprintln!("serve job churn: {leak}");
    }
    assert!(
        py_status.success(),
        "serve_load.py failed ({py_status}): {py_err}\nserver stderr: {}",
        server.stderr.lock().unwrap()
    );
    // The server stops cleanly, the load over.
    let code = server.stop(Duration::from_secs(20));
    assert_eq!(
        code,
        0,
        "logpack serve exit code after SIGTERM; stderr: {}",
        server.stderr.lock().unwrap()
    );

    assert!(
        last <= allowed,
        "the server's RSS grew under a steady load: {} in the first third, {} in the last \
         (allowed {}); its threads: {first_threads}, then {last_threads}",
        mib(first),
        mib(last),
        mib(allowed)
    );
}
