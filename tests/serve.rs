//! `logpack serve` (PRODUCT.md §11) driven by the clients users have:
//! curl with `--digest` and Python `requests` with `HTTPDigestAuth`. The
//! archives they download are read back by GNU tar and Python's tarfile.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::serve::{Server, GROUP};
use common::{bin, on_path, sample_dir, Tree};

const OWNER: (&str, &str) = ("owner", "owner-secret-1");
const READER: (&str, &str) = ("reader", "reader-secret-1");
const ADMIN: (&str, &str) = ("admin", "admin-secret-1");
const MONITOR: &str = "monitor-token-0123456789";

/// Whether curl and Python's requests are there; under CI they must be.
fn clients_available() -> bool {
    let requests = Command::new("python3")
        .args(["-c", "import requests"])
        .status()
        .is_ok_and(|s| s.success());
    if on_path("curl") && requests {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI needs curl and python3 with requests"
    );
    eprintln!("skipped: curl or python3 requests missing");
    false
}

fn keys_json() -> Value {
    json!({
        "apiKeys": [
            {"publicKey": OWNER.0, "privateKey": OWNER.1, "roles": ["GROUP_OWNER"]},
            {"publicKey": READER.0, "privateKey": READER.1, "roles": ["GROUP_READ_ONLY"]},
            {"publicKey": ADMIN.0, "privateKey": ADMIN.1, "roles": ["GLOBAL_OWNER"]}
        ],
        "monitorApiKeys": [MONITOR]
    })
}

/// What curl got: the final status, headers (lower-case names) and body.
struct Got {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Got {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body[..self.body.len().min(500)])
            )
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn code(&self) -> String {
        self.json()["errorCode"].as_str().unwrap_or("").to_string()
    }
}

/// Runs curl with `args`; the headers of the last response are kept (a
/// Digest exchange has two).
fn curl(args: &[&str]) -> Got {
    let dir = tempfile::tempdir().unwrap();
    let head = dir.path().join("head");
    let body = dir.path().join("body");
    let out = Command::new("curl")
        .args(["-s", "-S", "--max-time", "60", "-D"])
        .arg(&head)
        .arg("-o")
        .arg(&body)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let head = std::fs::read_to_string(&head).unwrap();
    let last = head
        .split("\r\n\r\n")
        .filter(|b| b.starts_with("HTTP/"))
        .last()
        .unwrap_or("")
        .to_string();
    let mut lines = last.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Got {
        status,
        headers,
        body: std::fs::read(&body).unwrap_or_default(),
    }
}

fn digest(who: (&str, &str)) -> String {
    format!("{}:{}", who.0, who.1)
}

/// curl as `who` with Digest.
fn as_user(who: (&str, &str), args: &[&str]) -> Got {
    let user = digest(who);
    let mut all = vec!["--digest", "-u", &user];
    all.extend_from_slice(args);
    curl(&all)
}

fn wait_done(server: &Server, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let job = as_user(OWNER, &[&server.jobs_url(&format!("/{id}"))]).json();
        if job["status"] != "IN_PROGRESS" {
            return job;
        }
        assert!(Instant::now() < deadline, "job {id} still running");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn create_job(server: &Server, body: &Value) -> Got {
    as_user(
        OWNER,
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            &body.to_string(),
            &server.jobs_url(""),
        ],
    )
}

fn cluster_job() -> Value {
    json!({"resourceType": "CLUSTER", "resourceName": "sampleCluster", "redacted": false,
           "sizeRequestedPerFileBytes": 10_000_000, "logTypes": ["MONGODB", "AUTOMATION_AGENT"]})
}

