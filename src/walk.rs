//! Planning: which files each host × component contributes (PRODUCT.md §2).
//!
//! Planning only reads directories and metadata; it never opens a log. Each
//! component is planned independently on the engine's pool, and a missing
//! or unreadable path becomes the component's `error`, never a panic.

use std::ffi::OsStr;
use std::fs::{self, Metadata};
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};
use rayon::prelude::*;
use serde::Serialize;

use crate::request::{archive_glob, Host, LogType, Process, Request};

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
        self.components
            .iter()
            .flat_map(|c| &c.files)
            .map(|f| f.size)
            .sum()
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
    pub files: Vec<PlannedFile>,
    /// Entries seen but not collected, with the reason.
    pub skipped: Vec<Skipped>,
    /// Set when the component failed: names the path and the OS error.
    pub error: Option<String>,
    /// Remarks that are not failures (e.g. no files of this type).
    pub notes: Vec<String>,
}

/// One regular file to archive.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedFile {
    /// Name inside the component's archive directory (may hold `/` for FTDC).
    pub name: String,
    /// The path to open when it is not `source_dir/name`: a symlink's
    /// target inside the component, or a name that is not UTF-8. Kept only
    /// then, because a plan holds one of these per file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<PathBuf>,
    /// Size at planning time; the reader re-stats before reading.
    pub size: u64,
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
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
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

/// Plans every component of `request`, in parallel on the current rayon pool.
pub(crate) fn plan(request: &Request) -> Plan {
    let specs = components(request);
    let selection = Selection::new(request);
    let components = specs
        .par_iter()
        .map(|spec| {
            let mut c = plan_component(spec);
            selection.apply(&mut c);
            c
        })
        .collect();
    Plan { components }
}

/// The request's `include`/`exclude` globs on archive paths; exclude wins.
struct Selection {
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
}

impl Selection {
    fn new(request: &Request) -> Selection {
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
        Selection {
            include: set(&request.include),
            exclude: set(&request.exclude),
        }
    }

    fn apply(&self, c: &mut ComponentPlan) {
        if self.include.is_none() && self.exclude.is_none() {
            return;
        }
        let dir = c.archive_dir.clone();
        let (kept, dropped): (Vec<_>, Vec<_>) =
            std::mem::take(&mut c.files).into_iter().partition(|f| {
                let path = format!("{dir}/{}", f.name);
                let candidate = globset::Candidate::new(&path);
                self.include
                    .as_ref()
                    .is_none_or(|s| s.is_match_candidate(&candidate))
                    && !self
                        .exclude
                        .as_ref()
                        .is_some_and(|s| s.is_match_candidate(&candidate))
            });
        c.files = kept;
        c.skipped.extend(dropped.into_iter().map(|f| Skipped {
            name: f.name,
            reason: "not selected by the request's include/exclude globs".into(),
        }));
    }
}

