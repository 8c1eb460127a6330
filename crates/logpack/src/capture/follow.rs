//! Follows one log file through rotation (PRODUCT.md §10), in bounded
//! memory, handing out complete lines. [`Wakeup`] wakes the capture loop
//! early when a followed directory changes; the loop polls on a timer too.
//!
//! Files are known by (device, inode) and read with `pread`. On every
//! [`Follower::poll`] the path is `stat`ed and compared with the open file:
//!
//! - **The path names another file** (mongod `rename`, logrotate `create`,
//!   `reopen`, an agent's own rotation, delete and re-create): the open file
//!   is kept and drained as an *old* file, the new one is read from its start.
//!   A writer may go on writing to the old file until it reopens, so an old
//!   file is kept until it has been quiet for [`QUIET`] after the new file
//!   got data (or after [`GRACE`] if the new file stays empty), at most
//!   [`MAX_OLD`] of them. Within a poll the new file's size is taken first,
//!   then the old files are read to their ends, then the new one up to that
//!   size: a writer that moved to the new file had finished with the old
//!   one, so its lines come out in the order it wrote them, none lost or
//!   repeated.
//! - **The path is gone** (renamed away or deleted, nothing new yet): the
//!   open file is drained as an old file; the next file at the path is read
//!   from its start.
//! - **The same file shrank, or its bytes just before our offset changed**
//!   (logrotate `copytruncate`): what was not read yet is first read from
//!   logrotate's copy, if one is found next to the file (a name that starts
//!   with the file's name, e.g. `mongod.log.1` or `mongod.log-20250101`, that
//!   holds the bytes we read last at the same offset); then reading
//!   restarts at offset 0 of the truncated file. Nothing is repeated. Lost
//!   are the lines copytruncate's own race loses: those written after the
//!   copy and before the truncate that this follower had not read before the
//!   truncate (they are in neither file). Without a copy found (another
//!   directory, already compressed), everything not read at the truncate is
//!   lost too: about one poll interval of writing. A held partial line is
//!   handed out as it is at the truncation. If the file grew back past our
//!   offset before the truncation was seen and the 16 bytes before that
//!   offset happen to be identical again, it goes unseen and the start of the
//!   new content is skipped. A writer without `O_APPEND` goes on at its old
//!   offset, leaving a hole of NUL bytes (logrotate#363): holes are skipped
//!   with `SEEK_DATA`, and NUL bytes at the start of a line are dropped, so
//!   no NUL run comes out as a line.
//!
//! A line longer than [`MAX_LINE`] is handed out cut to its first
//! `MAX_LINE` bytes (`cut: true`) and the rest is skipped up to its newline.
//! Memory per follower is one 64 KiB read buffer plus at most `MAX_LINE`
//! held bytes per open file (one current, up to [`MAX_OLD`] old).
//!
//! Limits: a file that sits at the path only between two polls (less than
//! one poll interval, or while the capture loop is stalled, e.g. blocked on
//! its output) and is renamed away again is never opened, so its lines are
//! missed; an old file that is quiet past [`QUIET`] (or [`GRACE`]) is given up
//! even if its writer comes back to it later.

use std::fmt;
use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use notify::Watcher as _;

/// Longest line handed out whole; a longer one is cut to this many bytes.
pub const MAX_LINE: usize = 1 << 20;
/// An old (rotated-away) file is dropped once it has had no new data for
/// this long and the new file has data.
pub const QUIET: Duration = Duration::from_secs(1);
/// ... or, if the new file stays empty (or there is none), once it has been
/// old for this long and quiet.
pub const GRACE: Duration = Duration::from_secs(10);
/// At most this many old files are drained at once; the oldest is given up.
pub const MAX_OLD: usize = 4;

/// Bytes read per `pread`.
const CHUNK: usize = 64 << 10;
/// Bytes kept from just before the read offset, to notice a file that was
/// truncated and rewritten past that offset between two polls.
const TAIL: usize = 16;
/// A held-line buffer larger than this is freed once its line is out.
const KEEP: usize = 64 << 10;

/// A file's identity: device and inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileId {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
}

impl FileId {
    fn of(m: &std::fs::Metadata) -> FileId {
        FileId {
            dev: m.dev(),
            ino: m.ino(),
        }
    }
}

/// One complete line, without its `\n` (a `\r` before it is kept).
#[derive(Debug)]
pub struct Line<'a> {
    /// The line's bytes, at most [`MAX_LINE`].
    pub bytes: &'a [u8],
    /// The line was longer than [`MAX_LINE`]; the rest was skipped.
    pub cut: bool,
}

/// What one poll found.
#[derive(Debug, Default)]
pub struct Status {
    /// What happened to the file, each reported once.
    pub notices: Vec<Notice>,
}

