//! The `logpack` command line (PRODUCT.md §5).
//!
//! Exit codes: 0 every component collected; 3 archive written but some
//! component failed; 2 bad request or usage; 1 fatal (no archive).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use logpack::manifest::Status;
use logpack::{Engine, Error, Format, Options, Output, Plan, Request};

const EXIT_OK: u8 = 0;
const EXIT_FATAL: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_PARTIAL: u8 = 3;
const EXIT_REFUSED: u8 = 4;

#[derive(Parser)]
#[command(
    name = "logpack",
    version,
    about = "Collect a MongoDB deployment's logs into one archive with a manifest"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Collect the logs a request names into a tar.gz, tar.zst or tar.
    Collect(CollectArgs),
    /// Read an archive back and check every entry against manifest.json.
    Verify {
        /// The archive to check.
        archive: PathBuf,
    },
    /// Join archives made by logpack (say, one per host) into one, by byte
    /// copy of their fragments.
    Merge(MergeArgs),
    /// Log collection jobs: create, list, get, download, extend, retry, delete.
    Jobs(JobsArgs),
    /// Follow the live logs of a request's components, through rotation.
    Capture(CaptureArgs),
    /// Print the request for the host this runs on: its mongod and mongos
    /// processes, agents and Ops Manager server (exit 3 when nothing is found).
    Discover(DiscoverArgs),
    /// Serve the HTTP API: Ops Manager log collection jobs, Atlas log
    /// download and dotnet-monitor's /logs, over a job store.
    Serve(ServeArgs),
    /// One archive for a cluster, composed in S3-compatible storage: each
    /// host puts its own, one coordinator composes them.
    Fleet(FleetArgs),
}

#[derive(Args)]
struct FleetArgs {
    #[command(subcommand)]
    command: FleetCommand,
}

