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
