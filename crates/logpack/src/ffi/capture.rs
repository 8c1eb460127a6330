//! The capture handle: live capture (PRODUCT.md §10) through the C ABI. Set
//! a request and options, run once into a writer callback on the calling
//! thread, end it by its duration or from another thread with a cancel
//! token.

use std::ffi::{c_char, c_int, c_uint, c_void};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use super::boundary::{base_dir, bytes, copy_message, guard, require, CallbackWriter};
use super::job::{logpack_cancel_token, logpack_write_fn};
use super::result::logpack_result;
use super::result::logpack_result::*;
use crate::capture::{CaptureFormat, CaptureReport, CaptureSpec};
use crate::request::Level;
use crate::{CancelToken, Error, Request};

/// The record framings of `logpack_capture_set_format`, which takes the
/// value as an integer so that an unknown one is an error, not undefined
/// behaviour.
#[repr(C)]
#[allow(clippy::enum_variant_names)]
pub enum logpack_capture_format {
    /// `application/x-ndjson`: one JSON object per line (the default).
    LOGPACK_CAPTURE_FORMAT_NDJSON = 0,
    /// `application/json-seq` (RFC 7464): each record `0x1E` JSON `\n`.
    LOGPACK_CAPTURE_FORMAT_JSON_SEQ = 1,
    /// `text/plain`: one line per entry, with dotnet-monitor's level tags.
    LOGPACK_CAPTURE_FORMAT_TEXT = 2,
    /// `text/event-stream`: one server-sent event per entry.
    LOGPACK_CAPTURE_FORMAT_SSE = 3,
}

const NDJSON: c_uint = logpack_capture_format::LOGPACK_CAPTURE_FORMAT_NDJSON as c_uint;
const JSON_SEQ: c_uint = logpack_capture_format::LOGPACK_CAPTURE_FORMAT_JSON_SEQ as c_uint;
const TEXT: c_uint = logpack_capture_format::LOGPACK_CAPTURE_FORMAT_TEXT as c_uint;
const SSE: c_uint = logpack_capture_format::LOGPACK_CAPTURE_FORMAT_SSE as c_uint;

#[derive(PartialEq)]
enum State {
    Ready,
    /// A capture is under way, or one panicked: only `_free` makes sense.
    Running,
    Done,
}

/// One live capture: configure it, run it once, read its counts. Opaque.
pub struct logpack_capture {
    request: Option<String>,
    base_dir: Option<PathBuf>,
    /// `None`: until cancelled.
    duration: Option<Duration>,
    level: Option<Level>,
    format: CaptureFormat,
    redact: bool,
    cancel: CancelToken,
    /// What the run did, after a run that returned OK.
    report: Option<CaptureReport>,
    last_error: String,
    state: State,
}

impl logpack_capture {
    fn fail(&mut self, code: logpack_result, message: impl Into<String>) -> logpack_result {
        self.last_error = message.into();
        code
    }

    /// Setters work only before the run.
    fn refuse_after_run(&mut self) -> Option<logpack_result> {
        (self.state != State::Ready)
            .then(|| self.fail(LOGPACK_RESULT_INVALID_STATE, "the capture has run already"))
    }

    fn base(&self) -> PathBuf {
        self.base_dir
            .clone()
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_else(|| PathBuf::from("/"))
    }

    fn run(&mut self, out: &mut dyn Write) -> logpack_result {
        if self.state != State::Ready {
            return self.fail(LOGPACK_RESULT_INVALID_STATE, "a capture runs only once");
        }
        let Some(text) = self.request.clone() else {
            return self.fail(
                LOGPACK_RESULT_INVALID_STATE,
                "no request: call logpack_capture_set_request first",
            );
        };
        // Stays Running if anything below panics: the capture is then
        // poisoned, and this message is what last_error reports.
        self.state = State::Running;
        self.last_error = "a panic was caught inside logpack; the capture is poisoned".into();
        let code = self.run_inner(&text, out);
        self.state = State::Done;
        code
    }

