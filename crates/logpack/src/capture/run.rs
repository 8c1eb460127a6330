//! The capture loop: which files a request's components log to, one
//! follower each, lines grouped into entries, filtered, redacted,
//! normalized and written, until the duration ends or the run is cancelled.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use globset::Glob;

use super::entry::{clean, details, level_name, CaptureFormat, LogEntry};
use super::follow::{Follower, Line, Wakeup};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::redact::{self, Redactor};
use crate::request::{Level, LogType, Request};
use crate::run::{CancelToken, RedactionKey};
use crate::select::parse::{EntryStart, Fields, LineParser};
use crate::walk::{rotation_key, Rotation};

/// At most this many captures run at once on one engine (dotnet-monitor's
/// limit for logs).
pub const MAX_CAPTURES: usize = 3;

/// How often every file is polled, whatever inotify says: events can be
/// dropped under load.
const POLL: Duration = Duration::from_millis(25);

/// What one capture takes from its caller.
pub struct CaptureSpec {
    /// How long to follow; `None` until cancelled (`durationSeconds` -1).
    pub duration: Option<Duration>,
    /// The minimum level; `None` takes the request's.
    pub level: Option<Level>,
    /// The output framing.
    pub format: CaptureFormat,
    /// Ends the capture cleanly from any thread.
    pub cancel: CancelToken,
    /// The redaction key when the request is redacted; `None` makes one
    /// for this capture (tokens are consistent within it).
    pub redaction_key: Option<RedactionKey>,
    /// Told each notice (a rotation, a truncation, an unreadable file) as
    /// it happens, on the capturing thread; they are also in the report.
    pub on_notice: Option<Box<NoticeFn>>,
    /// Told once the capture has its slot and follows its files, before
    /// any entry: an HTTP server answers 200 then, and 429 if the capture
    /// returns a refusal instead.
    pub on_start: Option<Box<dyn FnOnce() + Send>>,
    /// Also writes each notice into the output, as a record with Category
    /// `logpack` and LogLevel `Warning`, for readers that cannot see
    /// stderr (an HTTP client).
    pub notices_in_output: bool,
}

/// Told a capture's notices as they happen.
pub type NoticeFn = dyn FnMut(&str) + Send;

impl Default for CaptureSpec {
    fn default() -> Self {
        CaptureSpec {
            duration: Some(Duration::from_secs(30)),
            level: None,
            format: CaptureFormat::Ndjson,
            cancel: CancelToken::default(),
            redaction_key: None,
            on_notice: None,
            on_start: None,
            notices_in_output: false,
        }
    }
}

/// What a capture did.
#[derive(Debug, Default, Clone)]
pub struct CaptureReport {
    /// Entries written.
    pub entries: u64,
    /// Entries below the level.
    pub filtered: u64,
    /// Files followed.
    pub files: usize,
    /// What the followers reported (rotations, truncations, unreadable
    /// files), each once.
    pub notices: Vec<String>,
}

/// One followed file.
struct Target {
    host: String,
    component: String,
    file: String,
    path: PathBuf,
}

/// The live files of the request's text components. Agent and Ops Manager
/// directories are listed now; their usual live names are followed even if
/// absent, from the moment they appear.
fn targets(request: &Request) -> Vec<Target> {
    let mut out = Vec::new();
    let usual = |t: LogType| -> &'static [&'static str] {
        match t {
            LogType::AutomationAgent => &[
                "automation-agent.log",
                "automation-agent-verbose.log",
                "automation-agent-stderr.log",
            ],
            LogType::MonitoringAgent => &["monitoring-agent.log"],
            LogType::BackupAgent => &["backup-agent.log"],
            LogType::Application => &["mms0.log"],
            LogType::HttpAccess => &["mms0-access.log"],
            LogType::Migration => &["mms-migration.log"],
            LogType::Daemon => &["daemon.log"],
            LogType::Mongodb | LogType::Ftdc => &[],
        }
    };
    for host in &request.hosts {
        let dirs = [(&host.agent_log_dir, true), (&host.om_log_dir, false)];
        for (dir, agent) in dirs {
            let Some(dir) = dir else { continue };
            let listed: Vec<String> = std::fs::read_dir(dir)
                .map(|rd| {
                    rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                        .collect()
                })
                .unwrap_or_default();
            for t in request.log_types.iter().filter(|t| {
                if agent {
                    t.is_agent()
                } else {
                    t.is_om_server()
                }
            }) {
                let layout = t.layout();
                let include = Glob::new(layout.include).map(|g| g.compile_matcher());
                let exclude = layout
                    .exclude
                    .and_then(|e| Glob::new(e).ok())
                    .map(|g| g.compile_matcher());
                let Ok(include) = include else { continue };
                let mut names: Vec<String> = listed
                    .iter()
                    .filter(|n| {
                        n.ends_with(".log")
                            && include.is_match(n.as_str())
                            && !exclude.as_ref().is_some_and(|e| e.is_match(n.as_str()))
                            && rotation_key(n).1 == Rotation::Live
                    })
                    .cloned()
                    .collect();
                names.extend(usual(*t).iter().map(|s| s.to_string()));
                names.sort();
                names.dedup();
                for name in names {
                    out.push(Target {
                        host: host.hostname.clone(),
                        component: format!("{}/{}", host.hostname, layout.archive_dir),
                        path: dir.join(&name),
                        file: name,
                    });
                }
            }
        }
        if request.log_types.contains(&LogType::Mongodb) {
            for p in &host.processes {
                let file = p
                    .log_path
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
                out.push(Target {
                    host: host.hostname.clone(),
                    component: format!("{}/{}", host.hostname, p.archive_dir()),
                    path: p.log_path.clone(),
                    file,
                });
            }
        }
    }
    out
}