#[derive(Subcommand)]
enum FleetCommand {
    /// Collect this host's slice of the cluster's request and upload it.
    Put {
        /// The cluster's request.
        request: PathBuf,
        /// This host, as the request names it.
        #[arg(long)]
        host: String,
        /// Where the job's uploads go: s3://BUCKET/PREFIX.
        #[arg(long)]
        store: String,
        /// An S3-compatible endpoint (default: $AWS_ENDPOINT_URL, else AWS).
        #[arg(long)]
        endpoint: Option<String>,
        /// Threads for reading and compression (default: available cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Print the report as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// No summary on stderr.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Wait for the request's hosts, then compose their uploads into one object.
    Compose {
        /// The cluster's request.
        request: PathBuf,
        /// Where the hosts uploaded: s3://BUCKET/PREFIX.
        #[arg(long)]
        store: String,
        /// Seconds to wait for hosts that have not reported.
        #[arg(long, default_value_t = 0)]
        wait: u64,
        /// An S3-compatible endpoint (default: $AWS_ENDPOINT_URL, else AWS).
        #[arg(long)]
        endpoint: Option<String>,
        /// The composed archive: s3://BUCKET/KEY.tar.gz.
        #[arg(short, long)]
        output: String,
        /// Print the report as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// No summary on stderr.
        #[arg(short, long)]
        quiet: bool,
    },
}

#[derive(Args)]
struct DiscoverArgs {
    /// Print the request compactly (default: indented, to edit).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    roots: RootArgs,
}

/// Where discovery looks (tests and containers point them elsewhere).
#[derive(Args)]
struct RootArgs {
    /// Stands for /proc.
    #[arg(long, default_value = "/proc")]
    proc_root: PathBuf,
    /// Stands for /etc (agent configs are read from ETC/mongodb-mms/*.config).
    #[arg(long, default_value = "/etc")]
    etc_root: PathBuf,
}

impl RootArgs {
    fn discover(&self) -> logpack_discover::Discovery {
        let roots = logpack_discover::Roots {
            proc_root: self.proc_root.clone(),
            etc_root: self.etc_root.clone(),
            ..logpack_discover::Roots::default()
        };
        logpack_discover::discover(&roots)
    }
}

#[derive(Args)]
struct ServeArgs {
    /// The spool directory (default as for `jobs`).
    #[arg(long)]
    spool: Option<PathBuf>,
    /// The deployment file: {"groupId": …, "hosts": [ … ]}.
    #[arg(long)]
    deployment: PathBuf,
    /// The API keys file (mode 0600): {"apiKeys": [ … ], "monitorApiKeys": [ … ]}.
    #[arg(long)]
    keys: PathBuf,
    /// Address to listen on; other than loopback, TLS is required.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// PEM certificate chain for TLS.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for TLS.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Jobs in progress at once in the store.
    #[arg(long, default_value_t = 4)]
    max_in_progress: usize,
    /// Open connections at once; more are answered 503.
    #[arg(long, default_value_t = 4096)]
    max_connections: usize,
    /// Threads for reading and compression (default: available cores).
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(Args)]
struct CaptureArgs {
    /// The request JSON; relative paths in it are resolved against its directory.
    request: PathBuf,
    /// How long to follow, in seconds; -1 until Ctrl-C.
    #[arg(long, default_value_t = 30, allow_negative_numbers = true)]
    duration: i64,
    /// The minimum level (FATAL, ERROR, WARN, INFO, DEBUG, or dotnet's names).
    #[arg(long)]
    level: Option<String>,
    /// ndjson, json-seq, text or sse.
    #[arg(long, default_value = "ndjson")]
    format: logpack::capture::CaptureFormat,
    /// Redact the entries (one key for the whole capture).
    #[arg(long)]
    redact: bool,
    /// No notices on stderr.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Args)]
struct JobsArgs {
    /// The spool directory (default: $LOGPACK_SPOOL, else $XDG_STATE_HOME/logpack, else ~/.local/state/logpack).
    #[arg(long, global = true)]
    spool: Option<PathBuf>,
    /// Jobs in progress at once in the store, across processes.
    #[arg(long, global = true, default_value_t = 4)]
    max_in_progress: usize,
    #[command(subcommand)]
    command: JobsCommand,
}

#[derive(Subcommand)]
enum JobsCommand {
    /// Record a job for REQUEST.json, print {"id": …}, and run it in this process.
    Create {
        /// The request JSON; relative paths in it are resolved against its directory.
        request: PathBuf,
        #[command(flatten)]
        selection: SelectionArgs,
        /// Threads for reading and compression (default: available cores).
        #[arg(long)]
        threads: Option<usize>,
        /// No summary of failures on stderr.
        #[arg(short, long)]
        quiet: bool,
    },
    /// The jobs, newest first.
    List {
        /// Include each job's childJobs.
        #[arg(long)]
        verbose: bool,
        /// Page number, from 1.
        #[arg(long, default_value_t = 1)]
        page: usize,
        /// Jobs per page, at most 500.
        #[arg(long, default_value_t = 100)]
        items_per_page: usize,
    },
    /// One job.
    Get {
        /// The job id.
        id: String,
        /// Include its childJobs.
        #[arg(long)]
        verbose: bool,
    },
    /// Copy a job's archive to PATH, into DIR under its own name, or to stdout (-).
    Download {
        /// The job id.
        id: String,
        /// Output file, existing directory, or `-`.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Set a job's expiration date (RFC 3339).
    Extend {
        /// The job id.
        id: String,
        /// The new expiration date.
        date: String,
    },
    /// Collect a FAILURE job's failed children again, in this process.
    Retry {
        /// The job id.
        id: String,
        /// Threads for reading and compression (default: available cores).
        #[arg(long)]
        threads: Option<usize>,
        /// No summary of failures on stderr.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Delete a job (a running project job is cancelled first).
    Delete {
        /// The job id.
        id: String,
    },
}

/// collect's selection flags, which `jobs create` takes too.
#[derive(Args)]
struct SelectionArgs {
    /// Overrides logCollectionFromDate: RFC 3339, epoch seconds, or a span before now (`2h`, `3d`).
    #[arg(long)]
    from: Option<String>,
    /// Overrides logCollectionToDate: RFC 3339, epoch seconds, or a span before now.
    #[arg(long)]
    to: Option<String>,
    /// Overrides level (FATAL, ERROR, WARN, INFO, DEBUG).
    #[arg(long)]
    level: Option<String>,
    /// Sets redacted to true.
    #[arg(long)]
    redact: bool,
    /// Overrides sizeRequestedPerFileBytes.
    #[arg(long, allow_negative_numbers = true)]
    size_per_file: Option<i64>,
}

impl SelectionArgs {
    /// The request fields these flags replace.
    fn overrides(&self) -> Vec<(&'static str, Value)> {
        let mut overrides = Vec::new();
        if let Some(v) = &self.from {
            overrides.push(("logCollectionFromDate", date_value(v)));
        }
        if let Some(v) = &self.to {
            overrides.push(("logCollectionToDate", date_value(v)));
        }
        if let Some(v) = &self.level {
            overrides.push(("level", Value::from(v.as_str())));
        }
        if self.redact {
            overrides.push(("redacted", Value::Bool(true)));
        }
        if let Some(v) = self.size_per_file {
            overrides.push(("sizeRequestedPerFileBytes", Value::from(v)));
        }
        overrides
    }
}

#[derive(Args)]
struct MergeArgs {
    /// The archives to join, in order (all tar.gz or all tar.zst).
    #[arg(required = true)]
    archives: Vec<PathBuf>,
    /// Output file, existing directory (default name inside), or `-` for stdout.
    #[arg(short, long)]
    output: PathBuf,
    /// Print the merged manifest as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// No progress bar and no summary.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Args)]
struct CollectArgs {
    /// The request JSON; relative paths in it are resolved against its directory.
    #[arg(required_unless_present = "discover", conflicts_with = "discover")]
    request: Option<PathBuf>,
    /// Collect what `logpack discover` finds on this host, with no request file.
    #[arg(long)]
    discover: bool,
    #[command(flatten)]
    roots: RootArgs,
    /// Output file, existing directory (default name inside), or `-` for stdout.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Archive format.
    #[arg(long, default_value = "tar.gz")]
    format: Format,
    /// Compression level (gzip 0-9, default 6; zstd 1-22, default 1).
    #[arg(long, allow_negative_numbers = true)]
    compression_level: Option<i32>,
    /// Threads for reading and compression (default: available cores; 1 runs everything on one thread).
    #[arg(long)]
    threads: Option<usize>,
    #[command(flatten)]
    selection: SelectionArgs,
    /// Print the plan (components, files, bytes) and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the manifest (or, with --dry-run, the plan) as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// No progress bar and no summary.
    #[arg(short, long)]
    quiet: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Collect(args) => collect(args),
        Command::Verify { archive } => verify(&archive),
        Command::Merge(args) => merge(args),
        Command::Jobs(args) => jobs(args),
        Command::Capture(args) => capture(args),
        Command::Serve(args) => serve(args),
        Command::Discover(args) => discover(args),
        Command::Fleet(args) => fleet(args.command),
    };
    ExitCode::from(code)
}

fn fail(e: &Error) -> u8 {
    match e {
        // The code first, as Ops Manager's clients print it.
        Error::Refused { .. } => eprintln!("{e}"),
        _ => eprintln!("logpack: error: {e}"),
    }
    match e {
        e if e.is_bad_request() => EXIT_USAGE,
        Error::Input { .. } => EXIT_USAGE,
        Error::Refused { .. } => EXIT_REFUSED,
        _ => EXIT_FATAL,
    }
}

/// A date flag as JSON: an integer is epoch seconds; a span such as `2h`,
/// `90m` or `3d` means that long before now; anything else is passed on as
/// an RFC 3339 string for the request validation to judge.
fn date_value(s: &str) -> Value {
    if let Ok(secs) = s.parse::<i64>() {
        return Value::from(secs);
    }
    if let Ok(span) = s.parse::<jiff::Span>() {
        let now = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::UTC);
        if let Ok(then) = now.checked_sub(span.abs()) {
            return Value::from(then.timestamp().to_string());
        }
    }
    Value::from(s)
}

fn collect(args: CollectArgs) -> u8 {
    let to_stdout = args.output.as_deref() == Some(std::path::Path::new("-"));
    if to_stdout && args.json && !args.dry_run {
        eprintln!("logpack: error: --json and -o - both write to stdout; choose one");
        return EXIT_USAGE;
    }
    let overrides = args.selection.overrides();
    let parsed = match &args.request {
        Some(path) => Request::from_file_with(path, &overrides),
        None => {
            let found = args.roots.discover();
            eprint!("{}", found.summary());
            let Some(json) = found.request_json(false) else {
                eprintln!("logpack: error: --discover found nothing to collect; nothing written");
                return EXIT_USAGE;
            };
            Request::from_json_with(&json, std::path::Path::new("/"), &overrides)
        }
    };
    let request = match parsed {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let mut options = Options {
        format: args.format,
        compression_level: args.compression_level,
        ..Options::default()
    };
    if let Some(t) = args.threads {
        options.threads = t;
    }
    let engine = match Engine::new(options) {
        Ok(e) => e,
        Err(e) => return fail(&e),
    };

    if args.dry_run {
        let plan = match engine.plan(&request) {
            Ok(p) => p,
            Err(e) => return fail(&e),
        };
        let printed = if args.json {
            print_json(&plan)
        } else {
            let mut out = std::io::stdout().lock();
            print_plan(&mut out, &plan).and_then(|()| out.flush())
        };
        return match printed {
            Ok(()) => EXIT_OK,
            Err(e) => {
                eprintln!("logpack: error: cannot print the plan: {e}");
                EXIT_FATAL
            }
        };
    }

    let bar = progress_bar(args.quiet);
    let mut on_progress = |done: u64, total: u64| {
        if let Some(bar) = &bar {
            bar.set_length(total);
            bar.set_position(done);
        }
        true
    };

    let stdout = std::io::stdout();
    let mut stdout_lock;
    let output = if to_stdout {
        stdout_lock = stdout.lock();
        Output::Writer(&mut stdout_lock)
    } else {
        Output::Path(args.output.clone().unwrap_or_else(|| PathBuf::from(".")))
    };
    let result = engine.collect(&request, output, Some(&mut on_progress));
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = match result {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let m = &report.manifest;
    if request.redacted {
        let beside = report
            .path
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("logpack-{}", m.id)));
        let map_path = PathBuf::from(format!("{}.redaction-map.json", beside.display()));
        if let Err(e) = write_private(&map_path, &report.redaction_map) {
            eprintln!(
                "logpack: error: cannot write the redaction map {}: {e}",
                map_path.display()
            );
            return EXIT_FATAL;
        }
        if !args.quiet {
            eprintln!(
                "logpack: redaction map (token -> value) in {}",
                map_path.display()
            );
        }
    }
    if args.json {
        if let Err(e) = print_json(m) {
            eprintln!("logpack: error: cannot print the manifest: {e}");
            return EXIT_FATAL;
        }
    }
    if !args.quiet {
        let files = m.file_count();
        let place = report
            .path
            .as_ref()
            .map_or("stdout".to_string(), |p| p.display().to_string());
        eprintln!(
            "logpack: wrote {place}: {files} files, {} bytes uncompressed, status {:?}",
            m.uncompressed_size_total_bytes, m.status
        );
        for c in m.child_jobs.iter().filter(|c| c.status == Status::Failure) {
            eprintln!(
                "logpack: FAILURE {} {} ({}): {}",
                c.host_name,
                c.log_collection_type,
                c.path,
                c.error_message.as_deref().unwrap_or("")
            );
        }
    }
    let _ = std::io::stdout().flush();
    if report.is_complete() {
        EXIT_OK
    } else {
        EXIT_PARTIAL
    }
}

/// A progress bar on stderr when it is a terminal and `quiet` is off.
fn progress_bar(quiet: bool) -> Option<ProgressBar> {
    (!quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
            )
            .expect("valid template"),
        );
        bar
    })
}