fn plan_component(spec: &ComponentSpec<'_>) -> ComponentPlan {
    match *spec {
        ComponentSpec::Agent {
            host,
            dir,
            log_type,
        } => {
            let prefix = match log_type {
                LogType::AutomationAgent => "automation-agent",
                LogType::MonitoringAgent => "monitoring-agent",
                _ => "backup-agent",
            };
            let mut c = empty(
                host.hostname.clone(),
                log_type,
                format!("{}/automation_agent", host.hostname),
                dir,
            );
            let include = glob(&format!("{prefix}*.log*"));
            list_flat(&mut c, &|name| include.is_match(name), None);
            c
        }
        ComponentSpec::OmServer {
            host,
            dir,
            log_type,
        } => {
            let (sub, include, exclude) = match log_type {
                LogType::Application => {
                    ("application", "mms[0-9]*.log*", Some("mms[0-9]*-access*"))
                }
                LogType::HttpAccess => ("http_access", "mms[0-9]*-access*.log*", None),
                LogType::Migration => ("migration", "mms-migration*.log*", None),
                _ => ("daemon", "daemon*.log*", None),
            };
            let mut c = empty(
                host.hostname.clone(),
                log_type,
                format!("{}/{sub}", host.hostname),
                dir,
            );
            let include = glob(include);
            let exclude = exclude.map(glob);
            list_flat(
                &mut c,
                &|name| {
                    include.is_match(name) && !exclude.as_ref().is_some_and(|e| e.is_match(name))
                },
                None,
            );
            c
        }
        ComponentSpec::Mongo { host, process } => {
            let dir = process.log_path.parent().unwrap_or(Path::new("/"));
            let live = archive_name(process.log_path.file_name().unwrap_or(OsStr::new("")));
            let mut c = empty(
                format!("{}:{}", host.hostname, process.port),
                LogType::Mongodb,
                format!("{}/{}", host.hostname, process.archive_dir()),
                dir,
            );
            let sibling_prefix = format!("{live}.");
            list_flat(
                &mut c,
                &|name| name == live || name.starts_with(&sibling_prefix),
                Some(&live),
            );
            if c.error.is_none() && c.files.is_empty() {
                let why = match c.skipped.iter().find(|s| s.name == live) {
                    Some(s) => s.reason.clone(),
                    None => match fs::symlink_metadata(&process.log_path) {
                        Err(e) => e.to_string(),
                        Ok(_) => "not selected".to_string(),
                    },
                };
                c.error = Some(format!(
                    "{}: neither the live log nor a rotated sibling can be collected ({why})",
                    process.log_path.display()
                ));
            }
            c
        }
        ComponentSpec::Ftdc { host, process } => {
            let archive_dir = format!(
                "{}/{}/diagnostic.data",
                host.hostname,
                process.archive_dir()
            );
            let host_name = format!("{}:{}", host.hostname, process.port);
            match process.ftdc_dir() {
                None => {
                    let mut c = empty(host_name, LogType::Ftdc, archive_dir, Path::new(""));
                    c.notes
                        .push("no dbPath in the request, so FTDC cannot be located".into());
                    c
                }
                Some(dir) => {
                    let mut c = empty(host_name, LogType::Ftdc, archive_dir, &dir);
                    plan_ftdc(&mut c, process);
                    c
                }
            }
        }
    }
}

fn empty(host_name: String, log_type: LogType, archive_dir: String, dir: &Path) -> ComponentPlan {
    ComponentPlan {
        host_name,
        log_type,
        archive_dir,
        source_dir: dir.to_path_buf(),
        files: Vec::new(),
        skipped: Vec::new(),
        error: None,
        notes: Vec::new(),
    }
}

fn glob(pattern: &str) -> GlobMatcher {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .expect("built-in glob patterns are valid")
        .compile_matcher()
}

fn path_error(path: &Path, e: &io::Error) -> String {
    format!("{}: {e}", path.display())
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

/// Lists one directory (not recursive) into `c`, keeping names that `wanted`
/// accepts, and orders them rotated-oldest-first, live last. A failing
/// directory makes the component fail.
fn list_flat(c: &mut ComponentPlan, wanted: &dyn Fn(&str) -> bool, live: Option<&str>) {
    let dir = c.source_dir.clone();
    let root = match fs::canonicalize(&dir) {
        Ok(r) => r,
        Err(e) => {
            c.error = Some(path_error(&dir, &e));
            return;
        }
    };
    let entries = match fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) => {
            c.error = Some(path_error(&dir, &e));
            return;
        }
    };
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                c.error = Some(path_error(&dir, &e));
                return;
            }
        };
        let name = archive_name(&entry.file_name());
        if !wanted(&name) {
            continue;
        }
        add_found(c, &entry.path(), &root, name);
    }
    sort_rotation_order(&mut c.files, live);
    drop_name_collisions(c);
    c.files.shrink_to_fit();
    c.skipped.sort_by(|a, b| a.name.cmp(&b.name));
    if c.error.is_none() && c.files.is_empty() && live.is_none() {
        c.notes
            .push(format!("no {} files in {}", c.log_type, dir.display()));
    }
}

