//! logpack collects the logs of a MongoDB deployment's host — agent logs,
//! mongod and mongos logs with their rotated siblings, FTDC and Ops Manager
//! server logs — into one `.tar.gz` (or `.tar.zst`) with a `manifest.json`
//! that records what was collected, skipped or failed.
//!
//! ```no_run
//! use logpack::{Engine, Options, Output, Request};
//!
//! let request = Request::from_file("request.json".as_ref())?;
//! let engine = Engine::new(Options::default())?;
//! let report = engine.collect(&request, Output::Path("logs.tar.gz".into()), None)?;
//! println!("{:?}", report.manifest.status);
//! # Ok::<(), logpack::Error>(())
//! ```
//!
//! The stages are separate modules: [`request`] (parse and validate),
//! [`walk`] (plan the files), `read` (bounded chunked reads), [`select`]
//! (time, severity and size selection) and [`redact`], `archive` (tar +
//! compression, with `pgzip` for parallel gzip), [`manifest`], `pipeline`
//! (the threads that tie them together), and [`verify`] (read an archive back).
//!
//! Memory is bounded whatever the input size: see [`Options::memory_bound`].
#![deny(missing_docs)]

mod archive;
mod error;
pub mod ffi;
pub mod manifest;
mod output;
#[doc(hidden)] // for benches/deflate.rs only
pub mod pgzip;
mod pipeline;
mod read;
pub mod redact;
pub mod request;
pub mod select;
mod spill;
pub mod verify;
pub mod walk;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub use archive::Format;
pub use error::{Error, Result};
pub use manifest::{Manifest, RunManifest};
pub use output::Output;
pub use pipeline::ProgressFn;
pub use request::{LogType, Request};
pub use walk::Plan;

/// Engine settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Reader threads, gzip compressor threads (a pool of each, compressors
    /// at a lower priority) and zstd workers. With 1, the whole collection
    /// runs on the caller's thread: one core, no other threads while it
    /// runs. Default: the available cores.
    pub threads: usize,
    /// Output format. Default: tar.gz.
    pub format: Format,
    /// Compression level; `None` means the format's default (gzip 6, zstd 1).
    pub compression_level: Option<i32>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            format: Format::TarGz,
            compression_level: None,
        }
    }
}

impl Options {
    /// The effective compression level.
    pub fn level(&self) -> i32 {
        self.compression_level
            .unwrap_or_else(|| self.format.default_level())
    }

    fn validate(&self) -> Result<()> {
        if self.threads == 0 || self.threads > 1024 {
            return Err(Error::InvalidOption {
                name: "threads",
                message: format!("{} is out of range 1..=1024", self.threads),
            });
        }
        let range = self.format.level_range();
        if !range.contains(&self.level()) {
            return Err(Error::InvalidOption {
                name: "compression-level",
                message: format!(
                    "{} is out of range {}..={} for {}",
                    self.level(),
                    range.start(),
                    range.end(),
                    self.format.extension()
                ),
            });
        }
        Ok(())
    }

