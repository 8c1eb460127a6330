//! End-to-end benchmarks (STYLE.md rule 24): planning files/s and archive
//! MB/s per format and thread count, on corpora generated at setup.
//!
//! Two deterministic deployments are written to temp dirs before anything is
//! timed:
//!
//! - **logs**: one host with a mongod whose live log and three rotated
//!   siblings hold 64 MiB of logv2 JSON lines (fields varied by a seeded
//!   generator, so gzip -6 gets about 9×, like real mongod logs), plus a
//!   handful of small agent logs.
//! - **many small files**: 2,000 FTDC files of 4-16 KiB in
//!   `dbPath/diagnostic.data/` (random bytes: real FTDC is already
//!   zlib-compressed), which measures the per-file cost.
//!
//! The files were just written, so they are in the page cache: these numbers
//! are the CPU cost of the pipeline (read, sha256, tar, compression), not
//! disk speed. Archives go to `io::sink()`. Reads use the engine's fixed
//! 256 KiB chunks (`src/read.rs`); the thread count is part of each id.
//!
//! Run: `cargo bench --bench pipeline` (about two minutes on 2 cores), or
//! `cargo bench --bench pipeline -- --test` to run each benchmark once.
//! The host's speed drifts (ECOSYSTEM.md, benchmark hygiene): compare runs
//! made close together, not numbers from different days.

mod common;

use std::fmt::Write as _;
use std::fs;
use std::hint::black_box;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::Duration;

use common::Rng;
use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, SamplingMode,
    Throughput,
};
use logpack::{Engine, Format, Options, Output, Request};
use tempfile::TempDir;

const MIB: u64 = 1024 * 1024;
/// The live mongod log and each rotated sibling.
const MONGOD_FILE_BYTES: u64 = 16 * MIB;
const ROTATED_SIBLINGS: usize = 3;
const FTDC_FILES: usize = 2_000;
const THREADS: [usize; 2] = [1, 2];
/// 2024-05-01T00:00:00Z, where the generated logs start.
const START_MS: i64 = 1_714_521_600_000;

/// Writes realistic mongod logv2 lines.
struct LogGen {
    rng: Rng,
    ms: i64,
    second: i64,
    second_text: String,
    next_conn: u64,
    open_conns: Vec<(u64, String)>,
}

const DRIVERS: [(&str, &str, &str); 4] = [
    (
        "mongo-java-driver|sync",
        "4.11.1",
        "Java/Eclipse Adoptium/17.0.9+9",
    ),
    ("nodejs", "6.3.0", "Node.js v20.11.0, LE (unified)"),
    ("PyMongo", "4.6.1", "CPython 3.11.7.final.0"),
    ("mongo-go-driver", "v1.13.1", "go1.21.6"),
];
const FIELDS: [&str; 4] = ["customerId", "orderId", "sku", "userId"];
const STATUSES: [&str; 4] = ["open", "shipped", "cancelled", "pending"];

impl LogGen {
    fn new(seed: u64) -> LogGen {
        LogGen {
            rng: Rng::new(seed),
            ms: START_MS,
            second: i64::MIN,
            second_text: String::new(),
            next_conn: 1,
            open_conns: Vec::new(),
        }
    }

    /// The `{"t":…,"s":…,"c":…,"id":…,"ctx":…,` prefix of a line.
    fn head(&mut self, out: &mut String, severity: &str, component: &str, id: u32, ctx: &str) {
        self.ms += self.rng.below(40) as i64;
        let second = self.ms.div_euclid(1000);
        if second != self.second {
            self.second = second;
            self.second_text = jiff::Timestamp::from_second(second)
                .expect("generated timestamps are in range")
                .strftime("%Y-%m-%dT%H:%M:%S")
                .to_string();
        }
        // mongod pads "s", "c" and "id" to fixed widths.
        let _ = write!(
            out,
            r#"{{"t":{{"$date":"{}.{:03}+00:00"}},"s":{:<6}"c":{:<12}"id":{:<9}"ctx":"{ctx}","#,
            self.second_text,
            self.ms.rem_euclid(1000),
            format!("\"{severity}\","),
            format!("\"{component}\","),
            format!("{id},"),
        );
    }

