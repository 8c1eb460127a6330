//! The collection request (PRODUCT.md §1): parsing and validation.
//!
//! Parsing goes text → `serde_json::Value` (syntax errors with line and
//! column) → raw structs (unknown fields rejected, with the JSON path of the
//! offending field) → [`Request`] (ranges and cross-field rules). Nothing is
//! written before a request has passed all three.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// One kind of log a request can ask for (`logTypes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LogType {
    /// `agentLogDir/automation-agent*.log*`
    AutomationAgent,
    /// `agentLogDir/monitoring-agent*.log*`
    MonitoringAgent,
    /// `agentLogDir/backup-agent*.log*`
    BackupAgent,
    /// A mongod or mongos `logPath` and its rotated siblings.
    Mongodb,
    /// The FTDC `diagnostic.data` directory of a mongod or mongos.
    Ftdc,
    /// Ops Manager application logs (`mms<N>.log`).
    Application,
    /// Ops Manager HTTP access logs (`mms<N>-access*.log*`).
    HttpAccess,
    /// Ops Manager migration logs (`mms-migration*.log*`).
    Migration,
    /// Ops Manager backup daemon logs (`daemon*.log*`).
    Daemon,
}

impl LogType {
    /// Every type, in manifest order.
    pub const ALL: [LogType; 9] = [
        LogType::AutomationAgent,
        LogType::MonitoringAgent,
        LogType::BackupAgent,
        LogType::Mongodb,
        LogType::Ftdc,
        LogType::Application,
        LogType::HttpAccess,
        LogType::Migration,
        LogType::Daemon,
    ];

    /// The name used in requests and manifests, e.g. `AUTOMATION_AGENT`.
    pub fn as_str(self) -> &'static str {
        self.layout().name
    }

    /// Everything logpack knows about this type, from the one table.
    pub fn layout(self) -> &'static Layout {
        &LAYOUTS[self as usize]
    }

    fn parse(s: &str) -> Option<LogType> {
        LogType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Agent types live in `agentLogDir`.
    pub fn is_agent(self) -> bool {
        self.layout().source == Source::AgentLogDir
    }

    /// Ops Manager server types live in `omLogDir`.
    pub fn is_om_server(self) -> bool {
        self.layout().source == Source::OmLogDir
    }
}

/// Where a log type's files come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The host's `agentLogDir`.
    AgentLogDir,
    /// The host's `omLogDir`.
    OmLogDir,
    /// A process's `logPath` and its rotated siblings.
    LogPath,
    /// A process's FTDC directory (`dbPath/diagnostic.data`, or beside a
    /// mongos log).
    DiagnosticData,
}

/// The per-log-type facts (PRODUCT.md §2), one row per type.
#[derive(Debug)]
pub struct Layout {
    /// The name in requests and manifests.
    pub name: &'static str,
    /// Where its files come from.
    pub source: Source,
    /// Its directory under the host (agent and OM types) or under the
    /// process's directory (FTDC); empty for the process's own logs.
    pub archive_dir: &'static str,
    /// The files of a log directory that belong to it (agent and OM types).
    pub include: &'static str,
    /// Files `include` matches that belong to another type.
    pub exclude: Option<&'static str>,
    /// Binary data: never read as lines, its compressed stretches stored.
    pub binary: bool,
}

/// One row per [`LogType`], in the enum's order.
const LAYOUTS: [Layout; 9] = {
    const fn row(
        name: &'static str,
        source: Source,
        archive_dir: &'static str,
        include: &'static str,
        exclude: Option<&'static str>,
    ) -> Layout {
        Layout {
            name,
            source,
            archive_dir,
            include,
            exclude,
            binary: false,
        }
    }
    use Source::*;
    [
        row(
            "AUTOMATION_AGENT",
            AgentLogDir,
            "automation_agent",
            "automation-agent*.log*",
            None,
        ),
        row(
            "MONITORING_AGENT",
            AgentLogDir,
            "automation_agent",
            "monitoring-agent*.log*",
            None,
        ),
        row(
            "BACKUP_AGENT",
            AgentLogDir,
            "automation_agent",
            "backup-agent*.log*",
            None,
        ),
        row("MONGODB", LogPath, "", "", None),
        Layout {
            binary: true,
            ..row("FTDC", DiagnosticData, "diagnostic.data", "", None)
        },
        row(
            "APPLICATION",
            OmLogDir,
            "application",
            "mms[0-9]*.log*",
            Some("mms[0-9]*-access*"),
        ),
        row(
            "HTTP_ACCESS",
            OmLogDir,
            "http_access",
            "mms[0-9]*-access*.log*",
            None,
        ),
        row(
            "MIGRATION",
            OmLogDir,
            "migration",
            "mms-migration*.log*",
            None,
        ),
        row("DAEMON", OmLogDir, "daemon", "daemon*.log*", None),
    ]
};

