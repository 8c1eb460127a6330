//! `logpack jobs` (PRODUCT.md §9): the lifecycle and every refusal, with
//! their exit codes and Ops Manager error codes; expiry; OM server jobs'
//! rules; a retry that carries a SUCCESS child whose source is gone; a
//! store that cannot be opened.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use common::*;

/// `logpack jobs --spool SPOOL ARGS`, with `LOGPACK_NOW` when `now` is set.
fn jobs(spool: &Path, now: Option<&str>, args: &[&str]) -> Run {
    let mut cmd = std::process::Command::new(bin());
    cmd.arg("jobs").arg("--spool").arg(spool).args(args);
    cmd.env_remove("LOGPACK_NOW");
    if let Some(now) = now {
        cmd.env("LOGPACK_NOW", now);
    }
    let out = cmd.stdin(std::process::Stdio::null()).output().unwrap();
    Run {
        code: out.status.code().unwrap(),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn json_of(run: &Run) -> Value {
    serde_json::from_slice(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", run.stdout_text(), run.stderr))
}

/// Creates a job; returns its id and the run.
fn create(spool: &Path, now: Option<&str>, request: &Path, extra: &[&str]) -> (String, Run) {
    let mut args = vec!["create", request.to_str().unwrap(), "--quiet"];
    args.extend(extra);
    let run = jobs(spool, now, &args);
    let first = run
        .stdout_text()
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    let id: Value = serde_json::from_str(&first)
        .unwrap_or_else(|e| panic!("create printed {first:?} ({e}): {}", run.stderr));
    (id["id"].as_str().unwrap().to_string(), run)
}

fn refused(run: &Run, code: &str) {
    assert_eq!(run.code, 4, "expected exit 4 with {code}: {}", run.stderr);
    assert!(
        run.stderr.starts_with(&format!("{code}: ")),
        "{}",
        run.stderr
    );
}

#[test]
fn a_job_lives_its_lifecycle_and_refuses_what_ops_manager_refuses() {
    let t = Tree::new();
    let spool = t.path("spool");
    let (id, run) = create(&spool, None, &sample_dir().join("request.json"), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(id.len(), 24);

    let job = json_of(&jobs(&spool, None, &["get", &id]));
    assert_eq!(job["id"], id.as_str());
    assert_eq!(job["status"], "SUCCESS");
    assert_eq!(job["resourceName"], "sampleCluster");
    assert_eq!(job["groupId"].as_str().unwrap().len(), 24);
    assert!(job.get("childJobs").is_none(), "not verbose");
    let created: jiff::Timestamp = job["creationDate"].as_str().unwrap().parse().unwrap();
    let expires: jiff::Timestamp = job["expirationDate"].as_str().unwrap().parse().unwrap();
    assert_eq!(expires.duration_since(created).as_hours(), 30 * 24);
    let verbose = json_of(&jobs(&spool, None, &["get", &id, "--verbose"]));
    let children = verbose["childJobs"].as_array().unwrap();
    assert!(children.len() > 5);
    assert!(children
        .iter()
        .all(|c| c["status"] == "SUCCESS" && c["path"].is_string()));

    // Download into a directory: the job's archive name, mode 0600.
    let dl = t.mkdir("dl");
    let run = jobs(&spool, None, &["download", &id, "-o", dl.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let stamp = created.strftime("%Y%m%dT%H%M%SZ").to_string();
    let archive = dl.join(format!("logs_sampleCluster_{stamp}.tar.gz"));
    assert_eq!(
        names_in(&dl),
        [archive.file_name().unwrap().to_str().unwrap()]
    );
    assert_eq!(
        fs::metadata(&archive).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let entries = read_entries(&archive);
    let manifest = manifest_of(&entries);
    check_manifest_matches(&entries, &manifest);
    assert_eq!(
        manifest["id"],
        id.as_str(),
        "the archive carries the job's id"
    );
    assert_eq!(
        job["uncompressedSizeTotalBytes"],
        manifest["uncompressedSizeTotalBytes"]
    );
    assert_eq!(logpack(&["verify".as_ref(), archive.as_os_str()]).code, 0);
    check_outside_readers(&archive, Fmt::Gz, &entries, &t.path("readers"));
    // ... and to stdout, the same bytes.
    let run = jobs(&spool, None, &["download", &id, "-o", "-"]);
    assert_eq!(run.code, 0);
    assert_eq!(run.stdout, fs::read(&archive).unwrap());

    // Extend: in the future, at most 6 months after creation.
    refused(
        &jobs(&spool, None, &["extend", &id, "2020-01-01T00:00:00Z"]),
        "EXPIRATION_DATE_MUST_BE_IN_FUTURE",
    );
    let too_far = (created + jiff::SignedDuration::from_hours(190 * 24)).to_string();
    refused(
        &jobs(&spool, None, &["extend", &id, &too_far]),
        "EXPIRATION_DATE_TOO_DISTANT",
    );
    let fine = (created + jiff::SignedDuration::from_hours(90 * 24)).to_string();
    let run = jobs(&spool, None, &["extend", &id, &fine]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let later: jiff::Timestamp = json_of(&run)["expirationDate"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        later.as_second(),
        fine.parse::<jiff::Timestamp>().unwrap().as_second()
    );
    // Earlier than now's expiration is fine too, as long as it is in the future.
    let sooner = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(2)).to_string();
    assert_eq!(jobs(&spool, None, &["extend", &id, &sooner]).code, 0);
    let run = jobs(&spool, None, &["extend", &id, "next tuesday"]);
    assert_eq!(run.code, 2, "{}", run.stderr);

    refused(
        &jobs(&spool, None, &["retry", &id]),
        "ONLY_FAILED_JOB_CAN_BE_RESTARTED",
    );
    let run = jobs(&spool, None, &["get", "not-an-id"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("not-an-id"), "{}", run.stderr);
    refused(
        &jobs(&spool, None, &["get", "0123456789abcdef01234567"]),
        "LOG_COLLECTION_JOB_NOT_FOUND_IN_GROUP",
    );

    // Nothing above changed the job.
    let again = json_of(&jobs(&spool, None, &["get", &id]));
    assert_eq!(again["status"], "SUCCESS");

    assert_eq!(jobs(&spool, None, &["delete", &id]).code, 0);
    refused(
        &jobs(&spool, None, &["get", &id]),
        "LOG_COLLECTION_JOB_NOT_FOUND_IN_GROUP",
    );
    refused(
        &jobs(&spool, None, &["delete", &id]),
        "LOG_COLLECTION_JOB_NOT_FOUND_IN_GROUP",
    );
    assert!(names_in(&spool.join("archives")).is_empty());
}

#[test]
fn lists_are_newest_first_and_paged() {
    let t = Tree::new();
    let spool = t.path("spool");
    let req = t.request(&json!({"hosts": [{"hostname": "h1", "processes": [
        {"type": "mongod", "port": 27017, "logPath": t.file("m/mongod.log", log_text(1000, 1))}]}]}));
    let mut ids = Vec::new();
    for day in 1..=3 {
        let now = format!("2026-11-0{day}T10:00:00Z");
        let (id, run) = create(&spool, Some(&now), &req, &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        ids.push(id);
    }
    let now = Some("2026-11-05T10:00:00Z");
    let page = json_of(&jobs(&spool, now, &["list", "--items-per-page", "2"]));
    assert_eq!(page["totalCount"], 3);
    let got: Vec<&str> = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[2].as_str(), ids[1].as_str()]);
    let page2 = json_of(&jobs(
        &spool,
        now,
        &["list", "--items-per-page", "2", "--page", "2"],
    ));
    assert_eq!(page2["results"].as_array().unwrap().len(), 1);
    assert_eq!(page2["results"][0]["id"], ids[0].as_str());
    assert!(page["links"].is_array());
    let verbose = json_of(&jobs(&spool, now, &["list", "--verbose"]));
    assert!(verbose["results"][0]["childJobs"].is_array());
    let run = jobs(&spool, now, &["list", "--items-per-page", "501"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("itemsPerPage"), "{}", run.stderr);
}

#[test]
fn an_expired_job_keeps_its_record_and_loses_its_archive() {
    let t = Tree::new();
    let spool = t.path("spool");
    let req = t.request(&json!({"hosts": [{"hostname": "h1", "processes": [
        {"type": "mongod", "port": 27017, "logPath": t.file("m/mongod.log", log_text(1000, 1))}]}]}));
    let (id, run) = create(&spool, Some("2026-11-01T00:00:00Z"), &req, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(names_in(&spool.join("archives")).len(), 1);
    let day29 = Some("2026-11-30T00:00:00Z");
    assert_eq!(
        json_of(&jobs(&spool, day29, &["get", &id]))["status"],
        "SUCCESS"
    );
    let day31 = Some("2026-12-02T00:00:00Z");
    let job = json_of(&jobs(&spool, day31, &["get", &id]));
    assert_eq!(job["status"], "EXPIRED");
    assert!(
        names_in(&spool.join("archives")).is_empty(),
        "the archive is removed"
    );
    refused(
        &jobs(
            &spool,
            day31,
            &["download", &id, "-o", t.path("x").to_str().unwrap()],
        ),
        "CANNOT_DOWNLOAD_EXPIRED_JOB",
    );
    assert!(!t.path("x").exists());
    refused(
        &jobs(&spool, day31, &["extend", &id, "2026-12-20T00:00:00Z"]),
        "CANNOT_EXTEND_EXPIRED_JOB",
    );
    refused(
        &jobs(&spool, day31, &["retry", &id]),
        "ONLY_FAILED_JOB_CAN_BE_RESTARTED",
    );
    assert_eq!(json_of(&jobs(&spool, day31, &["list"]))["totalCount"], 1);
}

/// An Ops Manager server request: its only host has omLogDir.
fn om_request(t: &Tree, extra: Value) -> PathBuf {
    t.file("om/mms0.log", log_text(2000, 3));
    t.file("om/mms0-access.log", log_text(2000, 4));
    let mut v = json!({"hosts": [{"hostname": "om1.example.net", "omLogDir": t.path("om")}]});
    if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
        m.extend(e);
    }
    t.request(&v)
}

#[test]
fn om_server_jobs_follow_their_own_rules() {
    let t = Tree::new();
    let spool = t.path("spool");
    let now = Some("2026-11-20T12:00:00Z");
    let (id, run) = create(
        &spool,
        now,
        &om_request(
            &t,
            json!({
        "logCollectionFromDate": "2026-11-19T00:00:00Z", "logCollectionToDate": "2026-11-20T00:00:00Z"}),
        ),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let job = json_of(&jobs(&spool, now, &["get", &id]));
    assert_eq!(job["expirationDate"], "2026-11-27T12:00:00Z", "7 days");
    // An OM server job's dates are RFC 3339 strings; a project job's are epoch ms.
    assert_eq!(job["logCollectionFromDate"], "2026-11-19T00:00:00Z");
    refused(
        &jobs(&spool, now, &["extend", &id, "2026-12-19T00:00:00Z"]),
        "EXPIRATION_DATE_TOO_DISTANT",
    );
    assert_eq!(
        jobs(&spool, now, &["extend", &id, "2026-12-17T00:00:00Z"]).code,
        0,
        "28 days"
    );
    let dl = t.mkdir("dl");
    assert_eq!(
        jobs(&spool, now, &["download", &id, "-o", dl.to_str().unwrap()]).code,
        0
    );
    assert_eq!(names_in(&dl), ["om-logs_20261120T120000Z.tar.gz"]);

    for (extra, field) in [
        (
            json!({"logCollectionFromDate": "2026-11-19T00:00:00Z"}),
            "logCollectionFromDate",
        ),
        (
            json!({"logCollectionFromDate": "2026-11-01T00:00:00Z", "logCollectionToDate": "2026-11-19T00:00:00Z"}),
            "logCollectionToDate",
        ),
        (
            json!({"logCollectionFromDate": "2026-11-21T00:00:00Z", "logCollectionToDate": "2026-11-22T00:00:00Z"}),
            "logCollectionFromDate",
        ),
    ] {
        let t2 = Tree::new();
        let run = jobs(
            &spool,
            now,
            &["create", om_request(&t2, extra).to_str().unwrap()],
        );
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains(field), "{}", run.stderr);
    }
    assert_eq!(
        json_of(&jobs(&spool, now, &["list"]))["totalCount"],
        1,
        "nothing recorded"
    );

    let project = t.request(&json!({"logCollectionFromDate": "2026-11-19T00:00:00Z",
        "hosts": [{"hostname": "h1", "processes": [{"type": "mongod", "port": 27017,
        "logPath": t.file("m/mongod.log", log_text(1000, 1))}]}]}));
    let (pid, _) = create(&spool, now, &project, &[]);
    let job = json_of(&jobs(&spool, now, &["get", &pid]));
    assert_eq!(job["logCollectionFromDate"], 1_795_046_400_000i64);
}

#[test]
fn a_retry_recollects_only_failed_children_and_keeps_the_rest_byte_for_byte() {
    let t = Tree::new();
    let spool = t.path("spool");
    let log = t.file("p1/mongod.log", {
        let mut s = String::new();
        for i in 0..3000 {
            s.push_str(&format!(
                "2026-11-20T10:00:00.000+0000 I NETWORK [conn{i}] connection accepted from 10.1.2.{}:5000\n",
                i % 200
            ));
        }
        s
    });
    let req = t.request(&json!({"resourceName": "rt", "redacted": true, "hosts": [{"hostname": "db1.example.net",
        "processes": [
            {"type": "mongod", "replicaSet": "rs0", "port": 27017, "logPath": log},
            {"type": "mongod", "replicaSet": "rs0", "port": 27018, "logPath": t.path("p2/mongod.log")}]}]}));
    let (id, run) = create(&spool, None, &req, &[]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let job = json_of(&jobs(&spool, None, &["get", &id, "--verbose"]));
    assert_eq!(job["status"], "FAILURE");
    let first = t.path("first.tar.gz");
    assert_eq!(
        jobs(
            &spool,
            None,
            &["download", &id, "-o", first.to_str().unwrap()]
        )
        .code,
        0,
        "a FAILURE job downloads"
    );
    let first_entries = read_entries(&first);

    // The collected log rotates away; the missing one appears.
    fs::remove_file(&log).unwrap();
    t.file(
        "p2/mongod.log",
        "2026-11-20T10:00:01.000+0000 I NETWORK [conn9] from 10.1.2.3:5000\n",
    );
    let run = jobs(&spool, None, &["retry", &id]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let job = json_of(&jobs(&spool, None, &["get", &id, "--verbose"]));
    assert_eq!(job["status"], "SUCCESS");
    assert_eq!(job["id"], id.as_str());
    let second = t.path("second.tar.gz");
    assert_eq!(
        jobs(
            &spool,
            None,
            &["download", &id, "-o", second.to_str().unwrap()]
        )
        .code,
        0
    );
    assert_eq!(logpack(&["verify".as_ref(), second.as_os_str()]).code, 0);
    let entries = read_entries(&second);
    // Outside readers agree: the composed archive is one gzip member they read whole.
    check_outside_readers(&second, Fmt::Gz, &entries, &t.path("readers"));
    let manifest = manifest_of(&entries);
    check_manifest_matches(&entries, &manifest);
    assert_eq!(manifest["id"], id.as_str());
    assert_eq!(manifest["status"], "SUCCESS");
    // The carried child is the first archive's, byte for byte.
    let carried = first_entries
        .iter()
        .find(|e| e.name.ends_with("/27017/mongod.log"))
        .unwrap();
    let kept = entries
        .iter()
        .find(|e| e.name == carried.name)
        .expect("carried over");
    assert_eq!(kept.data, carried.data);
    // One key for the job: the same address has the same token in both runs.
    let fresh = entries
        .iter()
        .find(|e| e.name.ends_with("/27018/mongod.log"))
        .unwrap();
    let token = |data: &[u8]| {
        let text = String::from_utf8_lossy(data).into_owned();
        let at = text.find("ip-").expect("a redacted address");
        text[at..at + 13].to_string()
    };
    let t1 = String::from_utf8_lossy(&kept.data)
        .lines()
        .find(|l| l.contains("[conn3]"))
        .unwrap()
        .to_string();
    assert!(
        t1.contains(&token(&fresh.data)),
        "{t1} vs {}",
        String::from_utf8_lossy(&fresh.data)
    );
    // The manifest lists both children in their first order, and checks.
    let paths: Vec<&str> = manifest["childJobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths.len(), 2);
    assert!(
        paths[0].ends_with("/27017") && paths[1].ends_with("/27018"),
        "{paths:?}"
    );
    assert!(!String::from_utf8_lossy(&fs::read(&second).unwrap()).contains("db1.example.net"));
}

#[test]
fn a_store_that_cannot_be_opened_is_a_clear_error_and_is_left_alone() {
    let t = Tree::new();
    // A database that is not one.
    let spool = t.mkdir("garbage");
    let db = spool.join("logpack.db");
    fs::write(&db, b"this is not a database, and it must survive").unwrap();
    let run = jobs(&spool, None, &["list"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("logpack.db"), "{}", run.stderr);
    assert_eq!(
        fs::read(&db).unwrap(),
        b"this is not a database, and it must survive"
    );

    // A database from a newer logpack.
    let newer = t.path("newer");
    assert_eq!(jobs(&newer, None, &["list"]).code, 0);
    let conn = rusqlite::Connection::open(newer.join("logpack.db")).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let run = jobs(&newer, None, &["list"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("newer") && run.stderr.contains("99"),
        "{}",
        run.stderr
    );

    // A store of schema 1 (before the sweep and per-kind indexes) keeps its
    // jobs and gains the indexes.
    let old = t.path("old");
    let (id, run) = create(&old, None, &small_request(&t), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let conn = rusqlite::Connection::open(old.join("logpack.db")).unwrap();
    conn.execute_batch(
        "DROP INDEX jobs_by_status; DROP INDEX jobs_by_kind; PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(conn);
    let run = jobs(&old, None, &["get", &id]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let conn = rusqlite::Connection::open(old.join("logpack.db")).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    let indexes: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name IN ('jobs_by_status', 'jobs_by_kind')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!((version, indexes), (2, 2));

    // A spool that cannot be made.
    let file = t.file("plain-file", "x");
    let run = jobs(&file.join("spool"), None, &["list"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("plain-file"), "{}", run.stderr);
}

#[test]
fn a_full_disk_fails_the_job_with_the_os_error_and_harms_nothing_else() {
    let t = Tree::new();
    let spool = t.path("spool");
    let small = t.request(&json!({"hosts": [{"hostname": "h1", "processes": [
        {"type": "mongod", "port": 27017, "logPath": t.file("a/mongod.log", log_text(10_000, 1))}]}]}));
    let (ok_id, run) = create(&spool, None, &small, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Random bytes do not compress: an archive of about 8 MiB.
    let mut big_log = vec![0u8; 8 << 20];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut big_log);
    let big = t.request_at(
        "big.json",
        &json!({"hosts": [{"hostname": "h2", "processes": [
        {"type": "mongod", "port": 27017, "logPath": t.file("b/mongod.log", big_log)}]}]}),
    );
    // Files may not grow past 4 MiB: writes past it fail with EFBIG, as on a
    // full disk (SIGXFSZ ignored, as the shell's trap leaves it for exec).
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"trap '' XFSZ; ulimit -f 4096; exec "$0" jobs --spool "$1" create "$2" --quiet"#)
        .arg(bin())
        .arg(&spool)
        .arg(&big)
        .env_remove("LOGPACK_NOW")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let first = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap()
        .to_string();
    let id = serde_json::from_str::<Value>(&first).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let job = json_of(&jobs(&spool, None, &["get", &id]));
    assert_eq!(job["status"], "FAILURE");
    let message = job["errorMessage"].as_str().unwrap();
    assert!(message.contains("File too large"), "{message}");
    // Nothing half-written, the other job untouched, the store usable.
    let left: Vec<String> = names_in(&spool.join("archives"));
    assert_eq!(left, [format!("{ok_id}.tar.gz")], "{left:?}");
    let run = jobs(
        &spool,
        None,
        &["download", &id, "-o", t.path("x").to_str().unwrap()],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("has no archive") && run.stderr.contains("File too large"),
        "{}",
        run.stderr
    );
    assert!(!t.path("x").exists());
    let dl = t.path("ok.tar.gz");
    assert_eq!(
        jobs(
            &spool,
            None,
            &["download", &ok_id, "-o", dl.to_str().unwrap()]
        )
        .code,
        0
    );
    assert_eq!(logpack(&["verify".as_ref(), dl.as_os_str()]).code, 0);
    assert_eq!(json_of(&jobs(&spool, None, &["list"]))["totalCount"], 2);
}

/// A request for one small mongod log.
fn small_request(t: &Tree) -> PathBuf {
    t.request(&json!({"hosts": [{"hostname": "h1", "processes": [
        {"type": "mongod", "port": 27017, "logPath": t.file("small/mongod.log", log_text(10_000, 1))}]}]}))
}
