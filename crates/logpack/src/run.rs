//! One run's identity and controls, given by the caller: an [`Engine`]
//! (pools and defaults) serves any number of runs, one after another or at
//! once, and each run has its own id, time, cancel token, redaction key and
//! progress callback.
//!
//! [`Engine`]: crate::Engine

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use jiff::Timestamp;

use crate::archive::{Finish, Format};
use crate::error::{Error, Result};

/// Progress callback: `(done_bytes, total_bytes)`; return `false` to cancel.
pub type ProgressFn<'a> = dyn FnMut(u64, u64) -> bool + 'a;

/// Cancels a run from any thread.
///
/// Cancellation is observed between chunks (at most 256 KiB apart), so it
/// takes effect promptly even in the middle of a huge file. A token that was
/// cancelled stays cancelled; other runs, with their own tokens, go on.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// Requests cancellation.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether cancellation was requested.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// The key behind a run's redaction tokens. The same key gives the same
/// tokens (a retried job keeps its key); it is never put in an archive.
#[derive(Clone, PartialEq, Eq)]
pub struct RedactionKey(pub [u8; 32]);

impl RedactionKey {
    /// A fresh random key.
    pub fn random() -> RedactionKey {
        RedactionKey(rand::random())
    }
}

impl std::fmt::Debug for RedactionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedactionKey(..)")
    }
}

/// Everything one run takes from its caller. [`RunSpec::new`] gives a new
/// random id, the current time, a token of its own, no key (a redacted
/// request then gets a random one, returned in the report), no progress
/// callback, the engine's format and level, and a whole archive.
pub struct RunSpec<'a> {
    /// The job id written to the manifest: 24 lower-case hex digits.
    pub id: String,
    /// The job's creation time (`creationDate`, and the default name).
    pub created: Timestamp,
    /// Cancels this run only.
    pub cancel: CancelToken,
    /// The redaction key, for a redacted request.
    pub redaction_key: Option<RedactionKey>,
    /// Called on the calling thread as bytes are archived.
    pub progress: Option<&'a mut ProgressFn<'a>>,
    /// Overrides the engine's format.
    pub format: Option<Format>,
    /// Overrides the engine's compression level.
    pub compression_level: Option<i32>,
    /// A whole archive, or bare fragments for a caller that keeps the index.
    pub finish: Finish,
    /// Collect only these children, each named by its archive `path` and
    /// `logCollectionType` as a manifest lists them (a retry collects only
    /// what failed); `None` collects every child of the request.
    pub only: Option<Vec<(String, String)>>,
}

impl Default for RunSpec<'_> {
    fn default() -> Self {
        RunSpec::new()
    }
}

impl<'a> RunSpec<'a> {
    /// A spec with a fresh id and the current time (see the type's docs).
    pub fn new() -> RunSpec<'a> {
        RunSpec {
            id: new_job_id(),
            created: Timestamp::now(),
            cancel: CancelToken::default(),
            redaction_key: None,
            progress: None,
            format: None,
            compression_level: None,
            finish: Finish::Archive,
            only: None,
        }
    }

    /// Sets the progress callback.
    pub fn progress(mut self, progress: &'a mut ProgressFn<'a>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Sets the cancel token.
    pub fn cancel(mut self, cancel: CancelToken) -> Self {
        self.cancel = cancel;
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
        if self.id.len() != 24 || !self.id.chars().all(hex) {
            return Err(Error::InvalidOption {
                name: "id",
                message: format!("{:?} is not 24 lower-case hex digits", self.id),
            });
        }
        Ok(())
    }
}

/// A random job id: 24 lower-case hex digits, as Ops Manager's.
pub fn new_job_id() -> String {
    hex::encode(rand::random::<[u8; 12]>())
}
