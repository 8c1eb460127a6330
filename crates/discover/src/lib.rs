//! Discovery (PRODUCT.md §13): the collection request for the host this
//! runs on, with nothing written by hand.
//!
//! - **Processes**: every running `mongod` and `mongos` in `/proc` (by its
//!   executable name, `comm`, or its argv\[0\]), with its settings from the
//!   command line, its `--config`/`-f` file (YAML, or the legacy `key =
//!   value` form) and mongod's defaults. A process that logs to syslog or
//!   stdout has no log file to collect: it is reported and left out.
//! - **Agents**: the automation (and legacy monitoring and backup) agents'
//!   log files, from `ETC/mongodb-mms/*.config` and the running agents'
//!   command lines; `agentLogDir` is the automation agent's directory.
//! - **Ops Manager server**: its log directory, from a running Ops Manager
//!   or its installation at `OPT/mongodb/mms/logs`.
//!
//! What cannot be read (another user's process, a config file without
//! permission or not valid, a process that exits while it is read) is a
//! note in [`Discovery::notes`], never an error or a panic. Every request
//! [`Discovery::request`] returns has been checked with
//! [`logpack::Request::from_json`].
//!
//! ```no_run
//! let found = logpack_discover::discover(&logpack_discover::Roots::default());
//! eprint!("{}", found.summary());
//! if let Some(json) = found.request_json(true) {
//!     println!("{json}");
//! }
//! ```
//!
//! Paths are those the processes see. A process in another mount namespace
//! (a container seen from the host) has its config file read through
//! `/proc/<pid>/root`, and a note says that its log paths are its own.
#![deny(missing_docs)]

mod agents;
mod config;
mod mongo;
mod proc;

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

pub use agents::AgentKind;

/// Where discovery looks: `/proc`, `/etc` and `/opt` unless redirected
/// (tests, or a container that mounts the host's at other paths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roots {
    /// Stands for `/proc`: processes, and `sys/kernel/hostname`.
    pub proc_root: PathBuf,
    /// Stands for `/etc`: `mongodb-mms/*.config` and `passwd` (owners' names).
    pub etc_root: PathBuf,
    /// Stands for `/opt`: the Ops Manager installation, `mongodb/mms`.
    pub opt_root: PathBuf,
}

impl Default for Roots {
    fn default() -> Roots {
        Roots {
            proc_root: PathBuf::from("/proc"),
            etc_root: PathBuf::from("/etc"),
            opt_root: PathBuf::from("/opt"),
        }
    }
}

/// `mongod` or `mongos`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A mongod.
    Mongod,
    /// A mongos.
    Mongos,
}

impl Kind {
    /// The request's `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Mongod => "mongod",
            Kind::Mongos => "mongos",
        }
    }
}

/// A running mongod or mongos that goes into the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundProcess {
    /// Its process id.
    pub pid: u32,
    /// mongod or mongos.
    pub kind: Kind,
    /// The user it runs as (a name from `ETC/passwd`, else `uid N`).
    pub owner: String,
    /// Its argv\[0\], the executable as it was started (lossy UTF-8).
    pub exe: String,
    /// `net.port`, or mongod's default.
    pub port: u16,
    /// `systemLog.path`, absolute.
    pub log_path: String,
    /// `storage.dbPath` (or the default) for a mongod, absolute.
    pub db_path: Option<String>,
    /// `replication.replSetName` for a mongod.
    pub replica_set: Option<String>,
    /// `auditLog.path` when auditing writes to a file, absolute.
    pub audit_log_path: Option<String>,
    /// The config file it was started with, absolute.
    pub config: Option<String>,
    /// Whether that file is in the legacy `key = value` form, not YAML.
    pub legacy_config: bool,
}

/// An agent whose log file was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundAgent {
    /// Which agent.
    pub kind: AgentKind,
    /// Its log file, absolute.
    pub log_file: String,
    /// Where that came from: a config file's path, or `pid N`.
    pub source: String,
}

/// What discovery found, and what it could not read.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    /// The host name, the request's `hostname`.
    pub hostname: String,
    /// The processes in the request, oldest first.
    pub processes: Vec<FoundProcess>,
    /// The agents whose log files were found.
    pub agents: Vec<FoundAgent>,
    /// The request's `agentLogDir`: the automation agent's log directory
    /// (or, with none, a legacy agent's).
    pub agent_log_dir: Option<String>,
    /// The request's `omLogDir`.
    pub om_log_dir: Option<String>,
    /// What was skipped and why, and other things worth telling, each
    /// naming the pid (`pid 1234 (mongod, user mongod): ...`) or the path.
    pub notes: Vec<String>,
    /// Where discovery looked.
    pub roots: Roots,
    /// How many things the request collects: processes, plus one for
    /// `agentLogDir` and one for `omLogDir`. 0 means nothing was found and
    /// there is no request.
    pub found: usize,
}

