//! The collection pipeline: readers on the engine's pool feed bounded
//! per-batch channels; one writer, on the caller's thread, takes the batches
//! in plan order and builds the archive; gzip blocks are deflated on the
//! engine's second pool.
//!
//! ```text
//!  dispatcher thread ──(batch i's receiver, bounded: WINDOW)──▶ writer (caller's thread)
//!        │ spawn_fifo(read batch i)                               ▲        │ 1 MiB blocks
//!        ▼                                                        │        ▼
//!  reader pool ──(chunks of batch i, bounded: CHUNKS_PER_FILE)────┘   compression pool
//! ```
//!
//! A batch is one large file or up to 256 small ones. Readers start in plan
//! order (FIFO), so the batch the writer waits for is always being read or
//! already read: the bounded channels cannot deadlock. The writer never runs
//! on a pool worker.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Write};
use std::sync::Arc;

use crossbeam_channel::{bounded, Receiver};
use jiff::Timestamp;

use crate::archive::ArchiveWriter;
use crate::error::{Error, Result};
use crate::manifest::{self, ChildJob, FileRecord, Manifest, Status};
use crate::read::{self, Message, ReadJob, ReadOutcome, Unavailable, CHUNKS_PER_FILE};
use crate::request::{LogType, Request};
use crate::select::{self, Selection};
use crate::walk::{Plan, Skipped};
use crate::{CancelToken, Engine};

/// Batches whose readers may run ahead of the writer, per pool thread.
const WINDOW_PER_THREAD: usize = 2;

/// Progress callback: `(done_bytes, total_bytes)`; return `false` to cancel.
pub type ProgressFn<'a> = dyn FnMut(u64, u64) -> bool + 'a;

/// Files below this size are read in batches: one reader job and one
/// channel for many of them, instead of one each.
const SMALL_FILE: u64 = 64 * 1024;

/// A batch holds at most this many bytes of small files, or this many files.
const BATCH_BYTES: u64 = 1 << 20;
const BATCH_FILES: usize = 256;

/// Consecutive files of one component, read in order by one reader job
/// into one channel.
struct Batch {
    component: usize,
    files: std::ops::Range<usize>,
    rx: Receiver<Message>,
}

/// Splits the plan into batches (a large file is a batch of its own) and
/// starts a reader job for each, in archive order.
fn dispatch(
    engine: &Engine,
    plan: &Plan,
    selection: &Arc<Selection>,
    order: &crossbeam_channel::Sender<Batch>,
    cancel: &CancelToken,
) {
    for (ci, component) in plan.components.iter().enumerate() {
        let ftdc = component.log_type == LogType::Ftdc;
        let names: Vec<&str> = component.files.iter().map(|f| f.name.as_str()).collect();
        let spans = if ftdc {
            select::ftdc::spans(&names)
        } else {
            Vec::new()
        };
        let mut start = 0;
        while start < component.files.len() {
            if cancel.is_cancelled() {
                return;
            }
            let mut end = start + 1;
            let mut bytes = component.files[start].size;
            while end < component.files.len()
                && bytes < BATCH_BYTES
                && end - start < BATCH_FILES
                && component.files[start].size <= SMALL_FILE
                && component.files[end].size <= SMALL_FILE
            {
                bytes += component.files[end].size;
                end += 1;
            }
            let (tx, rx) = bounded(CHUNKS_PER_FILE);
            if order
                .send(Batch {
                    component: ci,
                    files: start..end,
                    rx,
                })
                .is_err()
            {
                return; // the writer stopped
            }
            let jobs: Vec<ReadJob> = (start..end)
                .map(|fi| ReadJob {
                    source: component.files[fi].source.clone(),
                    name: component.files[fi].name.clone(),
                    ftdc,
                    span: spans.get(fi).copied().unwrap_or((None, None)),
                    selection: selection.clone(),
                })
                .collect();
            let cancel = cancel.clone();
            engine
                .pool()
                .spawn_fifo(move || read::read_batch(&jobs, &tx, &cancel));
            start = end;
        }
    }
}

