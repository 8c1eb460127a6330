//! The sample deployment, collected by the CLI in every format and read back
//! by several independent tar readers.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

/// What the archive of the sample must hold: archive path → source file,
/// computed from the request and the tree by the rules of PRODUCT.md §2,
/// without any of the crate's code.
fn expected_sample() -> BTreeMap<String, PathBuf> {
    let base = sample_dir();
    let request: Value =
        serde_json::from_slice(&fs::read(base.join("request.json")).unwrap()).unwrap();
    let list = |dir: &Path| -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let mut map = BTreeMap::new();
    for host in request["hosts"].as_array().unwrap() {
        let hn = host["hostname"].as_str().unwrap();
        if let Some(agent) = host["agentLogDir"].as_str() {
            let dir = base.join(agent);
            for name in list(&dir) {
                let agent_log = ["automation-agent", "monitoring-agent", "backup-agent"]
                    .iter()
                    .any(|p| name.starts_with(p) && name[p.len()..].contains(".log"));
                if agent_log {
                    map.insert(format!("{hn}/automation_agent/{name}"), dir.join(&name));
                }
            }
        }
        for p in host["processes"].as_array().into_iter().flatten() {
            let port = p["port"].as_u64().unwrap();
            let group = match (p["type"].as_str().unwrap(), p["replicaSet"].as_str()) {
                ("mongos", _) => "mongos".to_string(),
                (_, Some(rs)) => rs.to_string(),
                (_, None) => "standalone".to_string(),
            };
            let proc_dir = format!("{hn}/{group}/{port}");
            let log_path = base.join(p["logPath"].as_str().unwrap());
            let dir = log_path.parent().unwrap();
            let live = log_path.file_name().unwrap().to_string_lossy().into_owned();
            for name in list(dir) {
                let ours = name == live || name.starts_with(&format!("{live}."));
                if ours && dir.join(&name).is_file() {
                    map.insert(format!("{proc_dir}/{name}"), dir.join(&name));
                }
            }
            let ftdc = if p["type"] == "mongos" {
                let stem = live.strip_suffix(".log").unwrap_or(&live);
                Some(dir.join(format!("{stem}.diagnostic.data")))
            } else {
                p["dbPath"]
                    .as_str()
                    .map(|d| base.join(d).join("diagnostic.data"))
            };
            if let Some(ftdc) = ftdc {
                for f in walk_files(&ftdc) {
                    let rel = f
                        .strip_prefix(&ftdc)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned();
                    map.insert(format!("{proc_dir}/diagnostic.data/{rel}"), f.clone());
                }
            }
        }
        if let Some(om) = host["omLogDir"].as_str() {
            let dir = base.join(om);
            for name in list(&dir) {
                let is_mms_n =
                    name.starts_with("mms") && name[3..].starts_with(|c: char| c.is_ascii_digit());
                let sub = if name.starts_with("daemon") && name.contains(".log") {
                    "daemon"
                } else if name.starts_with("mms-migration") && name.contains(".log") {
                    "migration"
                } else if is_mms_n && name.contains("-access") && name.contains(".log") {
                    "http_access"
                } else if is_mms_n && name.contains(".log") {
                    "application"
                } else {
                    continue;
                };
                map.insert(format!("{hn}/{sub}/{name}"), dir.join(&name));
            }
        }
    }
    map
}

fn run_collect(out: &Path, fmt: Fmt) -> Run {
    collect_ok(&sample_dir().join("request.json"), out, fmt)
}