/// Something that happened to the followed path, reported once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The path exists (again or for the first time); read from its start.
    Appeared,
    /// The path names a new file (rotation); the old one is drained first.
    Rotated,
    /// The path is gone (renamed away or deleted); the open file is drained.
    Gone,
    /// The file was truncated in place (copytruncate) after `at` bytes had
    /// been read; reading restarted at its start. Lines written between the
    /// rotation's copy and its truncate that were not read yet are lost.
    Truncated {
        /// Offset read up to before the truncation.
        at: u64,
        /// The copy the unread rest was read from, if one was found.
        copy: Option<PathBuf>,
    },
    /// The file cannot be opened, read or `stat`ed (the OS error); retried on
    /// every poll, reported again only after it was readable in between.
    Unreadable(String),
    /// More than [`MAX_OLD`] rotated-away files were still being written;
    /// the oldest is no longer read.
    Abandoned(FileId),
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::Appeared => f.write_str("appeared, following from its start"),
            Notice::Rotated => f.write_str("rotated, reading the rest of the old file first"),
            Notice::Gone => f.write_str("renamed away or deleted, reading the rest of it"),
            Notice::Truncated { at, copy } => {
                write!(f, "truncated after {at} bytes (copytruncate?), following from its start; ")?;
                match copy {
                    Some(copy) => write!(f, "the rest was read from {}; ", copy.display())?,
                    None => f.write_str("its copy was not found, unread lines are missing; ")?,
                }
                f.write_str("lines written between the copy and the truncate may be missing")
            }
            Notice::Unreadable(e) => write!(f, "unreadable: {e}"),
            Notice::Abandoned(id) => write!(
                f,
                "gave up on rotated file (dev {}, inode {}): more than {MAX_OLD} rotated files still written",
                id.dev, id.ino
            ),
        }
    }
}

/// One open file.
struct Source {
    file: File,
    id: FileId,
    /// Next byte to read.
    offset: u64,
    /// The last bytes before `offset`, as read.
    tail: [u8; TAIL],
    tail_len: usize,
    /// The start of a line whose newline has not arrived yet.
    held: Vec<u8>,
    /// Skipping the rest of a cut line.
    skipping: bool,
    /// Last time data was read, or the file was detached.
    active: Instant,
    /// When it stopped being the file at the path.
    detached: Option<Instant>,
}

impl Source {
    fn new(file: File, id: FileId, offset: u64) -> Source {
        let mut s = Source {
            file,
            id,
            offset,
            tail: [0; TAIL],
            tail_len: 0,
            held: Vec::new(),
            skipping: false,
            active: Instant::now(),
            detached: None,
        };
        if offset > 0 {
            // Starting mid-file: remember the tail, and skip a partial line
            // (its start was written before the capture).
            let n = (offset as usize).min(TAIL);
            if s.file
                .read_exact_at(&mut s.tail[..n], offset - n as u64)
                .is_ok()
            {
                s.tail_len = n;
                s.skipping = s.tail[n - 1] != b'\n';
            }
        }
        s
    }

    /// Whether the file was truncated (and maybe rewritten) under us.
    fn truncated(&self, size: u64) -> bool {
        if size < self.offset {
            return true;
        }
        if size == self.offset || self.tail_len == 0 {
            return false;
        }
        let mut now = [0u8; TAIL];
        let n = self.tail_len;
        match self
            .file
            .read_exact_at(&mut now[..n], self.offset - n as u64)
        {
            Ok(()) => now[..n] != self.tail[..n],
            Err(_) => false, // the read that follows reports it
        }
    }