fn tar_names(archive: &Path) -> Vec<String> {
    let out = Command::new("tar")
        .arg("-tzf")
        .arg(archive)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "GNU tar cannot read {}",
        archive.display()
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn python_tar_names(archive: &Path) -> Vec<String> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, tarfile\nwith tarfile.open(sys.argv[1], 'r|gz') as t:\n    for m in t: print(m.name)",
        ])
        .arg(archive)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn project_jobs_with_curl_create_poll_download_extend_delete() {
    if !clients_available() {
        return;
    }
    let server = Server::start(&[], &keys_json(), &[]);
    let created = create_job(&server, &cluster_job());
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    let id = created.json()["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 24);
    let job = wait_done(&server, &id);
    assert_eq!(job["status"], "SUCCESS", "{job}");
    assert_eq!(job["groupId"], GROUP);
    assert_eq!(job["resourceType"], "CLUSTER");
    assert_eq!(
        job["downloadUrl"],
        server.jobs_url(&format!("/{id}/download"))
    );

    // The list: results, totalCount, links; verbose adds childJobs.
    let list = as_user(READER, &[&server.jobs_url("?verbose=true&itemsPerPage=5")]).json();
    assert_eq!(list["totalCount"], 1);
    assert_eq!(list["results"][0]["id"], id.as_str());
    assert!(list["results"][0]["childJobs"].as_array().unwrap().len() >= 4);
    assert_eq!(list["links"][0]["rel"], "self");
    // pretty and envelope.
    let pretty = as_user(READER, &[&server.jobs_url(&format!("/{id}?pretty=true"))]);
    assert!(String::from_utf8_lossy(&pretty.body).contains("\n  \"id\""));
    let env = as_user(READER, &[&server.jobs_url(&format!("/{id}?envelope=true"))]).json();
    assert_eq!(env["status"], 200);
    assert_eq!(env["content"]["id"], id.as_str());

    // Download: headers, then GNU tar and Python tarfile (stream mode).
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("job.tar.gz");
    let got = as_user(
        READER,
        &[
            "-H",
            "Accept: application/gzip",
            &server.jobs_url(&format!("/{id}/download")),
        ],
    );
    assert_eq!(got.status, 200);
    assert_eq!(got.header("content-type"), Some("application/gzip"));
    assert_eq!(
        got.header("content-length").map(str::to_string),
        Some(got.body.len().to_string())
    );
    let disposition = got.header("content-disposition").unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"logs_sampleCluster_")
            && disposition.ends_with(".tar.gz\""),
        "{disposition}"
    );
    std::fs::write(&archive, &got.body).unwrap();
    let names = tar_names(&archive);
    assert!(names.iter().any(|n| n == "manifest.json"), "{names:?}");
    assert!(names
        .iter()
        .any(|n| n.starts_with("db1.example.net/rs0/27017/")));
    assert!(!names.iter().any(|n| n.starts_with("om1.example.net")));
    assert_eq!(python_tar_names(&archive), names);
    let verify = common::logpack(&[OsStrArg::from("verify"), archive.clone().into()]);
    assert_eq!(verify.code, 0, "{}", verify.stderr);

    // A cut download resumes with `curl -C -` to the same bytes.
    let partial = dir.path().join("partial.tar.gz");
    std::fs::write(&partial, &got.body[..got.body.len() / 3]).unwrap();
    let user = digest(READER);
    let resumed = Command::new("curl")
        .args(["-s", "-S", "--digest", "-u", &user, "-C", "-", "-o"])
        .arg(&partial)
        .arg(server.jobs_url(&format!("/{id}/download")))
        .status()
        .unwrap();
    assert!(resumed.success());
    assert_eq!(std::fs::read(&partial).unwrap(), got.body);
    // A range beyond the end is 416.
    let beyond = format!("{}-", got.body.len() + 10);
    let r = as_user(
        READER,
        &["-r", &beyond, &server.jobs_url(&format!("/{id}/download"))],
    );
    assert_eq!(r.status, 416);

    // Extend: to a date within 6 months, then refusals with their codes.
    let until = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 60);
    let until = until.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let patch = |body: &str, who| {
        as_user(
            who,
            &[
                "-X",
                "PATCH",
                "-d",
                body,
                &server.jobs_url(&format!("/{id}")),
            ],
        )
    };
    let extended = patch(&json!({"expirationDate": until}).to_string(), OWNER);
    assert_eq!(
        extended.status,
        200,
        "{}",
        String::from_utf8_lossy(&extended.body)
    );
    assert_eq!(extended.json()["expirationDate"], until.as_str());
    let past = patch(r#"{"expirationDate":"2001-01-01T00:00:00Z"}"#, OWNER);
    assert_eq!(
        (past.status, past.code()),
        (400, "EXPIRATION_DATE_MUST_BE_IN_FUTURE".into())
    );
    let far = patch(r#"{"expirationDate":"2099-01-01T00:00:00Z"}"#, OWNER);
    assert_eq!(
        (far.status, far.code()),
        (400, "EXPIRATION_DATE_TOO_DISTANT".into())
    );
    // The whole resource sent back, as Ops Manager's Go client does.
    let mut whole = job.clone();
    whole["expirationDate"] = json!(until);
    assert_eq!(patch(&whole.to_string(), OWNER).status, 200);
    // A read-only key may not write.
    let refused = patch(&json!({"expirationDate": until}).to_string(), READER);
    assert_eq!(refused.status, 403);
    // Retry of a SUCCESS job.
    let retry = as_user(
        OWNER,
        &["-X", "PUT", &server.jobs_url(&format!("/{id}/retry"))],
    );
    assert_eq!(
        (retry.status, retry.code()),
        (400, "ONLY_FAILED_JOB_CAN_BE_RESTARTED".into())
    );

    // Delete, then it is gone.
    let del = as_user(
        OWNER,
        &["-X", "DELETE", &server.jobs_url(&format!("/{id}"))],
    );
    assert_eq!(del.status, 204);
    let gone = as_user(OWNER, &[&server.jobs_url(&format!("/{id}"))]);
    assert_eq!(
        (gone.status, gone.code()),
        (404, "LOG_COLLECTION_JOB_NOT_FOUND_IN_GROUP".into())
    );
    assert_eq!(server.stop(), 0);
}

/// `common::logpack` takes OsStr-like arguments.
type OsStrArg = std::ffi::OsString;

#[test]
fn failed_jobs_retry_and_om_server_jobs_download_with_their_names() {
    if !clients_available() {
        return;
    }
    // Two processes: one collects, the other's log does not exist yet.
    let server = Server::start(
        &[json!({"hostname": "db3.example.net", "processes": [
            {"type": "mongod", "cluster": "late", "port": 27030, "logPath": "hosts/db1/rs0_27017/mongod.log"},
            {"type": "mongod", "cluster": "late", "port": 27031, "logPath": "late/mongod.log"}]})],
        &keys_json(),
        &[],
    );
    let created = create_job(
        &server,
        &json!({"resourceType": "CLUSTER", "resourceName": "late", "redacted": false,
                "sizeRequestedPerFileBytes": 10_000_000, "logTypes": ["MONGODB"]}),
    );
    assert_eq!(created.status, 201);
    let id = created.json()["id"].as_str().unwrap().to_string();
    let job = wait_done(&server, &id);
    assert_eq!(job["status"], "FAILURE", "{job}");
    // A FAILURE job downloads what it collected.
    let download = server.jobs_url(&format!("/{id}/download"));
    let before = as_user(READER, &[&download]);
    assert_eq!(before.status, 200);
    assert!(before.body.len() > 10_000, "{}", before.body.len());
    // A slow download started now keeps reading the archive it opened
    // while a retry replaces it.
    let dir = tempfile::tempdir().unwrap();
    let slow_out = dir.path().join("slow.tar.gz");
    let user = digest(READER);
    let rate = format!("{}", before.body.len() / 3);
    let mut slow = Command::new("curl")
        .args([
            "-s",
            "-S",
            "--digest",
            "-u",
            &user,
            "--limit-rate",
            &rate,
            "-o",
        ])
        .arg(&slow_out)
        .arg(&download)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // Now the log exists: a retry collects it.
    server.tree.file(
        "sample/late/mongod.log",
        "2026-11-20T10:00:00.000+0000 I NETWORK [conn1] hello\n",
    );
    let retry = as_user(
        OWNER,
        &["-X", "PUT", &server.jobs_url(&format!("/{id}/retry"))],
    );
    assert_eq!(
        retry.status,
        200,
        "{}",
        String::from_utf8_lossy(&retry.body)
    );
    let job = wait_done(&server, &id);
    assert_eq!(job["status"], "SUCCESS", "{job}");
    assert!(slow.wait().unwrap().success());
    assert_eq!(
        std::fs::read(&slow_out).unwrap(),
        before.body,
        "the download changed under a retry"
    );
    let after = as_user(READER, &[&download]);
    assert_ne!(after.body, before.body, "the retry wrote a new archive");

    // OM server jobs live on /admin: a global role, `:download`, `:retry`.
    let admin = server.url("/api/public/v1.0/admin/omLogCollectionJobs");
    let body = json!({"servers": ["om1.example.net"], "logTypes": ["APPLICATION", "HTTP_ACCESS"],
                      "sizeRequestedPerFileBytes": 100000});
    let denied = as_user(OWNER, &["-X", "POST", "-d", &body.to_string(), &admin]);
    assert_eq!(denied.status, 403, "a group role does not reach /admin");
    let created = as_user(ADMIN, &["-X", "POST", "-d", &body.to_string(), &admin]);
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    let om = created.json()["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    let job = loop {
        let job = as_user(ADMIN, &[&format!("{admin}/{om}")]).json();
        if job["status"] != "IN_PROGRESS" || Instant::now() > deadline {
            break job;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(job["status"], "SUCCESS", "{job}");
    assert_eq!(job["downloadUrl"], format!("{admin}/{om}:download"));
    let got = as_user(ADMIN, &[&format!("{admin}/{om}:download")]);
    assert_eq!(got.status, 200);
    let disposition = got.header("content-disposition").unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"om-logs_"),
        "{disposition}"
    );
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("om.tar.gz");
    std::fs::write(&archive, &got.body).unwrap();
    let names = tar_names(&archive);
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("om1.example.net/application/")),
        "{names:?}"
    );
    assert_eq!(python_tar_names(&archive), names);
    // A project job is not on /admin, nor the reverse.
    assert_eq!(as_user(ADMIN, &[&format!("{admin}/{id}")]).status, 404);
    assert_eq!(
        as_user(ADMIN, &[&server.jobs_url(&format!("/{om}"))]).status,
        404
    );
    let retry = as_user(ADMIN, &["-X", "POST", &format!("{admin}/{om}:retry")]);
    assert_eq!(retry.code(), "ONLY_FAILED_JOB_CAN_BE_RESTARTED");
    // Lists are per kind.
    assert_eq!(as_user(ADMIN, &[&admin]).json()["totalCount"], 1);
    assert_eq!(
        as_user(ADMIN, &[&server.jobs_url("")]).json()["totalCount"],
        1
    );
    assert_eq!(server.stop(), 0);
}

