//! mongod and mongos settings: the command line, the `--config` file (YAML,
//! or the legacy `key = value` form that older packages still install) and
//! mongod's defaults.
//!
//! Everything is brought to mongod's own YAML names (`systemLog.path`,
//! `net.port`, ...), so that the three sources layer simply: defaults, then
//! the config file, then the command line, which mongod lets override the
//! file.

use std::collections::BTreeMap;
use std::ffi::OsString;

use saphyr::{ScalarStyle, Yaml, YamlLoader};
use saphyr_parser::Parser;

/// `systemLog.path`
pub(crate) const LOG_PATH: &str = "systemLog.path";
/// `systemLog.destination`: `file` or `syslog`; absent means stdout.
pub(crate) const LOG_DESTINATION: &str = "systemLog.destination";
/// `net.port`
pub(crate) const PORT: &str = "net.port";
/// `storage.dbPath`
pub(crate) const DB_PATH: &str = "storage.dbPath";
/// `replication.replSetName`
pub(crate) const REPL_SET: &str = "replication.replSetName";
/// `sharding.clusterRole`: `shardsvr` or `configsvr`.
pub(crate) const CLUSTER_ROLE: &str = "sharding.clusterRole";
/// `auditLog.path`
pub(crate) const AUDIT_PATH: &str = "auditLog.path";
/// `auditLog.destination`: `file`, `syslog` or `console`.
pub(crate) const AUDIT_DESTINATION: &str = "auditLog.destination";

/// The settings discovery reads, in the order a note lists them.
pub(crate) const WANTED: [&str; 8] = [
    LOG_PATH,
    LOG_DESTINATION,
    PORT,
    DB_PATH,
    REPL_SET,
    CLUSTER_ROLE,
    AUDIT_PATH,
    AUDIT_DESTINATION,
];

/// Settings by their YAML name, values as written.
pub(crate) type Settings = BTreeMap<String, String>;

/// What a command-line option (or a legacy config key, which has the same
/// name) does.
enum Effect {
    /// Takes a value, stored under this YAML name.
    Value(&'static str),
    /// A switch that sets this YAML name to this value.
    Switch(&'static str, &'static str),
    /// `--config`/`-f`: the config file.
    Config,
}

/// The options that matter here. mongod's parser (boost program_options
/// without guessing) takes exact, case-sensitive names.
const OPTIONS: [(&str, Effect); 12] = [
    ("port", Effect::Value(PORT)),
    ("dbpath", Effect::Value(DB_PATH)),
    ("logpath", Effect::Value(LOG_PATH)),
    ("syslog", Effect::Switch(LOG_DESTINATION, "syslog")),
    ("replSet", Effect::Value(REPL_SET)),
    ("shardsvr", Effect::Switch(CLUSTER_ROLE, "shardsvr")),
    ("configsvr", Effect::Switch(CLUSTER_ROLE, "configsvr")),
    ("auditPath", Effect::Value(AUDIT_PATH)),
    ("auditDestination", Effect::Value(AUDIT_DESTINATION)),
    ("fork", Effect::Switch("processManagement.fork", "true")),
    ("config", Effect::Config),
    ("f", Effect::Config),
];

fn option(name: &str) -> Option<&'static Effect> {
    OPTIONS.iter().find(|(n, _)| *n == name).map(|(_, e)| e)
}

/// Stores one option's value. `--logpath` (and a legacy `logpath =`) means
/// a log file, whatever the config file said.
fn set(settings: &mut Settings, key: &str, value: String) {
    if key == LOG_PATH {
        settings.insert(LOG_DESTINATION.to_string(), "file".to_string());
    }
    if key == LOG_DESTINATION && value == "syslog" {
        settings.remove(LOG_PATH);
    }
    settings.insert(key.to_string(), value);
}

/// A mongod or mongos command line, read.
#[derive(Debug, Default)]
pub(crate) struct CommandLine {
    /// The settings it gives.
    pub settings: Settings,
    /// `--config FILE` / `-f FILE`, as given (relative to the process's
    /// working directory when relative).
    pub config: Option<String>,
}