fn merge(args: MergeArgs) -> u8 {
    let to_stdout = args.output.as_os_str() == "-";
    if to_stdout && args.json {
        eprintln!("logpack: error: --json and -o - both write to stdout; choose one");
        return EXIT_USAGE;
    }
    let mut sources = Vec::with_capacity(args.archives.len());
    for path in &args.archives {
        match logpack::compose::Source::open(path) {
            Ok(s) => sources.push(s),
            Err(e) => return fail(&e),
        }
    }
    let bar = progress_bar(args.quiet);
    let mut on_progress = |done: u64, total: u64| {
        if let Some(bar) = &bar {
            bar.set_length(total);
            bar.set_position(done);
        }
        true
    };
    let stdout = std::io::stdout();
    let mut stdout_lock;
    let output = if to_stdout {
        stdout_lock = stdout.lock();
        Output::Writer(&mut stdout_lock)
    } else {
        Output::Path(args.output.clone())
    };
    let result = logpack::compose::merge(&sources, output, Some(&mut on_progress));
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let merged = match result {
        Ok(m) => m,
        Err(e) => return fail(&e),
    };
    if args.json {
        let mut out = std::io::stdout().lock();
        let printed = merged
            .write_manifest(&sources, &mut out)
            .and_then(|()| writeln!(out))
            .and_then(|()| out.flush());
        if let Err(e) = printed {
            eprintln!("logpack: error: cannot print the manifest: {e}");
            return EXIT_FATAL;
        }
    }
    let m = &merged.manifest;
    if !args.quiet {
        let place = merged
            .path
            .as_ref()
            .map_or("stdout".to_string(), |p| p.display().to_string());
        eprintln!(
            "logpack: wrote {place}: {} archives, {} children, {} bytes uncompressed, status {:?}",
            sources.len(),
            m.child_jobs.len(),
            m.uncompressed_size_total_bytes,
            m.status
        );
    }
    if merged.is_complete() {
        EXIT_OK
    } else {
        EXIT_PARTIAL
    }
}