impl fmt::Display for LogType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Minimum severity (`level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// Debug and trace (mongod `D1`..`D5`).
    Debug,
    /// Informational (`I`).
    Info,
    /// Warnings (`W`).
    Warn,
    /// Errors (`E`).
    Error,
    /// Fatal (`F`, dotnet `Critical`).
    Fatal,
}

impl Level {
    /// Accepts `FATAL ERROR WARN INFO DEBUG`, the mongod letters `F E W I D`
    /// and the dotnet names `Critical Error Warning Information Debug Trace`,
    /// in any letter case.
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s.to_ascii_uppercase().as_str() {
            "FATAL" | "F" | "CRITICAL" => Level::Fatal,
            "ERROR" | "E" => Level::Error,
            "WARN" | "W" | "WARNING" => Level::Warn,
            "INFO" | "I" | "INFORMATION" => Level::Info,
            "DEBUG" | "D" | "TRACE" => Level::Debug,
            _ => return None,
        })
    }
}

/// The kind of a MongoDB process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessKind {
    /// A mongod (replica set member or standalone).
    Mongod,
    /// A mongos router.
    Mongos,
}

/// One mongod or mongos of a host.
#[derive(Debug, Clone)]
pub struct Process {
    /// mongod or mongos.
    pub kind: ProcessKind,
    /// The replica set name, for replica set members.
    pub replica_set: Option<String>,
    /// The port, 1..=65535.
    pub port: u16,
    /// The live log file (absolute after resolution).
    pub log_path: PathBuf,
    /// The data directory, where `diagnostic.data` lives (mongod only).
    pub db_path: Option<PathBuf>,
    /// Its sharded cluster's name (the HTTP API's CLUSTER resources).
    pub cluster: Option<String>,
    /// Its audit log (absolute after resolution); not collected, but the
    /// HTTP API's audit log download reads it.
    pub audit_log_path: Option<PathBuf>,
}

impl Process {
    /// The process directory inside the archive, below the host:
    /// `<replicaSet>/<port>`, `standalone/<port>` or `mongos/<port>`.
    pub fn archive_dir(&self) -> String {
        let group = match (self.kind, &self.replica_set) {
            (ProcessKind::Mongos, _) => "mongos",
            (ProcessKind::Mongod, Some(rs)) => rs.as_str(),
            (ProcessKind::Mongod, None) => "standalone",
        };
        format!("{group}/{}", self.port)
    }

    /// Where this process keeps FTDC: `dbPath/diagnostic.data` for a mongod,
    /// `<logPath without extension>.diagnostic.data` for a mongos.
    pub fn ftdc_dir(&self) -> Option<PathBuf> {
        match self.kind {
            ProcessKind::Mongod => self.db_path.as_ref().map(|d| d.join("diagnostic.data")),
            ProcessKind::Mongos => {
                let stem = self.log_path.file_stem()?.to_os_string();
                let mut name = stem;
                name.push(".diagnostic.data");
                Some(self.log_path.with_file_name(name))
            }
        }
    }
}

/// One host of the deployment.
#[derive(Debug, Clone)]
pub struct Host {
    /// The host name, used as the top directory in the archive.
    pub hostname: String,
    /// Directory of the automation, monitoring and backup agent logs.
    pub agent_log_dir: Option<PathBuf>,
    /// The mongod and mongos processes.
    pub processes: Vec<Process>,
    /// Directory of the Ops Manager server logs.
    pub om_log_dir: Option<PathBuf>,
}

/// A validated collection request. Paths are absolute.
#[derive(Debug, Clone)]
pub struct Request {
    /// `resourceType`, e.g. `CLUSTER`.
    pub resource_type: Option<String>,
    /// `resourceName`, used in the default archive name.
    pub resource_name: Option<String>,
    /// The requested log types; defaults to every type the hosts can provide.
    pub log_types: Vec<LogType>,
    /// `sizeRequestedPerFileBytes`.
    pub size_requested_per_file_bytes: Option<u64>,
    /// `redacted`.
    pub redacted: bool,
    /// `logCollectionFromDate`, inclusive.
    pub from: Option<Timestamp>,
    /// `logCollectionToDate`, inclusive.
    pub to: Option<Timestamp>,
    /// `level`, the minimum severity.
    pub level: Option<Level>,
    /// Globs on archive paths to keep.
    pub include: Vec<String>,
    /// Globs on archive paths to drop (exclude wins).
    pub exclude: Vec<String>,
    /// The hosts.
    pub hosts: Vec<Host>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawRequest {
    resource_type: Option<String>,
    resource_name: Option<String>,
    log_types: Option<Vec<String>>,
    size_requested_per_file_bytes: Option<Value>,
    redacted: Option<bool>,
    log_collection_from_date: Option<Value>,
    log_collection_to_date: Option<Value>,
    level: Option<String>,
    include: Option<Vec<String>>,
    exclude: Option<Vec<String>>,
    hosts: Vec<RawHost>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawHost {
    hostname: Option<String>,
    agent_log_dir: Option<String>,
    #[serde(default)]
    processes: Vec<RawProcess>,
    om_log_dir: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawProcess {
    #[serde(rename = "type")]
    kind: Option<String>,
    replica_set: Option<String>,
    port: Option<Value>,
    log_path: Option<String>,
    db_path: Option<String>,
    cluster: Option<String>,
    audit_log_path: Option<String>,
}

const RESOURCE_TYPES: [&str; 4] = ["CLUSTER", "REPLICASET", "PROCESS", "OM_SERVER"];

impl Request {
    /// Reads and validates a request file; relative paths are resolved
    /// against the file's directory.
    pub fn from_file(path: &Path) -> Result<Request> {
        Request::from_file_with(path, &[])
    }

    /// Like [`Request::from_file`], with request fields replaced before
    /// validation (the CLI's `--from`, `--level`, ...). Keys are JSON field names.
    pub fn from_file_with(path: &Path, overrides: &[(&str, Value)]) -> Result<Request> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Input {
            path: path.to_path_buf(),
            source,
        })?;
        let base = absolute(path.parent().unwrap_or(Path::new(".")));
        Request::from_json_with(&text, &base, overrides)
    }

    /// Parses and validates request JSON; relative paths are resolved against `base_dir`.
    pub fn from_json(text: &str, base_dir: &Path) -> Result<Request> {
        Request::from_json_with(text, base_dir, &[])
    }

    /// Like [`Request::from_json`], with fields replaced before validation.
    pub fn from_json_with(
        text: &str,
        base_dir: &Path,
        overrides: &[(&str, Value)],
    ) -> Result<Request> {
        let mut value: Value = serde_json::from_str(text).map_err(|e| Error::MalformedJson {
            line: e.line(),
            column: e.column(),
            message: strip_position(&e.to_string()),
        })?;
        let Value::Object(map) = &mut value else {
            return Err(Error::invalid("request", "must be a JSON object"));
        };
        for (key, v) in overrides {
            map.insert((*key).to_string(), v.clone());
        }
        let raw: RawRequest = serde_path_to_error::deserialize(value).map_err(|e| {
            let field = e.path().to_string();
            let field = if field == "." {
                "request".to_string()
            } else {
                field
            };
            Error::invalid(field, e.into_inner().to_string())
        })?;
        validate(raw, &absolute(base_dir))
    }

    /// The default archive name stem: `logs_<resourceName or first host>`,
    /// or `om-logs` for a request that only collects Ops Manager server logs.
    pub fn archive_stem(&self) -> String {
        let om_only = self
            .hosts
            .iter()
            .all(|h| h.agent_log_dir.is_none() && h.processes.is_empty());
        if om_only {
            return "om-logs".to_string();
        }
        let name = self
            .resource_name
            .as_deref()
            .or_else(|| self.hosts.first().map(|h| h.hostname.as_str()))
            .unwrap_or("logpack");
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("logs_{safe}")
    }
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

fn resolve(base: &Path, p: &str) -> PathBuf {
    base.join(p)
}

/// A name that becomes one archive path component.
fn check_component(field: &str, s: &str) -> Result<()> {
    if s.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if s == "." || s == ".." || s.contains('/') || s.contains('\0') {
        return Err(Error::invalid(
            field,
            format!("{s:?} cannot be used as a directory name in the archive"),
        ));
    }
    Ok(())
}

fn check_path(field: &str, s: &str) -> Result<()> {
    if s.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if s.contains('\0') {
        return Err(Error::invalid(field, "must not contain a NUL byte"));
    }
    Ok(())
}

fn parse_date(field: &str, v: &Value) -> Result<Timestamp> {
    match v {
        Value::String(s) => s.parse::<Timestamp>().map_err(|e| {
            Error::invalid(
                field,
                format!("{s:?} is not an RFC 3339 date with an offset ({e})"),
            )
        }),
        // 10^11 seconds is the year 5138: an integer that large is epoch
        // milliseconds, as Ops Manager's Go client sends these fields.
        Value::Number(n) => n
            .as_i64()
            .and_then(|i| {
                if i.unsigned_abs() >= 100_000_000_000 {
                    Timestamp::from_millisecond(i).ok()
                } else {
                    Timestamp::from_second(i).ok()
                }
            })
            .ok_or_else(|| {
                Error::invalid(
                    field,
                    format!("{n} is not a valid number of epoch seconds or milliseconds"),
                )
            }),
        other => Err(Error::invalid(
            field,
            format!("expected an RFC 3339 string or integer epoch seconds, got {other}"),
        )),
    }
}

fn validate(raw: RawRequest, base: &Path) -> Result<Request> {
    if let Some(rt) = &raw.resource_type {
        if !RESOURCE_TYPES.contains(&rt.as_str()) {
            return Err(Error::invalid(
                "resourceType",
                format!("unknown resource type {rt:?}; expected one of {RESOURCE_TYPES:?}"),
            ));
        }
    }
    if raw.hosts.is_empty() {
        return Err(Error::invalid("hosts", "at least one host is required"));
    }

    let mut hosts = Vec::with_capacity(raw.hosts.len());
    let mut archive_dirs = HashSet::new();
    for (h, rh) in raw.hosts.into_iter().enumerate() {
        let field = format!("hosts[{h}].hostname");
        let hostname = rh
            .hostname
            .ok_or_else(|| Error::invalid(&field, "missing: every host needs a hostname"))?;
        check_component(&field, &hostname)?;
        let mut processes = Vec::with_capacity(rh.processes.len());
        for (p, rp) in rh.processes.into_iter().enumerate() {
            let pf = |name: &str| format!("hosts[{h}].processes[{p}].{name}");
            let kind = match rp.kind.as_deref() {
                Some("mongod") => ProcessKind::Mongod,
                Some("mongos") => ProcessKind::Mongos,
                Some(other) => {
                    return Err(Error::invalid(
                        pf("type"),
                        format!(
                            "unknown process type {other:?}; expected \"mongod\" or \"mongos\""
                        ),
                    ))
                }
                None => return Err(Error::invalid(pf("type"), "missing")),
            };
            let port = match &rp.port {
                Some(Value::Number(n)) => match n.as_i64() {
                    Some(v) if (1..=65535).contains(&v) => v as u16,
                    _ => {
                        return Err(Error::invalid(
                            pf("port"),
                            format!("{n} is out of range 1..=65535"),
                        ))
                    }
                },
                Some(other) => {
                    return Err(Error::invalid(
                        pf("port"),
                        format!("expected an integer, got {other}"),
                    ))
                }
                None => return Err(Error::invalid(pf("port"), "missing")),
            };
            if let Some(rs) = &rp.replica_set {
                check_component(&pf("replicaSet"), rs)?;
            }
            let log_path = rp
                .log_path
                .ok_or_else(|| Error::invalid(pf("logPath"), "missing"))?;
            check_path(&pf("logPath"), &log_path)?;
            // `x/..` or `x/.` names a directory too, and its empty file
            // name would make every dot-file of x a rotated sibling.
            let last = log_path.rsplit('/').next().unwrap_or_default();
            if log_path.ends_with('/') || last == "." || last == ".." {
                return Err(Error::invalid(
                    pf("logPath"),
                    "must name a file, not a directory",
                ));
            }
            if let Some(db) = &rp.db_path {
                check_path(&pf("dbPath"), db)?;
            }
            if let Some(audit) = &rp.audit_log_path {
                check_path(&pf("auditLogPath"), audit)?;
            }
            if let Some(cluster) = &rp.cluster {
                check_component(&pf("cluster"), cluster)?;
            }
            let process = Process {
                kind,
                replica_set: if kind == ProcessKind::Mongod {
                    rp.replica_set
                } else {
                    None
                },
                port,
                log_path: resolve(base, &log_path),
                db_path: rp.db_path.as_deref().map(|d| resolve(base, d)),
                cluster: rp.cluster,
                audit_log_path: rp.audit_log_path.as_deref().map(|a| resolve(base, a)),
            };
            let dir = format!("{hostname}/{}", process.archive_dir());
            if !archive_dirs.insert(dir.clone()) {
                return Err(Error::invalid(
                    pf("port"),
                    format!("a second process on this host maps to {dir}"),
                ));
            }
            processes.push(process);
        }
        for (name, dir) in [
            ("agentLogDir", &rh.agent_log_dir),
            ("omLogDir", &rh.om_log_dir),
        ] {
            if let Some(d) = dir {
                check_path(&format!("hosts[{h}].{name}"), d)?;
            }
        }
        if rh.agent_log_dir.is_none() && processes.is_empty() && rh.om_log_dir.is_none() {
            return Err(Error::invalid(
                format!("hosts[{h}]"),
                "names nothing to collect: give agentLogDir, processes or omLogDir",
            ));
        }
        if !archive_dirs.insert(format!("{hostname}\0host")) {
            return Err(Error::invalid(
                field,
                format!("{hostname:?} appears twice; list each host once"),
            ));
        }
        hosts.push(Host {
            hostname,
            agent_log_dir: rh.agent_log_dir.as_deref().map(|d| resolve(base, d)),
            processes,
            om_log_dir: rh.om_log_dir.as_deref().map(|d| resolve(base, d)),
        });
    }

    let log_types = match raw.log_types {
        None => default_log_types(&hosts),
        Some(list) => {
            if list.is_empty() {
                return Err(Error::invalid("logTypes", "must not be empty when given"));
            }
            let mut types = Vec::new();
            for (i, s) in list.iter().enumerate() {
                let t = LogType::parse(s).ok_or_else(|| {
                    let known: Vec<&str> = LogType::ALL.iter().map(|t| t.as_str()).collect();
                    Error::invalid(
                        format!("logTypes[{i}]"),
                        format!(
                            "unknown log type {s:?}; expected one of {}",
                            known.join(", ")
                        ),
                    )
                })?;
                if !types.contains(&t) {
                    types.push(t);
                }
            }
            types.sort();
            types
        }
    };

    let size_requested_per_file_bytes = match &raw.size_requested_per_file_bytes {
        None => None,
        Some(Value::Number(n)) => match n.as_i64() {
            Some(v) if v > 0 => Some(v as u64),
            _ => {
                return Err(Error::invalid(
                    "sizeRequestedPerFileBytes",
                    format!("{n} must be an integer > 0"),
                ))
            }
        },
        Some(other) => {
            return Err(Error::invalid(
                "sizeRequestedPerFileBytes",
                format!("expected an integer > 0, got {other}"),
            ))
        }
    };

    let from = raw
        .log_collection_from_date
        .as_ref()
        .map(|v| parse_date("logCollectionFromDate", v))
        .transpose()?;
    let to = raw
        .log_collection_to_date
        .as_ref()
        .map(|v| parse_date("logCollectionToDate", v))
        .transpose()?;
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            return Err(Error::invalid(
                "logCollectionFromDate",
                format!("{f} is after logCollectionToDate {t}"),
            ));
        }
    }

    let level = match &raw.level {
        None => None,
        Some(s) => Some(Level::parse(s).ok_or_else(|| {
            Error::invalid(
                "level",
                format!("unknown level {s:?}; expected FATAL, ERROR, WARN, INFO or DEBUG"),
            )
        })?),
    };

    let include = raw.include.unwrap_or_default();
    let exclude = raw.exclude.unwrap_or_default();
    for (name, globs) in [("include", &include), ("exclude", &exclude)] {
        for (i, g) in globs.iter().enumerate() {
            if let Err(e) = archive_glob(g) {
                return Err(Error::invalid(format!("{name}[{i}]"), e.to_string()));
            }
        }
    }

    Ok(Request {
        resource_type: raw.resource_type,
        resource_name: raw.resource_name,
        log_types,
        size_requested_per_file_bytes,
        redacted: raw.redacted.unwrap_or(false),
        from,
        to,
        level,
        include,
        exclude,
        hosts,
    })
}

/// Compiles one `include`/`exclude` pattern. `*` stops at `/`; `**` crosses it.
pub(crate) fn archive_glob(pattern: &str) -> Result<globset::Glob, globset::Error> {
    globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
}

/// Every type that the request's hosts can provide.
fn default_log_types(hosts: &[Host]) -> Vec<LogType> {
    let mut types = Vec::new();
    if hosts.iter().any(|h| h.agent_log_dir.is_some()) {
        types.extend([
            LogType::AutomationAgent,
            LogType::MonitoringAgent,
            LogType::BackupAgent,
        ]);
    }
    if hosts.iter().any(|h| !h.processes.is_empty()) {
        types.push(LogType::Mongodb);
    }
    if hosts
        .iter()
        .flat_map(|h| &h.processes)
        .any(|p| p.ftdc_dir().is_some())
    {
        types.push(LogType::Ftdc);
    }
    if hosts.iter().any(|h| h.om_log_dir.is_some()) {
        types.extend([
            LogType::Application,
            LogType::HttpAccess,
            LogType::Migration,
            LogType::Daemon,
        ]);
    }
    types
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_path_that_names_a_directory_is_refused() {
        for path in ["logs/", "logs/..", "logs/.", "..", "."] {
            let json = format!(
                r#"{{"hosts":[{{"hostname":"h","processes":[{{"type":"mongod","port":1,"logPath":"{path}"}}]}}]}}"#
            );
            let err = Request::from_json(&json, Path::new("/base")).unwrap_err();
            assert!(err.to_string().contains("logPath"), "{path}: {err}");
        }
    }

    #[test]
    fn the_layout_table_has_one_row_per_type_in_order() {
        for t in LogType::ALL {
            assert_eq!(LogType::parse(t.as_str()), Some(t));
            let l = t.layout();
            assert_eq!(l.binary, t == LogType::Ftdc);
            assert_eq!(
                l.include.is_empty(),
                !(t.is_agent() || t.is_om_server()),
                "{t}"
            );
        }
    }

    fn parse(json: &str) -> Result<Request> {
        Request::from_json(json, Path::new("/base"))
    }

    fn field_of(json: &str) -> String {
        match parse(json).unwrap_err() {
            Error::InvalidRequest { field, .. } => field,
            other => panic!("expected InvalidRequest, got {other:?}"),
        }
    }

    const HOST: &str = r#"{"hostname":"h1","processes":[{"type":"mongod","port":27017,"logPath":"logs/mongod.log"}]}"#;

    #[test]
    fn minimal_request_resolves_paths_and_defaults() {
        let r = parse(&format!(r#"{{"hosts":[{HOST}]}}"#)).unwrap();
        assert_eq!(
            r.hosts[0].processes[0].log_path,
            Path::new("/base/logs/mongod.log")
        );
        assert_eq!(r.log_types, vec![LogType::Mongodb]);
        assert_eq!(r.archive_stem(), "logs_h1");
    }

    #[test]
    fn errors_name_their_field() {
        let h = HOST;
        assert_eq!(
            field_of(&format!(
                r#"{{"hosts":[{h}],"logTypes":["MONGODB","NOPE"]}}"#
            )),
            "logTypes[1]"
        );
        assert_eq!(
            field_of(&format!(
                r#"{{"hosts":[{h}],"sizeRequestedPerFileBytes":0}}"#
            )),
            "sizeRequestedPerFileBytes"
        );
        assert_eq!(
            field_of(&format!(
                r#"{{"hosts":[{h}],"sizeRequestedPerFileBytes":-5}}"#
            )),
            "sizeRequestedPerFileBytes"
        );
        assert_eq!(
            field_of(&format!(
                r#"{{"hosts":[{h}],"logCollectionFromDate":"2026-11-21T00:00:00Z","logCollectionToDate":1000}}"#
            )),
            "logCollectionFromDate"
        );
        assert_eq!(
            field_of(
                r#"{"hosts":[{"hostname":"h","processes":[{"type":"mongod","port":70000,"logPath":"x"}]}]}"#
            ),
            "hosts[0].processes[0].port"
        );
        assert_eq!(
            field_of(r#"{"hosts":[{"agentLogDir":"a"}]}"#),
            "hosts[0].hostname"
        );
        assert_eq!(
            field_of(r#"{"hosts":[{"hostname":"h","agentLogDir":"a","colour":1}]}"#),
            "hosts[0].colour"
        );
        assert_eq!(
            field_of(&format!(r#"{{"hosts":[{h}],"levle":"WARN"}}"#)),
            "levle"
        );
        assert_eq!(
            field_of(r#"{"hosts":[{"hostname":"../x","agentLogDir":"a"}]}"#),
            "hosts[0].hostname"
        );
    }

    #[test]
    fn unknown_field_message_names_it() {
        let err =
            parse(r#"{"hosts":[{"hostname":"h","agentLogDir":"a","colour":1}]}"#).unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }

    #[test]
    fn malformed_json_reports_line_and_column() {
        match parse("{\n  \"hosts\": [\n    {,\n]}").unwrap_err() {
            Error::MalformedJson { line, column, .. } => assert_eq!((line, column), (3, 6)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn dates_levels_and_om_only_name() {
        let json = r#"{"hosts":[{"hostname":"om","omLogDir":"/om"}],"logCollectionFromDate":1763683200,"logCollectionToDate":"2026-11-21T10:00:00+01:00","level":"warning"}"#;
        let r = parse(json).unwrap();
        assert_eq!(r.from.unwrap().as_second(), 1763683200);
        assert_eq!(r.to.unwrap().to_string(), "2026-11-21T09:00:00Z");
        assert_eq!(r.level, Some(Level::Warn));
        assert_eq!(r.archive_stem(), "om-logs");
        assert_eq!(r.log_types.len(), 4);
        // Epoch milliseconds, as Ops Manager's Go client sends them (int64).
        let json = r#"{"hosts":[{"hostname":"om","omLogDir":"/om"}],"logCollectionFromDate":1763683200123,"logCollectionToDate":99999999999}"#;
        let r = parse(json).unwrap();
        assert_eq!(r.from.unwrap().as_millisecond(), 1_763_683_200_123);
        assert_eq!(r.to.unwrap().as_second(), 99_999_999_999);
    }

    #[test]
    fn mongos_ftdc_dir_drops_the_extension() {
        let r = parse(r#"{"hosts":[{"hostname":"h","processes":[{"type":"mongos","port":1,"logPath":"/l/mongos.log"}]}]}"#).unwrap();
        assert_eq!(
            r.hosts[0].processes[0].ftdc_dir().unwrap(),
            Path::new("/l/mongos.diagnostic.data")
        );
        assert_eq!(r.log_types, vec![LogType::Mongodb, LogType::Ftdc]);
    }
}
