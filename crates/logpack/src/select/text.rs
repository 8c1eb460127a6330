//! Selecting the lines of one text log: time range, severity, redaction and
//! the size cap, in bounded memory.
//!
//! An *entry* is a line that starts with a recognised timestamp plus the
//! lines after it that do not (continuations, backtraces, blank lines).
//! Lines before the first entry belong to the first entry. The filter keeps
//! or drops whole entries; the cap then keeps the newest bytes of what the
//! filter kept, starting at a line boundary.
//!
//! Files under [`EXACT_SCAN_BELOW`] are always scanned whole, so selection
//! on them is exact whatever their order. Larger plain files are first
//! judged by their first and last entries and their mtime, then narrowed by
//! bisection on timestamps with [`TIME_MARGIN_MS`] of slack, which relies on
//! the log being nearly sorted, as real logs are.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::FileExt;

use flate2::bufread::MultiGzDecoder;
use memchr::memchr;

use super::parse::{ctime_month, LineParser};
use super::{FileSelection, Selection, TIME_MARGIN_MS};
use crate::redact::Redactor;
use crate::run::CancelToken;

/// Files smaller than this are scanned whole: exact whatever their order.
pub const EXACT_SCAN_BELOW: u64 = 8 << 20;

/// Longer lines are handled in pieces of this size, so one line without a
/// newline cannot take unbounded memory.
const MAX_PIECE: usize = 1 << 20;

/// Bytes read at each probe (head, tail, bisection step).
const PROBE: usize = 64 * 1024;

const READ_BUFFER: usize = 256 * 1024;

/// Reads `[pos, end)` of a file with positioned reads: several passes can
/// read the same file without sharing a cursor.
pub(crate) struct At<'f> {
    file: &'f File,
    pos: u64,
    end: u64,
}

impl<'f> At<'f> {
    pub(crate) fn new(file: &'f File, pos: u64, end: u64) -> At<'f> {
        At { file, pos, end }
    }
}

impl Read for At<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.end.saturating_sub(self.pos);
        let want = (buf.len() as u64).min(left) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// Where the kept bytes of a pass go. `line_start` is false for the second
/// and later pieces of an over-long line.
trait PassOutput {
    fn put(&mut self, bytes: &[u8], line_start: bool) -> io::Result<()>;
}

/// Calls `f(piece, line_start)` for every line of `reader`; a piece keeps its
/// `'\n'`. Checks for cancellation at every buffer refill.
fn for_each_line(
    reader: &mut dyn BufRead,
    cancel: &CancelToken,
    f: &mut dyn FnMut(&[u8], bool) -> io::Result<()>,
) -> io::Result<()> {
    let mut pending: Vec<u8> = Vec::new();
    let mut line_start = true;
    loop {
        if cancel.is_cancelled() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "cancelled"));
        }
        let buf = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            if !pending.is_empty() {
                f(&pending, line_start)?;
            }
            return Ok(());
        }
        let mut used = 0;
        while used < buf.len() {
            let rest = &buf[used..];
            match memchr(b'\n', rest) {
                Some(i) => {
                    if pending.is_empty() {
                        f(&rest[..=i], line_start)?;
                    } else {
                        pending.extend_from_slice(&rest[..=i]);
                        f(&pending, line_start)?;
                        pending.clear();
                    }
                    line_start = true;
                    used += i + 1;
                }
                None => {
                    pending.extend_from_slice(rest);
                    used = buf.len();
                    if pending.len() >= MAX_PIECE {
                        f(&pending, line_start)?;
                        pending.clear();
                        line_start = false;
                    }
                }
            }
        }
        reader.consume(used);
    }
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The entry filter, run identically by every pass.
struct Filter<'s> {
    sel: &'s Selection,
    parser: LineParser,
    /// The decision for the current entry.
    keep: bool,
    seen_entry: bool,
    /// The first entry's decision, from an earlier pass; `None` in the first pass.
    preamble_keep: Option<bool>,
    /// First pass only: bytes and lines before the first entry, undecided.
    pending_bytes: u64,
    pending_lines: u64,
    pending_redactions: u64,
    kept_bytes: u64,
    lines_dropped: u64,
    entries: u64,
    entries_without_level: u64,
    redactions: u64,
    tokens: Vec<(String, String)>,
    scratch: Vec<u8>,
    found: Vec<(crate::redact::Kind, String, String)>,
}