    /// Base64 of `n` random bytes (keyed hashes in `$clusterTime`).
    fn base64(&mut self, n: usize) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut s: String = (0..n.div_ceil(3) * 4)
            .map(|_| ALPHABET[self.rng.below(64) as usize] as char)
            .collect();
        if n % 3 != 0 {
            s.truncate(s.len() - (3 - n % 3));
            s.extend(std::iter::repeat_n('=', 3 - n % 3));
        }
        s
    }

    fn remote(&mut self) -> String {
        format!(
            "10.0.{}.{}:{}",
            self.rng.below(4),
            10 + self.rng.below(40),
            32768 + self.rng.below(28000)
        )
    }

    /// Appends one line, newline included.
    fn line(&mut self, out: &mut String) {
        let roll = self.rng.below(100);
        if roll < 12 || self.open_conns.is_empty() {
            self.accept(out);
        } else if roll < 22 {
            self.end(out);
        } else if roll < 30 {
            self.metadata(out);
        } else if roll < 38 {
            self.auth(out);
        } else if roll < 70 {
            self.slow_query(out);
        } else if roll < 88 {
            self.checkpoint(out);
        } else {
            self.heartbeat(out);
        }
        out.push('\n');
    }

    fn conn(&mut self) -> (u64, String) {
        self.open_conns[self.rng.below(self.open_conns.len() as u64) as usize].clone()
    }

    fn accept(&mut self, out: &mut String) {
        let id = self.next_conn;
        self.next_conn += 1;
        let remote = self.remote();
        let uuid = self.rng.uuid();
        self.open_conns.push((id, remote.clone()));
        if self.open_conns.len() > 200 {
            self.open_conns.swap_remove(0);
        }
        self.head(out, "I", "NETWORK", 22943, "listener");
        let _ = write!(
            out,
            r#""msg":"Connection accepted","attr":{{"remote":"{remote}","uuid":{{"uuid":{{"$uuid":"{uuid}"}}}},"connectionId":{id},"connectionCount":{}}}}}"#,
            self.open_conns.len()
        );
    }

    fn end(&mut self, out: &mut String) {
        let i = self.rng.below(self.open_conns.len() as u64) as usize;
        let (id, remote) = self.open_conns.swap_remove(i);
        let uuid = self.rng.uuid();
        self.head(out, "I", "NETWORK", 22944, &format!("conn{id}"));
        let _ = write!(
            out,
            r#""msg":"Connection ended","attr":{{"remote":"{remote}","uuid":{{"uuid":{{"$uuid":"{uuid}"}}}},"connectionId":{id},"connectionCount":{}}}}}"#,
            self.open_conns.len()
        );
    }

    fn metadata(&mut self, out: &mut String) {
        let (id, remote) = self.conn();
        let (name, version, platform) = *self.rng.pick(&DRIVERS);
        self.head(out, "I", "NETWORK", 51800, &format!("conn{id}"));
        let _ = write!(
            out,
            r#""msg":"client metadata","attr":{{"remote":"{remote}","client":"conn{id}","negotiatedCompressors":[],"doc":{{"driver":{{"name":"{name}","version":"{version}"}},"os":{{"type":"Linux","name":"Linux","architecture":"x86_64","version":"5.15.0-1051-aws"}},"platform":"{platform}","application":{{"name":"shop-api-{}"}}}}}}}}"#,
            self.rng.below(6)
        );
    }

    fn auth(&mut self, out: &mut String) {
        let (id, remote) = self.conn();
        self.head(out, "I", "ACCESS", 20250, &format!("conn{id}"));
        let user = *self
            .rng
            .pick(&["app", "analytics", "mms-automation", "backup"]);
        let _ = write!(
            out,
            r#""msg":"Authentication succeeded","attr":{{"mechanism":"SCRAM-SHA-256","speculative":true,"principalName":"{user}","authenticationDatabase":"admin","remote":"{remote}","extraInfo":{{}}}}}}"#
        );
    }

    fn slow_query(&mut self, out: &mut String) {
        let (id, remote) = self.conn();
        let (db, coll) = *self.rng.pick(&common::NAMESPACES);
        let field = *self.rng.pick(&FIELDS);
        let status = *self.rng.pick(&STATUSES);
        let value = self.rng.below(100_000);
        let limit = *self.rng.pick(&[10, 20, 50, 100]);
        let lsid = self.rng.uuid();
        let hash = self.rng.next() as u32;
        let sig = self.base64(20);
        let collscan = self.rng.below(10) == 0;
        let docs = if collscan {
            100_000 + self.rng.below(900_000)
        } else {
            self.rng.below(500)
        };
        let keys = if collscan { 0 } else { docs };
        let plan = if collscan {
            "COLLSCAN".to_string()
        } else {
            format!("IXSCAN {{ {field}: 1, status: 1 }}")
        };
        let ms = 100 + self.rng.below(if collscan { 5000 } else { 400 });
        self.head(out, "I", "COMMAND", 51803, &format!("conn{id}"));
        let _ = write!(
            out,
            r#""msg":"Slow query","attr":{{"type":"command","ns":"{db}.{coll}","appName":"shop-api","command":{{"find":"{coll}","filter":{{"{field}":{value},"status":"{status}"}},"sort":{{"createdAt":-1}},"limit":{limit},"lsid":{{"id":{{"$uuid":"{lsid}"}}}},"$clusterTime":{{"clusterTime":{{"$timestamp":{{"t":{},"i":{}}}}},"signature":{{"hash":{{"$binary":{{"base64":"{sig}","subType":"0"}}}},"keyId":7312540183365337089}}}},"$db":"{db}"}},"planSummary":"{plan}","planningTimeMicros":{},"keysExamined":{keys},"docsExamined":{docs},"nreturned":{},"queryHash":"{hash:08X}","planCacheKey":"{:08X}","queryFramework":"classic","reslen":{},"locks":{{"FeatureCompatibilityVersion":{{"acquireCount":{{"r":1}}}},"Global":{{"acquireCount":{{"r":1}}}}}},"readConcern":{{"level":"local","provenance":"implicitDefault"}},"storage":{{"data":{{"bytesRead":{},"timeReadingMicros":{}}}}},"remote":"{remote}","protocol":"op_msg","durationMillis":{ms}}}}}"#,
            self.ms / 1000,
            1 + self.rng.below(8),
            self.rng.below(2000),
            docs.min(limit),
            hash.rotate_left(7),
            200 + self.rng.below(40_000),
            self.rng.below(10_000_000),
            self.rng.below(100_000),
        );
    }

    fn checkpoint(&mut self, out: &mut String) {
        let secs = self.ms / 1000;
        let gen = 100_000 + (self.ms - START_MS) / 60_000;
        self.head(out, "I", "WTCHKPT", 22430, "Checkpointer");
        let _ = write!(
            out,
            r#""msg":"WiredTiger message","attr":{{"message":{{"ts_sec":{secs},"ts_usec":{},"thread":"2142:0x7f3c8e4d1640","session_name":"WT_SESSION.checkpoint","category":"WT_VERB_CHECKPOINT_PROGRESS","category_id":6,"verbose_level":"DEBUG_1","verbose_level_id":1,"msg":"saving checkpoint snapshot min: {}, snapshot max: {} snapshot count: 0, oldest timestamp: ({}, 1) , meta checkpoint timestamp: ({secs}, 1) base write gen: {gen}"}}}}}}"#,
            self.rng.below(1_000_000),
            gen * 3,
            gen * 3,
            secs - 10,
        );
    }

    fn heartbeat(&mut self, out: &mut String) {
        let member = self.rng.below(2) + 2;
        self.head(out, "D2", "REPL_HB", 4615620, "ReplCoord-1");
        let _ = write!(
            out,
            r#""msg":"Received response to heartbeat","attr":{{"requestId":{},"target":"db{member}.example.net:27017","response":{{"ok":1,"state":2,"v":7,"configTerm":3,"set":"rs0","term":3,"durableOpTime":{{"ts":{{"$timestamp":{{"t":{},"i":1}}}},"t":3}},"opTime":{{"ts":{{"$timestamp":{{"t":{},"i":1}}}},"t":3}}}}}}}}"#,
            self.rng.below(10_000_000),
            self.ms / 1000 - 1,
            self.ms / 1000,
        );
    }
}