/// Writes the token map with mode 0600, never world-readable even briefly.
fn write_private(
    path: &std::path::Path,
    map: &std::collections::BTreeMap<String, String>,
) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    let json = serde_json::to_vec_pretty(map).expect("maps serialize");
    f.write_all(&json)?;
    f.sync_all()
}

/// Streams `value` as pretty JSON to stdout: the plan and the manifest are
/// read back from their spills as they are written, never held whole.
fn print_json(value: &impl serde::Serialize) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    out.flush()
}

fn print_plan(out: &mut impl Write, plan: &Plan) -> std::io::Result<()> {
    for c in &plan.components {
        let status = if c.failures.is_empty() {
            "ok"
        } else {
            "FAILURE"
        };
        writeln!(
            out,
            "{} {} {} [{status}] {} files, {} bytes",
            c.host_name,
            c.log_type,
            c.archive_dir,
            c.files.len(),
            c.bytes
        )?;
        for f in &c.failures {
            writeln!(out, "    error: {f}")?;
        }
        for f in c.files.iter() {
            let f = f?;
            let source = c.source_of(&f);
            writeln!(
                out,
                "    {:>12}  {}  <- {}",
                f.size,
                f.name,
                source.display()
            )?;
        }
        for s in c.skipped.iter() {
            let s = s?;
            writeln!(out, "    skipped  {}: {}", s.name, s.reason)?;
        }
        for n in &c.notes {
            writeln!(out, "    note: {n}")?;
        }
    }
    writeln!(
        out,
        "total: {} components, {} files, {} bytes",
        plan.components.len(),
        plan.file_count(),
        plan.total_bytes()
    )
}

