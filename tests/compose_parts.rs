//! Composing one archive as the parts of a multipart upload (PRODUCT.md
//! §12), with the store played by local files: large archives are copied
//! as ranges, small ones fetched and grouped, and the object the parts make
//! is read by the whole reader matrix and by `verify`.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use common::readers::check_reader_matrix;
use common::*;
use logpack::compose::parts::{compose_parts, Part, StoredArchive};
use logpack::compose::ChildSummary;
use logpack::manifest::{Manifest, Status};

/// One host with one mongod log of `bytes` bytes; returns its archive.
fn host_archive(t: &Tree, host: &str, bytes: usize, seed: u32) -> PathBuf {
    let log = t.file(&format!("{host}/mongod.log"), log_text(bytes, seed));
    let req = t.request_at(
        &format!("{host}.json"),
        &json!({"resourceType": "CLUSTER", "resourceName": "c", "hosts": [{"hostname": host, "processes": [
            {"type": "mongod", "replicaSet": "rs0", "port": 27017, "logPath": log}]}]}),
    );
    let out = t.path(&format!("{host}.tar.gz"));
    collect_ok_with(
        &req,
        &out,
        Fmt::Gz,
        &["--threads", "2", "--compression-level", "1"],
    );
    out
}

struct Composed {
    object: Vec<u8>,
    parts: Vec<(bool, u64)>,
    fetched: u64,
    copied: u64,
    manifest: Manifest<ChildSummary>,
}

fn compose(archives: &[PathBuf], missing: &[ChildSummary], min_part: u64) -> Composed {
    compose_stored(archives, stored_of(archives), missing, min_part).unwrap()
}

fn stored_of(archives: &[PathBuf]) -> Vec<StoredArchive> {
    archives
        .iter()
        .map(|p| StoredArchive::read(p).unwrap())
        .collect()
}

fn compose_stored(
    archives: &[PathBuf],
    stored: Vec<StoredArchive>,
    missing: &[ChildSummary],
    min_part: u64,
) -> logpack::Result<Composed> {
    let template: Manifest<ChildSummary> =
        serde_json::from_slice(&StoredArchive::read(&archives[0]).unwrap().manifest.unwrap())
            .unwrap();
    let files: Vec<fs::File> = archives
        .iter()
        .map(|p| fs::File::open(p).unwrap())
        .collect();
    // As S3 answers a range: cut at the object's end.
    let read = |i: usize, a: u64, b: u64| -> io::Result<Vec<u8>> {
        let len = files[i].metadata()?.len();
        let mut buf = vec![0u8; b.min(len).saturating_sub(a) as usize];
        files[i].read_exact_at(&mut buf, a)?;
        Ok(buf)
    };
    let mut fetched_by_callback = 0u64;
    let mut fetch = |i: usize, a: u64, b: u64| {
        fetched_by_callback += b - a;
        read(i, a, b)
    };
    let mut object = Vec::new();
    let mut parts = Vec::new();
    let mut emit = |p: Part| -> io::Result<()> {
        match p {
            Part::Copy { source, start, end } => {
                parts.push((true, end - start));
                object.extend(read(source, start, end)?);
            }
            Part::Bytes(b) => {
                parts.push((false, b.len() as u64));
                object.extend(b);
            }
        }
        Ok(())
    };
    let c = compose_parts(&stored, missing, &template, min_part, &mut fetch, &mut emit)?;
    assert_eq!(c.fetched, fetched_by_callback);
    Ok(Composed {
        object,
        parts,
        fetched: c.fetched,
        copied: c.copied,
        manifest: c.manifest,
    })
}

/// Every part but the last reaches the minimum.
fn check_part_sizes(parts: &[(bool, u64)], min_part: u64) {
    for (i, (_, len)) in parts.iter().enumerate() {
        if i + 1 < parts.len() {
            assert!(*len >= min_part, "part {i} is {len} bytes: {parts:?}");
        }
    }
}

