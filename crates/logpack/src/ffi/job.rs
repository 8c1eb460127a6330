//! The job handle: set a request and options, run once, read the manifest.

use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_uint, c_void, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use super::boundary::{base_dir, bytes, copy_message, guard, require, CallbackWriter};
use super::result::logpack_result;
use super::result::logpack_result::*;
#[cfg(test)]
use super::result::logpack_result_name;
use crate::{CancelToken, Engine, Error, Format, Options, Output, Request, RunSpec};

/// Progress: `done_bytes` grows monotonically and the last call has
/// `done_bytes == total_bytes`. Return non-zero to cancel the run.
pub type logpack_progress_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, done_bytes: u64, total_bytes: u64) -> c_int>;

/// Receives the archive's bytes in order. `buf` is valid only during the
/// call. Return non-zero on a write error: the run then fails with
/// `LOGPACK_RESULT_OUTPUT`.
pub type logpack_write_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, buf: *const u8, len: usize) -> c_int>;

/// The option keys of `logpack_job_set_option`, which takes the key as an
/// integer so that an unknown value is an error, not undefined behaviour.
#[repr(C)]
#[allow(clippy::enum_variant_names)]
pub enum logpack_option {
    /// Reader threads and compression workers; 1 to 1024 (1: the whole run on the calling thread). Default: the cores.
    LOGPACK_OPTION_THREADS = 1,
    /// 0 tar.gz (default), 1 tar.zst, 2 tar.
    LOGPACK_OPTION_FORMAT = 2,
    /// gzip 0-9 (default 6), zstd 1-22 (default 1), plain tar 0; checked
    /// against the format when the job runs.
    LOGPACK_OPTION_COMPRESSION_LEVEL = 3,
}

const THREADS: c_uint = logpack_option::LOGPACK_OPTION_THREADS as c_uint;
const FORMAT: c_uint = logpack_option::LOGPACK_OPTION_FORMAT as c_uint;
const COMPRESSION_LEVEL: c_uint = logpack_option::LOGPACK_OPTION_COMPRESSION_LEVEL as c_uint;

#[derive(PartialEq)]
enum State {
    Ready,
    /// A run is under way, or one panicked: only `_free` makes sense.
    Running,
    Done,
}

/// One collection: configure it, run it once, read its manifest. Opaque.
pub struct logpack_job {
    request: Option<String>,
    base_dir: Option<PathBuf>,
    options: Options,
    progress: logpack_progress_fn,
    progress_userdata: *mut c_void,
    cancel: CancelToken,
    /// The manifest JSON, NUL-terminated, after a run that wrote an archive.
    manifest: Option<Vec<u8>>,
    last_error: String,
    state: State,
}

/// Cancels a job's run from any thread. Opaque.
pub struct logpack_cancel_token(pub(super) CancelToken);

impl logpack_job {
    fn fail(&mut self, code: logpack_result, message: impl Into<String>) -> logpack_result {
        self.last_error = message.into();
        code
    }

    /// Setters work only before the run.
    fn refuse_after_run(&mut self) -> Option<logpack_result> {
        (self.state != State::Ready)
            .then(|| self.fail(LOGPACK_RESULT_INVALID_STATE, "the job has run already"))
    }

    fn base(&self) -> PathBuf {
        self.base_dir
            .clone()
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_else(|| PathBuf::from("/"))
    }

    fn run(&mut self, output: Output<'_>) -> logpack_result {
        if self.state != State::Ready {
            return self.fail(LOGPACK_RESULT_INVALID_STATE, "a job runs only once");
        }
        let Some(text) = self.request.clone() else {
            return self.fail(
                LOGPACK_RESULT_INVALID_STATE,
                "no request: call logpack_job_set_request first",
            );
        };
        // Stays Running if anything below panics: the job is then poisoned,
        // and this message is what last_error reports.
        self.state = State::Running;
        self.last_error = "a panic was caught inside logpack; the job is poisoned".into();
        let code = self.run_inner(&text, output);
        self.state = State::Done;
        code
    }

