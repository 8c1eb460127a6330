//! `logpack jobs` across real processes (PRODUCT.md §9): an owner killed
//! with SIGKILL mid-run reads as FAILURE ("interrupted") from the next
//! process at once and leaves no half-written archive; a live owner's job is
//! never touched by another process; two processes racing for the last free
//! slot; a delete from another process cancels a running project job
//! promptly and leaves nothing behind; a running OM server job cannot be
//! deleted; many first openers of a new spool; retries racing for one
//! interrupted job.
//!
//! The runs are made slow with `--threads 1` and trees of several MiB per
//! file, sized for the build profile (a debug `logpack` is several times
//! slower than a release one). Every wait polls an observable state (the
//! job's status, a file in the spool, a process's exit) every 50 ms under a
//! generous deadline, so a loaded machine only makes the tests slower.

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::*;

/// MiB per log file of a "slow" tree: about 1.3 s of work each for a debug
/// `logpack` with one thread, more when the machine is busy.
const MIB: usize = if cfg!(debug_assertions) { 8 } else { 48 };

/// How long any single wait may take before the test gives up.
const PATIENCE: Duration = Duration::from_secs(180);

/// How often a state is polled.
const POLL: Duration = Duration::from_millis(50);

// ---------------------------------------------------------------------------
// Processes

