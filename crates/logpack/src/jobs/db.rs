//! The job store on disk: a spool directory with an SQLite database (WAL)
//! of job records, the archives, the redaction keys and one lock file per
//! running job.
//!
//! ```text
//! SPOOL/logpack.db        job records (schema version in PRAGMA user_version)
//! SPOOL/archives/ID.tar.gz  mode 0600, written to a temporary name and renamed
//! SPOOL/keys/ID.key       the redaction key, mode 0600, never in an archive
//! SPOOL/locks/ID.lock     flock'ed by the process running the job
//! ```
//!
//! A running job's owner holds an exclusive `flock` on its lock file from
//! before the record exists until after it is final, so any process can tell
//! at once whether the owner is alive: if the lock can be taken, it died.

use std::fs::{self, File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::error::{Error, Result};

/// The schema this logpack writes; older stores are migrated up to it.
pub(crate) const SCHEMA_VERSION: i64 = 2;

/// Each migration takes the store from version `i` to `i + 1`.
const MIGRATIONS: [&str; 2] = [
    r#"
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE jobs (
        id            TEXT PRIMARY KEY,
        kind          TEXT NOT NULL,
        request       TEXT NOT NULL,
        base_dir      TEXT NOT NULL,
        created_ms    INTEGER NOT NULL,
        expires_ms    INTEGER NOT NULL,
        finished_ms   INTEGER,
        status        TEXT NOT NULL,
        error_message TEXT,
        fields        TEXT NOT NULL,
        children      TEXT,
        size_total    INTEGER NOT NULL DEFAULT 0,
        size_limit_hit INTEGER NOT NULL DEFAULT 0,
        has_archive   INTEGER NOT NULL DEFAULT 0,
        cancel        INTEGER NOT NULL DEFAULT 0,
        owner_pid     INTEGER
    );
    CREATE INDEX jobs_by_creation ON jobs (created_ms DESC, id DESC);
"#,
    // What every operation's sweep looks for, and the HTTP API's per-kind
    // lists, without a scan of the table.
    r#"
    CREATE INDEX jobs_by_status ON jobs (status, expires_ms);
    CREATE INDEX jobs_by_kind ON jobs (kind, created_ms DESC, id DESC);
"#,
];

/// One job record.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub id: String,
    pub kind: String,
    pub request: String,
    pub base_dir: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub finished_ms: Option<i64>,
    pub status: String,
    pub error_message: Option<String>,
    /// The request's fields as the job resource shows them (JSON object).
    pub fields: String,
    /// The children without their file lists (JSON array), once finished.
    pub children: Option<String>,
    pub size_total: i64,
    pub size_limit_hit: bool,
    pub has_archive: bool,
}

pub(crate) const COLUMNS: &str =
    "id, kind, request, base_dir, created_ms, expires_ms, finished_ms, \
    status, error_message, fields, children, size_total, size_limit_hit, has_archive";

impl Row {
    pub(crate) fn from_sql(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
        Ok(Row {
            id: r.get(0)?,
            kind: r.get(1)?,
            request: r.get(2)?,
            base_dir: r.get(3)?,
            created_ms: r.get(4)?,
            expires_ms: r.get(5)?,
            finished_ms: r.get(6)?,
            status: r.get(7)?,
            error_message: r.get(8)?,
            fields: r.get(9)?,
            children: r.get(10)?,
            size_total: r.get(11)?,
            size_limit_hit: r.get(12)?,
            has_archive: r.get(13)?,
        })
    }
}

/// The spool directory's paths.
#[derive(Debug, Clone)]
pub(crate) struct Spool {
    pub dir: PathBuf,
}

