//! Log collection jobs (PRODUCT.md §9): a persistent store of jobs with
//! the Ops Manager lifecycle (create, list, get, download, extend, retry,
//! delete), shared by every process that opens the same spool directory.
//!
//! - States: `IN_PROGRESS`, `SUCCESS`, `FAILURE`, `MARKED_FOR_EXPIRY`,
//!   `EXPIRED`. A job whose owning process died reads as `FAILURE`
//!   ("interrupted") from any process at once: the owner holds a lock.
//! - At most `max_in_progress` (default 4) jobs run at once in one store,
//!   across processes; one more is `RATE_LIMITED`.
//! - A retry re-collects only the FAILURE children and carries the SUCCESS
//!   children over from the existing archive by byte copy of their
//!   fragments, with the job's own redaction key.

mod db;
mod retry;

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiff::{Timestamp, ToSpan};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde_json::{json, Map, Value};

use crate::compose::ChildSummary;
use crate::engine::{Engine, Report};
use crate::error::{Error, Result};
use crate::manifest::{timestamp_string, Status};
use crate::output::Output;
use crate::request::Request;
use crate::run::{new_job_id, CancelToken, RedactionKey, RunSpec};

use db::{store_error, OwnerLock, Row, Spool, COLUMNS};

/// The Ops Manager error codes of PRODUCT.md §9.
pub mod codes {
    /// No job with that id.
    pub const NOT_FOUND: &str = "LOG_COLLECTION_JOB_NOT_FOUND_IN_GROUP";
    /// Download of a job still running.
    pub const DOWNLOAD_IN_PROGRESS: &str = "CANNOT_DOWNLOAD_JOB_IN_PROGRESS";
    /// Download of an expired job.
    pub const DOWNLOAD_EXPIRED: &str = "CANNOT_DOWNLOAD_EXPIRED_JOB";
    /// Extension of an expired job.
    pub const EXTEND_EXPIRED: &str = "CANNOT_EXTEND_EXPIRED_JOB";
    /// An expiration date not in the future.
    pub const NOT_IN_FUTURE: &str = "EXPIRATION_DATE_MUST_BE_IN_FUTURE";
    /// An expiration date past the kind's limit.
    pub const TOO_DISTANT: &str = "EXPIRATION_DATE_TOO_DISTANT";
    /// Retry of a job that did not fail.
    pub const ONLY_FAILED: &str = "ONLY_FAILED_JOB_CAN_BE_RESTARTED";
    /// Too many jobs in progress.
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    /// Deletion of an OM server job still running.
    pub const DELETE_IN_PROGRESS: &str = "CANNOT_DELETE_JOB_IN_PROGRESS";
}

/// What tells the store the time; tests give their own.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// The two kinds of job, told apart by the request (PRODUCT.md §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Deployment logs (seed `001`).
    Project,
    /// Ops Manager server logs only (seed `002`).
    OmServer,
}

impl JobKind {
    fn of(request: &Request) -> JobKind {
        let om_only = request
            .hosts
            .iter()
            .all(|h| h.agent_log_dir.is_none() && h.processes.is_empty());
        if om_only {
            JobKind::OmServer
        } else {
            JobKind::Project
        }
    }

    /// `PROJECT` or `OM_SERVER`, as the store records it.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Project => "PROJECT",
            JobKind::OmServer => "OM_SERVER",
        }
    }

    fn parse(s: &str) -> JobKind {
        if s == "OM_SERVER" {
            JobKind::OmServer
        } else {
            JobKind::Project
        }
    }

    fn default_expiry(self, created: Timestamp) -> Timestamp {
        let days = match self {
            JobKind::Project => 30,
            JobKind::OmServer => 7,
        };
        created + (days * 24).hours()
    }

    /// The latest expiration an extension may set.
    fn max_expiry(self, created: Timestamp) -> Timestamp {
        match self {
            JobKind::Project => created
                .to_zoned(jiff::tz::TimeZone::UTC)
                .checked_add(6.months())
                .map(|z| z.timestamp())
                .unwrap_or(created),
            JobKind::OmServer => created + (28 * 24).hours(),
        }
    }
}

