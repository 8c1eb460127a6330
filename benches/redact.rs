//! Redaction throughput (PRODUCT.md §4): MB/s of `Redactor::redact_line` on
//! one core, the line splitting included.
//!
//! The input is generated before anything is timed, by a seeded generator, so
//! every run redacts the same bytes:
//!
//! - **logv2**: 32 MiB of mongod 4.4+ JSON lines like a busy replica-set member
//!   writes them: connections accepted and ended from remote `ip:port`s (private
//!   and public ranges), client metadata, SCRAM authentications with a
//!   `principalName`, slow queries with `ns`, `find`, `$db`, `remote` and now and
//!   then an e-mail address in the filter, heartbeats to member FQDNs, and
//!   WiredTiger checkpoint lines with nothing to replace. About 2.3 replacements
//!   per line.
//! - **legacy text**: 32 MiB of 3.6-4.2 text lines of the same events
//!   (`connection accepted from 10.0.3.17:50512`, `command shop.orders
//!   command: find { find: "orders", … $db: "shop" }`).
//!
//! The request names three hosts (`db1.example.net`…), as a real collection does.
//!
//! Run: `cargo bench --bench redact`, or `cargo bench --bench redact -- --test`
//! to run each benchmark once.

mod common;

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Duration;

use common::Rng;
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use logpack::redact::Redactor;

const MIB: usize = 1024 * 1024;
const INPUT_BYTES: usize = 32 * MIB;
/// 2024-05-01T00:00:00Z.
const START_SECS: u64 = 1_714_521_600;

const USERS: [&str; 4] = ["app", "analytics", "mms-automation", "backup"];
const MEMBERS: [&str; 3] = ["db1.example.net", "db2.example.net", "db3.example.net"];
const DRIVERS: [(&str, &str); 4] = [
    ("mongo-java-driver|sync", "4.11.1"),
    ("nodejs", "6.3.0"),
    ("PyMongo", "4.6.1"),
    ("mongo-go-driver", "v1.13.1"),
];

/// Generates the events of one mongod, in logv2 or legacy text.
struct Gen {
    rng: Rng,
    ms: u64,
    conns: Vec<(u64, String)>,
    next_conn: u64,
}

impl Gen {
    fn new(seed: u64) -> Gen {
        Gen {
            rng: Rng::new(seed),
            ms: START_SECS * 1000,
            conns: Vec::new(),
            next_conn: 1,
        }
    }

    /// A client address: mostly application servers in private ranges, some
    /// public addresses (Atlas-style), a few IPv6.
    fn remote(&mut self) -> String {
        let port = 32768 + self.rng.below(28000);
        match self.rng.below(10) {
            0..=5 => format!(
                "10.{}.{}.{}:{port}",
                self.rng.below(4),
                self.rng.below(256),
                1 + self.rng.below(254)
            ),
            6 | 7 => format!(
                "192.168.{}.{}:{port}",
                self.rng.below(256),
                1 + self.rng.below(254)
            ),
            8 => format!(
                "{}.{}.{}.{}:{port}",
                3 + self.rng.below(200),
                self.rng.below(256),
                self.rng.below(256),
                1 + self.rng.below(254)
            ),
            _ => format!(
                "[2600:1f18:{:x}::{:x}]:{port}",
                self.rng.below(0xffff),
                1 + self.rng.below(0xffff)
            ),
        }
    }

    fn conn(&mut self) -> (u64, String) {
        if self.conns.is_empty() || self.rng.below(8) == 0 {
            let id = self.next_conn;
            self.next_conn += 1;
            let remote = self.remote();
            self.conns.push((id, remote));
            if self.conns.len() > 300 {
                self.conns.swap_remove(0);
            }
        }
        self.conns[self.rng.below(self.conns.len() as u64) as usize].clone()
    }

    fn time(&mut self, out: &mut String, json: bool) {
        self.ms += self.rng.below(30);
        let secs = self.ms / 1000;
        let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
        let day = 1 + (secs - START_SECS) / 86_400 % 28;
        let ms = self.ms % 1000;
        if json {
            let _ = write!(
                out,
                r#"{{"t":{{"$date":"2024-05-{day:02}T{h:02}:{m:02}:{s:02}.{ms:03}+00:00"}},"#
            );
        } else {
            let _ = write!(out, "2024-05-{day:02}T{h:02}:{m:02}:{s:02}.{ms:03}+0000 ");
        }
    }

