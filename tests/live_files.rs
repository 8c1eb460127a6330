//! Files that change, or are not what they seem, while they are collected:
//! growth, truncation, FIFOs, symlinks, long paths, block-boundary sizes,
//! cancellation. Uses the library API.

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use common::*;
use logpack::{CancelToken, Engine, Error, Format, Options, Output, Report, Request, RunSpec};
use serde_json::{json, Value};

fn engine(format: Format, level: Option<i32>) -> Engine {
    engine_with(2, format, level)
}

/// One thread runs the whole collection on the caller's thread; more use
/// the reader and compression pools. Both paths must behave the same.
fn engine_with(threads: usize, format: Format, level: Option<i32>) -> Engine {
    Engine::new(Options {
        threads,
        format,
        compression_level: level,
    })
    .expect("engine")
}

fn request(t: &Tree, v: &Value) -> Request {
    Request::from_json(&v.to_string(), &t.root()).expect("valid request")
}

/// A one-host request with one replica-set mongod whose log is `log_path`.
fn one_process(t: &Tree, log_path: &Path) -> Request {
    request(
        t,
        &json!({"hosts": [{"hostname": "h1", "processes": [
            {"type": "mongod", "replicaSet": "rs0", "port": 27017, "logPath": log_path}
        ]}]}),
    )
}

/// Collects on another thread; fails the test if it takes more than 30 s
/// (a FIFO opened for reading would block forever).
fn collect_within_30s(req: Request, out: PathBuf) -> logpack::Result<Report> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let e = engine(Format::TarGz, None);
        let _ = tx.send(e.collect(&req, Output::Path(out), None));
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("collection did not finish within 30 s")
}

fn note_containing<'a>(file: &'a Value, needle: &str) -> Option<&'a str> {
    file["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .find(|n| n.contains(needle))
}

#[test]
fn growing_live_log_is_cut_at_its_size_when_opened() {
    for threads in [1, 2] {
        growing_live_log_is_cut_at_its_size_when_opened_with(threads);
    }
}