/// Whether a tar.gz stores an entry instead of deflating it: FTDC and a
/// rotated `.gz` archived as is are compressed already, so deflate would
/// spend CPU for almost nothing. Only large ones: a small entry is not worth
/// cutting a gzip block for, and its tar header and padding would be stored
/// too. Consecutive stored entries share blocks.
fn stored_in_gzip(log_type: LogType, archived_name: &str, source_name: &str, size: u64) -> bool {
    const STORE_AT_LEAST: u64 = 256 * 1024;
    let compressed = log_type == LogType::Ftdc
        || (archived_name == source_name && archived_name.ends_with(".gz"));
    compressed && size >= STORE_AT_LEAST
}

/// A batch's messages as the writer takes them, [`Message::Batch`]es unpacked.
struct Inbox {
    rx: Receiver<Message>,
    pending: std::collections::VecDeque<Message>,
}

impl Inbox {
    fn recv(&mut self) -> Result<Message, crossbeam_channel::RecvError> {
        loop {
            if let Some(m) = self.pending.pop_front() {
                return Ok(m);
            }
            match self.rx.recv()? {
                Message::Batch(messages) => self.pending.extend(messages),
                m => return Ok(m),
            }
        }
    }
}

/// What a run produced besides the archive.
pub(crate) struct Collected {
    pub manifest: Manifest,
    /// Redaction tokens and the values they replace.
    pub tokens: BTreeMap<String, String>,
}

/// What the writer learnt about each component while archiving it.
#[derive(Default)]
struct ChildState {
    start: Option<Timestamp>,
    finish: Option<Timestamp>,
    files: Vec<FileRecord>,
    skipped: Vec<Skipped>,
    errors: Vec<String>,
}

impl ChildState {
    /// Records an archived file.
    fn record(
        &mut self,
        name: String,
        size: u64,
        outcome: ReadOutcome,
        tokens: &mut BTreeMap<String, String>,
    ) {
        if let Some(e) = &outcome.error {
            self.errors.push(e.clone());
        }
        let picked = outcome.selection;
        tokens.extend(picked.tokens);
        let mut notes = picked.notes;
        notes.extend(outcome.notes);
        self.files.push(FileRecord {
            name,
            source_bytes: outcome.source_bytes,
            archived_bytes: size,
            sha256: outcome.sha256,
            truncated: picked.truncated,
            lines_dropped: picked.lines_dropped,
            redactions: picked.redactions,
            notes,
        });
    }

    /// Records a planned file that was not archived.
    fn unavailable(&mut self, name: &str, why: Unavailable) {
        let reason = match why {
            Unavailable::Failed(e) => return self.errors.push(e),
            Unavailable::Vanished => "removed before it could be read (rotated away)".to_string(),
            Unavailable::NotRegular(reason) | Unavailable::NotSelected(reason) => reason,
        };
        self.skipped.push(Skipped {
            name: name.to_string(),
            reason,
        });
    }
}

/// Tracks bytes for the progress callback and turns `false` into cancellation.
struct Progress<'p, 'a> {
    callback: Option<&'p mut ProgressFn<'a>>,
    done: u64,
    total: u64,
    /// What the callback was last told.
    reported: Option<(u64, u64)>,
    cancel: CancelToken,
}

impl Progress<'_, '_> {
    fn advance(&mut self, bytes: u64) {
        self.done += bytes;
        self.report((self.done.min(self.total), self.total));
    }

    /// The final call, `done == total`, unless the last one said that already.
    fn complete(&mut self) {
        let total = self.total.max(self.done);
        if self.reported != Some((total, total)) {
            self.report((total, total));
        }
    }

    fn report(&mut self, now: (u64, u64)) {
        self.reported = Some(now);
        if let Some(cb) = self.callback.as_mut() {
            if !cb(now.0, now.1) {
                self.cancel.cancel();
            }
        }
    }
}

