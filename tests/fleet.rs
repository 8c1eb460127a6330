//! `logpack fleet put` and `logpack fleet compose` (PRODUCT.md §12) against
//! a real S3-compatible server: moto in server mode, started on a free
//! loopback port for each test and killed when the test ends.
//!
//! One cluster request of eight hosts: two whose fragments are over the
//! 5 MiB part minimum (copied by the store with UploadPartCopy), four small
//! ones (downloaded and grouped into parts, two of them together over
//! 5 MiB so that a made part must reach the minimum before the last one),
//! one whose mongod log directory does not exist (its put exits 3, its
//! child is FAILURE) and one that never runs put (its children become
//! FAILURE, "did not report"). The composed object is downloaded and read
//! by the whole reader matrix and `logpack verify`; every entry is the
//! bytes of its host's own uploaded archive and of the source file; the
//! coordinator's traffic is checked against the report and the store.
//!
//! moto and boto3 come from PyPI (`python3 -m pip install "moto[server]<5.2"`).
//! Without them the tests are skipped with a message, except under
//! `CI=1` / `CI=true`, where that is a failure.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::readers::check_reader_matrix;
use common::{check_manifest_matches, manifest_of, read_entries, Entry, Fmt, Run, Tree};

/// S3's smallest part.
const MIN_PART: u64 = 5 << 20;

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

// ---------------------------------------------------------------------------
// moto, and a boto3 helper to look at the store independently of logpack

/// Runs a batch of operations (a JSON list on stdin) with boto3 and prints
/// their results as a JSON list.
const S3_HELPER: &str = r#"
import json, sys
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

s3 = boto3.client(
    "s3", endpoint_url=sys.argv[1], region_name="us-east-1",
    aws_access_key_id="testing", aws_secret_access_key="testing",
    config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
)

def missing(e):
    return e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")

out = []
for op in json.load(sys.stdin):
    k, b = op["op"], op.get("bucket")
    if k == "mkbucket":
        s3.create_bucket(Bucket=b)
        r = None
    elif k == "get":
        with open(op["file"], "wb") as f:
            f.write(s3.get_object(Bucket=b, Key=op["key"])["Body"].read())
        r = None
    elif k == "get_json":
        r = json.loads(s3.get_object(Bucket=b, Key=op["key"])["Body"].read())
    elif k == "put_json":
        s3.put_object(Bucket=b, Key=op["key"], Body=json.dumps(op["value"]).encode())
        r = None
    elif k == "copy":
        s3.copy_object(Bucket=b, Key=op["key"], CopySource={"Bucket": b, "Key": op["from"]})
        r = None
    elif k == "size":
        try:
            r = s3.head_object(Bucket=b, Key=op["key"])["ContentLength"]
        except ClientError as e:
            if not missing(e):
                raise
            r = None
    elif k == "parts":
        # The size of each part of a multipart object, from HEAD ?partNumber=.
        first = s3.head_object(Bucket=b, Key=op["key"], PartNumber=1)
        n = first.get("PartsCount") or 1
        r = [first["ContentLength"]] + [
            s3.head_object(Bucket=b, Key=op["key"], PartNumber=i)["ContentLength"]
            for i in range(2, n + 1)
        ]
    elif k == "uploads":
        r = [u["Key"] for u in s3.list_multipart_uploads(Bucket=b).get("Uploads", [])]
    elif k == "list":
        r = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=b, Prefix=op.get("prefix", "")):
            r += [o["Key"] for o in page.get("Contents", [])]
    else:
        raise SystemExit("unknown op " + k)
    out.append(r)
json.dump(out, sys.stdout)
"#;

