//! Block deflate throughput: the hot loop of the parallel gzip writer
//! (`src/pgzip.rs`), one core.
//!
//! Each iteration deflates one 1 MiB block of real log text with a new
//! `flate2::Compress` (zlib-rs backend) at level 6, raw deflate, ended with a
//! sync flush, exactly as a pgzip job does. Variants:
//! - `dict32k`: primed with the previous 32 KiB (what pgzip does);
//! - `no_dict`: not primed (the cost of the dictionary).
//!
//! Throughput is input bytes, so criterion prints MB/s of log text.
//!
//! Run: `cargo bench --bench deflate`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use flate2::{Compress, Compression, FlushCompress};

const BLOCK: usize = 1 << 20;
const BLOCKS: usize = 8;
const WINDOW: usize = 32 << 10;

/// Real mongod logs, the fixtures of the selection tests (logv2 JSON and
/// legacy text), repeated to `n` bytes.
fn log_text(n: usize) -> Vec<u8> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut one = Vec::new();
    for f in [
        "hatchet/rs2.log",
        "mongo-log-parser/atlas-8.0.12.log",
        "keyhole/mongod.log",
    ] {
        one.extend(std::fs::read(dir.join(f)).expect("fixture logs"));
    }
    one.iter().copied().cycle().take(n).collect()
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

    for (name, use_dict) in [("dict32k", true), ("no_dict", false)] {
        let mut out = Vec::new();
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                let (dict, input) = blocks[i % BLOCKS];
                i += 1;
                let mut c = Compress::new(Compression::new(6), false);
                let dict = if use_dict { dict } else { &[][..] };
                black_box(deflate_block(&mut c, dict, black_box(input), &mut out))
            })
        });
    }
    g.finish();

    let mut out = Vec::new();
    let (mut raw, mut packed) = (0usize, 0usize);
    for (dict, input) in &blocks {
        let mut c = Compress::new(Compression::new(6), false);
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
