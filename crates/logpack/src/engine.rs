//! The engine: its pools and defaults, and the runs it serves.

use std::path::PathBuf;

use crate::archive::index::Index;
use crate::archive::Format;
use crate::error::{Error, Result};
use crate::manifest::{self, RunManifest};
use crate::output::Output;
use crate::pipeline;
use crate::read;
use crate::redact;
use crate::request::Request;
use crate::run::{ProgressFn, RedactionKey, RunSpec};
use crate::select;
use crate::spill;
use crate::walk::{self, Plan};

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
        check_level(self.format, self.level())
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
    /// With `redacted`: the key the tokens came from (the spec's, or a new
    /// one), for a later run that must give the same tokens.
    pub redaction_key: Option<RedactionKey>,
    /// Where each child's fragment lies in the output (none for a plain
    /// tar). For [`Finish::Fragments`] the offsets count from the first
    /// byte written.
    pub index: Option<Index>,
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
    /// Captures running now (at most `capture::MAX_CAPTURES`).
    captures: std::sync::atomic::AtomicUsize,
}

impl Engine {
    /// Builds an engine with its own pools of `options.threads` threads.
    pub fn new(options: Options) -> Result<Engine> {
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
            captures: Default::default(),
        })
    }

    /// The engine's options.
    pub fn options(&self) -> &Options {
        &self.options
    }

    pub(crate) fn captures(&self) -> &std::sync::atomic::AtomicUsize {
        &self.captures
    }

    pub(crate) fn pools(&self) -> pipeline::Pools<'_> {
        pipeline::Pools {
            readers: &self.pool,
            compressors: self.compress_pool.as_ref(),
            threads: self.options.threads,
        }
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

    /// Collects `request` into `output` as a run of its own (a new id, the
    /// current time). The progress callback, if any, runs on this thread;
    /// returning `false` from it cancels the run.
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
        let mut spec = RunSpec::new();
        spec.progress = progress.map(|p| -> &mut ProgressFn<'_> { p });
        self.run(request, output, spec)
    }

    /// Runs `spec` on `request` into `output`: like [`collect`](Self::collect),
    /// with the identity and controls the caller gives. Any number of runs
    /// may share the engine at once; each is cancelled by its own token.
    pub fn run(&self, request: &Request, output: Output<'_>, spec: RunSpec<'_>) -> Result<Report> {
        spec.validate()?;
        if spec.cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let format = spec.format.unwrap_or(self.options.format);
        let level = match spec.compression_level {
            Some(l) => l,
            None if spec.format.is_some() => format.default_level(),
            None => self.options.level(),
        };
        check_level(format, level)?;
        let key = request.redacted.then(|| {
            spec.redaction_key
                .clone()
                .unwrap_or_else(RedactionKey::random)
        });
        let redactor = key.as_ref().map(|k| {
            let hosts: Vec<String> = request.hosts.iter().map(|h| h.hostname.clone()).collect();
            redact::Redactor::new(k.0, &hosts)
        });
        let mut plan = self.plan_redacting(request, redactor.as_ref())?;
        if let Some(r) = &redactor {
            redact_host_names(&mut plan, request, r);
        }
        if let Some(only) = &spec.only {
            plan.components.retain(|c| {
                only.iter()
                    .any(|(path, t)| *path == c.archive_dir && t == c.log_type.as_str())
            });
        }
        let selection = std::sync::Arc::new(select::Selection::from_request(request, redactor));
        let default_name = format!(
            "{}_{}.{}",
            request.archive_stem(),
            spec.created.strftime("%Y%m%dT%H%M%SZ"),
            format.extension()
        );
        let settings = pipeline::Settings {
            format,
            level,
            id: &spec.id,
            created: spec.created,
            cancel: &spec.cancel,
            finish: spec.finish,
        };
        let mut progress = spec.progress;
        let (collected, path) = output.write_with(&default_name, |sink| {
            pipeline::run(
                &self.pools(),
                request,
                &plan,
                &settings,
                sink,
                &selection,
                progress.take(),
            )
        })?;
        Ok(Report {
            manifest: collected.manifest,
            path,
            redaction_map: collected.tokens,
            redaction_key: key,
            index: collected.index,
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

fn check_level(format: Format, level: i32) -> Result<()> {
    let range = format.level_range();
    if !range.contains(&level) {
        return Err(Error::InvalidOption {
            name: "compression-level",
            message: format!(
                "{level} is out of range {}..={} for {}",
                range.start(),
                range.end(),
                format.extension()
            ),
        });
    }
    Ok(())
}
