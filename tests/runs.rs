//! One engine, many runs: each run takes its id, time, cancel token,
//! redaction key and finish from its `RunSpec`; cancelling one leaves the
//! others alone; bare fragments decode on their own into the same entries
//! a whole archive holds.

mod common;

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Value};

use common::*;
use logpack::{
    CancelToken, Engine, Error, Finish, Format, Options, Output, RedactionKey, Request, RunSpec,
};

fn engine(threads: usize) -> Engine {
    Engine::new(Options {
        threads,
        ..Options::default()
    })
    .unwrap()
}

/// Four processes with 4 MiB of log each, and an agent directory.
fn tree() -> (Tree, Request) {
    let t = Tree::new();
    let mut processes = Vec::new();
    for i in 0..4u32 {
        let p = t.file(&format!("p{i}/mongod.log"), log_text(4 << 20, i));
        processes
            .push(json!({"type": "mongod", "replicaSet": "rs0", "port": 27017 + i, "logPath": p}));
    }
    t.file("agent/automation-agent.log", log_text(100 << 10, 9));
    let req = Request::from_json(
        &json!({"hosts": [{"hostname": "db1.example.net", "agentLogDir": t.path("agent"), "processes": processes}]})
            .to_string(),
        &t.root(),
    )
    .unwrap();
    (t, req)
}

fn manifest_at(path: &Path) -> Value {
    manifest_of(&read_entries(path))
}

