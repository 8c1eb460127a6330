//! Selection through the CLI on the sample deployment: include/exclude
//! globs, FTDC by time span and by BSON boundary, relative `--from`, and
//! redaction of source paths in manifest messages.

mod common;

use std::path::Path;

use common::*;
use serde_json::{json, Value};

fn collect(req: &Path, out: &Path, extra: &[&str]) -> (Run, Vec<Entry>, Value) {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "collect".as_ref(),
        req.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
        "--quiet".as_ref(),
    ];
    args.extend(extra.iter().map(|a| std::ffi::OsStr::new(*a)));
    let run = logpack(&args);
    assert!(
        run.code == 0 || run.code == 3,
        "collect failed: {}",
        run.stderr
    );
    let entries = read_entries(out);
    let manifest = manifest_of(&entries);
    check_manifest_matches(&entries, &manifest);
    (run, entries, manifest)
}

fn names(entries: &[Entry]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e.name.clone())
        .filter(|n| n != "manifest.json")
        .collect()
}

#[test]
fn include_and_exclude_match_archive_paths_and_exclude_wins() {
    let t = Tree::new();
    let sample = sample_dir();
    let mut request: Value =
        serde_json::from_slice(&std::fs::read(sample.join("request.json")).unwrap()).unwrap();
    // Paths in the copied request stay relative to the sample.
    for host in request["hosts"].as_array_mut().unwrap() {
        for key in ["agentLogDir", "omLogDir"] {
            if let Some(v) = host.get(key).and_then(Value::as_str) {
                host[key] = json!(sample.join(v));
            }
        }
        for p in host
            .get_mut("processes")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            for key in ["logPath", "dbPath"] {
                if let Some(v) = p.get(key).and_then(Value::as_str) {
                    p[key] = json!(sample.join(v));
                }
            }
        }
    }
    request["include"] = json!(["db1.example.net/rs0/**", "**/mongos.log*"]);
    request["exclude"] = json!(["**/*.gz", "**/diagnostic.data/*"]);
    let req = t.request(&request);
    let out = t.path("g.tar.gz");
    let (_, entries, manifest) = collect(&req, &out, &[]);
    let got = names(&entries);
    assert_eq!(
        got,
        [
            "db1.example.net/rs0/27017/mongod.log.2026-11-19T10-00-00",
            "db1.example.net/rs0/27017/mongod.log",
            "db1.example.net/rs0/27018/mongod.log.2026-11-19T10-00-00",
            "db1.example.net/rs0/27018/mongod.log",
            "db1.example.net/mongos/27016/mongos.log.2026-11-19T10-00-00",
            "db1.example.net/mongos/27016/mongos.log",
        ]
    );
    // What the globs left out is listed with the reason.
    let rs0 = child(&manifest, "db1.example.net/rs0/27017", "MONGODB");
    let skipped = skipped_names(rs0);
    assert_eq!(skipped, ["mongod.log.2026-11-18T10-00-00.gz"]);
    assert!(rs0["skipped"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("include/exclude"));
}