/// The composed object is read by every reader, passes verify, and each
/// entry is its source's entry byte for byte.
fn check_object(t: &Tree, c: &Composed, sources: &[PathBuf], name: &str) -> Vec<Entry> {
    let path = t.path(name);
    fs::write(&path, &c.object).unwrap();
    let verify = logpack(&["verify".as_ref(), path.as_os_str()]);
    assert_eq!(verify.code, 0, "{}", verify.stderr);
    let entries = read_entries(&path);
    check_reader_matrix(
        &path,
        Fmt::Gz,
        &entries,
        &t.path(&format!("{name}.scratch")),
    );
    let mut want: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for s in sources {
        for e in read_entries(s) {
            if e.name != "manifest.json" {
                want.insert(e.name, e.data);
            }
        }
    }
    let got: BTreeMap<String, Vec<u8>> = entries
        .iter()
        .filter(|e| e.name != "manifest.json")
        .map(|e| (e.name.clone(), e.data.clone()))
        .collect();
    assert_eq!(got.len(), want.len());
    assert!(got == want, "an entry differs from its source");
    entries
}

#[test]
fn large_archives_are_copied_and_small_ones_grouped() {
    let t = Tree::new();
    const MIN: u64 = 256 << 10;
    // Two large hosts (over MIN compressed), five small ones.
    let mut archives = vec![
        host_archive(&t, "big1.example.net", 6 << 20, 1),
        host_archive(&t, "big2.example.net", 5 << 20, 2),
    ];
    for i in 0..5 {
        archives.push(host_archive(
            &t,
            &format!("small{i}.example.net"),
            300_000,
            10 + i,
        ));
    }
    let sizes: Vec<u64> = archives
        .iter()
        .map(|p| fs::metadata(p).unwrap().len())
        .collect();
    assert!(
        sizes[0] > MIN && sizes[1] > MIN && sizes[2..].iter().all(|s| *s < MIN),
        "{sizes:?}"
    );
    let missing = vec![ChildSummary {
        host_name: "gone.example.net:27017".into(),
        log_collection_type: "MONGODB".into(),
        path: "gone.example.net/rs0/27017".into(),
        status: Status::Failure,
        error_message: Some("the host did not report within 5 s".into()),
        start_date: "2026-12-06T00:00:00Z".into(),
        finish_date: "2026-12-06T00:00:00Z".into(),
        uncompressed_disk_space_bytes: 0,
    }];
    let c = compose(&archives, &missing, MIN);
    check_part_sizes(&c.parts, MIN);
    // The large hosts are copied, the first from byte 0 (its header).
    assert!(c.parts[0].0 && c.parts[1].0, "{:?}", c.parts);
    assert!(c.parts[2..].iter().all(|(copy, _)| !copy));
    assert_eq!(c.parts[0].1, sizes[0] - tail_of(&archives[0]));
    // Only the small hosts' fragments were fetched.
    let small_children: u64 = archives[2..].iter().map(|p| children_bytes(p)).sum();
    assert_eq!(c.fetched, small_children);
    assert_eq!(
        c.copied,
        children_bytes(&archives[0]) + 10 + children_bytes(&archives[1])
    );
    let entries = check_object(&t, &c, &archives, "composed.tar.gz");
    let manifest: Value = manifest_of(&entries);
    let children = manifest["childJobs"].as_array().unwrap();
    assert_eq!(children.len(), 8);
    assert_eq!(children[7]["path"], "gone.example.net/rs0/27017");
    assert_eq!(children[7]["status"], "FAILURE");
    assert_eq!(manifest["status"], "FAILURE");
    assert_eq!(c.manifest.status, Status::Failure);
}