fn growing_live_log_is_cut_at_its_size_when_opened_with(threads: usize) {
    let t = Tree::new();
    let live = t.file("logs/mongod.log", log_text(4 << 20, 1));
    let req = one_process(&t, &live);
    let out = t.path("out.tar.gz");

    let stop = Arc::new(AtomicBool::new(false));
    let appender = {
        let stop = stop.clone();
        let live = live.clone();
        std::thread::spawn(move || {
            let mut f = OpenOptions::new().append(true).open(&live).unwrap();
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                writeln!(f, "{{\"msg\":\"appended line {i}\"}}").unwrap();
                i += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    // The first progress call comes while the reader is still at most a few
    // chunks into the 4 MiB file, so this append is seen before it finishes.
    let mut appended_in_callback = false;
    let mut cb = |done: u64, _total: u64| {
        if done > 0 && !appended_in_callback {
            appended_in_callback = true;
            let mut f = OpenOptions::new().append(true).open(&live).unwrap();
            f.write_all(b"{\"msg\":\"appended from the progress callback\"}\n")
                .unwrap();
        }
        true
    };
    let report = engine_with(threads, Format::TarGz, None)
        .collect(&req, Output::Path(out.clone()), Some(&mut cb))
        .expect("collect");
    stop.store(true, Ordering::SeqCst);
    appender.join().unwrap();
    assert!(appended_in_callback);
    assert!(report.is_complete());

    let final_bytes = fs::read(&live).unwrap();
    let entries = read_entries(&out);
    let manifest = manifest_of(&entries);
    check_manifest_matches(&entries, &manifest);
    let e = entry(&entries, "h1/rs0/27017/mongod.log");
    assert!(e.data.len() >= 4 << 20);
    assert!(e.data.len() < final_bytes.len(), "the file grew after open");
    assert!(
        final_bytes.starts_with(&e.data),
        "the archived entry is a prefix of the final file"
    );
    let f = &child(&manifest, "h1/rs0/27017", "MONGODB")["files"][0];
    assert_eq!(f["archivedBytes"].as_u64().unwrap(), e.data.len() as u64);
    assert_eq!(f["sourceBytes"].as_u64().unwrap(), e.data.len() as u64);
    let note = note_containing(f, "grew by").unwrap_or_else(|| panic!("no growth note: {f:#}"));
    assert!(
        note.contains(&e.data.len().to_string()),
        "the note names the archived size: {note}"
    );

    let scratch = t.path("scratch");
    gnu_tar_list(&out, Fmt::Gz, true);
    gnu_tar_extract_matches(&out, Fmt::Gz, &scratch, &entries);
    python_matches(&out, Fmt::Gz, &entries);
}

#[test]
fn truncated_mid_read_keeps_the_size_and_zero_pads() {
    for threads in [1, 2] {
        truncated_mid_read_keeps_the_size_and_zero_pads_with(threads);
    }
}

fn truncated_mid_read_keeps_the_size_and_zero_pads_with(threads: usize) {
    const SIZE: usize = 64 << 20;
    const CUT: u64 = 1 << 20;
    let t = Tree::new();
    let original = log_text(SIZE, 7);
    let live = t.file("logs/mongod.log", &original);
    let req = one_process(&t, &live);
    let out = t.path("out.tar.gz");

    let mut truncated = false;
    let mut cb = |done: u64, _total: u64| {
        if done > 0 && !truncated {
            truncated = true;
            OpenOptions::new()
                .write(true)
                .open(&live)
                .unwrap()
                .set_len(CUT)
                .unwrap();
        }
        true
    };
    let report = engine_with(threads, Format::TarGz, Some(1))
        .collect(&req, Output::Path(out.clone()), Some(&mut cb))
        .expect("collect");
    assert!(truncated);
    assert!(report.path.as_deref() == Some(out.as_path()));

    let entries = read_entries(&out);
    let manifest = manifest_of(&entries);
    check_manifest_matches(&entries, &manifest);
    let e = entry(&entries, "h1/rs0/27017/mongod.log");
    assert_eq!(
        e.data.len(),
        SIZE,
        "the entry keeps the size it had when opened"
    );
    let f = &child(&manifest, "h1/rs0/27017", "MONGODB")["files"][0];
    assert_eq!(f["sourceBytes"].as_u64().unwrap(), SIZE as u64);
    assert_eq!(f["archivedBytes"].as_u64().unwrap(), SIZE as u64);
    let note = note_containing(f, "shrank").unwrap_or_else(|| panic!("no shrink note: {f:#}"));
    // "shrank to K bytes ...": K bytes were read, the rest is padding.
    let read: usize = note
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no byte count in {note:?}"));
    assert!(
        read >= CUT as usize && read < SIZE,
        "read {read} bytes: {note}"
    );
    assert!(
        e.data[..read] == original[..read],
        "the bytes read are the original ones"
    );
    assert!(
        e.data[read..].iter().all(|&b| b == 0),
        "the tail past what was read is zeros"
    );

    let verify = logpack(&["verify".as_ref(), out.as_os_str()]);
    assert_eq!(verify.code, 0, "{}", verify.stderr);
    gnu_tar_list(&out, Fmt::Gz, true);
    python_matches(&out, Fmt::Gz, &entries);
}

#[test]
fn fifo_as_log_path_is_never_opened_and_fails_the_process() {
    let t = Tree::new();
    let fifo = t.fifo("logs/mongod.log");
    let req_json = json!({"hosts": [{"hostname": "h1", "processes": [
        {"type": "mongod", "replicaSet": "rs0", "port": 27017, "logPath": fifo}
    ]}]});
    let out = t.path("out.tar.gz");
    let report = collect_within_30s(request(&t, &req_json), out.clone()).expect("collect");
    assert!(!report.is_complete());

    let entries = read_entries(&out);
    let manifest = manifest_of(&entries);
    check_manifest_matches(&entries, &manifest);
    assert_eq!(manifest["status"], "FAILURE");
    let c = child(&manifest, "h1/rs0/27017", "MONGODB");
    assert_eq!(c["status"], "FAILURE");
    assert!(c["files"].as_array().unwrap().is_empty());
    let skipped = c["skipped"].as_array().unwrap();
    assert!(
        skipped.iter().any(|s| s["name"] == "mongod.log"
            && s["reason"].as_str().unwrap().contains("not a regular file")),
        "the FIFO is listed as skipped: {c:#}"
    );
    assert_eq!(entries.len(), 1, "only the manifest");

    // The CLI: exit 3, promptly.
    let req = t.request(&req_json);
    let out2 = t.path("cli.tar.gz");
    let run = logpack_within(
        &[
            "collect".as_ref(),
            req.as_os_str(),
            "-o".as_ref(),
            out2.as_os_str(),
        ],
        Duration::from_secs(30),
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(out2.is_file());
}

#[test]
fn fifo_beside_the_live_log_is_skipped() {
    let t = Tree::new();
    let live = t.file("logs/mongod.log", log_text(10_000, 2));
    t.fifo("logs/mongod.log.fifo");
    let out = t.path("out.tar.gz");
    let report = collect_within_30s(one_process(&t, &live), out.clone()).expect("collect");
    assert!(report.is_complete());

    let entries = read_entries(&out);
    let manifest = manifest_of(&entries);
    check_manifest_matches(&entries, &manifest);
    assert_eq!(manifest["status"], "SUCCESS");
    let c = child(&manifest, "h1/rs0/27017", "MONGODB");
    assert_eq!(c["status"], "SUCCESS");
    let skipped = c["skipped"].as_array().unwrap();
    assert!(
        skipped.iter().any(|s| s["name"] == "mongod.log.fifo"
            && s["reason"].as_str().unwrap().contains("not a regular file")),
        "{c:#}"
    );
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["h1/rs0/27017/mongod.log", "manifest.json"]);
    assert!(entries[0].data == fs::read(&live).unwrap());
}

#[test]
fn names_that_are_not_utf8_are_escaped_and_never_collide() {
    use std::os::unix::ffi::OsStrExt;
    let t = Tree::new();
    let live = t.file("logs/mongod.log", log_text(2_000, 1));
    // A rotated log whose name is not UTF-8, and one whose name is that
    // escape spelt out: both map to `mongod.log.\xff` in the archive.
    let raw = t
        .path("logs")
        .join(std::ffi::OsStr::from_bytes(b"mongod.log.\xff"));
    fs::write(&raw, log_text(3_000, 2)).unwrap();
    t.file("logs/mongod.log.\\xff", log_text(4_000, 3));
    let escaped = "h1/rs0/27017/mongod.log.\\xff";
    let req = one_process(&t, &live);

    // The plan keeps the raw path to open and can print itself.
    let plan = engine(Format::TarGz, None).plan(&req).expect("plan");
    let files: Vec<_> = plan.components[0]
        .files
        .iter()
        .map(|f| f.expect("plan read back"))
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    assert_eq!(files[0].source.as_deref(), Some(raw.as_path()));
    serde_json::to_vec(&plan).expect("the plan serializes");

    for threads in [1, 2] {
        let out = t.path(&format!("out{threads}.tar.gz"));
        let report = engine_with(threads, Format::TarGz, None)
            .collect(&req, Output::Path(out.clone()), None)
            .expect("collect");
        assert!(report.is_complete());
        let entries = read_entries(&out);
        let manifest = manifest_of(&entries);
        check_manifest_matches(&entries, &manifest);
        // Extracted and read by outside readers (their listings quote `\`).
        gnu_tar_extract_matches(&out, Fmt::Gz, &t.path(&format!("x{threads}")), &entries);
        python_matches(&out, Fmt::Gz, &entries);
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, [escaped, "h1/rs0/27017/mongod.log", "manifest.json"]);
        // The file kept is the one that sorts first: the raw name's bytes.
        assert!(entries[0].data == fs::read(&raw).unwrap());
        let c = child(&manifest, "h1/rs0/27017", "MONGODB");
        let skipped = c["skipped"].as_array().unwrap();
        assert_eq!(skipped.len(), 1, "{c:#}");
        assert_eq!(skipped[0]["name"], "mongod.log.\\xff");
        assert!(skipped[0]["reason"]
            .as_str()
            .unwrap()
            .contains("same as another file's"));
    }
}

#[test]
fn symlinks_are_followed_only_inside_the_component_directory() {
    let t = Tree::new();
    let outside = Tree::new();
    let secret_marker = "SECRET-d41d8cd98f00b204e980-NOT-FOR-ARCHIVE";
    let secret = outside.file(
        "outside/secret.log",
        format!("{secret_marker}\n").repeat(50),
    );
    let live = t.file("logs/mongod.log", log_text(3000, 3));
    t.file("sibling-secret.log", format!("{secret_marker} sibling\n"));
    let kept = t.file("logs/kept-old.txt", log_text(2000, 4));
    // Out: absolute, relative, and through an inside hop.
    t.symlink(&secret, "logs/mongod.log.2026-01-01T00-00-00");
    t.symlink(
        "../sibling-secret.log",
        "logs/mongod.log.2026-01-02T00-00-00",
    );
    t.symlink(&secret, "logs/hop");
    t.symlink("hop", "logs/mongod.log.2026-01-03T00-00-00");
    // In: followed.
    t.symlink("kept-old.txt", "logs/mongod.log.2026-01-04T00-00-00");

    let out = t.path("out.tar.gz");
    let report = engine(Format::TarGz, None)
        .collect(&one_process(&t, &live), Output::Path(out.clone()), None)
        .expect("collect");
    assert!(report.is_complete());

    let bytes = fs::read(&out).unwrap();
    let tar_bytes = decompress(&bytes);
    let needle = secret_marker.as_bytes();
    assert!(
        !tar_bytes.windows(needle.len()).any(|w| w == needle),
        "the archive contains bytes of a file outside the component directory"
    );
    let entries = entries_of_tar(&tar_bytes);
    let manifest = manifest_of(&entries);
    check_manifest_matches(&entries, &manifest);
    let c = child(&manifest, "h1/rs0/27017", "MONGODB");
    let skipped = skipped_names(c);
    for name in [
        "mongod.log.2026-01-01T00-00-00",
        "mongod.log.2026-01-02T00-00-00",
        "mongod.log.2026-01-03T00-00-00",
    ] {
        assert!(skipped.contains(&name), "{name} not in skipped: {c:#}");
    }
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "h1/rs0/27017/mongod.log.2026-01-04T00-00-00",
            "h1/rs0/27017/mongod.log",
            "manifest.json"
        ]
    );
    assert_eq!(entries[0].kind, tar::EntryType::Regular);
    assert!(
        entries[0].data == fs::read(&kept).unwrap(),
        "the inside symlink is archived with its target's content"
    );
    assert!(entries[1].data == fs::read(&live).unwrap());
}