fn verify(archive: &std::path::Path) -> u8 {
    match logpack::verify::verify_path(archive) {
        Ok(v) => {
            println!(
                "{}: OK, {} entries, {} bytes, manifest status {:?}",
                archive.display(),
                v.entries,
                v.bytes,
                v.manifest.status
            );
            EXIT_OK
        }
        Err(e) => {
            eprintln!("logpack: {}: {e}", archive.display());
            EXIT_FATAL
        }
    }
}

/// The default spool: $LOGPACK_SPOOL, else $XDG_STATE_HOME/logpack, else
/// ~/.local/state/logpack.
fn default_spool() -> PathBuf {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("LOGPACK_SPOOL")
        .or_else(|| var("XDG_STATE_HOME").map(|d| d.join("logpack")))
        .or_else(|| var("HOME").map(|h| h.join(".local/state/logpack")))
        .unwrap_or_else(|| PathBuf::from(".logpack-spool"))
}

/// A clock stopped at `LOGPACK_NOW` (RFC 3339): a hook for tests of expiry.
struct FixedClock(jiff::Timestamp);

impl logpack::jobs::Clock for FixedClock {
    fn now(&self) -> jiff::Timestamp {
        self.0
    }
}

fn jobs(args: JobsArgs) -> u8 {
    let (threads, quiet) = match &args.command {
        JobsCommand::Create { threads, quiet, .. } | JobsCommand::Retry { threads, quiet, .. } => {
            (*threads, *quiet)
        }
        _ => (None, false),
    };
    let mut options = Options::default();
    if let Some(t) = threads {
        options.threads = t;
    }
    if !matches!(
        args.command,
        JobsCommand::Create { .. } | JobsCommand::Retry { .. }
    ) {
        options.threads = 1; // nothing runs: no pools to start
    }
    let engine = match Engine::new(options) {
        Ok(e) => std::sync::Arc::new(e),
        Err(e) => return fail(&e),
    };
    let mut store_options = logpack::jobs::StoreOptions {
        max_in_progress: args.max_in_progress,
        ..Default::default()
    };
    if let Some(now) = std::env::var("LOGPACK_NOW").ok().filter(|s| !s.is_empty()) {
        match now.parse::<jiff::Timestamp>() {
            Ok(t) => store_options.clock = std::sync::Arc::new(FixedClock(t)),
            Err(e) => {
                eprintln!("logpack: error: LOGPACK_NOW: {e}");
                return EXIT_USAGE;
            }
        }
    }
    let spool = args.spool.clone().unwrap_or_else(default_spool);
    let store = match logpack::jobs::JobStore::open(&spool, engine, store_options) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let print = |v: &Value| -> u8 {
        let mut out = std::io::stdout().lock();
        match serde_json::to_writer_pretty(&mut out, v)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
            .and_then(|()| out.flush())
        {
            Ok(()) => EXIT_OK,
            Err(e) => {
                eprintln!("logpack: error: cannot print: {e}");
                EXIT_FATAL
            }
        }
    };
    let run = |started: logpack::jobs::Started| -> u8 {
        use logpack::jobs::Outcome;
        let id = started.id.clone();
        match store.run(started) {
            Ok(Outcome::Success) => EXIT_OK,
            Ok(Outcome::Failure) if quiet => EXIT_PARTIAL,
            Ok(Outcome::Failure) => {
                if let Ok(job) = store.get(&id, true) {
                    if let Some(e) = job.get("errorMessage").and_then(Value::as_str) {
                        eprintln!("logpack: job {id} failed: {e}");
                    }
                    for c in job["childJobs"].as_array().into_iter().flatten() {
                        if c["status"] == "FAILURE" {
                            eprintln!(
                                "logpack: FAILURE {} {} ({}): {}",
                                c["hostName"].as_str().unwrap_or(""),
                                c["logCollectionType"].as_str().unwrap_or(""),
                                c["path"].as_str().unwrap_or(""),
                                c["errorMessage"].as_str().unwrap_or("")
                            );
                        }
                    }
                }
                EXIT_PARTIAL
            }
            Ok(Outcome::Deleted) => {
                eprintln!("logpack: job {id} was deleted while it ran");
                EXIT_FATAL
            }
            Err(e) => fail(&e),
        }
    };
    match args.command {
        JobsCommand::Create {
            request, selection, ..
        } => {
            let text = match std::fs::read_to_string(&request) {
                Ok(t) => t,
                Err(source) => {
                    return fail(&Error::Input {
                        path: request,
                        source,
                    })
                }
            };
            let base = request
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."))
                .to_path_buf();
            let started = match store.create(&text, &base, &selection.overrides()) {
                Ok(s) => s,
                Err(e) => return fail(&e),
            };
            println!("{}", serde_json::json!({ "id": started.id }));
            let _ = std::io::stdout().flush();
            run(started)
        }
        JobsCommand::List {
            verbose,
            page,
            items_per_page,
        } => match store.list(page, items_per_page, verbose) {
            Ok(v) => print(&v),
            Err(e) => fail(&e),
        },
        JobsCommand::Get { id, verbose } => match store.get(&id, verbose) {
            Ok(v) => print(&v),
            Err(e) => fail(&e),
        },
        JobsCommand::Download { id, output } => {
            let stdout = std::io::stdout();
            let mut lock;
            let out = if output.as_os_str() == "-" {
                lock = stdout.lock();
                Output::Writer(&mut lock)
            } else {
                Output::Path(output)
            };
            match store.download(&id, out) {
                Ok(path) => {
                    if let Some(p) = path {
                        eprintln!("logpack: wrote {}", p.display());
                    }
                    EXIT_OK
                }
                Err(e) => fail(&e),
            }
        }
        JobsCommand::Extend { id, date } => {
            let until = match date.parse::<jiff::Timestamp>() {
                Ok(t) => t,
                Err(e) => {
                    eprintln!(
                        "logpack: error: expirationDate: {date:?} is not an RFC 3339 date: {e}"
                    );
                    return EXIT_USAGE;
                }
            };
            match store.extend(&id, until) {
                Ok(v) => print(&v),
                Err(e) => fail(&e),
            }
        }
        JobsCommand::Retry { id, .. } => match store.retry(&id) {
            Ok(started) => run(started),
            Err(e) => fail(&e),
        },
        JobsCommand::Delete { id } => match store.delete(&id) {
            Ok(()) => EXIT_OK,
            Err(e) => fail(&e),
        },
    }
}