#[test]
fn with_no_large_archive_the_first_part_is_made_here_with_the_header() {
    let t = Tree::new();
    let archives: Vec<PathBuf> = (0..4)
        .map(|i| host_archive(&t, &format!("h{i}.example.net"), 200_000, i))
        .collect();
    const MIN: u64 = 64 << 10;
    let c = compose(&archives, &[], MIN);
    check_part_sizes(&c.parts, MIN);
    assert!(c.parts.iter().all(|(copy, _)| !copy));
    assert_eq!(&c.object[..3], &[0x1f, 0x8b, 8]);
    let entries = check_object(&t, &c, &archives, "small.tar.gz");
    assert_eq!(manifest_of(&entries)["status"], "SUCCESS");
    // Under the minimum in total: one part, made here.
    let c = compose(&archives, &[], 1 << 30);
    assert_eq!(c.parts.len(), 1);
    check_object(&t, &c, &archives, "one.tar.gz");
}

#[test]
fn one_large_archive_among_tiny_ones_still_starts_with_the_header() {
    let t = Tree::new();
    const MIN: u64 = 256 << 10;
    let archives = vec![
        host_archive(&t, "tiny.example.net", 2_000, 1),
        host_archive(&t, "big.example.net", 6 << 20, 2),
    ];
    let c = compose(&archives, &[], MIN);
    check_part_sizes(&c.parts, MIN);
    assert_eq!(c.parts.len(), 2);
    assert!(
        c.parts[0].0,
        "the large one is copied first, header included"
    );
    check_object(&t, &c, &archives, "mixed.tar.gz");
}

/// Compressed bytes of an archive's children's fragments.
fn children_bytes(p: &Path) -> u64 {
    StoredArchive::read(p)
        .unwrap()
        .index
        .children
        .iter()
        .map(|f| f.length)
        .sum()
}

/// Bytes after an archive's children: final fragment, trailer, index.
fn tail_of(p: &Path) -> u64 {
    fs::metadata(p).unwrap().len() - 10 - children_bytes(p)
}

/// Without its manifest, a small archive is fetched in one range through
/// its gzip trailer: the manifest comes from its final fragment and the
/// trailer checks its index. A large one cannot come without it.
#[test]
fn small_archives_without_their_manifest_are_fetched_through_the_trailer() {
    let t = Tree::new();
    const MIN: u64 = 256 << 10;
    let archives = vec![
        host_archive(&t, "big.example.net", 6 << 20, 1),
        host_archive(&t, "small0.example.net", 300_000, 2),
        host_archive(&t, "small1.example.net", 100_000, 3),
    ];
    let without = |lie: &dyn Fn(&mut StoredArchive)| {
        let mut stored = stored_of(&archives);
        for a in &mut stored[1..] {
            a.manifest = None;
        }
        lie(&mut stored[2]);
        compose_stored(&archives, stored, &[], MIN)
    };
    let c = without(&|_| ()).unwrap();
    let tails: u64 = stored_of(&archives)[1..]
        .iter()
        .map(|a| a.index.last.length + 8)
        .sum();
    let small: u64 = archives[1..].iter().map(|p| children_bytes(p)).sum();
    assert_eq!(c.fetched, small + tails);
    let entries = check_object(&t, &c, &archives, "tails.tar.gz");
    let manifest = manifest_of(&entries);
    let paths: Vec<&str> = manifest["childJobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "big.example.net/rs0/27017",
            "small0.example.net/rs0/27017",
            "small1.example.net/rs0/27017"
        ]
    );
    // Every child's files, as each host's manifest lists them.
    assert!(manifest["childJobs"][2]["files"].as_array().unwrap().len() == 1);

    // An index that is not the archive's: a CRC-32, or a size.
    let crc = |a: &mut StoredArchive| {
        let c = a.index.children[0].crc32.as_mut().unwrap();
        *c ^= 1;
    };
    let size = |a: &mut StoredArchive| a.index.children[0].size += 512;
    for (what, lie) in [
        ("crc", &crc as &dyn Fn(&mut StoredArchive)),
        ("size", &size),
    ] {
        let e = without(lie)
            .err()
            .unwrap_or_else(|| panic!("{what}: composed"));
        let text = e.to_string();
        assert!(
            text.contains("small1.example.net.tar.gz") && text.contains("trailer"),
            "{what}: {text}"
        );
    }
    // A large archive without its manifest.
    let mut stored = stored_of(&archives);
    stored[0].manifest = None;
    let e = compose_stored(&archives, stored, &[], MIN).err().unwrap();
    assert!(e.to_string().contains("big.example.net.tar.gz"), "{e}");
}