impl Spool {
    pub fn db(&self) -> PathBuf {
        self.dir.join("logpack.db")
    }
    pub fn archives(&self) -> PathBuf {
        self.dir.join("archives")
    }
    pub fn archive(&self, id: &str) -> PathBuf {
        self.archives().join(format!("{id}.tar.gz"))
    }
    /// The archive being written, renamed to [`archive`](Self::archive) when complete.
    pub fn partial(&self, id: &str) -> PathBuf {
        self.archives().join(format!("{id}.partial"))
    }
    pub fn key(&self, id: &str) -> PathBuf {
        self.dir.join("keys").join(format!("{id}.key"))
    }
    pub fn lock(&self, id: &str) -> PathBuf {
        self.dir.join("locks").join(format!("{id}.lock"))
    }

    /// Makes the directories (mode 0700) that are missing.
    pub fn create(&self) -> Result<()> {
        for d in [
            self.dir.clone(),
            self.archives(),
            self.dir.join("keys"),
            self.dir.join("locks"),
        ] {
            if d.is_dir() {
                continue;
            }
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&d)
                .map_err(|e| store_error(&d, e.to_string()))?;
        }
        Ok(())
    }
}

pub(crate) fn store_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Store {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Opens (and creates or migrates) the database.
pub(crate) fn open(spool: &Spool) -> Result<Connection> {
    let path = spool.db();
    let fail = |e: rusqlite::Error| store_error(&path, e.to_string());
    let conn = Connection::open(&path).map_err(fail)?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(fail)?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(fail)?;
    if version > SCHEMA_VERSION {
        return Err(store_error(
            &path,
            format!(
                "the database has schema version {version}, from a newer logpack \
                 (this one knows up to {SCHEMA_VERSION}); it is left as it is"
            ),
        ));
    }
    // Switching a new database to WAL does not wait for the busy handler:
    // several processes opening a new store at once retry here.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Ok(()) => break,
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(fail(e)),
        }
    }
    if version < SCHEMA_VERSION {
        migrate(&conn, &path)?;
    }
    Ok(conn)
}

fn migrate(conn: &Connection, path: &Path) -> Result<()> {
    let fail = |e: rusqlite::Error| store_error(path, e.to_string());
    let tx =
        rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Exclusive).map_err(fail)?;
    // Read again under the lock: another process may have migrated already.
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(fail)?;
    for (v, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql).map_err(fail)?;
        tx.pragma_update(None, "user_version", v as i64 + 1)
            .map_err(fail)?;
    }
    tx.commit().map_err(fail)
}

/// A value of the `meta` table, made by `make` the first time.
pub(crate) fn meta(
    conn: &Connection,
    key: &str,
    make: impl FnOnce() -> String,
) -> rusqlite::Result<String> {
    if let Some(v) = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?
    {
        return Ok(v);
    }
    conn.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)",
        params![key, make()],
    )?;
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
}

/// The exclusive lock a running job's owner holds; released on drop.
#[derive(Debug)]
pub(crate) struct OwnerLock {
    file: File,
}

impl OwnerLock {
    /// Creates (if needed) and locks `path`; `None` when another open file
    /// holds its lock (a live owner).
    pub fn take(path: &Path) -> Result<Option<OwnerLock>> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(|e| store_error(path, e.to_string()))?;
        if !try_flock(&file) {
            return Ok(None);
        }
        Ok(Some(OwnerLock { file }))
    }

    /// Releases the lock. The file stays: removing it could race with a
    /// process about to lock it (it goes when the job is deleted).
    pub fn release(self) {
        drop(self.file);
    }
}

/// Takes an exclusive flock without waiting; false if another open file
/// holds it (in this process or another).
fn try_flock(file: &File) -> bool {
    // SAFETY: a plain syscall on a descriptor that `file` keeps open.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// Whether the owner of the job whose lock file is `path` is alive: its
/// lock is held. A missing file, or a lock that can be taken, means the
/// owner is gone (a taken lock is released again at once).
pub(crate) fn owner_alive(path: &Path) -> bool {
    match File::open(path) {
        Ok(f) => !try_flock(&f),
        Err(_) => false,
    }
}
