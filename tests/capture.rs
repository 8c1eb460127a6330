//! `logpack capture` (PRODUCT.md §10) with real processes: a writer appends
//! numbered entries while rotating the log by rename, then reopen, then
//! copytruncate; every record is read back with Python's `json`, and the
//! json-seq and SSE framings with parsers of their own. The limit of three
//! captures, the level filter, and Ctrl-C ending a capture cleanly.

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::*;
use logpack::capture::{CaptureFormat, CaptureSpec};
use logpack::{CancelToken, Engine, Error, Options, Request};

fn line(n: u64) -> String {
    format!(
        r#"{{"t":{{"$date":"2026-11-20T10:00:00.000+00:00"}},"s":"{}","c":"NETWORK","id":{n},"ctx":"w","msg":"entry {n}","attr":{{"n":{n}}}}}"#,
        if n % 10 == 0 { "W" } else { "I" }
    ) + "\n"
}

/// Appends entries `from..to` to `path` at about 2,000 a second, rotating
/// it every `every` entries as `how` says.
fn write_rotating(path: &Path, from: u64, to: u64, every: u64, how: &str) {
    let open = || {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap()
    };
    let mut f = open();
    for n in from..to {
        if n > from && (n - from) % every == 0 {
            match how {
                "rename" => {
                    fs::rename(path, path.with_extension(format!("log.{n}"))).unwrap();
                    f = open();
                }
                "reopen" => {
                    // logrotate's create: renamed and recreated; the writer
                    // keeps the old file for a few more entries.
                    fs::rename(path, path.with_extension(format!("log.{n}"))).unwrap();
                    fs::File::create(path).unwrap();
                }
                "copytruncate" => {
                    let copy = fs::read(path).unwrap();
                    fs::write(path.with_extension(format!("log.{n}")), copy).unwrap();
                    f.set_len(0).unwrap();
                }
                _ => unreachable!(),
            }
        }
        if how == "reopen" && n > from && (n - from) % every == 5 {
            f = open(); // the writer reopens a few entries after the rotation
        }
        f.write_all(line(n).as_bytes()).unwrap();
        std::thread::sleep(Duration::from_micros(500));
    }
}

fn request_for(t: &Tree, log: &Path) -> std::path::PathBuf {
    t.request(
        &json!({"hosts": [{"hostname": "db1.example.net", "processes": [
        {"type": "mongod", "replicaSet": "rs0", "port": 27017, "logPath": log}]}]}),
    )
}

/// Runs `logpack capture` while `write` runs; returns stdout, read as it
/// comes (a full pipe would stall the capture).
fn capture_while(req: &Path, args: &[&str], write: impl FnOnce()) -> Vec<u8> {
    let mut child = Command::new(bin())
        .arg("capture")
        .arg(req)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut out).unwrap();
        out
    });
    std::thread::sleep(Duration::from_millis(700)); // the capture starts at the end
    write();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    reader.join().unwrap()
}