#[derive(Serialize)]
struct RequestDoc<'a> {
    hosts: [HostDoc<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HostDoc<'a> {
    hostname: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent_log_dir: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    processes: Vec<ProcessDoc<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    om_log_dir: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProcessDoc<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    replica_set: Option<&'a str>,
    port: u16,
    log_path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    db_path: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    audit_log_path: Option<&'a str>,
}

impl<'a> From<&'a FoundProcess> for ProcessDoc<'a> {
    fn from(p: &'a FoundProcess) -> ProcessDoc<'a> {
        ProcessDoc {
            kind: p.kind.as_str(),
            replica_set: p.replica_set.as_deref(),
            port: p.port,
            log_path: &p.log_path,
            db_path: p.db_path.as_deref(),
            audit_log_path: p.audit_log_path.as_deref(),
        }
    }
}

impl Discovery {
    fn doc(&self) -> Option<RequestDoc<'_>> {
        (self.found > 0).then(|| RequestDoc {
            hosts: [HostDoc {
                hostname: &self.hostname,
                agent_log_dir: self.agent_log_dir.as_deref(),
                processes: self.processes.iter().map(ProcessDoc::from).collect(),
                om_log_dir: self.om_log_dir.as_deref(),
            }],
        })
    }

    /// The request (PRODUCT.md §1), one host; `None` when nothing was found.
    pub fn request(&self) -> Option<Value> {
        serde_json::to_value(self.doc()?).ok()
    }

    /// The request as JSON text, its fields in the order PRODUCT.md §1
    /// shows them; `pretty` for the indented form a user edits. `None`
    /// when nothing was found.
    pub fn request_json(&self, pretty: bool) -> Option<String> {
        let doc = self.doc()?;
        if pretty {
            serde_json::to_string_pretty(&doc).ok()
        } else {
            serde_json::to_string(&doc).ok()
        }
    }

    /// A summary for a person (stderr): what was found, then every note.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        if self.found == 0 {
            let _ = writeln!(
                s,
                "Nothing to collect on {}: no running mongod or mongos with a log file (in {}), \
                 no agent log directory (from {}) and no Ops Manager log directory (in {}) \
                 were found.",
                self.hostname,
                self.roots.proc_root.display(),
                self.roots.etc_root.join("mongodb-mms").display(),
                self.roots.opt_root.join("mongodb/mms").display(),
            );
        } else {
            let _ = writeln!(s, "Found on {}:", self.hostname);
        }
        for p in &self.processes {
            let mut line = format!(
                "  {} pid {} ({}, user {}), port {}",
                p.kind.as_str(),
                p.pid,
                p.exe,
                p.owner,
                p.port
            );
            if let Some(rs) = &p.replica_set {
                let _ = write!(line, ", replica set {rs}");
            }
            let _ = write!(line, ": log {}", p.log_path);
            if let Some(db) = &p.db_path {
                let _ = write!(line, ", dbPath {db}");
            }
            if let Some(a) = &p.audit_log_path {
                let _ = write!(line, ", audit log {a}");
            }
            if let Some(c) = &p.config {
                let form = if p.legacy_config {
                    ", key = value form"
                } else {
                    ""
                };
                let _ = write!(line, " (config {c}{form})");
            }
            let _ = writeln!(s, "{line}");
        }
        for a in &self.agents {
            let _ = writeln!(
                s,
                "  {} agent: log {} (from {})",
                a.kind.name(),
                a.log_file,
                a.source
            );
        }
        if let Some(d) = &self.agent_log_dir {
            let _ = writeln!(s, "  agentLogDir {d}");
        }
        if let Some(d) = &self.om_log_dir {
            let _ = writeln!(s, "  Ops Manager server: omLogDir {d}");
        }
        if !self.notes.is_empty() {
            let _ = writeln!(s, "Skipped or worth knowing ({}):", self.notes.len());
            for n in &self.notes {
                let _ = writeln!(s, "  - {n}");
            }
        }
        s
    }

    /// Whether a request with one more piece is still one `collect`
    /// accepts.
    fn accepts(&self, extra: impl FnOnce(&mut Discovery)) -> Result<(), String> {
        let mut probe = Discovery {
            hostname: self.hostname.clone(),
            ..Discovery::default()
        };
        extra(&mut probe);
        probe.found = 1;
        let text = probe.request_json(false).unwrap_or_default();
        logpack::Request::from_json(&text, Path::new("/"))
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

/// Discovers what this host (as `roots` show it) has to collect. Never
/// panics and never fails: what cannot be read is a note.
pub fn discover(roots: &Roots) -> Discovery {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(roots))) {
        Ok(d) => d,
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Discovery {
                hostname: proc::hostname(&roots.proc_root).unwrap_or_default(),
                notes: vec![format!("discovery stopped on an internal error: {what}")],
                roots: roots.clone(),
                ..Discovery::default()
            }
        }
    }
}

