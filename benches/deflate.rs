//! Block deflate throughput: the hot loop of the parallel gzip writer
//! (`src/pgzip.rs`), one core.
//!
//! Each iteration deflates one 1 MiB block of generated log text with
//! `flate2::Compress` (zlib-rs backend) at level 6, raw deflate, ended with a
//! sync flush, exactly as a pgzip job does. Variants:
//! - `no_dict/reset`: one compressor reused with `reset()`, no dictionary;
//! - `dict32k/reset`: reused with `reset()`, primed with the previous 32 KiB
//!   (what pgzip does);
//! - `dict32k/new`: a new compressor per block (the cost of not reusing one).
//!
//! Throughput is input bytes, so criterion prints MB/s of log text.
//!
//! Run: `cargo bench --bench deflate`.

mod common;

use std::hint::black_box;
use std::time::Duration;

use common::Rng;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use flate2::{Compress, Compression, FlushCompress};

const BLOCK: usize = 1 << 20;
const BLOCKS: usize = 8;
const WINDOW: usize = 32 << 10;

/// mongod-like logs: logv2 JSON and legacy text lines.
fn log_text(n: usize) -> Vec<u8> {
    let mut rng = Rng::new(0x5eed);
    let mut out = Vec::with_capacity(n + 4096);
    let mut t = 0u64;
    while out.len() < n {
        t += rng.below(40);
        let (h, m, s, ms) = (t / 3_600_000 % 24, t / 60_000 % 60, t / 1000 % 60, t % 1000);
        let conn = rng.below(5000);
        let line = match rng.below(10) {
            0..=5 => format!(
                r#"{{"t":{{"$date":"2025-08-18T{h:02}:{m:02}:{s:02}.{ms:03}+00:00"}},"s":"I",  "c":"NETWORK",  "id":22943,   "ctx":"listener","msg":"Connection accepted","attr":{{"remote":"192.168.{}.{}:{}","connectionId":{conn},"connectionCount":{}}}}}"#,
                rng.below(256),
                rng.below(256),
                40000 + rng.below(20000),
                rng.below(100)
            ),
            6..=7 => format!(
                r#"{{"t":{{"$date":"2025-08-18T{h:02}:{m:02}:{s:02}.{ms:03}+00:00"}},"s":"I",  "c":"COMMAND",  "id":51803,   "ctx":"conn{conn}","msg":"Slow query","attr":{{"ns":"app.orders","command":{{"find":"orders","filter":{{"customer":{}}}}},"docsExamined":{},"durationMillis":{}}}}}"#,
                rng.below(1_000_000),
                rng.below(100_000),
                rng.below(5000)
            ),
            _ => format!(
                "2018-12-10T{h:02}:{m:02}:{s:02}.{ms:03}-0500 I NETWORK  [conn{conn}] end connection 10.0.{}.{}:{} ({} connections now open)",
                rng.below(256),
                rng.below(256),
                rng.below(65536),
                rng.below(100)
            ),
        };
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out.truncate(n);
    out
}

/// Deflates `input` into `out` (cleared first) and ends it with a sync
/// flush, as a pgzip job does. Returns the compressed size.
fn deflate_block(c: &mut Compress, dictionary: &[u8], input: &[u8], out: &mut Vec<u8>) -> usize {
    if !dictionary.is_empty() {
        c.set_dictionary(dictionary).unwrap();
    }
    out.clear();
    out.reserve(input.len() + (input.len() >> 11) + 64);
    let mut pos = 0;
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.len() / 8 + 64);
        }
        let before = c.total_in();
        c.compress_vec(&input[pos..], out, FlushCompress::Sync)
            .unwrap();
        pos += (c.total_in() - before) as usize;
        if pos == input.len() && out.len() < out.capacity() {
            return out.len();
        }
    }
}

fn bench(cr: &mut Criterion) {
    let data = log_text(BLOCK * BLOCKS);
    let blocks: Vec<(&[u8], &[u8])> = (0..BLOCKS)
        .map(|i| {
            let start = i * BLOCK;
            let dict = &data[start.saturating_sub(WINDOW)..start];
            (dict, &data[start..start + BLOCK])
        })
        .collect();

    let mut g = cr.benchmark_group("deflate_1MiB_level6");
    g.throughput(Throughput::Bytes(BLOCK as u64));
    g.sample_size(30);
    g.measurement_time(Duration::from_secs(10));

    for (name, use_dict, reuse) in [
        ("no_dict/reset", false, true),
        ("dict32k/reset", true, true),
        ("dict32k/new", true, false),
    ] {
        let mut c = Compress::new(Compression::new(6), false);
        let mut out = Vec::new();
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                let (dict, input) = blocks[i % BLOCKS];
                i += 1;
                if reuse {
                    c.reset();
                } else {
                    c = Compress::new(Compression::new(6), false);
                }
                let dict = if use_dict { dict } else { &[][..] };
                black_box(deflate_block(&mut c, dict, black_box(input), &mut out))
            })
        });
    }
    g.finish();

    let mut c = Compress::new(Compression::new(6), false);
    let mut out = Vec::new();
    let (mut raw, mut packed) = (0usize, 0usize);
    for (dict, input) in &blocks {
        c.reset();
        raw += input.len();
        packed += deflate_block(&mut c, dict, input, &mut out);
    }
    println!(
        "ratio with 32 KiB dictionaries: {:.2}x ({raw} -> {packed} bytes)",
        raw as f64 / packed as f64
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
