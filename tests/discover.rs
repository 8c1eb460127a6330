//! `logpack discover` and `collect --discover` (PRODUCT.md §13) as a user
//! runs them: on a host where nothing runs (exit 3, and collect writes
//! nothing), and on a fixture /proc and /etc whose request `collect`
//! accepts and collects.

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use serde_json::Value;

use common::*;

/// A fixture host: /proc with one mongod (a YAML config relative to its
/// working directory) and /etc with an automation agent config.
fn fixture(t: &Tree) -> (std::path::PathBuf, std::path::PathBuf) {
    let proc_root = t.mkdir("proc");
    let etc_root = t.mkdir("etc");
    fs::create_dir_all(proc_root.join("sys/kernel")).unwrap();
    fs::write(proc_root.join("sys/kernel/hostname"), "db7.example.net\n").unwrap();
    let log = t.file("data/rs1/mongod.log", log_text(50_000, 3));
    t.file(
        "data/rs1/mongod.log.2026-11-20T10-00-00",
        log_text(20_000, 4),
    );
    t.mkdir("data/rs1/db/diagnostic.data");
    t.file(
        "data/rs1/mongod.conf",
        format!(
            "systemLog:\n  destination: file\n  path: {}\nstorage:\n  dbPath: {}\nnet:\n  port: 27031\nreplication:\n  replSetName: rs1\n",
            log.display(),
            t.path("data/rs1/db").display()
        ),
    );
    let pid = proc_root.join("4242");
    fs::create_dir_all(&pid).unwrap();
    fs::write(pid.join("comm"), "mongod\n").unwrap();
    fs::write(
        pid.join("cmdline"),
        b"/usr/bin/mongod\0--config\0mongod.conf\0",
    )
    .unwrap();
    fs::write(pid.join("status"), "Name:\tmongod\nUid:\t0\t0\t0\t0\n").unwrap();
    symlink(t.path("data/rs1"), pid.join("cwd")).unwrap();
    let agent_dir = t.mkdir("var/log/mongodb-mms-automation");
    fs::write(agent_dir.join("automation-agent.log"), log_text(10_000, 5)).unwrap();
    fs::create_dir_all(etc_root.join("mongodb-mms")).unwrap();
    fs::write(
        etc_root.join("mongodb-mms/automation-agent.config"),
        format!(
            "mmsGroupId=5f3c2a1b9d8e7f6a5b4c3d2e\nmmsApiKey=secret-not-to-be-shown\nlogFile={}/automation-agent.log\n",
            agent_dir.display()
        ),
    )
    .unwrap();
    (proc_root, etc_root)
}

fn roots<'a>(proc_root: &'a Path, etc_root: &'a Path) -> Vec<&'a std::ffi::OsStr> {
    vec![
        "--proc-root".as_ref(),
        proc_root.as_os_str(),
        "--etc-root".as_ref(),
        etc_root.as_os_str(),
    ]
}

#[test]
fn nothing_found_exits_3_and_collect_writes_nothing() {
    let t = Tree::new();
    let (proc_root, etc_root) = (t.mkdir("proc"), t.mkdir("etc"));
    let mut args: Vec<&std::ffi::OsStr> = vec!["discover".as_ref()];
    args.extend(roots(&proc_root, &etc_root));
    let run = logpack(&args);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("Nothing to collect"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
    let out = t.path("out.tar.gz");
    let mut args: Vec<&std::ffi::OsStr> = vec!["collect".as_ref(), "--discover".as_ref()];
    args.extend(roots(&proc_root, &etc_root));
    args.extend(["-o".as_ref(), out.as_os_str()]);
    let run = logpack(&args);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(!out.exists());
    assert!(temp_files_in(&t.root()).is_empty());
}

#[test]
fn a_discovered_request_is_accepted_and_collected() {
    let t = Tree::new();
    let (proc_root, etc_root) = fixture(&t);
    let mut args: Vec<&std::ffi::OsStr> = vec!["discover".as_ref()];
    args.extend(roots(&proc_root, &etc_root));
    let run = logpack(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let request: Value = serde_json::from_slice(&run.stdout).unwrap();
    let host = &request["hosts"][0];
    assert_eq!(host["hostname"], "db7.example.net");
    assert_eq!(
        host["agentLogDir"],
        t.path("var/log/mongodb-mms-automation").to_str().unwrap()
    );
    let p = &host["processes"][0];
    assert_eq!(
        (p["type"].as_str(), p["port"].as_u64()),
        (Some("mongod"), Some(27031))
    );
    assert_eq!(p["replicaSet"], "rs1");
    assert!(!String::from_utf8_lossy(&run.stdout).contains("secret-not-to-be-shown"));
    // The printed request is one `collect` takes as it is.
    let file = t.file("discovered.json", &run.stdout);
    let out = t.path("from-file.tar.gz");
    let run = logpack(&[
        "collect".as_ref(),
        file.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // And `collect --discover` collects the same components.
    let direct = t.path("direct.tar.gz");
    let mut args: Vec<&std::ffi::OsStr> = vec!["collect".as_ref(), "--discover".as_ref()];
    args.extend(roots(&proc_root, &etc_root));
    args.extend(["-o".as_ref(), direct.as_os_str(), "-q".as_ref()]);
    let run = logpack(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let entries = read_entries(&direct);
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    assert!(
        names.contains(&"db7.example.net/rs1/27031/mongod.log"),
        "{names:?}"
    );
    assert!(names.contains(&"db7.example.net/rs1/27031/mongod.log.2026-11-20T10-00-00"));
    assert!(names.contains(&"db7.example.net/automation_agent/automation-agent.log"));
    let compact = logpack(&{
        let mut a: Vec<&std::ffi::OsStr> = vec!["discover".as_ref(), "--json".as_ref()];
        a.extend(roots(&proc_root, &etc_root));
        a
    });
    assert_eq!(compact.stdout.iter().filter(|&&b| b == b'\n').count(), 1);
    let again: Value = serde_json::from_slice(&compact.stdout).unwrap();
    assert_eq!(again, request);
}