    /// Upper bound, in bytes, of what the pipeline buffers:
    ///
    /// - file data: `2 × threads` batches may be queued ahead of the writer
    ///   plus one per reader thread, each holding at most `CHUNKS_PER_FILE + 1`
    ///   chunks of 256 KiB: `3 × threads × 5 × 256 KiB`;
    /// - tar.gz: `2 × threads` 1 MiB blocks in flight with their output,
    ///   the writer's two blocks, and each compressor's output and state:
    ///   about `(2 × threads + 2) × 1 MiB + 3 × threads × 1 MiB + threads × 300 KiB`;
    /// - manifest records: each file's record is appended to a spill that
    ///   keeps at most 1 MiB in memory (then an unlinked temporary file),
    ///   one for files and one for skipped entries: 2 MiB;
    /// - the plan: its file and skipped lists are kept the same way: 2 MiB.
    ///
    /// With one thread nothing is queued: one chunk being read, and for
    /// tar.gz the writer's two blocks, one output and one deflate state.
    ///
    /// With 2 threads: 7.5 MiB + 12.6 MiB + 4 MiB. zstd's own workers
    /// (level 1) add about 15 MiB. None of it depends on the file count.
    ///
    /// Planning comes first and has its own peak, below this one: each
    /// component being listed (one per thread) sorts up to 1 MiB of entries
    /// at a time, with about as much again for sort keys, a 1 MiB run
    /// buffer and 16 × 64 KiB of merge buffers. Measured peak RSS is in the
    /// README.
    pub fn memory_bound(&self) -> u64 {
        const MIB: u64 = 1 << 20;
        const DEFLATE_STATE: u64 = 300 * 1024;
        let t = self.threads as u64;
        let chunk = read::CHUNK_SIZE as u64;
        // The manifest's records and the plan's lists.
        let records = 4 * spill::MEMORY_LIMIT as u64;
        if t == 1 {
            let compressing = match self.format {
                Format::TarGz => 3 * MIB + DEFLATE_STATE,
                Format::TarZst | Format::Tar => 0,
            };
            return chunk + compressing + records;
        }
        let reading = 3 * t * (read::CHUNKS_PER_FILE as u64 + 1) * chunk;
        let compressing = match self.format {
            Format::TarGz => (2 * t + 2) * MIB + 3 * t * MIB + t * DEFLATE_STATE,
            Format::TarZst | Format::Tar => 0,
        };
        reading + compressing + records
    }
}

/// Cancels a running collection from any thread.
///
/// Cancellation is observed between chunks (at most 256 KiB apart), so it
/// takes effect promptly even in the middle of a huge file. An engine that
/// was cancelled stays cancelled.
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

/// What a successful collection returns.
#[derive(Debug, Clone)]
pub struct Report {
    /// The manifest, identical to the archive's `manifest.json`
    /// (`serde_json::to_writer_pretty` writes the same bytes). Each child's
    /// files and skipped entries are read back from the run's spill (1 MiB
    /// in memory, the rest in a temporary file) as they are serialized, so
    /// memory does not grow with the file count; [`RunManifest::load`]
    /// reads them all into memory.
    pub manifest: RunManifest,
    /// Where the archive was written, for [`Output::Path`].
    pub path: Option<PathBuf>,
    /// With `redacted`: each token and the value it replaced. It is never
    /// put in the archive; the CLI writes it beside it, mode 0600.
    pub redaction_map: std::collections::BTreeMap<String, String>,
}

impl Report {
    /// True when every component was collected (CLI exit code 0).
    pub fn is_complete(&self) -> bool {
        self.manifest.status == manifest::Status::Success
    }
}

/// The collection engine. It owns its rayon pool (never the global one), so
/// an embedding host keeps its own threads to itself.
pub struct Engine {
    pool: rayon::ThreadPool,
    /// Deflates gzip blocks; none with one thread, where the whole
    /// collection runs on the caller's thread.
    compress_pool: Option<rayon::ThreadPool>,
    options: Options,
    cancel: CancelToken,
}

impl Engine {
    /// Builds an engine with its own pool of `options.threads` threads.
    pub fn new(options: Options) -> Result<Engine> {
        Engine::with_cancel_token(options, CancelToken::default())
    }

    /// Like [`Engine::new`], cancelled by `cancel`, a token made beforehand
    /// (so that it can be handed out before the engine exists).
    pub fn with_cancel_token(options: Options, cancel: CancelToken) -> Result<Engine> {
        options.validate()?;
        // Readers and compressors get separate pools, so that a compression
        // job never waits behind a reader blocked on a full channel.
        // Compressors run at a lower priority: the readers and the writer
        // feed them, and a reader waiting for a core while the compressors
        // run dry left a tenth of the CPU idle on two cores.
        let pool = build_pool(options.threads, "logpack", false)?;
        let compress_pool = match options.threads {
            1 => None,
            n => Some(build_pool(n, "logpack-z", true)?),
        };
        Ok(Engine {
            pool,
            compress_pool,
            options,
            cancel,
        })
    }