/// `logpack capture`: entries on stdout until the duration ends or Ctrl-C
/// (exit 0).
///
/// When the output fails (a full disk, a file-size limit, a closed pipe)
/// the capture ends with exit 1 and the error on stderr, naming how many
/// entries were written. When stdout is a regular file (`> out.ndjson`,
/// `>> out.ndjson` too), the output stays valid: the record whose write
/// failed is taken back (the file is cut where it began, see
/// [`CaptureOut`]), and one last record of logpack's own, in the capture's
/// format (Category `logpack`, LogLevel `Error`, the reason and the count
/// in its Message), is written if it fits (else taken back too). A
/// file-size limit (`ulimit -f`) gives EFBIG like a full disk: SIGXFSZ is
/// caught rather than ending the process.
fn capture(args: CaptureArgs) -> u8 {
    let mut overrides = Vec::new();
    if let Some(l) = &args.level {
        overrides.push(("level", Value::from(l.as_str())));
    }
    if args.redact {
        overrides.push(("redacted", Value::Bool(true)));
    }
    let request = match Request::from_file_with(&args.request, &overrides) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let duration = match args.duration {
        -1 => None,
        s if s >= 0 => Some(std::time::Duration::from_secs(s as u64)),
        s => {
            eprintln!("logpack: error: --duration: {s} is not -1 or a number of seconds");
            return EXIT_USAGE;
        }
    };
    let engine = match Engine::new(Options {
        threads: 1,
        ..Options::default()
    }) {
        Ok(e) => e,
        Err(e) => return fail(&e),
    };
    // Ctrl-C (and SIGTERM) end the capture cleanly: the flag is watched and
    // turned into the capture's cancellation.
    let cancel = logpack::CancelToken::default();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(signal, stop.clone()) {
            eprintln!("logpack: warning: Ctrl-C will not end the capture cleanly: {e}");
        }
    }
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (cancel, stop, done) = (cancel.clone(), stop.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                if stop.load(std::sync::atomic::Ordering::SeqCst) {
                    cancel.cancel();
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        })
    };
    let spec = logpack::capture::CaptureSpec {
        duration,
        level: None,
        format: args.format,
        cancel,
        redaction_key: None,
        // Notices go to stderr as they happen.
        on_notice: (!args.quiet).then(|| -> Box<logpack::capture::NoticeFn> {
            Box::new(|n: &str| eprintln!("logpack: {n}"))
        }),
        on_start: None,
        notices_in_output: false,
    };
    // Past a file-size limit, a write then fails with EFBIG instead of
    // the signal ending the process.
    let _ = signal_hook::flag::register(
        signal_hook::consts::SIGXFSZ,
        std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
    );
    let mut out = CaptureOut::stdout();
    let result = engine.capture(&request, &mut out, spec);
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = watcher.join();
    match result {
        Ok(report) => {
            if !args.quiet {
                eprintln!(
                    "logpack: captured {} entries from {} files ({} below the level)",
                    report.entries, report.files, report.filtered
                );
            }
            EXIT_OK
        }
        Err(Error::Output { source, .. }) => {
            let entries = out.records;
            let why =
                format!("writing the capture to stdout failed after {entries} entries: {source}");
            let ending = match out.end(&why, args.format) {
                Ok(Some(true)) => "; the output file ends with its last whole record, then a notice record saying so".to_string(),
                Ok(Some(false)) => "; the output file ends with its last whole record (no room for a notice record)".to_string(),
                Ok(None) => String::new(),
                Err(e) => format!("; {e}"),
            };
            eprintln!("logpack: error: {why}{ending}");
            EXIT_FATAL
        }
        Err(e) => fail(&e),
    }
}

