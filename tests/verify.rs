//! `logpack verify`: exit 0 on a good archive, 1 on any damage.

mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::json;

/// A small deployment collected by the CLI in `fmt`; returns the tree and the archive.
fn collected(fmt: Fmt) -> (Tree, PathBuf) {
    let t = Tree::new();
    t.file("logs/mongod.log.2026-11-19T10-00-00", log_text(300_000, 1));
    t.file("logs/mongod.log", log_text(200_000, 2));
    t.file("agent/automation-agent.log", log_text(50_000, 3));
    let req = t.request(&json!({
        "hosts": [{
            "hostname": "h1",
            "agentLogDir": t.path("agent"),
            "processes": [{"type": "mongod", "replicaSet": "rs0", "port": 27017,
                           "logPath": t.path("logs/mongod.log")}]
        }]
    }));
    let out = t.path(&format!("a.{}", fmt.flag()));
    collect_ok(&req, &out, fmt);
    (t, out)
}

fn verify(path: &Path) -> Run {
    logpack(&["verify".as_ref(), path.as_os_str()])
}

fn assert_rejected(path: &Path, what: &str) -> Run {
    let run = verify(path);
    assert_eq!(
        run.code,
        1,
        "{what}: verify accepted it: {}",
        run.stdout_text()
    );
    assert!(!run.stderr.is_empty(), "{what}: no message");
    run
}

#[test]
fn good_archives_pass() {
    for fmt in [Fmt::Gz, Fmt::Zst, Fmt::Tar] {
        let (_t, out) = collected(fmt);
        let run = verify(&out);
        assert_eq!(run.code, 0, "{fmt:?}: {}", run.stderr);
        assert!(run.stdout_text().contains("OK"), "{}", run.stdout_text());
    }
}

#[test]
fn flipped_byte_in_a_tar_entry_body_names_the_entry() {
    let (_t, out) = collected(Fmt::Tar);
    let mut bytes = fs::read(&out).unwrap();
    // The largest entry other than the manifest, and where its body starts.
    let (name, start, size) = {
        let mut archive = tar::Archive::new(&bytes[..]);
        let mut best: Option<(String, u64, u64)> = None;
        for e in archive.entries().unwrap() {
            let e = e.unwrap();
            let name = String::from_utf8(e.path_bytes().into_owned()).unwrap();
            let size = e.header().size().unwrap();
            if name != "manifest.json" && best.as_ref().is_none_or(|b| size > b.2) {
                best = Some((name, e.raw_file_position(), size));
            }
        }
        best.unwrap()
    };
    let at = (start + size / 2) as usize;
    bytes[at] ^= 0x01;
    fs::write(&out, &bytes).unwrap();

    let run = assert_rejected(&out, "flipped body byte");
    assert!(
        run.stderr.contains(&name),
        "the message should name {name}: {}",
        run.stderr
    );
}

#[test]
fn flipped_byte_in_the_gzip_stream() {
    let (_t, out) = collected(Fmt::Gz);
    let mut bytes = fs::read(&out).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    fs::write(&out, &bytes).unwrap();
    assert_rejected(&out, "flipped gzip byte");
}

#[test]
fn flipped_byte_in_the_gzip_trailer() {
    let (_t, out) = collected(Fmt::Gz);
    let mut bytes = fs::read(&out).unwrap();
    let n = bytes.len();
    bytes[n - 6] ^= 0x01; // inside the CRC-32
    fs::write(&out, &bytes).unwrap();
    assert_rejected(&out, "flipped gzip CRC byte");
}

#[test]
fn truncated_gzip() {
    let (t, out) = collected(Fmt::Gz);
    let bytes = fs::read(&out).unwrap();
    for (label, keep) in [
        ("half", bytes.len() / 2),
        ("no trailer", bytes.len() - 8),
        ("one byte short", bytes.len() - 1),
    ] {
        let cut = t.path(&format!("cut-{}.tar.gz", keep));
        fs::write(&cut, &bytes[..keep]).unwrap();
        assert_rejected(&cut, label);
    }
}

#[test]
fn truncated_zstd() {
    let (t, out) = collected(Fmt::Zst);
    let bytes = fs::read(&out).unwrap();
    let cut = t.path("cut.tar.zst");
    fs::write(&cut, &bytes[..bytes.len() - 4]).unwrap();
    assert_rejected(&cut, "truncated zstd");
}

/// Rewrites `src` (any format) at `dst`, passing every entry through
/// `keep`, and appending `extra` entries before the manifest: a plain tar
/// (which has no fragment index), or a tar.gz without one when `dst` ends
/// in `.gz`.
fn rewrite(src: &Path, dst: &Path, keep: impl Fn(&Entry) -> bool, extra: &[(&str, &[u8])]) {
    let entries = read_entries(src);
    let (manifest, files) = entries.split_last().unwrap();
    assert_eq!(manifest.name, "manifest.json");
    let file = fs::File::create(dst).unwrap();
    let out: Box<dyn Write> = if dst.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::write::GzEncoder::new(
            file,
            flate2::Compression::default(),
        ))
    } else {
        Box::new(file)
    };
    let mut b = tar::Builder::new(out);
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, data).unwrap();
    };
    for e in files.iter().filter(|e| keep(e)) {
        add(&e.name, &e.data);
    }
    for (name, data) in extra {
        add(name, data);
    }
    add(&manifest.name, &manifest.data);
    b.into_inner().unwrap().flush().unwrap();
}

#[test]
fn rewritten_archive_is_still_good() {
    // The control for the two tests below: an unchanged rewrite passes.
    let (t, out) = collected(Fmt::Gz);
    let copy = t.path("copy.tar");
    rewrite(&out, &copy, |_| true, &[]);
    let run = verify(&copy);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn a_tar_gz_without_its_index_is_rejected() {
    let (t, out) = collected(Fmt::Gz);
    let copy = t.path("copy.tar.gz");
    rewrite(&out, &copy, |_| true, &[]);
    let run = verify(&copy);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("no fragment index"), "{}", run.stderr);
}

#[test]
fn manifest_lists_a_missing_file() {
    let (t, out) = collected(Fmt::Gz);
    let damaged = t.path("missing.tar");
    rewrite(&out, &damaged, |e| e.name != "h1/rs0/27017/mongod.log", &[]);
    assert_rejected(&damaged, "manifest lists a missing file");
}

#[test]
fn entry_not_in_the_manifest() {
    let (t, out) = collected(Fmt::Gz);
    let damaged = t.path("extra.tar");
    rewrite(
        &out,
        &damaged,
        |_| true,
        &[("h1/rs0/27017/intruder.log", b"x\n")],
    );
    assert_rejected(&damaged, "unlisted entry");
}

#[test]
fn missing_archive_is_an_error() {
    let t = Tree::new();
    let run = verify(&t.path("nope.tar.gz"));
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("nope.tar.gz"), "{}", run.stderr);
}
