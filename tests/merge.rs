//! `logpack merge` and the fragment index (PRODUCT.md §8): archives
//! collected separately per host merge into one archive whose entries are
//! the sources' bytes and whose manifest is the union; the whole reader
//! matrix reads it; a damaged or lying index fails `verify` and is refused
//! by `merge` with exit 2 and nothing left at the output.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use common::readers::check_reader_matrix;
use common::*;

/// The sample request split into one request per host, with absolute paths.
fn host_requests(t: &Tree) -> Vec<PathBuf> {
    let sample: Value =
        serde_json::from_slice(&fs::read(sample_dir().join("request.json")).unwrap()).unwrap();
    let base = sample_dir();
    let absolute = |v: &Value| Value::from(base.join(v.as_str().unwrap()).to_str().unwrap());
    sample["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let mut h = h.clone();
            for key in ["agentLogDir", "omLogDir"] {
                if let Some(v) = h.get(key).cloned() {
                    h[key] = absolute(&v);
                }
            }
            if let Some(ps) = h.get_mut("processes").and_then(Value::as_array_mut) {
                for p in ps {
                    for key in ["logPath", "dbPath"] {
                        if let Some(v) = p.get(key).cloned() {
                            p[key] = absolute(&v);
                        }
                    }
                }
            }
            let mut req = sample.clone();
            req["hosts"] = json!([h]);
            t.request_at(&format!("host{i}.json"), &req)
        })
        .collect()
}

/// Collects each host on its own; returns the archives.
fn per_host_archives(t: &Tree, fmt: Fmt) -> Vec<PathBuf> {
    host_requests(t)
        .iter()
        .enumerate()
        .map(|(i, req)| {
            let out = t.path(&format!("host{i}.{}", fmt.flag()));
            collect_ok_with(req, &out, fmt, &["--threads", "2"]);
            out
        })
        .collect()
}

fn merge_args<'a>(
    inputs: &'a [PathBuf],
    out: &'a Path,
    extra: &[&'a str],
) -> Vec<&'a std::ffi::OsStr> {
    let mut args: Vec<&std::ffi::OsStr> = vec!["merge".as_ref()];
    args.extend(inputs.iter().map(|p| p.as_os_str()));
    args.extend(["-o".as_ref(), out.as_os_str()]);
    args.extend(extra.iter().map(|s| std::ffi::OsStr::new(*s)));
    args
}