/// Store settings.
#[derive(Clone)]
pub struct StoreOptions {
    /// Jobs in progress at once in the store, across processes (default 4).
    pub max_in_progress: usize,
    /// The clock (default: the system's).
    pub clock: Arc<dyn Clock>,
    /// The project id the store must have (an HTTP server's deployment
    /// names it). A new store takes it; a store made for another project
    /// is refused. Default: whatever the store has, made when it was.
    pub group_id: Option<String>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_in_progress: 4,
            clock: Arc::new(SystemClock),
            group_id: None,
        }
    }
}

/// A job store over a spool directory. Cheap to open; any number of
/// processes may open the same one.
pub struct JobStore {
    spool: Spool,
    conn: Connection,
    engine: Arc<Engine>,
    options: StoreOptions,
    group_id: String,
}

/// A job being run by this process: its record is `IN_PROGRESS` and its
/// lock is held until [`JobStore::run`] returns.
#[derive(Debug)]
pub struct Started {
    /// The job's id.
    pub id: String,
    lock: OwnerLock,
    retry: bool,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every child collected.
    Success,
    /// Some child failed, or the run did (the record says why).
    Failure,
    /// The job was deleted while it ran.
    Deleted,
}

/// A job id: 24 lower-case hex digits.
fn check_id(id: &str) -> Result<()> {
    let hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
    if id.len() == 24 && id.chars().all(hex) {
        Ok(())
    } else {
        Err(Error::invalid(
            "id",
            format!("{id:?} is not a job id (24 lower-case hex digits)"),
        ))
    }
}

fn refused(code: &'static str, message: String) -> Error {
    Error::Refused { code, message }
}

fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

