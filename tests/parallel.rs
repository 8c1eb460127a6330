//! The parallel gzip path against the single-threaded one: one valid gzip
//! member (gzip -t), every outside reader agreeing, and the same tar bytes
//! whatever the thread count.

mod common;

use std::io::Write;

use common::*;

/// Like a real FTDC file: short uncompressed records (the BSON around each
/// chunk) between zlib payloads that cannot be compressed further, so that
/// the gzip writer stores the payloads and deflates the rest.
fn ftdc_like(records: usize, seed: u32) -> Vec<u8> {
    let mut out = Vec::new();
    for r in 0..records {
        out.extend_from_slice(&log_text(700, seed + r as u32));
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
        z.write_all(&log_text(200 << 10, seed + 1000 + r as u32))
            .unwrap();
        out.extend_from_slice(&z.finish().unwrap());
    }
    out
}

/// A rotated log as logrotate leaves it: gzip at its default level.
fn gzipped(text: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    gz.write_all(text).unwrap();
    gz.finish().unwrap()
}

/// The tar stream up to the manifest header, whose dates and id differ per run.
fn tar_before_manifest(archive: &std::path::Path) -> Vec<u8> {
    let tar = decompress(&std::fs::read(archive).unwrap());
    let mut a = tar::Archive::new(&tar[..]);
    let mut end = None;
    for e in a.entries().unwrap() {
        let e = e.unwrap();
        if e.path().unwrap().to_str() == Some("manifest.json") {
            end = Some(e.raw_header_position() as usize);
        }
    }
    tar[..end.expect("a manifest entry")].to_vec()
}

#[test]
fn thread_counts_give_the_same_archive_content() {
    let t = Tree::new();
    // Many small files (batched reads) and a few large ones (many gzip blocks).
    for i in 0..300 {
        t.file(
            &format!(
                "db/diagnostic.data/metrics.2026-11-20T10-{:02}-{:02}Z-00000",
                i / 60,
                i % 60
            ),
            log_text(1000 + i * 37, i as u32),
        );
    }
    // A large FTDC file and a large rotated .gz: their compressed stretches
    // are stored, in blocks that also deflate the structure around them.
    let ftdc = t.file(
        "db/diagnostic.data/metrics.2026-11-21T00-00-00Z-00000",
        ftdc_like(40, 5),
    );
    let rotated_gz = t.file(
        "logs/mongod.log.2026-11-18T10-00-00.gz",
        gzipped(&log_text(8 << 20, 6)),
    );
    t.file("logs/mongod.log.2026-11-19T10-00-00", log_text(3 << 20, 7));
    t.file("logs/mongod.log", log_text((5 << 20) + 513, 8));
    let req = t.request(&serde_json::json!({"hosts": [{"hostname": "h", "processes": [
        {"type": "mongod", "port": 27017, "logPath": t.path("logs/mongod.log"), "dbPath": t.path("db")}]}]}));
    let mut prefixes = Vec::new();
    for threads in ["1", "2", "4"] {
        let out = t.path(&format!("t{threads}.tar.gz"));
        let run = logpack(&[
            "collect".as_ref(),
            req.as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
            "--threads".as_ref(),
            threads.as_ref(),
            "--quiet".as_ref(),
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let entries = read_entries(&out);
        check_manifest_matches(&entries, &manifest_of(&entries));
        check_outside_readers(&out, Fmt::Gz, &entries, &t.path(&format!("x{threads}")));
        for (name, source) in [
            (
                "h/standalone/27017/diagnostic.data/metrics.2026-11-21T00-00-00Z-00000",
                &ftdc,
            ),
            (
                "h/standalone/27017/mongod.log.2026-11-18T10-00-00.gz",
                &rotated_gz,
            ),
        ] {
            assert!(
                entry(&entries, name).data == std::fs::read(source).unwrap(),
                "{threads} threads: {name} differs from its source"
            );
        }
        prefixes.push(tar_before_manifest(&out));
    }
    assert!(prefixes[0].len() > 8 << 20);
    assert!(prefixes[0] == prefixes[1], "1 and 2 threads differ");
    assert!(prefixes[0] == prefixes[2], "1 and 4 threads differ");
}
