//! One running mongod or mongos: its settings from the command line, its
//! config file and mongod's defaults, made into a request process.

use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::config::{
    self, Settings, AUDIT_DESTINATION, AUDIT_PATH, CLUSTER_ROLE, DB_PATH, LOG_DESTINATION,
    LOG_PATH, PORT, REPL_SET,
};
use crate::proc::{Proc, ReadError};
use crate::{FoundProcess, Kind};

/// A config file larger than this is not one (mongod's own are a few KiB).
const MAX_CONFIG: u64 = 4 << 20;

/// What is known of the process before its settings are read.
pub(crate) struct Seen<'a> {
    pub proc: &'a Proc,
    pub kind: Kind,
    pub args: &'a [OsString],
    pub owner: String,
    /// Set when the process lives in another mount namespace (a
    /// container): its config file is read through `PROC/<pid>/root`.
    pub other_namespace: bool,
    /// Where `/etc` is (`Roots::etc_root`).
    pub etc_root: &'a Path,
}

/// Why a process is not in the request; the text completes
/// "pid N (mongod, user U): ...".
pub(crate) struct Skip(pub String);

/// Resolves one process. `Err` says why it is skipped; the warnings are
/// worth telling but did not stop it.
pub(crate) fn resolve(seen: &Seen<'_>, warnings: &mut Vec<String>) -> Result<FoundProcess, Skip> {
    let cl = config::command_line(seen.args.get(1..).unwrap_or_default()).map_err(Skip)?;
    let mut cwd_cache: Option<Result<PathBuf, String>> = None;
    let mut cwd = || -> Result<PathBuf, String> {
        cwd_cache
            .get_or_insert_with(|| {
                seen.proc.cwd().map_err(|e| match e {
                    ReadError::Denied => format!(
                        "its working directory cannot be read (permission denied: the process \
                     belongs to {}; run discover as root or as that user)",
                        seen.owner
                    ),
                    other => format!("its working directory cannot be read ({other})"),
                })
            })
            .clone()
    };

    let mut settings = Settings::new();
    let mut config_path = None;
    let mut legacy_config = false;
    if let Some(file) = &cl.config {
        let path = absolute(file, &mut cwd)
            .map_err(|e| Skip(format!("config file {file:?} is relative and {e}")))?;
        let shown = path.clone();
        let text = read_config(seen, Path::new(&path))
            .map_err(|e| Skip(format!("config file {shown}: {e}")))?;
        let parsed = config::parse(&text).map_err(|e| Skip(format!("config file {shown} {e}")))?;
        for w in parsed.warnings {
            warnings.push(format!("config file {shown}: {w}"));
        }
        settings = parsed.settings;
        legacy_config = parsed.format == config::Format::Legacy;
        config_path = Some(shown);
    }
    // The command line overrides the file.
    for (k, v) in cl.settings {
        if k == LOG_DESTINATION && v == "syslog" {
            settings.remove(LOG_PATH);
        }
        settings.insert(k, v);
    }

    let role = settings.get(CLUSTER_ROLE).map(String::as_str);
    let port = match settings.get(PORT) {
        Some(p) => match p.trim().parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => return Err(Skip(format!("{PORT} {p:?} is not a port number"))),
        },
        // mongod's defaults: 27018 for a shard, 27019 for a config server.
        None => match (seen.kind, role) {
            (Kind::Mongod, Some("shardsvr")) => 27018,
            (Kind::Mongod, Some("configsvr")) => 27019,
            _ => 27017,
        },
    };

    let log_path = match (
        settings.get(LOG_DESTINATION).map(String::as_str),
        settings.get(LOG_PATH),
    ) {
        (Some("syslog"), _) => {
            return Err(Skip(
                "logs to syslog, not to a file: its log is not collected".to_string(),
            ))
        }
        (_, Some(p)) if !p.is_empty() => p.clone(),
        (Some("file"), _) => {
            return Err(Skip(format!(
                "{LOG_DESTINATION} is file but no {LOG_PATH} is set: its log is not collected"
            )))
        }
        _ => {
            return Err(Skip(
                "logs to stdout (no --logpath or systemLog.path): its log is not collected"
                    .to_string(),
            ))
        }
    };
    if log_path.ends_with('/') {
        return Err(Skip(format!("log path {log_path:?} names a directory")));
    }
    let log_path = absolute(&log_path, &mut cwd)
        .map_err(|e| Skip(format!("log path {log_path:?} is relative and {e}")))?;

    let mut found = FoundProcess {
        pid: seen.proc.pid,
        kind: seen.kind,
        owner: seen.owner.clone(),
        exe: seen
            .args
            .first()
            .map(|a| a.to_string_lossy().into_owned())
            .unwrap_or_default(),
        port,
        log_path,
        db_path: None,
        replica_set: None,
        audit_log_path: None,
        config: config_path,
        legacy_config,
    };

    if seen.kind == Kind::Mongod {
        // mongod's defaults: /data/configdb for a config server, else /data/db.
        let db = settings.get(DB_PATH).cloned().unwrap_or_else(|| {
            if role == Some("configsvr") {
                "/data/configdb"
            } else {
                "/data/db"
            }
            .to_string()
        });
        match absolute(&db, &mut cwd) {
            Ok(p) => found.db_path = Some(p),
            Err(e) => warnings.push(format!(
                "dbPath {db:?} is relative and {e}: its FTDC data is not collected"
            )),
        }
        if let Some(rs) = settings.get(REPL_SET) {
            // The old seed-list form `name/host1,host2` names the set first.
            let name = rs.split('/').next().unwrap_or_default().trim();
            if !name.is_empty() {
                found.replica_set = Some(name.to_string());
            }
        }
    }

    if let Some(audit) = settings.get(AUDIT_PATH) {
        match settings.get(AUDIT_DESTINATION).map(String::as_str) {
            None | Some("file") => match absolute(audit, &mut cwd) {
                Ok(p) => found.audit_log_path = Some(p),
                Err(e) => warnings.push(format!("audit log path {audit:?} is relative and {e}")),
            },
            Some(_) => {}
        }
    }
    Ok(found)
}

