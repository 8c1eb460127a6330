//! Selection cost grows with the answer, not the input: a one-hour window of
//! a large sorted log against reading that log once.
//!
//! `cargo bench --bench select` (LOGPACK_BENCH_BYTES sets the log size,
//! default 1 GiB). Compare `select/read_once` with `select/one_hour_window`;
//! `select/level_filter_full_scan` is the per-core rate of line filtering.

mod common;

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::time::Duration;

use common::Rng;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use logpack::{Engine, Format, Options, Output, Request};

const START_MS: i64 = 1_763_251_200_000; // 2025-11-16T00:00:00Z

/// Writes a sorted logv2 log of about `bytes`, ten lines per second.
fn write_log(path: &Path, bytes: u64) -> (i64, i64) {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path).unwrap());
    let mut written = 0u64;
    let mut i: i64 = 0;
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    while written < bytes {
        let ts = jiff::Timestamp::from_millisecond(START_MS + i * 100).unwrap();
        let line = format!(
            "{{\"t\":{{\"$date\":\"{}\"}},\"s\":\"I\",  \"c\":\"NETWORK\",  \"id\":22943,   \"ctx\":\"listener\",\"msg\":\"Connection accepted\",\"attr\":{{\"remote\":\"10.{}.{}.{}:{}\",\"connectionId\":{},\"connectionCount\":{}}}}}\n",
            ts.strftime("%Y-%m-%dT%H:%M:%S%.3f+00:00"),
            rng.below(256),
            rng.below(256),
            rng.below(256),
            40000 + rng.below(20000),
            i,
            rng.below(500)
        );
        out.write_all(line.as_bytes()).unwrap();
        written += line.len() as u64;
        i += 1;
    }
    out.flush().unwrap();
    (START_MS, START_MS + i * 100)
}

fn bench(c: &mut Criterion) {
    let bytes: u64 = std::env::var("LOGPACK_BENCH_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1 << 30);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mongod.log");
    let (first, last) = write_log(&log, bytes);
    let mid = first + (last - first) / 2;
    let window = |from: i64, to: i64| {
        let ts = |ms| jiff::Timestamp::from_millisecond(ms).unwrap().to_string();
        Request::from_json(
            &format!(
                r#"{{"hosts":[{{"hostname":"h","processes":[{{"type":"mongod","port":27017,"logPath":"mongod.log"}}]}}],
                    "logCollectionFromDate":"{}","logCollectionToDate":"{}"}}"#,
                ts(from),
                ts(to)
            ),
            dir.path(),
        )
        .unwrap()
    };
    let hour = window(mid, mid + 3_600_000);
    // Every line is INFO, so a WARN filter reads and classifies the whole
    // log and keeps nothing: the cost of line filtering itself.
    let warn = Request::from_json(
        r#"{"hosts":[{"hostname":"h","processes":[{"type":"mongod","port":27017,"logPath":"mongod.log"}]}],"level":"WARN"}"#,
        dir.path(),
    )
    .unwrap();
    let engine = Engine::new(Options {
        threads: 1,
        format: Format::Tar,
        ..Options::default()
    })
    .unwrap();

    let mut group = c.benchmark_group("select");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("read_once", |b| {
        b.iter(|| {
            let mut f = File::open(&log).unwrap();
            let mut buf = vec![0u8; 256 * 1024];
            let mut n = 0u64;
            loop {
                match f.read(&mut buf).unwrap() {
                    0 => break,
                    k => n += k as u64,
                }
            }
            n
        })
    });
    group.bench_function("one_hour_window", |b| {
        b.iter(|| {
            let report = engine
                .collect(&hour, Output::Writer(&mut std::io::sink()), None)
                .unwrap();
            assert_eq!(
                report.manifest.child_jobs[0].files.len(),
                1,
                "the window selects the log"
            );
            report
        })
    });
    group.bench_function("level_filter_full_scan", |b| {
        b.iter(|| {
            let report = engine
                .collect(&warn, Output::Writer(&mut std::io::sink()), None)
                .unwrap();
            assert_eq!(
                report.manifest.child_jobs[0].skipped.len(),
                1,
                "nothing is WARN"
            );
            report
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