fn at(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

impl JobStore {
    /// Opens the store in `dir` (created, mode 0700, when missing), whose
    /// runs use `engine`.
    pub fn open(dir: &Path, engine: Arc<Engine>, options: StoreOptions) -> Result<JobStore> {
        let spool = Spool {
            dir: dir.to_path_buf(),
        };
        spool.create()?;
        let conn = db::open(&spool)?;
        let wanted = options.group_id.clone();
        let group_id = db::meta(&conn, "groupId", || {
            wanted.clone().unwrap_or_else(new_job_id)
        })
        .map_err(|e| store_error(&spool.db(), e.to_string()))?;
        if let Some(wanted) = &options.group_id {
            if *wanted != group_id {
                return Err(store_error(
                    &spool.db(),
                    format!("the store belongs to project {group_id}, not {wanted}"),
                ));
            }
        }
        Ok(JobStore {
            spool,
            conn,
            engine,
            options,
            group_id,
        })
    }

    /// The store's project id (`groupId`), made when the store was.
    pub fn group_id(&self) -> &str {
        &self.group_id
    }

    fn now(&self) -> Timestamp {
        self.options.clock.now()
    }

    fn sql(&self, e: rusqlite::Error) -> Error {
        store_error(&self.spool.db(), e.to_string())
    }

    /// Runs `f` in an immediate (write-locked) transaction.
    fn write<T>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>) -> Result<T> {
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(|e| self.sql(e))?;
        let out = f(&tx)?;
        tx.commit().map_err(|e| self.sql(e))?;
        Ok(out)
    }

    fn row(&self, conn: &Connection, id: &str) -> Result<Row> {
        check_id(id)?;
        conn.query_row(
            &format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1"),
            [id],
            Row::from_sql,
        )
        .optional()
        .map_err(|e| self.sql(e))?
        .ok_or_else(|| refused(codes::NOT_FOUND, format!("no job {id} in this store")))
    }

    /// Brings records up to date: a job whose owner died is FAILURE
    /// (interrupted); a finished job past its expiration loses its archive
    /// (MARKED_FOR_EXPIRY, then EXPIRED).
    fn sweep(&self) -> Result<()> {
        let now = ms(self.now());
        // Most calls find nothing to do: look first without the write lock,
        // which concurrent readers (an HTTP server's lists) would queue on.
        // Each running job's owner is probed through its lock (a handle of
        // this very process may have let a job go, too).
        let running: Vec<String> = {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT id FROM jobs WHERE status = 'IN_PROGRESS'")
                .map_err(|e| self.sql(e))?;
            let rows = stmt
                .query_map([], |r| r.get(0))
                .and_then(|rows| rows.collect())
                .map_err(|e| self.sql(e))?;
            rows
        };
        let suspects: Vec<String> = running
            .into_iter()
            .filter(|id| !db::owner_alive(&self.spool.lock(id)))
            .collect();
        let due: bool = self
            .conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM jobs WHERE status IN ('SUCCESS', 'FAILURE') \
                 AND expires_ms <= ?1) \
                 OR EXISTS (SELECT 1 FROM jobs WHERE status = 'MARKED_FOR_EXPIRY')",
                [now],
                |r| r.get(0),
            )
            .map_err(|e| self.sql(e))?;
        if suspects.is_empty() && !due {
            return Ok(());
        }
        let (dead, expiring) = self.write(|tx| {
            // Checked again under the lock: a retry may have taken a job.
            let mut dead = Vec::new();
            for id in suspects {
                if db::owner_alive(&self.spool.lock(&id)) {
                    continue;
                }
                let n = tx
                    .execute(
                        "UPDATE jobs SET status = 'FAILURE', finished_ms = ?2, error_message = \
                         'interrupted: the process running the job stopped before it finished' \
                         WHERE id = ?1 AND status = 'IN_PROGRESS'",
                        params![id, now],
                    )
                    .map_err(|e| self.sql(e))?;
                if n > 0 {
                    dead.push(id);
                }
            }
            let expiring = tx
                .execute(
                    "UPDATE jobs SET status = 'MARKED_FOR_EXPIRY' \
                     WHERE status IN ('SUCCESS', 'FAILURE') AND expires_ms <= ?1",
                    [now],
                )
                .map_err(|e| self.sql(e))?;
            Ok((dead, expiring))
        })?;
        // A dead owner's partial archive; its lock file stays (deleting it
        // could race with a retry that locks it), until the job is deleted.
        for id in &dead {
            let _ = fs::remove_file(self.spool.partial(id));
        }
        if due || expiring > 0 || !dead.is_empty() {
            self.expire()?;
        }
        Ok(())
    }

    /// Removes the archives of MARKED_FOR_EXPIRY jobs, then marks them EXPIRED.
    fn expire(&self) -> Result<()> {
        let ids: Vec<String> = {
            let mut stmt = self
                .conn
                .prepare("SELECT id FROM jobs WHERE status = 'MARKED_FOR_EXPIRY'")
                .map_err(|e| self.sql(e))?;
            let ids = stmt
                .query_map([], |r| r.get(0))
                .and_then(|rows| rows.collect())
                .map_err(|e| self.sql(e))?;
            ids
        };
        for id in ids {
            remove_files(&[self.spool.archive(&id), self.spool.key(&id)])?;
            self.conn
                .execute(
                    "UPDATE jobs SET status = 'EXPIRED', has_archive = 0 \
                     WHERE id = ?1 AND status = 'MARKED_FOR_EXPIRY'",
                    [&id],
                )
                .map_err(|e| self.sql(e))?;
        }
        Ok(())
    }

    /// Records a new job for `request_json` (paths relative to `base_dir`,
    /// `overrides` applied as by `collect`) and returns it, IN_PROGRESS and
    /// owned by this process; run it with [`run`](Self::run). Refused with
    /// `RATE_LIMITED` when the store has `max_in_progress` jobs running.
    pub fn create(
        &self,
        request_json: &str,
        base_dir: &Path,
        overrides: &[(&str, Value)],
    ) -> Result<Started> {
        let mut value: Value =
            serde_json::from_str(request_json).map_err(|e| Error::MalformedJson {
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            })?;
        if let Value::Object(map) = &mut value {
            for (k, v) in overrides {
                map.insert((*k).to_string(), v.clone());
            }
        }
        let text = value.to_string();
        let base = std::path::absolute(base_dir).unwrap_or_else(|_| base_dir.to_path_buf());
        let request = Request::from_json(&text, &base)?;
        let kind = JobKind::of(&request);
        let now = self.now();
        check_time_range(kind, &request, now)?;
        self.sweep()?;

        let id = new_job_id();
        let lock = OwnerLock::take(&self.spool.lock(&id))?
            .ok_or_else(|| store_error(&self.spool.lock(&id), "a new job's lock is held"))?;
        let fields = request_fields(kind, &request);
        let inserted = self.write(|tx| {
            self.check_capacity(tx)?;
            tx.execute(
                "INSERT INTO jobs (id, kind, request, base_dir, created_ms, expires_ms, status, \
                 fields, owner_pid) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'IN_PROGRESS', ?7, ?8)",
                params![
                    id,
                    kind.as_str(),
                    text,
                    base.to_string_lossy(),
                    ms(now),
                    ms(kind.default_expiry(now)),
                    fields.to_string(),
                    std::process::id()
                ],
            )
            .map_err(|e| self.sql(e))?;
            Ok(())
        });
        if let Err(e) = inserted {
            // No record names this fresh id: nobody else can use its lock.
            lock.release();
            let _ = fs::remove_file(self.spool.lock(&id));
            return Err(e);
        }
        Ok(Started {
            id,
            lock,
            retry: false,
        })
    }

    fn check_capacity(&self, tx: &rusqlite::Transaction<'_>) -> Result<()> {
        let running: i64 = tx
            .query_row(
                "SELECT COUNT(*) FROM jobs WHERE status = 'IN_PROGRESS'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.sql(e))?;
        if running as usize >= self.options.max_in_progress {
            return Err(refused(
                codes::RATE_LIMITED,
                format!(
                    "{running} jobs are in progress in this store (at most {})",
                    self.options.max_in_progress
                ),
            ));
        }
        Ok(())
    }

    /// Runs a job this process started (created or retried) to its end on
    /// the store's engine, recording the outcome. A delete from any process
    /// cancels it within a fraction of a second.
    pub fn run(&self, started: Started) -> Result<Outcome> {
        let Started { id, lock, retry } = started;
        let outcome = self.run_owned(&id, retry);
        lock.release();
        outcome
    }

    fn run_owned(&self, id: &str, retry: bool) -> Result<Outcome> {
        let row = self.row(&self.conn, id)?;
        let request = Request::from_json(&row.request, Path::new(&row.base_dir))?;
        let key = if request.redacted {
            Some(self.redaction_key(id)?)
        } else {
            None
        };
        let cancel = CancelToken::default();
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        let watcher = self.watch_for_delete(id, &cancel, stopped);
        let mut spec = RunSpec::new().cancel(cancel.clone());
        spec.id = id.to_string();
        spec.created = at(row.created_ms);
        spec.redaction_key = key;
        let archive = self.spool.archive(id);
        let result = self.write_archive(id, |sink| {
            if retry && row.has_archive && archive.exists() {
                retry::run(
                    &self.engine,
                    &request,
                    spec,
                    &archive,
                    &self.spool.archives(),
                    sink,
                )
            } else {
                self.engine
                    .run(&request, Output::Writer(sink), spec)
                    .map(Summary::of)
            }
        });
        drop(stop); // the watcher returns at once
        let deleted = watcher.join().unwrap_or(false);
        let now = ms(self.now());
        if deleted {
            return Ok(Outcome::Deleted);
        }
        match result {
            Ok(summary) => {
                let status = summary.status;
                self.write(|tx| {
                    tx.execute(
                        "UPDATE jobs SET status = ?2, finished_ms = ?3, error_message = NULL, \
                         children = ?4, size_total = ?5, size_limit_hit = ?6, has_archive = 1 \
                         WHERE id = ?1",
                        params![
                            id,
                            status_str(status),
                            now,
                            summary.children,
                            summary.size_total as i64,
                            summary.size_limit_hit
                        ],
                    )
                    .map_err(|e| self.sql(e))
                })?;
                Ok(match status {
                    Status::Success => Outcome::Success,
                    Status::Failure => Outcome::Failure,
                })
            }
            Err(e) => {
                // No archive was written (the old one, on a retry, stays).
                self.write(|tx| {
                    tx.execute(
                        "UPDATE jobs SET status = 'FAILURE', finished_ms = ?2, error_message = ?3 \
                         WHERE id = ?1",
                        params![id, now, e.to_string()],
                    )
                    .map_err(|e| self.sql(e))
                })?;
                Ok(Outcome::Failure)
            }
        }
    }

    /// Runs a started job on a thread of its own (with its own connection
    /// to the store) and returns at once; [`wait`](Self::wait) for it.
    pub fn run_in_background(
        &self,
        started: Started,
    ) -> Result<std::thread::JoinHandle<Result<Outcome>>> {
        let store = JobStore::open(&self.spool.dir, self.engine.clone(), self.options.clone())?;
        std::thread::Builder::new()
            .name(format!("logpack-job-{}", started.id))
            .spawn(move || store.run(started))
            .map_err(|e| store_error(&self.spool.dir, e.to_string()))
    }

    /// Waits until the job is no longer IN_PROGRESS (whichever process runs
    /// it) or `timeout` passes, and returns it.
    pub fn wait(&self, id: &str, timeout: Duration) -> Result<Value> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let job = self.get(id, false)?;
            if job["status"] != "IN_PROGRESS" || std::time::Instant::now() >= deadline {
                return Ok(job);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Writes the job's archive through `write` into `archives/ID.partial`
    /// (mode 0600), then fsyncs it and renames it into place: no
    /// half-written archive is ever downloadable, and a dead owner's partial
    /// file has a name the store can clean up.
    fn write_archive<T>(
        &self,
        id: &str,
        write: impl FnOnce(&mut dyn Write) -> Result<T>,
    ) -> Result<T> {
        use std::os::unix::fs::OpenOptionsExt;
        let partial = self.spool.partial(id);
        let fail = |e: io::Error| Error::Output {
            target: partial.display().to_string(),
            source: e,
        };
        let file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&partial)
            .map_err(fail)?;
        let mut out = io::BufWriter::with_capacity(256 << 10, file);
        let written = write(&mut out).and_then(|made| {
            let file = out.into_inner().map_err(|e| fail(e.into_error()))?;
            file.sync_all().map_err(fail)?;
            fs::rename(&partial, self.spool.archive(id)).map_err(fail)?;
            File::open(self.spool.archives())
                .and_then(|d| d.sync_all())
                .map_err(fail)?;
            Ok(made)
        });
        if written.is_err() {
            let _ = fs::remove_file(&partial);
        }
        written
    }

    /// A thread that polls the record while the job runs and cancels the
    /// run when a delete asks for it (from any process). Returns whether it
    /// did.
    fn watch_for_delete(
        &self,
        id: &str,
        cancel: &CancelToken,
        stopped: crossbeam_channel::Receiver<()>,
    ) -> std::thread::JoinHandle<bool> {
        let (db, id, cancel) = (self.spool.db(), id.to_string(), cancel.clone());
        std::thread::spawn(move || {
            let Ok(conn) = Connection::open(&db) else {
                return false;
            };
            let _ = conn.busy_timeout(Duration::from_secs(5));
            // Polls every 100 ms until the run ends (the sender is dropped).
            while let Err(crossbeam_channel::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(Duration::from_millis(100))
            {
                let asked: Option<bool> = conn
                    .query_row("SELECT cancel FROM jobs WHERE id = ?1", [&id], |r| r.get(0))
                    .optional()
                    .unwrap_or(Some(false));
                if asked != Some(false) {
                    cancel.cancel();
                    return true;
                }
            }
            false
        })
    }

    /// The job's redaction key: made (mode 0600) the first time, then the
    /// same for every retry.
    fn redaction_key(&self, id: &str) -> Result<RedactionKey> {
        let path = self.spool.key(id);
        match fs::read(&path) {
            Ok(bytes) if bytes.len() == 32 => {
                let mut k = [0u8; 32];
                k.copy_from_slice(&bytes);
                return Ok(RedactionKey(k));
            }
            Ok(_) => return Err(store_error(&path, "the redaction key is damaged")),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(store_error(&path, e.to_string())),
        }
        let key = RedactionKey::random();
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| store_error(&path, e.to_string()))?;
        f.write_all(&key.0)
            .and_then(|()| f.sync_all())
            .map_err(|e| store_error(&path, e.to_string()))?;
        Ok(key)
    }

    /// The job, as the Ops Manager resource (PRODUCT.md §9); `childJobs`
    /// when `verbose`.
    pub fn get(&self, id: &str, verbose: bool) -> Result<Value> {
        check_id(id)?;
        self.sweep()?;
        let row = self.row(&self.conn, id)?;
        Ok(self.resource(&row, verbose))
    }

    /// A page of jobs, newest first: `{"results", "totalCount", "links"}`.
    /// `page` counts from 1; `items_per_page` is at most 500.
    pub fn list(&self, page: usize, items_per_page: usize, verbose: bool) -> Result<Value> {
        self.list_of(None, page, items_per_page, verbose)
    }

    /// [`list`](Self::list), of one kind of job only when `kind` is given
    /// (the HTTP API lists project and OM server jobs on different routes).
    pub fn list_of(
        &self,
        kind: Option<JobKind>,
        page: usize,
        items_per_page: usize,
        verbose: bool,
    ) -> Result<Value> {
        if page == 0 {
            return Err(Error::invalid("pageNum", "must be 1 or more"));
        }
        if !(1..=500).contains(&items_per_page) {
            return Err(Error::invalid("itemsPerPage", "must be 1 to 500"));
        }
        self.sweep()?;
        // Every kind is `kind >= ''`: one statement, and each can use an index.
        let (filter, kind) = match kind {
            Some(k) => ("kind = ?3", k.as_str()),
            None => ("kind >= ?3", ""),
        };
        let total: i64 = self
            .conn
            .query_row(
                &format!(
                    "SELECT COUNT(*) FROM jobs WHERE {}",
                    filter.replace("?3", "?1")
                ),
                [kind],
                |r| r.get(0),
            )
            .map_err(|e| self.sql(e))?;
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM jobs WHERE {filter} \
                 ORDER BY created_ms DESC, id DESC LIMIT ?1 OFFSET ?2"
            ))
            .map_err(|e| self.sql(e))?;
        let rows: Vec<Row> = stmt
            .query_map(
                params![
                    items_per_page as i64,
                    ((page - 1) * items_per_page) as i64,
                    kind
                ],
                Row::from_sql,
            )
            .and_then(|r| r.collect())
            .map_err(|e| self.sql(e))?;
        let results: Vec<Value> = rows.iter().map(|r| self.resource(r, verbose)).collect();
        Ok(json!({"results": results, "totalCount": total, "links": []}))
    }

    fn resource(&self, row: &Row, verbose: bool) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(row.id));
        m.insert("groupId".into(), json!(self.group_id));
        m.insert(
            "creationDate".into(),
            json!(timestamp_string(at(row.created_ms))),
        );
        m.insert(
            "expirationDate".into(),
            json!(timestamp_string(at(row.expires_ms))),
        );
        m.insert(
            "finishDate".into(),
            row.finished_ms
                .map_or(Value::Null, |f| json!(timestamp_string(at(f)))),
        );
        m.insert("status".into(), json!(row.status));
        if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(&row.fields) {
            m.extend(fields);
        }
        m.insert(
            "uncompressedSizeTotalBytes".into(),
            json!(row.size_total.max(0)),
        );
        m.insert("sizeLimitHit".into(), json!(row.size_limit_hit));
        if let Some(e) = &row.error_message {
            m.insert("errorMessage".into(), json!(e));
        }
        if verbose {
            let children = row
                .children
                .as_deref()
                .and_then(|c| serde_json::from_str(c).ok())
                .unwrap_or_else(|| json!([]));
            m.insert("childJobs".into(), children);
        }
        Value::Object(m)
    }

    /// A number that changes whenever another connection (another store
    /// handle, another process) commits a change to the store: SQLite's
    /// `data_version`. A server caches answers until it changes.
    pub fn data_version(&self) -> Result<i64> {
        self.conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(|e| self.sql(e))
    }

    /// The job's kind; `LOG_COLLECTION_JOB_NOT_FOUND_IN_GROUP` when there
    /// is no such job.
    pub fn kind_of(&self, id: &str) -> Result<JobKind> {
        check_id(id)?;
        Ok(JobKind::parse(&self.row(&self.conn, id)?.kind))
    }

    /// Marks this process's running jobs FAILURE with `why` and asks their
    /// runs to stop (they notice within 100 ms, as for a delete, and leave
    /// the record as it is set here). For a server that is shutting down.
    pub fn interrupt_own(&self, why: &str) -> Result<usize> {
        let now = ms(self.now());
        self.write(|tx| {
            tx.execute(
                "UPDATE jobs SET status = 'FAILURE', finished_ms = ?2, error_message = ?3, \
                 cancel = 1 WHERE status = 'IN_PROGRESS' AND owner_pid = ?1",
                params![std::process::id(), now, why],
            )
            .map_err(|e| self.sql(e))
        })
    }

    /// The file name a download of the job gets: `logs_<resourceName>_<ts>.tar.gz`,
    /// or `om-logs_<ts>.tar.gz` for an OM server job.
    pub fn archive_name(&self, id: &str) -> Result<String> {
        let row = self.row(&self.conn, id)?;
        let request = Request::from_json(&row.request, Path::new(&row.base_dir))?;
        Ok(format!(
            "{}_{}.tar.gz",
            request.archive_stem(),
            at(row.created_ms).strftime("%Y%m%dT%H%M%SZ")
        ))
    }

    /// Opens the job's archive for download (refused while IN_PROGRESS and
    /// once expired). The open file keeps reading the archive it opened,
    /// even if a retry replaces it meanwhile.
    pub fn open_archive(&self, id: &str) -> Result<(File, String)> {
        check_id(id)?;
        self.sweep()?;
        let row = self.row(&self.conn, id)?;
        match row.status.as_str() {
            "IN_PROGRESS" => {
                return Err(refused(
                    codes::DOWNLOAD_IN_PROGRESS,
                    format!("job {id} is IN_PROGRESS"),
                ))
            }
            "MARKED_FOR_EXPIRY" | "EXPIRED" => {
                return Err(refused(
                    codes::DOWNLOAD_EXPIRED,
                    format!("job {id} is {}", row.status),
                ))
            }
            _ => {}
        }
        let path = self.spool.archive(id);
        let file = File::open(&path).map_err(|e| {
            store_error(
                &path,
                format!(
                    "job {id} has no archive ({e}){}",
                    row.error_message
                        .as_deref()
                        .map(|m| format!("; it failed: {m}"))
                        .unwrap_or_default()
                ),
            )
        })?;
        Ok((file, self.archive_name(id)?))
    }

    /// Copies the job's archive to `output` (a path, a directory to hold
    /// the archive's name, or a stream). Returns where it went.
    pub fn download(&self, id: &str, output: Output<'_>) -> Result<Option<PathBuf>> {
        let (mut file, name) = self.open_archive(id)?;
        let (_, path) = output.write_with(&name, |sink| {
            io::copy(&mut file, sink).map_err(|source| Error::Output {
                target: "<writer>".into(),
                source,
            })?;
            Ok(((), sink))
        })?;
        Ok(path)
    }

    /// Sets the job's expiration to `until`: in the future, at most 6 months
    /// (project) or 28 days (OM server) after creation.
    pub fn extend(&self, id: &str, until: Timestamp) -> Result<Value> {
        check_id(id)?;
        self.sweep()?;
        let now = self.now();
        self.write(|tx| {
            let row = self.row(tx, id)?;
            if matches!(row.status.as_str(), "MARKED_FOR_EXPIRY" | "EXPIRED") {
                return Err(refused(
                    codes::EXTEND_EXPIRED,
                    format!("job {id} is {}", row.status),
                ));
            }
            if until <= now {
                return Err(refused(
                    codes::NOT_IN_FUTURE,
                    format!("{} is not in the future", timestamp_string(until)),
                ));
            }
            let kind = JobKind::parse(&row.kind);
            let max = kind.max_expiry(at(row.created_ms));
            if until > max {
                return Err(refused(
                    codes::TOO_DISTANT,
                    format!(
                        "{} is after {}, the latest expiration for this job",
                        timestamp_string(until),
                        timestamp_string(max)
                    ),
                ));
            }
            tx.execute(
                "UPDATE jobs SET expires_ms = ?2 WHERE id = ?1",
                params![id, ms(until)],
            )
            .map_err(|e| self.sql(e))?;
            Ok(())
        })?;
        self.get(id, false)
    }

    /// Restarts a FAILURE job; run it with [`run`](Self::run). Only its
    /// FAILURE children are collected again.
    pub fn retry(&self, id: &str) -> Result<Started> {
        check_id(id)?;
        self.sweep()?;
        let row = self.row(&self.conn, id)?;
        if row.status != "FAILURE" {
            return Err(refused(
                codes::ONLY_FAILED,
                format!("job {id} is {}", row.status),
            ));
        }
        let Some(lock) = OwnerLock::take(&self.spool.lock(id))? else {
            return Err(refused(
                codes::ONLY_FAILED,
                format!("job {id} is being retried by another process"),
            ));
        };
        let updated = self.write(|tx| {
            let row = self.row(tx, id)?;
            if row.status != "FAILURE" {
                return Err(refused(
                    codes::ONLY_FAILED,
                    format!("job {id} is {}", row.status),
                ));
            }
            self.check_capacity(tx)?;
            tx.execute(
                "UPDATE jobs SET status = 'IN_PROGRESS', finished_ms = NULL, cancel = 0, \
                 owner_pid = ?2 WHERE id = ?1",
                params![id, std::process::id()],
            )
            .map_err(|e| self.sql(e))?;
            Ok(())
        });
        if let Err(e) = updated {
            lock.release();
            return Err(e);
        }
        Ok(Started {
            id: id.to_string(),
            lock,
            retry: true,
        })
    }

    /// Deletes the job, its archive and its key. A running project job is
    /// cancelled first, whichever process runs it; a running OM server job
    /// is refused.
    pub fn delete(&self, id: &str) -> Result<()> {
        check_id(id)?;
        self.sweep()?;
        let running = self.write(|tx| {
            let row = self.row(tx, id)?;
            if row.status != "IN_PROGRESS" {
                return Ok(false);
            }
            if JobKind::parse(&row.kind) == JobKind::OmServer {
                return Err(refused(
                    codes::DELETE_IN_PROGRESS,
                    format!("job {id} is IN_PROGRESS"),
                ));
            }
            tx.execute("UPDATE jobs SET cancel = 1 WHERE id = ?1", [id])
                .map_err(|e| self.sql(e))?;
            Ok(true)
        })?;
        if running {
            // The owner notices within 100 ms and stops between chunks.
            let lock = self.spool.lock(id);
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while db::owner_alive(&lock) && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.write(|tx| {
            tx.execute("DELETE FROM jobs WHERE id = ?1", [id])
                .map_err(|e| self.sql(e))?;
            Ok(())
        })?;
        remove_files(&[
            self.spool.archive(id),
            self.spool.partial(id),
            self.spool.key(id),
            self.spool.lock(id),
        ])
    }
}

