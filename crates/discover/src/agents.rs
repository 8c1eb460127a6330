//! The Ops Manager / Cloud Manager agents (automation, and the legacy
//! stand-alone monitoring and backup agents) and the Ops Manager server:
//! where they log.
//!
//! The agents' config files are `key=value` lines (`logFile=/var/log/...`)
//! at `/etc/mongodb-mms/<kind>-agent.config` when installed from a package;
//! a running agent may name another with `-f`/`-config`, or its log file
//! with `-logFile` (Go flags: one or two dashes, `-name value` or
//! `-name=value`), as container images do.

use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::path::Path;

/// One of the agents whose logs go under `agentLogDir`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AgentKind {
    /// The automation agent (since Ops Manager 4.4 the single "MongoDB
    /// Agent" that also runs monitoring and backup).
    Automation,
    /// The legacy stand-alone monitoring agent.
    Monitoring,
    /// The legacy stand-alone backup agent.
    Backup,
}

impl AgentKind {
    /// Every kind, the automation agent first.
    pub const ALL: [AgentKind; 3] = [
        AgentKind::Automation,
        AgentKind::Monitoring,
        AgentKind::Backup,
    ];

    /// `automation`, `monitoring` or `backup`.
    pub fn name(self) -> &'static str {
        match self {
            AgentKind::Automation => "automation",
            AgentKind::Monitoring => "monitoring",
            AgentKind::Backup => "backup",
        }
    }

    /// The executables' names.
    fn executables(self) -> &'static [&'static str] {
        match self {
            // `mongodb-agent` is the name in the Kubernetes images.
            AgentKind::Automation => &["mongodb-mms-automation-agent", "mongodb-agent"],
            AgentKind::Monitoring => &["mongodb-mms-monitoring-agent"],
            AgentKind::Backup => &["mongodb-mms-backup-agent"],
        }
    }

    /// The package's config file name under `ETC/mongodb-mms`.
    pub fn config_name(self) -> &'static str {
        match self {
            AgentKind::Automation => "automation-agent.config",
            AgentKind::Monitoring => "monitoring-agent.config",
            AgentKind::Backup => "backup-agent.config",
        }
    }

    /// The start of the log file names that `collect` takes from
    /// `agentLogDir` for this kind (PRODUCT.md §2: `automation-agent*.log*`).
    pub fn file_prefix(self) -> &'static str {
        match self {
            AgentKind::Automation => "automation-agent",
            AgentKind::Monitoring => "monitoring-agent",
            AgentKind::Backup => "backup-agent",
        }
    }

    /// The kind of a process, by its `comm` (cut to 15 bytes by the kernel)
    /// or the last component of its argv[0].
    pub(crate) fn of_process(comm: &str, arg0: &str) -> Option<AgentKind> {
        AgentKind::ALL.into_iter().find(|k| {
            k.executables()
                .iter()
                .any(|exe| arg0 == *exe || comm == &exe[..exe.len().min(15)])
        })
    }

    /// Whether `collect` will find a log file of this name in agentLogDir.
    pub(crate) fn collects(self, file_name: &str) -> bool {
        file_name
            .strip_prefix(self.file_prefix())
            .is_some_and(|rest| rest.contains(".log"))
    }
}

/// What a running agent's command line says.
#[derive(Debug, Default)]
pub(crate) struct AgentArgs {
    pub log_file: Option<String>,
    pub config: Option<String>,
}

/// Reads `-logFile X` and `-f X`/`-config X` from a Go agent's arguments.
pub(crate) fn agent_args(args: &[OsString]) -> Result<AgentArgs, String> {
    let mut out = AgentArgs::default();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_encoded_bytes();
        i += 1;
        let Some(flag) = arg.strip_prefix(b"--").or_else(|| arg.strip_prefix(b"-")) else {
            continue;
        };
        let (name, inline) = match flag.iter().position(|&b| b == b'=') {
            Some(eq) => (&flag[..eq], Some(&flag[eq + 1..])),
            None => (flag, None),
        };
        let slot = match name {
            b"logFile" => &mut out.log_file,
            b"f" | b"config" => &mut out.config,
            _ => continue,
        };
        let raw = match inline {
            Some(v) => v,
            None => {
                let Some(v) = args.get(i) else { break };
                i += 1;
                v.as_encoded_bytes()
            }
        };
        *slot = Some(String::from_utf8(raw.to_vec()).map_err(|_| {
            format!(
                "the value of -{} is not UTF-8 text",
                String::from_utf8_lossy(name)
            )
        })?);
    }
    Ok(out)
}