/// `logpack jobs --spool SPOOL [--max-in-progress N] ARGS`, to completion.
fn jobs(spool: &Path, max: Option<usize>, args: &[&str]) -> Run {
    let out = jobs_command(spool, max, args)
        .stdin(Stdio::null())
        .output()
        .expect("run logpack jobs");
    Run {
        code: out
            .status
            .code()
            .unwrap_or_else(|| panic!("logpack jobs {args:?} died by a signal: {:?}", out.status)),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn jobs_command(spool: &Path, max: Option<usize>, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.arg("jobs").arg("--spool").arg(spool);
    if let Some(n) = max {
        cmd.arg("--max-in-progress").arg(n.to_string());
    }
    cmd.args(args);
    cmd.env_remove("LOGPACK_NOW");
    cmd
}

fn json_of(run: &Run) -> Value {
    serde_json::from_slice(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", run.stdout_text(), run.stderr))
}

/// The job's JSON from `jobs get ID`, which must succeed.
fn get(spool: &Path, id: &str) -> Value {
    let run = jobs(spool, None, &["get", id]);
    assert_eq!(run.code, 0, "jobs get {id}: {}", run.stderr);
    json_of(&run)
}

fn status(job: &Value) -> &str {
    job["status"].as_str().unwrap_or("<none>")
}

fn total_count(spool: &Path) -> u64 {
    let run = jobs(spool, None, &["list"]);
    assert_eq!(run.code, 0, "jobs list: {}", run.stderr);
    json_of(&run)["totalCount"].as_u64().expect("totalCount")
}

fn assert_refused(run: &Run, code: &str) {
    assert_eq!(run.code, 4, "expected exit 4 with {code}: {}", run.stderr);
    assert!(
        run.stderr.starts_with(&format!("{code}: ")),
        "expected {code}: on stderr, got {:?}",
        run.stderr
    );
}

/// A `logpack jobs create` (or `retry`) running in the background. It is
/// killed if the test panics before it exits, so no run outlives its test.
struct Background {
    child: Option<Child>,
    stderr_path: PathBuf,
    /// The first stdout line (`{"id":…}`), or `None` at EOF (refused).
    first_line: mpsc::Receiver<Option<String>>,
    id: Option<String>,
}

impl Background {
    /// Spawns `logpack jobs ARGS`; its stderr goes to `scratch/NAME.stderr`.
    fn spawn(spool: &Path, max: Option<usize>, args: &[&str], scratch: &Path, name: &str) -> Self {
        let stderr_path = scratch.join(format!("{name}.stderr"));
        let mut child = jobs_command(spool, max, args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(fs::File::create(&stderr_path).unwrap())
            .spawn()
            .expect("spawn logpack jobs");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let first = match reader.read_line(&mut line) {
                Ok(n) if n > 0 => Some(line),
                _ => None,
            };
            let _ = tx.send(first);
            // Keep draining so the child never blocks on a full pipe.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        Background {
            child: Some(child),
            stderr_path,
            first_line: rx,
            id: None,
        }
    }

    /// The id printed by `create`, as soon as it is printed.
    fn id(&mut self) -> String {
        if let Some(id) = &self.id {
            return id.clone();
        }
        let line = self
            .first_line
            .recv_timeout(PATIENCE)
            .expect("create printed nothing in time")
            .unwrap_or_else(|| {
                panic!("create closed stdout without an id: {}", self.stderr_text())
            });
        let v: Value = serde_json::from_str(line.trim())
            .unwrap_or_else(|e| panic!("create printed {line:?} ({e})"));
        let id = v["id"].as_str().expect("an id").to_string();
        assert_eq!(id.len(), 24, "{id}");
        self.id = Some(id.clone());
        id
    }

    /// The first stdout line, or `None` if stdout closed without one.
    fn first_line(&mut self) -> Option<String> {
        self.first_line
            .recv_timeout(PATIENCE)
            .expect("stdout neither printed nor closed in time")
    }

    fn stderr_text(&self) -> String {
        fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.as_mut().unwrap().try_wait().unwrap()
    }

    /// Waits for the exit (polling, under [`PATIENCE`]); returns the exit
    /// code, the instant the exit was seen and stderr.
    fn wait(&mut self) -> (i32, Instant, String) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(s) = self.try_wait() {
                let at = Instant::now();
                let code = s
                    .code()
                    .unwrap_or_else(|| panic!("logpack died by a signal: {s:?}"));
                return (code, at, self.stderr_text());
            }
            assert!(
                Instant::now() < deadline,
                "logpack did not exit within {PATIENCE:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILL, then reap: once this returns, the kernel has dropped the
    /// process's locks.
    fn kill9(&mut self) -> ExitStatus {
        let child = self.child.as_mut().unwrap();
        child.kill().expect("SIGKILL");
        child.wait().unwrap()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            if matches!(c.try_wait(), Ok(None)) {
                let _ = c.kill();
            }
            let _ = c.wait();
        }
    }
}

fn slow_create(
    spool: &Path,
    max: Option<usize>,
    request: &Path,
    scratch: &Path,
    name: &str,
) -> Background {
    Background::spawn(
        spool,
        max,
        &[
            "create",
            request.to_str().unwrap(),
            "--threads",
            "1",
            "--quiet",
        ],
        scratch,
        name,
    )
}

/// Polls until `f` gives `Some`, every [`POLL`], for at most [`PATIENCE`].
fn poll<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(POLL);
    }
}

/// Waits until `jobs get ID` shows `want`; panics if the job reaches a
/// final state other than `want` first.
fn wait_for_status(spool: &Path, id: &str, want: &str) -> Value {
    poll(&format!("job {id} to be {want}"), || {
        let job = get(spool, id);
        let s = status(&job).to_string();
        if s == want {
            return Some(job);
        }
        assert!(
            s == "IN_PROGRESS",
            "job {id} became {s} while waiting for {want}: {job}"
        );
        None
    })
}

// ---------------------------------------------------------------------------
// Trees

/// `files` mongod logs of `mib` MiB each (one host, one process each).
fn mongod_tree(files: u32, mib: usize, redacted: bool) -> (Tree, PathBuf) {
    let t = Tree::new();
    let mut processes = Vec::new();
    for i in 0..files {
        let p = t.file(&format!("p{i}/mongod.log"), log_text(mib << 20, i));
        processes.push(json!({"type": "mongod", "port": 27017 + i, "logPath": p}));
    }
    let req = t.request(&json!({
        "resourceType": "CLUSTER",
        "resourceName": "slowCluster",
        "redacted": redacted,
        "hosts": [{"hostname": "h1", "processes": processes}]
    }));
    (t, req)
}

/// A second request in the same tree that runs in a blink.
fn quick_request(t: &Tree) -> PathBuf {
    let p = t.file("quick/mongod.log", log_text(4096, 99));
    t.request_at(
        "quick.json",
        &json!({
            "resourceType": "PROCESS",
            "resourceName": "quick",
            "hosts": [{"hostname": "q1", "processes": [
                {"type": "mongod", "port": 27999, "logPath": p}
            ]}]
        }),
    )
}

fn archives(spool: &Path) -> PathBuf {
    spool.join("archives")
}

/// Whether any job's lock is held now: lock files stay (a job's goes with
/// the job), so what matters is that no dead or finished owner holds one.
fn a_lock_is_held(spool: &Path) -> bool {
    use std::os::fd::AsRawFd;
    fs::read_dir(spool.join("locks")).is_ok_and(|rd| {
        rd.flatten().any(|e| {
            let Ok(f) = fs::File::open(e.path()) else {
                return false;
            };
            // SAFETY: flock on a descriptor `f` keeps open.
            unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) != 0 }
        })
    })
}

