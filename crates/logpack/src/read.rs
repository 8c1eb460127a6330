//! Reading one source file into bounded chunks for the writer.
//!
//! The size is fixed when the file is opened: that size goes into the tar
//! header, and exactly that many bytes follow. A file that grows is cut at
//! that size, one that shrinks (or fails mid-read) is padded with zeros, and
//! both are reported. Files are read with `read(2)`, never mapped: a live log
//! can be truncated under us, and a mapped page past the new end raises
//! SIGBUS, which would kill the host process.

use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crossbeam_channel::Sender;
use sha2::{Digest, Sha256};

use crate::error::{Failure, Stage};
use crate::run::CancelToken;
use crate::select::text::{self, At, TextDecision};
use crate::select::{ftdc, FileSelection, Selection};

/// Bytes per chunk message. Memory in flight is bounded by
/// `files in flight × (CHUNKS_PER_FILE + 1) × CHUNK_SIZE`.
pub(crate) const CHUNK_SIZE: usize = 256 * 1024;

/// Capacity of each file's chunk channel.
pub(crate) const CHUNKS_PER_FILE: usize = 4;

/// What a reader tells the writer about one file, in this order:
/// `Start`, `Data`*, `End` — or a single `Unavailable`.
pub(crate) enum Message {
    /// The file is open and its body will be exactly `size` bytes, under
    /// `name` when selection renamed it (a decompressed `.gz`).
    Start {
        size: u64,
        mtime: u64,
        name: Option<String>,
    },
    /// The next bytes of the body.
    Data(Vec<u8>),
    /// The body is complete.
    End(ReadOutcome),
    /// Nothing will be archived for this file.
    Unavailable(Unavailable),
    /// Several of the above, in order: small files travel together, so
    /// that one channel message carries up to a chunk's worth of them.
    Batch(Vec<Message>),
}

/// Why a planned file was not archived.
pub(crate) enum Unavailable {
    /// Removed between planning and reading (normal for rotated logs).
    Vanished,
    /// Became something other than a regular file.
    NotRegular(String),
    /// Could not be opened, stat'ed or selected: the component fails.
    Failed(Failure),
    /// Selection keeps nothing of it.
    NotSelected(String),
}

/// The result of reading one file completely.
pub(crate) struct ReadOutcome {
    /// SHA-256 of the body as archived (padding included).
    pub sha256: String,
    /// Growth, shrinkage and similar remarks.
    pub notes: Vec<String>,
    /// A read error: the rest of the body is zero-filled and the component fails.
    pub error: Option<Failure>,
    /// Size of the source when it was opened.
    pub source_bytes: u64,
    /// What selection did to the file.
    pub selection: FileSelection,
}

/// One file for a reader.
pub(crate) struct ReadJob {
    /// The path to open.
    pub source: PathBuf,
    /// Its name in the archive.
    pub name: String,
    /// FTDC: binary, cut only between BSON documents.
    pub ftdc: bool,
    /// The time span of an FTDC file, from the names in its directory.
    pub span: (Option<i64>, Option<i64>),
    /// What the request selects.
    pub selection: Arc<Selection>,
}

fn open_no_block(path: &Path) -> io::Result<File> {
    // O_NONBLOCK: should the path have become a FIFO since planning, opening
    // it must not wait for a writer. O_NOFOLLOW: planned paths are either
    // plain files or already-resolved symlink targets.
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_NOCTTY)
        .open(path)
}

/// Where a reader's messages go; `false` means the writer hung up.
pub(crate) type Outbox<'a> = dyn Fn(Message) -> bool + 'a;