    fn run_inner(&mut self, text: &str, output: Output<'_>) -> logpack_result {
        #[cfg(test)]
        if text.contains("\"resourceName\":\"panic-inside-run\"") {
            panic!("a panic deep inside a run, for the boundary test");
        }
        let request = match Request::from_json(text, &self.base()) {
            Ok(r) => r,
            Err(e) => return self.fail(logpack_result::of(&e), e.to_string()),
        };
        let engine = match shared_engine(self.options.threads) {
            Ok(e) => e,
            Err(e) => return self.fail(logpack_result::of(&e), e.to_string()),
        };
        let (callback, userdata) = (self.progress, self.progress_userdata);
        let mut on_progress = move |done: u64, total: u64| match callback {
            // SAFETY: the caller registered this function and its userdata
            // with logpack_job_set_progress; it runs on this thread only.
            Some(f) => unsafe { f(userdata, done, total) == 0 },
            None => true,
        };
        let mut spec = RunSpec::new().cancel(self.cancel.clone());
        spec.progress = Some(&mut on_progress);
        spec.format = Some(self.options.format);
        spec.compression_level = self.options.compression_level;
        match engine.run(&request, output, spec) {
            Ok(report) => {
                let mut json = match serde_json::to_vec(&report.manifest) {
                    Ok(json) => json,
                    Err(e) => {
                        return self.fail(
                            LOGPACK_RESULT_IO,
                            format!(
                            "the archive was written, but its manifest could not be read back: {e}"
                        ),
                        )
                    }
                };
                json.push(0);
                self.manifest = Some(json);
                self.last_error.clear();
                if report.is_complete() {
                    LOGPACK_RESULT_OK
                } else {
                    self.fail(
                        LOGPACK_RESULT_PARTIAL,
                        "some components failed: see the manifest",
                    )
                }
            }
            Err(e) => {
                let code = match &e {
                    Error::Output { .. } => LOGPACK_RESULT_OUTPUT,
                    other => logpack_result::of(other),
                };
                self.fail(code, e.to_string())
            }
        }
    }
}

/// The engine for `threads`, shared by every job and store of the process:
/// one pair of pools per thread count, built once, instead of two per job.
pub(super) fn shared_engine(threads: usize) -> Result<Arc<Engine>, Error> {
    static ENGINES: OnceLock<Mutex<HashMap<usize, Arc<Engine>>>> = OnceLock::new();
    let engines = ENGINES.get_or_init(Default::default);
    let mut engines = engines
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(e) = engines.get(&threads) {
        return Ok(e.clone());
    }
    let engine = Arc::new(Engine::new(Options {
        threads,
        ..Options::default()
    })?);
    engines.insert(threads, engine.clone());
    Ok(engine)
}

// SAFETY (for every function below): pointers are checked for NULL before
// use; a non-NULL `job` must come from `logpack_job_new` and not be freed;
// a `(ptr, len)` pair must describe readable memory.

/// Creates a job with default options (all cores, tar.gz, level 6).
/// Ownership: the caller frees it with `logpack_job_free`. Returns NULL only
/// on a caught panic. A job is used by one thread at a time; only its cancel
/// token may be used from other threads.
#[no_mangle]
pub extern "C" fn logpack_job_new() -> *mut logpack_job {
    guard(|| {
        Box::into_raw(Box::new(logpack_job {
            request: None,
            base_dir: None,
            options: Options::default(),
            progress: None,
            progress_userdata: std::ptr::null_mut(),
            cancel: CancelToken::default(),
            manifest: None,
            last_error: String::new(),
            state: State::Ready,
        }))
    })
}

