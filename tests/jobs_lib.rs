//! The job store as a library: a clock the test controls, runs in the
//! background on one shared engine, the in-progress limit, and liveness
//! (a job whose owner let go of it reads as interrupted).

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use common::*;
use logpack::jobs::{Clock, JobStore, Outcome, StoreOptions};
use logpack::{Engine, Error, Options, Output};

struct TestClock(Mutex<Timestamp>);

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

impl TestClock {
    fn advance(&self, hours: i64) {
        let mut t = self.0.lock().unwrap();
        *t += SignedDuration::from_hours(hours);
    }
}

fn setup(max_in_progress: usize) -> (Tree, Arc<TestClock>, JobStore, String) {
    let t = Tree::new();
    let clock = Arc::new(TestClock(Mutex::new(
        "2026-11-20T10:00:00Z".parse().unwrap(),
    )));
    let engine = Arc::new(
        Engine::new(Options {
            threads: 2,
            ..Options::default()
        })
        .unwrap(),
    );
    let options = StoreOptions {
        max_in_progress,
        clock: clock.clone(),
        ..StoreOptions::default()
    };
    let store = JobStore::open(&t.path("spool"), engine, options).unwrap();
    let log = t.file("m/mongod.log", log_text(200_000, 1));
    let request = json!({"resourceName": "lib", "hosts": [{"hostname": "h1", "processes": [
        {"type": "mongod", "replicaSet": "rs0", "port": 27017, "logPath": log}]}]})
    .to_string();
    (t, clock, store, request)
}

#[test]
fn a_background_job_finishes_and_expires_by_the_stores_clock() {
    let (t, clock, store, request) = setup(4);
    let started = store.create(&request, &t.root(), &[]).unwrap();
    let id = started.id.clone();
    let handle = store.run_in_background(started).unwrap();
    let job = store.wait(&id, Duration::from_secs(60)).unwrap();
    assert_eq!(job["status"], "SUCCESS");
    assert_eq!(handle.join().unwrap().unwrap(), Outcome::Success);
    assert_eq!(job["creationDate"], "2026-11-20T10:00:00Z");
    assert_eq!(job["expirationDate"], "2026-12-20T10:00:00Z");

    let mut out = Vec::new();
    store.download(&id, Output::Writer(&mut out)).unwrap();
    let entries = entries_of_tar(&decompress(&out));
    assert_eq!(manifest_of(&entries)["id"], id.as_str());

    clock.advance(30 * 24 - 1);
    assert_eq!(store.get(&id, false).unwrap()["status"], "SUCCESS");
    clock.advance(2);
    assert_eq!(store.get(&id, false).unwrap()["status"], "EXPIRED");
    let refused = store
        .download(&id, Output::Writer(&mut Vec::new()))
        .unwrap_err();
    assert!(
        matches!(
            refused,
            Error::Refused {
                code: "CANNOT_DOWNLOAD_EXPIRED_JOB",
                ..
            }
        ),
        "{refused}"
    );
}

#[test]
fn the_in_progress_limit_refuses_one_more() {
    let (t, _clock, store, request) = setup(1);
    let first = store.create(&request, &t.root(), &[]).unwrap();
    let err = store.create(&request, &t.root(), &[]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Refused {
                code: "RATE_LIMITED",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        store.list(1, 100, false).unwrap()["totalCount"],
        1,
        "nothing recorded"
    );
    assert_eq!(store.run(first).unwrap(), Outcome::Success);
    let second = store.create(&request, &t.root(), &[]).unwrap();
    assert_eq!(store.run(second).unwrap(), Outcome::Success);
}

#[test]
fn a_job_whose_owner_let_go_reads_as_interrupted_and_can_be_retried() {
    let (t, _clock, store, request) = setup(4);
    let started = store.create(&request, &t.root(), &[]).unwrap();
    let id = started.id.clone();
    // Another store on the same spool (as another process would be) sees
    // a live owner: the job is left alone.
    let engine = Arc::new(
        Engine::new(Options {
            threads: 1,
            ..Options::default()
        })
        .unwrap(),
    );
    let other = JobStore::open(&t.path("spool"), engine, StoreOptions::default()).unwrap();
    assert_eq!(other.get(&id, false).unwrap()["status"], "IN_PROGRESS");
    // The owner goes away without running it (as a killed process would).
    drop(started);
    let job = other.get(&id, false).unwrap();
    assert_eq!(job["status"], "FAILURE");
    assert!(
        job["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("interrupted"),
        "{job}"
    );
    let retried = other.retry(&id).unwrap();
    assert_eq!(other.run(retried).unwrap(), Outcome::Success);
    assert_eq!(store.get(&id, false).unwrap()["status"], "SUCCESS");
}

#[test]
fn a_store_keeps_the_project_it_was_made_for() {
    let t = Tree::new();
    let engine = Arc::new(Engine::new(Options::default()).unwrap());
    let with = |group: Option<&str>| StoreOptions {
        group_id: group.map(str::to_string),
        ..StoreOptions::default()
    };
    let a = "5f3c2a1b9d8e7f6a5b4c3d2e";
    let store = JobStore::open(&t.path("spool"), engine.clone(), with(Some(a))).unwrap();
    assert_eq!(store.group_id(), a);
    drop(store);
    // Without a wish it is whatever the store has; another project is refused.
    let store = JobStore::open(&t.path("spool"), engine.clone(), with(None)).unwrap();
    assert_eq!(store.group_id(), a);
    drop(store);
    match JobStore::open(
        &t.path("spool"),
        engine,
        with(Some("000000000000000000000000")),
    ) {
        Err(Error::Store { message, .. }) => {
            assert!(
                message.contains(&format!("belongs to project {a}")),
                "{message}"
            )
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a store of another project was opened"),
    }
}