/// Where `capture` writes: stdout, counting whole records. The capture
/// writes each record with one `write_all`, then flushes it
/// (`CaptureFormat::write`), so a flush is a record boundary.
///
/// When stdout is a regular file, it is written directly (a duplicate of
/// the descriptor, sharing its offset and `O_APPEND`), and a write that
/// fails, or writes nothing, first takes back the bytes of the record
/// under way: the file is cut (`ftruncate`) back to where that record
/// began, the offset after the last write less the bytes written since
/// the last boundary (with `O_APPEND` too, where the offset after a write
/// is where it ended). It is cut only while those bytes are the end of the
/// file; otherwise the error says that it was not.
struct CaptureOut {
    /// stdout, when it is a regular file.
    file: Option<std::fs::File>,
    stdout: std::io::Stdout,
    /// Bytes of the record under way written so far.
    pending: u64,
    /// Whole records written.
    records: u64,
    /// Set when a failed record could not be taken back.
    unrecoverable: Option<String>,
}

impl CaptureOut {
    fn stdout() -> CaptureOut {
        use std::os::fd::AsFd;
        let stdout = std::io::stdout();
        let file = stdout
            .as_fd()
            .try_clone_to_owned()
            .map(std::fs::File::from)
            .ok()
            .filter(|f| f.metadata().is_ok_and(|m| m.file_type().is_file()));
        CaptureOut {
            file,
            stdout,
            pending: 0,
            records: 0,
            unrecoverable: None,
        }
    }

    /// Cuts the file back to where the record under way began.
    fn take_back(&mut self) -> std::io::Result<()> {
        use std::io::{Seek, SeekFrom};
        let Some(file) = &self.file else {
            return Ok(());
        };
        if self.pending == 0 {
            return Ok(());
        }
        let end = (&*file).stream_position()?;
        let len = file.metadata()?.len();
        if len != end || end < self.pending {
            return Err(std::io::Error::other(format!(
                "the file was written beyond the capture's last record ({len} bytes, the capture at {end}): its last record was not cut"
            )));
        }
        let start = end - self.pending;
        file.set_len(start)?;
        (&*file).seek(SeekFrom::Start(start))?;
        self.pending = 0;
        Ok(())
    }

    /// After a failed write: writes one notice record saying `why`, in
    /// `format`, if stdout is a regular file whose last record is whole.
    /// Some(true) when it was written, Some(false) when it did not fit (it
    /// is taken back), None when stdout is not a file; Err when the file
    /// could not be left at a record boundary.
    fn end(
        &mut self,
        why: &str,
        format: logpack::capture::CaptureFormat,
    ) -> Result<Option<bool>, String> {
        if let Some(e) = self.unrecoverable.take() {
            return Err(e);
        }
        if self.file.is_none() {
            return Ok(None);
        }
        self.take_back().map_err(|e| e.to_string())?;
        let notice = logpack::capture::LogEntry::notice(format!("the capture ended here: {why}"));
        let records = self.records;
        let written = format.write(&notice, self).is_ok();
        self.records = records;
        match self.unrecoverable.take() {
            Some(e) => Err(e),
            None => Ok(Some(written)),
        }
    }
}