/// One file's lines grouped into entries: a line that starts an entry
/// closes the one before; lines before a file's first entry, and
/// continuation lines, belong to the entry they follow.
///
/// Each line is parsed once, by [`LineParser::parse_detailed`]: an entry's
/// first line gives both its start and where its category, id, message
/// and attributes are ([`Fields`], ranges of that line, which is kept at
/// the start of `lines`).
struct Assembler {
    parser: LineParser,
    lines: Vec<u8>,
    start: Option<EntryStart>,
    /// The fields of the pending entry's first line.
    fields: Fields,
    /// Bytes of the pending entry kept; continuation lines past this are
    /// dropped (a backtrace may be long, memory may not).
    cap: usize,
}

/// An entry's text is cut at this many bytes.
const MAX_ENTRY: usize = 1 << 20;

/// Told each entry: its text (lines joined with `\n`), its start, and the
/// fields of its first line (ranges of the text).
type Emit<'a> = dyn FnMut(&[u8], Option<EntryStart>, &Fields) + 'a;

impl Assembler {
    fn push(&mut self, line: &[u8], emit: &mut Emit<'_>) {
        let detailed = self.parser.parse_detailed(line);
        if detailed.is_some() && !self.lines.is_empty() {
            self.flush(emit);
        }
        if let Some((start, fields)) = detailed {
            // `lines` is empty: the line goes first, cut at `cap`.
            self.start = Some(start);
            self.fields = fields.within(line.len().min(self.cap));
        }
        if !self.lines.is_empty() {
            self.lines.push(b'\n');
        }
        let room = self.cap.saturating_sub(self.lines.len());
        self.lines.extend_from_slice(&line[..line.len().min(room)]);
    }

    fn flush(&mut self, emit: &mut Emit<'_>) {
        if !self.lines.is_empty() {
            let fields = std::mem::take(&mut self.fields);
            emit(&self.lines, self.start.take(), &fields);
            self.lines.clear();
            if self.lines.capacity() > 64 << 10 {
                self.lines.shrink_to(64 << 10);
            }
        }
    }
}

/// Writes entries: filtered by level, redacted, normalized, framed.
struct Writer<'w> {
    out: &'w mut dyn Write,
    format: CaptureFormat,
    level: Option<Level>,
    redactor: Option<Redactor>,
    report: CaptureReport,
    failed: Option<io::Error>,
}

impl Writer<'_> {
    fn entry(&mut self, target: &Target, text: &[u8], start: Option<EntryStart>, fields: &Fields) {
        if self.failed.is_some() {
            return;
        }
        if let (Some(min), Some(level)) = (self.level, start.and_then(|s| s.level)) {
            if level < min {
                self.report.filtered += 1;
                return;
            }
        }
        let original = text;
        let mut redacted = Vec::new();
        let (text, host, component) = match &self.redactor {
            Some(r) => {
                for (k, line) in text.split(|&b| b == b'\n').enumerate() {
                    if k > 0 {
                        redacted.push(b'\n');
                    }
                    r.redact_line(line, &mut redacted, &mut Vec::new());
                }
                let token = r.token(redact::Kind::Host, &target.host);
                let component = match target.component.strip_prefix(target.host.as_str()) {
                    Some(rest) => format!("{token}{rest}"),
                    None => target.component.clone(),
                };
                (&redacted[..], token, component)
            }
            None => (text, target.host.clone(), target.component.clone()),
        };
        // Invalid UTF-8 and NUL bytes become valid JSON text.
        let raw = clean(text);
        // The fields are ranges of the entry's first line, as read: each is
        // taken (and redacted) on its own, the line is not parsed again.
        let first = &original[..memchr::memchr(b'\n', original).unwrap_or(original.len())];
        let d = details(first, fields, self.redactor.as_ref());
        let message = d
            .message
            .unwrap_or_else(|| raw.split('\n').next().unwrap_or("").to_string());
        let timestamp = start
            .and_then(|s| s.millis)
            .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
            .unwrap_or_default();
        let entry = LogEntry {
            timestamp,
            log_level: level_name(start.and_then(|s| s.level)),
            event_id: d.event_id,
            category: d.category,
            message,
            state: d.state,
            host,
            component,
            file: target.file.clone(),
            raw,
        };
        match self.format.write(&entry, self.out) {
            Ok(()) => self.report.entries += 1,
            Err(e) => self.failed = Some(e),
        }
    }

    /// A notice as a record of the stream (Category `logpack`).
    fn notice(&mut self, target: &Target, message: &str) {
        if self.failed.is_some() {
            return;
        }
        let mut entry = LogEntry::notice(message);
        entry.log_level = "Warning";
        entry.component = target.component.clone();
        entry.file = target.file.clone();
        if let Err(e) = self.format.write(&entry, self.out) {
            self.failed = Some(e);
        }
    }
}

