//! Thousands of files in one directory. The plan sorts the listing in
//! runs and keeps it in a temporary file, and the manifest's records are
//! kept out of memory while the run writes them (past 1 MiB each goes to a
//! temporary file); both are read back for `manifest.json`, the report and
//! the CLI's `--json`.

mod common;

use std::fs;

use common::*;
use logpack::{Engine, Format, Manifest, Options, Output, Request};
use serde_json::json;

/// Enough for the plan's listing to outgrow its 1 MiB sort buffer and its
/// file list to outgrow the 1 MiB it keeps in memory.
const AGENT_FILES: usize = 25_000;

/// Enough for the manifest's records to go to disk, not the plan.
const FEWER_FILES: usize = 8_000;

/// An agent directory of many rotated logs, a FIFO and files no glob wants,
/// beside one mongod.
fn deployment(agent_files: usize) -> (Tree, std::path::PathBuf) {
    let t = Tree::new();
    for i in 0..agent_files {
        t.file(
            &format!("agent/automation-agent.log.{i:05}"),
            log_text(40 + i % 200, i as u32),
        );
    }
    t.fifo("agent/automation-agent.log.fifo");
    t.file("agent/unrelated.txt", "not an agent log\n");
    t.file("db/mongod.log", log_text(5_000, 7));
    let req = t.request(&json!({"hosts": [{
        "hostname": "h1",
        "agentLogDir": t.path("agent"),
        "processes": [{"type": "mongod", "port": 27017, "logPath": t.path("db/mongod.log")}]
    }], "exclude": ["**/automation-agent.log.0000[0-4]"]}));
    (t, req)
}

#[test]
fn report_and_archive_carry_the_same_manifest_with_every_record() {
    let (t, req_path) = deployment(AGENT_FILES);
    let request = Request::from_file(&req_path).expect("valid request");
    let out = t.path("out.tar.gz");
    let engine = Engine::new(Options {
        threads: 2,
        format: Format::TarGz,
        compression_level: None,
    })
    .expect("engine");
    let report = engine
        .collect(&request, Output::Path(out.clone()), None)
        .expect("collect");

    let entries = read_entries(&out);
    let in_archive = &entry(&entries, "manifest.json").data;
    assert!(
        in_archive.len() > 2 << 20,
        "the records must outgrow the 1 MiB in-memory buffer ({} bytes)",
        in_archive.len()
    );
    check_outside_readers(&out, Fmt::Gz, &entries, &t.root());
    check_manifest_matches(&entries, &manifest_of(&entries));

    // The report serializes to the very bytes of manifest.json.
    assert_eq!(
        serde_json::to_vec_pretty(&report.manifest).unwrap(),
        *in_archive
    );
    let loaded = report.manifest.load().expect("records read back");
    let parsed: Manifest = serde_json::from_slice(in_archive).unwrap();
    assert_eq!(loaded, parsed);

    let agent = loaded
        .child_jobs
        .iter()
        .find(|c| c.log_collection_type == "AUTOMATION_AGENT")
        .expect("an automation agent child");
    assert_eq!(agent.files.len(), AGENT_FILES - 5);
    assert_eq!(report.manifest.file_count(), AGENT_FILES - 5 + 1);
    let names: Vec<&str> = agent.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names[0], "automation-agent.log.00005");
    assert_eq!(
        names[names.len() - 1],
        format!("automation-agent.log.{:05}", AGENT_FILES - 1)
    );
    let mut skipped: Vec<&str> = agent.skipped.iter().map(|s| s.name.as_str()).collect();
    skipped.sort();
    assert_eq!(
        skipped,
        [
            "automation-agent.log.00000",
            "automation-agent.log.00001",
            "automation-agent.log.00002",
            "automation-agent.log.00003",
            "automation-agent.log.00004",
            "automation-agent.log.fifo",
        ]
    );
    for f in &agent.files {
        let source = fs::read(t.path(&format!("agent/{}", f.name))).unwrap();
        assert_eq!(f.sha256, sha256_hex(&source), "{}", f.name);
    }

    // The plan lists what was archived, in the same order.
    let plan = engine.plan(&request).expect("plan");
    let planned = plan
        .components
        .iter()
        .find(|c| c.log_type == logpack::request::LogType::AutomationAgent)
        .expect("an automation agent component");
    let planned_names: Vec<String> = planned
        .files
        .iter()
        .map(|f| f.expect("plan read back").name)
        .collect();
    assert_eq!(planned_names, names);
    assert_eq!(planned.skipped.len(), skipped.len());
}

#[test]
fn dry_run_json_streams_the_whole_plan() {
    let (t, req) = deployment(AGENT_FILES);
    let run = std::process::Command::new(bin())
        .args(["collect", "--dry-run", "--json"])
        .arg(&req)
        .output()
        .expect("run logpack");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&run.stdout).expect("plan JSON");
    let agent = plan["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["logType"] == "AUTOMATION_AGENT")
        .expect("an automation agent component");
    let files = agent["files"].as_array().unwrap();
    assert_eq!(files.len(), AGENT_FILES - 5);
    assert_eq!(files[0]["name"], "automation-agent.log.00005");
    assert_eq!(
        agent["bytes"].as_u64().unwrap(),
        files
            .iter()
            .map(|f| f["size"].as_u64().unwrap())
            .sum::<u64>()
    );
    let on_disk: u64 = (5..AGENT_FILES)
        .map(|i| {
            fs::metadata(t.path(&format!("agent/automation-agent.log.{i:05}")))
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(agent["bytes"].as_u64().unwrap(), on_disk);
    assert_eq!(agent["skipped"].as_array().unwrap().len(), 6);
}

#[test]
fn cli_json_prints_the_archive_manifest() {
    let (t, req) = deployment(FEWER_FILES);
    let out = t.path("cli.tar.zst");
    let run = collect_ok_with(&req, &out, Fmt::Zst, &["--json"]);
    let entries = read_entries(&out);
    let mut want = entry(&entries, "manifest.json").data.clone();
    want.push(b'\n');
    assert!(
        run.stdout == want,
        "--json must print manifest.json as archived"
    );
}

#[test]
fn an_unusable_temporary_directory_is_a_clear_error_and_leaves_nothing() {
    // With fewer files the plan stays in memory and the records fail;
    // with more, the plan fails first.
    for (files, what) in [
        (FEWER_FILES, "temporary file for the manifest's records"),
        (AGENT_FILES, "temporary file for the plan's file list"),
    ] {
        let (t, req) = deployment(files);
        let out_dir = t.mkdir("out");
        let out = out_dir.join("a.tar.gz");
        let missing = t.path("no-such-tmp");
        let run = std::process::Command::new(bin())
            .arg("collect")
            .arg(&req)
            .arg("-o")
            .arg(&out)
            .arg("--quiet")
            .env("TMPDIR", &missing)
            .output()
            .expect("run logpack");
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(what) && stderr.contains(&*missing.to_string_lossy()),
            "{files} files: the error names the temporary directory: {stderr}"
        );
        assert!(
            !stderr.contains("cannot write the archive"),
            "{files} files: a temporary file is not the archive: {stderr}"
        );
        assert_eq!(
            names_in(&out_dir),
            Vec::<String>::new(),
            "nothing is left behind"
        );
    }
}