/// Reads the arguments after argv[0]: `--opt value`, `--opt=value`, `-f
/// FILE`, `-fFILE`. Options this does not know are skipped with their value
/// (mongod takes no positional arguments, so a word after an unknown
/// option is its value). A value that is not UTF-8 cannot go into the JSON
/// request: that is an error naming the option.
pub(crate) fn command_line(args: &[OsString]) -> Result<CommandLine, String> {
    let mut out = CommandLine::default();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_encoded_bytes();
        i += 1;
        let (name, inline): (&[u8], Option<&[u8]>) = if let Some(long) = arg.strip_prefix(b"--") {
            match long.iter().position(|&b| b == b'=') {
                Some(eq) => (&long[..eq], Some(&long[eq + 1..])),
                None => (long, None),
            }
        } else if let Some(short) = arg.strip_prefix(b"-") {
            // Short options: only `-f` matters; `-fFILE` is allowed.
            match short.split_first() {
                Some((b'f', rest)) if !rest.is_empty() => (b"f", Some(rest)),
                _ => (short, None),
            }
        } else {
            continue;
        };
        let name = String::from_utf8_lossy(name);
        let Some(effect) = option(&name) else {
            // Unknown: skip its value, if the next word is one.
            if inline.is_none()
                && args
                    .get(i)
                    .is_some_and(|next| !next.as_encoded_bytes().starts_with(b"-"))
            {
                i += 1;
            }
            continue;
        };
        let value = |i: &mut usize| -> Result<String, String> {
            let raw: &[u8] = match inline {
                Some(v) => v,
                None => {
                    let v = args
                        .get(*i)
                        .ok_or_else(|| format!("--{name} has no value"))?;
                    *i += 1;
                    v.as_encoded_bytes()
                }
            };
            String::from_utf8(raw.to_vec())
                .map_err(|_| format!("the value of --{name} is not UTF-8 text"))
        };
        match effect {
            Effect::Value(key) => {
                let v = value(&mut i)?;
                set(&mut out.settings, key, v);
            }
            Effect::Switch(key, v) => set(&mut out.settings, key, (*v).to_string()),
            Effect::Config => out.config = Some(value(&mut i)?),
        }
    }
    Ok(out)
}

/// The form a config file was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// YAML (mongod 2.6 and later).
    Yaml,
    /// `key = value` lines with the command-line option names.
    Legacy,
}

/// A config file, read.
#[derive(Debug)]
pub(crate) struct ConfigFile {
    pub format: Format,
    pub settings: Settings,
    /// Things worth telling that did not stop the read.
    pub warnings: Vec<String>,
}

/// Nesting deeper than this is not a mongod config file.
const MAX_DEPTH: usize = 64;
/// Alias expansion budget (a "billion laughs" file stops here).
const ALIAS_LIMIT: usize = 10_000;

/// Reads a config file's text. mongod decides the same way: a YAML
/// document whose root is a mapping is YAML; anything the YAML parser
/// reads as one plain scalar, or cannot read, is tried as the legacy
/// `key = value` form. An error says why the file is neither.
pub(crate) fn parse(text: &str) -> Result<ConfigFile, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut warnings = Vec::new();
    let yaml = match load_yaml(text, false) {
        Err(e) if e.contains("duplicated key") => {
            let doc = load_yaml(text, true)?;
            warnings.push(format!("{e}; the last value of the key was used"));
            Ok(doc)
        }
        other => other,
    };
    match yaml {
        Ok(None) => Ok(ConfigFile {
            format: Format::Yaml,
            settings: Settings::new(),
            warnings,
        }),
        Ok(Some(doc @ Yaml::Mapping(_))) => {
            let mut settings = Settings::new();
            flatten(&doc, "", 0, &mut settings);
            // `replication.replSet` is the older name mongod still takes.
            if !settings.contains_key(REPL_SET) {
                if let Some(v) = settings.get("replication.replSet").cloned() {
                    settings.insert(REPL_SET.to_string(), v);
                }
            }
            for key in WANTED {
                let prefix = format!("{key}.");
                if !settings.contains_key(key) && settings.keys().any(|k| k.starts_with(&prefix)) {
                    warnings.push(format!(
                        "{key} is not a plain value (an __exec or __rest expansion?): not evaluated"
                    ));
                }
            }
            Ok(ConfigFile {
                format: Format::Yaml,
                settings,
                warnings,
            })
        }
        Ok(Some(_)) => legacy(text, warnings)
            .ok_or_else(|| "is neither a YAML mapping nor `key = value` lines".to_string()),
        Err(e) => legacy(text, warnings).ok_or_else(|| format!("is not valid YAML: {e}")),
    }
}