    fn logv2_line(&mut self, out: &mut String) {
        self.time(out, true);
        let roll = self.rng.below(100);
        let (id, remote) = self.conn();
        let uuid = self.rng.uuid();
        if roll < 15 {
            let _ = write!(
                out,
                r#""s":"I",  "c":"NETWORK",  "id":22943,   "ctx":"listener","msg":"Connection accepted","attr":{{"remote":"{remote}","isLoadBalanced":false,"uuid":{{"uuid":{{"$uuid":"{uuid}"}}}},"connectionId":{id},"connectionCount":{}}}}}"#,
                self.conns.len()
            );
        } else if roll < 28 {
            let _ = write!(
                out,
                r#""s":"I",  "c":"NETWORK",  "id":22944,   "ctx":"conn{id}","msg":"Connection ended","attr":{{"remote":"{remote}","isLoadBalanced":false,"uuid":{{"uuid":{{"$uuid":"{uuid}"}}}},"connectionId":{id},"connectionCount":{}}}}}"#,
                self.conns.len()
            );
        } else if roll < 36 {
            let (name, version) = *self.rng.pick(&DRIVERS);
            let _ = write!(
                out,
                r#""s":"I",  "c":"NETWORK",  "id":51800,   "ctx":"conn{id}","msg":"client metadata","attr":{{"remote":"{remote}","client":"conn{id}","negotiatedCompressors":[],"doc":{{"driver":{{"name":"{name}","version":"{version}"}},"os":{{"type":"Linux","name":"Ubuntu","architecture":"x86_64","version":"22.04"}},"platform":"Java/Eclipse Adoptium/17.0.9+9","application":{{"name":"shop-api"}}}}}}}}"#
            );
        } else if roll < 44 {
            let user = *self.rng.pick(&USERS);
            let _ = write!(
                out,
                r#""s":"I",  "c":"ACCESS",   "id":5286306, "ctx":"conn{id}","msg":"Successfully authenticated","attr":{{"client":"{remote}","isSpeculative":true,"isClusterMember":false,"mechanism":"SCRAM-SHA-256","user":"{user}","db":"admin","result":0,"metrics":{{"conversation_duration":{{"micros":{},"summary":{{"0":{{"step":1,"step_total":2,"duration_micros":{}}}}}}}}},"extraInfo":{{}}}}}}"#,
                self.rng.below(9000),
                self.rng.below(900)
            );
        } else if roll < 74 {
            let (db, coll) = *self.rng.pick(&common::NAMESPACES);
            let filter = if self.rng.below(10) == 0 {
                format!(
                    r#""email":"user{}@example-mail.com""#,
                    self.rng.below(100_000)
                )
            } else {
                format!(
                    r#""customerId":{},"status":"open""#,
                    self.rng.below(100_000)
                )
            };
            let _ = write!(
                out,
                r#""s":"I",  "c":"COMMAND",  "id":51803,   "ctx":"conn{id}","msg":"Slow query","attr":{{"type":"command","ns":"{db}.{coll}","appName":"shop-api","command":{{"find":"{coll}","filter":{{{filter}}},"sort":{{"createdAt":-1}},"limit":20,"lsid":{{"id":{{"$uuid":"{uuid}"}}}},"$clusterTime":{{"clusterTime":{{"$timestamp":{{"t":{},"i":1}}}},"signature":{{"hash":{{"$binary":{{"base64":"AAAAAAAAAAAAAAAAAAAAAAAAAAA=","subType":"0"}}}},"keyId":0}}}},"$db":"{db}"}},"planSummary":"IXSCAN {{ customerId: 1, status: 1 }}","planningTimeMicros":{},"keysExamined":{},"docsExamined":{},"nreturned":20,"queryHash":"{:08X}","planCacheKey":"{:08X}","queryFramework":"classic","reslen":{},"locks":{{"FeatureCompatibilityVersion":{{"acquireCount":{{"r":1}}}},"Global":{{"acquireCount":{{"r":1}}}}}},"readConcern":{{"level":"local","provenance":"implicitDefault"}},"storage":{{"data":{{"bytesRead":{},"timeReadingMicros":{}}}}},"remote":"{remote}","protocol":"op_msg","durationMillis":{}}}}}"#,
                self.ms / 1000,
                self.rng.below(2000),
                self.rng.below(500),
                self.rng.below(500),
                self.rng.next() as u32,
                self.rng.next() as u32,
                200 + self.rng.below(40_000),
                self.rng.below(10_000_000),
                self.rng.below(100_000),
                100 + self.rng.below(400),
            );
        } else if roll < 86 {
            let secs = self.ms / 1000;
            let _ = write!(
                out,
                r#""s":"I",  "c":"WTCHKPT",  "id":22430,   "ctx":"Checkpointer","msg":"WiredTiger message","attr":{{"message":{{"ts_sec":{secs},"ts_usec":{},"thread":"2142:0x7f3c8e4d1640","session_name":"WT_SESSION.checkpoint","category":"WT_VERB_CHECKPOINT_PROGRESS","category_id":6,"verbose_level":"DEBUG_1","verbose_level_id":1,"msg":"saving checkpoint snapshot min: {secs}, snapshot max: {secs} snapshot count: 0, oldest timestamp: ({secs}, 1) , meta checkpoint timestamp: ({secs}, 1) base write gen: 100373"}}}}}}"#,
                self.rng.below(1_000_000)
            );
        } else {
            let member = *self.rng.pick(&MEMBERS);
            let _ = write!(
                out,
                r#""s":"D2", "c":"REPL_HB",  "id":4615620, "ctx":"ReplCoord-1","msg":"Received response to heartbeat","attr":{{"requestId":{},"target":"{member}:27017","response":{{"ok":1,"state":2,"v":7,"configTerm":3,"set":"rs0","syncSourceHost":"{}:27017","term":3,"durableOpTime":{{"ts":{{"$timestamp":{{"t":{},"i":1}}}},"t":3}}}}}}}}"#,
                self.rng.below(10_000_000),
                self.rng.pick(&MEMBERS),
                self.ms / 1000,
            );
        }
        out.push('\n');
    }