#[test]
fn long_archive_paths_are_read_in_full() {
    let t = Tree::new();
    let host = format!("{}.example.net", "h".repeat(78));
    assert_eq!(host.len(), 90);
    let rs = format!("rs-{}", "r".repeat(197));
    let a = t.file("a/mongod.log", log_text(5000, 1));
    let b = t.file("b/mongod.log", log_text(700, 2));
    let req = request(
        &t,
        &json!({"hosts": [{"hostname": host, "processes": [
            {"type": "mongod", "replicaSet": "rs0", "port": 27017, "logPath": a},
            {"type": "mongod", "replicaSet": rs, "port": 27018, "logPath": b}
        ]}]}),
    );
    let out = t.path("out.tar.gz");
    engine(Format::TarGz, None)
        .collect(&req, Output::Path(out.clone()), None)
        .expect("collect");

    let entries = read_entries(&out);
    let manifest = manifest_of(&entries);
    check_manifest_matches(&entries, &manifest);
    let short = format!("{host}/rs0/27017/mongod.log");
    let long = format!("{host}/{rs}/27018/mongod.log");
    assert!(short.len() > 100 && long.len() > 255);
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, [short.as_str(), long.as_str(), "manifest.json"]);
    assert!(entry(&entries, &short).data == fs::read(&a).unwrap());
    assert!(entry(&entries, &long).data == fs::read(&b).unwrap());
    // GNU tar -tzf, GNU tar -x, Python and bsdtar all see the full names.
    check_outside_readers(&out, Fmt::Gz, &entries, &t.path("scratch"));
}