    fn run_inner(&mut self, text: &str, out: &mut dyn Write) -> logpack_result {
        let mut request = match Request::from_json(text, &self.base()) {
            Ok(r) => r,
            Err(e) => return self.fail(logpack_result::of(&e), e.to_string()),
        };
        if self.redact {
            request.redacted = true;
        }
        // One engine per process for every capture handle, so that the
        // limit of MAX_CAPTURES applies to the process, as in the CLI's.
        let engine = match super::job::shared_engine(1) {
            Ok(e) => e,
            Err(e) => return self.fail(logpack_result::of(&e), e.to_string()),
        };
        let spec = CaptureSpec {
            duration: self.duration,
            level: self.level,
            format: self.format,
            cancel: self.cancel.clone(),
            redaction_key: None,
            on_notice: None,
            on_start: None,
            notices_in_output: false,
        };
        match engine.capture(&request, out, spec) {
            Ok(report) => {
                self.report = Some(report);
                self.last_error.clear();
                LOGPACK_RESULT_OK
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

// SAFETY (for every function below): pointers are checked for NULL before
// use; a non-NULL `capture` must come from `logpack_capture_new` and not be
// freed; a `(ptr, len)` pair must describe readable memory.

/// Creates a capture with the defaults of PRODUCT.md §10: 30 seconds, the
/// request's level, ndjson, no redaction beyond the request's. Ownership:
/// the caller frees it with `logpack_capture_free`. Returns NULL only on a
/// caught panic. A capture is used by one thread at a time; only its cancel
/// token may be used from other threads.
#[no_mangle]
pub extern "C" fn logpack_capture_new() -> *mut logpack_capture {
    guard(|| {
        Box::into_raw(Box::new(logpack_capture {
            request: None,
            base_dir: None,
            duration: Some(Duration::from_secs(30)),
            level: None,
            format: CaptureFormat::Ndjson,
            redact: false,
            cancel: CancelToken::default(),
            report: None,
            last_error: String::new(),
            state: State::Ready,
        }))
    })
}

/// Frees a capture. NULL is a no-op. Must not be called while
/// `logpack_capture_run_to_writer` on the capture is under way (cancel it
/// and wait for the call to return). Cancel tokens stay valid: they have
/// their own free function.
#[no_mangle]
pub unsafe extern "C" fn logpack_capture_free(capture: *mut logpack_capture) {
    guard(|| {
        if !capture.is_null() {
            // SAFETY: `capture` came from logpack_capture_new and is freed once.
            drop(unsafe { Box::from_raw(capture) });
        }
    })
}

/// Sets the request JSON (`json`, `len` bytes, no NUL needed) and validates
/// it; its text components are the ones followed. Relative paths resolve
/// against the base directory (or the working directory) when the capture
/// runs. Returns OK, NULL_PARAMETER, INVALID_REQUEST (message in
/// `logpack_capture_last_error`, naming the field) or INVALID_STATE after a
/// run.
#[no_mangle]
pub unsafe extern "C" fn logpack_capture_set_request(
    capture: *mut logpack_capture,
    json: *const c_char,
    len: usize,
) -> logpack_result {
    guard(|| {
        require!(capture, json);
        // SAFETY: checked non-NULL; see `bytes`.
        let (capture, json) = unsafe { (&mut *capture, bytes(json, len)) };
        if let Some(refused) = capture.refuse_after_run() {
            return refused;
        }
        let Ok(text) = std::str::from_utf8(json) else {
            return capture.fail(LOGPACK_RESULT_INVALID_REQUEST, "request: not valid UTF-8");
        };
        match Request::from_json(text, &capture.base()) {
            Ok(_) => {
                capture.request = Some(text.to_string());
                LOGPACK_RESULT_OK
            }
            Err(e) => capture.fail(logpack_result::of(&e), e.to_string()),
        }
    })
}

/// Sets the directory that relative request paths resolve against (`dir`,
/// `len` bytes, any bytes but NUL; need not be UTF-8). Returns OK,
/// NULL_PARAMETER, IO when it is not a readable directory, or
/// INVALID_STATE after a run.
#[no_mangle]
pub unsafe extern "C" fn logpack_capture_set_base_dir(
    capture: *mut logpack_capture,
    dir: *const c_char,
    len: usize,
) -> logpack_result {
    guard(|| {
        require!(capture, dir);
        // SAFETY: checked non-NULL; see `bytes`.
        let (capture, dir) = unsafe { (&mut *capture, bytes(dir, len)) };
        if let Some(refused) = capture.refuse_after_run() {
            return refused;
        }
        match base_dir(dir) {
            Ok(path) => {
                capture.base_dir = Some(path);
                LOGPACK_RESULT_OK
            }
            Err(message) => capture.fail(LOGPACK_RESULT_IO, message),
        }
    })
}

/// Sets how long the capture follows the logs: `seconds` >= 0, or -1 to
/// follow until cancelled (`durationSeconds`; default 30). Returns OK,
/// NULL_PARAMETER, INVALID_OPTION for any other value, or INVALID_STATE
/// after a run.
#[no_mangle]
pub unsafe extern "C" fn logpack_capture_set_duration(
    capture: *mut logpack_capture,
    seconds: i64,
) -> logpack_result {
    guard(|| {
        require!(capture);
        // SAFETY: checked non-NULL.
        let capture = unsafe { &mut *capture };
        if let Some(refused) = capture.refuse_after_run() {
            return refused;
        }
        capture.duration = match seconds {
            -1 => None,
            s if s >= 0 => Some(Duration::from_secs(s as u64)),
            s => {
                return capture.fail(
                    LOGPACK_RESULT_INVALID_OPTION,
                    format!("duration: {s} is not -1 or a number of seconds"),
                )
            }
        };
        LOGPACK_RESULT_OK
    })
}

/// Sets the minimum level (`level`, `len` bytes): `FATAL`, `ERROR`, `WARN`,
/// `INFO`, `DEBUG`, mongod's letters or dotnet's names (`Critical`,
/// `Warning`, `Information`, `Trace`), in any letter case, as the request's
/// `level`. An empty string (`len` 0) takes the request's level again (the
/// default). Returns OK, NULL_PARAMETER, INVALID_OPTION for an unknown
/// level, or INVALID_STATE after a run.
#[no_mangle]
pub unsafe extern "C" fn logpack_capture_set_level(
    capture: *mut logpack_capture,
    level: *const c_char,
    len: usize,
) -> logpack_result {
    guard(|| {
        require!(capture, level);
        // SAFETY: checked non-NULL; see `bytes`.
        let (capture, level) = unsafe { (&mut *capture, bytes(level, len)) };
        if let Some(refused) = capture.refuse_after_run() {
            return refused;
        }
        if level.is_empty() {
            capture.level = None;
            return LOGPACK_RESULT_OK;
        }
        match std::str::from_utf8(level).ok().and_then(Level::parse) {
            Some(l) => {
                capture.level = Some(l);
                LOGPACK_RESULT_OK
            }
            None => capture.fail(
                LOGPACK_RESULT_INVALID_OPTION,
                format!(
                    "level: {:?} is not FATAL, ERROR, WARN, INFO or DEBUG",
                    String::from_utf8_lossy(level)
                ),
            ),
        }
    })
}

/// Sets the framing of the records (`LOGPACK_CAPTURE_FORMAT_*`; default
/// ndjson). Returns OK, NULL_PARAMETER, INVALID_OPTION for an unknown value,
/// or INVALID_STATE after a run.
#[no_mangle]
pub unsafe extern "C" fn logpack_capture_set_format(
    capture: *mut logpack_capture,
    format: c_uint,
) -> logpack_result {
    guard(|| {
        require!(capture);
        // SAFETY: checked non-NULL.
        let capture = unsafe { &mut *capture };
        if let Some(refused) = capture.refuse_after_run() {
            return refused;
        }
        capture.format = match format {
            NDJSON => CaptureFormat::Ndjson,
            JSON_SEQ => CaptureFormat::JsonSeq,
            TEXT => CaptureFormat::Text,
            SSE => CaptureFormat::Sse,
            _ => {
                return capture.fail(
                    LOGPACK_RESULT_INVALID_OPTION,
                    format!(
                        "format: {format} is not 0 (ndjson), 1 (json-seq), 2 (text) or 3 (sse)"
                    ),
                )
            }
        };
        LOGPACK_RESULT_OK
    })
}

/// Non-zero `redact` redacts the entries even when the request does not
/// ask for it (`"redacted": true`), with one key for the whole capture, so
/// that tokens are consistent within it; 0 leaves it to the request (the
/// default). Returns OK, NULL_PARAMETER or INVALID_STATE after a run.
#[no_mangle]
pub unsafe extern "C" fn logpack_capture_set_redact(
    capture: *mut logpack_capture,
    redact: c_int,
) -> logpack_result {
    guard(|| {
        require!(capture);
        // SAFETY: checked non-NULL.
        let capture = unsafe { &mut *capture };
        if let Some(refused) = capture.refuse_after_run() {
            return refused;
        }
        capture.redact = redact != 0;
        LOGPACK_RESULT_OK
    })
}

/// A token that ends this capture from any thread, at any time, with
/// `logpack_cancel_token_cancel`: the run then writes what it has read and
/// returns OK, a clean end like the end of its duration (a token cancelled
/// before the run makes it return OK at once, having followed nothing new).
/// Ownership: free it with `logpack_cancel_token_free`; it may outlive the
/// capture. Returns NULL when `capture` is NULL.
#[no_mangle]
pub unsafe extern "C" fn logpack_capture_cancel_token(
    capture: *const logpack_capture,
) -> *mut logpack_cancel_token {
    guard(|| {
        if capture.is_null() {
            return std::ptr::null_mut();
        }
        // SAFETY: checked non-NULL.
        let cancel = unsafe { (*capture).cancel.clone() };
        Box::into_raw(Box::new(logpack_cancel_token(cancel)))
    })
}

/// Runs the capture: follows the live logs of the request's text components
/// from now on, through rotation, and hands each record to `write` as it
/// comes (whole records, in order, on this thread, one call at a time),
/// until the duration ends or the capture's cancel token is cancelled.
/// Blocks until then. Returns OK at a clean end (duration or cancel),
/// NULL_PARAMETER, INVALID_STATE (no request, or a second run),
/// INVALID_REQUEST, BUSY when 3 captures are running already in this
/// process (`RATE_LIMITED`, at the start of the last error), OUTPUT when
/// `write` returned non-zero (the capture then stops), or PANIC.
#[no_mangle]
pub unsafe extern "C" fn logpack_capture_run_to_writer(
    capture: *mut logpack_capture,
    write: logpack_write_fn,
    userdata: *mut c_void,
) -> logpack_result {
    guard(|| {
        require!(capture);
        let Some(write) = write else {
            return LOGPACK_RESULT_NULL_PARAMETER;
        };
        // SAFETY: checked non-NULL.
        let capture = unsafe { &mut *capture };
        let mut sink = CallbackWriter { write, userdata };
        capture.run(&mut sink)
    })
}

/// What a run that returned OK did: the records written (`*entries`), the
/// entries below the level (`*filtered`) and the files followed
/// (`*files`). Returns OK, NULL_PARAMETER, or INVALID_STATE when no run
/// returned OK; the outputs are written only on OK.
#[no_mangle]
pub unsafe extern "C" fn logpack_capture_counts(
    capture: *const logpack_capture,
    entries: *mut u64,
    filtered: *mut u64,
    files: *mut u64,
) -> logpack_result {
    guard(|| {
        require!(capture, entries, filtered, files);
        // SAFETY: checked non-NULL.
        let capture = unsafe { &*capture };
        match &capture.report {
            Some(r) => {
                // SAFETY: checked non-NULL; the caller owns these slots.
                unsafe {
                    *entries = r.entries;
                    *filtered = r.filtered;
                    *files = r.files as u64;
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
/// `cap` > 0). From one thread at a time, like every capture function.
#[no_mangle]
pub unsafe extern "C" fn logpack_capture_last_error(
    capture: *const logpack_capture,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> logpack_result {
    guard(|| {
        require!(capture, out_len);
        // SAFETY: checked non-NULL.
        let message = unsafe { &(*capture).last_error };
        // SAFETY: `out_len` checked non-NULL; `buf` holds `cap` bytes.
        unsafe { copy_message(message, buf, cap, out_len) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::Mutex;

    fn set_request(c: *mut logpack_capture, json: &str) -> logpack_result {
        unsafe { logpack_capture_set_request(c, json.as_ptr().cast(), json.len()) }
    }

    unsafe extern "C" fn collect(userdata: *mut c_void, buf: *const u8, len: usize) -> c_int {
        let out = &*(userdata as *const Mutex<Vec<u8>>);
        out.lock()
            .unwrap()
            .extend_from_slice(std::slice::from_raw_parts(buf, len));
        0
    }

    #[test]
    fn nulls_bad_values_and_states() {
        unsafe {
            assert_eq!(
                logpack_capture_set_request(std::ptr::null_mut(), std::ptr::null(), 0),
                LOGPACK_RESULT_NULL_PARAMETER
            );
            assert_eq!(
                logpack_capture_run_to_writer(
                    std::ptr::null_mut(),
                    Some(collect),
                    std::ptr::null_mut()
                ),
                LOGPACK_RESULT_NULL_PARAMETER
            );
            assert!(logpack_capture_cancel_token(std::ptr::null()).is_null());
            logpack_capture_free(std::ptr::null_mut());
            let c = logpack_capture_new();
            assert_eq!(
                logpack_capture_run_to_writer(c, None, std::ptr::null_mut()),
                LOGPACK_RESULT_NULL_PARAMETER
            );
            assert_eq!(
                logpack_capture_set_duration(c, -2),
                LOGPACK_RESULT_INVALID_OPTION
            );
            assert_eq!(
                logpack_capture_set_format(c, 4),
                LOGPACK_RESULT_INVALID_OPTION
            );
            assert_eq!(
                logpack_capture_set_level(c, "LOUD".as_ptr().cast(), 4),
                LOGPACK_RESULT_INVALID_OPTION
            );
            assert_eq!(
                set_request(c, r#"{"hosts":[{"agentLogDir":"x"}]}"#),
                LOGPACK_RESULT_INVALID_REQUEST
            );
            assert_eq!(
                logpack_capture_run_to_writer(c, Some(collect), std::ptr::null_mut()),
                LOGPACK_RESULT_INVALID_STATE
            );
            logpack_capture_free(c);
        }
    }

    #[test]
    fn a_capture_sees_appended_lines_and_ends_on_cancel() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("mongod.log");
        std::fs::write(&log, "").unwrap();
        let json = format!(
            r#"{{"hosts":[{{"hostname":"h","processes":[{{"type":"mongod","port":1,"logPath":"{}"}}]}}]}}"#,
            log.display()
        );
        let c = logpack_capture_new();
        assert_eq!(set_request(c, &json), LOGPACK_RESULT_OK);
        unsafe {
            assert_eq!(logpack_capture_set_duration(c, -1), LOGPACK_RESULT_OK);
        }
        let token = unsafe { logpack_capture_cancel_token(c) };
        let token_addr = token as usize;
        let appender = std::thread::spawn(move || {
            for i in 0..10 {
                std::thread::sleep(Duration::from_millis(100));
                let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
                writeln!(
                    f,
                    r#"{{"t":{{"$date":"2024-05-01T12:00:00.000+00:00"}},"s":"I","c":"NETWORK","id":1,"ctx":"t","msg":"appended {i}"}}"#
                )
                .unwrap();
            }
            std::thread::sleep(Duration::from_millis(200));
            // SAFETY: the token lives until freed below, after the join.
            unsafe { logpack_cancel_token_cancel_for_test(token_addr) };
        });
        let out = Arc::new(Mutex::new(Vec::new()));
        let rc = unsafe {
            logpack_capture_run_to_writer(c, Some(collect), Arc::as_ptr(&out) as *mut c_void)
        };
        appender.join().unwrap();
        assert_eq!(rc, LOGPACK_RESULT_OK);
        let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        let messages: Vec<String> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["Message"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        let want: Vec<String> = (0..10).map(|i| format!("appended {i}")).collect();
        assert_eq!(messages, want);
        let (mut entries, mut filtered, mut files) = (0, 0, 0);
        unsafe {
            assert_eq!(
                logpack_capture_counts(c, &mut entries, &mut filtered, &mut files),
                LOGPACK_RESULT_OK
            );
            assert_eq!((entries, filtered, files), (10, 0, 1));
            assert_eq!(
                logpack_capture_run_to_writer(c, Some(collect), std::ptr::null_mut()),
                LOGPACK_RESULT_INVALID_STATE
            );
            logpack_capture_free(c);
            super::super::logpack_cancel_token_free(token);
        }
    }

    unsafe fn logpack_cancel_token_cancel_for_test(addr: usize) {
        let token = addr as *const logpack_cancel_token;
        assert_eq!(
            super::super::logpack_cancel_token_cancel(token),
            LOGPACK_RESULT_OK
        );
    }
}
