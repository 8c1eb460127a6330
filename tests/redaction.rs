//! `--redact` end to end on the sample deployment: nothing it was asked to
//! hide reaches the archive (bodies, paths or manifest), tokens are
//! consistent across files, JSON stays JSON, and the token map sits beside
//! the archive with mode 0600.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::*;

/// `logpack collect --redact` of the sample into `out`; returns the token
/// map the CLI wrote beside it.
fn collect_redacted_sample(out: &Path) -> BTreeMap<String, String> {
    let req = sample_dir().join("request.json");
    let run = logpack(&[
        "collect".as_ref(),
        req.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
        "--redact".as_ref(),
        "--quiet".as_ref(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let map = PathBuf::from(format!("{}.redaction-map.json", out.display()));
    serde_json::from_slice(&std::fs::read(map).unwrap()).unwrap()
}

#[test]
fn redacted_sample_hides_hosts_ips_and_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.tar.gz");
    let map = collect_redacted_sample(&out);
    let entries = read_entries(&out);
    let manifest = manifest_of(&entries);
    check_manifest_matches(&entries, &manifest);
    assert_eq!(manifest["redacted"], true);

    // Secrets the sample is known to carry (examples/sample/README.md).
    let secrets = [
        "db1.example.net",
        "db2.example.net",
        "om1.example.net",
        "example-password",
        "mms-automation:",
    ];
    let mut everything = String::new();
    for e in &entries {
        everything.push_str(&e.name);
        everything.push('\n');
        everything.push_str(&String::from_utf8_lossy(&e.data));
    }
    for s in secrets {
        assert!(!everything.contains(s), "{s:?} leaked into the archive");
    }
    // No IPv4 address survives in any body (four octets <= 255, not part of
    // a longer dotted version number).
    let ipv4 = regex::Regex::new(r"[\d.]*\b(?:\d{1,3}\.){3}\d{1,3}\b[\d.]*").unwrap();
    for e in &entries {
        let text = String::from_utf8_lossy(&e.data);
        for m in ipv4.find_iter(&text) {
            let candidate = m.as_str().trim_end_matches('.');
            if candidate.parse::<std::net::Ipv4Addr>().is_ok() {
                panic!("{}: address {candidate} left in clear", e.name);
            }
        }
    }
    // FTDC cannot be redacted: skipped with a reason, never archived.
    assert!(entries.iter().all(|e| !e.name.contains("diagnostic.data")));
    let ftdc_skips: Vec<_> = manifest["childJobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["logCollectionType"] == "FTDC")
        .flat_map(|c| c["skipped"].as_array().unwrap().clone())
        .collect();
    assert!(!ftdc_skips.is_empty());
    assert!(ftdc_skips
        .iter()
        .all(|s| s["reason"].as_str().unwrap().contains("redact")));

    // JSON lines stay JSON.
    for e in entries.iter().filter(|e| e.name != "manifest.json") {
        for line in String::from_utf8_lossy(&e.data).lines() {
            if line.starts_with('{') && serde_json::from_str::<serde_json::Value>(line).is_err() {
                panic!("{}: not JSON after redaction: {line}", e.name);
            }
        }
    }

    // The map: beside the archive, 0600, maps tokens back, never inside.
    let map_path = dir.path().join("r.tar.gz.redaction-map.json");
    let mode = std::fs::metadata(&map_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let host_token = map
        .iter()
        .find(|(_, v)| v.as_str() == "db1.example.net")
        .map(|(k, _)| k.clone())
        .expect("db1's host name has a token");
    assert!(entries
        .iter()
        .any(|e| e.name.starts_with(&format!("{host_token}/"))));
    assert!(manifest["childJobs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["hostName"].as_str().unwrap().starts_with(&host_token)));
    assert!(entries.iter().all(|e| !e.name.contains("redaction-map")));
    // The same password token in both hosts' verbose agent logs.
    let secret_token = map
        .iter()
        .find(|(_, v)| v.as_str() == "example-password")
        .map(|(k, _)| k.clone())
        .expect("the password has a token");
    let carrying: Vec<_> = entries
        .iter()
        .filter(|e| String::from_utf8_lossy(&e.data).contains(&secret_token))
        .map(|e| e.name.clone())
        .collect();
    assert!(carrying.len() >= 2, "{carrying:?}");
    // Every file's redaction count is in the manifest.
    let counted: u64 = manifest_files(&manifest)
        .values()
        .map(|f| f["redactions"].as_u64().unwrap())
        .sum();
    assert!(counted > 0);
}

#[test]
fn two_archives_get_unlinkable_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let mut maps = Vec::new();
    for name in ["a.tar.gz", "b.tar.gz"] {
        let out = dir.path().join(name);
        maps.push(collect_redacted_sample(&out));
    }
    let token_of = |m: &BTreeMap<String, String>| {
        m.iter()
            .find(|(_, v)| v.as_str() == "db1.example.net")
            .map(|(k, _)| k.clone())
            .unwrap()
    };
    assert_ne!(token_of(&maps[0]), token_of(&maps[1]));
}