#[test]
fn block_boundary_sizes_round_trip() {
    let t = Tree::new();
    let sizes = [0usize, 1, 511, 512, 513, 1024, 1025];
    let mut sources = Vec::new();
    for (i, n) in sizes.iter().enumerate() {
        let name = format!("logs/mongod.log.2026-01-{:02}T00-00-00", i + 1);
        sources.push((name.clone(), t.file(&name, log_text(*n, i as u32))));
    }
    let live = t.file("logs/mongod.log", log_text(513, 99));
    let out = t.path("out.tar.gz");
    engine(Format::TarGz, None)
        .collect(&one_process(&t, &live), Output::Path(out.clone()), None)
        .expect("collect");

    let entries = read_entries(&out);
    let manifest = manifest_of(&entries);
    check_manifest_matches(&entries, &manifest);
    assert_eq!(entries.len(), sizes.len() + 2);
    for ((name, src), n) in sources.iter().zip(sizes) {
        let archive_name = format!("h1/rs0/27017/{}", name.strip_prefix("logs/").unwrap());
        let e = entry(&entries, &archive_name);
        assert_eq!(e.data.len(), n);
        assert!(e.data == fs::read(src).unwrap(), "{archive_name}");
    }
    check_outside_readers(&out, Fmt::Gz, &entries, &t.path("scratch"));
}