/// Frees a job and everything it handed out (the manifest pointer). NULL is
/// a no-op. Must not be called while a `logpack_job_run_*` on the job is
/// under way. Cancel tokens stay valid: they have their own free function.
#[no_mangle]
pub unsafe extern "C" fn logpack_job_free(job: *mut logpack_job) {
    guard(|| {
        if !job.is_null() {
            // SAFETY: `job` came from logpack_job_new and is freed once.
            drop(unsafe { Box::from_raw(job) });
        }
    })
}

/// Sets the request JSON (`json`, `len` bytes, no NUL needed) and validates
/// it. Relative paths resolve against the base directory (or the working
/// directory) when the job runs. Returns OK, NULL_PARAMETER,
/// INVALID_REQUEST (message in `logpack_job_last_error`, naming the field)
/// or INVALID_STATE after a run.
#[no_mangle]
pub unsafe extern "C" fn logpack_job_set_request(
    job: *mut logpack_job,
    json: *const c_char,
    len: usize,
) -> logpack_result {
    guard(|| {
        require!(job, json);
        // SAFETY: checked non-NULL; see `bytes`.
        let (job, json) = unsafe { (&mut *job, bytes(json, len)) };
        if let Some(refused) = job.refuse_after_run() {
            return refused;
        }
        let Ok(text) = std::str::from_utf8(json) else {
            return job.fail(LOGPACK_RESULT_INVALID_REQUEST, "request: not valid UTF-8");
        };
        match Request::from_json(text, &job.base()) {
            Ok(_) => {
                job.request = Some(text.to_string());
                LOGPACK_RESULT_OK
            }
            Err(e) => job.fail(logpack_result::of(&e), e.to_string()),
        }
    })
}

/// Sets the directory that relative request paths resolve against (`dir`,
/// `len` bytes, any bytes but NUL; need not be UTF-8). Returns OK,
/// NULL_PARAMETER, IO when it is not a readable directory, or
/// INVALID_STATE after a run.
#[no_mangle]
pub unsafe extern "C" fn logpack_job_set_base_dir(
    job: *mut logpack_job,
    dir: *const c_char,
    len: usize,
) -> logpack_result {
    guard(|| {
        require!(job, dir);
        // SAFETY: checked non-NULL; see `bytes`.
        let (job, dir) = unsafe { (&mut *job, bytes(dir, len)) };
        if let Some(refused) = job.refuse_after_run() {
            return refused;
        }
        match base_dir(dir) {
            Ok(path) => {
                job.base_dir = Some(path);
                LOGPACK_RESULT_OK
            }
            Err(message) => job.fail(LOGPACK_RESULT_IO, message),
        }
    })
}

/// Sets one option (`LOGPACK_OPTION_*`). Returns OK, NULL_PARAMETER,
/// INVALID_OPTION for an unknown key or a value out of range, or
/// INVALID_STATE after a run. The compression level is checked against the
/// format when the job runs.
#[no_mangle]
pub unsafe extern "C" fn logpack_job_set_option(
    job: *mut logpack_job,
    key: c_uint,
    value: i64,
) -> logpack_result {
    guard(|| {
        require!(job);
        // SAFETY: checked non-NULL.
        let job = unsafe { &mut *job };
        if let Some(refused) = job.refuse_after_run() {
            return refused;
        }
        let bad = |what: &str| format!("option {key}: {value} is not a valid {what}");
        match key {
            THREADS if (1..=1024).contains(&value) => job.options.threads = value as usize,
            THREADS => {
                return job.fail(LOGPACK_RESULT_INVALID_OPTION, bad("thread count (1-1024)"))
            }
            FORMAT => {
                job.options.format = match value {
                    0 => Format::TarGz,
                    1 => Format::TarZst,
                    2 => Format::Tar,
                    _ => {
                        return job.fail(
                            LOGPACK_RESULT_INVALID_OPTION,
                            bad("format (0 tar.gz, 1 tar.zst, 2 tar)"),
                        )
                    }
                }
            }
            COMPRESSION_LEVEL if (0..=22).contains(&value) => {
                job.options.compression_level = Some(value as i32)
            }
            COMPRESSION_LEVEL => {
                return job.fail(LOGPACK_RESULT_INVALID_OPTION, bad("compression level"))
            }
            _ => {
                return job.fail(
                    LOGPACK_RESULT_INVALID_OPTION,
                    format!("unknown option key {key}"),
                )
            }
        }
        LOGPACK_RESULT_OK
    })
}