#[test]
fn auth_and_bad_input_get_clear_answers() {
    if !clients_available() {
        return;
    }
    let server = Server::start(&[], &keys_json(), &[]);
    let list = server.jobs_url("");
    // No credentials: 401 with a Digest challenge of the realm.
    let none = curl(&[&list]);
    assert_eq!(none.status, 401);
    let challenge = none.header("www-authenticate").unwrap();
    assert!(
        challenge.starts_with("Digest realm=\"MMS Public API\""),
        "{challenge}"
    );
    assert!(challenge.contains("qop=\"auth\""), "{challenge}");
    // Wrong password, unknown user.
    assert_eq!(as_user((OWNER.0, "wrong"), &[&list]).status, 401);
    assert_eq!(as_user(("nobody", "x"), &[&list]).status, 401);
    // A monitor token does not open the job routes.
    let bearer = format!("Authorization: Bearer {MONITOR}");
    assert_eq!(curl(&["-H", &bearer, &list]).status, 401);
    // Read-only may list but not create.
    assert_eq!(as_user(READER, &[&list]).status, 200);
    let body = cluster_job().to_string();
    let r = as_user(READER, &["-X", "POST", "-d", &body, &list]);
    assert_eq!(r.status, 403);

    let post = |body: &str| as_user(OWNER, &["-X", "POST", "-d", body, &list]);
    let r = post("{\"resourceType\": ");
    assert_eq!((r.status, r.code()), (400, "INVALID_JSON".into()));
    assert!(
        r.json()["detail"].as_str().unwrap().contains("line 1"),
        "{}",
        r.json()
    );
    let r = post(
        r#"{"resourceName":"sampleCluster","redacted":false,"sizeRequestedPerFileBytes":1,"logTypes":["MONGODB"]}"#,
    );
    assert_eq!((r.status, r.code()), (400, "MISSING_ATTRIBUTE".into()));
    assert_eq!(r.json()["parameters"][0], "resourceType");
    let r = post(
        r#"{"resourceType":"GALAXY","resourceName":"x","redacted":false,"sizeRequestedPerFileBytes":1,"logTypes":["MONGODB"]}"#,
    );
    assert_eq!((r.status, r.code()), (400, "INVALID_ENUM_VALUE".into()));
    let r = post(
        r#"{"resourceType":"CLUSTER","resourceName":"sampleCluster","redacted":false,"sizeRequestedPerFileBytes":1,"logTypes":["SYSLOG"]}"#,
    );
    assert_eq!((r.status, r.code()), (400, "INVALID_ENUM_VALUE".into()));
    let r = post(
        r#"{"resourceType":"CLUSTER","resourceName":"sampleCluster","redacted":false,"sizeRequestedPerFileBytes":0,"logTypes":["MONGODB"]}"#,
    );
    assert_eq!(
        (r.status, r.code()),
        (400, "INVALID_LOG_REQUEST_SIZE".into())
    );
    let r = post(
        r#"{"resourceType":"CLUSTER","resourceName":"sampleCluster","redacted":false,"sizeRequestedPerFileBytes":1,"logTypes":["MONGODB"],"colour":"red"}"#,
    );
    assert_eq!((r.status, r.code()), (400, "INVALID_ATTRIBUTE".into()));
    let r = post(
        r#"{"resourceType":"CLUSTER","resourceName":"nope","redacted":false,"sizeRequestedPerFileBytes":1,"logTypes":["MONGODB"]}"#,
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["parameters"][0], "resourceName");
    // Over the body limit: 413.
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(200_000));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.json");
    std::fs::write(&file, big).unwrap();
    let r = as_user(
        OWNER,
        &[
            "-X",
            "POST",
            "--data-binary",
            &format!("@{}", file.display()),
            &list,
        ],
    );
    assert_eq!(r.status, 413);
    // Query parameters.
    let r = as_user(OWNER, &[&format!("{list}?itemsPerPage=501")]);
    assert_eq!(
        (r.status, r.code()),
        (400, "INVALID_QUERY_PARAMETER".into())
    );
    let r = as_user(OWNER, &[&format!("{list}?pageNum=x")]);
    assert_eq!(r.code(), "INVALID_QUERY_PARAMETER");
    let r = as_user(OWNER, &[&format!("{list}?itemPerPage=5")]);
    assert_eq!(r.json()["parameters"][0], "itemPerPage");
    // Unknown job ids, including ones that try to leave the store.
    for id in ["0123456789abcdef01234567", "..%2F..%2Fetc%2Fpasswd", "x"] {
        let r = as_user(OWNER, &[&server.jobs_url(&format!("/{id}/download"))]);
        assert_eq!(
            (r.status, r.code()),
            (404, "LOG_COLLECTION_JOB_NOT_FOUND_IN_GROUP".into()),
            "{id}"
        );
    }
    // Another project, an unknown route, a wrong method.
    let other = server.url("/api/public/v1.0/groups/000000000000000000000000/logCollectionJobs");
    assert_eq!(as_user(OWNER, &[&other]).status, 404);
    let r = as_user(OWNER, &[&server.url("/api/public/v1.0/nothing")]);
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"], 404);
    let r = as_user(OWNER, &["-X", "PUT", &list]);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, POST"));
    // Atlas: a host with two mongods needs its port; an unknown log name.
    let atlas = |rest: &str| server.url(&format!("/api/atlas/v2/groups/{GROUP}/clusters/{rest}"));
    let r = as_user(OWNER, &[&atlas("db1.example.net/logs/mongodb.gz")]);
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["parameters"][0], "HOSTNAME");
    let r = as_user(OWNER, &[&atlas("db1.example.net:27017/logs/syslog.gz")]);
    assert_eq!(r.code(), "INVALID_ENUM_VALUE");
    let r = as_user(OWNER, &[&atlas("db9.example.net/logs/mongodb.gz")]);
    assert_eq!(r.status, 404);
    assert_eq!(server.stop(), 0);
}