/// Frees a capture slot when the capture ends.
struct Slot<'e>(&'e std::sync::atomic::AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Engine {
    /// Follows the live logs of `request`'s text components from now on,
    /// writing each entry to `out` as it comes, until `spec.duration` ends
    /// or `spec.cancel` is cancelled (a clean end either way). At most
    /// [`MAX_CAPTURES`] run at once on an engine; one more is refused
    /// (`Error::Refused` with `RATE_LIMITED`, HTTP 429). Memory is bounded
    /// per followed file.
    pub fn capture(
        &self,
        request: &Request,
        out: &mut dyn Write,
        spec: CaptureSpec,
    ) -> Result<CaptureReport> {
        let running = self.captures();
        if running.fetch_add(1, Ordering::SeqCst) >= MAX_CAPTURES {
            running.fetch_sub(1, Ordering::SeqCst);
            return Err(Error::Refused {
                code: "RATE_LIMITED",
                message: format!("{MAX_CAPTURES} captures are running already"),
            });
        }
        let _slot = Slot(running);
        let redactor = request.redacted.then(|| {
            let key = spec
                .redaction_key
                .clone()
                .unwrap_or_else(RedactionKey::random);
            let hosts: Vec<String> = request.hosts.iter().map(|h| h.hostname.clone()).collect();
            Redactor::new(key.0, &hosts)
        });
        let targets = targets(request);
        let year = jiff::Zoned::now().year() as i32;
        let mut followers: Vec<(Follower, Assembler)> = targets
            .iter()
            .map(|t| {
                let assembler = Assembler {
                    parser: LineParser::new(year),
                    lines: Vec::new(),
                    start: None,
                    fields: Fields::default(),
                    cap: MAX_ENTRY,
                };
                (Follower::new(t.path.clone(), true), assembler)
            })
            .collect();
        let mut dirs: Vec<PathBuf> = targets
            .iter()
            .filter_map(|t| t.path.parent().map(|p| p.to_path_buf()))
            .collect();
        dirs.sort();
        dirs.dedup();
        let wakeup = Wakeup::new(&dirs);
        let mut w = Writer {
            out,
            format: spec.format,
            level: spec.level.or(request.level),
            redactor,
            report: CaptureReport {
                files: targets.len(),
                ..CaptureReport::default()
            },
            failed: None,
        };
        let deadline = spec.duration.map(|d| Instant::now() + d);
        let mut on_notice = spec.on_notice;
        if let Some(started) = spec.on_start {
            started();
        }
        loop {
            for (target, (follower, assembler)) in targets.iter().zip(&mut followers) {
                let (mut read_any, mut cut) = (false, false);
                let status = follower.poll(&mut |line: Line<'_>| {
                    read_any = true;
                    cut |= line.cut;
                    assembler.push(line.bytes, &mut |text, start, fields| {
                        w.entry(target, text, start, fields)
                    });
                });
                let mut notices = Vec::new();
                if cut {
                    notices.push(format!(
                        "a line longer than {} bytes was cut there",
                        super::follow::MAX_LINE
                    ));
                }
                match status {
                    Ok(s) => notices.extend(s.notices.iter().map(ToString::to_string)),
                    Err(e) => notices.push(e.to_string()),
                }
                for n in notices {
                    let n = format!("{}: {n}", target.path.display());
                    if let Some(tell) = on_notice.as_mut() {
                        tell(&n);
                    }
                    if spec.notices_in_output {
                        w.notice(target, &n);
                    }
                    w.report.notices.push(n);
                }
                // A quiet file's last entry is complete: emit it now.
                if !read_any {
                    assembler
                        .flush(&mut |text, start, fields| w.entry(target, text, start, fields));
                }
            }
            if let Some(e) = w.failed.take() {
                return Err(Error::Output {
                    target: "<writer>".into(),
                    source: e,
                });
            }
            let now = Instant::now();
            if spec.cancel.is_cancelled() || deadline.is_some_and(|d| now >= d) {
                break;
            }
            let wait = deadline.map_or(POLL, |d| POLL.min(d - now));
            wakeup.wait(wait);
        }
        for (target, (follower, assembler)) in targets.iter().zip(&mut followers) {
            follower.finish(&mut |line: Line<'_>| {
                assembler.push(line.bytes, &mut |text, start, fields| {
                    w.entry(target, text, start, fields)
                });
            });
            assembler.flush(&mut |text, start, fields| w.entry(target, text, start, fields));
        }
        if let Some(e) = w.failed.take() {
            return Err(Error::Output {
                target: "<writer>".into(),
                source: e,
            });
        }
        Ok(w.report)
    }
}