impl<'s> Filter<'s> {
    fn new(sel: &'s Selection, ctime_year: i32, preamble_keep: Option<bool>) -> Filter<'s> {
        Filter {
            sel,
            parser: LineParser::new(ctime_year),
            keep: preamble_keep.unwrap_or(true),
            seen_entry: false,
            preamble_keep,
            pending_bytes: 0,
            pending_lines: 0,
            pending_redactions: 0,
            kept_bytes: 0,
            lines_dropped: 0,
            entries: 0,
            entries_without_level: 0,
            redactions: 0,
            tokens: Vec::new(),
            scratch: Vec::new(),
            found: Vec::new(),
        }
    }

    /// The bytes to emit for `piece` (redacted when asked).
    fn render<'a>(
        scratch: &'a mut Vec<u8>,
        found: &mut Vec<(crate::redact::Kind, String, String)>,
        redactor: Option<&Redactor>,
        piece: &'a [u8],
    ) -> (usize, &'a [u8]) {
        match redactor {
            None => (0, piece),
            Some(r) => {
                scratch.clear();
                let body = piece.strip_suffix(b"\n").unwrap_or(piece);
                let n = r.redact_line(body, scratch, found);
                if body.len() < piece.len() {
                    scratch.push(b'\n');
                }
                (n, &scratch[..])
            }
        }
    }

    fn piece(
        &mut self,
        piece: &[u8],
        line_start: bool,
        sink: &mut dyn PassOutput,
    ) -> io::Result<()> {
        if line_start {
            if let Some(entry) = self.parser.parse(trim_eol(piece)) {
                self.entries += 1;
                if entry.level.is_none() {
                    self.entries_without_level += 1;
                }
                let in_time =
                    !self.sel.has_time() || entry.millis.is_none_or(|ms| self.sel.in_range(ms));
                self.keep = in_time && self.sel.level_ok(entry.level);
                if !self.seen_entry {
                    self.seen_entry = true;
                    if self.preamble_keep.is_none() {
                        self.preamble_keep = Some(self.keep);
                        if self.keep {
                            self.kept_bytes += self.pending_bytes;
                            self.redactions += self.pending_redactions;
                        } else {
                            self.lines_dropped += self.pending_lines;
                        }
                    }
                }
            }
        }
        if !self.seen_entry && self.preamble_keep.is_none() {
            // Undecided preamble (first pass): count what it would add.
            let (n, bytes) = Self::render(
                &mut self.scratch,
                &mut self.found,
                self.sel.redactor.as_ref(),
                piece,
            );
            self.pending_bytes += bytes.len() as u64;
            self.pending_redactions += n as u64;
            self.pending_lines += line_start as u64;
            self.collect_tokens();
            return Ok(());
        }
        if !self.keep {
            self.lines_dropped += line_start as u64;
            return Ok(());
        }
        let (n, bytes) = Self::render(
            &mut self.scratch,
            &mut self.found,
            self.sel.redactor.as_ref(),
            piece,
        );
        self.redactions += n as u64;
        self.kept_bytes += bytes.len() as u64;
        sink.put(bytes, line_start)?;
        self.collect_tokens();
        Ok(())
    }

    fn collect_tokens(&mut self) {
        for (_, value, token) in self.found.drain(..) {
            self.tokens.push((token, value));
        }
        if self.tokens.len() > 4096 {
            self.tokens.sort();
            self.tokens.dedup();
        }
    }

    /// A file with no recognised entry is kept whole.
    fn finish(&mut self) {
        if self.preamble_keep.is_none() {
            self.preamble_keep = Some(true);
            self.kept_bytes += self.pending_bytes;
            self.redactions += self.pending_redactions;
        }
        self.tokens.sort();
        self.tokens.dedup();
    }
}