/// Whether a non-empty partial archive is being written in the spool.
fn temp_growing(spool: &Path) -> bool {
    fs::read_dir(archives(spool)).is_ok_and(|rd| {
        rd.flatten().any(|e| {
            e.file_name().to_string_lossy().ends_with(".partial")
                && e.metadata().is_ok_and(|m| m.len() > 0)
        })
    })
}

fn verify_ok(archive: &Path) {
    let run = logpack(&["verify".as_ref(), archive.as_os_str()]);
    assert_eq!(
        run.code,
        0,
        "verify {}: {}{}",
        archive.display(),
        run.stdout_text(),
        run.stderr
    );
}

// ---------------------------------------------------------------------------
// 1. kill -9 mid-run

#[test]
fn an_owner_killed_mid_run_reads_as_interrupted_at_once_and_the_job_can_be_retried() {
    let (t, req) = mongod_tree(4, MIB, false);
    let spool = t.path("spool");
    let scratch = t.mkdir("scratch");

    let mut creator = slow_create(&spool, None, &req, &scratch, "create");
    let id = creator.id();
    let job = wait_for_status(&spool, &id, "IN_PROGRESS");
    assert!(job.get("errorMessage").is_none(), "{job}");
    // Kill it while its archive is half written.
    poll("a temporary archive to grow", || {
        assert!(
            creator.try_wait().is_none(),
            "the run ended before it could be killed (make the tree bigger): {}",
            creator.stderr_text()
        );
        temp_growing(&spool).then_some(())
    });
    assert_eq!(get(&spool, &id)["status"], "IN_PROGRESS");
    let killed = creator.kill9();
    assert!(killed.code().is_none(), "not killed mid-run: {killed:?}");
    assert!(
        !archives(&spool).join(format!("{id}.tar.gz")).exists(),
        "no archive under the job's name after the kill"
    );

    // The very next process reads it as interrupted: no heartbeat to wait for.
    let job = get(&spool, &id);
    assert_eq!(job["status"], "FAILURE", "{job}");
    let message = job["errorMessage"].as_str().unwrap_or_default();
    assert!(message.contains("interrupted"), "{job}");
    assert!(job["finishDate"].is_string(), "{job}");

    // No half-written archive comes out of a download.
    let out = scratch.join("x.tar.gz");
    let download = jobs(
        &spool,
        None,
        &["download", &id, "-o", out.to_str().unwrap()],
    );
    assert_ne!(
        download.code, 0,
        "download of an interrupted job with no archive"
    );
    assert!(
        !out.exists(),
        "download left a file at -o: {}",
        download.stderr
    );
    assert!(
        names_in(&scratch)
            .iter()
            .all(|n| !n.starts_with("x.tar.gz") && !n.starts_with(".logpack-")),
        "{:?}",
        names_in(&scratch)
    );
    // Download into a directory: nothing there either.
    let out_dir = t.mkdir("out");
    let download = jobs(
        &spool,
        None,
        &["download", &id, "-o", out_dir.to_str().unwrap()],
    );
    assert_ne!(download.code, 0, "{}", download.stderr);
    assert!(names_in(&out_dir).is_empty(), "{:?}", names_in(&out_dir));

    // The dead owner's partial archive is gone with the sweep that found it
    // dead: the spool holds nothing under archives/.
    let left = names_in(&archives(&spool));
    assert!(left.is_empty(), "archives/ after the kill: {left:?}");
    assert!(!a_lock_is_held(&spool), "a dead owner's lock is held");

    // Nothing else in the store is lost; list sees the FAILURE too.
    let list = jobs(&spool, None, &["list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    let list = json_of(&list);
    assert_eq!(list["totalCount"], 1, "{list}");
    assert_eq!(list["results"][0]["id"], id.as_str());
    assert_eq!(list["results"][0]["status"], "FAILURE");

    // A retry runs it again to SUCCESS, and the archive is whole.
    let mut retry = Background::spawn(
        &spool,
        None,
        &["retry", &id, "--threads", "1", "--quiet"],
        &scratch,
        "retry",
    );
    let (code, _, stderr) = retry.wait();
    assert_eq!(code, 0, "retry: {stderr}");
    let job = get(&spool, &id);
    assert_eq!(job["status"], "SUCCESS", "{job}");
    assert!(job.get("errorMessage").is_none(), "{job}");
    let download = jobs(
        &spool,
        None,
        &["download", &id, "-o", out.to_str().unwrap()],
    );
    assert_eq!(download.code, 0, "{}", download.stderr);
    verify_ok(&out);
    let entries = read_entries(&out);
    let manifest = manifest_of(&entries);
    assert_eq!(manifest["status"], "SUCCESS", "{manifest}");
    for i in 0..4u32 {
        let e = entry(&entries, &format!("h1/standalone/{}/mongod.log", 27017 + i));
        assert_eq!(e.data.len(), MIB << 20);
    }
    let left = names_in(&archives(&spool));
    eprintln!("archives/ after the retry: {left:?}");
    assert!(left.contains(&format!("{id}.tar.gz")), "{left:?}");
}

// ---------------------------------------------------------------------------
// 2. A live owner's job is never touched

#[test]
fn a_job_whose_owner_is_alive_is_never_failed_by_another_process() {
    let (t, req) = mongod_tree(4, MIB, false);
    let spool = t.path("spool");
    let scratch = t.mkdir("scratch");

    let mut creator = slow_create(&spool, None, &req, &scratch, "create");
    let id = creator.id();

    // Two pollers, one with `get`, one with `list` (both sweep), until the
    // owner exits. What they see: IN_PROGRESS, then SUCCESS; never FAILURE.
    let done = Arc::new(AtomicBool::new(false));
    let pollers: Vec<_> = ["get", "list"]
        .into_iter()
        .map(|cmd| {
            let (spool, id, done) = (spool.clone(), id.clone(), done.clone());
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                while !done.load(Ordering::SeqCst) {
                    let s = if cmd == "get" {
                        status(&get(&spool, &id)).to_string()
                    } else {
                        let run = jobs(&spool, None, &["list"]);
                        assert_eq!(run.code, 0, "{}", run.stderr);
                        let list = json_of(&run);
                        status(&list["results"][0]).to_string()
                    };
                    seen.push(s);
                    std::thread::sleep(POLL);
                }
                seen
            })
        })
        .collect();
    let (code, _, stderr) = creator.wait();
    done.store(true, Ordering::SeqCst);
    let seen: Vec<Vec<String>> = pollers.into_iter().map(|p| p.join().unwrap()).collect();
    assert_eq!(code, 0, "create: {stderr}");
    for (cmd, seen) in ["get", "list"].iter().zip(&seen) {
        let in_progress = seen.iter().take_while(|s| *s == "IN_PROGRESS").count();
        assert!(
            seen[in_progress..].iter().all(|s| s == "SUCCESS"),
            "{cmd} saw {seen:?}"
        );
        assert!(
            in_progress >= 5,
            "{cmd} saw IN_PROGRESS only {in_progress} times (the run was too quick to test this): {seen:?}"
        );
        eprintln!("{cmd}: {in_progress} x IN_PROGRESS of {}", seen.len());
    }
    let job = get(&spool, &id);
    assert_eq!(job["status"], "SUCCESS", "{job}");
    assert!(job.get("errorMessage").is_none(), "{job}");
    assert_eq!(
        names_in(&archives(&spool)),
        vec![format!("{id}.tar.gz")],
        "only the archive"
    );
    assert!(!a_lock_is_held(&spool));
}