#[test]
fn the_server_refuses_to_start_on_bad_files_and_unsafe_addresses() {
    let t = Tree::new();
    let keys = t.file("keys.json", keys_json().to_string());
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o644)).unwrap();
    let deployment = sample_dir().join("deployment.json");
    let run = |keys: &Path, deployment: &Path, listen: &str| {
        let out = Command::new(bin())
            .arg("serve")
            .arg("--spool")
            .arg(t.path("spool"))
            .arg("--deployment")
            .arg(deployment)
            .arg("--keys")
            .arg(keys)
            .args(["--listen", listen])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&keys, &deployment, "127.0.0.1:0");
    assert_eq!(code, Some(2));
    assert!(err.contains("chmod 600"), "{err}");
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, err) = run(&keys, &deployment, "0.0.0.0:0");
    assert_eq!(code, Some(2));
    assert!(err.contains("--tls-cert"), "{err}");
    let bad = t.file(
        "bad.json",
        r#"{"groupId":"5f3c2a1b9d8e7f6a5b4c3d2e","hosts":[{"hostname":"h","processes":[{"type":"mongod","port":70000,"logPath":"x.log"}]}]}"#,
    );
    let (code, err) = run(&keys, &bad, "127.0.0.1:0");
    assert_eq!(code, Some(2));
    assert!(err.contains("hosts[0].processes[0].port"), "{err}");
    let bad_keys = t.file(
        "k2.json",
        r#"{"apiKeys":[{"publicKey":"a","privateKey":"b","roles":["ROOT"]}]}"#,
    );
    std::fs::set_permissions(&bad_keys, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, err) = run(&bad_keys, &deployment, "127.0.0.1:0");
    assert_eq!(code, Some(2));
    assert!(err.contains("apiKeys[0].roles"), "{err}");
}

