//! Planning: which files each host × component contributes (PRODUCT.md §2).
//!
//! Planning only reads directories and metadata; it never opens a log. Each
//! component is planned independently on the engine's pool, and a missing
//! or unreadable path becomes the component's `error`, never a panic.
//!
//! A directory may hold any number of files, so the lists are sorted
//! through [`ExternalSort`] and kept in spills: a plan holds
//! [`SORT_MEMORY`] per list being sorted and 1 MiB per spill in memory,
//! whatever the file count.

use std::ffi::OsStr;
use std::fs::{self, Metadata};
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use globset::{GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Failure, Stage};
use crate::redact::{self, Redactor};
use crate::request::{archive_glob, Host, LogType, Process, Request};
use crate::spill::sort::ExternalSort;
use crate::spill::{Spill, Spilled};

/// Memory a list being sorted may hold before it goes to disk as a sorted
/// run; sorting may use about as much again for its keys.
const SORT_MEMORY: usize = 1 << 20;

/// What a collection will read, component by component, in archive order.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// One entry per host × component, ordered by host, then component.
    pub components: Vec<ComponentPlan>,
}

impl Plan {
    /// Sum of the planned files' sizes at planning time.
    pub fn total_bytes(&self) -> u64 {
        self.components.iter().map(|c| c.bytes).sum()
    }

    /// Number of planned files.
    pub fn file_count(&self) -> usize {
        self.components.iter().map(|c| c.files.len()).sum()
    }
}

/// The files of one host × component (one manifest child).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentPlan {
    /// `host` or `host:port`, as the manifest's `hostName`.
    pub host_name: String,
    /// The component's log type.
    pub log_type: LogType,
    /// Directory of the component inside the archive, e.g. `db1/rs0/27017`.
    pub archive_dir: String,
    /// The directory the files come from; symlinks must stay inside it.
    pub source_dir: PathBuf,
    /// Regular files to collect, rotated oldest first and live last.
    pub files: Spilled<PlannedFile>,
    /// Sum of the files' sizes at planning time.
    pub bytes: u64,
    /// Entries seen but not collected, with the reason, by name.
    pub skipped: Spilled<Skipped>,
    /// Why the component failed, if it did: each path and its OS error.
    /// In JSON (`--dry-run --json`), `error`: their messages joined, or null.
    #[serde(rename = "error", serialize_with = "failures_json")]
    pub failures: Vec<Failure>,
    /// Remarks that are not failures (e.g. no files of this type).
    pub notes: Vec<String>,
}

/// One regular file to archive.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedFile {
    /// Name inside the component's archive directory (may hold `/` for FTDC).
    pub name: String,
    /// The path to open when it is not `source_dir/name`: a symlink's
    /// target inside the component, or a name that is not UTF-8. Kept only
    /// then, because a plan holds one of these per file.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "path_json")]
    pub source: Option<PathBuf>,
    /// Size at planning time; the reader re-stats before reading.
    pub size: u64,
}

/// A path in JSON: a string when it is UTF-8, otherwise its bytes (a Unix
/// path is bytes, and a name that is not UTF-8 is exactly when a planned
/// file keeps its source path).
mod path_json {
    use std::ffi::OsString;
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    use std::path::PathBuf;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum PathJson {
        Text(String),
        Bytes(Vec<u8>),
    }

    pub fn serialize<S: Serializer>(path: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
        path.as_ref()
            .map(|p| match p.to_str() {
                Some(text) => PathJson::Text(text.to_string()),
                None => PathJson::Bytes(p.as_os_str().as_bytes().to_vec()),
            })
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
        Ok(Option::<PathJson>::deserialize(d)?.map(|p| match p {
            PathJson::Text(text) => PathBuf::from(text),
            PathJson::Bytes(bytes) => PathBuf::from(OsString::from_vec(bytes)),
        }))
    }
}

impl ComponentPlan {
    /// The path to open for `file`.
    pub fn source_of(&self, file: &PlannedFile) -> PathBuf {
        file.source
            .clone()
            .unwrap_or_else(|| self.source_dir.join(&file.name))
    }
}

/// An entry that was seen but not collected.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Skipped {
    /// Name relative to the component's source directory.
    pub name: String,
    /// Why it was not collected.
    pub reason: String,
}