struct Discard;

impl PassOutput for Discard {
    fn put(&mut self, _: &[u8], _: bool) -> io::Result<()> {
        Ok(())
    }
}

/// Finds the first line start at or after `threshold` in the kept stream.
struct FindCut {
    offset: u64,
    threshold: u64,
    cut: Option<u64>,
}

impl PassOutput for FindCut {
    fn put(&mut self, bytes: &[u8], line_start: bool) -> io::Result<()> {
        if self.cut.is_none() && line_start && self.offset >= self.threshold {
            self.cut = Some(self.offset);
        }
        self.offset += bytes.len() as u64;
        Ok(())
    }
}

/// Writes the kept stream, dropping its first `skip` bytes.
struct Emit<'w> {
    out: &'w mut dyn Write,
    skip: u64,
}

impl PassOutput for Emit<'_> {
    fn put(&mut self, bytes: &[u8], _: bool) -> io::Result<()> {
        let drop = self.skip.min(bytes.len() as u64) as usize;
        self.skip -= drop as u64;
        self.out.write_all(&bytes[drop..])
    }
}

/// How to produce a selected file's body.
#[derive(Debug, Clone)]
pub struct TextPlan {
    /// Exact size of the body.
    pub len: u64,
    /// Manifest facts.
    pub selection: FileSelection,
    gz: bool,
    /// Byte range of the (plain) source that is read.
    range: (u64, u64),
    ctime_year: i32,
    preamble_keep: bool,
    /// Leading bytes of the kept stream removed by the cap.
    skip: u64,
    /// Whether the entry filter runs (false: only the cap applies).
    filter: bool,
}

/// What to do with one text file.
pub enum TextDecision {
    /// Nothing applies: archive the file byte for byte.
    Whole,
    /// Nothing in the file is selected.
    Skip(String),
    /// Archive the selected bytes.
    Select(TextPlan),
}

fn source_reader<'f>(file: &'f File, gz: bool, range: (u64, u64)) -> Box<dyn BufRead + 'f> {
    let raw = BufReader::with_capacity(READ_BUFFER, At::new(file, range.0, range.1));
    if gz {
        Box::new(BufReader::with_capacity(
            READ_BUFFER,
            MultiGzDecoder::new(raw),
        ))
    } else {
        Box::new(raw)
    }
}

/// Reads up to [`PROBE`] bytes at `pos` (fewer at the end of the file).
fn read_block(file: &File, pos: u64, end: u64) -> io::Result<Vec<u8>> {
    let len = (end.saturating_sub(pos)).min(PROBE as u64) as usize;
    let mut buf = vec![0; len];
    let mut got = 0;
    while got < len {
        match file.read_at(&mut buf[got..], pos + got as u64)? {
            0 => break,
            n => got += n,
        }
    }
    buf.truncate(got);
    Ok(buf)
}

/// The first entry starting at a line boundary at or after `pos`:
/// `(line offset, millis)`. Looks at most a few probe blocks ahead.
fn entry_at_or_after(
    file: &File,
    pos: u64,
    end: u64,
    year: CtimeYears,
) -> io::Result<Option<(u64, i64)>> {
    let mut at = pos;
    let mut need_boundary = pos > 0;
    if need_boundary {
        // `pos` is a line start when the byte before it is '\n'.
        let mut b = [0u8; 1];
        if file.read_at(&mut b, pos - 1)? == 1 && b[0] == b'\n' {
            need_boundary = false;
        }
    }
    for _ in 0..16 {
        if at >= end {
            return Ok(None);
        }
        let block = read_block(file, at, end)?;
        if block.is_empty() {
            return Ok(None);
        }
        let mut i = 0;
        if need_boundary {
            match memchr(b'\n', &block) {
                Some(nl) => {
                    i = nl + 1;
                    need_boundary = false;
                }
                None => {
                    at += block.len() as u64;
                    continue;
                }
            }
        }
        while i < block.len() {
            let Some(nl) = memchr(b'\n', &block[i..]) else {
                if at + block.len() as u64 >= end {
                    // The last line of the file, without a newline.
                    if let Some(e) = year.probe(trim_eol(&block[i..])) {
                        if let Some(ms) = e.millis {
                            return Ok(Some((at + i as u64, ms)));
                        }
                    }
                    return Ok(None);
                }
                break;
            };
            if let Some(e) = year.probe(&block[i..i + nl]) {
                if let Some(ms) = e.millis {
                    return Ok(Some((at + i as u64, ms)));
                }
            }
            i += nl + 1;
        }
        if i == 0 {
            // A line longer than a block: skip past it.
            need_boundary = true;
            at += block.len() as u64;
        } else {
            at += i as u64;
        }
    }
    Ok(None)
}