    /// Starts over at the file's start (after a truncation).
    fn restart(&mut self, out: &mut dyn FnMut(Line<'_>)) {
        self.flush(out);
        self.skipping = false;
        self.tail_len = 0;
        self.offset = data_start(&self.file);
    }

    /// Reads up to `end` (or EOF), handing out complete lines.
    fn read(
        &mut self,
        end: u64,
        chunk: &mut [u8],
        out: &mut dyn FnMut(Line<'_>),
    ) -> io::Result<u64> {
        let mut total = 0;
        while self.offset < end {
            let want = chunk.len().min((end - self.offset) as usize);
            let n = match self.file.read_at(&mut chunk[..want], self.offset) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.offset += n as u64;
            total += n as u64;
            self.remember(&chunk[..n]);
            self.split(&chunk[..n], out);
        }
        if total > 0 {
            self.active = Instant::now();
        }
        Ok(total)
    }

    fn remember(&mut self, data: &[u8]) {
        if data.len() >= TAIL {
            self.tail.copy_from_slice(&data[data.len() - TAIL..]);
            self.tail_len = TAIL;
        } else {
            let keep = self.tail_len.min(TAIL - data.len());
            self.tail
                .copy_within(self.tail_len - keep..self.tail_len, 0);
            self.tail[keep..keep + data.len()].copy_from_slice(data);
            self.tail_len = keep + data.len();
        }
    }

    fn split(&mut self, mut data: &[u8], out: &mut dyn FnMut(Line<'_>)) {
        while !data.is_empty() {
            if self.skipping {
                match memchr::memchr(b'\n', data) {
                    Some(i) => {
                        self.skipping = false;
                        data = &data[i + 1..];
                        continue;
                    }
                    None => return,
                }
            }
            if self.held.is_empty() {
                // A line starts here: NULs before it are a truncation hole.
                let start = data.iter().position(|&b| b != 0).unwrap_or(data.len());
                data = &data[start..];
                if data.is_empty() {
                    return;
                }
            }
            let Some(i) = memchr::memchr(b'\n', data) else {
                self.hold(data, out);
                return;
            };
            let (line, rest) = (&data[..i], &data[i + 1..]);
            data = rest;
            if self.held.is_empty() {
                let cut = line.len() > MAX_LINE;
                out(Line {
                    bytes: &line[..line.len().min(MAX_LINE)],
                    cut,
                });
            } else {
                let room = MAX_LINE - self.held.len();
                let cut = line.len() > room;
                self.append(&line[..line.len().min(room)]);
                out(Line {
                    bytes: &self.held,
                    cut,
                });
                self.release();
            }
        }
    }

    /// Holds the start of a line; cuts it once it passes `MAX_LINE`.
    fn hold(&mut self, data: &[u8], out: &mut dyn FnMut(Line<'_>)) {
        let room = MAX_LINE - self.held.len();
        if data.len() <= room {
            self.append(data);
            return;
        }
        self.append(&data[..room]);
        out(Line {
            bytes: &self.held,
            cut: true,
        });
        self.release();
        self.skipping = true;
    }

    /// Appends without letting the buffer's capacity pass `MAX_LINE`.
    fn append(&mut self, data: &[u8]) {
        let need = self.held.len() + data.len();
        if need > self.held.capacity() {
            let target = need.max(self.held.capacity() * 2).min(MAX_LINE);
            self.held.reserve_exact(target - self.held.len());
        }
        self.held.extend_from_slice(data);
    }

    fn release(&mut self) {
        self.held.clear();
        if self.held.capacity() > KEEP {
            self.held = Vec::new();
        }
    }

    /// Hands out a held partial line as it is.
    fn flush(&mut self, out: &mut dyn FnMut(Line<'_>)) {
        if !self.held.is_empty() {
            out(Line {
                bytes: &self.held,
                cut: false,
            });
            self.release();
        }
    }
}

/// Finds logrotate's copy of `src`, truncated under us: a sibling whose name
/// starts with the file's and that holds the bytes we read last at the same
/// offset.
fn find_copy(path: &Path, src: &Source) -> Option<(PathBuf, File)> {
    let n = src.tail_len;
    if n == 0 {
        return None;
    }
    let name = path.file_name()?.as_encoded_bytes();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let sibling = entry.file_name();
        let sibling = sibling.as_encoded_bytes();
        if sibling.len() <= name.len() || !sibling.starts_with(name) {
            continue;
        }
        let copy = entry.path();
        let Ok(file) = File::open(&copy) else {
            continue;
        };
        let Ok(m) = file.metadata() else { continue };
        if !m.is_file() || FileId::of(&m) == src.id || m.len() < src.offset {
            continue;
        }
        let mut tail = [0u8; TAIL];
        if file
            .read_exact_at(&mut tail[..n], src.offset - n as u64)
            .is_ok()
            && tail[..n] == src.tail[..n]
        {
            return Some((copy, file));
        }
    }
    None
}

/// Where data starts in a file that may begin with a hole (a writer without
/// `O_APPEND` after a truncation): skipping it spares reading the zeros.
fn data_start(file: &File) -> u64 {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: lseek on a descriptor we own; we read with pread, so the
        // file position it moves is not used.
        let at = unsafe { libc::lseek(file.as_raw_fd(), 0, libc::SEEK_DATA) };
        if at > 0 {
            return at as u64;
        }
    }
    let _ = file;
    0
}

/// Follows one log file path through rotation; see the module doc.
pub struct Follower {
    path: PathBuf,
    cur: Option<Source>,
    /// Rotated-away files still drained, oldest first.
    olds: Vec<Source>,
    /// Where to start in the file that was at the path at the start but
    /// could not be opened then.
    start_at: Option<(FileId, u64)>,
    unreadable: bool,
    notices: Vec<Notice>,
    chunk: Box<[u8]>,
}

impl Follower {
    /// Follows `path` from its current end when `at_end` (else from its
    /// start). A file that does not exist yet is followed from its start once
    /// it appears. Problems are reported by the first [`Follower::poll`].
    pub fn new(path: PathBuf, at_end: bool) -> Follower {
        let mut f = Follower {
            path,
            cur: None,
            olds: Vec::new(),
            start_at: None,
            unreadable: false,
            notices: Vec::new(),
            chunk: vec![0; CHUNK].into_boxed_slice(),
        };
        match File::open(&f.path).and_then(|file| file.metadata().map(|m| (file, m))) {
            Ok((file, m)) => {
                let offset = if at_end { m.len() } else { 0 };
                f.cur = Some(Source::new(file, FileId::of(&m), offset));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                if at_end {
                    if let Ok(m) = std::fs::metadata(&f.path) {
                        f.start_at = Some((FileId::of(&m), m.len()));
                    }
                }
                f.unreadable(e);
            }
        }
        f
    }

    /// Reads everything new now, handing out each complete line in file
    /// order (old files before the new one). Never waits for data. Every
    /// problem is a [`Notice`] (and retried on the next poll): no input
    /// makes this return `Err` today.
    pub fn poll(&mut self, out: &mut dyn FnMut(Line<'_>)) -> io::Result<Status> {
        let now = Instant::now();
        self.check_path(now);

        // The current file's size first: see the module doc.
        let mut cur_end = 0;
        if let Some(c) = &mut self.cur {
            match c.file.metadata() {
                Ok(m) => {
                    cur_end = m.len();
                    if c.truncated(cur_end) {
                        let at = c.offset;
                        let copy = find_copy(&self.path, c).map(|(copy, file)| {
                            // Its bytes go on exactly where ours stopped.
                            let end = file.metadata().map_or(0, |m| m.len());
                            let file = std::mem::replace(&mut c.file, file);
                            let _ = c.read(end, &mut self.chunk, out);
                            c.file = file;
                            copy
                        });
                        self.notices.push(Notice::Truncated { at, copy });
                        c.restart(out);
                    }
                }
                Err(e) => report_once(&mut self.unreadable, &mut self.notices, e.to_string()),
            }
        }
        for old in &mut self.olds {
            let read = old
                .file
                .metadata()
                .and_then(|m| old.read(m.len(), &mut self.chunk, out));
            if let Err(e) = read {
                report_once(&mut self.unreadable, &mut self.notices, e.to_string());
            }
        }
        // Drop old files once their writer has surely moved on.
        let new_has_data = cur_end > 0;
        self.olds.retain_mut(|s| {
            let detached = s.detached.unwrap_or(now);
            let quiet = now.duration_since(s.active) >= QUIET;
            let done = quiet && (new_has_data || now.duration_since(detached) >= GRACE);
            if done {
                s.flush(out);
            }
            !done
        });
        while self.olds.len() > MAX_OLD {
            let mut s = self.olds.remove(0);
            s.flush(out);
            self.notices.push(Notice::Abandoned(s.id));
        }
        if let Some(c) = &mut self.cur {
            match c.read(cur_end, &mut self.chunk, out) {
                Ok(n) => {
                    if n > 0 {
                        self.unreadable = false;
                    }
                }
                Err(e) => report_once(&mut self.unreadable, &mut self.notices, e.to_string()),
            }
        }
        Ok(Status {
            notices: std::mem::take(&mut self.notices),
        })
    }

    /// Ends the capture: hands out held partial last lines (old files
    /// first). Does not read; poll first.
    pub fn finish(&mut self, out: &mut dyn FnMut(Line<'_>)) {
        for s in self.olds.iter_mut().chain(self.cur.as_mut()) {
            s.flush(out);
        }
    }

    /// Bytes of buffers held now (read buffer and partial lines): at most
    /// `64 KiB + (1 + MAX_OLD) * MAX_LINE`.
    #[cfg(test)]
    fn memory(&self) -> usize {
        self.chunk.len()
            + self
                .olds
                .iter()
                .chain(&self.cur)
                .map(|s| s.held.capacity())
                .sum::<usize>()
    }

    /// Notices rotation: compares the path's file with the open one.
    fn check_path(&mut self, now: Instant) {
        let id = match std::fs::metadata(&self.path) {
            Ok(m) => FileId::of(&m),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Some(c) = self.cur.take() {
                    self.detach(c, now);
                    self.notices.push(Notice::Gone);
                }
                return;
            }
            Err(e) => return self.unreadable(e),
        };
        if self.cur.as_ref().is_some_and(|c| c.id == id) {
            return;
        }
        // Open, then trust the descriptor's identity, not the stat's: the
        // path may have changed in between.
        let (file, id) =
            match File::open(&self.path).and_then(|f| f.metadata().map(|m| (f, FileId::of(&m)))) {
                Ok(opened) => opened,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return, // next poll
                Err(e) => return self.unreadable(e),
            };
        self.unreadable = false;
        if self.cur.as_ref().is_some_and(|c| c.id == id) {
            return;
        }
        let rotated = self.cur.is_some();
        if let Some(c) = self.cur.take() {
            self.detach(c, now);
        }
        // A file renamed away and back: go on where it was.
        let next = match self.olds.iter().position(|s| s.id == id) {
            Some(i) => {
                let mut s = self.olds.remove(i);
                s.detached = None;
                s
            }
            None => match self.start_at.take() {
                // The file that was unreadable at the start: from there.
                Some((start_id, at)) if start_id == id => {
                    self.cur = Some(Source::new(file, id, at));
                    return;
                }
                _ => Source::new(file, id, 0),
            },
        };
        self.cur = Some(next);
        self.notices.push(if rotated {
            Notice::Rotated
        } else {
            Notice::Appeared
        });
    }

    fn detach(&mut self, mut s: Source, now: Instant) {
        s.detached = Some(now);
        s.active = now;
        self.olds.push(s);
    }

    fn unreadable(&mut self, e: io::Error) {
        report_once(&mut self.unreadable, &mut self.notices, e.to_string());
    }
}

fn report_once(reported: &mut bool, notices: &mut Vec<Notice>, e: String) {
    if !*reported {
        *reported = true;
        notices.push(Notice::Unreadable(e));
    }
}

/// Wakes a capture loop early when something changes in the followed
/// files' directories (inotify through `notify`). Events can be dropped, so
/// the loop must poll on its timer anyway: [`Wakeup::wait`] returns at the
/// latest after its timeout. Without inotify (no watch could be set: limits,
/// unsupported file system, missing directories) it is a plain sleep.
pub struct Wakeup {
    rx: Option<mpsc::Receiver<()>>,
    _watcher: Option<notify::RecommendedWatcher>,
}

impl Wakeup {
    /// Watches `dirs` (not recursively). A directory created later is not
    /// watched: the timer covers it.
    pub fn new<P: AsRef<Path>>(dirs: impl IntoIterator<Item = P>) -> Wakeup {
        // One pending wakeup is enough: events only say "poll now".
        let (tx, rx) = mpsc::sync_channel(1);
        let handler = move |_: notify::Result<notify::Event>| {
            let _ = tx.try_send(());
        };
        let Ok(mut watcher) = notify::recommended_watcher(handler) else {
            return Wakeup {
                rx: None,
                _watcher: None,
            };
        };
        let mut watched = 0;
        for dir in dirs {
            if watcher
                .watch(dir.as_ref(), notify::RecursiveMode::NonRecursive)
                .is_ok()
            {
                watched += 1;
            }
        }
        if watched == 0 {
            return Wakeup {
                rx: None,
                _watcher: None,
            };
        }
        Wakeup {
            rx: Some(rx),
            _watcher: Some(watcher),
        }
    }

    /// Whether events can wake [`Wakeup::wait`] early.
    #[cfg(test)]
    fn watching(&self) -> bool {
        self.rx.is_some()
    }

    /// Waits until something changes or `timeout` passes; true when woken
    /// by an event.
    pub fn wait(&self, timeout: Duration) -> bool {
        let Some(rx) = &self.rx else {
            thread::sleep(timeout);
            return false;
        };
        match rx.recv_timeout(timeout) {
            Ok(()) => {
                while rx.try_recv().is_ok() {}
                true
            }
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => {
                thread::sleep(timeout);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::fs::{self, OpenOptions};
    use std::io::{Seek, SeekFrom, Write};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    /// Polls once; returns the lines (cut ones marked) and the notices.
    fn poll(f: &mut Follower) -> (Vec<(String, bool)>, Vec<Notice>) {
        let mut lines = Vec::new();
        let status = f
            .poll(&mut |l: Line<'_>| {
                lines.push((String::from_utf8_lossy(l.bytes).into_owned(), l.cut))
            })
            .unwrap();
        (lines, status.notices)
    }

    fn texts(lines: &[(String, bool)]) -> Vec<&str> {
        lines.iter().map(|(s, _)| s.as_str()).collect()
    }

    fn append(path: &Path, data: &[u8]) {
        let mut f = OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .unwrap();
        f.write_all(data).unwrap();
    }

    #[test]
    fn starts_at_end_skipping_a_partial_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mongod.log");
        append(&path, b"old 1\nold 2 partial");
        let mut f = Follower::new(path.clone(), true);
        assert_eq!(poll(&mut f), (vec![], vec![]));
        append(&path, b" rest\nnew 1\n");
        assert_eq!(texts(&poll(&mut f).0), ["new 1"]);

        let mut g = Follower::new(path, false);
        assert_eq!(
            texts(&poll(&mut g).0),
            ["old 1", "old 2 partial rest", "new 1"]
        );
    }

    #[test]
    fn partial_line_is_held_until_its_newline_or_finish() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mongod.log");
        append(&path, b"");
        let mut f = Follower::new(path.clone(), true);
        append(&path, b"line 000001 first ");
        assert!(poll(&mut f).0.is_empty());
        thread::sleep(Duration::from_millis(50));
        append(&path, b"half\nline 000002 no newline");
        assert_eq!(texts(&poll(&mut f).0), ["line 000001 first half"]);
        assert!(poll(&mut f).0.is_empty());
        let mut last = Vec::new();
        f.finish(&mut |l: Line<'_>| last.push(l.bytes.to_vec()));
        assert_eq!(last, [b"line 000002 no newline".to_vec()]);
    }

    #[test]
    fn missing_path_is_followed_from_its_start_once_it_appears() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("later.log");
        let mut f = Follower::new(path.clone(), true);
        assert_eq!(poll(&mut f), (vec![], vec![]));
        append(&path, b"a\nb\n");
        let (lines, notices) = poll(&mut f);
        assert_eq!(texts(&lines), ["a", "b"]);
        assert_eq!(notices, [Notice::Appeared]);
    }

    #[test]
    fn a_100_mb_line_is_cut_and_memory_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.log");
        append(&path, b"");
        let mut f = Follower::new(path.clone(), true);
        let mut w = OpenOptions::new().append(true).open(&path).unwrap();
        let piece = vec![b'x'; 1 << 20];
        let bound = CHUNK + MAX_LINE;
        let mut got = Vec::new();
        for _ in 0..100 {
            w.write_all(&piece).unwrap();
            got.extend(poll(&mut f).0.into_iter().map(|(s, cut)| (s.len(), cut)));
            assert!(f.memory() <= bound, "{} > {bound}", f.memory());
        }
        w.write_all(b"tail of the long line\nnext\n").unwrap();
        for (s, cut) in poll(&mut f).0 {
            got.push((s.len(), cut));
        }
        assert_eq!(got, [(MAX_LINE, true), (4, false)]);
        assert!(f.memory() <= CHUNK + KEEP);
    }

    #[test]
    fn a_line_of_exactly_max_line_bytes_is_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("max.log");
        let mut data = vec![b'y'; MAX_LINE];
        data.push(b'\n');
        data.extend(vec![b'z'; MAX_LINE + 1]);
        data.push(b'\n');
        append(&path, &data);
        let mut f = Follower::new(path, false);
        let lines: Vec<_> = poll(&mut f)
            .0
            .into_iter()
            .map(|(s, cut)| (s.len(), cut))
            .collect();
        assert_eq!(lines, [(MAX_LINE, false), (MAX_LINE, true)]);
    }

    #[test]
    fn truncation_restarts_at_zero_and_skips_a_nul_hole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.log");
        append(&path, b"");
        let mut f = Follower::new(path.clone(), true);
        append(&path, b"aaaa\nbbbb\n");
        assert_eq!(texts(&poll(&mut f).0), ["aaaa", "bbbb"]);

        // Shrunk: seen by size.
        fs::File::create(&path).unwrap();
        append(&path, b"cc\n");
        let (lines, notices) = poll(&mut f);
        assert_eq!(texts(&lines), ["cc"]);
        assert_eq!(notices, [Notice::Truncated { at: 10, copy: None }]);

        // Truncated and rewritten past our offset before the poll: seen by
        // the bytes before the offset.
        fs::File::create(&path).unwrap();
        append(&path, b"dddddddd\neeee\n");
        let (lines, notices) = poll(&mut f);
        assert_eq!(texts(&lines), ["dddddddd", "eeee"]);
        assert_eq!(notices, [Notice::Truncated { at: 3, copy: None }]);

        // A writer without O_APPEND goes on at its offset: a hole of NULs.
        let mut w = OpenOptions::new().write(true).open(&path).unwrap();
        w.seek(SeekFrom::End(0)).unwrap();
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        w.write_all(b"ffff\n").unwrap();
        let (lines, notices) = poll(&mut f);
        assert_eq!(texts(&lines), ["ffff"]);
        assert_eq!(notices, [Notice::Truncated { at: 14, copy: None }]);

        // NULs before a line are dropped even if not seen as a truncation.
        append(&path, b"\0\0\0\0gggg\n");
        assert_eq!(texts(&poll(&mut f).0), ["gggg"]);
    }

    #[test]
    fn copytruncate_reads_the_unread_rest_from_the_copy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mongod.log");
        append(&path, b"");
        let mut f = Follower::new(path.clone(), true);
        append(&path, b"line 1\n");
        assert_eq!(texts(&poll(&mut f).0), ["line 1"]);
        append(&path, b"line 2\nline 3 partial");
        assert_eq!(texts(&poll(&mut f).0), ["line 2"]);
        append(&path, b" rest\nline 4\n");
        // Older rotated files that do not match are passed over.
        fs::write(
            dir.path().join("mongod.log.0"),
            b"something else entirely\n",
        )
        .unwrap();
        fs::copy(&path, dir.path().join("mongod.log.1")).unwrap();
        append(&path, b"line 5 written between the copy and the truncate\n");
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        append(&path, b"line 6\n");
        let (lines, notices) = poll(&mut f);
        assert_eq!(texts(&lines), ["line 3 partial rest", "line 4", "line 6"]);
        assert_eq!(
            notices,
            [Notice::Truncated {
                at: 28,
                copy: Some(dir.path().join("mongod.log.1"))
            }]
        );
    }