/// A request host name must be one archive path component.
fn usable_hostname(h: &str) -> bool {
    !h.is_empty() && h != "." && h != ".." && !h.contains('/') && !h.contains('\0')
}

/// A running agent.
struct AgentProc<'a> {
    kind: AgentKind,
    proc: &'a proc::Proc,
    args: Vec<OsString>,
}

fn run(roots: &Roots) -> Discovery {
    let mut d = Discovery {
        roots: roots.clone(),
        ..Discovery::default()
    };
    d.hostname = match proc::hostname(&roots.proc_root) {
        Some(h) if usable_hostname(&h) => h,
        other => {
            d.notes.push(format!(
                "the host name {:?} cannot name the host in the archive: \"localhost\" is used; \
                 edit hostname in the request",
                other.unwrap_or_default()
            ));
            "localhost".to_string()
        }
    };
    let users = proc::Users::load(&roots.etc_root);
    let own_ns = std::fs::read_link(roots.proc_root.join("self/ns/mnt")).ok();

    let procs = match proc::list(&roots.proc_root) {
        Ok(p) => p,
        Err(e) => {
            d.notes.push(format!(
                "{} cannot be listed ({e}): no process was read",
                roots.proc_root.display()
            ));
            Vec::new()
        }
    };

    let mut hidden = 0usize;
    let mut agent_procs = Vec::new();
    let mut om_dirs: Vec<(u32, String)> = Vec::new();
    for p in &procs {
        let comm = match p.comm() {
            Ok(c) => c,
            Err(proc::ReadError::Denied) => {
                hidden += 1;
                continue;
            }
            // Gone, or not a process directory: nothing to say.
            Err(_) => continue,
        };
        let mongo_by_comm = match comm.as_str() {
            "mongod" => Some(Kind::Mongod),
            "mongos" => Some(Kind::Mongos),
            _ => None,
        };
        let owner = || users.name(p.status().ok().and_then(|s| s.uid));
        let args = match p.cmdline() {
            Ok(a) => a,
            Err(e) => {
                if let Some(kind) = mongo_by_comm {
                    d.notes.push(format!(
                        "pid {} ({}, user {}): its command line cannot be read ({e}): skipped",
                        p.pid,
                        kind.as_str(),
                        owner()
                    ));
                } else if matches!(e, proc::ReadError::Denied) {
                    hidden += 1;
                }
                continue;
            }
        };
        let arg0 = args.first().map(|a| proc::basename(a)).unwrap_or_default();
        let kind = mongo_by_comm.or(match arg0.as_str() {
            "mongod" => Some(Kind::Mongod),
            "mongos" => Some(Kind::Mongos),
            _ => None,
        });
        if let Some(kind) = kind {
            let status = p.status().ok();
            let owner = users.name(status.and_then(|s| s.uid));
            let who = format!("pid {} ({}, user {owner})", p.pid, kind.as_str());
            if args.is_empty() {
                let why = if status.is_some_and(|s| s.zombie) {
                    "has exited (a zombie not yet reaped)"
                } else {
                    "has an empty command line (it exited while it was being read)"
                };
                d.notes.push(format!("{who}: {why}: skipped"));
                continue;
            }
            let other_namespace = match (&own_ns, p.mount_ns()) {
                (Some(own), Some(theirs)) => own.as_os_str() != theirs,
                _ => false,
            };
            let seen = mongo::Seen {
                proc: p,
                kind,
                args: &args,
                owner,
                other_namespace,
                etc_root: &roots.etc_root,
            };
            let mut warnings = Vec::new();
            let result = mongo::resolve(&seen, &mut warnings);
            for w in warnings {
                d.notes.push(format!("{who}: {w}"));
            }
            match result {
                Ok(found) => {
                    if other_namespace {
                        d.notes.push(format!(
                            "{who}: runs in another mount namespace (a container?): its paths \
                             are as it sees them, and may not exist here"
                        ));
                    }
                    add_process(&mut d, found, &who);
                }
                Err(mongo::Skip(why)) => d.notes.push(format!("{who}: {why}: skipped")),
            }
            continue;
        }
        if let Some(kind) = AgentKind::of_process(&comm, &arg0) {
            agent_procs.push(AgentProc {
                kind,
                proc: p,
                args,
            });
            continue;
        }
        if let Some(dir) = agents::om_log_dir_of_process(&arg0, &args) {
            om_dirs.push((p.pid, dir));
        }
    }
    if hidden > 0 {
        d.notes.push(format!(
            "{hidden} process(es) could not be read (permission denied: other users' processes \
             with /proc mounted hidepid?); run discover as root to see them"
        ));
    }

    discover_agents(&mut d, roots, &agent_procs, &users);
    discover_om(&mut d, roots, &om_dirs);

    d.found = d.processes.len()
        + usize::from(d.agent_log_dir.is_some())
        + usize::from(d.om_log_dir.is_some());
    if d.found > 0 {
        // Each piece was checked alone; this checks them together.
        let text = d.request_json(false).unwrap_or_default();
        if let Err(e) = logpack::Request::from_json(&text, Path::new("/")) {
            d.notes.push(format!(
                "the discovered request is not one collect accepts ({e}): nothing is proposed"
            ));
            d.processes.clear();
            d.agent_log_dir = None;
            d.om_log_dir = None;
            d.found = 0;
        }
    }
    d
}