/// The component specifications of a request, in archive order.
fn components(request: &Request) -> Vec<ComponentSpec<'_>> {
    let wants = |t: LogType| request.log_types.contains(&t);
    let mut specs = Vec::new();
    for host in &request.hosts {
        if let Some(dir) = &host.agent_log_dir {
            for t in LogType::ALL
                .into_iter()
                .filter(|t| t.is_agent() && wants(*t))
            {
                specs.push(ComponentSpec::Agent {
                    host,
                    dir,
                    log_type: t,
                });
            }
        }
        for process in &host.processes {
            if wants(LogType::Mongodb) {
                specs.push(ComponentSpec::Mongo { host, process });
            }
            if wants(LogType::Ftdc) {
                specs.push(ComponentSpec::Ftdc { host, process });
            }
        }
        if let Some(dir) = &host.om_log_dir {
            for t in LogType::ALL
                .into_iter()
                .filter(|t| t.is_om_server() && wants(*t))
            {
                specs.push(ComponentSpec::OmServer {
                    host,
                    dir,
                    log_type: t,
                });
            }
        }
    }
    specs
}

enum ComponentSpec<'a> {
    Agent {
        host: &'a Host,
        dir: &'a Path,
        log_type: LogType,
    },
    Mongo {
        host: &'a Host,
        process: &'a Process,
    },
    Ftdc {
        host: &'a Host,
        process: &'a Process,
    },
    OmServer {
        host: &'a Host,
        dir: &'a Path,
        log_type: LogType,
    },
}

/// Plans every component of `request`, in parallel on the current rayon
/// pool. With a redactor, the source directories named in errors, notes
/// and skip reasons are replaced by their tokens. Fails only when the
/// lists cannot be kept (no usable temporary directory).
pub(crate) fn plan(request: &Request, redactor: Option<&Redactor>) -> io::Result<Plan> {
    plan_with_sort_memory(request, redactor, SORT_MEMORY)
}

fn plan_with_sort_memory(
    request: &Request,
    redactor: Option<&Redactor>,
    sort_memory: usize,
) -> io::Result<Plan> {
    let specs = components(request);
    let filter = PathFilter::new(request);
    let store = PlanStore {
        files: Mutex::new(Spill::new("the plan's file list")),
        skipped: Mutex::new(Spill::new("the plan's skipped entries")),
    };
    let listed: Vec<io::Result<Listed>> = specs
        .par_iter()
        .map(|spec| {
            let live = match spec {
                ComponentSpec::Mongo { process, .. } => Some(live_name(process)),
                _ => None,
            };
            let mut listing = Listing::new(head(spec), live, &filter, sort_memory);
            plan_component(spec, &mut listing)?;
            listing.store(&store, redactor)
        })
        .collect();
    let files = store.files.into_inner().expect("not poisoned").finish()?;
    let skipped = store.skipped.into_inner().expect("not poisoned").finish()?;
    let components = listed
        .into_iter()
        .map(|l| {
            let l = l?;
            Ok(ComponentPlan {
                host_name: l.head.host_name,
                log_type: l.head.log_type,
                archive_dir: l.head.archive_dir,
                source_dir: l.head.source_dir,
                files: Spilled::new(files.clone(), l.files.0, l.files.1),
                bytes: l.bytes,
                skipped: Spilled::new(skipped.clone(), l.skipped.0, l.skipped.1),
                failures: l.head.failures,
                notes: l.head.notes,
            })
        })
        .collect::<io::Result<_>>()?;
    Ok(Plan { components })
}

/// Where every component's sorted lists end up, one after another.
struct PlanStore {
    files: Mutex<Spill>,
    skipped: Mutex<Spill>,
}

/// What a component is, apart from its lists.
struct Head {
    host_name: String,
    log_type: LogType,
    archive_dir: String,
    source_dir: PathBuf,
    failures: Vec<Failure>,
    notes: Vec<String>,
}

/// A component's lists as they are stored: run and record count.
struct Listed {
    head: Head,
    files: (std::ops::Range<u64>, usize),
    bytes: u64,
    skipped: (std::ops::Range<u64>, usize),
}

/// Sort key of a planned file: see [`file_key`].
#[doc(hidden)]
pub type FileKey = (bool, String, Rotation, String, bool);

/// A component while its directory is listed.
struct Listing<'s> {
    head: Head,
    filter: &'s PathFilter,
    files: ExternalSort<PlannedFile, FileKey>,
    skipped: ExternalSort<Skipped, String>,
    /// Regular files found, before the request's include/exclude globs.
    found: usize,
    /// The live log's name, for a mongod or mongos component.
    live: Option<String>,
    /// Why the live log was skipped, when it was.
    live_skipped: Option<String>,
    /// Whether a text `.gz` will be archived decompressed, without `.gz`.
    decompress_gz: bool,
}

/// The request's `include`/`exclude` globs on archive paths; exclude wins.
struct PathFilter {
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
    /// Whether selection applies to text files: a text `.gz` is then
    /// archived decompressed under its name without `.gz` (see
    /// `select::text::plan`), which may be another file's name.
    decompresses_gz: bool,
}