/// The timestamp of the last entry of a plain file, from its tail.
fn last_entry_millis(file: &File, size: u64, year: CtimeYears) -> io::Result<Option<i64>> {
    let start = size.saturating_sub(PROBE as u64);
    let block = read_block(file, start, size)?;
    let body = if start > 0 {
        match memchr(b'\n', &block) {
            Some(i) => &block[i + 1..],
            None => return Ok(None),
        }
    } else {
        &block[..]
    };
    let mut last = None;
    for line in body.split(|&b| b == b'\n') {
        if let Some(ms) = year.probe(trim_eol(line)).and_then(|e| e.millis) {
            last = Some(ms);
        }
    }
    Ok(last)
}

/// The offset of the first line whose entry is at or after `target`,
/// assuming timestamps grow through the file (up to the caller's margin).
fn bisect(file: &File, size: u64, target: i64, year: CtimeYears) -> io::Result<u64> {
    let (mut lo, mut hi) = (0u64, size);
    while hi - lo > PROBE as u64 {
        let mid = lo + (hi - lo) / 2;
        match entry_at_or_after(file, mid, hi, year)? {
            Some((_, ms)) if ms < target => lo = mid,
            _ => hi = mid,
        }
    }
    // Walk from `lo` to the first entry at or after the target.
    let mut pos = lo;
    loop {
        match entry_at_or_after(file, pos, size, year)? {
            Some((off, ms)) if ms < target => pos = off + 1,
            Some((off, _)) => return Ok(off),
            None => return Ok(size),
        }
    }
}

/// Years for ctime lines, which carry none.
#[derive(Debug, Clone, Copy)]
struct CtimeYears {
    /// The year of the file's first ctime line.
    start: i32,
    /// The month of the file's first ctime line.
    first_month: Option<u32>,
}

impl CtimeYears {
    /// For a file: the year of its mtime, one less when its last line's
    /// month is later than the mtime's, and one less again when the months
    /// go backwards between its first and last lines (it spans a new year).
    fn of_file(file: &File, size: u64, mtime_ms: i64, gz: bool) -> CtimeYears {
        let mtime = jiff::Timestamp::from_millisecond(mtime_ms)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
            .to_zoned(jiff::tz::TimeZone::UTC);
        let head = read_block(file, 0, size).unwrap_or_default();
        let first_month = head.split(|&b| b == b'\n').find_map(ctime_month);
        let mut start = mtime.year() as i32;
        if !gz {
            let tail =
                read_block(file, size.saturating_sub(PROBE as u64), size).unwrap_or_default();
            let last = tail.rsplit(|&b| b == b'\n').find_map(ctime_month);
            if last.is_some_and(|l| l > mtime.month() as u32) {
                start -= 1;
            }
            if let (Some(f), Some(l)) = (first_month, last) {
                if l < f {
                    start -= 1;
                }
            }
        }
        CtimeYears { start, first_month }
    }

    /// Parses a line met at an arbitrary offset: a ctime month before the
    /// first line's month means the file has crossed into the next year.
    fn probe(&self, line: &[u8]) -> Option<super::parse::EntryStart> {
        let year = match (ctime_month(line), self.first_month) {
            (Some(m), Some(f)) if m < f => self.start + 1,
            _ => self.start,
        };
        LineParser::new(year).parse(line)
    }
}

