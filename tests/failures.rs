//! Missing paths and missing logs: the archive is still written with every
//! successful component, and the manifest says what failed (exit code 3).

mod common;

use std::fs;
use std::path::Path;

use common::*;
use serde_json::json;

fn collect(req: &Path, out: &Path) -> Run {
    logpack(&[
        "collect".as_ref(),
        req.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
        "--threads".as_ref(),
        "2".as_ref(),
    ])
}

/// Every entry but the manifest is byte-identical to `root/<source>` for the
/// given (archive path, source) pairs, and there are no others.
fn assert_entries(entries: &[Entry], root: &Path, want: &[(&str, &str)]) {
    let mut got: Vec<&str> = entries
        .iter()
        .filter(|e| e.name != "manifest.json")
        .map(|e| e.name.as_str())
        .collect();
    got.sort();
    let mut names: Vec<&str> = want.iter().map(|(a, _)| *a).collect();
    names.sort();
    assert_eq!(got, names);
    for (archive_path, source) in want {
        let data = &entry(entries, archive_path).data;
        assert!(
            *data == fs::read(root.join(source)).unwrap(),
            "{archive_path} differs from {source}"
        );
    }
}

#[test]
fn missing_log_directory_fails_only_its_component() {
    let t = Tree::new();
    t.file("agent/automation-agent.log", log_text(3000, 1));
    t.file("agent/monitoring-agent.log", log_text(1000, 2));
    t.file("agent/backup-agent.log", log_text(500, 3));
    t.file("good/mongod.log.2026-11-19T10-00-00", log_text(7000, 4));
    t.file("good/mongod.log", log_text(5000, 5));
    t.file("good/db/diagnostic.data/metrics.interim", [7u8; 300]);
    let missing_dir = t.path("gone");
    let req = t.request(&json!({
        "resourceName": "failing",
        "hosts": [{
            "hostname": "h1.example.net",
            "agentLogDir": t.path("agent"),
            "processes": [
                {"type": "mongod", "replicaSet": "rs0", "port": 27017,
                 "logPath": t.path("good/mongod.log"), "dbPath": t.path("good/db")},
                {"type": "mongod", "replicaSet": "rs0", "port": 27018,
                 "logPath": missing_dir.join("mongod.log")}
            ]
        }]
    }));
    let out = t.path("out.tar.gz");
    let run = collect(&req, &out);
    assert_eq!(run.code, 3, "stderr: {}", run.stderr);
    assert!(out.is_file(), "the archive is written despite the failure");

    let entries = read_entries(&out);
    let manifest = manifest_of(&entries);
    check_manifest_matches(&entries, &manifest);
    assert_eq!(manifest["status"], "FAILURE");

    let failed = child(&manifest, "h1.example.net/rs0/27018", "MONGODB");
    assert_eq!(failed["status"], "FAILURE");
    assert_eq!(failed["hostName"], "h1.example.net:27018");
    let msg = failed["errorMessage"].as_str().expect("an errorMessage");
    assert!(
        msg.contains(&*missing_dir.to_string_lossy()),
        "errorMessage does not name the path: {msg}"
    );
    assert!(msg.contains("No such file or directory"), "{msg}");
    assert!(failed["files"].as_array().unwrap().is_empty());

    // Exactly one child failed; every other one is intact.
    let failures: Vec<&str> = manifest["childJobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] != "SUCCESS")
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert_eq!(failures, ["h1.example.net/rs0/27018"]);
    let root = t.root();
    assert_entries(
        &entries,
        &root,
        &[
            (
                "h1.example.net/automation_agent/automation-agent.log",
                "agent/automation-agent.log",
            ),
            (
                "h1.example.net/automation_agent/monitoring-agent.log",
                "agent/monitoring-agent.log",
            ),
            (
                "h1.example.net/automation_agent/backup-agent.log",
                "agent/backup-agent.log",
            ),
            (
                "h1.example.net/rs0/27017/mongod.log.2026-11-19T10-00-00",
                "good/mongod.log.2026-11-19T10-00-00",
            ),
            ("h1.example.net/rs0/27017/mongod.log", "good/mongod.log"),
            (
                "h1.example.net/rs0/27017/diagnostic.data/metrics.interim",
                "good/db/diagnostic.data/metrics.interim",
            ),
        ],
    );
    // The CLI names the failure too.
    assert!(run.stderr.contains("FAILURE"), "{}", run.stderr);

    let verify = logpack(&["verify".as_ref(), out.as_os_str()]);
    assert_eq!(verify.code, 0, "{}", verify.stderr);
}

#[test]
fn process_without_live_log_or_rotated_sibling_fails() {
    let t = Tree::new();
    t.file("p1/mongod.log", log_text(2000, 1));
    // The directory exists, but holds nothing that belongs to mongod.log.
    t.file("p2/mongod.conf", "systemLog:\n  path: mongod.log\n");
    t.file("p2/other.log", log_text(100, 2));
    t.file("p2/mongod.log-old", log_text(100, 3));
    let req = t.request(&json!({
        "hosts": [{
            "hostname": "h1",
            "processes": [
                {"type": "mongod", "port": 27017, "logPath": t.path("p1/mongod.log")},
                {"type": "mongod", "port": 27018, "logPath": t.path("p2/mongod.log")}
            ]
        }]
    }));
    let out = t.path("out.tar.gz");
    let run = collect(&req, &out);
    assert_eq!(run.code, 3, "stderr: {}", run.stderr);

    let entries = read_entries(&out);
    let manifest = manifest_of(&entries);
    check_manifest_matches(&entries, &manifest);
    assert_eq!(manifest["status"], "FAILURE");
    let failed = child(&manifest, "h1/standalone/27018", "MONGODB");
    assert_eq!(failed["status"], "FAILURE");
    let msg = failed["errorMessage"].as_str().expect("an errorMessage");
    assert!(
        msg.contains(&*t.path("p2/mongod.log").to_string_lossy()),
        "errorMessage does not name the log path: {msg}"
    );
    assert!(failed["files"].as_array().unwrap().is_empty());
    let ok = child(&manifest, "h1/standalone/27017", "MONGODB");
    assert_eq!(ok["status"], "SUCCESS");
    assert_entries(
        &entries,
        &t.root(),
        &[("h1/standalone/27017/mongod.log", "p1/mongod.log")],
    );
}

#[test]
fn agent_dir_without_backup_agent_files_is_success_without_files() {
    let t = Tree::new();
    t.file("agent/automation-agent.log", log_text(1500, 1));
    t.file("agent/monitoring-agent.log", log_text(900, 2));
    t.file("agent/readiness.log", "ready\n");
    let req = t.request(&json!({
        "hosts": [{"hostname": "h1", "agentLogDir": t.path("agent")}]
    }));
    let out = t.path("out.tar.gz");
    let run = collect(&req, &out);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);

    let entries = read_entries(&out);
    let manifest = manifest_of(&entries);
    check_manifest_matches(&entries, &manifest);
    assert_eq!(manifest["status"], "SUCCESS");
    let backup = child(&manifest, "h1/automation_agent", "BACKUP_AGENT");
    assert_eq!(backup["status"], "SUCCESS");
    assert!(backup["errorMessage"].is_null());
    assert!(backup["files"].as_array().unwrap().is_empty());
    assert!(
        !backup["notes"].as_array().is_none_or(|n| n.is_empty()),
        "PRODUCT.md §3: a type with no files gets a note: {backup:#}"
    );
    assert_entries(
        &entries,
        &t.root(),
        &[
            (
                "h1/automation_agent/automation-agent.log",
                "agent/automation-agent.log",
            ),
            (
                "h1/automation_agent/monitoring-agent.log",
                "agent/monitoring-agent.log",
            ),
        ],
    );
}