/// A moto server on a loopback port, killed when dropped.
struct Moto {
    child: Child,
    endpoint: String,
    dir: tempfile::TempDir,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Starts moto, or returns `None` (outside CI) when python3, moto or
    /// boto3 is missing.
    fn start() -> Option<Moto> {
        let usable = Command::new("python3")
            .args(["-c", "import moto.server, boto3"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !usable {
            let why = "python3 with moto[server] and boto3 is needed \
                       (python3 -m pip install \"moto[server]<5.2\")";
            assert!(!ci(), "{why}");
            eprintln!("skipping the fleet tests: {why}");
            return None;
        }
        let mut dir = tempfile::Builder::new()
            .prefix("logpack-moto-")
            .tempdir()
            .unwrap();
        fs::write(dir.path().join("s3.py"), S3_HELPER).unwrap();
        let log = dir.path().join("moto.log");
        // A free port may be taken between our probe and moto's bind: try
        // a few.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let child = Command::new("python3")
                .args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
                .arg(port.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(fs::File::create(&log).unwrap())
                .spawn()
                .expect("spawn python3 -m moto.server");
            let mut moto = Moto {
                child,
                endpoint: format!("http://127.0.0.1:{port}"),
                dir,
            };
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if let Some(status) = moto.child.try_wait().unwrap() {
                    eprintln!(
                        "moto exited ({status}) on port {port}: {}",
                        fs::read_to_string(&log).unwrap_or_default()
                    );
                    break;
                }
                if answers(port) {
                    return Some(moto);
                }
                assert!(
                    Instant::now() < deadline,
                    "moto did not answer on port {port} within 60 s: {}",
                    fs::read_to_string(&log).unwrap_or_default()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
            // Take the directory back from the guard before it is dropped.
            dir = std::mem::replace(&mut moto.dir, tempfile::tempdir().unwrap());
        }
        panic!("moto could not be started");
    }

    /// Runs boto3 operations; returns their results.
    fn s3(&self, ops: Vec<Value>) -> Vec<Value> {
        let mut child = Command::new("python3")
            .arg(self.dir.path().join("s3.py"))
            .arg(&self.endpoint)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the boto3 helper");
        let input = serde_json::to_vec(&ops).unwrap();
        child.stdin.take().unwrap().write_all(&input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "boto3 helper failed on {ops:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("helper output")
    }

    fn s3_one(&self, op: Value) -> Value {
        self.s3(vec![op]).pop().unwrap()
    }

    /// The command `logpack ARGS` with the store's credentials and nothing
    /// from the user's own AWS configuration.
    fn command<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_logpack"));
        cmd.args(args)
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_ENDPOINT_URL_S3")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", self.dir.path().join("no-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.dir.path().join("no-creds"),
            );
        cmd
    }

    /// Runs `logpack ARGS --endpoint …`, failing the test if it has not
    /// finished within 3 minutes.
    fn logpack<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Run {
        let mut cmd = self.command(args);
        cmd.arg("--endpoint").arg(&self.endpoint);
        common::run_within(&mut cmd, Duration::from_secs(180))
    }

    /// `logpack fleet put REQUEST --host HOST --store STORE EXTRA…`.
    fn put(&self, request: &Path, host: &str, store: &str, extra: &[&str]) -> Run {
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "fleet".as_ref(),
            "put".as_ref(),
            request.as_os_str(),
            "--host".as_ref(),
            host.as_ref(),
            "--store".as_ref(),
            store.as_ref(),
        ];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        self.logpack(&args)
    }

    /// `logpack fleet compose REQUEST --store STORE -o OUT EXTRA…`.
    fn compose(&self, request: &Path, store: &str, out: &str, extra: &[&str]) -> Run {
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "fleet".as_ref(),
            "compose".as_ref(),
            request.as_os_str(),
            "--store".as_ref(),
            store.as_ref(),
            "-o".as_ref(),
            out.as_ref(),
        ];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        self.logpack(&args)
    }
}

/// Whether moto answers on `port`: an S3 ListBuckets answer to `GET /`
/// (not some other server that took the port first).
fn answers(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = Vec::new();
    let _ = s.take(1 << 16).read_to_end(&mut answer);
    answer.starts_with(b"HTTP/1.")
        && String::from_utf8_lossy(&answer).contains("ListAllMyBucketsResult")
}

// ---------------------------------------------------------------------------
// The deployment

/// Log text that compresses to about 70% of its size: a mongod-like prefix
/// and 400 random base64 characters per line (`common::log_text`
/// compresses far too well to make a host over the part minimum).
fn noisy_text(len: usize, seed: u64) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5DEE_CE66_D1CE_4E5B;
    let mut next = || {
        // splitmix64
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut out = Vec::with_capacity(len + 512);
    let mut i = 0u64;
    while out.len() < len {
        write!(
            out,
            "2026-11-20T10:{:02}:{:02}.{:03}+0000 I NETWORK  [conn{}] ",
            (i / 60) % 60,
            i % 60,
            i % 1000,
            i % 97
        )
        .unwrap();
        for _ in 0..40 {
            let mut x = next();
            for _ in 0..10 {
                out.push(ALPHABET[(x & 63) as usize]);
                x >>= 6;
            }
        }
        out.push(b'\n');
        i += 1;
    }
    out.truncate(len);
    if len > 0 {
        out[len - 1] = b'\n';
    }
    out
}

/// One host of the cluster.
struct Host {
    name: &'static str,
    /// Whether its fragments are meant to be over the part minimum.
    large: bool,
    /// Whether it runs put at all.
    reports: bool,
    /// Whether its put is meant to exit 3.
    fails: bool,
}

/// The cluster: its request and the source file of every archive path.
struct Cluster {
    tree: Tree,
    request: PathBuf,
    hosts: Vec<Host>,
    sources: BTreeMap<String, PathBuf>,
}

fn cluster() -> Cluster {
    let tree = Tree::new();
    let mut sources = BTreeMap::new();
    let mut hosts_json = Vec::new();
    let mut hosts = Vec::new();
    let add_file =
        |sources: &mut BTreeMap<String, PathBuf>, arch: String, rel: &str, data: Vec<u8>| {
            sources.insert(arch, tree.file(rel, data));
        };
    // (name, kind, mongod log bytes)
    let plan: [(&str, &str, usize); 8] = [
        ("db-small-1.example.net", "noisy", 4_000_000),
        ("db-big-a.example.net", "big", 9_000_000),
        ("db-small-2.example.net", "noisy", 4_000_000),
        ("db-broken.example.net", "broken", 0),
        ("db-big-b.example.net", "big", 9_000_000),
        ("db-small-3.example.net", "agent", 1_000_000),
        ("db-ghost.example.net", "ghost", 0),
        ("db-small-4.example.net", "rotated", 100_000),
    ];
    for (i, (name, kind, bytes)) in plan.into_iter().enumerate() {
        let port = 27017 + i as u64;
        let dir = format!("hosts/{name}");
        let log = format!("{dir}/data/mongod.log");
        let arch = format!("{name}/rs0/{port}");
        let mut host = json!({
            "hostname": name,
            "processes": [{"type": "mongod", "replicaSet": "rs0", "port": port,
                           "logPath": log}],
        });
        match kind {
            "noisy" | "big" => {
                let text = noisy_text(bytes, i as u64 + 1);
                add_file(&mut sources, format!("{arch}/mongod.log"), &log, text);
            }
            "agent" => {
                let text = common::log_text(bytes, i as u32);
                add_file(&mut sources, format!("{arch}/mongod.log"), &log, text);
                let agent = format!("{dir}/agent");
                for (f, n) in [
                    ("automation-agent.log", 30_000),
                    ("automation-agent-verbose.log", 70_000),
                    ("monitoring-agent.log", 5_000),
                ] {
                    add_file(
                        &mut sources,
                        format!("{name}/automation_agent/{f}"),
                        &format!("{agent}/{f}"),
                        common::log_text(n, n as u32),
                    );
                }
                host["agentLogDir"] = json!(agent);
            }
            "rotated" => {
                add_file(
                    &mut sources,
                    format!("{arch}/mongod.log"),
                    &log,
                    common::log_text(bytes, 7),
                );
                let rotated = "mongod.log.2026-11-19T10-00-00";
                add_file(
                    &mut sources,
                    format!("{arch}/{rotated}"),
                    &format!("{dir}/data/{rotated}"),
                    common::log_text(bytes / 2, 8),
                );
            }
            // Its log directory does not exist.
            "broken" => {
                host["processes"][0]["logPath"] = json!(format!("{dir}/missing/mongod.log"));
            }
            // It never runs put: an agent dir and a mongod it would have had.
            "ghost" => host["agentLogDir"] = json!(format!("{dir}/agent")),
            _ => unreachable!(),
        }
        hosts_json.push(host);
        hosts.push(Host {
            name,
            large: kind == "big",
            reports: kind != "ghost",
            fails: kind == "broken",
        });
    }
    let request = tree.request(&json!({
        "resourceType": "CLUSTER",
        "resourceName": "fleetCluster",
        "hosts": hosts_json,
    }));
    Cluster {
        tree,
        request,
        hosts,
        sources,
    }
}

fn json_of(run: &Run) -> Value {
    serde_json::from_slice(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "--json output does not parse ({e}): {:?}\nstderr: {}",
            run.stdout_text(),
            run.stderr
        )
    })
}