fn gz_name(name: &str) -> Option<&str> {
    name.strip_suffix(".gz")
}

/// Decides how to select one text file of `size` bytes (fixed at open).
pub fn plan(
    file: &File,
    name: &str,
    size: u64,
    mtime_ms: i64,
    sel: &Selection,
    cancel: &CancelToken,
) -> io::Result<TextDecision> {
    let gz = gz_name(name).is_some();
    let filter = sel.filters_lines();
    if !filter && sel.cap.is_none() {
        return Ok(TextDecision::Whole);
    }
    let mut selection = FileSelection::default();
    if gz {
        selection.name = gz_name(name).map(str::to_string);
        selection
            .notes
            .push(format!("decompressed from {name} to select lines"));
    }

    // Only the cap, on a plain file: keep the newest bytes from a line start.
    if !filter && !gz {
        let cap = sel.cap.unwrap_or(u64::MAX);
        if size <= cap {
            return Ok(TextDecision::Whole);
        }
        let threshold = size - cap;
        let start = line_start_at_or_after(file, threshold, size)?.unwrap_or(threshold);
        selection.truncated = true;
        selection
            .notes
            .push(format!("kept the newest {} of {size} bytes", size - start));
        return Ok(TextDecision::Select(TextPlan {
            len: size - start,
            selection,
            gz,
            range: (start, size),
            ctime_year: 1970,
            preamble_keep: true,
            skip: 0,
            filter: false,
        }));
    }

    let year = CtimeYears::of_file(file, size, mtime_ms, gz);
    let mut range = (0, size);
    let large = size >= EXACT_SCAN_BELOW;
    if sel.has_time() && large {
        // Modification time bounds the newest entry of a file.
        if sel
            .from_ms
            .is_some_and(|f| mtime_ms.saturating_add(TIME_MARGIN_MS) < f)
        {
            return Ok(TextDecision::Skip(
                "last modified before the requested time range".into(),
            ));
        }
        if !gz {
            let first = entry_at_or_after(file, 0, size, year)?.map(|(_, ms)| ms);
            let last = last_entry_millis(file, size, year)?;
            if first.is_some() && !sel.may_overlap(first, last) {
                return Ok(TextDecision::Skip(
                    "its first and last entries lie outside the requested time range".into(),
                ));
            }
            if first.is_some() {
                if let Some(f) = sel.from_ms {
                    range.0 = bisect(file, size, f.saturating_sub(TIME_MARGIN_MS), year)?;
                }
                if let Some(t) = sel.to_ms {
                    range.1 = bisect(file, size, t.saturating_add(TIME_MARGIN_MS + 1), year)?
                        .max(range.0);
                }
                if range != (0, size) {
                    selection.notes.push(format!(
                        "read bytes {}..{} of {size}, located by timestamp",
                        range.0, range.1
                    ));
                }
            }
        }
    }

    // Pass 1: what the filter keeps.
    let mut counter = Filter::new(sel, year.start, None);
    {
        let mut reader = source_reader(file, gz, range);
        for_each_line(&mut reader, cancel, &mut |p, s| {
            counter.piece(p, s, &mut Discard)
        })?;
    }
    counter.finish();
    let kept = counter.kept_bytes;
    let preamble_keep = counter.preamble_keep.unwrap_or(true);
    // Lines outside a narrowed range were dropped without being read.
    if counter.entries == 0 && filter && (sel.has_time() || sel.level.is_some()) {
        selection
            .notes
            .push("no recognised log entries: kept whole".into());
    } else if counter.entries_without_level > 0 && sel.level.is_some() {
        selection.notes.push(format!(
            "{} entries carry no severity and were kept",
            counter.entries_without_level
        ));
    }
    selection.lines_dropped = counter.lines_dropped;
    selection.redactions = counter.redactions;
    selection.tokens = std::mem::take(&mut counter.tokens);

    if kept == 0 && (sel.has_time() || sel.level.is_some()) && counter.entries > 0 {
        return Ok(TextDecision::Skip(format!(
            "no entries selected ({} lines dropped)",
            counter.lines_dropped
        )));
    }

    // Pass 2, only when the cap cuts: where the kept tail starts.
    let mut skip = 0;
    if let Some(cap) = sel.cap.filter(|&c| kept > c) {
        let threshold = kept - cap;
        let mut finder = FindCut {
            offset: 0,
            threshold,
            cut: None,
        };
        let mut again = Filter::new(sel, year.start, Some(preamble_keep));
        let mut reader = source_reader(file, gz, range);
        for_each_line(&mut reader, cancel, &mut |p, s| {
            again.piece(p, s, &mut finder)
        })?;
        skip = finder.cut.unwrap_or(threshold);
        selection.truncated = true;
        selection.notes.push(format!(
            "kept the newest {} of {kept} selected bytes",
            kept - skip
        ));
    }

    Ok(TextDecision::Select(TextPlan {
        len: kept - skip,
        selection,
        gz,
        range,
        ctime_year: year.start,
        preamble_keep,
        skip,
        filter,
    }))
}