fn merged_three_hosts(fmt: Fmt) {
    let t = Tree::new();
    let inputs = per_host_archives(&t, fmt);
    let out = t.path(&format!("merged.{}", fmt.flag()));
    let run = logpack(&merge_args(&inputs, &out, &["--quiet", "--json"]));
    assert_eq!(run.code, 0, "merge failed: {}", run.stderr);
    assert_eq!(
        fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let merged = read_entries(&out);
    let manifest = manifest_of(&merged);
    check_manifest_matches(&merged, &manifest);
    // --json prints the manifest that is in the archive.
    let printed: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(printed, manifest);

    // The entries are the inputs' entries, in input order, byte for byte.
    let mut want_entries = Vec::new();
    let mut want_children = Vec::new();
    let mut total = 0;
    for input in &inputs {
        let entries = read_entries(input);
        let m = manifest_of(&entries);
        total += m["uncompressedSizeTotalBytes"].as_u64().unwrap();
        want_children.extend(m["childJobs"].as_array().unwrap().iter().cloned());
        want_entries.extend(entries.into_iter().filter(|e| e.name != "manifest.json"));
        assert_ne!(m["id"], manifest["id"], "the merged archive has a new id");
    }
    let got: Vec<(&str, &[u8])> = merged[..merged.len() - 1]
        .iter()
        .map(|e| (e.name.as_str(), &e.data[..]))
        .collect();
    let want: Vec<(&str, &[u8])> = want_entries
        .iter()
        .map(|e| (e.name.as_str(), &e.data[..]))
        .collect();
    assert_eq!(got, want);
    // The union of the children, each exactly as its input recorded it.
    assert_eq!(manifest["childJobs"], Value::Array(want_children));
    assert_eq!(manifest["uncompressedSizeTotalBytes"], total);
    assert_eq!(manifest["status"], "SUCCESS");
    assert_eq!(manifest["resourceName"], "sampleCluster");

    // Same files as one collection of the whole sample.
    let whole = t.path(&format!("whole.{}", fmt.flag()));
    collect_ok(&sample_dir().join("request.json"), &whole, fmt);
    let mut whole: Vec<(String, Vec<u8>)> = read_entries(&whole)
        .into_iter()
        .filter(|e| e.name != "manifest.json")
        .map(|e| (e.name, e.data))
        .collect();
    let mut ours: Vec<(String, Vec<u8>)> =
        want_entries.into_iter().map(|e| (e.name, e.data)).collect();
    whole.sort();
    ours.sort();
    assert_eq!(ours, whole);

    let verify = logpack(&["verify".as_ref(), out.as_os_str()]);
    assert_eq!(verify.code, 0, "{}", verify.stderr);
    check_reader_matrix(&out, fmt, &merged, &t.path("scratch"));

    // A merged archive merges again.
    let again = t.path(&format!("again.{}", fmt.flag()));
    let inputs2 = vec![out.clone()];
    let run = logpack(&merge_args(&inputs2, &again, &["--quiet"]));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let again_entries = read_entries(&again);
    assert_eq!(again_entries.len(), merged.len());
    assert_eq!(logpack(&["verify".as_ref(), again.as_os_str()]).code, 0);
}

#[test]
fn three_hosts_merge_into_one_tar_gz() {
    merged_three_hosts(Fmt::Gz);
}

#[test]
fn three_hosts_merge_into_one_tar_zst() {
    merged_three_hosts(Fmt::Zst);
}

#[test]
fn collected_archives_pass_the_reader_matrix_and_verify_their_index() {
    let t = Tree::new();
    for fmt in [Fmt::Gz, Fmt::Zst] {
        for threads in ["1", "2"] {
            let out = t.path(&format!("c{threads}.{}", fmt.flag()));
            collect_ok_with(
                &sample_dir().join("request.json"),
                &out,
                fmt,
                &["--threads", threads],
            );
            let entries = read_entries(&out);
            check_reader_matrix(&out, fmt, &entries, &t.path("scratch"));
            let run = logpack(&["verify".as_ref(), out.as_os_str()]);
            assert_eq!(run.code, 0, "{}", run.stderr);
        }
    }
}

#[test]
fn a_failed_child_makes_the_merge_exit_3() {
    let t = Tree::new();
    let inputs = per_host_archives(&t, Fmt::Gz);
    let bad_req = t.request(&json!({"hosts": [{"hostname": "gone.example.net",
        "agentLogDir": t.path("missing-dir").to_str().unwrap()}]}));
    let failed = t.path("failed.tar.gz");
    let run = logpack(&[
        "collect".as_ref(),
        bad_req.as_os_str(),
        "-o".as_ref(),
        failed.as_os_str(),
        "--quiet".as_ref(),
    ]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let all = vec![inputs[0].clone(), failed];
    let out = t.path("m.tar.gz");
    let run = logpack(&merge_args(&all, &out, &["--quiet"]));
    assert_eq!(run.code, 3, "{}", run.stderr);
    let m = manifest_of(&read_entries(&out));
    assert_eq!(m["status"], "FAILURE");
    let failures: Vec<&Value> = m["childJobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "FAILURE")
        .collect();
    assert!(!failures.is_empty());
    assert!(failures.iter().all(|c| c["hostName"]
        .as_str()
        .unwrap()
        .starts_with("gone.example.net")));
}

/// Runs `merge` expecting exit 2 with `needle` in the message and nothing
/// left in the output's directory.
fn refused(inputs: &[PathBuf], needle: &str) {
    let dir = Tree::new();
    let out = dir.path("out/merged.tar.gz");
    fs::create_dir_all(out.parent().unwrap()).unwrap();
    let run = logpack(&merge_args(inputs, &out, &["--quiet"]));
    assert_eq!(
        run.code, 2,
        "expected exit 2 for {needle:?}: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains(needle),
        "{needle:?} not in {}",
        run.stderr
    );
    assert!(
        names_in(out.parent().unwrap()).is_empty(),
        "{:?}",
        names_in(out.parent().unwrap())
    );
}

#[test]
fn unusable_inputs_are_refused_with_exit_2() {
    let t = Tree::new();
    let gz = per_host_archives(&t, Fmt::Gz);
    let zst = t.path("zst.tar.zst");
    collect_ok(&host_requests(&t)[1], &zst, Fmt::Zst);
    let plain = t.path("plain.tar");
    collect_ok(&host_requests(&t)[1], &plain, Fmt::Tar);
    let foreign = t.path("foreign.tar.gz");
    let status = std::process::Command::new("tar")
        .args([
            "-czf",
            foreign.to_str().unwrap(),
            "-C",
            sample_dir().to_str().unwrap(),
            "request.json",
        ])
        .status()
        .unwrap();
    assert!(status.success());

    refused(&[gz[0].clone(), t.path("missing.tar.gz")], "missing.tar.gz");
    refused(&[gz[0].clone(), zst], "it is tar.zst, but");
    refused(&[plain], "not a tar.gz or tar.zst made by logpack");
    refused(&[gz[0].clone(), foreign], "no fragment index");
    refused(
        &[gz[0].clone(), gz[1].clone(), gz[0].clone()],
        "the same archive path in two inputs",
    );
}

// ---------------------------------------------------------------------------
// Tampering with the index

/// The archive's index region: its JSON, and where the archive ends.
fn index_of(bytes: &[u8]) -> (Value, usize) {
    let footer = bytes
        .windows(8)
        .rposition(|w| w == b"LPKINDEX")
        .expect("footer");
    let region = u64::from_le_bytes(bytes[footer + 8..footer + 16].try_into().unwrap()) as usize;
    let start = bytes.len() - region;
    let json = if bytes.starts_with(&[0x1f, 0x8b]) {
        // Empty members with "LP" subfields.
        let mut json = Vec::new();
        let mut at = start;
        while at < bytes.len() {
            let xlen = u16::from_le_bytes([bytes[at + 10], bytes[at + 11]]) as usize;
            let mut x = at + 12;
            while x < at + 12 + xlen {
                let len = u16::from_le_bytes([bytes[x + 2], bytes[x + 3]]) as usize;
                if &bytes[x..x + 2] == b"LP" {
                    json.extend_from_slice(&bytes[x + 4..x + 4 + len]);
                }
                x += 4 + len;
            }
            at += 12 + xlen + 10;
        }
        json
    } else {
        bytes[start + 8..bytes.len() - 28].to_vec()
    };
    (serde_json::from_slice(&json).unwrap(), start)
}

/// The same archive with `index` written in place of its own, with a
/// correct footer (so only the index's content can give it away).
fn with_index(bytes: &[u8], index: &Value) -> Vec<u8> {
    let (_, start) = index_of(bytes);
    let json = serde_json::to_vec(index).unwrap();
    let crc = crc32fast::hash(&json);
    let mut out = bytes[..start].to_vec();
    let footer = |region: u64| {
        let mut f = b"LPKINDEX".to_vec();
        f.extend(region.to_le_bytes());
        f.extend((json.len() as u64).to_le_bytes());
        f.extend(crc.to_le_bytes());
        f
    };
    if bytes.starts_with(&[0x1f, 0x8b]) {
        assert!(json.len() < 60_000);
        let region = (10 + 2 + 4 + json.len() + 4 + 28 + 10) as u64;
        out.extend([0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 255]);
        out.extend(((4 + json.len() + 4 + 28) as u16).to_le_bytes());
        out.extend(b"LP");
        out.extend((json.len() as u16).to_le_bytes());
        out.extend(&json);
        out.extend(b"LF");
        out.extend(28u16.to_le_bytes());
        out.extend(footer(region));
        out.extend([3, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    } else {
        let region = (8 + json.len() + 28) as u64;
        out.extend(0x184D_2A5Eu32.to_le_bytes());
        out.extend(((json.len() + 28) as u32).to_le_bytes());
        out.extend(&json);
        out.extend(footer(region));
    }
    out
}

/// Every way of damaging an archive's index: each must fail `verify` with
/// a message about the index and be refused by `merge`.
fn tampered(fmt: Fmt) {
    let t = Tree::new();
    let inputs = per_host_archives(&t, fmt);
    let good = fs::read(&inputs[0]).unwrap();
    let (index, _) = index_of(&good);
    // Rewriting the index unchanged keeps a valid archive.
    let same = t.path(&format!("same.{}", fmt.flag()));
    fs::write(&same, with_index(&good, &index)).unwrap();
    assert_eq!(logpack(&["verify".as_ref(), same.as_os_str()]).code, 0);
    assert_eq!(index_of(&fs::read(&same).unwrap()).0, index);

    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut edit = |what: &'static str, f: &dyn Fn(&mut Value)| {
        let mut i = index.clone();
        f(&mut i);
        cases.push((what, with_index(&good, &i)));
    };
    edit("offset moved", &|i| {
        let o = i["children"][1]["offset"].as_u64().unwrap();
        i["children"][1]["offset"] = json!(o + 1);
    });
    edit("length shortened", &|i| {
        let l = i["children"][0]["length"].as_u64().unwrap();
        i["children"][0]["length"] = json!(l - 1);
        let o = i["children"][1]["offset"].as_u64().unwrap();
        i["children"][1]["offset"] = json!(o - 1);
    });
    // A zstd frame does not state its size: only decoding (verify) can
    // tell this lie, which merge would carry into its own index.
    let mut lies_only_verify_sees = Vec::new();
    if fmt == Fmt::Zst {
        let mut i = index.clone();
        let s = i["children"][0]["size"].as_u64().unwrap();
        i["children"][0]["size"] = json!(s + 512);
        lies_only_verify_sees.push(with_index(&good, &i));
    } else {
        edit("size changed", &|i| {
            let s = i["children"][0]["size"].as_u64().unwrap();
            i["children"][0]["size"] = json!(s + 512);
        });
    }
    edit("children's paths swapped", &|i| {
        let n = i["children"].as_array().unwrap().len();
        let a = i["children"][0]["path"].clone();
        assert_ne!(a, i["children"][n - 1]["path"]);
        i["children"][0]["path"] = i["children"][n - 1]["path"].clone();
        i["children"][n - 1]["path"] = a;
    });
    edit("child dropped", &|i| {
        i["children"].as_array_mut().unwrap().pop();
    });
    edit("past the end", &|i| {
        i["final"]["length"] = json!(u64::MAX - 5);
    });
    edit("unsafe path", &|i| {
        i["children"][0]["path"] = json!("../../etc");
    });
    edit("unknown field", &|i| {
        i["extra"] = json!(1);
    });
    if fmt == Fmt::Gz {
        edit("crc changed", &|i| {
            let c = i["children"][0]["crc32"].as_u64().unwrap();
            i["children"][0]["crc32"] = json!(c ^ 1);
        });
    }
    let mut flipped = good.clone();
    let at = good.windows(9).rposition(|w| w == b"\"offset\":").unwrap();
    flipped[at + 9] ^= 0x01;
    cases.push(("a byte of the index flipped", flipped));
    cases.push(("cut short", good[..good.len() - 5].to_vec()));
    cases.push(("no index", {
        let (_, start) = index_of(&good);
        good[..start].to_vec()
    }));
    let mut huge = good.clone();
    let footer = huge.windows(8).rposition(|w| w == b"LPKINDEX").unwrap();
    huge[footer + 8..footer + 16].copy_from_slice(&u64::MAX.to_le_bytes());
    cases.push(("footer's region length", huge));

    for (what, bytes) in cases {
        let path = t.path(&format!("bad.{}", fmt.flag()));
        fs::write(&path, &bytes).unwrap();
        let run = logpack(&["verify".as_ref(), path.as_os_str()]);
        assert_eq!(
            run.code,
            1,
            "{what}: verify accepted it: {}",
            run.stdout_text()
        );
        assert!(
            run.stderr.contains("index") || run.stderr.contains("corrupt"),
            "{what}: {}",
            run.stderr
        );
        refused(&[inputs[1].clone(), path], "bad.");
    }
    for bytes in lies_only_verify_sees {
        let path = t.path(&format!("lie.{}", fmt.flag()));
        fs::write(&path, &bytes).unwrap();
        let run = logpack(&["verify".as_ref(), path.as_os_str()]);
        assert_eq!(run.code, 1);
        assert!(run.stderr.contains("index"), "{}", run.stderr);
    }
}

#[test]
fn a_tampered_gz_index_fails_verify_and_merge() {
    tampered(Fmt::Gz);
}

#[test]
fn a_tampered_zst_index_fails_verify_and_merge() {
    tampered(Fmt::Zst);
}