/// The first document's root, scalars left as written; `None` for an
/// empty file (only comments, or nothing), which mongod accepts.
fn load_yaml(text: &str, allow_duplicates: bool) -> Result<Option<Yaml<'_>>, String> {
    let mut parser = Parser::new_from_str(text);
    let mut loader = YamlLoader::<Yaml>::default();
    loader.early_parse(false);
    loader.alias_limit(ALIAS_LIMIT);
    loader.allow_duplicate_keys(allow_duplicates);
    let describe = |e: &saphyr::ScanError| {
        let m = e.marker();
        format!("{} at line {}, column {}", e.info(), m.line(), m.col() + 1)
    };
    parser.load(&mut loader, false).map_err(|e| describe(&e))?;
    if let Some(e) = loader.error() {
        return Err(describe(e));
    }
    Ok(loader
        .into_documents()
        .into_iter()
        .next()
        .filter(|d| !is_null(d)))
}

fn is_null(node: &Yaml<'_>) -> bool {
    match node {
        Yaml::Representation(v, ScalarStyle::Plain, None) => {
            matches!(v.as_ref(), "" | "~" | "null" | "Null" | "NULL")
        }
        Yaml::Value(saphyr::Scalar::Null) => true,
        _ => false,
    }
}

/// A scalar's text as written (quotes removed), if `node` is a scalar.
fn scalar(node: &Yaml<'_>) -> Option<String> {
    match node {
        Yaml::Representation(v, _, _) => Some(v.to_string()),
        Yaml::Value(s) => Some(match s {
            saphyr::Scalar::Null => return None,
            saphyr::Scalar::Boolean(b) => b.to_string(),
            saphyr::Scalar::Integer(i) => i.to_string(),
            saphyr::Scalar::FloatingPoint(f) => f.to_string(),
            saphyr::Scalar::String(s) => s.to_string(),
        }),
        Yaml::Tagged(_, inner) => scalar(inner),
        _ => None,
    }
}