/// Fills `path` with generated lines until it holds at least `bytes`.
fn write_log(path: &Path, bytes: u64, fill: &mut dyn FnMut(&mut String)) {
    let mut file = BufWriter::with_capacity(1 << 20, fs::File::create(path).expect("create log"));
    let mut written = 0;
    let mut buf = String::with_capacity(1 << 20);
    while written < bytes {
        buf.clear();
        while buf.len() < (1 << 20) - 4096 && written + (buf.len() as u64) < bytes {
            fill(&mut buf);
        }
        file.write_all(buf.as_bytes()).expect("write log");
        written += buf.len() as u64;
    }
    file.flush().expect("flush log");
}

/// A generated deployment and its validated request.
struct Deployment {
    _dir: TempDir,
    request: Request,
    files: u64,
    bytes: u64,
}

impl Deployment {
    fn new(dir: TempDir, request: serde_json::Value) -> Deployment {
        let request =
            Request::from_json(&request.to_string(), dir.path()).expect("bench request is valid");
        let plan = engine(Format::Tar, 1)
            .plan(&request)
            .expect("bench corpus plans");
        assert!(
            plan.components.iter().all(|c| c.failures.is_empty()),
            "bench corpus plans without errors"
        );
        Deployment {
            _dir: dir,
            request,
            files: plan.file_count() as u64,
            bytes: plan.total_bytes(),
        }
    }