/// The archive name of a file name: itself when it is UTF-8, otherwise with
/// each byte that is not written as `\xNN`.
fn archive_name(name: &OsStr) -> String {
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

/// Two source names can map to one archive name (an escaped byte against
/// the same text spelt out): the later file is skipped, so that no archive
/// path appears twice. Files are in rotation order, where equal names are
/// next to each other.
fn drop_name_collisions(c: &mut ComponentPlan) {
    let skipped = &mut c.skipped;
    c.files.dedup_by(|later, kept| {
        let same = later.name == kept.name;
        if same {
            skipped.push(Skipped {
                name: later.name.clone(),
                reason: "its name, made valid UTF-8, is the same as another file's".into(),
            });
        }
        same
    });
}

fn add_found(c: &mut ComponentPlan, path: &Path, root: &Path, name: String) {
    match classify(path, root) {
        Ok(Found::File { source, meta }) => c.files.push(PlannedFile {
            source: (source != c.source_dir.join(&name)).then_some(source),
            name,
            size: meta.len(),
        }),
        Ok(Found::Skip(reason)) => c.skipped.push(Skipped { name, reason }),
        // The entry vanished between listing and stat: nothing to collect.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => c.error = Some(path_error(path, &e)),
    }
}

fn plan_ftdc(c: &mut ComponentPlan, process: &Process) {
    let dir = c.source_dir.clone();
    // The dbPath (or the mongos log directory) is named by the request: if it
    // is missing the component fails; a missing diagnostic.data only means
    // FTDC is disabled.
    if let Some(parent) = dir.parent() {
        if let Err(e) = fs::metadata(parent) {
            c.error = Some(path_error(parent, &e));
            return;
        }
    }
    let root = match fs::canonicalize(&dir) {
        Ok(r) => r,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            c.notes.push(format!(
                "{} does not exist: FTDC is off for port {}",
                dir.display(),
                process.port
            ));
            return;
        }
        Err(e) => {
            c.error = Some(path_error(&dir, &e));
            return;
        }
    };
    let walker = walkdir::WalkDir::new(&dir)
        .min_depth(1)
        .follow_links(false)
        .sort_by_file_name();
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e.path().unwrap_or(&dir).to_path_buf();
                c.error = Some(match e.io_error() {
                    Some(io) => path_error(&path, io),
                    None => format!("{}: {e}", path.display()),
                });
                return;
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
        add_found(c, entry.path(), &root, name);
    }
    sort_rotation_order(&mut c.files, None);
    drop_name_collisions(c);
    c.files.shrink_to_fit();
    c.skipped.sort_by(|a, b| a.name.cmp(&b.name));
}

/// How a file name places it in its rotation sequence.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Rotation {
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
fn rotation_key(name: &str) -> (String, Rotation) {
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

/// Orders files: by family, then rotated oldest first, live last. When a
/// family's live name is known it comes after every other family's files.
/// Ties are broken by name, so the order never depends on the directory's.
fn sort_rotation_order(files: &mut [PlannedFile], live: Option<&str>) {
    // Name order first: the stable keyed sort then keeps it among equal keys,
    // so its cached keys need no copy of every name.
    files.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    files.sort_by_cached_key(|f| {
        let (family, rotation) = rotation_key(&f.name);
        let is_live = live == Some(f.name.as_str());
        let rotation = if is_live { Rotation::Live } else { rotation };
        (is_live, family, rotation)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ordered(names: &[&str], live: Option<&str>) -> Vec<String> {
        let mut files: Vec<PlannedFile> = names
            .iter()
            .map(|n| PlannedFile {
                name: n.to_string(),
                source: None,
                size: 0,
            })
            .collect();
        sort_rotation_order(&mut files, live);
        files.into_iter().map(|f| f.name).collect()
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
        let mut c = empty("h".into(), LogType::Mongodb, "h".into(), Path::new("/"));
        for name in [a.clone(), a, b] {
            c.files.push(PlannedFile {
                name,
                source: None,
                size: 0,
            });
        }
        drop_name_collisions(&mut c);
        assert_eq!(c.files.len(), 2);
        assert_eq!(c.skipped.len(), 1);
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