/// Adds a process unless its port is taken (keep the first: two processes
/// cannot listen on one port of one host, so the second is a starting or
/// forking copy, or lives in another network namespace) or collect would
/// refuse it.
fn add_process(d: &mut Discovery, found: FoundProcess, who: &str) {
    if let Some(first) = d.processes.iter().find(|q| q.port == found.port) {
        d.notes.push(format!(
            "{who}: port {} is also that of pid {} ({}), found first: skipped",
            found.port,
            first.pid,
            first.kind.as_str()
        ));
        return;
    }
    let candidate = found.clone();
    match d.accepts(|probe| probe.processes.push(candidate)) {
        Ok(()) => d.processes.push(found),
        Err(e) => d
            .notes
            .push(format!("{who}: collect would not accept it ({e}): skipped")),
    }
}

/// Where a file the processes name as `/etc/...` is read: under
/// `Roots::etc_root`, which stands for `/etc`.
pub(crate) fn under_etc(etc_root: &Path, path: &Path) -> PathBuf {
    match path.strip_prefix("/etc") {
        Ok(rest) if etc_root != Path::new("/etc") => etc_root.join(rest),
        _ => path.to_path_buf(),
    }
}

/// `path` as an absolute path: relative ones against `cwd` (a running
/// process's), `None` with the reason when that cannot be done.
fn absolute_with(path: &str, cwd: Option<&proc::Proc>) -> Result<String, String> {
    if Path::new(path).is_absolute() {
        return Ok(path.to_string());
    }
    let Some(p) = cwd else {
        return Err(format!("{path:?} is relative to an unknown directory"));
    };
    let dir = p.cwd().map_err(|e| {
        format!("{path:?} is relative and the working directory cannot be read ({e})")
    })?;
    let joined: PathBuf = dir.join(path).components().collect();
    joined
        .into_os_string()
        .into_string()
        .map_err(|_| "the working directory is not UTF-8 text".to_string())
}

