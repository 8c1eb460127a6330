//! Result codes and versions.

use std::ffi::{c_char, c_uint};

use super::boundary::guard;
use crate::error::Error;
use crate::jobs::codes;

/// The result of every fallible logpack function. Values are never reused.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)]
pub enum logpack_result {
    /// Success: every component collected.
    LOGPACK_RESULT_OK = 0,
    /// The archive was written, but some components failed (see the manifest).
    LOGPACK_RESULT_PARTIAL = 1,
    /// A required pointer was NULL.
    LOGPACK_RESULT_NULL_PARAMETER = 100,
    /// The request JSON is malformed or invalid.
    LOGPACK_RESULT_INVALID_REQUEST = 101,
    /// An option key or value is invalid.
    LOGPACK_RESULT_INVALID_OPTION = 102,
    /// The call does not fit the job's state (no request, a second run, a poisoned job).
    LOGPACK_RESULT_INVALID_STATE = 103,
    /// An input could not be read (e.g. the base directory), or the engine's
    /// temporary file could not be made (no usable `$TMPDIR`); nothing is
    /// left at the output path.
    LOGPACK_RESULT_IO = 200,
    /// The output could not be written; nothing is left at the output path.
    LOGPACK_RESULT_OUTPUT = 201,
    /// The run was cancelled; nothing is left at the output path.
    LOGPACK_RESULT_CANCELLED = 300,
    /// The job store refused: too many jobs in progress (`RATE_LIMITED`,
    /// at the start of the store's last error).
    LOGPACK_RESULT_BUSY = 301,
    /// No job with that id in the store
    /// (`LOG_COLLECTION_JOB_NOT_FOUND_IN_GROUP`).
    LOGPACK_RESULT_NOT_FOUND = 302,
    /// The job store refused the operation because of the job's state or
    /// the date asked for; the store's last error starts with the Ops
    /// Manager code and a colon (`CANNOT_DOWNLOAD_JOB_IN_PROGRESS`,
    /// `CANNOT_DOWNLOAD_EXPIRED_JOB`, `CANNOT_EXTEND_EXPIRED_JOB`,
    /// `EXPIRATION_DATE_MUST_BE_IN_FUTURE`, `EXPIRATION_DATE_TOO_DISTANT`,
    /// `ONLY_FAILED_JOB_CAN_BE_RESTARTED`, `CANNOT_DELETE_JOB_IN_PROGRESS`).
    LOGPACK_RESULT_REFUSED = 303,
    /// A panic was caught inside logpack; the job or store is poisoned.
    LOGPACK_RESULT_PANIC = 900,
}

impl logpack_result {
    pub(crate) fn of(e: &Error) -> logpack_result {
        use logpack_result::*;
        match e {
            Error::MalformedJson { .. } | Error::InvalidRequest { .. } => {
                LOGPACK_RESULT_INVALID_REQUEST
            }
            Error::InvalidOption { .. } => LOGPACK_RESULT_INVALID_OPTION,
            Error::Input { .. }
            | Error::Scratch(_)
            | Error::Corrupt(_)
            | Error::BadArchive { .. }
            | Error::Store { .. } => LOGPACK_RESULT_IO,
            Error::Refused { code, .. } => match *code {
                codes::NOT_FOUND => LOGPACK_RESULT_NOT_FOUND,
                codes::RATE_LIMITED => LOGPACK_RESULT_BUSY,
                _ => LOGPACK_RESULT_REFUSED,
            },
            Error::Output { .. } => LOGPACK_RESULT_OUTPUT,
            Error::Cancelled => LOGPACK_RESULT_CANCELLED,
        }
    }
}

fn static_str(s: &'static str) -> *const c_char {
    s.as_ptr().cast()
}

