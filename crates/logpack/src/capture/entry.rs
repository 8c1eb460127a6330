//! Entries normalized to dotnet-monitor's `LogEntry` (PRODUCT.md §10),
//! whatever the source format, and written as ndjson, JSON text
//! sequences, plain text or server-sent events.

use std::borrow::Cow;
use std::io::{self, Write};

use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::redact::Redactor;
use crate::request::Level;
use crate::select::parse::{Fields, Span, Text};

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
    pub state: RawJson,
    /// The host, as the request names it (or its token).
    pub host: String,
    /// The child's archive path, e.g. `db1/rs0/27017`.
    pub component: String,
    /// The file's name.
    pub file: String,
    /// The entry's original text, its lines joined with `\n`.
    pub raw: String,
}

impl LogEntry {
    /// A record of logpack's own, in the entries' shape: Category
    /// `logpack`, LogLevel `Error`, the time now, the other fields empty.
    /// A capture that cannot go on ends its output with one (see the CLI).
    pub fn notice(message: impl Into<String>) -> LogEntry {
        LogEntry {
            timestamp: jiff::Timestamp::now()
                .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string(),
            log_level: "Error",
            event_id: 0,
            category: "logpack".into(),
            message: message.into(),
            state: RawJson::empty_object(),
            host: String::new(),
            component: String::new(),
            file: String::new(),
            raw: String::new(),
        }
    }
}

/// One JSON value kept as its text: logv2's `attr` goes from the log line
/// into a record as it is, never built into a tree. Always valid JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawJson(String);

impl RawJson {
    /// `text` when it is exactly one JSON value (whitespace around it
    /// allowed); checked without building it.
    pub fn new(text: impl Into<String>) -> Option<RawJson> {
        let text = text.into();
        serde_json::from_str::<serde::de::IgnoredAny>(&text).ok()?;
        Some(RawJson(text))
    }

    /// `{}`.
    pub fn empty_object() -> RawJson {
        RawJson("{}".into())
    }

    /// `text` as a JSON string.
    pub fn string(text: &str) -> RawJson {
        RawJson(serde_json::to_string(text).expect("a string serializes"))
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        &self.0
    }

    /// The value as a tree.
    pub fn to_value(&self) -> Value {
        serde_json::from_str(&self.0).unwrap_or_else(|_| Value::String(self.0.clone()))
    }
}

