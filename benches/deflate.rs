//! Block deflate throughput: the hot loop of the parallel gzip writer
//! (`src/pgzip/`), one core.
//!
//! Each iteration deflates one 1 MiB block with `logpack::pgzip::deflate_block`,
//! exactly as a pgzip job does (a fresh stream, raw deflate primed with the
//! previous 32 KiB, ended with a sync flush). Variants:
//! - `logs_tuned6`: real log text at the default level 6 (zlib's lazy
//!   matcher, chain 20; see `src/pgzip/deflate.rs`);
//! - `logs_flate2_6`: the same blocks through flate2's own level 6 (zlib-rs's
//!   "medium" matcher), the reference the tuning is measured against;
//! - `ftdc_like`: 10 KiB records of a little text and a zlib payload, all
//!   marked as possibly compressed, so the entropy check stores the payloads.
//!
//! Throughput is input bytes, so criterion prints MB/s. Each iteration also
//! copies the block (1 MiB, about 2% of the time), since a job owns its input.
//!
//! Run: `cargo bench --bench deflate`.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use flate2::{Compress, Compression, FlushCompress};
use logpack::pgzip::deflate_block;

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

/// Records like small FTDC files in a tar: 1 KiB of text, then 9 KiB of a
/// zlib stream (log text compressed at level 6, so it is incompressible).
fn ftdc_like(n: usize) -> Vec<u8> {
    let text = log_text(n);
    let mut rng = common::Rng::new(7);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let at = rng.below((text.len() - (64 << 10)) as u64) as usize;
        out.extend_from_slice(&text[at..at + 1024]);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), Compression::new(6));
        std::io::Write::write_all(&mut z, &text[at..at + (64 << 10)]).unwrap();
        let payload = z.finish().unwrap();
        out.extend_from_slice(&payload[..payload.len().min(9 << 10)]);
    }
    out.truncate(n);
    out
}

/// flate2's level 6 on the same block: new stream, dictionary, sync flush.
fn flate2_block(dictionary: &[u8], input: &[u8], out: &mut Vec<u8>) -> usize {
    let mut c = Compress::new(Compression::new(6), false);
    c.set_dictionary(dictionary).unwrap();
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

/// `(dictionary, block)` pairs over `data`.
fn blocks(data: &[u8]) -> Vec<(&[u8], &[u8])> {
    (0..BLOCKS)
        .map(|i| {
            let start = i * BLOCK;
            (
                &data[start.saturating_sub(WINDOW)..start],
                &data[start..start + BLOCK],
            )
        })
        .collect()
}

fn bench(cr: &mut Criterion) {
    let logs = log_text(BLOCK * BLOCKS);
    let ftdc = ftdc_like(BLOCK * BLOCKS);
    let (logs, ftdc) = (blocks(&logs), blocks(&ftdc));

    let mut g = cr.benchmark_group("deflate_1MiB");
    g.throughput(Throughput::Bytes(BLOCK as u64));
    g.sample_size(30);
    g.measurement_time(Duration::from_secs(10));
    let mut i = 0;
    g.bench_function("logs_tuned6", |b| {
        b.iter(|| {
            let (dict, input) = logs[i % BLOCKS];
            i += 1;
            black_box(deflate_block(6, dict, black_box(input).to_vec(), &[]).unwrap())
        })
    });
    let mut out = Vec::new();
    g.bench_function("logs_flate2_6", |b| {
        b.iter(|| {
            let (dict, input) = logs[i % BLOCKS];
            i += 1;
            black_box(flate2_block(dict, black_box(input), &mut out))
        })
    });
    g.bench_function("ftdc_like", |b| {
        b.iter(|| {
            let (dict, input) = ftdc[i % BLOCKS];
            i += 1;
            let all = 0..input.len();
            black_box(
                deflate_block(
                    6,
                    dict,
                    black_box(input).to_vec(),
                    std::slice::from_ref(&all),
                )
                .unwrap(),
            )
        })
    });
    g.finish();

    let (mut raw, mut tuned, mut flate2) = (0usize, 0usize, 0usize);
    for (dict, input) in &logs {
        raw += input.len();
        tuned += deflate_block(6, dict, input.to_vec(), &[]).unwrap().len();
        flate2 += flate2_block(dict, input, &mut out);
    }
    println!(
        "log text, 1 MiB blocks with 32 KiB dictionaries: tuned level 6 {:.3}x, flate2 level 6 {:.3}x",
        raw as f64 / tuned as f64,
        raw as f64 / flate2 as f64
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