// ---------------------------------------------------------------------------
// 3. The last free slot

#[test]
fn two_processes_racing_for_the_last_slot_one_is_rate_limited() {
    let (t, req) = mongod_tree(2, MIB, false);
    let quick = quick_request(&t);
    let scratch = t.mkdir("scratch");

    // The store exists before the race (a race to create it is test 6).
    let spool = t.path("spool");
    assert_eq!(total_count(&spool), 0);
    for round in 0..4 {
        let before = total_count(&spool);
        let mut a = slow_create(&spool, Some(1), &req, &scratch, &format!("a{round}"));
        let mut b = slow_create(&spool, Some(1), &req, &scratch, &format!("b{round}"));
        let lines = [a.first_line(), b.first_line()];
        let (ca, _, ea) = a.wait();
        let (cb, _, eb) = b.wait();
        let outcomes = [(ca, &ea, &lines[0]), (cb, &eb, &lines[1])];
        let winners: Vec<_> = outcomes.iter().filter(|o| o.0 == 0).collect();
        let losers: Vec<_> = outcomes.iter().filter(|o| o.0 == 4).collect();
        assert!(
            winners.len() == 1 && losers.len() == 1,
            "round {round}: exits {ca} ({ea:?}) and {cb} ({eb:?})"
        );
        let loser = losers[0];
        assert!(
            loser.1.starts_with("RATE_LIMITED: "),
            "round {round}: {:?}",
            loser.1
        );
        assert!(
            loser.2.is_none(),
            "the refused create printed {:?}",
            loser.2
        );
        let winner_id: Value =
            serde_json::from_str(winners[0].2.as_deref().unwrap().trim()).unwrap();
        let winner_id = winner_id["id"].as_str().unwrap();
        assert_eq!(get(&spool, winner_id)["status"], "SUCCESS");
        assert_eq!(
            total_count(&spool),
            before + 1,
            "round {round}: one job recorded"
        );
        assert!(!a_lock_is_held(&spool), "round {round}");
        assert_eq!(
            names_in(&archives(&spool)).len() as u64,
            before + 1,
            "round {round}: {:?}",
            names_in(&archives(&spool))
        );
    }

    // One slow job holds the only slot: a third create is refused and
    // records nothing.
    let before = total_count(&spool);
    let mut slow = slow_create(&spool, Some(1), &req, &scratch, "slow");
    let id = slow.id();
    let locks_before = names_in(&spool.join("locks"));
    assert!(locks_before.contains(&format!("{id}.lock")));
    let third = jobs(
        &spool,
        Some(1),
        &["create", quick.to_str().unwrap(), "--quiet"],
    );
    assert_eq!(
        get(&spool, &id)["status"],
        "IN_PROGRESS",
        "the slow job ended before the third create was checked (make the tree bigger)"
    );
    assert_refused(&third, "RATE_LIMITED");
    assert!(third.stdout.is_empty(), "{}", third.stdout_text());
    assert_eq!(
        total_count(&spool),
        before + 1,
        "nothing recorded for the refused create"
    );
    assert_eq!(
        names_in(&spool.join("locks")),
        locks_before,
        "no lock left by the refused create"
    );
    // Kill the owner: its slot is free at once for the next process.
    slow.kill9();
    let again = jobs(
        &spool,
        Some(1),
        &["create", quick.to_str().unwrap(), "--quiet"],
    );
    assert_eq!(again.code, 0, "after the owner died: {}", again.stderr);
    assert_eq!(get(&spool, &id)["status"], "FAILURE");
    assert_eq!(total_count(&spool), before + 2);
}

