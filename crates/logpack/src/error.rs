//! The one error type of the library.

use std::io;
use std::path::PathBuf;

/// Everything that can stop a collection or a verification.
///
/// Missing or unreadable logs are *not* errors: they become manifest entries.
/// Only a bad request, a bad option, an output or temporary file that
/// cannot be written, cancellation and a corrupt archive (in `verify`)
/// stop the run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request JSON is not valid JSON.
    #[error("malformed request JSON at line {line}, column {column}: {message}")]
    MalformedJson {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What the parser expected.
        message: String,
    },
    /// A request field is missing, unknown or out of range.
    #[error("{field}: {message}")]
    InvalidRequest {
        /// The JSON path of the field, e.g. `hosts[0].processes[1].port`.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// An engine option (threads, format, compression level) is out of range.
    #[error("invalid option {name}: {message}")]
    InvalidOption {
        /// The option's name.
        name: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// An input the caller named directly (the request file) cannot be read.
    #[error("{}: {source}", path.display())]
    Input {
        /// The path that failed.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The archive could not be written (disk full, unwritable directory,
    /// a failing writer). Nothing is left at the output path.
    #[error("cannot write the archive to {target}: {source}")]
    Output {
        /// The output path, or `<writer>` for a caller-supplied stream.
        target: String,
        /// The OS error.
        source: io::Error,
    },
    /// The engine's temporary storage failed: the plan's or the manifest's
    /// lists outgrew memory and no temporary file could hold them. The
    /// message names the temporary directory.
    #[error("{0}")]
    Scratch(io::Error),
    /// The run was cancelled through a [`crate::CancelToken`] or the progress callback.
    #[error("cancelled")]
    Cancelled,
    /// An archive given as input (to `merge`) cannot be used: missing, not
    /// made by logpack, without an index, damaged, or clashing with another.
    #[error("{}: {message}", path.display())]
    BadArchive {
        /// The input archive.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A job operation refused by the job's state, a limit or the date asked
    /// for, with the Ops Manager error code (CLI exit code 4).
    #[error("{code}: {message}")]
    Refused {
        /// e.g. `CANNOT_DOWNLOAD_JOB_IN_PROGRESS`.
        code: &'static str,
        /// What was refused, naming the job.
        message: String,
    },
    /// The job store cannot be opened or used: a directory without
    /// permission, a database from a newer logpack, a corrupt file.
    #[error("job store {}: {message}", path.display())]
    Store {
        /// The spool directory or the file in it.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// `verify` found an archive that does not match its manifest.
    #[error("archive is corrupt: {0}")]
    Corrupt(String),
}

impl Error {
    /// True for errors caused by the request or the options (CLI exit code 2).
    pub fn is_bad_request(&self) -> bool {
        matches!(
            self,
            Error::MalformedJson { .. }
                | Error::InvalidRequest { .. }
                | Error::InvalidOption { .. }
                | Error::BadArchive { .. }
        )
    }

    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Error {
        Error::InvalidRequest {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One thing that failed on a path while a component was planned or read:
/// kept as data (which path, what was being done, the OS error) until the
/// manifest's `errorMessage` is written, so that no failure overwrites
/// another and paths can still be redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The path that failed.
    pub path: PathBuf,
    /// What was being done.
    pub stage: Stage,
    /// The OS error's text, or why.
    pub error: String,
    /// The OS error number, when there was one.
    pub os_error: Option<i32>,
}

/// What was being done when a [`Failure`] happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Listing a directory or reading a path's metadata.
    Listing,
    /// Opening a file, or reading its metadata once opened.
    Opening,
    /// Reading a file to decide what selection keeps.
    Selecting,
    /// Reading a body at `offset`; the remaining `zero_filled` bytes of the
    /// entry were archived as zeros.
    Reading {
        /// Where the read failed.
        offset: u64,
        /// How many bytes were zero-filled.
        zero_filled: u64,
    },
    /// Reading a selected body; the rest of the entry was zero-filled.
    ReadingSelected,
    /// A process had neither its live log nor a rotated sibling.
    NoLog,
    /// The file's reader stopped without finishing it.
    ReaderStopped,
}

impl Failure {
    /// A failure caused by `e`.
    pub fn io(path: impl Into<PathBuf>, stage: Stage, e: &io::Error) -> Failure {
        Failure {
            path: path.into(),
            stage,
            error: e.to_string(),
            os_error: e.raw_os_error(),
        }
    }

    /// A failure explained by `why`.
    pub fn because(path: impl Into<PathBuf>, stage: Stage, why: impl Into<String>) -> Failure {
        Failure {
            path: path.into(),
            stage,
            error: why.into(),
            os_error: None,
        }
    }

    /// Replaces the directory `dir` at the start of the path by `token`.
    pub(crate) fn redact_dir(&mut self, dir: &std::path::Path, token: &str) {
        if let Ok(rest) = self.path.strip_prefix(dir) {
            self.path = match rest.as_os_str().is_empty() {
                true => PathBuf::from(token),
                false => PathBuf::from(token).join(rest),
            };
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (path, error) = (self.path.display(), &self.error);
        match self.stage {
            Stage::Listing | Stage::Opening | Stage::Selecting => write!(f, "{path}: {error}"),
            Stage::Reading {
                offset,
                zero_filled,
            } => write!(
                f,
                "{path}: read failed at offset {offset}: {error}; the remaining {zero_filled} bytes are zero-filled"
            ),
            Stage::ReadingSelected => write!(
                f,
                "{path}: read failed: {error}; the rest of the entry is zero-filled"
            ),
            Stage::NoLog => write!(
                f,
                "{path}: neither the live log nor a rotated sibling can be collected ({error})"
            ),
            Stage::ReaderStopped => write!(f, "{path}: the reader stopped unexpectedly"),
        }
    }
}