/// `{systemLog: {path: x}}` → `systemLog.path = x`. mongod also takes the
/// dotted form as a key (`systemLog.path: x`): joining gives the same name.
fn flatten(node: &Yaml<'_>, prefix: &str, depth: usize, out: &mut Settings) {
    if depth > MAX_DEPTH {
        return;
    }
    match node {
        Yaml::Mapping(map) => {
            for (k, v) in map {
                let Some(k) = scalar(k) else { continue };
                let key = if prefix.is_empty() {
                    k
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(v, &key, depth + 1, out);
            }
        }
        Yaml::Tagged(_, inner) => flatten(inner, prefix, depth, out),
        other => {
            if !is_null(other) {
                if let Some(v) = scalar(other) {
                    out.insert(prefix.to_string(), v);
                }
            }
        }
    }
}

/// The legacy form: `name = value` lines with the command-line option
/// names, `#` starting a comment (anywhere on the line, as boost reads
/// it), `[section]` lines ignored. `None` when a line is none of these or
/// no line sets anything.
fn legacy(text: &str, warnings: Vec<String>) -> Option<ConfigFile> {
    let mut settings = Settings::new();
    let mut pairs = 0;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() || (line.starts_with('[') && line.ends_with(']')) {
            continue;
        }
        let (name, value) = line.split_once('=')?;
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() || name.contains(char::is_whitespace) {
            return None;
        }
        pairs += 1;
        match option(name) {
            Some(Effect::Value(key)) => set(&mut settings, key, value.to_string()),
            Some(Effect::Switch(key, v)) => {
                if !matches!(value, "false" | "0" | "no" | "off") {
                    set(&mut settings, key, (*v).to_string());
                }
            }
            // A config file naming another is not something mongod follows.
            Some(Effect::Config) | None => {}
        }
    }
    (pairs > 0).then_some(ConfigFile {
        format: Format::Legacy,
        settings,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn command_line_forms() {
        let cl = command_line(&args(&[
            "--port=27018",
            "--bind_ip",
            "0.0.0.0",
            "--dbpath",
            "/d",
            "-f/etc/x.conf",
            "--replSet",
            "rs0",
            "-vvv",
            "--shardsvr",
            "--logpath",
            "/l/m.log",
        ]))
        .unwrap();
        assert_eq!(cl.settings[PORT], "27018");
        assert_eq!(cl.settings[DB_PATH], "/d");
        assert_eq!(cl.settings[REPL_SET], "rs0");
        assert_eq!(cl.settings[CLUSTER_ROLE], "shardsvr");
        assert_eq!(cl.settings[LOG_PATH], "/l/m.log");
        assert_eq!(cl.settings[LOG_DESTINATION], "file");
        assert_eq!(cl.config.as_deref(), Some("/etc/x.conf"));

        let cl = command_line(&args(&["--config", "m.yaml", "--syslog"])).unwrap();
        assert_eq!(cl.config.as_deref(), Some("m.yaml"));
        assert_eq!(cl.settings[LOG_DESTINATION], "syslog");
        assert!(command_line(&args(&["--port"])).is_err());
    }

    #[test]
    fn yaml_keeps_scalars_as_written() {
        let c = parse(
            "systemLog:\n  destination: file\n  path: \"/var/log/mongodb/mongod.log\"\n\
             net: {port: 0123}\nreplication:\n  replSetName: 007\n",
        )
        .unwrap();
        assert_eq!(c.format, Format::Yaml);
        assert_eq!(c.settings[PORT], "0123");
        assert_eq!(c.settings[REPL_SET], "007");
        assert_eq!(c.settings[LOG_PATH], "/var/log/mongodb/mongod.log");
    }

    #[test]
    fn dotted_keys_and_old_names() {
        let c = parse("systemLog.path: /a/b.log\nreplication.replSet: rs1\n").unwrap();
        assert_eq!(c.settings[LOG_PATH], "/a/b.log");
        assert_eq!(c.settings[REPL_SET], "rs1");
    }

    #[test]
    fn legacy_form() {
        // The shape of Debian's /etc/mongodb.conf.
        let c = parse(
            "# mongodb.conf\n\ndbpath=/var/lib/mongodb\n\n#where to log\n\
             logpath=/var/log/mongodb/mongodb.log\n\nlogappend=true\n\nbind_ip = 127.0.0.1\n\
             #port = 27017\nfork = false\nshardsvr = true\n",
        )
        .unwrap();
        assert_eq!(c.format, Format::Legacy);
        assert_eq!(c.settings[DB_PATH], "/var/lib/mongodb");
        assert_eq!(c.settings[LOG_PATH], "/var/log/mongodb/mongodb.log");
        assert_eq!(c.settings[CLUSTER_ROLE], "shardsvr");
        assert!(!c.settings.contains_key(PORT));
        assert!(!c.settings.contains_key("processManagement.fork"));
    }

    #[test]
    fn not_a_config() {
        let e = parse("systemLog: [path: x\n").unwrap_err();
        assert!(e.contains("not valid YAML"), "{e}");
        assert!(e.contains("line"), "{e}");
        assert!(parse("just some words\n").is_err());
        assert!(parse("").unwrap().settings.is_empty());
        assert!(parse("# nothing\n").unwrap().settings.is_empty());
    }

    #[test]
    fn duplicate_keys_and_expansions_warn() {
        let c = parse("net:\n  port: 1\n  port: 2\n").unwrap();
        assert_eq!(c.settings[PORT], "2");
        assert_eq!(c.warnings.len(), 1);
        let c =
            parse("systemLog:\n  destination: file\n  path:\n    __exec: \"echo x\"\n").unwrap();
        assert!(!c.settings.contains_key(LOG_PATH));
        assert!(c.warnings[0].contains("__exec"), "{:?}", c.warnings);
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..8 {
            let prev = (b'a' + i) as char;
            let next = (b'a' + i + 1) as char;
            bomb.push_str(&format!(
                "{next}: &{next} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        assert!(parse(&bomb).is_err());
    }
}