#[test]
fn python_requests_with_http_digest_auth_drives_the_jobs() {
    if !clients_available() {
        return;
    }
    let server = Server::start(&[], &keys_json(), &[]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/serve_requests.py");
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("python3")
        .arg(&script)
        .arg(&server.base)
        .arg(GROUP)
        .arg(digest(OWNER))
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "SUCCESS", "{report}");
    assert!(report["members"].as_u64().unwrap() > 10, "{report}");
    assert_eq!(report["wrong_password"], 401);
    assert_eq!(report["nc_values"], json!([1, 2, 3, 4, 5, 6]));
    // The archive requests downloaded, read by GNU tar too.
    let names = tar_names(&dir.path().join("requests.tar.gz"));
    assert!(names.iter().any(|n| n == "manifest.json"));
    assert_eq!(server.stop(), 0);
}

/// The log lines of one file between two instants, as `collect` selects
/// them: the reference the Atlas download must equal.
fn collected_lines(sample: &Path, log_path: &str, from: i64, to: i64) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let req = dir.path().join("req.json");
    std::fs::write(
        &req,
        json!({"logTypes": ["MONGODB"], "logCollectionFromDate": from, "logCollectionToDate": to,
               "hosts": [{"hostname": "h", "processes": [
                   {"type": "mongod", "port": 27017, "logPath": sample.join(log_path)}]}]})
        .to_string(),
    )
    .unwrap();
    let out = dir.path().join("c.tar");
    let run = common::logpack(&[
        OsStrArg::from("collect"),
        req.into(),
        "-o".into(),
        out.clone().into(),
    ]);
    assert!(run.code == 0 || run.code == 3, "{}", run.stderr);
    let mut lines = Vec::new();
    let mut manifest_order = Vec::new();
    for e in common::read_entries(&out) {
        if e.name.ends_with(".json") {
            continue;
        }
        manifest_order.push(e.name.clone());
        lines.extend_from_slice(&e.data);
    }
    assert!(!manifest_order.is_empty());
    lines
}