/// Everything the sample archive must satisfy, whatever its format.
fn check_sample_archive(archive: &Path, entries: &[Entry]) {
    let manifest = manifest_of(entries);
    check_manifest_matches(entries, &manifest);
    assert_eq!(manifest["status"], "SUCCESS");
    assert_eq!(manifest["resourceName"], "sampleCluster");

    // Every entry is byte-identical to its source, and the set is exactly
    // what the request asks for.
    let expected = expected_sample();
    let names: Vec<String> = entries
        .iter()
        .filter(|e| e.name != "manifest.json")
        .map(|e| e.name.clone())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        expected.keys().cloned().collect::<Vec<_>>(),
        "archive entries vs the sample tree"
    );
    let files = manifest_files(&manifest);
    for e in entries.iter().filter(|e| e.name != "manifest.json") {
        let source = fs::read(&expected[&e.name]).unwrap();
        assert!(e.data == source, "{} differs from its source", e.name);
        assert_eq!(
            files[&e.name]["sourceBytes"].as_u64().unwrap(),
            source.len() as u64
        );
    }

    // Files that must not be collected.
    for e in entries {
        let base = e.name.rsplit('/').next().unwrap();
        assert!(
            base != "mongod.conf"
                && base != "WiredTiger"
                && !base.ends_with(".wt")
                && base != "readiness.log"
                && !base.ends_with(".pid"),
            "{} must not be collected",
            e.name
        );
    }

    // Inside each process directory: rotated oldest first, live last.
    for (dir, live) in [
        ("db1.example.net/rs0/27017", "mongod.log"),
        ("db1.example.net/rs0/27018", "mongod.log"),
        ("db1.example.net/mongos/27016", "mongos.log"),
        ("db2.example.net/standalone/27020", "mongod.log"),
    ] {
        let in_dir: Vec<&str> = names
            .iter()
            .filter_map(|n| n.strip_prefix(&format!("{dir}/")))
            .filter(|n| !n.contains('/'))
            .collect();
        assert_eq!(
            in_dir,
            [
                format!("{live}.2026-11-18T10-00-00.gz"),
                format!("{live}.2026-11-19T10-00-00"),
                live.to_string()
            ],
            "order in {dir}"
        );
    }
    // The same rule within each agent log family.
    for host in ["db1.example.net", "db2.example.net"] {
        let pos = |n: &str| {
            names
                .iter()
                .position(|x| x == &format!("{host}/automation_agent/{n}"))
                .unwrap_or_else(|| panic!("{host}: no {n}"))
        };
        let v_old = pos("automation-agent-verbose.log.2026-11-18T10-00-00.gz");
        let v_mid = pos("automation-agent-verbose.log.2026-11-19T10-00-00");
        let v_live = pos("automation-agent-verbose.log");
        assert!(v_old < v_mid && v_mid < v_live, "{host}: verbose order");
        assert!(
            pos("monitoring-agent.log.2026-11-19T10-00-00.gz") < pos("monitoring-agent.log"),
            "{host}: monitoring order"
        );
    }

    // db2 runs no backup agent: SUCCESS with no files.
    let backup = child(
        &manifest,
        "db2.example.net/automation_agent",
        "BACKUP_AGENT",
    );
    assert_eq!(backup["status"], "SUCCESS");
    assert_eq!(backup["files"].as_array().unwrap().len(), 0);
    assert!(backup["errorMessage"].is_null());
    // db1 runs one.
    let backup1 = child(
        &manifest,
        "db1.example.net/automation_agent",
        "BACKUP_AGENT",
    );
    assert_eq!(backup1["files"][0]["name"], "backup-agent.log");

    // Created private to the user.
    let mode = fs::metadata(archive).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "archive mode {mode:o}");
}

/// PRODUCT.md §2: one gzip stream (one member), or one zstd frame, and
/// nothing after it.
/// The archive is ONE gzip member (or one zstd frame per child and the
/// manifest's), followed only by the index, which decodes to nothing.
fn assert_layout(bytes: &[u8], fmt: Fmt, children: usize) {
    match fmt {
        Fmt::Gz => {
            let mut rest = bytes;
            let mut decoder = flate2::bufread::GzDecoder::new(&mut rest);
            let mut tar = Vec::new();
            decoder.read_to_end(&mut tar).expect("gzip member decodes");
            drop(decoder);
            assert_eq!(
                tar,
                decompress(bytes),
                "the first member holds the whole tar"
            );
            assert!(!rest.is_empty(), "the index follows the archive's member");
            assert_eq!(
                &rest[..4],
                &[0x1f, 0x8b, 8, 4],
                "an empty member with FEXTRA"
            );
            let mut index = Vec::new();
            flate2::read::MultiGzDecoder::new(rest)
                .read_to_end(&mut index)
                .expect("the index member decodes");
            assert!(index.is_empty(), "the index decodes to nothing");
        }
        Fmt::Zst => {
            let mut at = 0;
            let mut frames = Vec::new();
            while at < bytes.len() {
                let n = zstd::zstd_safe::find_frame_compressed_size(&bytes[at..])
                    .expect("a zstd frame");
                frames.push(&bytes[at..at + 4]);
                at += n;
            }
            let (index, data) = frames.split_last().unwrap();
            assert_eq!(
                *index,
                &0x184D_2A5Eu32.to_le_bytes()[..],
                "a skippable frame last"
            );
            assert!(data.iter().all(|m| *m == [0x28, 0xb5, 0x2f, 0xfd]));
            // Children without entries have no frame; the manifest has one.
            assert!(
                data.len() <= children + 1 && data.len() > 1,
                "{} frames",
                data.len()
            );
        }
        Fmt::Tar => {}
    }
}