/// Reads a job's file and hands its messages to `send`. Stops quietly when
/// the writer hangs up or the run is cancelled.
pub(crate) fn read_file(job: &ReadJob, send: &Outbox<'_>, cancel: &CancelToken) {
    let path = job.source.as_path();
    let mut file = match open_no_block(path) {
        Ok(f) => f,
        Err(e) => {
            let why = match e.kind() {
                io::ErrorKind::NotFound => Unavailable::Vanished,
                _ if e.raw_os_error() == Some(libc::ELOOP) => {
                    Unavailable::NotRegular("became a symlink after planning".into())
                }
                _ => Unavailable::Failed(Failure::io(path, Stage::Opening, &e)),
            };
            send(Message::Unavailable(why));
            return;
        }
    };
    let meta = match file.metadata() {
        Ok(m) => m,
        Err(e) => {
            send(Message::Unavailable(Unavailable::Failed(Failure::io(
                path,
                Stage::Opening,
                &e,
            ))));
            return;
        }
    };
    if !meta.file_type().is_file() {
        send(Message::Unavailable(Unavailable::NotRegular(
            "became a non-regular file after planning".into(),
        )));
        return;
    }
    advise_sequential(&file);
    let size = meta.len();
    let mtime = meta.mtime().max(0) as u64;
    if job.selection.is_active() {
        let mtime_ms = meta.mtime().saturating_mul(1000);
        match decide(&file, job, size, mtime_ms, cancel) {
            Ok(Decision::Whole) => {}
            Ok(Decision::Skip(reason)) => {
                send(Message::Unavailable(Unavailable::NotSelected(reason)));
                return;
            }
            Ok(Decision::Select {
                len,
                body,
                selection,
            }) => {
                stream_selected(&file, job, size, mtime, len, body, selection, send, cancel);
                return;
            }
            Err(_) if cancel.is_cancelled() => return,
            Err(e) => {
                send(Message::Unavailable(Unavailable::Failed(Failure::io(
                    path,
                    Stage::Selecting,
                    &e,
                ))));
                return;
            }
        }
    }
    if !send(Message::Start {
        size,
        mtime,
        name: None,
    }) {
        return;
    }

    let mut hasher = Sha256::new();
    let mut notes = Vec::new();
    let mut error = None;
    let mut padding = false; // once set, the rest of the body is zeros
    let mut done: u64 = 0;
    while done < size {
        if cancel.is_cancelled() {
            return;
        }
        let want = (size - done).min(CHUNK_SIZE as u64) as usize;
        let mut buf = vec![0u8; want];
        if !padding {
            match fill(&mut file, &mut buf) {
                Ok(got) if got < want => {
                    padding = true;
                    notes.push(format!(
                        "shrank to {} bytes during collection; zero-padded to the {size} bytes it had when opened",
                        done + got as u64
                    ));
                }
                Ok(_) => {}
                Err(e) => {
                    padding = true;
                    let stage = Stage::Reading {
                        offset: done,
                        zero_filled: size - done,
                    };
                    error = Some(Failure::io(path, stage, &e));
                }
            }
        }
        // `buf` is zero past what was read.
        hasher.update(&buf);
        done += want as u64;
        if !send(Message::Data(buf)) {
            return;
        }
    }
    if !padding {
        if let Ok(now) = file.metadata().map(|m| m.len()) {
            if now > size {
                notes.push(format!(
                    "grew by {} bytes during collection; archived the first {size}",
                    now - size
                ));
            }
        }
    }
    send(Message::End(ReadOutcome {
        sha256: hex::encode(hasher.finalize()),
        notes,
        error,
        source_bytes: size,
        selection: FileSelection::default(),
    }));
}

/// What selection makes of one opened file.
enum Decision {
    Whole,
    Skip(String),
    Select {
        len: u64,
        body: Body,
        selection: FileSelection,
    },
}

/// How a selected body is produced.
enum Body {
    Text(Box<text::TextPlan>),
    /// A byte range of the source, as it is (an FTDC tail).
    Range(u64, u64),
}

fn decide(
    file: &File,
    job: &ReadJob,
    size: u64,
    mtime_ms: i64,
    cancel: &CancelToken,
) -> io::Result<Decision> {
    let sel = &job.selection;
    if !job.ftdc {
        return Ok(
            match text::plan(file, &job.name, size, mtime_ms, sel, cancel)? {
                TextDecision::Whole => Decision::Whole,
                TextDecision::Skip(reason) => Decision::Skip(reason),
                TextDecision::Select(plan) => Decision::Select {
                    len: plan.len,
                    selection: plan.selection.clone(),
                    body: Body::Text(Box::new(plan)),
                },
            },
        );
    }
    if sel.redactor.is_some() {
        return Ok(Decision::Skip("binary FTDC cannot be redacted".into()));
    }
    if sel.has_time() && !sel.may_overlap(job.span.0, job.span.1) {
        return Ok(Decision::Skip(
            "its time span lies outside the requested time range".into(),
        ));
    }
    match sel.cap {
        Some(cap) if size > cap => match ftdc::tail_start(file, size, cap)? {
            Some(start) => Ok(Decision::Select {
                len: size - start,
                body: Body::Range(start, size),
                selection: FileSelection {
                    truncated: true,
                    notes: vec![format!(
                        "kept the newest {} of {size} bytes, whole BSON documents",
                        size - start
                    )],
                    ..FileSelection::default()
                },
            }),
            None => Ok(Decision::Skip(
                "not even one BSON document fits in sizeRequestedPerFileBytes".into(),
            )),
        },
        _ => Ok(Decision::Whole),
    }
}