/// The body of one entry, pulled from its reader's channel.
struct EntryBody<'r, 'p, 'a> {
    inbox: &'r mut Inbox,
    chunk: Vec<u8>,
    pos: usize,
    outcome: Option<ReadOutcome>,
    progress: &'r mut Progress<'p, 'a>,
    cancelled: bool,
}

impl Read for EntryBody<'_, '_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.chunk.len() {
            if self.progress.cancel.is_cancelled() {
                self.cancelled = true;
                return Err(io::Error::other("cancelled"));
            }
            match self.inbox.recv() {
                Ok(Message::Data(chunk)) => {
                    self.progress.advance(chunk.len() as u64);
                    self.chunk = chunk;
                    self.pos = 0;
                }
                Ok(Message::End(outcome)) => {
                    self.outcome = Some(outcome);
                    return Ok(0);
                }
                Ok(_) | Err(_) => {
                    // The reader stopped: cancelled, or it panicked.
                    self.cancelled = self.progress.cancel.is_cancelled();
                    return Ok(0);
                }
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

pub(crate) fn timestamp_string(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn new_job_id() -> String {
    let bytes: [u8; 12] = rand::random();
    hex::encode(bytes)
}

/// Runs the whole collection into `out` and returns the manifest and the output.
pub(crate) fn run<W: Write>(
    engine: &Engine,
    request: &Request,
    plan: &Plan,
    created: Timestamp,
    out: W,
    selection: &Arc<Selection>,
    progress: Option<&mut ProgressFn<'_>>,
) -> Result<(Collected, W)> {
    let options = engine.options();
    let cancel = engine.cancel_token();
    let output_error = |source: io::Error| Error::Output {
        target: "<writer>".into(),
        source,
    };
    let mut archive = ArchiveWriter::new(
        out,
        options.format,
        options.level(),
        options.threads,
        engine.compress_pool(),
    )
    .map_err(output_error)?;
    let mut progress = Progress {
        callback: progress,
        done: 0,
        total: plan.total_bytes(),
        reported: None,
        cancel: cancel.clone(),
    };
    let mut states: HashMap<usize, ChildState> = HashMap::new();
    let mut tokens: BTreeMap<String, String> = BTreeMap::new();
    let window = WINDOW_PER_THREAD * options.threads.max(1);

    let written = std::thread::scope(|scope| -> Result<()> {
        let (order_tx, order_rx) = bounded::<Batch>(window);
        let dispatcher_cancel = cancel.clone();
        scope.spawn(move || dispatch(engine, plan, selection, &order_tx, &dispatcher_cancel));

        for batch in order_rx.iter() {
            let component = &plan.components[batch.component];
            let state = states.entry(batch.component).or_default();
            state.start.get_or_insert_with(Timestamp::now);
            let mut inbox = Inbox {
                rx: batch.rx,
                pending: std::collections::VecDeque::new(),
            };
            for fi in batch.files {
                if cancel.is_cancelled() {
                    return Err(Error::Cancelled);
                }
                let file = &component.files[fi];
                match inbox.recv() {
                    Ok(Message::Start { size, mtime, name }) => {
                        let name = name.unwrap_or_else(|| file.name.clone());
                        let path = format!("{}/{}", component.archive_dir, name);
                        let mut body = EntryBody {
                            inbox: &mut inbox,
                            chunk: Vec::new(),
                            pos: 0,
                            outcome: None,
                            progress: &mut progress,
                            cancelled: false,
                        };
                        let store = stored_in_gzip(component.log_type, &name, &file.name, size);
                        let appended = archive.append(&path, size, mtime, store, &mut body);
                        if body.cancelled || cancel.is_cancelled() {
                            return Err(Error::Cancelled);
                        }
                        appended.map_err(output_error)?;
                        let outcome = match body.outcome {
                            Some(o) => o,
                            // append_data stops at the header size, before End.
                            None => match inbox.recv() {
                                Ok(Message::End(o)) => o,
                                _ if cancel.is_cancelled() => return Err(Error::Cancelled),
                                _ => {
                                    return Err(output_error(io::Error::other(format!(
                                        "the reader of {} stopped unexpectedly",
                                        file.source.display()
                                    ))))
                                }
                            },
                        };
                        state.record(name, size, outcome, &mut tokens);
                    }
                    Ok(Message::Unavailable(why)) => state.unavailable(&file.name, why),
                    Ok(_) | Err(_) => {
                        if cancel.is_cancelled() {
                            return Err(Error::Cancelled);
                        }
                        state.errors.push(format!(
                            "{}: the reader stopped unexpectedly",
                            file.source.display()
                        ));
                    }
                }
            }
            state.finish = Some(Timestamp::now());
        }
        Ok(())
    });

    if let Err(e) = written {
        archive.abandon();
        return Err(e);
    }
    if cancel.is_cancelled() {
        archive.abandon();
        return Err(Error::Cancelled);
    }

    let manifest = build_manifest(request, plan, created, states);
    let json = serde_json::to_vec_pretty(&manifest).expect("the manifest always serializes");
    let finished = Timestamp::now().as_second().max(0) as u64;
    let appended = archive.append(
        manifest::MANIFEST_NAME,
        json.len() as u64,
        finished,
        false,
        &mut &json[..],
    );
    if let Err(e) = appended {
        archive.abandon();
        return Err(output_error(e));
    }
    let out = archive.finish().map_err(output_error)?;
    progress.complete();
    Ok((Collected { manifest, tokens }, out))
}

fn build_manifest(
    request: &Request,
    plan: &Plan,
    created: Timestamp,
    mut states: HashMap<usize, ChildState>,
) -> Manifest {
    let planned = timestamp_string(created);
    let mut children = Vec::with_capacity(plan.components.len());
    for (ci, c) in plan.components.iter().enumerate() {
        let state = states.remove(&ci).unwrap_or_default();
        let mut errors: Vec<String> = c.error.iter().cloned().collect();
        errors.extend(state.errors);
        let mut skipped = c.skipped.clone();
        skipped.extend(state.skipped);
        let bytes = state.files.iter().map(|f| f.archived_bytes).sum();
        children.push(ChildJob {
            host_name: c.host_name.clone(),
            log_collection_type: c.log_type.as_str().to_string(),
            path: c.archive_dir.clone(),
            status: if errors.is_empty() {
                Status::Success
            } else {
                Status::Failure
            },
            error_message: (!errors.is_empty()).then(|| errors.join("; ")),
            start_date: state
                .start
                .map(timestamp_string)
                .unwrap_or_else(|| planned.clone()),
            finish_date: state
                .finish
                .map(timestamp_string)
                .unwrap_or_else(|| planned.clone()),
            uncompressed_disk_space_bytes: bytes,
            files: state.files,
            skipped,
            notes: c.notes.clone(),
        });
    }
    let failed = children.iter().any(|c| c.status == Status::Failure);
    Manifest {
        engine: manifest::Engine {
            name: "logpack".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        id: new_job_id(),
        status: if failed {
            Status::Failure
        } else {
            Status::Success
        },
        creation_date: planned,
        finish_date: timestamp_string(Timestamp::now()),
        resource_type: request.resource_type.clone(),
        resource_name: request.resource_name.clone(),
        log_types: request
            .log_types
            .iter()
            .map(|t| t.as_str().to_string())
            .collect(),
        redacted: request.redacted,
        size_requested_per_file_bytes: request.size_requested_per_file_bytes,
        log_collection_from_date: request.from.map(|t| t.to_string()),
        log_collection_to_date: request.to.map(|t| t.to_string()),
        level: request.level.map(|l| format!("{l:?}").to_uppercase()),
        uncompressed_size_total_bytes: children
            .iter()
            .map(|c| c.uncompressed_disk_space_bytes)
            .sum(),
        size_limit_hit: children.iter().flat_map(|c| &c.files).any(|f| f.truncated),
        child_jobs: children,
    }
}