/// Every record's `EventId`, each record checked by Python's json module.
fn ids_via_python(ndjson: &[u8]) -> Vec<u64> {
    let out = pipe_into(
        {
            let mut c = Command::new("python3");
            c.arg("-c").arg(
                "import json,sys\n\
                 for l in sys.stdin.buffer.read().decode('utf-8').splitlines():\n\
                 \x20   r = json.loads(l)\n\
                 \x20   assert set(r) == {'Timestamp','LogLevel','EventId','Category','Message','State','Host','Component','File','Raw'}, r\n\
                 \x20   print(r['EventId'])\n",
            );
            c
        },
        ndjson,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect()
}

fn rotation_keeps_every_entry_once(how: &str) {
    let t = Tree::new();
    let log = t.file("m/mongod.log", line(0));
    let req = request_for(&t, &log);
    // About 2,000 entries a second, rotated every second, as issue 13 asks.
    let out = capture_while(&req, &["--duration", "7"], || {
        write_rotating(&log, 1, 6001, 2000, how);
    });
    let ids = ids_via_python(&out);
    let want: Vec<u64> = (1..6001).collect();
    match how {
        "copytruncate" => {
            // Never repeated, in order. What was written after the
            // follower's last read and before a truncate is lost (README):
            // at 2,000 entries a second, at most about 200 per rotation
            // even with 100 ms of scheduling delay on a busy machine.
            assert!(
                ids.windows(2).all(|w| w[0] < w[1]),
                "repeated or out of order"
            );
            assert!(ids.len() >= 6000 - 2 * 200, "{} of 6000", ids.len());
        }
        _ => assert!(
            ids == want,
            "every entry exactly once, in order ({how}): {} of {}, first gap after {:?}",
            ids.len(),
            want.len(),
            ids.windows(2).find(|w| w[1] != w[0] + 1)
        ),
    }
}

#[test]
fn rename_rotation_loses_and_repeats_nothing() {
    rotation_keeps_every_entry_once("rename");
}

#[test]
fn reopen_rotation_loses_and_repeats_nothing() {
    rotation_keeps_every_entry_once("reopen");
}

#[test]
fn copytruncate_repeats_nothing() {
    rotation_keeps_every_entry_once("copytruncate");
}

#[test]
fn framings_read_back_with_their_own_parsers_and_the_level_filters() {
    let t = Tree::new();
    let log = t.file("m/mongod.log", "");
    let req = request_for(&t, &log);
    let write = || {
        let mut f = OpenOptions::new().append(true).open(&log).unwrap();
        for n in 1..=40 {
            f.write_all(line(n).as_bytes()).unwrap();
        }
    };
    // RFC 7464: records start with RS and end with LF.
    let seq = capture_while(
        &req,
        &["--duration", "2", "--format", "json-seq", "--level", "WARN"],
        write,
    );
    let records: Vec<&[u8]> = seq
        .split(|&b| b == 0x1e)
        .filter(|r| !r.is_empty())
        .collect();
    assert_eq!(records.len(), 4, "only the W entries (10, 20, 30, 40)");
    for r in &records {
        assert_eq!(*r.last().unwrap(), b'\n');
        let v: Value = serde_json::from_slice(r).unwrap();
        assert_eq!(v["LogLevel"], "Warning");
    }
    // SSE: events separated by a blank line, each field `name: value`.
    let sse = capture_while(&req, &["--duration", "2", "--format", "sse"], write);
    let text = String::from_utf8(sse).unwrap();
    let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert_eq!(events.len(), 40);
    for e in &events {
        let fields: Vec<(&str, &str)> = e.lines().map(|l| l.split_once(": ").unwrap()).collect();
        assert_eq!(fields[0].0, "event");
        assert!(fields[1..].iter().all(|(k, _)| *k == "data"));
        let record: Value = serde_json::from_str(fields.last().unwrap().1).unwrap();
        assert_eq!(record["Category"], "NETWORK");
    }
    let plain = capture_while(&req, &["--duration", "2", "--format", "text"], write);
    let plain = String::from_utf8(plain).unwrap();
    assert_eq!(plain.lines().count(), 40);
    assert!(
        plain
            .lines()
            .nth(9)
            .unwrap()
            .contains(" warn: NETWORK[10] "),
        "{plain}"
    );
}

#[test]
fn ctrl_c_ends_the_capture_cleanly() {
    let t = Tree::new();
    let log = t.file("m/mongod.log", "");
    let req = request_for(&t, &log);
    let child = Command::new(bin())
        .args([
            "capture".as_ref(),
            req.as_os_str(),
            "--duration".as_ref(),
            "-1".as_ref(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    fs::write(&log, line(1)).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(ids_via_python(&out.stdout), [1], "a complete last record");
}

#[test]
fn a_fourth_capture_is_refused_and_a_partial_line_is_held() {
    let t = Tree::new();
    let log = t.file("m/mongod.log", "");
    let req = Request::from_json(
        &json!({"redacted": true, "hosts": [{"hostname": "db1.example.net", "processes": [
            {"type": "mongod", "replicaSet": "rs0", "port": 27017, "logPath": log}]}]})
        .to_string(),
        &t.root(),
    )
    .unwrap();
    let engine = std::sync::Arc::new(
        Engine::new(Options {
            threads: 1,
            ..Options::default()
        })
        .unwrap(),
    );
    let cancels: Vec<CancelToken> = (0..3).map(|_| CancelToken::default()).collect();
    let running: Vec<_> = cancels
        .iter()
        .map(|c| {
            let (engine, req, cancel) = (engine.clone(), req.clone(), c.clone());
            std::thread::spawn(move || {
                let mut out = Vec::new();
                let spec = CaptureSpec {
                    duration: None,
                    cancel,
                    format: CaptureFormat::Ndjson,
                    ..CaptureSpec::default()
                };
                engine.capture(&req, &mut out, spec).map(|_| out)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let refused = engine
        .capture(&req, &mut Vec::new(), CaptureSpec::default())
        .unwrap_err();
    assert!(
        matches!(
            refused,
            Error::Refused {
                code: "RATE_LIMITED",
                ..
            }
        ),
        "{refused}"
    );
    // A line written in two pieces comes out once, whole, redacted.
    let mut f = OpenOptions::new().append(true).open(&log).unwrap();
    let text = line(7).replace("entry 7", "from 10.1.2.3");
    f.write_all(&text.as_bytes()[..40]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    f.write_all(&text.as_bytes()[40..]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    for c in &cancels {
        c.cancel();
    }
    for r in running {
        let out = r.join().unwrap().unwrap();
        let records: Vec<Value> = out
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(records.len(), 1, "{records:?}");
        assert_eq!(records[0]["EventId"], 7);
        let raw = records[0]["Raw"].as_str().unwrap();
        assert!(!raw.contains("10.1.2.3") && raw.contains("ip-"), "{raw}");
        assert!(records[0]["Host"].as_str().unwrap().starts_with("host-"));
    }
    // The slots are free again.
    let spec = CaptureSpec {
        duration: Some(Duration::from_millis(100)),
        ..CaptureSpec::default()
    };
    assert!(engine.capture(&req, &mut Vec::new(), spec).is_ok());
}

/// Runs `logpack capture` with stdout going to `stdout`, under a file-size
/// limit of `limit` bytes when given (SIGXFSZ ignored or not), while
/// entries 1..=`n` are appended to the log, each message `filler` bytes
/// longer; returns the exit code and stderr. The capture ends by itself
/// when its output fails.
fn capture_failing(
    req: &Path,
    log: &Path,
    stdout: fs::File,
    limit: Option<(u64, bool)>,
    n: u64,
    filler: usize,
) -> (Option<i32>, String) {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(bin());
    cmd.arg("capture")
        .arg(req)
        .args(["--duration", "20"])
        .stdout(stdout)
        .stderr(Stdio::piped());
    if let Some((bytes, ignore_sigxfsz)) = limit {
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let r = libc::rlimit {
                    rlim_cur: bytes as libc::rlim_t,
                    rlim_max: bytes as libc::rlim_t,
                };
                if libc::setrlimit(libc::RLIMIT_FSIZE, &r) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if ignore_sigxfsz {
                    libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                }
                Ok(())
            });
        }
    }
    let child = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(700)); // the capture starts at the end
    let mut f = OpenOptions::new().append(true).open(log).unwrap();
    let filler = format!("\"msg\":\"{} entry", "x".repeat(filler));
    for k in 1..=n {
        f.write_all(line(k).replace("\"msg\":\"entry", &filler).as_bytes())
            .unwrap();
        if k % 20 == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the capture ended when its output failed, not at its duration"
    );
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every line of an ndjson file read by Python's json module: the
/// entries' EventIds, then whether a last notice record of logpack's own
/// (Category `logpack`, LogLevel `Error`) ends it.
fn records_via_python(path: &Path) -> (Vec<u64>, bool) {
    let out = Command::new("python3")
        .arg("-c")
        .arg(
            "import json,sys\n\
             data = open(sys.argv[1], 'rb').read()\n\
             assert data == b'' or data.endswith(b'\\n'), 'a partial record at the end'\n\
             ids, notice = [], False\n\
             for l in data.decode('utf-8').split('\\n')[:-1]:\n\
             \x20   r = json.loads(l)\n\
             \x20   assert not notice, 'a record after the notice'\n\
             \x20   if r['Category'] == 'logpack':\n\
             \x20       assert r['LogLevel'] == 'Error' and 'capture ended' in r['Message'], r\n\
             \x20       notice = True\n\
             \x20   elif 'EventId' in r:\n\
             \x20       ids.append(r['EventId'])\n\
             print(' '.join(map(str, ids)))\n\
             print(notice)\n",
        )
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let ids = lines
        .next()
        .unwrap()
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    (ids, lines.next() == Some("True"))
}

/// The output file under a file-size limit of `limit` bytes, appended to
/// or not, SIGXFSZ ignored or not, while `n` entries whose messages are
/// `filler` bytes longer are written; `notice_fits` says whether the
/// notice record is sure to fit (else it may or may not).
fn a_full_output_file_ends_with_whole_records(
    append: bool,
    ignore_sigxfsz: bool,
    (limit, n, filler): (u64, u64, usize),
    notice_fits: bool,
) {
    let t = Tree::new();
    let log = t.file("m/mongod.log", "");
    let req = request_for(&t, &log);
    // What was in the file before (`>>`) stays.
    let before = "{\"before\":1}\n";
    let out_path = t.file("out.ndjson", if append { before } else { "" });
    let stdout = OpenOptions::new()
        .write(true)
        .append(append)
        .open(&out_path)
        .unwrap();
    let (code, stderr) =
        capture_failing(&req, &log, stdout, Some((limit, ignore_sigxfsz)), n, filler);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("File too large") && stderr.contains("failed after"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let data = fs::read(&out_path).unwrap();
    assert!(data.len() as u64 <= limit);
    let (ids, notice) = if append {
        assert!(data.starts_with(before.as_bytes()));
        let rest = t.file("rest.ndjson", &data[before.len()..]);
        records_via_python(&rest)
    } else {
        records_via_python(&out_path)
    };
    // Whole records, in order, from the first; stderr counts them.
    assert!(ids.len() >= 5, "{} records", ids.len());
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>());
    assert!(
        stderr.contains(&format!("failed after {} entries", ids.len())),
        "{stderr}"
    );
    assert_eq!(
        notice,
        stderr.contains("then a notice record"),
        "the notice is there when stderr says so: {stderr}"
    );
    assert!(notice || !notice_fits, "the notice fits: {stderr}");
}

#[test]
fn a_file_size_limit_under_the_output_leaves_whole_records() {
    // As a full disk: EFBIG with SIGXFSZ ignored. Records of about 20 KB
    // and a limit of about 5.5 of them: the sixth is cut half way, taken
    // back, and the notice (a few hundred bytes) fits in its place.
    a_full_output_file_ends_with_whole_records(false, true, (110_000, 30, 9_800), true);
}

#[test]
fn a_file_size_limit_under_an_appended_output_leaves_whole_records() {
    // O_APPEND (`>>`), and SIGXFSZ left at its default: the capture
    // catches it rather than being ended by it. Records of about 500
    // bytes: 400 entries are four times the limit.
    a_full_output_file_ends_with_whole_records(true, false, (48 << 10, 400, 0), false);
}

#[test]
fn dev_full_as_the_output_ends_the_capture_with_a_message() {
    let t = Tree::new();
    let log = t.file("m/mongod.log", "");
    let req = request_for(&t, &log);
    let full = OpenOptions::new().write(true).open("/dev/full").unwrap();
    let (code, stderr) = capture_failing(&req, &log, full, None, 50, 0);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("logpack: error: writing the capture to stdout failed after 0 entries")
            && stderr.contains("No space left on device"),
        "{stderr}"
    );
}