/// The name of a result code, e.g. `"LOGPACK_RESULT_OK"`: a static,
/// NUL-terminated string, never freed. Takes any integer, so that a value
/// from a newer header or a corrupted variable is safe: unknown values give
/// `"LOGPACK_RESULT_UNKNOWN"`. Thread-safe.
#[no_mangle]
pub extern "C" fn logpack_result_name(r: c_uint) -> *const c_char {
    use logpack_result::*;
    guard(|| {
        let known = [
            LOGPACK_RESULT_OK,
            LOGPACK_RESULT_PARTIAL,
            LOGPACK_RESULT_NULL_PARAMETER,
            LOGPACK_RESULT_INVALID_REQUEST,
            LOGPACK_RESULT_INVALID_OPTION,
            LOGPACK_RESULT_INVALID_STATE,
            LOGPACK_RESULT_IO,
            LOGPACK_RESULT_OUTPUT,
            LOGPACK_RESULT_CANCELLED,
            LOGPACK_RESULT_BUSY,
            LOGPACK_RESULT_NOT_FOUND,
            LOGPACK_RESULT_REFUSED,
            LOGPACK_RESULT_PANIC,
        ];
        static_str(match known.into_iter().find(|k| *k as c_uint == r) {
            Some(LOGPACK_RESULT_OK) => "LOGPACK_RESULT_OK\0",
            Some(LOGPACK_RESULT_PARTIAL) => "LOGPACK_RESULT_PARTIAL\0",
            Some(LOGPACK_RESULT_NULL_PARAMETER) => "LOGPACK_RESULT_NULL_PARAMETER\0",
            Some(LOGPACK_RESULT_INVALID_REQUEST) => "LOGPACK_RESULT_INVALID_REQUEST\0",
            Some(LOGPACK_RESULT_INVALID_OPTION) => "LOGPACK_RESULT_INVALID_OPTION\0",
            Some(LOGPACK_RESULT_INVALID_STATE) => "LOGPACK_RESULT_INVALID_STATE\0",
            Some(LOGPACK_RESULT_IO) => "LOGPACK_RESULT_IO\0",
            Some(LOGPACK_RESULT_OUTPUT) => "LOGPACK_RESULT_OUTPUT\0",
            Some(LOGPACK_RESULT_CANCELLED) => "LOGPACK_RESULT_CANCELLED\0",
            Some(LOGPACK_RESULT_BUSY) => "LOGPACK_RESULT_BUSY\0",
            Some(LOGPACK_RESULT_NOT_FOUND) => "LOGPACK_RESULT_NOT_FOUND\0",
            Some(LOGPACK_RESULT_REFUSED) => "LOGPACK_RESULT_REFUSED\0",
            Some(LOGPACK_RESULT_PANIC) => "LOGPACK_RESULT_PANIC\0",
            None => "LOGPACK_RESULT_UNKNOWN\0",
        })
    })
}

const fn parse_u32(s: &str) -> u32 {
    let b = s.as_bytes();
    let mut i = 0;
    let mut n = 0;
    while i < b.len() {
        n = n * 10 + (b[i] - b'0') as u32;
        i += 1;
    }
    n
}

/// MAJOR × 10000 + MINOR × 100 + PATCH, from Cargo.toml.
pub const VERSION_NUMBER: u32 = parse_u32(env!("CARGO_PKG_VERSION_MAJOR")) * 10000
    + parse_u32(env!("CARGO_PKG_VERSION_MINOR")) * 100
    + parse_u32(env!("CARGO_PKG_VERSION_PATCH"));

/// The linked library's version as MAJOR × 10000 + MINOR × 100 + PATCH;
/// compare with `LOGPACK_VERSION_NUMBER` from the header. Thread-safe.
#[no_mangle]
pub extern "C" fn logpack_version_number() -> u32 {
    guard(|| VERSION_NUMBER)
}

/// The linked library's version, e.g. `"0.1.0"`: static, NUL-terminated,
/// never freed. Thread-safe.
#[no_mangle]
pub extern "C" fn logpack_version_string() -> *const c_char {
    guard(|| static_str(concat!(env!("CARGO_PKG_VERSION"), "\0")))
}