/// Registers a progress callback (NULL `cb` removes it). It runs only on
/// the thread that calls `logpack_job_run_*`, one call at a time; a
/// non-zero return cancels the run. `userdata` is passed back untouched.
/// Returns OK, NULL_PARAMETER or INVALID_STATE after a run.
#[no_mangle]
pub unsafe extern "C" fn logpack_job_set_progress(
    job: *mut logpack_job,
    cb: logpack_progress_fn,
    userdata: *mut c_void,
) -> logpack_result {
    guard(|| {
        require!(job);
        // SAFETY: checked non-NULL.
        let job = unsafe { &mut *job };
        if let Some(refused) = job.refuse_after_run() {
            return refused;
        }
        job.progress = cb;
        job.progress_userdata = userdata;
        LOGPACK_RESULT_OK
    })
}

/// Runs the job into a file (`path`, `len` bytes; need not be UTF-8), or
/// into an existing directory under the default name. The archive is
/// written to a temporary file, fsynced and renamed. Returns OK, PARTIAL
/// (archive written, some components failed), NULL_PARAMETER,
/// INVALID_STATE (no request, or a second run), INVALID_REQUEST,
/// INVALID_OPTION, OUTPUT, CANCELLED or PANIC. On anything but OK and
/// PARTIAL nothing is left at the path. Blocks until done; callbacks run on
/// this thread.
#[no_mangle]
pub unsafe extern "C" fn logpack_job_run_to_path(
    job: *mut logpack_job,
    path: *const c_char,
    len: usize,
) -> logpack_result {
    guard(|| {
        require!(job, path);
        // SAFETY: checked non-NULL; see `bytes`.
        let (job, path) = unsafe { (&mut *job, bytes(path, len)) };
        let path = PathBuf::from(OsStr::from_bytes(path));
        job.run(Output::Path(path))
    })
}

/// Runs the job, handing the archive to `write` in order, on this thread.
/// Returns what `logpack_job_run_to_path` returns; a non-zero return from
/// `write` gives OUTPUT, and the stream is then cut short (no gzip/zstd
/// trailer), so it can never pass for a whole archive.
#[no_mangle]
pub unsafe extern "C" fn logpack_job_run_to_writer(
    job: *mut logpack_job,
    write: logpack_write_fn,
    userdata: *mut c_void,
) -> logpack_result {
    guard(|| {
        require!(job);
        let Some(write) = write else {
            return LOGPACK_RESULT_NULL_PARAMETER;
        };
        // SAFETY: checked non-NULL.
        let job = unsafe { &mut *job };
        let mut sink = CallbackWriter { write, userdata };
        job.run(Output::Writer(&mut sink))
    })
}

/// The manifest JSON of a run that wrote an archive (OK or PARTIAL):
/// `*json` points to `*len` bytes (plus a NUL), borrowed until
/// `logpack_job_free`. Returns OK, NULL_PARAMETER, or INVALID_STATE when
/// there is no manifest; outputs are written only on OK. Like every job
/// function, from one thread at a time.
#[no_mangle]
pub unsafe extern "C" fn logpack_job_manifest(
    job: *const logpack_job,
    json: *mut *const c_char,
    len: *mut usize,
) -> logpack_result {
    guard(|| {
        require!(job, json, len);
        // SAFETY: checked non-NULL.
        let job = unsafe { &*job };
        match &job.manifest {
            Some(m) => {
                // SAFETY: checked non-NULL; the caller owns these slots.
                unsafe {
                    *json = m.as_ptr().cast();
                    *len = m.len() - 1;
                }
                LOGPACK_RESULT_OK
            }
            None => LOGPACK_RESULT_INVALID_STATE,
        }
    })
}