/// A deployment big enough that a collection is still running when it is cancelled.
fn large_tree() -> (Tree, Request) {
    let t = Tree::new();
    let mut processes = Vec::new();
    for i in 0..4u32 {
        let p = t.file(&format!("p{i}/mongod.log"), log_text(16 << 20, i));
        processes.push(json!({"type": "mongod", "port": 27017 + i, "logPath": p}));
    }
    let req = request(
        &t,
        &json!({"hosts": [{"hostname": "h1", "processes": processes}]}),
    );
    (t, req)
}

#[test]
fn cancel_token_from_another_thread_leaves_nothing() {
    for threads in [1, 2] {
        cancel_token_from_another_thread_leaves_nothing_with(threads);
    }
}

fn cancel_token_from_another_thread_leaves_nothing_with(threads: usize) {
    let (t, req) = large_tree();
    let out_dir = t.mkdir("out");
    let out = out_dir.join("x.tar.gz");
    let engine = engine_with(threads, Format::TarGz, None);
    let run_token = CancelToken::default();
    let token = run_token.clone();

    let (started_tx, started_rx) = mpsc::channel::<()>();
    let (cancelled_tx, cancelled_rx) = mpsc::channel::<()>();
    let canceller = std::thread::spawn(move || {
        started_rx.recv().unwrap();
        token.cancel();
        cancelled_tx.send(()).unwrap();
    });
    let mut signalled = false;
    let mut cb = |done: u64, total: u64| {
        if done > 0 && !signalled {
            assert!(done < total, "cancelled mid-collection");
            signalled = true;
            started_tx.send(()).unwrap();
            // Wait until the other thread has cancelled.
            cancelled_rx.recv().unwrap();
        }
        true
    };
    let mut spec = RunSpec::new().cancel(run_token.clone());
    spec.progress = Some(&mut cb);
    let result = engine.run(&req, Output::Path(out.clone()), spec);
    canceller.join().unwrap();
    assert!(signalled);
    assert!(
        matches!(result, Err(Error::Cancelled)),
        "expected Err(Cancelled), got {:?}",
        result.map(|r| r.manifest.status)
    );
    assert!(!out.exists(), "no archive after cancellation");
    assert!(
        temp_files_in(&out_dir).is_empty(),
        "{:?}",
        names_in(&out_dir)
    );
    assert!(names_in(&out_dir).is_empty(), "{:?}", names_in(&out_dir));
    // A cancelled token stays cancelled.
    assert!(matches!(
        engine.run(
            &req,
            Output::Path(out.clone()),
            RunSpec::new().cancel(run_token)
        ),
        Err(Error::Cancelled)
    ));
    assert!(names_in(&out_dir).is_empty());
    // The engine itself is not: the next run, with a token of its own, completes.
    let report = engine
        .collect(&req, Output::Path(out.clone()), None)
        .unwrap();
    assert!(report.is_complete());
    assert_eq!(logpack(&["verify".as_ref(), out.as_os_str()]).code, 0);
}

#[test]
fn progress_callback_returning_false_cancels() {
    for threads in [1, 2] {
        progress_callback_returning_false_cancels_with(threads);
    }
}

fn progress_callback_returning_false_cancels_with(threads: usize) {
    let (t, req) = large_tree();
    let out_dir = t.mkdir("out");
    let out = out_dir.join("x.tar.gz");
    let mut calls = 0;
    let mut cb = |done: u64, _total: u64| {
        calls += 1;
        done == 0
    };
    let result = engine_with(threads, Format::TarZst, None).collect(
        &req,
        Output::Path(out.clone()),
        Some(&mut cb),
    );
    assert!(calls >= 1);
    assert!(matches!(result, Err(Error::Cancelled)));
    assert!(!out.exists());
    assert!(names_in(&out_dir).is_empty(), "{:?}", names_in(&out_dir));
}