// ---------------------------------------------------------------------------
// 4. Delete of a running project job from another process

#[test]
fn deleting_a_running_project_job_cancels_its_owner_promptly_and_leaves_nothing() {
    let (t, req) = mongod_tree(4, MIB, true);
    let spool = t.path("spool");
    let scratch = t.mkdir("scratch");

    let mut creator = slow_create(&spool, None, &req, &scratch, "create");
    let id = creator.id();
    wait_for_status(&spool, &id, "IN_PROGRESS");
    // Mid-run: its archive is being written and its redaction key exists.
    poll("a temporary archive to grow", || {
        assert!(
            creator.try_wait().is_none(),
            "the run ended before the delete (make the tree bigger): {}",
            creator.stderr_text()
        );
        temp_growing(&spool).then_some(())
    });
    let key = spool.join("keys").join(format!("{id}.key"));
    assert!(key.exists(), "a redacted job has a key while it runs");

    let delete_start = Instant::now();
    let mut deleter = Background::spawn(&spool, None, &["delete", &id], &scratch, "delete");
    let (code, creator_exit, stderr) = creator.wait();
    let (delete_code, delete_exit, delete_stderr) = deleter.wait();
    let cancelled_after = creator_exit - delete_start;
    let deleted_after = delete_exit - delete_start;
    eprintln!("creator exited {cancelled_after:?} after the delete started; delete took {deleted_after:?}");
    assert_eq!(delete_code, 0, "delete: {delete_stderr}");
    assert_eq!(code, 1, "the cancelled creator: {stderr}");
    assert!(stderr.contains("deleted"), "{stderr:?}");
    assert!(
        cancelled_after < Duration::from_secs(2),
        "the owner took {cancelled_after:?} to stop after the delete started"
    );
    assert!(
        deleted_after < Duration::from_secs(4),
        "the delete took {deleted_after:?}"
    );

    let run = jobs(&spool, None, &["get", &id]);
    assert_refused(&run, "LOG_COLLECTION_JOB_NOT_FOUND_IN_GROUP");
    assert_eq!(total_count(&spool), 0);
    assert!(
        names_in(&archives(&spool)).is_empty(),
        "archives/: {:?}",
        names_in(&archives(&spool))
    );
    let locks = names_in(&spool.join("locks"));
    assert!(
        locks.iter().all(|n| !n.starts_with(&id)),
        "locks/: {locks:?}"
    );
    let keys = names_in(&spool.join("keys"));
    assert!(keys.iter().all(|n| !n.starts_with(&id)), "keys/: {keys:?}");
    // Its id is unknown to every command.
    let id = id.as_str();
    for args in [
        vec!["download", id, "-o", "-"],
        vec!["retry", id],
        vec!["delete", id],
    ] {
        let run = jobs(&spool, None, &args);
        assert_refused(&run, "LOG_COLLECTION_JOB_NOT_FOUND_IN_GROUP");
    }
}