impl Serialize for RawJson {
    /// As the value it holds (numbers beyond what serde_json keeps, such
    /// as `1e400`, as the text). The capture framings write the text as it
    /// is instead.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
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

/// What an entry's first line says besides its time and level.
#[derive(Debug)]
pub(crate) struct Details {
    pub category: String,
    pub event_id: i64,
    /// None when the format has no message of its own: the first line is.
    pub message: Option<String>,
    pub state: RawJson,
}

/// The details of an entry from its first line `first` and the ranges
/// [`LineParser::parse_detailed`](crate::select::parse::LineParser::parse_detailed)
/// found in it: no second parse of the line; a JSON literal is unescaped
/// on its own, `attr` copied. Each text is redacted on its own when there
/// is a redactor.
pub(crate) fn details(first: &[u8], fields: &Fields, redactor: Option<&Redactor>) -> Details {
    Details {
        category: fields
            .category
            .map(|t| field_text(first, t, redactor))
            .unwrap_or_default(),
        event_id: fields.event_id.unwrap_or(0),
        message: fields.message.map(|t| field_text(first, t, redactor)),
        state: fields
            .state
            .map_or_else(RawJson::empty_object, |s| state(first, s, redactor)),
    }
}

/// Bytes as text that JSON can carry: invalid UTF-8 replaced, NUL bytes
/// dropped. One copy.
pub(crate) fn clean(bytes: &[u8]) -> String {
    match String::from_utf8_lossy(bytes) {
        Cow::Borrowed(s) if !s.contains('\0') => s.to_owned(),
        s => s.replace('\0', ""),
    }
}

/// The text of a field of an entry's first line `first`: a JSON literal unescaped (by serde_json, on that literal only), plain
/// text cleaned; redacted when there is a redactor. A range not in `first`
/// gives an empty text.
fn field_text(first: &[u8], field: Text, redactor: Option<&Redactor>) -> String {
    let Some(bytes) = field.span().of(first) else {
        return String::new();
    };
    let text = match field {
        Text::Json(_) => json_string(bytes),
        Text::Plain(_) => clean(bytes),
    };
    match redactor {
        Some(r) => redact_text(r, &text),
        None => text,
    }
}

/// A JSON string literal's text. Without escapes, its content as it is; a
/// literal serde_json refuses (a raw control character) keeps its escapes.
fn json_string(literal: &[u8]) -> String {
    let inner = literal
        .strip_prefix(b"\"")
        .and_then(|l| l.strip_suffix(b"\""))
        .unwrap_or(literal);
    if memchr::memchr(b'\\', inner).is_none() {
        return clean(inner);
    }
    serde_json::from_str::<String>(&clean(literal)).unwrap_or_else(|_| clean(inner))
}

/// `text` redacted line by line, as the entry's `Raw` is.
fn redact_text(r: &Redactor, text: &str) -> String {
    let mut out = Vec::with_capacity(text.len() + 16);
    for (k, line) in text.split('\n').enumerate() {
        if k > 0 {
            out.push(b'\n');
        }
        r.redact_line(line.as_bytes(), &mut out, &mut Vec::new());
    }
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// logv2's `attr` from its range in `first`: its text copied (cleaned,
/// redacted when there is a redactor) if it is valid JSON, else `{}`; a
/// `null` is `{}` too. Should redaction ever leave invalid JSON, the
/// redacted text becomes a JSON string.
fn state(first: &[u8], span: Span, redactor: Option<&Redactor>) -> RawJson {
    let Some(bytes) = span.of(first) else {
        return RawJson::empty_object();
    };
    let text = clean(bytes);
    if text.trim_ascii() == "null" {
        return RawJson::empty_object();
    }
    let Some(value) = RawJson::new(text) else {
        return RawJson::empty_object();
    };
    let Some(r) = redactor else {
        return value;
    };
    let mut out = Vec::with_capacity(value.0.len() + 16);
    r.redact_line(value.0.as_bytes(), &mut out, &mut Vec::new());
    let redacted = clean(&out);
    if redacted == value.0 {
        return value;
    }
    match RawJson::new(redacted) {
        Some(v) => v,
        None => RawJson::string(&clean(&out)),
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
                json_record(e, out)?;
                out.write_all(b"\n")?;
            }
            CaptureFormat::JsonSeq => {
                out.write_all(&[0x1e])?;
                json_record(e, out)?;
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
                json_record(e, out)?;
                out.write_all(b"\n\n")?;
            }
        }
        Ok(())
    }
}