#[test]
fn concurrent_runs_share_an_engine_and_cancel_alone() {
    let (t, req) = tree();
    let engine = Arc::new(engine(2));
    let req = Arc::new(req);
    let cancelled = CancelToken::default();
    let mut handles = Vec::new();
    for i in 0..3 {
        let (engine, req, cancelled) = (engine.clone(), req.clone(), cancelled.clone());
        let out = t.path(&format!("run{i}.tar.gz"));
        handles.push(std::thread::spawn(move || {
            let mut spec = RunSpec::new();
            spec.id = format!("{:024x}", 0xabc000 + i);
            let token = if i == 1 {
                cancelled.clone()
            } else {
                CancelToken::default()
            };
            spec.cancel = token.clone();
            // Run 1 cancels itself once it has started.
            let mut progress = move |done: u64, _total: u64| {
                if i == 1 && done > 0 {
                    token.cancel();
                }
                true
            };
            spec.progress = Some(&mut progress);
            (out.clone(), engine.run(&req, Output::Path(out), spec))
        }));
    }
    for (i, h) in handles.into_iter().enumerate() {
        let (out, result) = h.join().unwrap();
        if i == 1 {
            assert!(
                matches!(result, Err(Error::Cancelled)),
                "{:?}",
                result.map(|r| r.manifest.id)
            );
            assert!(!out.exists());
        } else {
            let report = result.unwrap();
            assert!(report.is_complete());
            assert_eq!(report.manifest.id, format!("{:024x}", 0xabc000 + i));
            assert_eq!(manifest_at(&out)["id"], report.manifest.id.as_str());
            let v = logpack(&["verify".as_ref(), out.as_os_str()]);
            assert_eq!(v.code, 0, "{}", v.stderr);
        }
    }
    assert!(cancelled.is_cancelled());
    let leftovers: Vec<String> = names_in(&t.root())
        .into_iter()
        .filter(|n| n.starts_with(".logpack-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_run_takes_its_identity_from_the_spec() {
    let (t, req) = tree();
    let engine = engine(1);
    let mut spec = RunSpec::new();
    spec.id = "0123456789abcdef01234567".into();
    spec.created = "2026-11-20T10:00:00Z".parse().unwrap();
    spec.format = Some(Format::TarZst);
    let report = engine.run(&req, Output::Path(t.root()), spec).unwrap();
    let path = report.path.unwrap();
    assert_eq!(
        path.file_name().unwrap().to_str().unwrap(),
        "logs_db1.example.net_20261120T100000Z.tar.zst"
    );
    let m = manifest_at(&path);
    assert_eq!(m["id"], "0123456789abcdef01234567");
    assert_eq!(m["creationDate"], "2026-11-20T10:00:00Z");

    let mut bad = RunSpec::new();
    bad.id = "not-an-id".into();
    let err = engine
        .run(&req, Output::Path(t.path("x.tar.gz")), bad)
        .unwrap_err();
    assert!(err.to_string().contains("id"), "{err}");
    assert!(err.is_bad_request());
    assert!(!t.path("x.tar.gz").exists());
}

#[test]
fn the_same_redaction_key_gives_the_same_tokens() {
    let (t, _) = tree();
    t.file(
        "p0/mongod.log",
        concat!(
            r#"{"t":{"$date":"2026-11-20T10:00:00.000+00:00"},"s":"I","c":"NETWORK","id":22943,"ctx":"listener","msg":"Connection accepted","attr":{"remote":"192.168.1.2:50000"}}"#,
            "\n"
        ),
    );
    let mut v: Value = json!({"redacted": true, "hosts": [{"hostname": "db1.example.net",
        "agentLogDir": t.path("agent")}]});
    v["hosts"][0]["processes"] = json!([{"type": "mongod", "replicaSet": "rs0", "port": 27017,
        "logPath": t.path("p0/mongod.log")}]);
    let req = Request::from_json(&v.to_string(), &t.root()).unwrap();
    let engine = engine(2);
    let first = engine
        .run(&req, Output::Path(t.path("a.tar.gz")), RunSpec::new())
        .unwrap();
    let key = first
        .redaction_key
        .clone()
        .expect("a redacted run returns its key");
    let mut spec = RunSpec::new();
    spec.redaction_key = Some(key);
    let again = engine
        .run(&req, Output::Path(t.path("b.tar.gz")), spec)
        .unwrap();
    assert!(!first.redaction_map.is_empty());
    assert_eq!(first.redaction_map, again.redaction_map);
    let other = engine
        .run(&req, Output::Path(t.path("c.tar.gz")), RunSpec::new())
        .unwrap();
    assert_ne!(
        first.redaction_map, other.redaction_map,
        "a new key, new tokens"
    );
    let mut spec = RunSpec::new();
    spec.redaction_key = Some(RedactionKey([7; 32]));
    let fixed = engine
        .run(&req, Output::Path(t.path("d.tar.gz")), spec)
        .unwrap();
    assert_eq!(fixed.redaction_key, Some(RedactionKey([7; 32])));
}

/// The tar bytes of one fragment, inflated on its own with no dictionary.
fn inflate_alone(bytes: &[u8], format: Format) -> Vec<u8> {
    let mut out = Vec::new();
    if bytes.is_empty() {
        return out;
    }
    match format {
        Format::TarGz => {
            // A raw deflate stream that ends with a sync flush, not a final block.
            let mut d = flate2::Decompress::new(false);
            out.reserve(bytes.len() * 20 + 1024);
            loop {
                let before = d.total_in() as usize;
                let status = d
                    .decompress_vec(&bytes[before..], &mut out, flate2::FlushDecompress::Sync)
                    .expect("a fragment decodes on its own");
                assert_ne!(
                    status,
                    flate2::Status::StreamEnd,
                    "a child holds no final block"
                );
                if d.total_in() as usize == bytes.len() && out.len() < out.capacity() {
                    break;
                }
                out.reserve(out.capacity());
            }
        }
        _ => {
            zstd::stream::read::Decoder::new(bytes)
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
        }
    }
    out
}

fn fragments_match_the_archive(format: Format, threads: usize) {
    let (t, req) = tree();
    let engine = engine(threads);
    let mut spec = RunSpec::new();
    spec.format = Some(format);
    spec.finish = Finish::Fragments;
    let mut bare = Vec::new();
    let report = engine.run(&req, Output::Writer(&mut bare), spec).unwrap();
    let index = report.index.expect("fragments come with their index");
    assert_eq!(index.children.len(), report.manifest.child_jobs.len());
    assert_eq!(index.children.first().unwrap().offset, 0);
    assert_eq!(index.children.last().unwrap().end(), bare.len() as u64);

    let mut spec = RunSpec::new();
    spec.format = Some(format);
    let whole = t.path(&format!("whole.{}", format.extension()));
    engine.run(&req, Output::Path(whole.clone()), spec).unwrap();
    let want: Vec<(String, Vec<u8>)> = read_entries(&whole)
        .into_iter()
        .filter(|e| e.name != "manifest.json")
        .map(|e| (e.name, e.data))
        .collect();

    let mut got = Vec::new();
    for (f, child) in index.children.iter().zip(&report.manifest.child_jobs) {
        assert_eq!(f.path.as_deref(), Some(child.path.as_str()));
        let tar = inflate_alone(&bare[f.offset as usize..f.end() as usize], format);
        assert_eq!(tar.len() as u64, f.size);
        if format == Format::TarGz {
            assert_eq!(Some(crc32fast::hash(&tar)), f.crc32);
        }
        for e in entries_of_tar(&tar) {
            assert!(
                e.name.starts_with(&format!("{}/", child.path)),
                "{}",
                e.name
            );
            got.push((e.name, e.data));
        }
    }
    assert_eq!(got, want);
}

#[test]
fn bare_gzip_fragments_decode_alone_into_the_archives_entries() {
    fragments_match_the_archive(Format::TarGz, 2);
    fragments_match_the_archive(Format::TarGz, 1);
}

#[test]
fn bare_zstd_fragments_decode_alone_into_the_archives_entries() {
    fragments_match_the_archive(Format::TarZst, 2);
}