/// The first line start in `[pos, end)`, if any.
fn line_start_at_or_after(file: &File, pos: u64, end: u64) -> io::Result<Option<u64>> {
    if pos == 0 {
        return Ok(Some(0));
    }
    let mut at = pos - 1;
    while at < end {
        let block = read_block(file, at, end)?;
        if block.is_empty() {
            break;
        }
        if let Some(i) = memchr(b'\n', &block) {
            let start = at + i as u64 + 1;
            return Ok((start < end).then_some(start));
        }
        at += block.len() as u64;
    }
    Ok(None)
}

/// Streams the body that `plan` sized into `out`.
pub fn write(
    file: &File,
    plan: &TextPlan,
    sel: &Selection,
    cancel: &CancelToken,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut reader = source_reader(file, plan.gz, plan.range);
    if !plan.filter && !plan.gz {
        io::copy(&mut reader, out)?;
        return Ok(());
    }
    let mut emit = Emit {
        out,
        skip: plan.skip,
    };
    let mut filter = Filter::new(sel, plan.ctime_year, Some(plan.preamble_keep));
    for_each_line(&mut reader, cancel, &mut |p, s| {
        filter.piece(p, s, &mut emit)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(bytes: &[u8]) -> (tempfile::NamedTempFile, u64) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        (f, bytes.len() as u64)
    }

    fn select(bytes: &[u8], name: &str, sel: &Selection) -> Option<Vec<u8>> {
        let (f, size) = file_with(bytes);
        let cancel = CancelToken::default();
        let mtime_ms = jiff::Timestamp::now().as_millisecond();
        match plan(f.as_file(), name, size, mtime_ms, sel, &cancel).unwrap() {
            TextDecision::Whole => Some(bytes.to_vec()),
            TextDecision::Skip(_) => None,
            TextDecision::Select(p) => {
                let mut out = Vec::new();
                write(f.as_file(), &p, sel, &cancel, &mut out).unwrap();
                assert_eq!(out.len() as u64, p.len, "planned size is exact");
                Some(out)
            }
        }
    }

    fn line(ts: &str, sev: &str, msg: &str) -> String {
        format!("{{\"t\":{{\"$date\":\"{ts}\"}},\"s\":\"{sev}\",  \"c\":\"NETWORK\",  \"id\":1,   \"ctx\":\"conn1\",\"msg\":\"{msg}\"}}\n")
    }

    fn ms(s: &str) -> i64 {
        s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn keeps_whole_entries_inside_the_range_and_counts_drops() {
        let text = format!(
            "preamble line\n{}{}  continuation of b\n{}",
            line("2026-11-20T10:00:00.000+00:00", "I", "a"),
            line("2026-11-20T11:00:00.000+00:00", "W", "b"),
            line("2026-11-20T11:00:00.500+00:00", "I", "c"),
        );
        let sel = Selection {
            from_ms: Some(ms("2026-11-20T10:30:00Z")),
            to_ms: Some(ms("2026-11-20T11:00:00Z")),
            ..Selection::default()
        };
        let out = select(text.as_bytes(), "mongod.log", &sel).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                "{}  continuation of b\n",
                line("2026-11-20T11:00:00.000+00:00", "W", "b")
            )
        );
    }

    #[test]
    fn preamble_follows_the_first_entry() {
        let text = format!("orphan\n{}", line("2026-11-20T10:00:00.000Z", "I", "a"));
        let keep_all = Selection {
            level: Some(crate::request::Level::Info),
            ..Selection::default()
        };
        assert_eq!(
            select(text.as_bytes(), "x.log", &keep_all).unwrap(),
            text.as_bytes()
        );
        let warn = Selection {
            level: Some(crate::request::Level::Warn),
            ..Selection::default()
        };
        assert_eq!(select(text.as_bytes(), "x.log", &warn), None);
    }

    #[test]
    fn cap_keeps_the_newest_bytes_from_a_line_start() {
        let text = b"aaaa\nbbbb\ncccc\n";
        let sel = Selection {
            cap: Some(7),
            ..Selection::default()
        };
        assert_eq!(select(text, "x.log", &sel).unwrap(), b"cccc\n");
        let sel = Selection {
            cap: Some(10),
            ..Selection::default()
        };
        assert_eq!(select(text, "x.log", &sel).unwrap(), b"bbbb\ncccc\n");
        // No line start in the kept tail: the last N bytes as they are.
        let sel = Selection {
            cap: Some(3),
            ..Selection::default()
        };
        assert_eq!(select(text, "x.log", &sel).unwrap(), b"cc\n");
    }

    #[test]
    fn cap_applies_after_the_filter() {
        let text = format!(
            "{}{}{}",
            line("2026-11-20T10:00:00.000Z", "W", "one"),
            line("2026-11-20T10:00:01.000Z", "I", "two"),
            line("2026-11-20T10:00:02.000Z", "W", "three"),
        );
        let last = line("2026-11-20T10:00:02.000Z", "W", "three");
        let sel = Selection {
            level: Some(crate::request::Level::Warn),
            cap: Some(last.len() as u64 + 5),
            ..Selection::default()
        };
        assert_eq!(
            select(text.as_bytes(), "x.log", &sel).unwrap(),
            last.as_bytes()
        );
    }

    #[test]
    fn gz_is_decompressed_only_when_selected() {
        let text = line("2026-11-20T10:00:00.000Z", "E", "boom");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(
            select(&gz, "m.log.1.gz", &Selection::default()).unwrap(),
            gz
        );
        let sel = Selection {
            level: Some(crate::request::Level::Error),
            ..Selection::default()
        };
        assert_eq!(select(&gz, "m.log.1.gz", &sel).unwrap(), text.as_bytes());
    }

    #[test]
    fn large_sorted_file_is_narrowed_by_bisection_and_stays_exact() {
        let mut text = String::new();
        let base = ms("2026-11-20T00:00:00Z");
        let mut i = 0i64;
        while text.len() < (EXACT_SCAN_BELOW as usize) + (1 << 20) {
            // One entry per second, with an occasional small back-step.
            let t = base + i * 1000 - if i % 97 == 0 { 1500 } else { 0 };
            let ts = jiff::Timestamp::from_millisecond(t).unwrap();
            text.push_str(&line(
                &ts.strftime("%Y-%m-%dT%H:%M:%S%.3f+00:00").to_string(),
                "I",
                "x",
            ));
            i += 1;
        }
        let from = base + 20_000 * 1000;
        let to = base + 20_600 * 1000;
        let sel = Selection {
            from_ms: Some(from),
            to_ms: Some(to),
            ..Selection::default()
        };
        let out = select(text.as_bytes(), "mongod.log", &sel).unwrap();
        let mut parser = LineParser::new(2026);
        let expected: String = text
            .lines()
            .filter(|l| {
                parser
                    .parse(l.as_bytes())
                    .and_then(|e| e.millis)
                    .is_some_and(|m| m >= from && m <= to)
            })
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }
}