impl PathFilter {
    fn new(request: &Request) -> PathFilter {
        let set = |patterns: &[String]| {
            if patterns.is_empty() {
                return None;
            }
            let mut b = GlobSetBuilder::new();
            for p in patterns {
                b.add(archive_glob(p).expect("patterns are checked when the request is parsed"));
            }
            Some(
                b.build()
                    .expect("patterns are checked when the request is parsed"),
            )
        };
        PathFilter {
            include: set(&request.include),
            exclude: set(&request.exclude),
            decompresses_gz: crate::select::Selection::from_request(request, None).is_active()
                || request.redacted,
        }
    }

    /// Whether the file `name` of the component in `archive_dir` is wanted.
    fn selects(&self, archive_dir: &str, name: &str) -> bool {
        if self.include.is_none() && self.exclude.is_none() {
            return true;
        }
        let path = format!("{archive_dir}/{name}");
        let candidate = globset::Candidate::new(&path);
        self.include
            .as_ref()
            .is_none_or(|s| s.is_match_candidate(&candidate))
            && !self
                .exclude
                .as_ref()
                .is_some_and(|s| s.is_match_candidate(&candidate))
    }
}

impl<'s> Listing<'s> {
    fn new(head: Head, live: Option<String>, filter: &'s PathFilter, sort_memory: usize) -> Self {
        let live_in_key = live.clone();
        let decompress_gz = filter.decompresses_gz && !head.log_type.layout().binary;
        Listing {
            head,
            filter,
            files: ExternalSort::new(
                sort_memory,
                "the plan's file list",
                |f: &PlannedFile| {
                    std::mem::size_of::<PlannedFile>()
                        + f.name.len()
                        + f.source.as_ref().map_or(0, |s| s.as_os_str().len())
                },
                move |f: &PlannedFile| file_key(&f.name, live_in_key.as_deref(), decompress_gz),
            ),
            skipped: ExternalSort::new(
                sort_memory,
                "the plan's skipped entries",
                |s: &Skipped| std::mem::size_of::<Skipped>() + s.name.len() + s.reason.len(),
                |s: &Skipped| s.name.clone(),
            ),
            found: 0,
            live,
            live_skipped: None,
            decompress_gz,
        }
    }

    /// A regular file: planned, unless the request's globs leave it out.
    fn file(&mut self, file: PlannedFile) -> io::Result<()> {
        self.found += 1;
        if self.filter.selects(&self.head.archive_dir, &file.name) {
            self.files.push(file)
        } else {
            self.skip(
                file.name,
                "not selected by the request's include/exclude globs".into(),
            )
        }
    }

    fn skip(&mut self, name: String, reason: String) -> io::Result<()> {
        if self.live.as_deref() == Some(name.as_str()) {
            self.live_skipped = Some(reason.clone());
        }
        self.skipped.push(Skipped { name, reason })
    }

    /// Sorts the lists into `store`. Two source names can map to one
    /// archive name (an escaped byte against the same text spelt out, or a
    /// `.gz` archived decompressed against its plain twin): the later file
    /// is skipped, so that no archive path appears twice; in rotation order
    /// equal archive names are next to each other.
    fn store(self, store: &PlanStore, redactor: Option<&Redactor>) -> io::Result<Listed> {
        let Listing {
            mut head,
            files,
            mut skipped,
            decompress_gz,
            ..
        } = self;
        let (mut file_count, mut bytes) = (0, 0);
        let files_range = {
            let mut out = store.files.lock().expect("not poisoned");
            let start = out.position();
            let mut previous: Option<String> = None;
            for file in files.finish()? {
                let file = file?;
                let archived = archived_name(&file.name, decompress_gz);
                if previous.as_deref() == Some(archived) {
                    let reason = if archived.len() == file.name.len() {
                        "its name, made valid UTF-8, is the same as another file's".into()
                    } else {
                        format!("decompressed to select lines, it would be archived as {archived}, another file's name")
                    };
                    skipped.push(Skipped {
                        name: file.name,
                        reason,
                    })?;
                    continue;
                }
                previous = Some(archived.to_string());
                out.append(&file)?;
                file_count += 1;
                bytes += file.size;
            }
            start..out.position()
        };

        // Source paths are secrets when redacting: each becomes its token.
        let dir = head.source_dir.display().to_string();
        let dir_token = redactor.map(|r| source_dir_token(r, &head.source_dir));
        let scrub = |text: String| match &dir_token {
            Some(token) if !dir.is_empty() => text.replace(&dir, token),
            _ => text,
        };
        if let Some(token) = &dir_token {
            for f in &mut head.failures {
                f.redact_dir(&head.source_dir, token);
            }
        }
        head.notes = head.notes.into_iter().map(scrub).collect();
        let mut skip_count = 0;
        let skipped_range = {
            let mut out = store.skipped.lock().expect("not poisoned");
            let start = out.position();
            for s in skipped.finish()? {
                let s = s?;
                out.append(&Skipped {
                    name: s.name,
                    reason: scrub(s.reason),
                })?;
                skip_count += 1;
            }
            start..out.position()
        };
        Ok(Listed {
            head,
            files: (files_range, file_count),
            bytes,
            skipped: (skipped_range, skip_count),
        })
    }
}