fn round_trip(fmt: Fmt) {
    let tmp = Tree::new();
    let archive = tmp.path(&format!("s.{}", fmt.flag()));
    run_collect(&archive, fmt);
    assert_eq!(names_in(&tmp.root()), [format!("s.{}", fmt.flag())]);

    let bytes = fs::read(&archive).unwrap();
    match fmt {
        Fmt::Gz => assert_eq!(&bytes[..2], &[0x1f, 0x8b], "gzip magic"),
        Fmt::Zst => assert_eq!(&bytes[..4], &[0x28, 0xb5, 0x2f, 0xfd], "zstd magic"),
        Fmt::Tar => assert_eq!(&bytes[257..262], b"ustar", "tar magic"),
    }
    let entries = read_entries(&archive);
    let children = manifest_of(&entries)["childJobs"].as_array().unwrap().len();
    assert_layout(&bytes, fmt, children);
    check_sample_archive(&archive, &entries);
    check_outside_readers(&archive, fmt, &entries, &tmp.path("scratch"));

    let verify = logpack(&["verify".as_ref(), archive.as_os_str()]);
    assert_eq!(verify.code, 0, "verify: {}", verify.stderr);
}

#[test]
fn sample_tar_gz_round_trip() {
    round_trip(Fmt::Gz);
}

#[test]
fn sample_tar_zst_round_trip() {
    round_trip(Fmt::Zst);
}

#[test]
fn sample_plain_tar_round_trip() {
    round_trip(Fmt::Tar);
}

#[test]
fn zstd_archive_pipes_through_zstd_and_tar() {
    let tmp = Tree::new();
    let archive = tmp.path("s.tar.zst");
    run_collect(&archive, Fmt::Zst);
    let entries = read_entries(&archive);
    let out = Command::new("sh")
        .arg("-c")
        .arg("zstd -dc \"$1\" | tar -tf -")
        .arg("sh")
        .arg(&archive)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let names: Vec<String> = entries.iter().map(|e| e.name.clone()).collect();
    assert_eq!(listed, names);
}

#[test]
fn output_directory_gets_the_default_name() {
    let tmp = Tree::new();
    let out_dir = tmp.mkdir("out");
    run_collect(&out_dir, Fmt::Gz);
    let names = names_in(&out_dir);
    assert_eq!(names.len(), 1, "{names:?}");
    let name = &names[0];
    let stamp = name
        .strip_prefix("logs_sampleCluster_")
        .and_then(|s| s.strip_suffix(".tar.gz"))
        .unwrap_or_else(|| panic!("unexpected default name {name}"));
    let b = stamp.as_bytes();
    assert_eq!(b.len(), 16, "stamp {stamp}");
    for (i, c) in b.iter().enumerate() {
        match i {
            8 => assert_eq!(*c, b'T', "{stamp}"),
            15 => assert_eq!(*c, b'Z', "{stamp}"),
            _ => assert!(c.is_ascii_digit(), "{stamp}"),
        }
    }
    let archive = out_dir.join(name);
    let entries = read_entries(&archive);
    check_sample_archive(&archive, &entries);
    gzip_test(&archive);
}

#[test]
fn stdout_streams_a_valid_archive() {
    let tmp = Tree::new();
    let req = sample_dir().join("request.json");
    let run = logpack(&[
        "collect".as_ref(),
        req.as_os_str(),
        "-o".as_ref(),
        "-".as_ref(),
        "--quiet".as_ref(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(&run.stdout[..2], &[0x1f, 0x8b], "gzip on stdout");
    // Nothing written to the current directory or anywhere named "-".
    assert!(!Path::new("-").exists());

    let entries = entries_of_tar(&decompress(&run.stdout));
    let manifest = manifest_of(&entries);
    check_manifest_matches(&entries, &manifest);
    let expected = expected_sample();
    for e in entries.iter().filter(|e| e.name != "manifest.json") {
        assert!(
            e.data == fs::read(&expected[&e.name]).unwrap(),
            "{}",
            e.name
        );
    }
    assert_eq!(entries.len(), expected.len() + 1);

    let gz = pipe_into(
        {
            let mut c = Command::new("gzip");
            c.arg("-t");
            c
        },
        &run.stdout,
    );
    assert!(gz.status.success() && gz.stderr.is_empty(), "gzip -t");
    let file = tmp.path("stdout.tar.gz");
    fs::write(&file, &run.stdout).unwrap();
    check_outside_readers(&file, Fmt::Gz, &entries, &tmp.path("scratch"));
}
