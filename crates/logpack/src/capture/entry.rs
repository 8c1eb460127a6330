//! Entries normalized to dotnet-monitor's `LogEntry` (PRODUCT.md §10),
//! whatever the source format, and written as ndjson, JSON text
//! sequences, plain text or server-sent events.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::request::Level;
use crate::select::parse::{EntryStart, LineFormat};

/// One entry, as a capture emits it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LogEntry {
    /// RFC 3339, UTC, milliseconds; empty when the entry has no time.
    pub timestamp: String,
    /// `Trace`, `Debug`, `Information`, `Warning`, `Error` or `Critical`.
    pub log_level: &'static str,
    /// mongod's `id`, else 0.
    pub event_id: i64,
    /// mongod's component `c`, the agent's module, ….
    pub category: String,
    /// The message.
    pub message: String,
    /// logv2 `attr`, else `{}`.
    pub state: Value,
    /// The host, as the request names it (or its token).
    pub host: String,
    /// The child's archive path, e.g. `db1/rs0/27017`.
    pub component: String,
    /// The file's name.
    pub file: String,
    /// The entry's original text, its lines joined with `\n`.
    pub raw: String,
}

/// dotnet-monitor's level names.
pub fn level_name(level: Option<Level>) -> &'static str {
    match level {
        Some(Level::Fatal) => "Critical",
        Some(Level::Error) => "Error",
        Some(Level::Warn) => "Warning",
        Some(Level::Info) | None => "Information",
        Some(Level::Debug) => "Debug",
    }
}

/// dotnet-monitor's short level tags, for plain text.
fn level_tag(name: &str) -> &'static str {
    match name {
        "Critical" => "crit",
        "Error" => "fail",
        "Warning" => "warn",
        "Debug" => "dbug",
        "Trace" => "trce",
        _ => "info",
    }
}

/// The fields of an entry's first line: category, event id, message and
/// state, read from the formats that carry them.
pub fn details(first: &str, start: Option<&EntryStart>) -> (String, i64, String, Value) {
    let empty = || Value::Object(Map::new());
    match start.map(|s| s.format) {
        Some(LineFormat::LogV2) | Some(LineFormat::Mongot) => {
            // The fields wanted, typed: the others are skipped, not built.
            #[derive(serde::Deserialize)]
            struct Fields {
                #[serde(default)]
                c: String,
                #[serde(default)]
                id: i64,
                #[serde(default)]
                msg: String,
                attr: Option<Value>,
            }
            if let Ok(f) = serde_json::from_str::<Fields>(first) {
                return (f.c, f.id, f.msg, f.attr.unwrap_or_else(empty));
            }
            (String::new(), 0, first.to_string(), empty())
        }
        Some(LineFormat::LegacyIso) | Some(LineFormat::LegacyCtime) => {
            // `<time> <S> <COMPONENT> [<ctx>] <message>`; 2.x lines have no
            // severity or component.
            let rest = after_words(first, 1);
            let mut words = rest.splitn(3, ' ');
            let (a, b) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
            let severity = a.len() <= 2
                && a.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
            if severity && b.chars().all(|c| c.is_ascii_uppercase() || c == '-') && !b.is_empty() {
                let message = words.next().unwrap_or("");
                (
                    b.to_string(),
                    0,
                    strip_context(message).to_string(),
                    empty(),
                )
            } else {
                (String::new(), 0, strip_context(rest).to_string(), empty())
            }
        }
        Some(LineFormat::AgentIso) | Some(LineFormat::AgentSlash) => {
            // `[time] [module.level] [where] message`: the module is the category.
            let mut rest = first;
            let mut brackets = Vec::new();
            while let Some(r) = rest.trim_start().strip_prefix('[') {
                let Some(end) = r.find(']') else { break };
                brackets.push(&r[..end]);
                rest = &r[end + 1..];
            }
            let category = brackets
                .get(1)
                .map(|m| m.rsplit_once('.').map_or(*m, |(module, _)| module))
                .unwrap_or("")
                .to_string();
            (category, 0, rest.trim().to_string(), empty())
        }
        _ => (String::new(), 0, first.to_string(), empty()),
    }
}

/// What follows the first `n` space-separated words.
fn after_words(s: &str, n: usize) -> &str {
    s.splitn(n + 1, ' ').nth(n).unwrap_or("")
}

/// A message without its leading `[context]`.
fn strip_context(s: &str) -> &str {
    let s = s.trim_start();
    match s
        .strip_prefix('[')
        .and_then(|r| r.find(']').map(|e| &r[e + 1..]))
    {
        Some(rest) => rest.trim_start(),
        None => s,
    }
}

/// The output framings of PRODUCT.md §10.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFormat {
    /// `application/x-ndjson`: one JSON object per line.
    Ndjson,
    /// `application/json-seq` (RFC 7464): each record `0x1E` JSON `\n`.
    JsonSeq,
    /// `text/plain`: one line per entry with dotnet-monitor's level tags.
    Text,
    /// `text/event-stream`: an event per entry.
    Sse,
}

impl std::str::FromStr for CaptureFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ndjson" | "application/x-ndjson" => Ok(CaptureFormat::Ndjson),
            "json-seq" | "application/json-seq" => Ok(CaptureFormat::JsonSeq),
            "text" | "text/plain" => Ok(CaptureFormat::Text),
            "sse" | "text/event-stream" => Ok(CaptureFormat::Sse),
            _ => Err(format!(
                "unknown format {s:?}; expected ndjson, json-seq, text or sse"
            )),
        }
    }
}