/// The name of a mongod's or mongos's live log in its directory.
fn live_name(process: &Process) -> String {
    archive_name(process.log_path.file_name().unwrap_or(OsStr::new("")))
}

/// The component's identity and where its files come from.
/// The children a collection of `request` has, as (`hostName`, log type,
/// archive path), in archive order, read from the request alone: what a
/// host that never reported would have had.
pub fn expected_children(request: &Request) -> Vec<(String, LogType, String)> {
    components(request)
        .iter()
        .map(|spec| {
            let h = head(spec);
            (h.host_name, h.log_type, h.archive_dir)
        })
        .collect()
}

fn head(spec: &ComponentSpec<'_>) -> Head {
    let head = |host_name: String, log_type, archive_dir: String, dir: &Path| Head {
        host_name,
        log_type,
        archive_dir,
        source_dir: dir.to_path_buf(),
        failures: Vec::new(),
        notes: Vec::new(),
    };
    match *spec {
        ComponentSpec::Agent {
            host,
            dir,
            log_type,
        }
        | ComponentSpec::OmServer {
            host,
            dir,
            log_type,
        } => head(
            host.hostname.clone(),
            log_type,
            format!("{}/{}", host.hostname, log_type.layout().archive_dir),
            dir,
        ),
        ComponentSpec::Mongo { host, process } => head(
            format!("{}:{}", host.hostname, process.port),
            LogType::Mongodb,
            format!("{}/{}", host.hostname, process.archive_dir()),
            process.log_path.parent().unwrap_or(Path::new("/")),
        ),
        ComponentSpec::Ftdc { host, process } => head(
            format!("{}:{}", host.hostname, process.port),
            LogType::Ftdc,
            format!(
                "{}/{}/{}",
                host.hostname,
                process.archive_dir(),
                LogType::Ftdc.layout().archive_dir
            ),
            &process.ftdc_dir().unwrap_or_default(),
        ),
    }
}

/// Lists the component's files into `l`.
fn plan_component(spec: &ComponentSpec<'_>, l: &mut Listing<'_>) -> io::Result<()> {
    match *spec {
        ComponentSpec::Agent { log_type, .. } | ComponentSpec::OmServer { log_type, .. } => {
            let layout = log_type.layout();
            let include = glob(layout.include);
            let exclude = layout.exclude.map(glob);
            list_flat(l, &|name| {
                include.is_match(name) && !exclude.as_ref().is_some_and(|e| e.is_match(name))
            })
        }
        ComponentSpec::Mongo { process, .. } => {
            let live = live_name(process);
            let sibling_prefix = format!("{live}.");
            list_flat(l, &|name| name == live || name.starts_with(&sibling_prefix))?;
            if l.head.failures.is_empty() && l.found == 0 {
                let why = match &l.live_skipped {
                    Some(reason) => reason.clone(),
                    None => match fs::symlink_metadata(&process.log_path) {
                        Err(e) => e.to_string(),
                        Ok(_) => "not selected".to_string(),
                    },
                };
                l.head
                    .failures
                    .push(Failure::because(&process.log_path, Stage::NoLog, why));
            }
            Ok(())
        }
        ComponentSpec::Ftdc { process, .. } => {
            if process.ftdc_dir().is_none() {
                l.head
                    .notes
                    .push("no dbPath in the request, so FTDC cannot be located".into());
                return Ok(());
            }
            plan_ftdc(l, process)
        }
    }
}

fn glob(pattern: &str) -> GlobMatcher {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .expect("built-in glob patterns are valid")
        .compile_matcher()
}

/// The token that stands for a component's source directory in messages
/// when redacting: paths are secrets.
pub(crate) fn source_dir_token(redactor: &Redactor, dir: &Path) -> String {
    redactor.token(redact::Kind::Secret, &dir.display().to_string())
}

/// A component's failures as the dry run's JSON shows them.
fn failures_json<S: serde::Serializer>(failures: &[Failure], s: S) -> Result<S::Ok, S::Error> {
    match failures {
        [] => s.serialize_none(),
        _ => s.serialize_str(&join_failures(failures)),
    }
}