    fn text_line(&mut self, out: &mut String) {
        self.time(out, false);
        let roll = self.rng.below(100);
        let (id, remote) = self.conn();
        if roll < 20 {
            let _ = write!(out, "I  NETWORK  [listener] connection accepted from {remote} #{id} ({} connections now open)", self.conns.len());
        } else if roll < 35 {
            let _ = write!(
                out,
                "I  NETWORK  [conn{id}] end connection {remote} ({} connections now open)",
                self.conns.len()
            );
        } else if roll < 45 {
            let user = *self.rng.pick(&USERS);
            let _ = write!(out, "I  ACCESS   [conn{id}] Successfully authenticated as principal {user} on admin from client {remote}");
        } else if roll < 80 {
            let (db, coll) = *self.rng.pick(&common::NAMESPACES);
            let _ = write!(
                out,
                r#"I  COMMAND  [conn{id}] command {db}.{coll} appName: "shop-api" command: find {{ find: "{coll}", filter: {{ customerId: {}, status: "open" }}, limit: 20, $db: "{db}" }} planSummary: IXSCAN {{ customerId: 1, status: 1 }} keysExamined:{} docsExamined:{} numYields:0 nreturned:20 reslen:{} locks:{{ Global: {{ acquireCount: {{ r: 1 }} }} }} protocol:op_msg {}ms"#,
                self.rng.below(100_000),
                self.rng.below(500),
                self.rng.below(500),
                self.rng.below(40_000),
                100 + self.rng.below(400),
            );
        } else {
            let member = *self.rng.pick(&MEMBERS);
            let _ = write!(
                out,
                "I  REPL     [replexec-3] Member {member}:27017 is now in state SECONDARY"
            );
        }
        out.push('\n');
    }
}

fn generate(bytes: usize, line: impl Fn(&mut Gen, &mut String)) -> Vec<u8> {
    let mut gen = Gen::new(0x9e37_79b9_7f4a_7c15);
    let mut out = String::with_capacity(bytes + 4096);
    while out.len() < bytes {
        line(&mut gen, &mut out);
    }
    out.into_bytes()
}

/// Redacts every line of `input` as the pipeline does: one reused output
/// buffer and one reused `found` vector.
fn redact_all(
    r: &Redactor,
    input: &[u8],
    out: &mut Vec<u8>,
    found: &mut Vec<(logpack::redact::Kind, String, String)>,
) -> usize {
    let mut n = 0;
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', input).chain(std::iter::once(input.len())) {
        out.clear();
        found.clear();
        n += r.redact_line(&input[start..end], out, found);
        black_box(&out);
        start = end + 1;
    }
    n
}

fn bench(c: &mut Criterion) {
    let hosts: Vec<String> = MEMBERS.iter().map(|h| h.to_string()).collect();
    let r = Redactor::new([42; 32], &hosts);
    let mut group = c.benchmark_group("redact");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for (name, input) in [
        ("logv2_32MiB", generate(INPUT_BYTES, Gen::logv2_line)),
        ("text_32MiB", generate(INPUT_BYTES, Gen::text_line)),
    ] {
        let mut out = Vec::with_capacity(64 * 1024);
        let mut found = Vec::new();
        let lines = input.iter().filter(|&&b| b == b'\n').count();
        let replaced = redact_all(&r, &input, &mut out, &mut found);
        eprintln!(
            "{name}: {lines} lines, {replaced} replacements ({:.1} per line)",
            replaced as f64 / lines as f64
        );
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| redact_all(&r, black_box(&input), &mut out, &mut found))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