impl Write for CaptureOut {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let Some(file) = &mut self.file else {
            let n = self.stdout.write(buf)?;
            self.pending += n as u64;
            return Ok(n);
        };
        let result = match file.write(buf) {
            Ok(0) if !buf.is_empty() => Err(std::io::ErrorKind::WriteZero.into()),
            r => r,
        };
        match result {
            Ok(n) => {
                self.pending += n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                if let Err(cut) = self.take_back() {
                    self.unrecoverable = Some(cut.to_string());
                }
                Err(e)
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.file.is_none() {
            self.stdout.flush()?;
        }
        if self.pending > 0 {
            self.records += 1;
            self.pending = 0;
        }
        Ok(())
    }
}

/// `logpack serve` (PRODUCT.md §11): runs until SIGINT or SIGTERM.
fn serve(args: ServeArgs) -> u8 {
    let mut options = logpack_server::ServeOptions::new(
        args.spool.unwrap_or_else(default_spool),
        args.deployment,
        args.keys,
    );
    options.listen = args.listen;
    options.tls = args.tls_cert.zip(args.tls_key);
    options.max_in_progress = args.max_in_progress;
    options.max_connections = args.max_connections;
    options.threads = args.threads;
    let listening = |addr| eprintln!("listening on {addr}");
    match logpack_server::serve(options, listening) {
        Ok(()) => EXIT_OK,
        Err(e @ logpack_server::ServeError::Usage(_)) => {
            eprintln!("logpack serve: {e}");
            EXIT_USAGE
        }
        Err(e) => {
            eprintln!("logpack serve: {e}");
            EXIT_FATAL
        }
    }
}

/// `logpack fleet put|compose` (PRODUCT.md §12).
fn fleet(command: FleetCommand) -> u8 {
    use logpack_fleet::{FleetError, Location};
    let fail = |e: FleetError| {
        eprintln!("logpack fleet: {e}");
        match e {
            FleetError::Usage(_) => EXIT_USAGE,
            FleetError::Fatal(_) => EXIT_FATAL,
        }
    };
    let done = |status: Status, json: Option<String>| {
        if let Some(j) = json {
            println!("{j}");
        }
        if status == Status::Success {
            EXIT_OK
        } else {
            EXIT_PARTIAL
        }
    };
    match command {
        FleetCommand::Put {
            request,
            host,
            store,
            endpoint,
            threads,
            json,
            quiet,
        } => {
            let run = || {
                let request = logpack_fleet::read_request(&request)?;
                let store = Location::parse(&store, true)?;
                logpack_fleet::put(&request, &host, &store, endpoint.as_deref(), threads)
                    .map(|r| (r, store.bucket))
            };
            match run() {
                Ok((r, bucket)) => {
                    if !quiet {
                        eprintln!(
                            "logpack fleet: {host}: uploaded s3://{bucket}/{} ({} bytes), status {:?}",
                            r.archive, r.archive_bytes, r.status
                        );
                    }
                    done(
                        r.status,
                        json.then(|| serde_json::to_string(&r).unwrap_or_default()),
                    )
                }
                Err(e) => fail(e),
            }
        }
        FleetCommand::Compose {
            request,
            store,
            wait,
            endpoint,
            output,
            json,
            quiet,
        } => {
            let run = || {
                let request = logpack_fleet::read_request(&request)?;
                let store = Location::parse(&store, true)?;
                let out = Location::parse(&output, false)?;
                logpack_fleet::compose(
                    &request,
                    &store,
                    &out,
                    std::time::Duration::from_secs(wait),
                    endpoint.as_deref(),
                )
            };
            match run() {
                Ok(r) => {
                    if !quiet {
                        eprintln!(
                            "logpack fleet: composed {output}: {} hosts ({} missing), {} children, \
                             {} parts copied by the store and {} made here; \
                             {} bytes copied, {} downloaded, {} uploaded",
                            r.hosts,
                            r.missing.len(),
                            r.children,
                            r.parts_copied,
                            r.parts_made,
                            r.bytes_copied,
                            r.bytes_downloaded,
                            r.bytes_uploaded
                        );
                    }
                    done(
                        r.status,
                        json.then(|| serde_json::to_string(&r).unwrap_or_default()),
                    )
                }
                Err(e) => fail(e),
            }
        }
    }
}

/// `logpack discover` (PRODUCT.md §13): the request on stdout, the summary
/// on stderr; exit 3 when nothing was found.
fn discover(args: DiscoverArgs) -> u8 {
    let found = args.roots.discover();
    eprint!("{}", found.summary());
    match found.request_json(!args.json) {
        Some(json) => {
            println!("{json}");
            EXIT_OK
        }
        None => EXIT_PARTIAL,
    }
}