    #[test]
    fn unreadable_file_is_reported_once() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            eprintln!("skipped: root reads a mode-000 file");
            return;
        }
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("locked.log");
        append(&path, b"before\n");
        // The writer's descriptor outlives the chmod.
        let mut writer = OpenOptions::new().append(true).open(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o000)).unwrap();
        let mut f = Follower::new(path.clone(), true);
        let (lines, notices) = poll(&mut f);
        assert!(lines.is_empty());
        assert!(
            matches!(notices.as_slice(), [Notice::Unreadable(_)]),
            "{notices:?}"
        );
        writer.write_all(b"while locked\n").unwrap();
        assert_eq!(poll(&mut f), (vec![], vec![]));
        assert_eq!(poll(&mut f), (vec![], vec![]));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        writer.write_all(b"after\n").unwrap();
        // Readable again: from where the capture started, silently.
        assert_eq!(
            poll(&mut f),
            (
                vec![("while locked".into(), false), ("after".into(), false)],
                vec![]
            )
        );
    }

    #[test]
    fn wakeup_returns_early_on_a_change() {
        let dir = tempfile::tempdir().unwrap();
        let wake = Wakeup::new([dir.path()]);
        if !wake.watching() {
            eprintln!("skipped: no inotify");
            return;
        }
        let path = dir.path().join("w.log");
        let writer = thread::spawn(move || {
            thread::sleep(Duration::from_millis(100));
            append(&path, b"x\n");
        });
        let start = Instant::now();
        assert!(wake.wait(Duration::from_secs(10)));
        assert!(start.elapsed() < Duration::from_secs(5));
        writer.join().unwrap();

        let plain = Wakeup::new([dir.path().join("missing")]);
        assert!(!plain.watching());
        let start = Instant::now();
        assert!(!plain.wait(Duration::from_millis(30)));
        assert!(start.elapsed() >= Duration::from_millis(30));
    }

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Mode {
        /// mongod `rename`, an agent's rotation: rename, then a new file.
        Rename,
        /// logrotate `create` + `reopen`: renamed and re-created by another
        /// tool; the writer stays on the old file for a while.
        Reopen,
        /// logrotate `copytruncate`, the writer using O_APPEND.
        CopyTruncate,
        /// The same with a writer without O_APPEND (NUL hole).
        CopyTruncateNoAppend,
        /// Deleted, then created again a bit later.
        Delete,
    }

    struct Writer {
        path: PathBuf,
        file: File,
        next: u64,
        /// Numbers written between a copy and its truncate.
        window: HashSet<u64>,
        rotations: u32,
    }

    impl Writer {
        fn open(path: &Path, append: bool) -> File {
            let mut f = OpenOptions::new()
                .create(true)
                .append(append)
                .write(true)
                .open(path)
                .unwrap();
            f.seek(SeekFrom::End(0)).unwrap();
            f
        }

        fn line(&mut self) -> u64 {
            self.next += 1;
            // One write(2) per line, as loggers do.
            self.file
                .write_all(format!("line {:06}\n", self.next).as_bytes())
                .unwrap();
            self.next
        }

        /// About 3,000 lines a second for `d`.
        fn write_for(&mut self, d: Duration) -> Vec<u64> {
            let mut written = Vec::new();
            let until = Instant::now() + d;
            while Instant::now() < until {
                for _ in 0..10 {
                    written.push(self.line());
                }
                thread::sleep(Duration::from_millis(3));
            }
            written
        }

        fn rotate(&mut self, mode: Mode) {
            // A burst just before: likely still unread when the file moves.
            for _ in 0..50 {
                self.line();
            }
            self.rotations += 1;
            let moved = self.path.with_extension(format!("log.{}", self.rotations));
            match mode {
                Mode::Rename => {
                    fs::rename(&self.path, &moved).unwrap();
                    self.file = Writer::open(&self.path, true);
                }
                Mode::Reopen => {
                    fs::rename(&self.path, &moved).unwrap();
                    File::create(&self.path).unwrap();
                    // The writer stays on the old file until it reopens, and
                    // ends there with a burst the follower has likely not
                    // read when the new file gets lines.
                    self.write_for(Duration::from_millis(100));
                    for _ in 0..50 {
                        self.line();
                    }
                    self.file = Writer::open(&self.path, true);
                }
                Mode::CopyTruncate | Mode::CopyTruncateNoAppend => {
                    fs::copy(&self.path, &moved).unwrap();
                    // Lines written after the copy: the follower may read
                    // them before the truncate (slow window) or not (none).
                    let late = if self.rotations % 2 == 0 {
                        (0..20).map(|_| self.line()).collect()
                    } else {
                        self.write_for(Duration::from_millis(10))
                    };
                    self.window.extend(late);
                    OpenOptions::new()
                        .write(true)
                        .open(&self.path)
                        .unwrap()
                        .set_len(0)
                        .unwrap();
                }
                Mode::Delete => {
                    fs::remove_file(&self.path).unwrap();
                    thread::sleep(Duration::from_millis(60));
                    self.file = Writer::open(&self.path, true);
                }
            }
        }
    }

    /// Writes numbered lines while rotating every ~300 ms in each mode in
    /// turn, with a follower polling concurrently; checks what came out.
    fn rotate_while_following(modes: &[Mode], rotations: u32) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mongod.log");
        append(&path, b"written before the capture\n");
        let mut follower = Follower::new(path.clone(), true);

        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let (done, dir) = (done.clone(), dir.path().to_path_buf());
            thread::spawn(move || {
                let wake = Wakeup::new([dir]);
                let (mut lines, mut notices) = (Vec::new(), Vec::new());
                loop {
                    let last = done.load(Ordering::SeqCst);
                    let status = follower
                        .poll(&mut |l: Line<'_>| {
                            lines.push(String::from_utf8_lossy(l.bytes).into_owned())
                        })
                        .unwrap();
                    notices.extend(status.notices);
                    if last {
                        break;
                    }
                    wake.wait(Duration::from_millis(25));
                }
                follower.finish(&mut |l: Line<'_>| {
                    lines.push(String::from_utf8_lossy(l.bytes).into_owned())
                });
                (lines, notices)
            })
        };

        let mut w = Writer {
            path: path.clone(),
            file: Writer::open(&path, true),
            next: 0,
            window: HashSet::new(),
            rotations: 0,
        };
        for &mode in modes {
            let append = mode != Mode::CopyTruncateNoAppend;
            w.file = Writer::open(&path, append);
            for _ in 0..rotations {
                w.write_for(Duration::from_millis(300));
                w.rotate(mode);
            }
        }
        w.write_for(Duration::from_millis(100));
        done.store(true, Ordering::SeqCst);
        let (lines, notices) = reader.join().unwrap();

        let mut seen = Vec::new();
        for line in &lines {
            let n = line
                .strip_prefix("line ")
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("unexpected line {line:?}"));
            seen.push(n);
        }
        assert!(
            seen.windows(2).all(|p| p[0] < p[1]),
            "out of order or repeated"
        );
        let seen: HashSet<u64> = seen.into_iter().collect();
        let missing: Vec<u64> = (1..=w.next).filter(|n| !seen.contains(n)).collect();
        let unexplained: Vec<u64> = missing
            .iter()
            .copied()
            .filter(|n| !w.window.contains(n))
            .collect();
        assert!(
            unexplained.is_empty(),
            "{} of {} lines missing outside a copy-truncate window, first {:?}; notices {notices:?}",
            unexplained.len(),
            w.next,
            &unexplained[..unexplained.len().min(10)]
        );
        assert!(w.next > 1000, "the writer wrote only {} lines", w.next);
        eprintln!(
            "{modes:?}: {} lines written, {} handed out, {} lost in copy-truncate windows of {}, notices {}",
            w.next,
            seen.len(),
            missing.len(),
            w.window.len(),
            notices.len()
        );
    }

    #[test]
    fn rotation_by_rename() {
        rotate_while_following(&[Mode::Rename], 5);
    }

    #[test]
    fn rotation_by_reopen() {
        rotate_while_following(&[Mode::Reopen], 5);
    }

    #[test]
    fn rotation_by_copytruncate() {
        rotate_while_following(&[Mode::CopyTruncate], 5);
    }

    #[test]
    fn rotation_by_copytruncate_without_o_append() {
        rotate_while_following(&[Mode::CopyTruncateNoAppend], 5);
    }

    #[test]
    fn rotation_by_delete_and_recreate() {
        rotate_while_following(&[Mode::Delete], 5);
    }

    #[test]
    fn rotation_of_every_kind_in_turn() {
        use Mode::*;
        rotate_while_following(
            &[Rename, Reopen, CopyTruncate, CopyTruncateNoAppend, Delete],
            2,
        );
    }
}