/// Removes those of `paths` that exist.
fn remove_files(paths: &[PathBuf]) -> Result<()> {
    for path in paths {
        match fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(store_error(path, e.to_string())),
        }
    }
    Ok(())
}

fn status_str(s: Status) -> &'static str {
    match s {
        Status::Success => "SUCCESS",
        Status::Failure => "FAILURE",
    }
}

/// OM server jobs: a time range has both ends or neither, spans at most 7
/// days, and does not start in the future.
fn check_time_range(kind: JobKind, request: &Request, now: Timestamp) -> Result<()> {
    if kind != JobKind::OmServer {
        return Ok(());
    }
    match (request.from, request.to) {
        (None, None) => Ok(()),
        (Some(_), None) | (None, Some(_)) => Err(Error::invalid(
            "logCollectionFromDate",
            "an OM server job takes both logCollectionFromDate and logCollectionToDate, or neither",
        )),
        (Some(from), Some(to)) => {
            if from > now {
                return Err(Error::invalid("logCollectionFromDate", "is in the future"));
            }
            if to.duration_since(from) > jiff::SignedDuration::from_hours(7 * 24) {
                return Err(Error::invalid(
                    "logCollectionToDate",
                    "an OM server job's range is at most 7 days",
                ));
            }
            Ok(())
        }
    }
}