    /// One untimed collection that must succeed and archive every byte;
    /// returns the archive size.
    fn check(&self, engine: &Engine) -> u64 {
        let mut out = Counter(0);
        let report = engine
            .collect(&self.request, Output::Writer(&mut out), None)
            .expect("bench collection succeeds");
        assert!(report.is_complete(), "bench collection is complete");
        assert_eq!(report.manifest.uncompressed_size_total_bytes, self.bytes);
        out.0
    }
}

/// 64 MiB of mongod logs (live + rotated) plus a handful of agent logs.
fn logs_deployment() -> Deployment {
    let dir = tempfile::Builder::new()
        .prefix("logpack-bench-logs-")
        .tempdir()
        .expect("temp dir");
    let mongod = dir.path().join("mongod");
    let agent = dir.path().join("agent");
    fs::create_dir_all(&mongod).expect("mkdir mongod");
    fs::create_dir_all(&agent).expect("mkdir agent");

    // One generator across the rotation, oldest first, so time runs on.
    // mongod renames a rotated log to `<logPath>.<rotation time>`.
    let mut gen = LogGen::new(0x9e37_79b9_7f4a_7c15);
    let live = mongod.join("mongod.log");
    for i in 0..=ROTATED_SIBLINGS {
        write_log(&live, MONGOD_FILE_BYTES, &mut |out| gen.line(out));
        if i < ROTATED_SIBLINGS {
            let rotated = jiff::Timestamp::from_millisecond(gen.ms)
                .expect("in range")
                .strftime("mongod.log.%Y-%m-%dT%H-%M-%S")
                .to_string();
            fs::rename(&live, mongod.join(rotated)).expect("rotate log");
        }
    }

    let mut rng = Rng::new(0x2545_f491_4f6c_dd1d);
    let agent_files = [
        ("automation-agent.log.2024-05-01T00-59-59", 512 * 1024),
        ("automation-agent.log", 256 * 1024),
        ("automation-agent-verbose.log", 256 * 1024),
        ("monitoring-agent.log", 128 * 1024),
        ("backup-agent.log", 64 * 1024),
    ];
    let mut ms = START_MS;
    for (name, size) in agent_files {
        write_log(&agent.join(name), size, &mut |out| {
            ms += rng.below(2000) as i64;
            let t = jiff::Timestamp::from_millisecond(ms).expect("in range");
            let step = *rng.pick(&[
                "WaitRsInit",
                "WaitFeatureCompatibilityVersionCorrect",
                "Start",
                "UpdateVersion",
            ]);
            let _ = writeln!(
                out,
                "[{}] [.info] [cm/director/director.go:computePlan:{}] <db1.example.net_27017> [{}] \
                 process rs0_{} ready; step={step} goal={} took {}ms",
                t.strftime("%Y-%m-%dT%H:%M:%S%.3f+0000"),
                200 + rng.below(600),
                t.strftime("%H:%M:%S%.3f"),
                rng.below(3),
                rng.below(40),
                rng.below(900),
            );
        });
    }

    let request = serde_json::json!({
        "resourceType": "PROCESS",
        "resourceName": "bench",
        "logTypes": ["AUTOMATION_AGENT", "MONITORING_AGENT", "BACKUP_AGENT", "MONGODB"],
        "hosts": [{
            "hostname": "db1.example.net",
            "agentLogDir": "agent",
            "processes": [{
                "type": "mongod",
                "replicaSet": "rs0",
                "port": 27017,
                "logPath": "mongod/mongod.log",
            }],
        }],
    });
    Deployment::new(dir, request)
}