/// Failure messages joined with `; `.
pub(crate) fn join_failures(failures: &[Failure]) -> String {
    failures
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// What a directory entry turned out to be.
enum Found {
    File { source: PathBuf, meta: Metadata },
    Skip(String),
}

/// Classifies `path` without opening it. Symlinks are followed only while
/// their target stays inside `root` (already canonical).
fn classify(path: &Path, root: &Path) -> io::Result<Found> {
    let meta = fs::symlink_metadata(path)?;
    let (source, meta) = if meta.file_type().is_symlink() {
        let target = match fs::canonicalize(path) {
            Ok(t) => t,
            Err(e) => return Ok(Found::Skip(format!("dangling symlink ({e})"))),
        };
        if !target.starts_with(root) {
            return Ok(Found::Skip(format!(
                "symlink to {} leads outside the component directory",
                target.display()
            )));
        }
        let meta = fs::metadata(&target)?;
        (target, meta)
    } else {
        (path.to_path_buf(), meta)
    };
    let ft = meta.file_type();
    if ft.is_file() {
        return Ok(Found::File { source, meta });
    }
    let kind = if ft.is_fifo() {
        "FIFO"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_block_device() || ft.is_char_device() {
        "device"
    } else if ft.is_dir() {
        "directory"
    } else {
        "unknown type"
    };
    Ok(Found::Skip(format!("not a regular file ({kind})")))
}

/// Lists one directory (not recursive) into `l`, keeping names that
/// `wanted` accepts. A failing directory makes the component fail.
fn list_flat(l: &mut Listing<'_>, wanted: &dyn Fn(&str) -> bool) -> io::Result<()> {
    let dir = l.head.source_dir.clone();
    let root = match fs::canonicalize(&dir) {
        Ok(r) => r,
        Err(e) => {
            l.head.failures.push(Failure::io(&dir, Stage::Listing, &e));
            return Ok(());
        }
    };
    let entries = match fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) => {
            l.head.failures.push(Failure::io(&dir, Stage::Listing, &e));
            return Ok(());
        }
    };
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                l.head.failures.push(Failure::io(&dir, Stage::Listing, &e));
                return Ok(());
            }
        };
        let name = archive_name(&entry.file_name());
        if wanted(&name) {
            add_found(l, &entry.path(), &root, name)?;
        }
    }
    if l.head.failures.is_empty() && l.found == 0 && l.live.is_none() {
        let note = format!("no {} files in {}", l.head.log_type, dir.display());
        l.head.notes.push(note);
    }
    Ok(())
}

/// The archive name of a file name: itself when it is UTF-8, otherwise with
/// each byte that is not written as `\xNN`.
#[doc(hidden)]
pub fn archive_name(name: &OsStr) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::new();
    for chunk in name.as_bytes().utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

fn add_found(l: &mut Listing<'_>, path: &Path, root: &Path, name: String) -> io::Result<()> {
    match classify(path, root) {
        Ok(Found::File { source, meta }) => {
            let source = (source != l.head.source_dir.join(&name)).then_some(source);
            l.file(PlannedFile {
                name,
                source,
                size: meta.len(),
            })
        }
        Ok(Found::Skip(reason)) => l.skip(name, reason),
        // The entry vanished between listing and stat: nothing to collect.
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => {
            l.head.failures.push(Failure::io(path, Stage::Listing, &e));
            Ok(())
        }
    }
}

fn plan_ftdc(l: &mut Listing<'_>, process: &Process) -> io::Result<()> {
    let dir = l.head.source_dir.clone();
    // The dbPath (or the mongos log directory) is named by the request: if it
    // is missing the component fails; a missing diagnostic.data only means
    // FTDC is disabled.
    if let Some(parent) = dir.parent() {
        if let Err(e) = fs::metadata(parent) {
            l.head
                .failures
                .push(Failure::io(parent, Stage::Listing, &e));
            return Ok(());
        }
    }
    let root = match fs::canonicalize(&dir) {
        Ok(r) => r,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            l.head.notes.push(format!(
                "{} does not exist: FTDC is off for port {}",
                dir.display(),
                process.port
            ));
            return Ok(());
        }
        Err(e) => {
            l.head.failures.push(Failure::io(&dir, Stage::Listing, &e));
            return Ok(());
        }
    };
    // Unsorted: the listing is sorted afterwards, within bounded memory.
    let walker = walkdir::WalkDir::new(&dir).min_depth(1).follow_links(false);
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e.path().unwrap_or(&dir).to_path_buf();
                l.head.failures.push(match e.io_error() {
                    Some(io) => Failure::io(&path, Stage::Listing, io),
                    None => Failure::because(&path, Stage::Listing, e.to_string()),
                });
                return Ok(());
            }
        };
        if entry.file_type().is_dir() {
            continue;
        }
        let name = archive_name(
            entry
                .path()
                .strip_prefix(&dir)
                .unwrap_or(entry.path())
                .as_os_str(),
        );
        add_found(l, entry.path(), &root, name)?;
    }
    Ok(())
}