/// Runs `fleet put` for each of `hosts` at once (two at a time: 2 cores).
fn put_all(moto: &Moto, request: &Path, store: &str, hosts: &[&str]) -> BTreeMap<String, Run> {
    let mut out = BTreeMap::new();
    for pair in hosts.chunks(2) {
        std::thread::scope(|s| {
            let handles: Vec<_> = pair
                .iter()
                .map(|h| {
                    let put =
                        move || moto.put(request, h, store, &["--threads", "1", "--json", "-q"]);
                    (h.to_string(), s.spawn(put))
                })
                .collect();
            for (h, t) in handles {
                out.insert(h, t.join().unwrap());
            }
        });
    }
    out
}

fn entry_map(entries: &[Entry]) -> BTreeMap<&str, &Entry> {
    entries
        .iter()
        .filter(|e| e.name != "manifest.json")
        .map(|e| (e.name.as_str(), e))
        .collect()
}

fn u(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("{v} is not an unsigned integer"))
}

// ---------------------------------------------------------------------------
// The tests

#[test]
fn fleet_composes_one_archive_from_a_cluster_in_the_store() {
    let Some(moto) = Moto::start() else { return };
    let started = Instant::now();
    moto.s3(vec![
        json!({"op": "mkbucket", "bucket": "fleet-src"}),
        json!({"op": "mkbucket", "bucket": "fleet-out"}),
    ]);
    let c = cluster();
    let scratch = c.tree.mkdir("scratch");
    let store = "s3://fleet-src/jobs/job-1";
    let prefix = "jobs/job-1/hosts/";

    // A host that is not in the request: usage, nothing uploaded.
    let run = moto.put(&c.request, "db-stranger.example.net", store, &[]);
    assert_eq!(
        run.code, 2,
        "put --host outside the request: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("db-stranger.example.net") && run.stderr.contains("db-big-a"),
        "the error names the host and the request's hosts: {}",
        run.stderr
    );
    // A bad store URL and a composed object that is not a .tar.gz: usage.
    let run = moto.put(
        &c.request,
        "db-small-1.example.net",
        "http://fleet-src/x",
        &[],
    );
    assert_eq!(run.code, 2, "put --store http://: {}", run.stderr);
    let run = moto.compose(&c.request, store, "s3://fleet-out/all.zip", &[]);
    assert_eq!(run.code, 2, "compose -o …zip: {}", run.stderr);
    assert_eq!(
        moto.s3_one(json!({"op": "list", "bucket": "fleet-src"})),
        json!([]),
        "usage errors upload nothing"
    );

    // Every host but the ghost puts its slice, in parallel.
    let t = Instant::now();
    let reporting: Vec<&str> = c
        .hosts
        .iter()
        .filter(|h| h.reports)
        .map(|h| h.name)
        .collect();
    let puts = put_all(&moto, &c.request, store, &reporting);
    eprintln!("puts: {:.1} s", t.elapsed().as_secs_f64());
    let mut fragments = BTreeMap::new();
    for h in c.hosts.iter().filter(|h| h.reports) {
        let run = &puts[h.name];
        let want = if h.fails { 3 } else { 0 };
        assert_eq!(run.code, want, "put {}: {}", h.name, run.stderr);
        let report = json_of(run);
        assert_eq!(
            report["status"],
            if h.fails { "FAILURE" } else { "SUCCESS" },
            "{report}"
        );
        assert_eq!(report["archive"], format!("{prefix}{}.tar.gz", h.name));
        let frag = u(&report["fragmentBytes"]);
        if h.large {
            assert!(frag >= MIN_PART, "{}: {frag} bytes of fragments", h.name);
        } else {
            assert!(frag < MIN_PART, "{}: {frag} bytes of fragments", h.name);
        }
        fragments.insert(h.name, (frag, u(&report["archiveBytes"])));
    }
    // Each host left its archive, manifest and record, and nothing else.
    let mut want_keys: Vec<String> = reporting
        .iter()
        .flat_map(|h| ["json", "manifest.json", "tar.gz"].map(|ext| format!("{prefix}{h}.{ext}")))
        .collect();
    want_keys.sort();
    let mut keys: Vec<String> =
        serde_json::from_value(moto.s3_one(json!({"op": "list", "bucket": "fleet-src"}))).unwrap();
    keys.sort();
    assert_eq!(keys, want_keys);

    // Compose, waiting 2 s for the ghost.
    let out_url = "s3://fleet-out/clusters/fleetCluster.tar.gz";
    let t = Instant::now();
    let run = moto.compose(&c.request, store, out_url, &["--wait", "2", "--json", "-q"]);
    let compose_secs = t.elapsed().as_secs_f64();
    eprintln!("compose: {compose_secs:.1} s");
    assert_eq!(run.code, 3, "compose: {}", run.stderr);
    assert!(
        compose_secs >= 2.0,
        "compose returned after {compose_secs:.1} s without waiting for the ghost"
    );
    let report = json_of(&run);
    eprintln!("compose report: {report}");
    let mut keys: Vec<&str> = report
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "bytesCopied",
            "bytesDownloaded",
            "bytesUploaded",
            "children",
            "hosts",
            "missing",
            "objectBytes",
            "partsCopied",
            "partsMade",
            "status"
        ]
    );
    assert_eq!(report["status"], "FAILURE");
    assert_eq!(u(&report["hosts"]), 7);
    assert_eq!(report["missing"], json!(["db-ghost.example.net"]));
    assert_eq!(u(&report["partsCopied"]), 2, "{report}");
    assert_eq!(u(&report["partsMade"]), 2, "{report}");

    // The coordinator's traffic.
    let large: u64 = c
        .hosts
        .iter()
        .filter(|h| h.large)
        .map(|h| fragments[h.name].0)
        .sum();
    let small: u64 = c
        .hosts
        .iter()
        .filter(|h| h.reports && !h.large)
        .map(|h| fragments[h.name].0)
        .sum();
    // Beside the small hosts' fragments, the coordinator reads each host's
    // record and the tail of its archive: the final fragment (its
    // manifest) and the gzip trailer.
    let key = |h: &&str| format!("{prefix}{h}.json");
    let records = moto.s3(reporting
        .iter()
        .flat_map(|h| {
            [
                json!({"op": "size", "bucket": "fleet-src", "key": key(h)}),
                json!({"op": "get_json", "bucket": "fleet-src", "key": key(h)}),
            ]
        })
        .collect());
    let meta: u64 = records
        .chunks(2)
        .map(|r| u(&r[0]) + u(&r[1]["index"]["final"]["length"]) + 8)
        .sum();
    // At most one listing a second over 2 s (and one more at the deadline),
    // of 21 keys of under 100 bytes, each counted with 300 bytes of XML.
    let listing = 4 * 21 * 400;
    let copied = u(&report["bytesCopied"]);
    let downloaded = u(&report["bytesDownloaded"]);
    let uploaded = u(&report["bytesUploaded"]);
    let object_bytes = u(&report["objectBytes"]);
    assert!(
        (large..=large + 10).contains(&copied),
        "bytesCopied {copied}: the large hosts' fragments are {large} bytes (+ one gzip header)"
    );
    assert!(
        downloaded >= small + meta && downloaded <= small + meta + listing,
        "bytesDownloaded {downloaded}: small hosts' fragments {small}, records and \
         archive tails {meta}, listing at most {listing}"
    );
    assert!(
        downloaded < large / 2,
        "the large hosts' bytes passed through the coordinator: {downloaded} downloaded"
    );
    assert!(
        uploaded >= small && uploaded <= small + (64 << 10),
        "bytesUploaded {uploaded}: the small hosts' fragments {small}, the manifest and index"
    );
    assert!(
        downloaded + uploaded <= 2 * small + meta + listing + (64 << 10),
        "coordinator traffic {} over the bound",
        downloaded + uploaded
    );
    assert_eq!(object_bytes, copied + uploaded, "{report}");

    // The object: its parts as the store has them, then its bytes.
    let parts: Vec<u64> = serde_json::from_value(moto.s3_one(
        json!({"op": "parts", "bucket": "fleet-out", "key": "clusters/fleetCluster.tar.gz"}),
    ))
    .unwrap();
    assert_eq!(parts.len(), 4, "parts {parts:?}");
    assert_eq!(parts.iter().sum::<u64>(), object_bytes);
    for p in &parts[..parts.len() - 1] {
        assert!(*p >= MIN_PART, "a part but the last under 5 MiB: {parts:?}");
    }
    let object = scratch.join("composed.tar.gz");
    let mut ops = vec![json!({"op": "get", "bucket": "fleet-out",
        "key": "clusters/fleetCluster.tar.gz", "file": object})];
    for h in &reporting {
        ops.push(json!({"op": "get", "bucket": "fleet-src",
            "key": format!("{prefix}{h}.tar.gz"), "file": scratch.join(format!("{h}.tar.gz"))}));
    }
    ops.push(json!({"op": "uploads", "bucket": "fleet-out"}));
    let got = moto.s3(ops);
    assert_eq!(got.last().unwrap(), &json!([]), "an upload left open");
    assert_eq!(fs::metadata(&object).unwrap().len(), object_bytes);

    let run = common::logpack(&["verify".as_ref(), object.as_os_str()]);
    assert_eq!(run.code, 0, "verify: {}{}", run.stderr, run.stdout_text());
    let entries = read_entries(&object);
    check_reader_matrix(&object, Fmt::Gz, &entries, &scratch.join("readers"));
    let manifest = manifest_of(&entries);
    check_manifest_matches(&entries, &manifest);

    // Every entry is its host's own entry and its source file's bytes.
    let composed = entry_map(&entries);
    let mut seen = BTreeSet::new();
    let mut host_manifests = BTreeMap::new();
    for h in &reporting {
        let host_entries = read_entries(&scratch.join(format!("{h}.tar.gz")));
        host_manifests.insert(*h, manifest_of(&host_entries));
        for (name, e) in entry_map(&host_entries) {
            let mine = composed
                .get(name)
                .unwrap_or_else(|| panic!("{name} of {h} is not in the composed archive"));
            assert!(
                mine.data == e.data,
                "{name}: not the bytes of {h}'s archive"
            );
            assert_eq!(mine.mode, e.mode, "{name}");
            seen.insert(name.to_string());
        }
    }
    assert_eq!(
        composed
            .keys()
            .map(|k| k.to_string())
            .collect::<BTreeSet<_>>(),
        seen,
        "entries that came from no host"
    );
    assert_eq!(
        seen,
        c.sources.keys().cloned().collect::<BTreeSet<_>>(),
        "the entries are the source files"
    );
    for (name, path) in &c.sources {
        assert!(
            composed[name.as_str()].data == fs::read(path).unwrap(),
            "{name}: not the source file's bytes"
        );
    }
    // The large hosts come first (copied), then the small ones in request
    // order, then manifest.json.
    let first_hosts: Vec<&str> = {
        let mut v: Vec<&str> = Vec::new();
        for e in &entries {
            let h = e.name.split('/').next().unwrap();
            if e.name != "manifest.json" && v.last() != Some(&h) {
                v.push(h);
            }
        }
        v
    };
    assert_eq!(
        first_hosts,
        [
            "db-big-a.example.net",
            "db-big-b.example.net",
            "db-small-1.example.net",
            "db-small-2.example.net",
            "db-small-3.example.net",
            "db-small-4.example.net"
        ]
    );

    // The manifest: every host's children, as its own manifest has them.
    assert_eq!(manifest["status"], "FAILURE");
    assert_eq!(manifest["resourceName"], "fleetCluster");
    let children = manifest["childJobs"].as_array().unwrap();
    assert_eq!(children.len() as u64, u(&report["children"]));
    for (h, m) in &host_manifests {
        for child in m["childJobs"].as_array().unwrap() {
            assert!(
                children.contains(child),
                "{h}'s child {} is not in the composed manifest as it is in {h}'s",
                child["path"]
            );
        }
    }
    let reported_children: usize = host_manifests
        .values()
        .map(|m| m["childJobs"].as_array().unwrap().len())
        .sum();
    let broken = children
        .iter()
        .find(|c| c["hostName"] == "db-broken.example.net:27020")
        .expect("the broken host's child");
    assert_eq!(broken["status"], "FAILURE");
    let error = broken["errorMessage"].as_str().unwrap();
    assert!(
        error.contains("db-broken.example.net/missing"),
        "the error names the missing path: {error}"
    );
    let ghost: Vec<&Value> = children
        .iter()
        .filter(|c| {
            c["path"]
                .as_str()
                .unwrap()
                .starts_with("db-ghost.example.net/")
        })
        .collect();
    let mut ghost_types: Vec<&str> = ghost
        .iter()
        .map(|c| c["logCollectionType"].as_str().unwrap())
        .collect();
    ghost_types.sort();
    assert_eq!(
        ghost_types,
        [
            "AUTOMATION_AGENT",
            "BACKUP_AGENT",
            "MONGODB",
            "MONITORING_AGENT"
        ]
    );
    for g in &ghost {
        assert_eq!(g["status"], "FAILURE", "{g}");
        assert!(
            g["errorMessage"]
                .as_str()
                .unwrap()
                .contains("did not report"),
            "{g}"
        );
        assert_eq!(g["files"], json!([]), "{g}");
    }
    assert_eq!(children.len(), reported_children + ghost.len());
    let failed: Vec<&str> = children
        .iter()
        .filter(|c| c["status"] == "FAILURE")
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        failed.len(),
        1 + ghost.len(),
        "FAILURE children: {failed:?}"
    );

    // The output bucket does not exist: fatal, and no upload left open.
    let run = moto.compose(&c.request, store, "s3://fleet-nowhere/all.tar.gz", &["-q"]);
    assert_eq!(run.code, 1, "compose into a missing bucket: {}", run.stderr);
    assert!(run.stderr.contains("fleet-nowhere"), "{}", run.stderr);
    assert_eq!(
        moto.s3(vec![
            json!({"op": "uploads", "bucket": "fleet-src"}),
            json!({"op": "uploads", "bucket": "fleet-out"}),
        ]),
        [json!([]), json!([])]
    );

    // A record whose index lies (a fragment one byte longer than it is):
    // fatal, the upload aborted, nothing at the output key. Every object is
    // copied under another prefix; the records there lose their ETag (a
    // copy may have another) and name their own archives.
    let mut ops = Vec::new();
    for h in &reporting {
        for ext in ["tar.gz", "manifest.json"] {
            ops.push(json!({"op": "copy", "bucket": "fleet-src",
                "from": format!("{prefix}{h}.{ext}"),
                "key": format!("jobs/lying/hosts/{h}.{ext}")}));
        }
    }
    moto.s3(ops);
    for h in &reporting {
        let mut record = moto.s3_one(json!({"op": "get_json", "bucket": "fleet-src",
            "key": format!("{prefix}{h}.json")}));
        record["archive"] = json!(format!("jobs/lying/hosts/{h}.tar.gz"));
        record["archiveEtag"] = Value::Null;
        if *h == "db-small-3.example.net" {
            assert!(record["index"]["children"].as_array().unwrap().len() > 1);
            let length = &mut record["index"]["children"][0]["length"];
            *length = json!(u(length) + 1);
        }
        moto.s3_one(json!({"op": "put_json", "bucket": "fleet-src",
            "key": format!("jobs/lying/hosts/{h}.json"), "value": record}));
    }
    let run = moto.compose(
        &c.request,
        "s3://fleet-src/jobs/lying",
        "s3://fleet-out/lying.tar.gz",
        &["--json", "-q"],
    );
    assert_eq!(run.code, 1, "compose with a lying index: {}", run.stderr);
    assert!(run.stderr.contains("index"), "{}", run.stderr);
    assert!(
        run.stdout.is_empty(),
        "a report on failure: {}",
        run.stdout_text()
    );
    assert_eq!(
        moto.s3(vec![
            json!({"op": "size", "bucket": "fleet-out", "key": "lying.tar.gz"}),
            json!({"op": "uploads", "bucket": "fleet-out"}),
        ]),
        [Value::Null, json!([])],
        "something was left at the output key"
    );
    eprintln!("fleet test: {:.1} s", started.elapsed().as_secs_f64());
}