/// The request's fields as the job resource shows them. A project job's
/// dates are epoch milliseconds (the Ops Manager Go client reads `int64`);
/// an OM server job's are RFC 3339 strings.
fn request_fields(kind: JobKind, request: &Request) -> Value {
    let mut m = Map::new();
    m.insert("resourceType".into(), json!(request.resource_type));
    m.insert("resourceName".into(), json!(request.resource_name));
    m.insert("redacted".into(), json!(request.redacted));
    m.insert(
        "logTypes".into(),
        json!(request
            .log_types
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()),
    );
    m.insert(
        "sizeRequestedPerFileBytes".into(),
        json!(request.size_requested_per_file_bytes),
    );
    for (key, t) in [
        ("logCollectionFromDate", request.from),
        ("logCollectionToDate", request.to),
    ] {
        if let Some(t) = t {
            let v = match kind {
                JobKind::Project => json!(t.as_millisecond()),
                JobKind::OmServer => json!(t.to_string()),
            };
            m.insert(key.into(), v);
        }
    }
    Value::Object(m)
}

/// What the store keeps of a finished run.
pub(crate) struct Summary {
    status: Status,
    /// The children without their file lists (JSON array).
    children: String,
    size_total: u64,
    size_limit_hit: bool,
}

impl Summary {
    fn of(report: Report) -> Summary {
        let children: Vec<ChildSummary> = report
            .manifest
            .child_jobs
            .iter()
            .map(ChildSummary::from)
            .collect();
        Summary {
            status: report.manifest.status,
            children: serde_json::to_string(&children).unwrap_or_else(|_| "[]".into()),
            size_total: report.manifest.uncompressed_size_total_bytes,
            size_limit_hit: report.manifest.size_limit_hit,
        }
    }
}