#[test]
fn atlas_download_is_one_gzip_member_equal_to_the_collected_selection() {
    if !clients_available() {
        return;
    }
    let server = Server::start(&[], &keys_json(), &[]);
    let sample = server.tree.path("sample");
    // Inside the sample's time span, and all of it.
    for (from, to) in [(1_710_720_000_i64, 1_710_806_400_i64), (0, 4_000_000_000)] {
        let url = server.url(&format!(
            "/api/atlas/v2/groups/{GROUP}/clusters/db1.example.net:27017/logs/mongodb.gz?startDate={from}&endDate={to}"
        ));
        let got = as_user(READER, &[&url]);
        assert_eq!(got.status, 200, "{}", String::from_utf8_lossy(&got.body));
        assert_eq!(got.header("content-type"), Some("application/gzip"));
        // One member: flate2's single-member decoder reads it whole.
        let mut one = Vec::new();
        flate2::read::GzDecoder::new(&got.body[..])
            .read_to_end(&mut one)
            .unwrap();
        let mut all = Vec::new();
        flate2::read::MultiGzDecoder::new(&got.body[..])
            .read_to_end(&mut all)
            .unwrap();
        assert_eq!(one, all, "more than one gzip member");
        let want = collected_lines(&sample, "hosts/db1/rs0_27017/mongod.log", from, to);
        assert_eq!(one.len(), want.len(), "range {from}..={to}");
        assert!(one == want, "range {from}..={to}: the bytes differ");
    }
    assert_eq!(server.stop(), 0);
}

/// Appends lines to `log` every 100 ms until `stop`.
fn appender(
    log: PathBuf,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut n = 0;
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
            writeln!(
                f,
                r#"{{"t":{{"$date":"2026-12-01T00:00:00.000+00:00"}},"s":"W","c":"NETWORK","id":4615,"ctx":"t","msg":"appended {n}","attr":{{"n":{n}}}}}"#
            )
            .unwrap();
            n += 1;
            std::thread::sleep(Duration::from_millis(100));
        }
        n
    })
}