/// What `from_tail` is given comes from a store: every changed byte of a
/// tail (final fragment or trailer), every cut and every extra byte is
/// refused, never taken for a manifest, never a panic.
#[test]
fn hostile_tails_are_refused() {
    let t = Tree::new();
    let path = host_archive(&t, "tail.example.net", 50_000, 7);
    let stored = StoredArchive::read(&path).unwrap();
    let (a, b) = StoredArchive::tail_range(&stored.index);
    let bytes = fs::read(&path).unwrap();
    let tail = &bytes[a as usize..b as usize];
    let name = || "s3://b/tail.tar.gz".to_string();
    let good = StoredArchive::from_tail(name(), stored.index.clone(), tail).unwrap();
    assert_eq!(good.manifest, stored.manifest);
    for i in 0..tail.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bad = tail.to_vec();
            bad[i] ^= flip;
            if let Ok(a) = StoredArchive::from_tail(name(), stored.index.clone(), &bad) {
                // Another encoding of the same bytes is the same manifest.
                assert_eq!(a.manifest, stored.manifest, "byte {i} ^ {flip:#x} accepted");
            }
        }
    }
    for cut in 0..tail.len() {
        assert!(StoredArchive::from_tail(name(), stored.index.clone(), &tail[..cut]).is_err());
    }
    let mut longer = tail.to_vec();
    longer.push(0);
    assert!(StoredArchive::from_tail(name(), stored.index.clone(), &longer).is_err());
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for len in [0usize, 1, 8, 9, 100, tail.len(), 4096] {
        let garbage: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        assert!(StoredArchive::from_tail(name(), stored.index.clone(), &garbage).is_err());
    }
    // An index that claims a huge final fragment is refused before any
    // inflating.
    let mut index = stored.index.clone();
    index.last.size = 1 << 40;
    assert!(StoredArchive::from_tail(name(), index, tail).is_err());
}

/// An index from a store is hostile until checked: offsets and lengths at
/// the ends of u64 are an error, never an overflow. (With its manifest
/// given, an archive's final fragment is not used: a lie about its length
/// or size changes nothing composed.)
#[test]
fn indexes_with_extreme_offsets_are_refused_without_overflow() {
    let t = Tree::new();
    let archives = vec![host_archive(&t, "edge.example.net", 20_000, 9)];
    type Lie = fn(&mut StoredArchive);
    let cases: [(&str, Lie); 4] = [
        ("child length", |a| a.index.children[0].length = u64::MAX),
        ("final offset", |a| a.index.last.offset = u64::MAX - 3),
        ("final length", |a| a.index.last.length = u64::MAX),
        ("final size", |a| a.index.last.size = u64::MAX),
    ];
    for (what, lie) in cases {
        for given in [true, false] {
            let mut stored = stored_of(&archives);
            if !given {
                stored[0].manifest = None;
            }
            lie(&mut stored[0]);
            let (a, b) = StoredArchive::tail_range(&stored[0].index);
            assert!(a <= b, "{what}: tail range {a}..{b}");
            let tail = vec![0u8; 64];
            assert!(
                StoredArchive::from_tail("x".into(), stored[0].index.clone(), &tail).is_err(),
                "{what}"
            );
            let used = !given || what.starts_with("child") || what == "final offset";
            for min in [1u64, 1 << 40] {
                let r = compose_stored(&archives, stored.clone(), &[], min);
                assert!(
                    r.is_err() || !used,
                    "{what} (manifest given: {given}, min {min})"
                );
            }
        }
    }
}