/// Copies the last error message (UTF-8, no NUL) into `buf`, at most `cap`
/// bytes (never splitting a character), and stores the number of bytes
/// copied in `*out_len`. With `buf` NULL and `cap` 0, stores the message's
/// full length instead, so that a caller can size its buffer. An empty
/// message means no error. Returns OK or NULL_PARAMETER (`buf` NULL with
/// `cap` > 0). From one thread at a time, like every job function.
#[no_mangle]
pub unsafe extern "C" fn logpack_job_last_error(
    job: *const logpack_job,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> logpack_result {
    guard(|| {
        require!(job, out_len);
        // SAFETY: checked non-NULL.
        let message = unsafe { &(*job).last_error };
        // SAFETY: `out_len` checked non-NULL; `buf` holds `cap` bytes.
        unsafe { copy_message(message, buf, cap, out_len) }
    })
}

/// A token that cancels this job's run from any thread, at any time (also
/// before the run, which then returns CANCELLED at once). Ownership: free
/// it with `logpack_cancel_token_free`; it may outlive the job. Returns
/// NULL when `job` is NULL.
#[no_mangle]
pub unsafe extern "C" fn logpack_job_cancel_token(
    job: *const logpack_job,
) -> *mut logpack_cancel_token {
    guard(|| {
        if job.is_null() {
            return std::ptr::null_mut();
        }
        // SAFETY: checked non-NULL.
        let cancel = unsafe { (*job).cancel.clone() };
        Box::into_raw(Box::new(logpack_cancel_token(cancel)))
    })
}

/// Cancels the token's job. Thread-safe; takes effect within one 256 KiB
/// chunk of reading. Returns OK or NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn logpack_cancel_token_cancel(
    token: *const logpack_cancel_token,
) -> logpack_result {
    guard(|| {
        require!(token);
        // SAFETY: checked non-NULL; from logpack_job_cancel_token.
        unsafe { (*token).0.cancel() };
        LOGPACK_RESULT_OK
    })
}