fn discover_agents(
    d: &mut Discovery,
    roots: &Roots,
    running: &[AgentProc<'_>],
    users: &proc::Users,
) {
    let etc_dir = roots.etc_root.join("mongodb-mms");
    for kind in AgentKind::ALL {
        let standard = etc_dir.join(kind.config_name());
        let from_config = |d: &mut Discovery,
                           path: &Path,
                           cwd: Option<&proc::Proc>|
         -> Option<(String, String)> {
            let shown = path.display().to_string();
            match agents::config_log_file(path) {
                Ok(Some(lf)) => match absolute_with(&lf, cwd) {
                    Ok(abs) => Some((abs, shown)),
                    Err(e) => {
                        d.notes.push(format!(
                            "{shown}: logFile {e}: the {} agent's logs are not collected",
                            kind.name()
                        ));
                        None
                    }
                },
                Ok(None) => {
                    d.notes.push(format!(
                        "{shown}: names no logFile: the {} agent's logs are not collected",
                        kind.name()
                    ));
                    None
                }
                Err(e) => {
                    d.notes.push(format!(
                        "{shown}: {e}: the {} agent's logs are not collected",
                        kind.name()
                    ));
                    None
                }
            }
        };
        let mut procs = running.iter().filter(|a| a.kind == kind);
        let found = if let Some(a) = procs.next() {
            let owner = users.name(a.proc.status().ok().and_then(|s| s.uid));
            let who = format!("pid {} ({} agent, user {owner})", a.proc.pid, kind.name());
            for other in procs {
                d.notes.push(format!(
                    "pid {} is another {} agent: only pid {} is read",
                    other.proc.pid,
                    kind.name(),
                    a.proc.pid
                ));
            }
            match agents::agent_args(&a.args) {
                Err(e) => {
                    d.notes.push(format!("{who}: {e}: skipped"));
                    None
                }
                Ok(args) => {
                    if let Some(lf) = args.log_file {
                        match absolute_with(&lf, Some(a.proc)) {
                            Ok(abs) => Some((abs, format!("pid {}", a.proc.pid))),
                            Err(e) => {
                                d.notes.push(format!("{who}: -logFile {e}: skipped"));
                                None
                            }
                        }
                    } else if let Some(cfg) = args.config {
                        match absolute_with(&cfg, Some(a.proc)) {
                            Ok(abs) => from_config(
                                d,
                                &under_etc(&roots.etc_root, Path::new(&abs)),
                                Some(a.proc),
                            ),
                            Err(e) => {
                                d.notes.push(format!("{who}: config file {e}: skipped"));
                                None
                            }
                        }
                    } else if standard.exists() {
                        from_config(d, &standard, Some(a.proc))
                    } else {
                        d.notes.push(format!(
                            "{who}: names no -logFile or config file, and {} does not exist: skipped",
                            standard.display()
                        ));
                        None
                    }
                }
            }
        } else if standard.exists() {
            from_config(d, &standard, None)
        } else {
            None
        };
        let Some((log_file, source)) = found else {
            continue;
        };
        d.agents.push(FoundAgent {
            kind,
            log_file,
            source,
        });
    }

    // agentLogDir: the automation agent's directory, else the first found.
    let mut chosen: Option<(AgentKind, String)> = None;
    for a in &d.agents.clone() {
        let path = Path::new(&a.log_file);
        let (Some(dir), Some(name)) = (
            path.parent().and_then(Path::to_str),
            path.file_name().and_then(|n| n.to_str()),
        ) else {
            d.notes.push(format!(
                "{} agent: log file {} has no directory",
                a.kind.name(),
                a.log_file
            ));
            continue;
        };
        if !a.kind.collects(name) {
            d.notes.push(format!(
                "{} agent: its log file {name} is not named {}*.log*: collect does not take it",
                a.kind.name(),
                a.kind.file_prefix()
            ));
        }
        match &chosen {
            None => {
                let dir_owned = dir.to_string();
                match d.accepts(|probe| probe.agent_log_dir = Some(dir_owned)) {
                    Ok(()) => chosen = Some((a.kind, dir.to_string())),
                    Err(e) => d.notes.push(format!(
                        "{} agent: its log directory {dir} is not one collect accepts ({e})",
                        a.kind.name()
                    )),
                }
            }
            Some((first, chosen_dir)) if chosen_dir != dir => d.notes.push(format!(
                "the {} agent logs to {dir}, not to agentLogDir {chosen_dir} (the {} agent's): \
                 its logs are not collected",
                a.kind.name(),
                first.name()
            )),
            Some(_) => {}
        }
    }
    d.agent_log_dir = chosen.map(|(_, dir)| dir);
}

fn discover_om(d: &mut Discovery, roots: &Roots, running: &[(u32, String)]) {
    let installed = roots.opt_root.join("mongodb/mms/logs");
    let installed = installed
        .is_dir()
        .then(|| installed.to_str().map(str::to_string))
        .flatten();
    let mut candidates: Vec<(String, String)> = running
        .iter()
        .map(|(pid, dir)| (dir.clone(), format!("pid {pid}")))
        .collect();
    if let Some(dir) = installed {
        candidates.push((dir.clone(), format!("the installation {dir}")));
    }
    let mut chosen: Option<(String, String)> = None;
    for (dir, source) in candidates {
        match &chosen {
            None => {
                let probe_dir = dir.clone();
                match d.accepts(|probe| probe.om_log_dir = Some(probe_dir)) {
                    Ok(()) => chosen = Some((dir, source)),
                    Err(e) => d.notes.push(format!(
                        "Ops Manager log directory {dir} (from {source}) is not one collect accepts ({e})"
                    )),
                }
            }
            Some((first, first_source)) if *first != dir => d.notes.push(format!(
                "Ops Manager also logs to {dir} (from {source}); omLogDir is {first} (from {first_source})"
            )),
            Some(_) => {}
        }
    }
    d.om_log_dir = chosen.map(|(dir, _)| dir);
}
