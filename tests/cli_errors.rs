//! Bad requests and bad options: exit 2, the field named on stderr, nothing
//! written. Unwritable outputs: exit 1, nothing written.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::{json, Value};

/// A tree with one valid host, and an empty `out/` directory for the archive.
fn tree() -> Tree {
    let t = Tree::new();
    t.file("logs/mongod.log", log_text(4000, 1));
    t.file("agent/automation-agent.log", log_text(1000, 2));
    t.mkdir("out");
    t
}

fn valid_request(t: &Tree) -> Value {
    json!({
        "resourceName": "c",
        "hosts": [{
            "hostname": "h1",
            "agentLogDir": t.path("agent"),
            "processes": [{"type": "mongod", "replicaSet": "rs0", "port": 27017,
                           "logPath": t.path("logs/mongod.log")}]
        }]
    })
}

/// Runs `collect REQ -o out/x.tar.gz EXTRA...` and checks that nothing at
/// all was written to `out/`.
fn collect_writes_nothing(t: &Tree, req: &Path, extra: &[&str]) -> Run {
    let out_dir = t.path("out");
    let out = out_dir.join("x.tar.gz");
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "collect".as_ref(),
        req.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
    ];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    let run = logpack(&args);
    assert!(!out.exists(), "a file was left at the output path");
    assert!(
        names_in(&out_dir).is_empty(),
        "files left in the output directory: {:?}",
        names_in(&out_dir)
    );
    run
}

/// The valid request with `edit` applied must be refused with exit 2 and a
/// message that names `field`.
fn refused(edit: impl FnOnce(&mut Value), field: &str) {
    let t = tree();
    let mut req = valid_request(&t);
    edit(&mut req);
    let path = t.request(&req);
    let run = collect_writes_nothing(&t, &path, &[]);
    assert_eq!(
        run.code, 2,
        "expected exit 2 for {field}; stderr: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains(field),
        "stderr does not name {field}: {}",
        run.stderr
    );
}

#[test]
fn valid_request_is_accepted() {
    // The baseline of every test below: unedited, the request works.
    let t = tree();
    let path = t.request(&valid_request(&t));
    let out = t.path("out/x.tar.gz");
    let run = logpack(&[
        "collect".as_ref(),
        path.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(out.is_file());
}

#[test]
fn unknown_log_type() {
    refused(
        |r| r["logTypes"] = json!(["MONGODB", "MONGOD_LOGS"]),
        "logTypes[1]",
    );
}

#[test]
fn size_per_file_zero() {
    refused(
        |r| r["sizeRequestedPerFileBytes"] = json!(0),
        "sizeRequestedPerFileBytes",
    );
}

#[test]
fn size_per_file_negative() {
    refused(
        |r| r["sizeRequestedPerFileBytes"] = json!(-1),
        "sizeRequestedPerFileBytes",
    );
}

#[test]
fn from_after_to() {
    refused(
        |r| {
            r["logCollectionFromDate"] = json!("2026-11-21T00:00:00Z");
            r["logCollectionToDate"] = json!("2026-11-20T00:00:00Z");
        },
        "logCollectionFromDate",
    );
}

#[test]
fn port_zero() {
    refused(
        |r| r["hosts"][0]["processes"][0]["port"] = json!(0),
        "hosts[0].processes[0].port",
    );
}

#[test]
fn port_too_large() {
    refused(
        |r| r["hosts"][0]["processes"][0]["port"] = json!(70000),
        "hosts[0].processes[0].port",
    );
}

#[test]
fn host_without_hostname() {
    refused(
        |r| {
            r["hosts"][0].as_object_mut().unwrap().remove("hostname");
        },
        "hosts[0].hostname",
    );
}

#[test]
fn unknown_top_level_field() {
    refused(|r| r["levle"] = json!("WARN"), "levle");
}

#[test]
fn unknown_nested_field() {
    refused(
        |r| r["hosts"][0]["processes"][0]["logpath"] = json!("x"),
        "logpath",
    );
}

#[test]
fn malformed_json_names_line_and_column() {
    let t = tree();
    let path = t.file("request.json", "{\n  \"hosts\": [\n    {,\n]}");
    let run = collect_writes_nothing(&t, &path, &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("line 3") && run.stderr.contains("column 6"),
        "stderr should point at line 3, column 6: {}",
        run.stderr
    );
}

fn bad_option(extra: &[&str], name: &str) {
    let t = tree();
    let path = t.request(&valid_request(&t));
    let run = collect_writes_nothing(&t, &path, extra);
    assert_eq!(run.code, 2, "{extra:?}: {}", run.stderr);
    assert!(
        run.stderr.contains(name),
        "stderr does not name {name}: {}",
        run.stderr
    );
}

#[test]
fn zero_threads() {
    bad_option(&["--threads", "0"], "threads");
}

#[test]
fn compression_level_out_of_range() {
    bad_option(&["--compression-level", "42"], "compression-level");
}

#[test]
fn bad_override_flags_name_their_field() {
    bad_option(&["--size-per-file", "0"], "sizeRequestedPerFileBytes");
    bad_option(
        &[
            "--from",
            "2026-11-21T00:00:00Z",
            "--to",
            "2026-11-20T00:00:00Z",
        ],
        "logCollectionFromDate",
    );
}

#[test]
fn missing_request_file() {
    let t = tree();
    let missing = t.path("no-such-request.json");
    let run = collect_writes_nothing(&t, &missing, &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("no-such-request.json"),
        "stderr names the file: {}",
        run.stderr
    );
}

fn unwritable(out: PathBuf) {
    let t = tree();
    let path = t.request(&valid_request(&t));
    let before = names_in(&t.root());
    let run = logpack(&[
        "collect".as_ref(),
        path.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(run.code, 1, "{}: {}", out.display(), run.stderr);
    assert!(!out.exists());
    assert!(!run.stderr.is_empty());
    assert_eq!(names_in(&t.root()), before, "nothing new in the tree");
}

#[test]
fn output_in_proc_is_fatal() {
    unwritable(PathBuf::from("/proc/nonexistent/x.tar.gz"));
}

#[test]
fn output_below_a_regular_file_is_fatal() {
    let t = Tree::new();
    let afile = t.file("afile", "I am a file\n");
    // `unwritable` builds its own tree; the file only has to exist.
    unwritable(afile.join("x.tar.gz"));
    assert_eq!(std::fs::read(&afile).unwrap(), b"I am a file\n");
}

#[test]
fn output_to_a_missing_directory_is_fatal() {
    let t = Tree::new();
    unwritable(t.path("no/such/dir/x.tar.gz"));
    assert!(names_in(&t.root()).is_empty());
}