/// An agent config file's `logFile`, `None` when it has none. The file
/// holds the agent's API key: nothing of it but `logFile` is ever shown.
pub(crate) fn config_log_file(path: &Path) -> Result<Option<String>, String> {
    let file = fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::PermissionDenied => {
            "permission denied; run discover as root or as the agent's user".to_string()
        }
        std::io::ErrorKind::NotFound => "not found".to_string(),
        _ => e.to_string(),
    })?;
    let mut raw = Vec::new();
    file.take(1 << 20)
        .read_to_end(&mut raw)
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&raw);
    let mut found = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            if k.trim() == "logFile" {
                let v = v.trim();
                if v.contains('\u{fffd}') {
                    return Err("its logFile is not UTF-8 text".to_string());
                }
                // The last setting wins, as in a properties file.
                found = (!v.is_empty()).then(|| v.to_string());
            }
        }
    }
    Ok(found)
}

/// The Ops Manager server's log directory from a running Ops Manager JVM:
/// its command line carries `-Dlog_path=<dir>/mms0` (the application) or
/// `<dir>/daemon` (the backup daemon), the prefix of its log files.
pub(crate) fn om_log_dir_of_process(arg0: &str, args: &[OsString]) -> Option<String> {
    let is_om = matches!(arg0, "mms-app" | "mms-backup-daemon")
        || (arg0 == "java"
            && args.iter().any(|a| {
                let a = a.to_string_lossy();
                a.contains("/mongodb/mms") || a.contains("com.xgen.")
            }));
    if !is_om {
        return None;
    }
    args.iter().find_map(|a| {
        let v = a.to_str()?.strip_prefix("-Dlog_path=")?;
        let parent = Path::new(v).parent()?.to_str()?;
        (Path::new(parent).is_absolute()).then(|| parent.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_name() {
        assert_eq!(
            AgentKind::of_process("mongodb-mms-aut", "x"),
            Some(AgentKind::Automation)
        );
        assert_eq!(
            AgentKind::of_process("x", "mongodb-mms-backup-agent"),
            Some(AgentKind::Backup)
        );
        assert_eq!(
            AgentKind::of_process("mongodb-agent", "mongodb-agent"),
            Some(AgentKind::Automation)
        );
        assert_eq!(AgentKind::of_process("mongod", "mongod"), None);
    }

    #[test]
    fn file_names_match_collect() {
        // The prefixes must agree with logpack's own table.
        for (kind, t) in [
            (AgentKind::Automation, logpack::LogType::AutomationAgent),
            (AgentKind::Monitoring, logpack::LogType::MonitoringAgent),
            (AgentKind::Backup, logpack::LogType::BackupAgent),
        ] {
            let include = t.layout().include;
            assert!(
                include.starts_with(kind.file_prefix()),
                "{include} vs {}",
                kind.file_prefix()
            );
        }
        assert!(AgentKind::Automation.collects("automation-agent.log"));
        assert!(AgentKind::Automation.collects("automation-agent-verbose.log.2026-01-01"));
        assert!(!AgentKind::Automation.collects("agent.log"));
    }

    #[test]
    fn go_flags() {
        let a: Vec<OsString> = [
            "-mmsGroupId",
            "x",
            "--logFile=/l/automation-agent.log",
            "-f",
            "/c",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        let parsed = agent_args(&a).unwrap();
        assert_eq!(parsed.log_file.as_deref(), Some("/l/automation-agent.log"));
        assert_eq!(parsed.config.as_deref(), Some("/c"));
    }
}
