//! The reader matrix (tests/common/readers.rs) on the sample deployment:
//! every archive the CLI writes must be read completely, with nothing on
//! stderr, by GNU tar, bsdtar, Python's tarfile, Go, gzip/zstd and the
//! Rust decoders, each seeing exactly the entries the project's own reader
//! sees, in order, with manifest.json last.
//!
//! The last two tests append what a trailing index would add (an empty
//! gzip member carrying it in FEXTRA; a zstd skippable frame) and require
//! the same of every reader.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::readers::{check_reader_matrix, expected_members};
use common::*;

/// Collects the sample deployment into `dir/NAME` as `fmt` with `extra`
/// flags; returns the archive and its entries as the project's own reader
/// sees them, checked against the manifest.
fn collect_sample(dir: &Path, name: &str, fmt: Fmt, extra: &[&str]) -> (PathBuf, Vec<Entry>) {
    let archive = dir.join(name);
    collect_ok_with(&sample_dir().join("request.json"), &archive, fmt, extra);
    let entries = read_entries(&archive);
    let manifest = manifest_of(&entries);
    check_manifest_matches(&entries, &manifest);
    assert!(
        entries.len() > 10,
        "the sample has {} entries",
        entries.len()
    );
    (archive, entries)
}

fn matrix(fmt: Fmt, extra: &[&str]) {
    let tmp = Tree::new();
    let name = format!("sample.{}", fmt.flag());
    let (archive, entries) = collect_sample(&tmp.root(), &name, fmt, extra);
    check_reader_matrix(&archive, fmt, &entries, &tmp.path("scratch"));
}

#[test]
fn sample_tar_gz_one_thread() {
    matrix(Fmt::Gz, &["--threads", "1"]);
}

#[test]
fn sample_tar_gz_two_threads() {
    matrix(Fmt::Gz, &["--threads", "2"]);
}

#[test]
fn sample_tar_gz_default_threads() {
    matrix(Fmt::Gz, &[]);
}

#[test]
fn sample_tar_zst() {
    matrix(Fmt::Zst, &[]);
}

#[test]
fn sample_tar_zst_two_threads() {
    matrix(Fmt::Zst, &["--threads", "2"]);
}

/// An empty gzip member whose header carries `payload` in an FEXTRA
/// subfield `LP`: `1f 8b 08 04`, MTIME 0, XFL 0, OS 255, XLEN, the
/// subfield, an empty final fixed-Huffman block (`03 00`), then CRC-32 0
/// and ISIZE 0.
fn empty_gzip_member_with_extra(payload: &[u8]) -> Vec<u8> {
    let sub_len = u16::try_from(payload.len()).unwrap();
    let xlen = u16::try_from(payload.len() + 4).unwrap();
    let mut m = vec![0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0x00, 0xff];
    m.extend_from_slice(&xlen.to_le_bytes());
    m.extend_from_slice(b"LP");
    m.extend_from_slice(&sub_len.to_le_bytes());
    m.extend_from_slice(payload);
    m.extend_from_slice(&[0x03, 0x00]);
    m.extend_from_slice(&[0; 8]);
    m
}

/// A zstd skippable frame: magic 0x184D2A5E, its length, `payload`.
fn zstd_skippable_frame(payload: &[u8]) -> Vec<u8> {
    let mut f = 0x184D_2A5E_u32.to_le_bytes().to_vec();
    f.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_le_bytes());
    f.extend_from_slice(payload);
    f
}

/// An index-like payload: binary, every byte value, gzip and zstd magics
/// included.
fn index_payload(len: usize) -> Vec<u8> {
    let mut p: Vec<u8> = (0..len).map(|i| (i * 131 + 7) as u8).collect();
    p[..4].copy_from_slice(&[0x1f, 0x8b, 0x28, 0xb5]);
    p
}

