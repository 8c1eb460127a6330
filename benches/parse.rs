//! Line classification throughput (`select::parse`): how fast the selection
//! engine can find entry starts, timestamps and levels in a log.
//!
//! Each input is about 64 MiB of generated lines held in memory; one iteration
//! splits it on '\n' with memchr and calls `LineParser::parse` on every line,
//! so the figure includes line splitting, as the engine would see it.
//!
//! Run: `cargo bench --bench parse`.

mod common;

use std::hint::black_box;
use std::time::Duration;

use common::Rng;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use logpack::select::parse::LineParser;

const TARGET: usize = 64 << 20;

/// Renders `millis` (from 2025-08-18T00:00:00Z) as date and time-of-day parts.
fn clock(millis: u64) -> (u64, u64, u64, u64, u64) {
    let day = 18 + millis / 86_400_000;
    let ms = millis % 86_400_000;
    (
        day,
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000,
    )
}

/// mongod 8.0 logv2 lines shaped like the Atlas corpus file: mostly short
/// network lines, some slow-query lines of a few KB, a few debug/warning lines.
fn logv2() -> Vec<u8> {
    let mut rng = Rng::new(0x5eed);
    let mut out = Vec::with_capacity(TARGET + (16 << 10));
    let mut t = 0u64;
    let filler = "x".repeat(4000);
    while out.len() < TARGET {
        t += rng.below(40);
        let (d, h, m, s, ms) = clock(t);
        let ts = format!("2025-08-{d:02}T{h:02}:{m:02}:{s:02}.{ms:03}+00:00");
        let conn = rng.below(5000);
        let line = match rng.below(100) {
            0..=59 => format!(
                r#"{{"t":{{"$date":"{ts}"}},"s":"I",  "c":"NETWORK",  "id":22943,   "svc":"S", "ctx":"listener","msg":"Connection accepted","attr":{{"remote":"192.168.248.5:{p}","isLoadBalanced":false,"uuid":{{"uuid":{{"$uuid":"6d2b0c3e-8f1a-4f55-9a7e-0c1d2e3f4a5b"}}}},"connectionId":{conn},"connectionCount":31}}}}"#,
                p = 40000 + rng.below(20000)
            ),
            60..=89 => format!(
                r#"{{"t":{{"$date":"{ts}"}},"s":"I",  "c":"NETWORK",  "id":22944,   "svc":"S", "ctx":"conn{conn}","msg":"Connection ended","attr":{{"remote":"192.168.248.5:51974","isLoadBalanced":false,"uuid":{{"uuid":{{"$uuid":"6d2b0c3e-8f1a-4f55-9a7e-0c1d2e3f4a5b"}}}},"connectionId":{conn},"connectionCount":30}}}}"#
            ),
            90..=95 => format!(
                r#"{{"t":{{"$date":"{ts}"}},"s":"I",  "c":"COMMAND",  "id":51803,   "svc":"S", "ctx":"conn{conn}","msg":"Slow query","attr":{{"type":"command","ns":"sample_mflix.movies","command":{{"find":"movies","filter":{{"plot":"{}"}}}},"durationMillis":{}}}}}"#,
                &filler[..rng.below(4000) as usize],
                rng.below(5000)
            ),
            96..=98 => format!(
                r#"{{"t":{{"$date":"{ts}"}},"s":"W",  "c":"QUERY",    "id":23799,   "svc":"S", "ctx":"ftdc","msg":"Aggregate command executor error","attr":{{"error":{{"code":26,"codeName":"NamespaceNotFound","errmsg":"Unable to retrieve storageStats in $collStats stage"}}}}}}"#
            ),
            _ => format!(
                r#"{{"t":{{"$date":"{ts}"}},"s":"D1", "c":"QRYSTATS", "id":7808300, "svc":"S", "ctx":"conn{conn}","msg":"Logging invocation $queryStats","attr":{{"commandSpec":{{}}}}}}"#
            ),
        };
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out
}

/// mongod 4.0/4.2 legacy text with `-0500` offsets, like keyhole's file.
fn legacy_iso() -> Vec<u8> {
    let mut rng = Rng::new(0xfeed);
    let mut out = Vec::with_capacity(TARGET + (16 << 10));
    let mut t = 0u64;
    while out.len() < TARGET {
        t += rng.below(40);
        let (d, h, m, s, ms) = clock(t);
        let ts = format!("2018-12-{d:02}T{h:02}:{m:02}:{s:02}.{ms:03}-0500");
        let conn = rng.below(5000);
        let line = match rng.below(10) {
            0..=4 => format!(
                "{ts} I NETWORK  [listener] connection accepted from 127.0.0.1:{p} #{conn} (31 connections now open)",
                p = 40000 + rng.below(20000)
            ),
            5..=7 => format!(
                "{ts} I NETWORK  [conn{conn}] end connection 127.0.0.1:51974 (30 connections now open)"
            ),
            8 => format!(
                "{ts} I COMMAND  [conn{conn}] command keyhole.cars command: find {{ find: \"cars\", filter: {{ color: \"Red\", year: {{ $gt: 2010 }} }}, $db: \"keyhole\" }} planSummary: COLLSCAN keysExamined:0 docsExamined:{} cursorExhausted:1 numYields:{} nreturned:{} reslen:{} locks:{{ Global: {{ acquireCount: {{ r: 2 }} }} }} protocol:op_msg {}ms",
                rng.below(100_000),
                rng.below(100),
                rng.below(100),
                rng.below(10_000),
                rng.below(1000)
            ),
            _ => format!("{ts} W  NETWORK  [ReplicaSetMonitor-TaskExecutor] Unable to reach primary for set rs0"),
        };
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out
}

/// A corpus fixture repeated up to about 64 MiB (None when the fixture is absent).
fn fixture(name: &str) -> Option<Vec<u8>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let one = std::fs::read(path).ok()?;
    let mut out = Vec::with_capacity(TARGET + one.len());
    while out.len() < TARGET {
        out.extend_from_slice(&one);
        if out.last() != Some(&b'\n') {
            out.push(b'\n');
        }
    }
    Some(out)
}

/// Classifies every line; returns (entries, sum of millis) so nothing is
/// optimised away.
fn classify(data: &[u8]) -> (usize, i64) {
    let mut parser = LineParser::new(2025);
    let (mut entries, mut sum) = (0usize, 0i64);
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', data) {
        if let Some(e) = parser.parse(&data[start..end]) {
            entries += 1;
            sum = sum.wrapping_add(e.millis.unwrap_or(0));
        }
        start = end + 1;
    }
    (entries, sum)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    let inputs = [
        ("logv2", Some(logv2())),
        ("legacy_iso", Some(legacy_iso())),
        // Real files: Atlas 8.0.12 logv2 and keyhole's 4.0.3 legacy text.
        (
            "atlas_8.0.12_fixture",
            fixture("mongo-log-parser/atlas-8.0.12.log"),
        ),
        ("keyhole_4.0.3_fixture", fixture("keyhole/mongod.log")),
    ];
    for (name, data) in inputs {
        let Some(data) = data else { continue };
        let lines = memchr::memchr_iter(b'\n', &data).count();
        assert_eq!(classify(&data).0, lines, "{name}: every line is an entry");
        group.throughput(Throughput::Bytes(data.len() as u64));
        group.bench_function(name, |b| b.iter(|| classify(black_box(&data))));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
