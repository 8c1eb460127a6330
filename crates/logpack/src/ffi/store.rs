//! The job store handle (PRODUCT.md §9): the Ops Manager lifecycle of log
//! collection jobs (create, wait, get, list, download, extend, retry,
//! delete) over a spool directory, with results as JSON strings.
//!
//! The handle follows the job handle's conventions: `logpack_store_new`
//! gives a handle before anything can fail, so that every error, the
//! opening's included, is read from it with `logpack_store_last_error`.
//! Refusals carry their Ops Manager code at the start of that message
//! (`"EXPIRATION_DATE_MUST_BE_IN_FUTURE: ..."`).

use std::ffi::{c_char, c_int, c_uint, c_void, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use super::boundary::{bytes, copy_message, guard, require, CallbackWriter};
use super::job::logpack_write_fn;
use super::result::logpack_result;
use super::result::logpack_result::*;
use crate::jobs::{JobStore, Outcome, StoreOptions};
use crate::{Error, Options, Output};

/// `logpack_store_set_option` key: the threads of the engine that runs the
/// store's jobs, 1 to 1024. Default: the available cores.
pub const LOGPACK_STORE_OPTION_THREADS: c_uint = 1;
/// `logpack_store_set_option` key: the jobs that may be `IN_PROGRESS` at
/// once in the store, counted across every process that uses it, 1 to
/// 1024. Default 4. One more is refused with `LOGPACK_RESULT_BUSY`
/// (`RATE_LIMITED`).
pub const LOGPACK_STORE_OPTION_MAX_IN_PROGRESS: c_uint = 2;

/// What `last_error` says after a panic, which poisons the store.
const POISONED: &str = "a panic was caught inside logpack; the store is poisoned: \
                        only logpack_store_free is accepted";

/// A job store over a spool directory: new, set options, open, then any
/// number of operations. Opaque. Calls on one store are serialized (a
/// `logpack_store_wait` holds it until it returns); its last error is that
/// of the last call, so use a store from one thread at a time, or open one
/// store per thread (handles on the same directory see the same jobs).
pub struct logpack_store {
    inner: Mutex<Inner>,
}

struct Inner {
    threads: usize,
    max_in_progress: usize,
    store: Option<JobStore>,
    /// The runs this handle started (create, retry), each on a thread of
    /// its own; `logpack_store_free` waits for them.
    running: Vec<JoinHandle<crate::Result<Outcome>>>,
    last_error: String,
}

impl Inner {
    fn fail(&mut self, code: logpack_result, message: impl Into<String>) -> logpack_result {
        self.last_error = message.into();
        code
    }

    /// The code and message of `e`, kept as the last error.
    fn error(&mut self, e: &Error) -> logpack_result {
        self.fail(logpack_result::of(e), e.to_string())
    }

    /// Runs `op` on the open store; an error becomes the last error.
    fn on_store<T>(
        &mut self,
        op: impl FnOnce(&JobStore) -> crate::Result<T>,
    ) -> Result<T, logpack_result> {
        let done = op(self.open_store()?);
        done.map_err(|e| self.error(&e))
    }

    /// Hands `text` to the caller as a NUL-terminated string of `*len`
    /// bytes, freed with `logpack_string_free`.
    ///
    /// SAFETY: `out` and `len` are non-NULL and writable.
    unsafe fn hand_out(
        &mut self,
        text: String,
        out: *mut *mut c_char,
        len: *mut usize,
    ) -> Result<logpack_result, logpack_result> {
        let n = text.len();
        // serde_json escapes NUL and an id is hex: this never fails.
        let s = CString::new(text)
            .map_err(|_| self.fail(LOGPACK_RESULT_IO, "a result held a NUL byte"))?;
        // SAFETY: see above.
        unsafe {
            *out = s.into_raw();
            *len = n;
        }
        Ok(LOGPACK_RESULT_OK)
    }

    fn open_store(&mut self) -> Result<&JobStore, logpack_result> {
        if self.store.is_none() {
            return Err(self.fail(
                LOGPACK_RESULT_INVALID_STATE,
                "the store is not open: call logpack_store_open first",
            ));
        }
        Ok(self.store.as_ref().expect("checked above"))
    }

    /// Joins the runs that have ended, so that the list stays short.
    fn reap(&mut self) {
        let (ended, running): (Vec<_>, Vec<_>) = std::mem::take(&mut self.running)
            .into_iter()
            .partition(|h| h.is_finished());
        self.running = running;
        for h in ended {
            // The outcome is in the store's record; a panic in the run
            // leaves the record to the liveness check (FAILURE, interrupted).
            let _ = h.join();
        }
    }

    /// Runs a started job (create or retry) in the background.
    fn start(&mut self, started: crate::jobs::Started) -> Result<(), logpack_result> {
        let id = started.id.clone();
        let handle = self.open_store()?.run_in_background(started);
        match handle {
            Ok(handle) => {
                self.running.push(handle);
                Ok(())
            }
            Err(e) => Err(self.fail(
                logpack_result::of(&e),
                format!("job {id} was recorded but could not be started: {e}"),
            )),
        }
    }
}

impl logpack_store {
    /// Runs `f` on the store; `Err(code)` means the last error is set. A
    /// poisoned store (a panic in an earlier call) refuses everything.
    /// Until `f` returns, the last error says that a panic happened, which
    /// is what is left if `f` panics.
    fn with(
        &self,
        f: impl FnOnce(&mut Inner) -> Result<logpack_result, logpack_result>,
    ) -> logpack_result {
        let mut inner = match self.inner.lock() {
            Ok(inner) => inner,
            Err(poisoned) => {
                poisoned.into_inner().last_error = POISONED.into();
                return LOGPACK_RESULT_INVALID_STATE;
            }
        };
        inner.last_error = POISONED.into();
        inner.reap();
        let code = f(&mut inner).unwrap_or_else(|code| code);
        if code == LOGPACK_RESULT_OK {
            inner.last_error.clear();
        }
        code
    }

    /// The state, poisoned or not (for last_error and free).
    fn lock_any(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

// SAFETY (for every function below): pointers are checked for NULL before
// use; a non-NULL `store` must come from `logpack_store_new` and not be
// freed; a `(ptr, len)` pair must describe readable memory.

/// A job id from `(ptr, len)`; the store checks its form.
unsafe fn id_of<'a>(ptr: *const c_char, len: usize) -> Result<&'a str, Error> {
    std::str::from_utf8(bytes(ptr, len))
        .map_err(|_| Error::invalid("id", "not valid UTF-8 (24 lower-case hex digits)"))
}

/// Creates a store handle, not yet open: set options, then
/// `logpack_store_open`. Ownership: the caller frees it with
/// `logpack_store_free`. Returns NULL only on a caught panic.
#[no_mangle]
pub extern "C" fn logpack_store_new() -> *mut logpack_store {
    guard(|| {
        Box::into_raw(Box::new(logpack_store {
            inner: Mutex::new(Inner {
                threads: Options::default().threads,
                max_in_progress: StoreOptions::default().max_in_progress,
                store: None,
                running: Vec::new(),
                last_error: String::new(),
            }),
        }))
    })
}

/// Frees a store, after waiting for the runs it started (create, retry)
/// to end: a job runs to its end unless deleted (delete a project job
/// first to cancel its run). Strings handed out stay valid: they have
/// their own free function. NULL is a no-op. Must not be called while
/// another call on the store is under way.
#[no_mangle]
pub unsafe extern "C" fn logpack_store_free(store: *mut logpack_store) {
    guard(|| {
        if store.is_null() {
            return;
        }
        // SAFETY: `store` came from logpack_store_new and is freed once.
        let store = unsafe { Box::from_raw(store) };
        let running = std::mem::take(&mut store.lock_any().running);
        for h in running {
            let _ = h.join();
        }
    })
}

/// Sets one option (`LOGPACK_STORE_OPTION_*`) before `logpack_store_open`.
/// Returns OK, NULL_PARAMETER, INVALID_OPTION for an unknown key or a
/// value out of range, or INVALID_STATE once the store is open.
#[no_mangle]
pub unsafe extern "C" fn logpack_store_set_option(
    store: *mut logpack_store,
    key: c_uint,
    value: i64,
) -> logpack_result {
    guard(|| {
        require!(store);
        // SAFETY: checked non-NULL.
        let store = unsafe { &*store };
        store.with(|inner| {
            if inner.store.is_some() {
                return Err(inner.fail(LOGPACK_RESULT_INVALID_STATE, "the store is open already"));
            }
            let bad = |what: &str| format!("store option {key}: {value} is not a valid {what}");
            let in_range = (1..=1024).contains(&value);
            match key {
                LOGPACK_STORE_OPTION_THREADS if in_range => inner.threads = value as usize,
                LOGPACK_STORE_OPTION_MAX_IN_PROGRESS if in_range => {
                    inner.max_in_progress = value as usize
                }
                LOGPACK_STORE_OPTION_THREADS => {
                    return Err(
                        inner.fail(LOGPACK_RESULT_INVALID_OPTION, bad("thread count (1-1024)"))
                    )
                }
                LOGPACK_STORE_OPTION_MAX_IN_PROGRESS => {
                    return Err(inner.fail(
                        LOGPACK_RESULT_INVALID_OPTION,
                        bad("number of jobs in progress (1-1024)"),
                    ))
                }
                _ => {
                    return Err(inner.fail(
                        LOGPACK_RESULT_INVALID_OPTION,
                        format!("unknown store option key {key}"),
                    ))
                }
            }
            Ok(LOGPACK_RESULT_OK)
        })
    })
}

/// Opens the store in the spool directory `dir` (`len` bytes, need not be
/// UTF-8), creating it (mode 0700) when missing. Any number of handles and
/// processes may open the same directory. Returns OK, NULL_PARAMETER, IO
/// when the store cannot be used (message in `logpack_store_last_error`),
/// or INVALID_STATE when the store is open already.
#[no_mangle]
pub unsafe extern "C" fn logpack_store_open(
    store: *mut logpack_store,
    dir: *const c_char,
    len: usize,
) -> logpack_result {
    guard(|| {
        require!(store, dir);
        // SAFETY: checked non-NULL; see `bytes`.
        let (store, dir) = unsafe { (&*store, bytes(dir, len)) };
        store.with(|inner| {
            if inner.store.is_some() {
                return Err(inner.fail(LOGPACK_RESULT_INVALID_STATE, "the store is open already"));
            }
            if dir.is_empty() {
                return Err(inner.fail(LOGPACK_RESULT_IO, "the spool directory is empty"));
            }
            let engine = super::job::shared_engine(inner.threads).map_err(|e| inner.error(&e))?;
            let options = StoreOptions {
                max_in_progress: inner.max_in_progress,
                ..StoreOptions::default()
            };
            let opened = JobStore::open(Path::new(OsStr::from_bytes(dir)), engine, options)
                .map_err(|e| inner.error(&e))?;
            inner.store = Some(opened);
            Ok(LOGPACK_RESULT_OK)
        })
    })
}

/// A base directory: an existing directory, or the working directory.
fn base_dir_of(inner: &mut Inner, base: Option<PathBuf>) -> Result<PathBuf, logpack_result> {
    let Some(b) = base else {
        return std::env::current_dir()
            .map_err(|e| inner.fail(LOGPACK_RESULT_IO, format!("the working directory: {e}")));
    };
    match std::fs::metadata(&b) {
        Ok(m) if m.is_dir() => Ok(b),
        Ok(_) => Err(inner.fail(
            LOGPACK_RESULT_IO,
            format!("{}: not a directory", b.display()),
        )),
        Err(e) => Err(inner.fail(LOGPACK_RESULT_IO, format!("{}: {e}", b.display()))),
    }
}

/// Records a job for the request JSON (`json`, `json_len` bytes) and
/// starts it on a thread of its own; returns at once with the job's id
/// (24 hex digits) in `*id` (NUL-terminated, `*id_len` bytes; free it with
/// `logpack_string_free`). Relative request paths resolve against
/// `base_dir` (`base_dir_len` bytes, need not be UTF-8), or against the
/// working directory when `base_dir` is NULL. Returns OK,
/// NULL_PARAMETER, INVALID_REQUEST (malformed or invalid request, or an
/// OM server job's time range that breaks its rules), IO (`base_dir` is
/// not a directory, or the store cannot be used), BUSY (`RATE_LIMITED`:
/// too many jobs in progress) or INVALID_STATE (not open). Outputs are
/// written only on OK.
#[no_mangle]
pub unsafe extern "C" fn logpack_store_create(
    store: *mut logpack_store,
    json: *const c_char,
    json_len: usize,
    base_dir: *const c_char,
    base_dir_len: usize,
    id: *mut *mut c_char,
    id_len: *mut usize,
) -> logpack_result {
    guard(|| {
        require!(store, json, id, id_len);
        // SAFETY: checked non-NULL; see `bytes`.
        let (store, json) = unsafe { (&*store, bytes(json, json_len)) };
        // SAFETY: checked non-NULL; see `bytes`.
        let base = (!base_dir.is_null())
            .then(|| PathBuf::from(OsStr::from_bytes(unsafe { bytes(base_dir, base_dir_len) })));
        store.with(|inner| {
            let text = std::str::from_utf8(json).map_err(|_| {
                inner.fail(LOGPACK_RESULT_INVALID_REQUEST, "request: not valid UTF-8")
            })?;
            #[cfg(test)]
            if text.contains("\"resourceName\":\"panic-inside-store\"") {
                panic!("a panic inside a store call, for the boundary test");
            }
            let base = base_dir_of(inner, base)?;
            let started = inner.on_store(|s| s.create(text, &base, &[]))?;
            let job_id = started.id.clone();
            inner.start(started)?;
            // SAFETY: `id` and `id_len` were checked non-NULL.
            unsafe { inner.hand_out(job_id, id, id_len) }
        })
    })
}

/// Waits until the job is no longer `IN_PROGRESS` (whichever process runs
/// it) or `timeout_ms` milliseconds pass, then gives the job's JSON (the
/// Ops Manager resource; its `status` tells which) in `*json`
/// (NUL-terminated, `*json_len` bytes; free it with `logpack_string_free`).
/// Holds the store while it waits. Returns OK, NULL_PARAMETER,
/// INVALID_REQUEST (a malformed id), NOT_FOUND, IO or INVALID_STATE.
#[no_mangle]
pub unsafe extern "C" fn logpack_store_wait(
    store: *mut logpack_store,
    id: *const c_char,
    id_len: usize,
    timeout_ms: u64,
    json: *mut *mut c_char,
    json_len: *mut usize,
) -> logpack_result {
    guard(|| {
        require!(store, id, json, json_len);
        // SAFETY: checked non-NULL; see `id_of`.
        let (store, id) = unsafe { (&*store, id_of(id, id_len)) };
        store.with(|inner| {
            let id = id.map_err(|e| inner.error(&e))?;
            let job = inner.on_store(|s| s.wait(id, Duration::from_millis(timeout_ms)))?;
            // SAFETY: `json` and `json_len` were checked non-NULL.
            unsafe { inner.hand_out(job.to_string(), json, json_len) }
        })
    })
}

/// The job's JSON (the Ops Manager resource, with `childJobs` when
/// `verbose` is non-zero) in `*json` (NUL-terminated, `*json_len` bytes;
/// free it with `logpack_string_free`). Returns OK, NULL_PARAMETER,
/// INVALID_REQUEST (a malformed id), NOT_FOUND
/// (`LOG_COLLECTION_JOB_NOT_FOUND_IN_GROUP`), IO or INVALID_STATE.
#[no_mangle]
pub unsafe extern "C" fn logpack_store_get(
    store: *mut logpack_store,
    id: *const c_char,
    id_len: usize,
    verbose: c_int,
    json: *mut *mut c_char,
    json_len: *mut usize,
) -> logpack_result {
    guard(|| {
        require!(store, id, json, json_len);
        // SAFETY: checked non-NULL; see `id_of`.
        let (store, id) = unsafe { (&*store, id_of(id, id_len)) };
        store.with(|inner| {
            let id = id.map_err(|e| inner.error(&e))?;
            let job = inner.on_store(|s| s.get(id, verbose != 0))?;
            // SAFETY: `json` and `json_len` were checked non-NULL.
            unsafe { inner.hand_out(job.to_string(), json, json_len) }
        })
    })
}

/// A page of jobs, newest first, as `{"results": [...], "totalCount": N,
/// "links": []}` in `*json` (NUL-terminated, `*json_len` bytes; free it
/// with `logpack_string_free`). `page` counts from 1; `items_per_page` is
/// 1 to 500; `verbose` non-zero adds `childJobs`. Returns OK,
/// NULL_PARAMETER, INVALID_REQUEST (page or size out of range), IO or
/// INVALID_STATE.
#[no_mangle]
pub unsafe extern "C" fn logpack_store_list(
    store: *mut logpack_store,
    page: usize,
    items_per_page: usize,
    verbose: c_int,
    json: *mut *mut c_char,
    json_len: *mut usize,
) -> logpack_result {
    guard(|| {
        require!(store, json, json_len);
        // SAFETY: checked non-NULL.
        let store = unsafe { &*store };
        store.with(|inner| {
            let list = inner.on_store(|s| s.list(page, items_per_page, verbose != 0))?;
            // SAFETY: `json` and `json_len` were checked non-NULL.
            unsafe { inner.hand_out(list.to_string(), json, json_len) }
        })
    })
}

/// Copies the job's archive (a tar.gz) to `path` (`path_len` bytes, need
/// not be UTF-8), or into an existing directory under the job's archive
/// name (`logs_<resourceName>_<ts>.tar.gz`, `om-logs_<ts>.tar.gz`). The
/// copy goes to a temporary file, fsynced and renamed. A FAILURE job
/// downloads its successful components. Returns OK, NULL_PARAMETER,
/// INVALID_REQUEST (a malformed id), NOT_FOUND, REFUSED
/// (`CANNOT_DOWNLOAD_JOB_IN_PROGRESS`, `CANNOT_DOWNLOAD_EXPIRED_JOB`),
/// OUTPUT (nothing is left at the path), IO (e.g. a job that failed
/// before writing any archive) or INVALID_STATE.
#[no_mangle]
pub unsafe extern "C" fn logpack_store_download_to_path(
    store: *mut logpack_store,
    id: *const c_char,
    id_len: usize,
    path: *const c_char,
    path_len: usize,
) -> logpack_result {
    guard(|| {
        require!(store, id, path);
        // SAFETY: checked non-NULL; see `bytes` and `id_of`.
        let (store, id, path) = unsafe { (&*store, id_of(id, id_len), bytes(path, path_len)) };
        let path = PathBuf::from(OsStr::from_bytes(path));
        store.with(|inner| {
            let id = id.map_err(|e| inner.error(&e))?;
            inner.on_store(|s| s.download(id, Output::Path(path)))?;
            Ok(LOGPACK_RESULT_OK)
        })
    })
}

/// Hands the job's archive to `write` in order, on this thread (`buf` is
/// valid only during the call). Returns what
/// `logpack_store_download_to_path` returns; a non-zero return from
/// `write` gives OUTPUT and ends the download.
#[no_mangle]
pub unsafe extern "C" fn logpack_store_download_to_writer(
    store: *mut logpack_store,
    id: *const c_char,
    id_len: usize,
    write: logpack_write_fn,
    userdata: *mut c_void,
) -> logpack_result {
    guard(|| {
        require!(store, id);
        let Some(write) = write else {
            return LOGPACK_RESULT_NULL_PARAMETER;
        };
        // SAFETY: checked non-NULL; see `id_of`.
        let (store, id) = unsafe { (&*store, id_of(id, id_len)) };
        let mut sink = CallbackWriter { write, userdata };
        store.with(|inner| {
            let id = id.map_err(|e| inner.error(&e))?;
            inner.on_store(|s| s.download(id, Output::Writer(&mut sink)))?;
            Ok(LOGPACK_RESULT_OK)
        })
    })
}

/// Sets the job's expiration to `date` (RFC 3339, `date_len` bytes, e.g.
/// `"2030-01-01T00:00:00Z"`): any instant in the future, up to 6 months
/// (project job) or 28 days (OM server job) after its creation. Gives the
/// updated job's JSON in `*json` (NUL-terminated, `*json_len` bytes; free
/// it with `logpack_string_free`). Returns OK, NULL_PARAMETER,
/// INVALID_REQUEST (a malformed id or date), NOT_FOUND, REFUSED
/// (`CANNOT_EXTEND_EXPIRED_JOB`, `EXPIRATION_DATE_MUST_BE_IN_FUTURE`,
/// `EXPIRATION_DATE_TOO_DISTANT`), IO or INVALID_STATE.
#[no_mangle]
pub unsafe extern "C" fn logpack_store_extend(
    store: *mut logpack_store,
    id: *const c_char,
    id_len: usize,
    date: *const c_char,
    date_len: usize,
    json: *mut *mut c_char,
    json_len: *mut usize,
) -> logpack_result {
    guard(|| {
        require!(store, id, date, json, json_len);
        // SAFETY: checked non-NULL; see `bytes` and `id_of`.
        let (store, id, date) = unsafe { (&*store, id_of(id, id_len), bytes(date, date_len)) };
        let until = std::str::from_utf8(date)
            .map_err(|_| Error::invalid("expirationDate", "not valid UTF-8"))
            .and_then(|d| {
                d.parse::<jiff::Timestamp>().map_err(|e| {
                    Error::invalid(
                        "expirationDate",
                        format!("{d:?} is not an RFC 3339 date: {e}"),
                    )
                })
            });
        store.with(|inner| {
            let id = id.map_err(|e| inner.error(&e))?;
            let until = until.map_err(|e| inner.error(&e))?;
            let job = inner.on_store(|s| s.extend(id, until))?;
            // SAFETY: `json` and `json_len` were checked non-NULL.
            unsafe { inner.hand_out(job.to_string(), json, json_len) }
        })
    })
}

/// Restarts a FAILURE job on a thread of its own and returns at once; wait
/// for it with `logpack_store_wait`. Only its FAILURE components are
/// collected again; the others are carried over from its archive. Returns
/// OK, NULL_PARAMETER, INVALID_REQUEST (a malformed id), NOT_FOUND,
/// REFUSED (`ONLY_FAILED_JOB_CAN_BE_RESTARTED`), BUSY (`RATE_LIMITED`),
/// IO or INVALID_STATE.
#[no_mangle]
pub unsafe extern "C" fn logpack_store_retry(
    store: *mut logpack_store,
    id: *const c_char,
    id_len: usize,
) -> logpack_result {
    guard(|| {
        require!(store, id);
        // SAFETY: checked non-NULL; see `id_of`.
        let (store, id) = unsafe { (&*store, id_of(id, id_len)) };
        store.with(|inner| {
            let id = id.map_err(|e| inner.error(&e))?;
            let started = inner.on_store(|s| s.retry(id))?;
            inner.start(started)?;
            Ok(LOGPACK_RESULT_OK)
        })
    })
}

/// Deletes the job, its archive and its record. A project job still
/// running (in any process) is cancelled first, and the call waits for its
/// run to stop; an OM server job still running is refused. Returns OK,
/// NULL_PARAMETER, INVALID_REQUEST (a malformed id), NOT_FOUND, REFUSED
/// (`CANNOT_DELETE_JOB_IN_PROGRESS`), IO or INVALID_STATE.
#[no_mangle]
pub unsafe extern "C" fn logpack_store_delete(
    store: *mut logpack_store,
    id: *const c_char,
    id_len: usize,
) -> logpack_result {
    guard(|| {
        require!(store, id);
        // SAFETY: checked non-NULL; see `id_of`.
        let (store, id) = unsafe { (&*store, id_of(id, id_len)) };
        store.with(|inner| {
            let id = id.map_err(|e| inner.error(&e))?;
            inner.on_store(|s| s.delete(id))?;
            Ok(LOGPACK_RESULT_OK)
        })
    })
}

/// Copies the store's last error message (UTF-8, no NUL) into `buf`, at
/// most `cap` bytes (never splitting a character), and stores the number
/// of bytes copied in `*out_len`. With `buf` NULL and `cap` 0, stores the
/// message's full length instead. A refusal's message starts with its Ops
/// Manager code and a colon, e.g. `"RATE_LIMITED: 4 jobs are in
/// progress..."`. An empty message means the last call succeeded. Returns
/// OK or NULL_PARAMETER (`buf` NULL with `cap` > 0).
#[no_mangle]
pub unsafe extern "C" fn logpack_store_last_error(
    store: *const logpack_store,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> logpack_result {
    guard(|| {
        require!(store, out_len);
        // SAFETY: checked non-NULL.
        let inner = unsafe { (*store).lock_any() };
        let message = inner.last_error.as_str();
        // SAFETY: `out_len` checked non-NULL; `buf` holds `cap` bytes.
        unsafe { copy_message(message, buf, cap, out_len) }
    })
}

/// Frees a string handed out by logpack (a job id, a job's or a list's
/// JSON). NULL is a no-op. The pointer must be the one logpack gave, freed
/// once. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn logpack_string_free(s: *mut c_char) {
    guard(|| {
        if !s.is_null() {
            // SAFETY: from CString::into_raw in `hand_out`, freed once.
            drop(unsafe { CString::from_raw(s) });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn last_error(store: *const logpack_store) -> String {
        let mut buf = vec![0u8; 4096];
        let mut n = 0;
        let rc =
            unsafe { logpack_store_last_error(store, buf.as_mut_ptr().cast(), buf.len(), &mut n) };
        assert_eq!(rc, LOGPACK_RESULT_OK);
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    fn open(dir: &Path, max_in_progress: Option<usize>) -> *mut logpack_store {
        let store = logpack_store_new();
        let spool = dir.join("spool");
        let spool = spool.as_os_str().as_bytes();
        unsafe {
            assert_eq!(
                logpack_store_set_option(store, LOGPACK_STORE_OPTION_THREADS, 2),
                LOGPACK_RESULT_OK
            );
            if let Some(n) = max_in_progress {
                // 0 is refused by set_option; set it directly, so that
                // every create is RATE_LIMITED.
                (*store).lock_any().max_in_progress = n;
            }
            assert_eq!(
                logpack_store_open(store, spool.as_ptr().cast(), spool.len()),
                LOGPACK_RESULT_OK,
                "{}",
                last_error(store)
            );
        }
        store
    }

    fn deployment(dir: &Path, resource: &str) -> String {
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        std::fs::write(dir.join("logs/mongod.log"), "a line\n".repeat(1000)).unwrap();
        format!(
            r#"{{"resourceName":"{resource}","hosts":[{{"hostname":"h","processes":[{{"type":"mongod","port":1,"logPath":"logs/mongod.log"}}]}}]}}"#
        )
    }

    fn create(store: *mut logpack_store, json: &str, base: &Path) -> (logpack_result, String) {
        let base = base.as_os_str().as_bytes();
        let (mut id, mut len) = (std::ptr::null_mut(), 0);
        let rc = unsafe {
            logpack_store_create(
                store,
                json.as_ptr().cast(),
                json.len(),
                base.as_ptr().cast(),
                base.len(),
                &mut id,
                &mut len,
            )
        };
        if rc != LOGPACK_RESULT_OK {
            assert!(id.is_null());
            return (rc, String::new());
        }
        let s = unsafe { std::slice::from_raw_parts(id.cast::<u8>(), len) };
        let s = String::from_utf8(s.to_vec()).unwrap();
        unsafe { logpack_string_free(id) };
        (rc, s)
    }

    fn taken(ptr: *mut c_char, len: usize) -> Value {
        let v = serde_json::from_slice(unsafe { std::slice::from_raw_parts(ptr.cast(), len) });
        unsafe { logpack_string_free(ptr) };
        v.unwrap()
    }

    #[test]
    fn a_job_runs_in_the_background_and_refusals_carry_their_codes() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), None);
        let json = deployment(dir.path(), "ffi");
        let (rc, id) = create(store, &json, dir.path());
        assert_eq!(rc, LOGPACK_RESULT_OK, "{}", last_error(store));
        assert_eq!(id.len(), 24);
        let (mut ptr, mut len) = (std::ptr::null_mut(), 0);
        unsafe {
            assert_eq!(
                logpack_store_wait(
                    store,
                    id.as_ptr().cast(),
                    id.len(),
                    60_000,
                    &mut ptr,
                    &mut len
                ),
                LOGPACK_RESULT_OK
            );
            assert_eq!(taken(ptr, len)["status"], "SUCCESS");
            let past = "2001-01-01T00:00:00Z";
            assert_eq!(
                logpack_store_extend(
                    store,
                    id.as_ptr().cast(),
                    id.len(),
                    past.as_ptr().cast(),
                    past.len(),
                    &mut ptr,
                    &mut len
                ),
                LOGPACK_RESULT_REFUSED
            );
            assert!(last_error(store).starts_with("EXPIRATION_DATE_MUST_BE_IN_FUTURE: "));
            let unknown = "0123456789abcdef01234567";
            assert_eq!(
                logpack_store_get(store, unknown.as_ptr().cast(), 24, 0, &mut ptr, &mut len),
                LOGPACK_RESULT_NOT_FOUND
            );
            assert!(last_error(store).starts_with("LOG_COLLECTION_JOB_NOT_FOUND_IN_GROUP: "));
            assert_eq!(
                logpack_store_list(store, 1, 10, 1, &mut ptr, &mut len),
                LOGPACK_RESULT_OK
            );
            let list = taken(ptr, len);
            assert_eq!(list["totalCount"], 1);
            assert!(list["results"][0]["childJobs"].is_array());
            assert!(last_error(store).is_empty());
            logpack_store_free(store);
        }
    }

    #[test]
    fn rate_limited_is_busy() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), Some(0));
        let json = deployment(dir.path(), "busy");
        let (rc, _) = create(store, &json, dir.path());
        assert_eq!(rc, LOGPACK_RESULT_BUSY);
        assert!(last_error(store).starts_with("RATE_LIMITED: "));
        unsafe { logpack_store_free(store) };
    }

    #[test]
    fn a_panic_poisons_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), None);
        let json = deployment(dir.path(), "panic-inside-store");
        assert_eq!(create(store, &json, dir.path()).0, LOGPACK_RESULT_PANIC);
        assert!(last_error(store).contains("poisoned"));
        let (mut ptr, mut len) = (std::ptr::null_mut(), 0);
        unsafe {
            assert_eq!(
                logpack_store_list(store, 1, 10, 0, &mut ptr, &mut len),
                LOGPACK_RESULT_INVALID_STATE
            );
            logpack_store_free(store);
        }
    }

    #[test]
    fn nulls_and_an_unopened_store() {
        let (mut ptr, mut len) = (std::ptr::null_mut(), 0);
        unsafe {
            logpack_store_free(std::ptr::null_mut());
            logpack_string_free(std::ptr::null_mut());
            assert_eq!(
                logpack_store_list(std::ptr::null_mut(), 1, 1, 0, &mut ptr, &mut len),
                LOGPACK_RESULT_NULL_PARAMETER
            );
            let store = logpack_store_new();
            assert_eq!(
                logpack_store_list(store, 1, 1, 0, &mut ptr, &mut len),
                LOGPACK_RESULT_INVALID_STATE
            );
            assert!(last_error(store).contains("logpack_store_open"));
            assert_eq!(
                logpack_store_list(store, 1, 1, 0, std::ptr::null_mut(), &mut len),
                LOGPACK_RESULT_NULL_PARAMETER
            );
            assert_eq!(
                logpack_store_set_option(store, 99, 1),
                LOGPACK_RESULT_INVALID_OPTION
            );
            assert!(ptr.is_null() && len == 0);
            logpack_store_free(store);
        }
    }
}