/// 2,000 FTDC files of 4-16 KiB.
fn ftdc_deployment() -> Deployment {
    let dir = tempfile::Builder::new()
        .prefix("logpack-bench-ftdc-")
        .tempdir()
        .expect("temp dir");
    let ftdc = dir.path().join("db").join("diagnostic.data");
    fs::create_dir_all(&ftdc).expect("mkdir diagnostic.data");
    let mut rng = Rng::new(0xd1b5_4a32_d192_ed03);
    let mut body = Vec::with_capacity(16 * 1024);
    for i in 0..FTDC_FILES {
        let name = if i + 1 == FTDC_FILES {
            "metrics.interim".to_string()
        } else {
            let t =
                jiff::Timestamp::from_second(START_MS / 1000 + 300 * i as i64).expect("in range");
            format!("metrics.{}-00000", t.strftime("%Y-%m-%dT%H-%M-%SZ"))
        };
        let size = 4096 + rng.below(12 * 1024 + 1) as usize;
        body.clear();
        while body.len() < size {
            body.extend_from_slice(&rng.next().to_le_bytes());
        }
        body.truncate(size);
        fs::write(ftdc.join(name), &body).expect("write ftdc");
    }
    let request = serde_json::json!({
        "resourceName": "bench-ftdc",
        "logTypes": ["FTDC"],
        "hosts": [{
            "hostname": "db1.example.net",
            "processes": [{
                "type": "mongod",
                "replicaSet": "rs0",
                "port": 27017,
                "logPath": "mongod/mongod.log",
                "dbPath": "db",
            }],
        }],
    });
    Deployment::new(dir, request)
}

/// Counts the archive's bytes.
struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn engine(format: Format, threads: usize) -> Engine {
    Engine::new(Options {
        threads,
        format,
        compression_level: None,
    })
    .expect("valid bench options")
}

/// `tar`, `tar.gz-6`, `tar.zst-3`: format and effective level.
fn format_label(format: Format) -> String {
    match format {
        Format::Tar => "tar".into(),
        f => format!("{}-{}", f.extension(), f.default_level()),
    }
}

/// Registers `<label>/threads=<n>`: one full collection to `io::sink()` per
/// iteration, after an untimed run that checks the archive is complete.
fn bench_collect(
    group: &mut BenchmarkGroup<'_, WallTime>,
    label: &str,
    d: &Deployment,
    format: Format,
    threads: usize,
) {
    let engine = engine(format, threads);
    let archived = d.check(&engine);
    eprintln!(
        "{label} threads={threads}: input/archive {:.2}, pipeline memory bound {} MiB",
        d.bytes as f64 / archived as f64,
        engine.options().memory_bound() / MIB
    );
    group.bench_function(BenchmarkId::new(label, format!("threads={threads}")), |b| {
        b.iter(|| {
            let mut sink = io::sink();
            black_box(
                engine
                    .collect(&d.request, Output::Writer(&mut sink), None)
                    .expect("collect"),
            )
        })
    });
}

fn bench_logs(c: &mut Criterion) {
    let d = logs_deployment();
    eprintln!(
        "corpus logs: {} files, {:.1} MiB; cores {}",
        d.files,
        d.bytes as f64 / MIB as f64,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let mut group = c.benchmark_group("collect");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .throughput(Throughput::Bytes(d.bytes));
    for format in [Format::Tar, Format::TarGz, Format::TarZst] {
        // gzip is single-stream, about 0.6 s per run here: give it room for
        // ten runs; the others take a fraction of that.
        let secs = if format == Format::TarGz { 10 } else { 4 };
        group.measurement_time(Duration::from_secs(secs));
        for threads in THREADS {
            bench_collect(&mut group, &format_label(format), &d, format, threads);
        }
    }
    group.finish();
}

fn bench_many_small_files(c: &mut Criterion) {
    let d = ftdc_deployment();
    eprintln!(
        "corpus many_small_files: {} files, {:.1} MiB",
        d.files,
        d.bytes as f64 / MIB as f64
    );

    let mut group = c.benchmark_group("plan");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(d.files));
    // One FTDC component is planned by one thread whatever the pool size.
    let planner = engine(Format::Tar, 1);
    group.bench_function("many_small_files", |b| {
        b.iter(|| black_box(planner.plan(&d.request).expect("plans")))
    });
    group.finish();

    let mut group = c.benchmark_group("collect");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .throughput(Throughput::Elements(d.files));
    for format in [Format::Tar, Format::TarGz] {
        // gzip of incompressible FTDC takes about 0.5 s per run here.
        let secs = if format == Format::TarGz { 8 } else { 4 };
        group.measurement_time(Duration::from_secs(secs));
        let label = format!("many_small_files/{}", format_label(format));
        for threads in THREADS {
            bench_collect(&mut group, &label, &d, format, threads);
        }
    }
    group.finish();
}

criterion_group!(benches, bench_logs, bench_many_small_files);
criterion_main!(benches);