/// How a file name places it in its rotation sequence.
#[doc(hidden)]
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rotation {
    /// Rotated without a recognisable order (e.g. `mongod.log.old`).
    Other(String),
    /// logrotate numbering: `.1` is the newest, so larger numbers sort first.
    Numbered(std::cmp::Reverse<u64>),
    /// Carries a date (`mongod.log.2026-11-20T10-00-00`, `mms0.2026-11-19.log`).
    Dated(String),
    /// The live file: no rotation token.
    Live,
}

/// Splits a name into its log family (the name without rotation token and
/// `.gz`) and its place in the rotation sequence.
#[doc(hidden)]
pub fn rotation_key(name: &str) -> (String, Rotation) {
    let base = name.strip_suffix(".gz").unwrap_or(name);
    let mut family = Vec::new();
    let mut rotation = Rotation::Live;
    for (i, part) in base.split('.').enumerate() {
        let is_token = i > 0 && rotation == Rotation::Live;
        let digits = part.bytes().take_while(u8::is_ascii_digit).count();
        if is_token && digits == part.len() && digits > 0 && digits < 4 {
            rotation = Rotation::Numbered(std::cmp::Reverse(part.parse().unwrap_or(0)));
        } else if is_token && digits >= 4 {
            rotation = Rotation::Dated(part.to_string());
        } else {
            family.push(part);
        }
    }
    let family = family.join(".");
    if rotation == Rotation::Live && base != name {
        // `x.log.gz` without a token is still an older, compressed file.
        rotation = Rotation::Other(name.to_string());
    }
    (family, rotation)
}

/// The name a planned file is archived under: without `.gz` when a text
/// `.gz` is archived decompressed (`decompress_gz`), otherwise `name`.
#[doc(hidden)]
pub fn archived_name(name: &str, decompress_gz: bool) -> &str {
    match name.strip_suffix(".gz") {
        Some(plain) if decompress_gz => plain,
        _ => name,
    }
}

