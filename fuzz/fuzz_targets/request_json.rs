//! Request parsing and validation on arbitrary text.
//!
//! `Request::from_json` must never panic. Errors are fine, but they must be
//! request errors (`is_bad_request`). A request that is accepted must hold
//! the promises that the rest of the engine relies on: absolute paths, archive
//! path components that cannot escape their directory, a sorted, deduplicated
//! and non-empty list of log types, and an ordered date range.

#![no_main]

use std::collections::HashSet;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use logpack::request::ProcessKind;
use logpack::Request;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Request::from_json(text, Path::new("/base")) {
        Ok(request) => check(&request),
        Err(e) => {
            let message = e.to_string();
            assert!(e.is_bad_request(), "not a request error: {message}");
        }
    }
});

/// One archive path component: what `hostname` and `replicaSet` become.
fn assert_component(what: &str, s: &str) {
    assert!(
        !s.is_empty() && s != "." && s != ".." && !s.contains('/') && !s.contains('\0'),
        "{what} {s:?} was accepted but is not a safe archive path component"
    );
}

fn assert_path(what: &str, p: &Path) {
    assert!(p.is_absolute(), "{what} {p:?} is not absolute");
    assert!(
        !p.as_os_str().as_encoded_bytes().contains(&0),
        "{what} {p:?} holds a NUL byte"
    );
}

fn check(request: &Request) {
    assert!(!request.hosts.is_empty(), "a request without hosts");
    assert!(!request.log_types.is_empty(), "a request without log types");
    assert!(
        request.log_types.windows(2).all(|w| w[0] < w[1]),
        "log types not sorted and unique: {:?}",
        request.log_types
    );
    if let (Some(from), Some(to)) = (request.from, request.to) {
        assert!(from <= to, "from {from} is after to {to}");
    }
    if let Some(n) = request.size_requested_per_file_bytes {
        assert!(n > 0);
    }

    let mut dirs = HashSet::new();
    let mut hostnames = HashSet::new();
    for host in &request.hosts {
        assert_component("hostname", &host.hostname);
        assert!(hostnames.insert(&host.hostname), "duplicate host");
        assert!(
            host.agent_log_dir.is_some() || !host.processes.is_empty() || host.om_log_dir.is_some(),
            "host {:?} names nothing to collect",
            host.hostname
        );
        for dir in [&host.agent_log_dir, &host.om_log_dir]
            .into_iter()
            .flatten()
        {
            assert_path("log directory", dir);
        }
        for process in &host.processes {
            assert!(process.port >= 1);
            assert_path("logPath", &process.log_path);
            if let Some(db) = &process.db_path {
                assert_path("dbPath", db);
            }
            if let Some(rs) = &process.replica_set {
                assert_eq!(
                    process.kind,
                    ProcessKind::Mongod,
                    "a mongos with a replica set"
                );
                assert_component("replicaSet", rs);
            }
            let dir = process.archive_dir();
            assert!(
                dirs.insert(format!("{}/{dir}", host.hostname)),
                "two processes of {:?} share {dir}",
                host.hostname
            );
            if let Some(ftdc) = process.ftdc_dir() {
                assert_path("FTDC directory", &ftdc);
            }
        }
    }

    let stem = request.archive_stem();
    assert!(
        stem.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
        "archive stem {stem:?} is not a safe file name"
    );
}