/// Frees a cancel token. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn logpack_cancel_token_free(token: *mut logpack_cancel_token) {
    guard(|| {
        if !token.is_null() {
            // SAFETY: from logpack_job_cancel_token, freed once.
            drop(unsafe { Box::from_raw(token) });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn set_request(job: *mut logpack_job, json: &str) -> logpack_result {
        unsafe { logpack_job_set_request(job, json.as_ptr().cast(), json.len()) }
    }

    fn last_error(job: *const logpack_job) -> String {
        let mut buf = vec![0u8; 4096];
        let mut n = 0;
        let rc = unsafe { logpack_job_last_error(job, buf.as_mut_ptr().cast(), buf.len(), &mut n) };
        assert_eq!(rc, LOGPACK_RESULT_OK);
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    fn deployment() -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("logs")).unwrap();
        std::fs::write(dir.path().join("logs/mongod.log"), "a line\n".repeat(1000)).unwrap();
        let json = format!(
            r#"{{"hosts":[{{"hostname":"h","processes":[{{"type":"mongod","port":1,"logPath":"{}"}}]}}]}}"#,
            dir.path().join("logs/mongod.log").display()
        );
        (dir, json)
    }

    #[test]
    fn nulls_are_refused_before_any_dereference() {
        unsafe {
            assert_eq!(
                logpack_job_set_request(std::ptr::null_mut(), std::ptr::null(), 0),
                LOGPACK_RESULT_NULL_PARAMETER
            );
            assert_eq!(
                logpack_job_run_to_path(std::ptr::null_mut(), std::ptr::null(), 0),
                LOGPACK_RESULT_NULL_PARAMETER
            );
            assert_eq!(
                logpack_cancel_token_cancel(std::ptr::null()),
                LOGPACK_RESULT_NULL_PARAMETER
            );
            assert!(logpack_job_cancel_token(std::ptr::null()).is_null());
            logpack_job_free(std::ptr::null_mut());
            logpack_cancel_token_free(std::ptr::null_mut());
            let job = logpack_job_new();
            assert_eq!(
                logpack_job_run_to_writer(job, None, std::ptr::null_mut()),
                LOGPACK_RESULT_NULL_PARAMETER
            );
            logpack_job_free(job);
        }
    }

    #[test]
    fn a_bad_request_names_its_field_and_a_job_runs_once() {
        let job = logpack_job_new();
        assert_eq!(
            set_request(job, r#"{"hosts":[{"agentLogDir":"x"}]}"#),
            LOGPACK_RESULT_INVALID_REQUEST
        );
        assert!(
            last_error(job).starts_with("hosts[0].hostname"),
            "{}",
            last_error(job)
        );
        unsafe {
            assert_eq!(
                logpack_job_run_to_path(job, "x".as_ptr().cast(), 1),
                LOGPACK_RESULT_INVALID_STATE
            );
            assert_eq!(
                logpack_job_set_option(job, 99, 1),
                LOGPACK_RESULT_INVALID_OPTION
            );
            assert_eq!(
                logpack_job_set_option(job, THREADS, 0),
                LOGPACK_RESULT_INVALID_OPTION
            );
        }
        let (dir, json) = deployment();
        assert_eq!(set_request(job, &json), LOGPACK_RESULT_OK);
        let out = dir.path().join("out.tar.gz");
        let out = out.as_os_str().as_bytes();
        unsafe {
            assert_eq!(
                logpack_job_run_to_path(job, out.as_ptr().cast(), out.len()),
                LOGPACK_RESULT_OK
            );
            assert_eq!(
                logpack_job_run_to_path(job, out.as_ptr().cast(), out.len()),
                LOGPACK_RESULT_INVALID_STATE
            );
            let (mut ptr, mut len) = (std::ptr::null(), 0);
            assert_eq!(
                logpack_job_manifest(job, &mut ptr, &mut len),
                LOGPACK_RESULT_OK
            );
            let manifest = std::slice::from_raw_parts(ptr.cast::<u8>(), len);
            let m: serde_json::Value = serde_json::from_slice(manifest).unwrap();
            assert_eq!(m["status"], "SUCCESS");
            logpack_job_free(job);
        }
    }

    #[test]
    fn a_panic_inside_a_run_is_caught_and_poisons_the_job() {
        let job = logpack_job_new();
        let (_dir, json) = deployment();
        let json = json.replacen('{', r#"{"resourceName":"panic-inside-run","#, 1);
        assert_eq!(set_request(job, &json), LOGPACK_RESULT_OK);
        unsafe extern "C" fn sink(_: *mut c_void, _: *const u8, _: usize) -> c_int {
            0
        }
        unsafe {
            assert_eq!(
                logpack_job_run_to_writer(job, Some(sink), std::ptr::null_mut()),
                LOGPACK_RESULT_PANIC
            );
            assert_eq!(
                logpack_job_run_to_writer(job, Some(sink), std::ptr::null_mut()),
                LOGPACK_RESULT_INVALID_STATE
            );
            logpack_job_free(job);
        }
    }

    #[test]
    fn names_and_versions_are_static_strings() {
        let name = unsafe { CStr::from_ptr(logpack_result_name(LOGPACK_RESULT_CANCELLED as u32)) };
        assert_eq!(name.to_str().unwrap(), "LOGPACK_RESULT_CANCELLED");
        for unknown in [2, 42, 104, 202, u32::MAX] {
            let name = unsafe { CStr::from_ptr(logpack_result_name(unknown)) };
            assert_eq!(name.to_str().unwrap(), "LOGPACK_RESULT_UNKNOWN");
        }
        let v = unsafe { CStr::from_ptr(super::super::logpack_version_string()) };
        assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
        assert_eq!(
            super::super::logpack_version_number(),
            super::super::result::VERSION_NUMBER
        );
    }
}