/// The archive order of files: by family, then rotated oldest first, live
/// last. When a family's live name is known it comes after every other
/// family's files. Ties are broken by archive name (see [`archived_name`]),
/// then plain before decompressed, so the order never depends on the
/// directory's and a `.gz` that takes its twin's name comes right after it.
#[doc(hidden)]
pub fn file_key(name: &str, live: Option<&str>, decompress_gz: bool) -> FileKey {
    let archived = archived_name(name, decompress_gz);
    let (family, rotation) = rotation_key(archived);
    let is_live = live == Some(archived);
    let rotation = if is_live { Rotation::Live } else { rotation };
    let renamed = archived.len() != name.len();
    (is_live, family, rotation, archived.to_string(), renamed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_GLOBS: PathFilter = PathFilter {
        include: None,
        exclude: None,
        decompresses_gz: false,
    };

    fn test_head() -> Head {
        Head {
            host_name: "h".into(),
            log_type: LogType::Mongodb,
            archive_dir: "h".into(),
            source_dir: "/logs".into(),
            failures: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Lists `names` as files and stores them; returns the files and the
    /// skipped entries in stored order.
    fn store(
        names: &[String],
        live: Option<&str>,
        sort_memory: usize,
    ) -> (Vec<PlannedFile>, Vec<Skipped>) {
        store_with(names, live, sort_memory, &NO_GLOBS)
    }

    /// [`store`] under `selection`.
    fn store_with(
        names: &[String],
        live: Option<&str>,
        sort_memory: usize,
        selection: &PathFilter,
    ) -> (Vec<PlannedFile>, Vec<Skipped>) {
        let mut l = Listing::new(
            test_head(),
            live.map(str::to_string),
            selection,
            sort_memory,
        );
        for (i, name) in names.iter().enumerate() {
            l.file(PlannedFile {
                name: name.clone(),
                source: None,
                size: i as u64,
            })
            .unwrap();
        }
        let store = PlanStore {
            files: Mutex::new(Spill::new("tests")),
            skipped: Mutex::new(Spill::new("tests")),
        };
        let listed = l.store(&store, None).unwrap();
        let files = store.files.into_inner().unwrap().finish().unwrap();
        let skipped = store.skipped.into_inner().unwrap().finish().unwrap();
        let (range, len) = listed.files;
        let files: Vec<PlannedFile> = Spilled::new(files, range, len).load().unwrap();
        assert_eq!(listed.bytes, files.iter().map(|f| f.size).sum::<u64>());
        let (range, len) = listed.skipped;
        (files, Spilled::new(skipped, range, len).load().unwrap())
    }

    /// The archive order of `names`, sorted in memory and, one file per
    /// sorted run, through the disk: both must agree.
    fn ordered(names: &[&str], live: Option<&str>) -> Vec<String> {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let in_memory = store(&names, live, SORT_MEMORY).0;
        let in_runs = store(&names, live, 1).0;
        let order = |files: Vec<PlannedFile>| -> Vec<String> {
            files.into_iter().map(|f| f.name).collect()
        };
        let in_memory = order(in_memory);
        assert_eq!(in_memory, order(in_runs));
        in_memory
    }

    #[test]
    fn mongod_rotation_oldest_first_live_last() {
        let got = ordered(
            &[
                "mongod.log",
                "mongod.log.2026-11-20T10-00-00",
                "mongod.log.2026-11-18T10-00-00.gz",
                "mongod.log.2026-11-19T10-00-00",
            ],
            Some("mongod.log"),
        );
        assert_eq!(
            got,
            [
                "mongod.log.2026-11-18T10-00-00.gz",
                "mongod.log.2026-11-19T10-00-00",
                "mongod.log.2026-11-20T10-00-00",
                "mongod.log"
            ]
        );
    }

    #[test]
    fn logrotate_numbers_count_backwards() {
        let got = ordered(
            &[
                "mongod.log.1",
                "mongod.log",
                "mongod.log.3.gz",
                "mongod.log.2.gz",
            ],
            Some("mongod.log"),
        );
        assert_eq!(
            got,
            [
                "mongod.log.3.gz",
                "mongod.log.2.gz",
                "mongod.log.1",
                "mongod.log"
            ]
        );
    }

    #[test]
    fn agent_families_group_their_rotations() {
        let got = ordered(
            &[
                "automation-agent.log",
                "automation-agent-verbose.log",
                "automation-agent-verbose.log.2026-11-19T10-00-00",
                "automation-agent-verbose.log.2026-11-18T10-00-00.gz",
            ],
            None,
        );
        assert_eq!(
            got,
            [
                "automation-agent-verbose.log.2026-11-18T10-00-00.gz",
                "automation-agent-verbose.log.2026-11-19T10-00-00",
                "automation-agent-verbose.log",
                "automation-agent.log",
            ]
        );
    }

    #[test]
    fn om_dated_names_before_live() {
        let got = ordered(
            &["mms0.log", "mms0.2026-11-19.log", "mms0.2026-11-18.log.gz"],
            None,
        );
        assert_eq!(
            got,
            ["mms0.2026-11-18.log.gz", "mms0.2026-11-19.log", "mms0.log"]
        );
    }

    #[test]
    fn non_utf8_names_are_escaped_and_never_collide() {
        use std::os::unix::ffi::OsStrExt;
        let a = archive_name(OsStr::from_bytes(b"mongod.log.\xc3"));
        let b = archive_name(OsStr::from_bytes(b"mongod.log.\xff"));
        assert_eq!(
            (a.as_str(), b.as_str()),
            ("mongod.log.\\xc3", "mongod.log.\\xff")
        );
        for sort_memory in [SORT_MEMORY, 1] {
            let (files, skipped) = store(&[a.clone(), b.clone(), a.clone()], None, sort_memory);
            let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
            assert_eq!(names, [a.as_str(), b.as_str()]);
            assert_eq!(files[0].size, 0, "the first of the two is kept");
            assert_eq!(skipped.len(), 1);
            assert_eq!(skipped[0].name, a);
        }
    }

    #[test]
    fn a_decompressed_gz_never_takes_another_files_name() {
        let names: Vec<String> = [
            "mongod.log.gz",
            "mongod.log",
            "mongod.log.1.gz",
            "mongod.log.1",
            "mongod.log.2026-11-19T10-00-00.gz",
            "mongod.log.2.gz",
        ]
        .map(String::from)
        .to_vec();
        let selecting = PathFilter {
            include: None,
            exclude: None,
            decompresses_gz: true,
        };
        let name_of = |f: &PlannedFile| f.name.clone();
        for sort_memory in [SORT_MEMORY, 1] {
            // Archived as they are: no two names alike.
            let (files, skipped) = store(&names, Some("mongod.log"), sort_memory);
            assert_eq!(files.len(), names.len());
            assert!(skipped.is_empty());
            // Decompressed, `x.gz` becomes `x`: the plain file is kept.
            let (files, skipped) = store_with(&names, Some("mongod.log"), sort_memory, &selecting);
            assert_eq!(
                files.iter().map(name_of).collect::<Vec<_>>(),
                [
                    "mongod.log.2.gz",
                    "mongod.log.1",
                    "mongod.log.2026-11-19T10-00-00.gz",
                    "mongod.log"
                ]
            );
            assert_eq!(files[3].size, 1, "the live log itself is kept");
            let skipped: Vec<(&str, &str)> = skipped
                .iter()
                .map(|s| (s.name.as_str(), s.reason.as_str()))
                .collect();
            assert_eq!(
                skipped,
                [
                    (
                        "mongod.log.1.gz",
                        "decompressed to select lines, it would be archived as mongod.log.1, another file's name"
                    ),
                    (
                        "mongod.log.gz",
                        "decompressed to select lines, it would be archived as mongod.log, another file's name"
                    ),
                ]
            );
        }
    }

    #[test]
    fn hostile_names_have_keys() {
        use std::os::unix::ffi::OsStrExt;
        let long = "9".repeat(300);
        let mut names = vec![
            String::new(),
            ".".into(),
            ".gz".into(),
            "..gz.gz".into(),
            "mongod.log.\n".into(),
            "mongod.log.\n2026".into(),
            format!("mongod.log.{long}"),
            format!("mongod.log.{long}.gz"),
            "mongod.log.18446744073709551616".into(),
            "mongod.log.999".into(),
            "mms0.2026-11-1é.log".into(),
        ];
        let good = "mongod.log.2026-11-20T10-00-00.gz";
        for c in ['é', '日', '🦀', '\n'] {
            for (i, _) in good.char_indices() {
                names.push(format!("{}{c}{}", &good[..i], &good[i..]));
            }
        }
        names.push(archive_name(OsStr::from_bytes(b"mongod.log.\xff\xc3.gz")));
        for name in &names {
            for decompress in [false, true] {
                let (live, family, _, archived, renamed) =
                    file_key(name, Some("mongod.log"), decompress);
                assert!(!live || archived == "mongod.log");
                assert_eq!(renamed, decompress && name.ends_with(".gz"));
                assert!(family.len() <= archived.len(), "{name:?}");
            }
        }
        assert_eq!(
            rotation_key("mongod.log.999"),
            (
                "mongod.log".into(),
                Rotation::Numbered(std::cmp::Reverse(999))
            )
        );
        // Too many digits for a rotation number: a date-like token.
        assert!(matches!(
            rotation_key(&format!("mongod.log.{long}")).1,
            Rotation::Dated(_)
        ));
    }

    #[test]
    fn source_paths_that_are_not_utf8_survive_the_spill() {
        use std::os::unix::ffi::OsStrExt;
        let source = PathBuf::from(OsStr::from_bytes(b"/logs/mongod.log.\xff"));
        let mut spill = Spill::new("tests");
        for source in [Some(source.clone()), Some("/logs/x".into()), None] {
            spill
                .append(&PlannedFile {
                    name: "mongod.log.\\xff".into(),
                    source,
                    size: 3,
                })
                .unwrap();
        }
        let end = spill.position();
        let files: Vec<PlannedFile> = Spilled::new(spill.finish().unwrap(), 0..end, 3)
            .load()
            .unwrap();
        let sources: Vec<Option<PathBuf>> = files.into_iter().map(|f| f.source).collect();
        assert_eq!(sources, [Some(source), Some("/logs/x".into()), None]);
    }

    #[test]
    fn many_files_sorted_through_the_disk_keep_the_archive_order() {
        // 5,000 names with a budget of about 30 files: 170 runs, merged twice.
        let names: Vec<String> = (0..5000)
            .map(|i| match i % 4 {
                0 => format!("mongod.log.{}", (i * 7919) % 900 + 1),
                1 => format!(
                    "mongod.log.2026-{:02}-{:02}T10-00-00.gz",
                    i % 12 + 1,
                    i % 28 + 1
                ),
                2 => format!("mongod.log.old{i}"),
                _ => format!("mongod.log.{i:05}"),
            })
            .collect();
        let budget = 30 * (std::mem::size_of::<PlannedFile>() + 30);
        let (in_runs, skipped_in_runs) = store(&names, Some("mongod.log"), budget);
        let (in_memory, skipped) = store(&names, Some("mongod.log"), SORT_MEMORY);
        let order = |files: &[PlannedFile]| -> Vec<(String, u64)> {
            files.iter().map(|f| (f.name.clone(), f.size)).collect()
        };
        assert_eq!(order(&in_runs), order(&in_memory));
        assert_eq!(skipped_in_runs, skipped);
        // Repeated names were skipped, each kept once, in rotation order.
        let mut want: Vec<String> = names.clone();
        want.sort_by_cached_key(|n| file_key(n, Some("mongod.log"), false));
        want.dedup();
        let got: Vec<String> = in_runs.into_iter().map(|f| f.name).collect();
        assert_eq!(got, want);
        assert_eq!(skipped.len(), names.len() - want.len());
    }

    #[test]
    fn om_application_glob_excludes_access_logs() {
        let inc = glob("mms[0-9]*.log*");
        let exc = glob("mms[0-9]*-access*");
        assert!(inc.is_match("mms0.log") && inc.is_match("mms12-startup.log"));
        assert!(exc.is_match("mms0-access.log"));
        assert!(!inc.is_match("mms-migration.log"));
    }
}