/// The JSON object of an entry, as its derived `Serialize` writes it
/// (same members, same order) but with `State` copied as it is.
fn json_record(e: &LogEntry, out: &mut Vec<u8>) -> io::Result<()> {
    fn string(out: &mut Vec<u8>, name: &str, value: &str) -> io::Result<()> {
        out.extend_from_slice(name.as_bytes());
        serde_json::to_writer(&mut *out, value)?;
        Ok(())
    }
    string(out, "{\"Timestamp\":", &e.timestamp)?;
    string(out, ",\"LogLevel\":", e.log_level)?;
    write!(out, ",\"EventId\":{}", e.event_id)?;
    string(out, ",\"Category\":", &e.category)?;
    string(out, ",\"Message\":", &e.message)?;
    out.extend_from_slice(b",\"State\":");
    out.extend_from_slice(e.state.get().as_bytes());
    string(out, ",\"Host\":", &e.host)?;
    string(out, ",\"Component\":", &e.component)?;
    string(out, ",\"File\":", &e.file)?;
    string(out, ",\"Raw\":", &e.raw)?;
    out.push(b'}');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::parse::LineParser;

    fn of(line: &str) -> Details {
        let (_, fields) = LineParser::new(2026)
            .parse_detailed(line.as_bytes())
            .unwrap();
        details(line.as_bytes(), &fields, None)
    }

    #[test]
    fn logv2_gives_every_field() {
        let d = of(
            r#"{"t":{"$date":"2026-11-20T10:00:00.000+00:00"},"s":"W","c":"NETWORK","id":22943,"ctx":"listener","msg":"Connection accepted","attr":{"remote":"10.0.0.1:5000","z":1,"a":[]}}"#,
        );
        assert_eq!(
            (d.category.as_str(), d.event_id, d.message.as_deref()),
            ("NETWORK", 22943, Some("Connection accepted"))
        );
        // Copied as it is: the members keep their order.
        assert_eq!(d.state.get(), r#"{"remote":"10.0.0.1:5000","z":1,"a":[]}"#);
        assert_eq!(d.state.to_value()["remote"], "10.0.0.1:5000");
        // No attr, a null one, an invalid one: `{}`.
        for attr in [
            "",
            r#","attr":null"#,
            r#","attr":{"a":}"#,
            r#","attr":[1,}"#,
        ] {
            let d = of(&format!(
                r#"{{"t":{{"$date":"2026-11-20T10:00:00.000+00:00"}},"s":"I","msg":"m"{attr}}}"#
            ));
            assert_eq!(d.state.get(), "{}", "{attr}");
            assert_eq!(d.message.as_deref(), Some("m"));
        }
    }

    #[test]
    fn legacy_text_gives_component_and_message() {
        let d = of("2019-09-10T04:07:50.537+0000 I NETWORK  [conn12] end connection 10.0.0.1:5000");
        assert_eq!((d.category.as_str(), d.event_id), ("NETWORK", 0));
        assert_eq!(d.message.as_deref(), Some("end connection 10.0.0.1:5000"));
        assert_eq!(d.state.get(), "{}");
        let d = of("Wed Jul 13 16:14:35.324 I QUERY [conn39] getmore db.c");
        assert_eq!(
            (d.category.as_str(), d.message.as_deref()),
            ("QUERY", Some("getmore db.c"))
        );
    }

    #[test]
    fn agent_lines_give_the_module() {
        let d = of("[2026-11-20T10:00:00.000+0000] [.info] [cm/director/director.go:planAndExecute:586] <myCluster> Goal state reached");
        assert_eq!(d.category, "");
        assert!(d.message.unwrap().contains("Goal state reached"));
        let d = of("[2026-11-20T10:00:00.000+0000] [header.info] [::0] GitCommitId = abc");
        assert_eq!(d.category, "header");
    }

    #[test]
    fn bad_bytes_give_valid_json() {
        // Invalid UTF-8 and NUL bytes in the message, the state and a
        // literal serde_json refuses (a raw tab).
        let line = b"{\"t\":{\"$date\":\"2026-11-20T10:00:00.000+00:00\"},\"s\":\"I\",\"c\":\"N\\u0041\",\"msg\":\"a\xff\0b\\n\",\"attr\":{\"k\":\"\xe6\x97\0\"}}";
        let (_, fields) = LineParser::new(2026).parse_detailed(line).unwrap();
        let d = details(line, &fields, None);
        assert_eq!(d.category, "NA");
        assert_eq!(d.message.as_deref(), Some("a\u{fffd}b\n"));
        assert_eq!(d.state.to_value()["k"], "\u{fffd}");
        let tab = br#"{"t":{"$date":"2026-11-20T10:00:00.000+00:00"},"s":"I","msg":"a	\u0041"}"#;
        let (_, fields) = LineParser::new(2026).parse_detailed(tab).unwrap();
        assert_eq!(
            details(tab, &fields, None).message.as_deref(),
            Some("a\t\\u0041")
        );
    }

    #[test]
    fn redaction_applies_to_each_field_and_keeps_the_state_json() {
        let r = Redactor::new([7; 32], &["db1.example.net".to_string()]);
        let line = r#"{"t":{"$date":"2026-11-20T10:00:00.000+00:00"},"s":"I","c":"NETWORK","id":22943,"ctx":"listener","msg":"Connection from 10.1.2.3 to db1.example.net","attr":{"remote":"10.1.2.3:5000","host":"db1.example.net:27017","note":"say \"10.1.2.3\"","n":[1,2.5,null]}}"#;
        let (_, fields) = LineParser::new(2026)
            .parse_detailed(line.as_bytes())
            .unwrap();
        let d = details(line.as_bytes(), &fields, Some(&r));
        let message = d.message.unwrap();
        for text in [&message, d.state.get()] {
            assert!(
                !text.contains("10.1.2.3") && !text.contains("example"),
                "{text}"
            );
        }
        assert!(message.contains("ip-"), "{message}");
        let state = d.state.to_value();
        assert!(
            state["remote"].as_str().unwrap().starts_with("ip-"),
            "{state}"
        );
        assert_eq!(state["n"], serde_json::json!([1, 2.5, null]));
        assert_eq!(d.category, "NETWORK");
        // Redacted the same way as the whole line would be.
        let mut whole = Vec::new();
        r.redact_line(line.as_bytes(), &mut whole, &mut Vec::new());
        let whole: Value = serde_json::from_slice(&whole).unwrap();
        assert_eq!(state, whole["attr"]);
        assert_eq!(message, whole["msg"].as_str().unwrap());
        // An agent's module holding a host name is redacted too.
        let agent = "[2026-11-19T10:00:02.344+0000] [metrics.monitor-db1.example.net:27017.info] [x.go:f:1] Ping db1.example.net";
        let (_, fields) = LineParser::new(2026)
            .parse_detailed(agent.as_bytes())
            .unwrap();
        let d = details(agent.as_bytes(), &fields, Some(&r));
        assert!(
            !d.category.contains("example") && !d.message.as_deref().unwrap().contains("example"),
            "{d:?}"
        );
    }

    fn entry() -> LogEntry {
        LogEntry {
            timestamp: "2026-11-20T10:00:00.000Z".into(),
            log_level: "Warning",
            event_id: 7,
            category: "NETWORK".into(),
            message: "two\nlines \"q\" \u{1} é \u{2028}".into(),
            state: RawJson::new(
                r#"{"b":[1,{"c":null}],"a":"x\u0000y","big":12345678901234567890}"#,
            )
            .unwrap(),
            host: "h".into(),
            component: "h/rs0/27017".into(),
            file: "mongod.log".into(),
            raw: "x\0y".into(),
        }
    }

    #[test]
    fn the_record_is_what_serde_would_write() {
        let e = entry();
        let mut out = Vec::new();
        CaptureFormat::Ndjson.write(&e, &mut out).unwrap();
        let written: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(written, serde_json::to_value(&e).unwrap());
        // The same members in the same order as the derived Serialize.
        let mut e2 = e.clone();
        e2.state = RawJson::empty_object();
        let mut out = Vec::new();
        CaptureFormat::Ndjson.write(&e2, &mut out).unwrap();
        assert_eq!(
            out,
            [serde_json::to_vec(&e2).unwrap(), b"\n".to_vec()].concat()
        );
        assert!(RawJson::new("{} x").is_none() && RawJson::new("\"\u{1}\"").is_none());
        let notice = LogEntry::notice("the end");
        let v = serde_json::to_value(&notice).unwrap();
        assert_eq!(
            (v["Category"].as_str(), v["LogLevel"].as_str()),
            (Some("logpack"), Some("Error"))
        );
    }

    #[test]
    fn every_framing_is_what_its_readers_expect() {
        let e = LogEntry {
            message: "two\nlines".into(),
            state: RawJson::empty_object(),
            raw: "x".into(),
            ..entry()
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