/// `path` made absolute against the process's working directory, and
/// lexically cleaned (`a/./b` → `a/b`; `..` is kept, as symlinks make it
/// mean something only the file system knows). The request is JSON: a
/// working directory that is not UTF-8 cannot be written in it.
fn absolute(
    path: &str,
    cwd: &mut impl FnMut() -> Result<PathBuf, String>,
) -> Result<String, String> {
    let p = Path::new(path);
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd()?.join(p)
    };
    let clean: PathBuf = joined.components().collect();
    clean
        .into_os_string()
        .into_string()
        .map_err(|_| "its working directory is not UTF-8 text".to_string())
}

fn read_config(seen: &Seen<'_>, path: &Path) -> Result<String, String> {
    let real = if seen.other_namespace {
        // The file as the containerised process sees it.
        seen.proc
            .root_dir()
            .join(path.strip_prefix("/").unwrap_or(path))
    } else {
        crate::under_etc(seen.etc_root, path)
    };
    let at = if real != path {
        format!(" (read at {})", real.display())
    } else {
        String::new()
    };
    read_file(seen, &real).map_err(|e| format!("{e}{at}"))
}

fn read_file(seen: &Seen<'_>, real: &Path) -> Result<String, String> {
    let file = fs::File::open(real).map_err(|e| match e.kind() {
        std::io::ErrorKind::PermissionDenied => {
            let owner = owner_of(real);
            format!(
                "permission denied{owner}; run discover as root or as the process's user ({})",
                seen.owner
            )
        }
        std::io::ErrorKind::NotFound => "not found".to_string(),
        _ => e.to_string(),
    })?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err("is a directory".to_string());
    }
    let mut raw = Vec::new();
    file.take(MAX_CONFIG + 1)
        .read_to_end(&mut raw)
        .map_err(|e| e.to_string())?;
    if raw.len() as u64 > MAX_CONFIG {
        return Err(format!(
            "larger than {} MiB: not a config file",
            MAX_CONFIG >> 20
        ));
    }
    String::from_utf8(raw).map_err(|e| {
        format!(
            "is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

fn owner_of(path: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(path)
        .map(|m| format!(" (owner uid {}, mode {:o})", m.uid(), m.mode() & 0o7777))
        .unwrap_or_default()
}