/// A record that agrees with itself but not with the archive it names
/// must not give a wrong archive (PRODUCT.md §8: "a damaged or
/// inconsistent index is an error, never a wrong archive"): a CRC-32 that
/// is wrong, a fragment's end that is wrong (the final fragment moved with
/// it, so that the index is consistent), and the state a host's second put
/// leaves while it runs (put uploads the archive first and the record
/// last: the record of the first put names the archive of the second).
#[test]
fn fleet_compose_refuses_a_record_that_disagrees_with_its_archive() {
    let Some(moto) = Moto::start() else { return };
    moto.s3(vec![
        json!({"op": "mkbucket", "bucket": "fleet-src"}),
        json!({"op": "mkbucket", "bucket": "fleet-out"}),
    ]);
    let tree = Tree::new();
    tree.file("one/mongod.log", common::log_text(200_000, 1));
    tree.file("two/mongod.log", common::log_text(100_000, 2));
    let request = tree.request(&json!({
        "resourceType": "CLUSTER", "resourceName": "pair",
        "hosts": [
            {"hostname": "one", "processes": [{"type": "mongod", "replicaSet": "rs0",
                "port": 27017, "logPath": "one/mongod.log"}]},
            {"hostname": "two", "processes": [{"type": "mongod", "replicaSet": "rs0",
                "port": 27018, "logPath": "two/mongod.log"}]},
        ],
    }));
    let puts = put_all(&moto, &request, "s3://fleet-src/good", &["one", "two"]);
    for (h, run) in &puts {
        assert_eq!(run.code, 0, "put {h}: {}", run.stderr);
    }
    // The second put of `one`, after its log grew, elsewhere.
    let mut grown = common::log_text(200_000, 1);
    grown.extend_from_slice(&common::log_text(50_000, 3));
    tree.file("one/mongod.log", grown);
    let run = &put_all(&moto, &request, "s3://fleet-src/again", &["one"])["one"];
    assert_eq!(run.code, 0, "put one again: {}", run.stderr);

    let record: Value = moto.s3_one(json!({"op": "get_json", "bucket": "fleet-src",
        "key": "good/hosts/one.json"}));
    let crc = u(&record["index"]["children"][0]["crc32"]);
    let mut wrong_crc = record.clone();
    wrong_crc["index"]["children"][0]["crc32"] = json!(crc ^ 1);
    // The child's fragment 7 bytes longer and the final fragment 7 bytes
    // later: consistent, and wrong.
    let mut wrong_end = record.clone();
    let length = u(&record["index"]["children"][0]["length"]);
    let last = u(&record["index"]["final"]["offset"]);
    wrong_end["index"]["children"][0]["length"] = json!(length + 7);
    wrong_end["index"]["final"]["offset"] = json!(last + 7);
    // The first put's record, its archive overwritten by the second put's.
    let mut rerun = record.clone();
    rerun["archive"] = json!("lie-rerun/hosts/one.tar.gz");
    let mut failures = Vec::new();
    for (name, lie, archive_from) in [
        ("crc32", wrong_crc, None),
        ("end", wrong_end, None),
        ("rerun", rerun, Some("again/hosts/one.tar.gz")),
    ] {
        let prefix = format!("lie-{name}/hosts/");
        let mut ops = vec![
            json!({"op": "copy", "bucket": "fleet-src", "from": "good/hosts/one.manifest.json",
                "key": format!("{prefix}one.manifest.json")}),
            json!({"op": "copy", "bucket": "fleet-src", "from": "good/hosts/two.manifest.json",
                "key": format!("{prefix}two.manifest.json")}),
            json!({"op": "copy", "bucket": "fleet-src", "from": "good/hosts/two.json",
                "key": format!("{prefix}two.json")}),
            json!({"op": "put_json", "bucket": "fleet-src",
                "key": format!("{prefix}one.json"), "value": lie}),
        ];
        if let Some(from) = archive_from {
            ops.push(json!({"op": "copy", "bucket": "fleet-src", "from": from,
                "key": format!("{prefix}one.tar.gz")}));
        }
        moto.s3(ops);
        let key = format!("lie-{name}.tar.gz");
        let run = moto.compose(
            &request,
            &format!("s3://fleet-src/lie-{name}"),
            &format!("s3://fleet-out/{key}"),
            &["-q"],
        );
        let left = moto.s3_one(json!({"op": "size", "bucket": "fleet-out", "key": key}));
        if run.code != 1 || !left.is_null() {
            let mut why = format!(
                "a record whose {name} lies: compose exited {} and left {left} bytes at \
                 s3://fleet-out/{key}",
                run.code
            );
            if !left.is_null() {
                let object = tree.path(&key);
                moto.s3_one(json!({"op": "get", "bucket": "fleet-out", "key": key,
                    "file": object}));
                let v = common::logpack(&["verify".as_ref(), object.as_os_str()]);
                why += &format!(" (verify exits {}: {})", v.code, v.stderr.trim());
            }
            failures.push(why);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