#[test]
fn ftdc_is_selected_by_the_span_its_names_give_and_cut_between_documents() {
    let t = Tree::new();
    let req = sample_dir().join("request.json");
    // 2026-11-19T12:00 lies in the span of metrics.2026-11-19T10-00-00Z (until
    // the next file starts at 2026-11-20T10:00) and before the others.
    let out = t.path("f.tar.gz");
    let (_, entries, manifest) = collect(
        &req,
        &out,
        &[
            "--from",
            "2026-11-19T11:00:00Z",
            "--to",
            "2026-11-19T12:00:00Z",
        ],
    );
    let ftdc: Vec<String> = names(&entries)
        .into_iter()
        .filter(|n| n.starts_with("db1.example.net/rs0/27017/diagnostic.data/"))
        .collect();
    assert_eq!(
        ftdc,
        ["db1.example.net/rs0/27017/diagnostic.data/metrics.2026-11-19T10-00-00Z-00000"]
    );
    let c = child(
        &manifest,
        "db1.example.net/rs0/27017/diagnostic.data",
        "FTDC",
    );
    let skipped = skipped_names(c);
    assert_eq!(
        skipped,
        ["metrics.2026-11-20T10-00-00Z-00000", "metrics.interim"]
    );

    // A cap keeps the newest whole BSON documents: the entry is a suffix of
    // the file that starts at a document boundary and parses as BSON lengths.
    let out = t.path("c.tar.gz");
    let (_, entries, _) = collect(&req, &out, &["--size-per-file", "1500"]);
    let source = std::fs::read(
        sample_dir()
            .join("hosts/db1/rs0_27017/db/diagnostic.data/metrics.2026-11-19T10-00-00Z-00000"),
    )
    .unwrap();
    let e = entry(
        &entries,
        "db1.example.net/rs0/27017/diagnostic.data/metrics.2026-11-19T10-00-00Z-00000",
    );
    assert!(e.data.len() <= 1500 && !e.data.is_empty());
    assert!(source.ends_with(&e.data));
    let mut at = 0;
    while at < e.data.len() {
        let len = u32::from_le_bytes(e.data[at..at + 4].try_into().unwrap()) as usize;
        assert!(
            len >= 5 && at + len <= e.data.len(),
            "not a BSON document boundary at {at}"
        );
        at += len;
    }
}

#[test]
fn relative_from_means_that_long_before_now() {
    let t = Tree::new();
    let now = jiff::Timestamp::now();
    let fmt = |t: jiff::Timestamp| {
        format!(
            "[{}] [.info] [x.go:f:1] line at {t}\n",
            t.strftime("%Y-%m-%dT%H:%M:%S%.3f+0000")
        )
    };
    let old = now - jiff::SignedDuration::from_hours(5);
    let recent = now - jiff::SignedDuration::from_mins(30);
    t.file(
        "agent/automation-agent.log",
        format!("{}{}", fmt(old), fmt(recent)),
    );
    let req = t.request(&json!({"hosts": [{"hostname": "h", "agentLogDir": t.path("agent")}], "logTypes": ["AUTOMATION_AGENT"]}));
    for span in ["2h", "120m"] {
        let out = t.path(&format!("r{span}.tar.gz"));
        let (_, entries, manifest) = collect(&req, &out, &["--from", span]);
        let body = String::from_utf8(
            entry(&entries, "h/automation_agent/automation-agent.log")
                .data
                .clone(),
        )
        .unwrap();
        assert_eq!(body, fmt(recent), "--from {span}");
        let from: jiff::Timestamp = manifest["logCollectionFromDate"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let expected = now - jiff::SignedDuration::from_hours(2);
        assert!(
            (from.as_second() - expected.as_second()).abs() < 300,
            "{from} vs {expected}"
        );
    }
    // "3d" is a calendar span: the old line (5 h ago) is inside it.
    let out = t.path("d.tar.gz");
    let (_, entries, _) = collect(&req, &out, &["--from", "3d"]);
    let body = String::from_utf8(
        entry(&entries, "h/automation_agent/automation-agent.log")
            .data
            .clone(),
    )
    .unwrap();
    assert_eq!(body, format!("{}{}", fmt(old), fmt(recent)));
}

#[test]
fn redaction_hides_source_paths_in_manifest_messages() {
    let t = Tree::new();
    let secret_dir = t.path("home/alice-secret-dir/logs");
    let req = t.request(&json!({"hosts": [{"hostname": "h", "processes": [{"type": "mongod", "port": 27017, "logPath": secret_dir.join("mongod.log")}]}]}));
    let out = t.path("p.tar.gz");
    let (run, entries, manifest) = collect(&req, &out, &["--redact"]);
    assert_eq!(run.code, 3, "the missing directory fails its component");
    let text = String::from_utf8_lossy(&entry(&entries, "manifest.json").data).into_owned();
    assert!(!text.contains("alice-secret-dir"), "{text}");
    let c = &manifest["childJobs"][0];
    assert!(c["errorMessage"]
        .as_str()
        .unwrap()
        .contains("No such file or directory"));
}