/// Appends `trailer` to a collected archive of the sample and runs the
/// matrix on the result, whose entries must be the original's.
fn matrix_with_trailer(fmt: Fmt, trailer: &[u8]) {
    let tmp = Tree::new();
    let name = format!("sample.{}", fmt.flag());
    let (archive, entries) = collect_sample(&tmp.root(), &name, fmt, &[]);
    let mut bytes = fs::read(&archive).unwrap();
    bytes.extend_from_slice(trailer);
    let with = tmp.path(&format!("with-trailer.{}", fmt.flag()));
    fs::write(&with, &bytes).unwrap();
    assert_eq!(
        expected_members(&read_entries(&with)),
        expected_members(&entries),
        "the project's own reader sees other entries once the trailer is added"
    );
    check_reader_matrix(&with, fmt, &entries, &tmp.path("scratch"));
}

#[test]
fn tar_gz_with_a_trailing_empty_member_carrying_fextra() {
    let member = empty_gzip_member_with_extra(&index_payload(996));
    assert_eq!(member.len(), 10 + 2 + 1000 + 2 + 8);
    // The member is a valid, empty gzip stream on its own.
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&member[..]), &mut out)
        .expect("the trailing member decodes");
    assert!(out.is_empty());
    matrix_with_trailer(Fmt::Gz, &member);
}

#[test]
fn tar_zst_with_a_trailing_skippable_frame() {
    matrix_with_trailer(Fmt::Zst, &zstd_skippable_frame(&index_payload(1000)));
}

/// A reader of the matrix, and words its error must hold.
type Catch = (&'static str, &'static str);

/// The matrix is not blind: each known fault is caught by the readers
/// meant to catch it (those that are installed), with their own words.
#[test]
fn the_matrix_catches_known_faults() {
    let tmp = Tree::new();
    let (archive, _) = collect_sample(&tmp.root(), "sample.tar.gz", Fmt::Gz, &[]);
    let gz = fs::read(&archive).unwrap();
    let tar_bytes = decompress(&gz);
    let gzip = |data: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut e, data).unwrap();
        e.finish().unwrap()
    };
    // The tar stream ends with its last body's padding, then zero blocks.
    let body_end = tar_bytes.len() - tar_bytes.iter().rev().take_while(|&&b| b == 0).count();
    let body_end = body_end.div_ceil(512) * 512;
    let split = tar_bytes.len() / 2 / 512 * 512;

    let cases: [(&str, Vec<u8>, &[Catch]); 3] = [
        (
            "bytes that are not gzip after the member",
            [gz.clone(), b"LOGPACK-INDEX".to_vec()].concat(),
            &[
                ("gzip -t", "trailing garbage ignored"),
                ("GNU tar -tzvf/-xzf", "trailing garbage ignored"),
                ("zcat | GNU tar -tvf -/-xf -", "trailing garbage ignored"),
                ("python3 tarfile r:gz", "Not a gzipped file"),
                ("go archive/tar + compress/gzip", "gzip: invalid header"),
            ],
        ),
        (
            "the tar stream split over two gzip members",
            [gzip(&tar_bytes[..split]), gzip(&tar_bytes[split..])].concat(),
            &[
                ("python3 tarfile r|gz", "unexpected end of data"),
                (
                    "rust flate2 GzDecoder (first member only) + tar crate",
                    "body length differs",
                ),
            ],
        ),
        (
            "one zero block at the end instead of two",
            gzip(&tar_bytes[..body_end + 512]),
            &[
                ("GNU tar -tzvf/-xzf", "A lone zero block"),
                ("zcat | GNU tar -tvf -/-xf -", "A lone zero block"),
            ],
        ),
    ];
    for (fault, bytes, caught_by) in cases {
        let path = tmp.path("faulty.tar.gz");
        fs::write(&path, &bytes).unwrap();
        let results = common::readers::run_reader_matrix(&path, Fmt::Gz, &tmp.path("scratch"));
        for (reader, words) in caught_by {
            let Some(r) = results.iter().find(|r| r.reader == *reader) else {
                continue; // not installed (outside CI)
            };
            match &r.outcome {
                Err(e) => assert!(e.contains(words), "{fault}: [{reader}] {e}"),
                Ok(_) => panic!("{fault}: [{reader}] did not notice"),
            }
        }
    }
}