impl CaptureFormat {
    /// The content type an HTTP answer would carry.
    pub fn content_type(self) -> &'static str {
        match self {
            CaptureFormat::Ndjson => "application/x-ndjson",
            CaptureFormat::JsonSeq => "application/json-seq",
            CaptureFormat::Text => "text/plain",
            CaptureFormat::Sse => "text/event-stream",
        }
    }

    /// Writes one entry in this framing and flushes it: the record is
    /// built first and written once (a line-buffered stdout scans every
    /// small write for newlines).
    pub fn write(self, e: &LogEntry, sink: &mut dyn Write) -> io::Result<()> {
        let mut record = Vec::with_capacity(256 + 2 * e.raw.len());
        self.frame(e, &mut record)?;
        sink.write_all(&record)?;
        sink.flush()
    }

    fn frame(self, e: &LogEntry, out: &mut Vec<u8>) -> io::Result<()> {
        match self {
            CaptureFormat::Ndjson => {
                serde_json::to_writer(&mut *out, e)?;
                out.write_all(b"\n")?;
            }
            CaptureFormat::JsonSeq => {
                out.write_all(&[0x1e])?;
                serde_json::to_writer(&mut *out, e)?;
                out.write_all(b"\n")?;
            }
            CaptureFormat::Text => {
                // One line: newlines inside the message are shown as `\n`.
                writeln!(
                    out,
                    "{} {}: {}[{}] {}: {}",
                    if e.timestamp.is_empty() {
                        "-"
                    } else {
                        &e.timestamp
                    },
                    level_tag(e.log_level),
                    e.category,
                    e.event_id,
                    e.component,
                    e.message.replace('\n', "\\n")
                )?;
            }
            CaptureFormat::Sse => {
                // dotnet-monitor's shape: the level, category and id, then
                // the message; every line of it a `data:` line. The JSON
                // record follows as the last `data:` line.
                writeln!(
                    out,
                    "event: {}",
                    if e.category.is_empty() {
                        "log"
                    } else {
                        &e.category
                    }
                )?;
                writeln!(out, "data: {} {}[{}]", e.log_level, e.category, e.event_id)?;
                for line in e.message.split('\n') {
                    writeln!(out, "data: {}", line.trim_end_matches('\r'))?;
                }
                out.write_all(b"data: ")?;
                serde_json::to_writer(&mut *out, e)?;
                out.write_all(b"\n\n")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::parse::LineParser;

    fn of(line: &str) -> (String, i64, String, Value) {
        let start = LineParser::new(2026).parse(line.as_bytes());
        details(line, start.as_ref())
    }

    #[test]
    fn logv2_gives_every_field() {
        let (c, id, msg, state) = of(
            r#"{"t":{"$date":"2026-11-20T10:00:00.000+00:00"},"s":"W","c":"NETWORK","id":22943,"ctx":"listener","msg":"Connection accepted","attr":{"remote":"10.0.0.1:5000"}}"#,
        );
        assert_eq!(
            (c.as_str(), id, msg.as_str()),
            ("NETWORK", 22943, "Connection accepted")
        );
        assert_eq!(state["remote"], "10.0.0.1:5000");
    }

    #[test]
    fn legacy_text_gives_component_and_message() {
        let (c, id, msg, _) =
            of("2019-09-10T04:07:50.537+0000 I NETWORK  [conn12] end connection 10.0.0.1:5000");
        assert_eq!((c.as_str(), id), ("NETWORK", 0));
        assert_eq!(msg, "end connection 10.0.0.1:5000");
    }

    #[test]
    fn agent_lines_give_the_module() {
        let (c, _, msg, _) = of("[2026-11-20T10:00:00.000+0000] [.info] [cm/director/director.go:planAndExecute:586] <myCluster> Goal state reached");
        assert_eq!(c, "");
        assert!(msg.contains("Goal state reached"), "{msg}");
        let (c, _, _, _) =
            of("[2026-11-20T10:00:00.000+0000] [header.info] [::0] GitCommitId = abc");
        assert_eq!(c, "header");
    }

    #[test]
    fn every_framing_is_what_its_readers_expect() {
        let e = LogEntry {
            timestamp: "2026-11-20T10:00:00.000Z".into(),
            log_level: "Warning",
            event_id: 7,
            category: "NETWORK".into(),
            message: "two\nlines".into(),
            state: serde_json::json!({}),
            host: "h".into(),
            component: "h/rs0/27017".into(),
            file: "mongod.log".into(),
            raw: "x".into(),
        };
        let mut out = Vec::new();
        CaptureFormat::JsonSeq.write(&e, &mut out).unwrap();
        assert_eq!(out[0], 0x1e);
        assert_eq!(*out.last().unwrap(), b'\n');
        let v: Value = serde_json::from_slice(&out[1..]).unwrap();
        assert_eq!(v["LogLevel"], "Warning");
        let mut out = Vec::new();
        CaptureFormat::Text.write(&e, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2026-11-20T10:00:00.000Z warn: NETWORK[7] h/rs0/27017: two\\nlines\n"
        );
        let mut out = Vec::new();
        CaptureFormat::Sse.write(&e, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with(
                "event: NETWORK\ndata: Warning NETWORK[7]\ndata: two\ndata: lines\ndata: {"
            ),
            "{text}"
        );
        assert!(text.ends_with("}\n\n"));
    }
}