#[test]
fn logs_stream_in_every_content_type_and_refuse_a_fourth_capture() {
    if !clients_available() {
        return;
    }
    let server = Server::start(&[], &keys_json(), &[]);
    let log = server.tree.path("sample/hosts/db1/rs0_27017/mongod.log");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = appender(log, stop.clone());
    let token = format!("Authorization: MonitorApiKey {MONITOR}");
    let url = server.url("/logs?durationSeconds=2&level=Warning&component=db1.example.net:27017");
    for (accept, ctype) in [
        ("application/x-ndjson", "application/x-ndjson"),
        ("application/json-seq", "application/json-seq"),
        ("text/event-stream", "text/event-stream"),
        ("text/plain", "text/plain"),
    ] {
        let got = curl(&["-N", "-H", &token, "-H", &format!("Accept: {accept}"), &url]);
        assert_eq!(got.status, 200, "{accept}");
        assert_eq!(got.header("content-type"), Some(ctype));
        let text = String::from_utf8(got.body).unwrap();
        let records: Vec<Value> = match accept {
            "application/x-ndjson" => text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect(),
            "application/json-seq" => text
                .split('\x1e')
                .filter(|r| !r.is_empty())
                .map(|r| {
                    assert!(r.ends_with('\n'), "{r:?}");
                    serde_json::from_str(r).unwrap()
                })
                .collect(),
            "text/event-stream" => text
                .split("\n\n")
                .filter(|e| !e.is_empty())
                .map(|e| {
                    assert!(e.starts_with("event: "), "{e:?}");
                    let last = e.lines().last().unwrap();
                    serde_json::from_str(last.strip_prefix("data: ").unwrap()).unwrap()
                })
                .collect(),
            _ => {
                let lines: Vec<&str> = text.lines().collect();
                assert!(
                    lines.iter().any(|l| l.contains("warn: NETWORK[4615]")),
                    "{text}"
                );
                Vec::new()
            }
        };
        if accept != "text/plain" {
            assert!(!records.is_empty(), "{accept}: nothing in 2 s");
            for r in &records {
                assert_eq!(r["LogLevel"], "Warning");
                assert_eq!(r["Category"], "NETWORK");
                assert!(r["Message"].as_str().unwrap().starts_with("appended "));
                assert_eq!(r["Component"], "db1.example.net/rs0/27017");
            }
        }
    }
    // A rotation during a capture is told in the stream, as a record of
    // logpack's own: the client cannot see the server's stderr.
    let log = server.tree.path("sample/hosts/db1/rs0_27017/mongod.log");
    let rotate = {
        let log = log.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(700));
            std::fs::rename(&log, log.with_extension("log.2026-12-06T00-00-00")).unwrap();
            std::fs::write(&log, "").unwrap();
        })
    };
    let got = curl(&["-N", "-H", &token, &url]);
    rotate.join().unwrap();
    let notices: Vec<Value> = String::from_utf8(got.body)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["Category"] == "logpack")
        .collect();
    assert!(
        notices
            .iter()
            .any(|n| n["Message"].as_str().unwrap().contains("mongod.log")),
        "no notice of the rotation: {notices:?}"
    );
    // Three captures run; the fourth gets 429 as a problem; Bearer works too.
    // Each held capture is known to run (its 200 has come) before the next.
    let long = server.url("/logs?durationSeconds=60");
    let heads = tempfile::tempdir().unwrap();
    let mut held: Vec<Child> = Vec::new();
    for i in 0..3 {
        let head = heads.path().join(format!("head{i}"));
        held.push(
            Command::new("curl")
                .args(["-s", "-N", "-o", "/dev/null", "-H", &token, "-D"])
                .arg(&head)
                .arg(&long)
                .spawn()
                .unwrap(),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while !std::fs::read_to_string(&head).is_ok_and(|h| h.contains("\r\n\r\n")) {
            assert!(Instant::now() < deadline, "capture {i} did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let h = std::fs::read_to_string(&head).unwrap();
        assert!(h.starts_with("HTTP/1.1 200"), "capture {i}: {h}");
    }
    let refused = curl(&[
        "-H",
        &format!("Authorization: Bearer {MONITOR}"),
        &server.url("/logs?durationSeconds=1"),
    ]);
    assert_eq!(refused.status, 429);
    assert_eq!(
        refused.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(refused.json()["status"], 429);
    // Clients that leave free their captures at once.
    for c in &mut held {
        c.kill().unwrap();
        c.wait().unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = curl(&["-H", &token, &server.url("/logs?durationSeconds=0")]);
        if got.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "captures not freed: {}",
            got.status
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Bad parameters and a wrong token.
    let got = curl(&["-H", &token, &server.url("/logs?durationSeconds=-2")]);
    assert_eq!(got.status, 400);
    let got = curl(&[
        "-H",
        &token,
        &server.url("/logs?level=LOUD&durationSeconds=1"),
    ]);
    assert_eq!(got.status, 400);
    assert!(got.json()["detail"].as_str().unwrap().contains("level"));
    let got = curl(&[
        "-H",
        "Authorization: MonitorApiKey wrong-token-000000000",
        &server.url("/logs"),
    ]);
    assert_eq!(got.status, 401);
    let got = curl(&[
        "-H",
        &token,
        "-H",
        "Accept: application/xml",
        &server.url("/logs"),
    ]);
    assert_eq!(got.status, 406);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.join().unwrap();
    assert_eq!(server.stop(), 0);
}

#[test]
fn slow_idle_and_flooding_clients_do_not_stop_the_others() {
    if !clients_available() {
        return;
    }
    let server = Server::start(&[], &keys_json(), &[]);
    let addr = server.base.strip_prefix("http://").unwrap().to_string();
    // 1,000 idle connections, and a slowloris sending a byte at a time.
    let idle: Vec<TcpStream> = (0..1000)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.write_all(b"GET /api/public/v1.0/groups/").unwrap();
    let started = Instant::now();
    let got = as_user(READER, &[&server.jobs_url("")]);
    assert_eq!(got.status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // A header flood gets 431, not a crash.
    let flood = format!("X-Flood: {}", "a".repeat(64 << 10));
    let got = curl(&["-H", &flood, &server.jobs_url("")]);
    assert_eq!(got.status, 431);
    // The slow client is cut after the head timeout.
    slow.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut buf = Vec::new();
    let _ = slow.read_to_end(&mut buf);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(45),
        "the slow client was held {took:?}"
    );
    drop(idle);
    // The server's descriptors are back to a handful.
    std::thread::sleep(Duration::from_millis(500));
    let fds = std::fs::read_dir(format!("/proc/{}/fd", server.pid()))
        .unwrap()
        .count();
    assert!(fds < 100, "{fds} descriptors still open");
    assert_eq!(server.stop(), 0);
}

/// A server whose deployment has a cluster `big` of one mongod with a
/// generated log of `bytes`, and a job on it just created: its id.
fn big_job(bytes: usize, redacted: bool) -> (Server, String) {
    let server = Server::start(
        &[json!({"hostname": "big.example.net", "processes": [
            {"type": "mongod", "cluster": "big", "port": 27040, "logPath": "big/mongod.log"}]})],
        &keys_json(),
        &[],
    );
    let big = server.tree.path("sample/big/mongod.log");
    std::fs::create_dir_all(big.parent().unwrap()).unwrap();
    std::fs::write(&big, common::log_text(bytes, 7)).unwrap();
    let created = create_job(
        &server,
        &json!({"resourceType": "CLUSTER", "resourceName": "big", "redacted": redacted,
                "sizeRequestedPerFileBytes": 1_u64 << 40, "logTypes": ["MONGODB"]}),
    );
    assert_eq!(created.status, 201);
    let id = created.json()["id"].as_str().unwrap().to_string();
    (server, id)
}

#[test]
fn sigterm_marks_a_running_job_interrupted_and_exits_zero() {
    if !clients_available() {
        return;
    }
    // A log large enough that its job is still running when SIGTERM comes.
    let (server, id) = big_job(400 << 20, true);
    // An endless /logs stream is open too.
    let token = format!("Authorization: MonitorApiKey {MONITOR}");
    let mut stream = Command::new("curl")
        .args(["-s", "-N", "-o", "/dev/null", "-H", &token])
        .arg(server.url("/logs?durationSeconds=-1"))
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let spool = server.tree.path("spool");
    let stderr = server.stderr.clone();
    assert_eq!(server.stop(), 0, "{}", stderr.lock().unwrap());
    // The stream was ended, not left hanging.
    let deadline = Instant::now() + Duration::from_secs(10);
    while stream.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the /logs stream outlived the server"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The store says why, to any reader.
    let job = common::logpack(&[
        OsStrArg::from("jobs"),
        "--spool".into(),
        spool.into(),
        "get".into(),
        id.into(),
    ]);
    let job: Value =
        serde_json::from_slice(&job.stdout).unwrap_or_else(|e| panic!("{e}: {}", job.stderr));
    assert_eq!(job["status"], "FAILURE", "{job}");
    assert!(
        job["errorMessage"]
            .as_str()
            .unwrap()
            .contains("interrupted"),
        "{job}"
    );
}

#[test]
fn tls_serves_the_same_api_to_curl() {
    if !clients_available() {
        return;
    }
    if !on_path("openssl") {
        assert!(std::env::var_os("CI").is_none(), "CI needs openssl");
        eprintln!("skipped: openssl missing");
        return;
    }
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args([
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let server = Server::start(
        &[],
        &keys_json(),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let https = server.jobs_url("").replacen("http://", "https://", 1);
    let got = as_user(READER, &["--cacert", cert.to_str().unwrap(), &https]);
    assert_eq!(got.status, 200, "{}", String::from_utf8_lossy(&got.body));
    assert_eq!(got.json()["totalCount"], 0);
    assert!(got.json()["links"][0]["href"]
        .as_str()
        .unwrap()
        .starts_with("https://"));
    // Plain HTTP to the TLS port gets no answer, and the server goes on.
    let plain = Command::new("curl")
        .args(["-s", "--max-time", "5", &server.jobs_url("")])
        .output()
        .unwrap();
    assert!(!plain.status.success());
    let again = as_user(READER, &["--cacert", cert.to_str().unwrap(), &https]);
    assert_eq!(again.status, 200);
    assert_eq!(server.stop(), 0);
}

#[test]
fn clients_that_stop_reading_downloads_hold_up_nobody() {
    if !clients_available() {
        return;
    }
    let (server, id) = big_job(64 << 20, false);
    assert_eq!(wait_done(&server, &id)["status"], "SUCCESS");
    let download = server.jobs_url(&format!("/{id}/download"));
    // Twenty downloads whose clients freeze: SIGSTOP, so they read nothing.
    let user = digest(READER);
    let frozen: Vec<Child> = (0..20)
        .map(|_| {
            Command::new("curl")
                .args(["-s", "--digest", "-u", &user, "-o", "/dev/null", &download])
                .spawn()
                .unwrap()
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    for c in &frozen {
        unsafe { libc::kill(c.id() as i32, libc::SIGSTOP) };
    }
    std::thread::sleep(Duration::from_millis(300));
    // The store, the jobs and other downloads go on.
    let started = Instant::now();
    assert_eq!(as_user(READER, &[&server.jobs_url("")]).status, 200);
    let again = create_job(&server, &cluster_job());
    assert_eq!(again.status, 201);
    let other = again.json()["id"].as_str().unwrap().to_string();
    assert_eq!(wait_done(&server, &other)["status"], "SUCCESS");
    let got = as_user(READER, &[&download]);
    assert_eq!(got.status, 200);
    assert_eq!(
        got.header("content-length").map(str::to_string),
        Some(got.body.len().to_string())
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    for mut c in frozen {
        let _ = c.kill();
        unsafe { libc::kill(c.id() as i32, libc::SIGCONT) };
        let _ = c.wait();
    }
    assert_eq!(server.stop(), 0);
}