// ---------------------------------------------------------------------------
// 5. A running OM server job cannot be deleted

#[test]
fn a_running_om_server_job_cannot_be_deleted_and_finishes() {
    let t = Tree::new();
    t.file("om/mms0.log", log_text((3 * MIB) << 19, 1));
    t.file("om/mms0-access.log", log_text((3 * MIB) << 19, 2));
    let req = t.request(&json!({"hosts": [{"hostname": "om1", "omLogDir": "om"}]}));
    let spool = t.path("spool");
    let scratch = t.mkdir("scratch");

    let mut creator = slow_create(&spool, None, &req, &scratch, "create");
    let id = creator.id();
    wait_for_status(&spool, &id, "IN_PROGRESS");
    // Refused while it runs, again and again; the run is not disturbed.
    for attempt in 0..3 {
        let run = jobs(&spool, None, &["delete", &id]);
        if attempt > 0 && creator.try_wait().is_some() {
            break;
        }
        assert_refused(&run, "CANNOT_DELETE_JOB_IN_PROGRESS");
        let job = get(&spool, &id);
        assert_eq!(
            job["status"], "IN_PROGRESS",
            "the run ended before a delete could be tried (make the tree bigger): {job}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (code, _, stderr) = creator.wait();
    assert_eq!(code, 0, "create: {stderr}");
    let job = get(&spool, &id);
    assert_eq!(job["status"], "SUCCESS", "{job}");
    let out_dir = t.mkdir("out");
    let run = jobs(
        &spool,
        None,
        &["download", &id, "-o", out_dir.to_str().unwrap()],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let names = names_in(&out_dir);
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(
        names[0].starts_with("om-logs_") && names[0].ends_with(".tar.gz"),
        "{names:?}"
    );
    verify_ok(&out_dir.join(&names[0]));
    // Finished, it can be deleted.
    let run = jobs(&spool, None, &["delete", &id]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(names_in(&archives(&spool)).is_empty());
}

// ---------------------------------------------------------------------------
// 6. Many openers of a spool that does not exist yet

/// Threads of one process stand for processes here: SQLite locks between
/// connections alike either way, and a barrier lines the openers up far more
/// tightly than process start-up can (processes hit the window in about 1%
/// of rounds, these threads in about 15%).
#[test]
fn concurrent_first_opens_of_a_new_spool_all_succeed() {
    const ROUNDS: usize = 200;
    const OPENERS: usize = 8;
    let t = Tree::new();
    let engine = Arc::new(logpack::Engine::new(logpack::Options::default()).unwrap());
    let mut failures = Vec::new();
    for round in 0..ROUNDS {
        let dir = t.path(&format!("spool{round}"));
        let barrier = Arc::new(std::sync::Barrier::new(OPENERS));
        let openers: Vec<_> = (0..OPENERS)
            .map(|_| {
                let (dir, engine, barrier) = (dir.clone(), engine.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    logpack::jobs::JobStore::open(&dir, engine, Default::default())
                        .map(|s| s.group_id().to_string())
                        .map_err(|e| e.to_string())
                })
            })
            .collect();
        let results: Vec<_> = openers.into_iter().map(|h| h.join().unwrap()).collect();
        for r in &results {
            if let Err(e) = r {
                failures.push(format!("round {round}: {e}"));
            }
        }
    }
    eprintln!("{} failed opens in {ROUNDS} rounds", failures.len());
    assert!(failures.is_empty(), "{failures:#?}");
}

// ---------------------------------------------------------------------------
// 7. Retries racing for one interrupted job

#[test]
fn retries_racing_for_one_interrupted_job_one_runs_the_others_are_refused() {
    let (t, req) = mongod_tree(1, MIB / 8, false);
    let spool = t.path("spool");
    let scratch = t.mkdir("scratch");
    let mut outcomes = Vec::new();
    for round in 0..20 {
        let mut creator = slow_create(&spool, None, &req, &scratch, &format!("c{round}"));
        let id = creator.id();
        let killed = creator.kill9();
        assert!(
            killed.code().is_none(),
            "round {round}: the run ended before it was killed (make the tree bigger)"
        );
        let mut retries: Vec<Background> = (0..4)
            .map(|k| {
                Background::spawn(
                    &spool,
                    None,
                    &["retry", &id, "--threads", "1", "--quiet"],
                    &scratch,
                    &format!("r{round}-{k}"),
                )
            })
            .collect();
        let mut exits: Vec<(i32, String)> = retries
            .iter_mut()
            .map(|r| {
                let (code, _, stderr) = r.wait();
                (code, stderr)
            })
            .collect();
        exits.sort();
        outcomes.push(exits.clone());
        assert_eq!(get(&spool, &id)["status"], "SUCCESS", "round {round}");
    }
    let mut wrong = Vec::new();
    for (round, exits) in outcomes.iter().enumerate() {
        let ok = exits[0].0 == 0
            && exits[1..].iter().all(|(code, stderr)| {
                *code == 4 && stderr.starts_with("ONLY_FAILED_JOB_CAN_BE_RESTARTED: ")
            });
        if !ok {
            wrong.push(format!("round {round}: {exits:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "expected one retry to run (exit 0) and the others to be refused \
         (exit 4, ONLY_FAILED_JOB_CAN_BE_RESTARTED):\n{}",
        wrong.join("\n")
    );
    assert!(!a_lock_is_held(&spool));
}