/// Sends a selected body of exactly `len` bytes, whatever the source does
/// between the passes that sized it and the pass that streams it.
#[allow(clippy::too_many_arguments)]
fn stream_selected(
    file: &File,
    job: &ReadJob,
    size: u64,
    mtime: u64,
    len: u64,
    body: Body,
    mut selection: FileSelection,
    send: &Outbox<'_>,
    cancel: &CancelToken,
) {
    if !send(Message::Start {
        size: len,
        mtime,
        name: selection.name.clone(),
    }) {
        return;
    }
    let mut out = ChunkWriter {
        send,
        cancel,
        hasher: Sha256::new(),
        buf: Vec::with_capacity(CHUNK_SIZE),
        written: 0,
        len,
    };
    let streamed = match &body {
        Body::Text(plan) => text::write(file, plan, &job.selection, cancel, &mut out),
        Body::Range(start, end) => io::copy(&mut At::new(file, *start, *end), &mut out).map(|_| ()),
    };
    let mut error = None;
    if let Err(e) = streamed {
        if cancel.is_cancelled() {
            return;
        }
        error = Some(Failure::io(&job.source, Stage::ReadingSelected, &e));
    }
    let short = len - out.written.min(len);
    if short > 0 && error.is_none() {
        selection.notes.push(format!(
            "changed while it was read; zero-padded the last {short} bytes"
        ));
    }
    let Some(sha256) = out.finish() else { return };
    send(Message::End(ReadOutcome {
        sha256,
        notes: std::mem::take(&mut selection.notes),
        error,
        source_bytes: size,
        selection,
    }));
}

/// Chunks a selected body onto the channel: exactly `len` bytes, cut or
/// zero-padded, hashed as sent.
struct ChunkWriter<'a> {
    send: &'a Outbox<'a>,
    cancel: &'a CancelToken,
    hasher: Sha256,
    buf: Vec<u8>,
    written: u64,
    len: u64,
}

impl ChunkWriter<'_> {
    fn flush_chunk(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        if self.cancel.is_cancelled() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "cancelled"));
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_SIZE));
        self.hasher.update(&chunk);
        if (self.send)(Message::Data(chunk)) {
            Ok(())
        } else {
            Err(io::Error::new(io::ErrorKind::BrokenPipe, "writer stopped"))
        }
    }

    /// Pads to `len`, sends the rest; `None` when the writer hung up.
    fn finish(mut self) -> Option<String> {
        while self.written < self.len {
            let n = (self.len - self.written).min((CHUNK_SIZE - self.buf.len()) as u64) as usize;
            self.buf.resize(self.buf.len() + n, 0);
            self.written += n as u64;
            if self.buf.len() == CHUNK_SIZE {
                self.flush_chunk().ok()?;
            }
        }
        self.flush_chunk().ok()?;
        Some(hex::encode(self.hasher.finalize()))
    }
}

impl Write for ChunkWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        // Past the planned size: the source grew between passes; cut.
        let room = (self.len - self.written) as usize;
        let mut rest = &data[..data.len().min(room)];
        while !rest.is_empty() {
            let n = rest.len().min(CHUNK_SIZE - self.buf.len());
            self.buf.extend_from_slice(&rest[..n]);
            self.written += n as u64;
            rest = &rest[n..];
            if self.buf.len() == CHUNK_SIZE {
                self.flush_chunk()?;
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads until `buf` is full or EOF; returns the bytes read.
fn fill(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn advise_sequential(file: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is valid for the lifetime of `file`; the call
    // only sets a read-ahead hint and touches no memory.
    unsafe {
        libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_SEQUENTIAL);
    }
}

/// Reads several small files in order, packing their messages into
/// [`Message::Batch`]es of at most [`CHUNK_SIZE`] bytes of data each.
pub(crate) fn read_batch(jobs: &[ReadJob], tx: &Sender<Message>, cancel: &CancelToken) {
    if let [job] = jobs {
        read_file(job, &|m| tx.send(m).is_ok(), cancel);
        return;
    }
    let pending: RefCell<(Vec<Message>, usize)> = RefCell::new((Vec::new(), 0));
    let flush = || {
        let (messages, bytes) = &mut *pending.borrow_mut();
        *bytes = 0;
        messages.is_empty() || tx.send(Message::Batch(std::mem::take(messages))).is_ok()
    };
    let collect = |m: Message| {
        let size = match &m {
            Message::Data(d) => d.len(),
            _ => 0,
        };
        if pending.borrow().1 + size > CHUNK_SIZE && !flush() {
            return false;
        }
        let (messages, bytes) = &mut *pending.borrow_mut();
        messages.push(m);
        *bytes += size;
        true
    };
    for job in jobs {
        if cancel.is_cancelled() {
            return;
        }
        read_file(job, &collect, cancel);
    }
    flush();
}