    /// The engine's options.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// A token that cancels this engine's runs.
    pub fn cancel_token(&self) -> CancelToken {
        self.cancel.clone()
    }

    pub(crate) fn pool(&self) -> &rayon::ThreadPool {
        &self.pool
    }

    pub(crate) fn compress_pool(&self) -> Option<&rayon::ThreadPool> {
        self.compress_pool.as_ref()
    }

    /// Lists what a collection would archive, without opening any log.
    /// Fails only when a large listing finds no usable temporary directory.
    pub fn plan(&self, request: &Request) -> Result<Plan> {
        self.plan_redacting(request, None)
    }

    fn plan_redacting(
        &self,
        request: &Request,
        redactor: Option<&redact::Redactor>,
    ) -> Result<Plan> {
        self.pool
            .install(|| walk::plan(request, redactor))
            .map_err(Error::Scratch)
    }

    /// Collects `request` into `output`. The progress callback, if any, runs
    /// on this thread; returning `false` from it cancels the run.
    ///
    /// Missing or unreadable logs do not fail the call: they are FAILURE
    /// children in the returned manifest. Errors mean no archive: the output
    /// path is left untouched.
    pub fn collect(
        &self,
        request: &Request,
        output: Output<'_>,
        progress: Option<&mut ProgressFn<'_>>,
    ) -> Result<Report> {
        if self.cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let created = jiff::Timestamp::now();
        let redactor = request.redacted.then(|| {
            let hosts: Vec<String> = request.hosts.iter().map(|h| h.hostname.clone()).collect();
            redact::Redactor::with_random_key(&hosts)
        });
        let mut plan = self.plan_redacting(request, redactor.as_ref())?;
        if let Some(r) = &redactor {
            redact_host_names(&mut plan, request, r);
        }
        let selection = std::sync::Arc::new(select::Selection::from_request(request, redactor));
        let default_name = format!(
            "{}_{}.{}",
            request.archive_stem(),
            created.strftime("%Y%m%dT%H%M%SZ"),
            self.options.format.extension()
        );
        let (collected, path) = output.write_with(&default_name, |sink| {
            pipeline::run(self, request, &plan, created, sink, &selection, progress)
        })?;
        Ok(Report {
            manifest: collected.manifest,
            path,
            redaction_map: collected.tokens,
        })
    }
}

/// A pool of the engine's own. A panicking job must not abort the host: its
/// channel closes and the writer reports the file. A `background` pool's
/// threads run at a lower priority.
fn build_pool(threads: usize, prefix: &'static str, background: bool) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(move |i| format!("{prefix}-{i}"))
        .panic_handler(|_| {})
        .start_handler(move |_| {
            if background {
                lower_this_threads_priority();
            }
        })
        .build()
        .map_err(|e| Error::InvalidOption {
            name: "threads",
            message: e.to_string(),
        })
}

/// Raises the calling thread's nice value by 10 (at most 19), relative to
/// whatever the host runs at. Linux gives each thread its own nice value;
/// elsewhere the call would change the whole host process, so it is not
/// made. A failure only leaves the priority as it was.
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscall on the calling thread; no memory.
    unsafe {
        libc::nice(10);
    }
}

/// Replaces host names in archive paths and in the manifest with their
/// tokens (planning already replaced source paths in messages).
fn redact_host_names(plan: &mut Plan, request: &Request, redactor: &redact::Redactor) {
    for c in &mut plan.components {
        for h in &request.hosts {
            let token = redactor.token(redact::Kind::Host, &h.hostname);
            if let Some(rest) = c.archive_dir.strip_prefix(h.hostname.as_str()) {
                if rest.starts_with('/') {
                    c.archive_dir = format!("{token}{rest}");
                }
            }
            if let Some(rest) = c.host_name.strip_prefix(h.hostname.as_str()) {
                if rest.is_empty() || rest.starts_with(':') {
                    c.host_name = format!("{token}{rest}");
                }
            }
        }
    }
}
