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
//!
//! With one thread there are no channels and no other threads: the caller's
//! thread reads each file straight into the archive and deflates the blocks
//! itself, so `threads = 1` means one core, and the bytes are the same.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::io::{self, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crossbeam_channel::{bounded, Receiver};
use jiff::Timestamp;

use crate::archive::index::Index;
use crate::archive::{ArchiveWriter, Finish, Format, Written};
use crate::error::{Error, Failure, Result, Stage};
use crate::manifest::{
    self, timestamp_string, ChildJob, FileRecord, Manifest, RunManifest, Spilled, Status,
};
use crate::read::{self, Message, ReadJob, ReadOutcome, Unavailable, CHUNKS_PER_FILE};
use crate::redact::Redactor;
use crate::request::{LogType, Request};
use crate::run::{CancelToken, ProgressFn};
use crate::select::{self, Selection};
use crate::spill::Spill;
use crate::walk::{join_failures, source_dir_token, Plan, Skipped};

/// Batches whose readers may run ahead of the writer, per pool thread.
const WINDOW_PER_THREAD: usize = 2;

/// Files below this size are read in batches: one reader job and one
/// channel for many of them, instead of one each.
const SMALL_FILE: u64 = 64 * 1024;

/// A batch holds at most this many bytes of small files, or this many files.
const BATCH_BYTES: u64 = 1 << 20;
const BATCH_FILES: usize = 256;

/// Consecutive files of one component, read in order by one reader job.
struct Batch {
    component: usize,
    jobs: Vec<ReadJob>,
}

impl Batch {
    /// What the writer needs to know of each file: name and path.
    fn files(&self) -> VecDeque<BatchFile> {
        self.jobs
            .iter()
            .map(|j| BatchFile {
                name: j.name.clone(),
                source: j.source.clone(),
            })
            .collect()
    }
}

/// A planned file as the writer tracks it.
struct BatchFile {
    name: String,
    source: PathBuf,
}

/// Splits the plan into batches in archive order (a large file is a batch
/// of its own, small ones go together) and hands each to `take`, until it
/// returns `false` or the run is cancelled. The plan's lists are streamed,
/// never loaded whole; failing to read them back fails the run.
fn for_each_batch(
    plan: &Plan,
    selection: &Arc<Selection>,
    cancel: &CancelToken,
    mut take: impl FnMut(Batch) -> bool,
) -> io::Result<()> {
    for (ci, component) in plan.components.iter().enumerate() {
        let ftdc = component.log_type.layout().binary;
        let mut spans = ftdc.then(|| {
            let dated =
                || {
                    component.files.iter().enumerate().filter_map(|(i, f)| {
                        Some((i, select::ftdc::start_from_name(&f.ok()?.name)?))
                    })
                };
            select::ftdc::Spans::new(dated(), dated().map(|(_, start)| start).max())
        });
        let mut files = component.files.iter().enumerate().peekable();
        while let Some((first, file)) = files.next() {
            if cancel.is_cancelled() {
                return Ok(());
            }
            let mut batch = vec![file?];
            let mut bytes = batch[0].size;
            while bytes < BATCH_BYTES
                && batch.len() < BATCH_FILES
                && batch[0].size <= SMALL_FILE
                && files
                    .peek()
                    .is_some_and(|(_, f)| f.as_ref().is_ok_and(|f| f.size <= SMALL_FILE))
            {
                let (_, file) = files.next().expect("peeked");
                let file = file?;
                bytes += file.size;
                batch.push(file);
            }
            let jobs = batch
                .into_iter()
                .enumerate()
                .map(|(k, file)| ReadJob {
                    source: component.source_of(&file),
                    span: spans
                        .as_mut()
                        .map_or((None, None), |s| s.span(first + k, &file.name)),
                    name: file.name,
                    ftdc,
                    selection: selection.clone(),
                })
                .collect();
            if !take(Batch {
                component: ci,
                jobs,
            }) {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Writes every batch with readers on the engine's pool: a dispatcher
/// thread starts one reader job per batch, in archive order (FIFO), and
/// hands the writer the batch's bounded channel.
fn write_threaded<W: Write>(
    pools: &Pools<'_>,
    plan: &Plan,
    selection: &Arc<Selection>,
    cancel: &CancelToken,
    assembler: &mut Assembler<'_, '_, '_, W>,
) -> Result<()> {
    let cancel = cancel.clone();
    let window = WINDOW_PER_THREAD * pools.threads.max(1);
    std::thread::scope(|scope| {
        let (order_tx, order_rx) =
            bounded::<(usize, VecDeque<BatchFile>, Receiver<Message>)>(window);
        let dispatcher = scope.spawn(move || {
            for_each_batch(plan, selection, &cancel, |batch| {
                let (tx, rx) = bounded(CHUNKS_PER_FILE);
                if order_tx.send((batch.component, batch.files(), rx)).is_err() {
                    return false; // the writer stopped
                }
                let cancel = cancel.clone();
                pools
                    .readers
                    .spawn_fifo(move || read::read_batch(&batch.jobs, &tx, &cancel));
                true
            })
        });
        for (component, files, rx) in order_rx.iter() {
            assembler.begin_batch(component, files)?;
            while !assembler.batch_done() {
                match rx.recv() {
                    Ok(message) => assembler.accept(message)?,
                    Err(_) => assembler.reader_stopped()?,
                }
            }
        }
        match dispatcher.join() {
            Ok(listed) => listed.map_err(plan_error),
            Err(_) => Err(Error::Scratch(io::Error::other(
                "internal error: the plan's dispatcher panicked",
            ))),
        }
    })
}

/// Writes every batch on the caller's thread: each file is read straight
/// into the archive, with no other thread involved.
fn write_inline<W: Write>(
    plan: &Plan,
    selection: &Arc<Selection>,
    cancel: &CancelToken,
    assembler: &mut Assembler<'_, '_, '_, W>,
) -> Result<()> {
    let assembler = RefCell::new(assembler);
    let failed: RefCell<Option<Error>> = RefCell::new(None);
    let send = |message: Message| match assembler.borrow_mut().accept(message) {
        Ok(()) => true,
        Err(e) => {
            failed.borrow_mut().get_or_insert(e);
            false
        }
    };
    let listed = for_each_batch(plan, selection, cancel, |batch| {
        let begun = assembler
            .borrow_mut()
            .begin_batch(batch.component, batch.files());
        if let Err(e) = begun {
            failed.borrow_mut().get_or_insert(e);
            return false;
        }
        for job in &batch.jobs {
            read::read_file(job, &send, cancel);
            if failed.borrow().is_some() {
                return false;
            }
        }
        // A reader that returned early (cancelled) left files unaccounted for.
        while !assembler.borrow().batch_done() {
            if let Err(e) = assembler.borrow_mut().reader_stopped() {
                failed.borrow_mut().get_or_insert(e);
                return false;
            }
        }
        true
    });
    match failed.into_inner() {
        Some(e) => Err(e),
        None => listed.map_err(plan_error),
    }
}

/// The plan's lists could not be read back from their temporary file.
fn plan_error(e: io::Error) -> Error {
    Error::Scratch(io::Error::new(
        e.kind(),
        format!("cannot read the plan back: {e}"),
    ))
}

/// Whether an entry's body is likely compressed already (FTDC, a rotated
/// `.gz` archived as is): a tar.gz then stores its incompressible stretches
/// instead of deflating them, which would spend CPU for almost nothing.
fn precompressed(log_type: LogType, archived_name: &str, source_name: &str) -> bool {
    log_type.layout().binary || (archived_name == source_name && archived_name.ends_with(".gz"))
}

/// What a run produced besides the archive.
pub(crate) struct Collected {
    pub manifest: RunManifest,
    /// Redaction tokens and the values they replace.
    pub tokens: BTreeMap<String, String>,
    /// Where each child's fragment lies in the output.
    pub index: Option<Index>,
}

/// The engine's threads, as a run uses them.
pub(crate) struct Pools<'e> {
    /// Readers (and planning).
    pub readers: &'e rayon::ThreadPool,
    /// gzip compressors; none with one thread.
    pub compressors: Option<&'e rayon::ThreadPool>,
    /// Threads per pool; 1 runs everything on the caller's thread.
    pub threads: usize,
}

/// What a run takes from its spec and the engine.
pub(crate) struct Settings<'s> {
    pub format: Format,
    pub level: i32,
    pub id: &'s str,
    pub created: Timestamp,
    pub cancel: &'s CancelToken,
    pub finish: Finish,
}

/// A child's error messages past this many are counted, not kept.
const MAX_ERRORS: usize = 100;

/// What the writer learnt about each component while archiving it. Its
/// file records and skipped entries go to the run's [`Records`].
#[derive(Default)]
struct ChildState {
    start: Option<Timestamp>,
    finish: Option<Timestamp>,
    /// The child's records in each spill, once the writer reached it.
    files: Option<(Range<u64>, usize)>,
    skipped: Option<(Range<u64>, usize)>,
    archived_bytes: u64,
    truncated: bool,
    /// The run's failures, the first `MAX_ERRORS` of them.
    failures: Vec<Failure>,
    more_failures: usize,
}

impl ChildState {
    fn fail(&mut self, failure: Failure) {
        if self.failures.len() < MAX_ERRORS {
            self.failures.push(failure);
        } else {
            self.more_failures += 1;
        }
    }

    /// The child's `errorMessage`: the planning failures, then the run's,
    /// at most `MAX_ERRORS` in all and a count of the rest; `None` when
    /// there are none. With `redact`, paths under the component's source
    /// directory show its token instead.
    fn error_message(&self, planning: &[Failure], redact: Option<(&Path, &str)>) -> Option<String> {
        let all = planning.len() + self.failures.len() + self.more_failures;
        if all == 0 {
            return None;
        }
        let shown: Vec<Failure> = planning
            .iter()
            .chain(&self.failures)
            .take(MAX_ERRORS)
            .cloned()
            .map(|mut f| {
                if let Some((dir, token)) = redact {
                    f.redact_dir(dir, token);
                }
                f
            })
            .collect();
        let mut message = join_failures(&shown);
        if all > shown.len() {
            message.push_str(&format!("; and {} more errors", all - shown.len()));
        }
        Some(message)
    }
}

/// The manifest's per-file records while a run writes them: each child's
/// are contiguous in each spill, because the writer takes the children in
/// plan order.
struct Records {
    files: Spill,
    skipped: Spill,
    /// The child whose records are being appended.
    open: Option<usize>,
}

impl Records {
    fn new() -> Records {
        Records {
            files: Spill::new("the manifest's records"),
            skipped: Spill::new("the manifest's records"),
            open: None,
        }
    }

    /// Makes `component` the child being appended to; its planned skipped
    /// entries go first.
    fn open(&mut self, component: usize, plan: &Plan, states: &mut [ChildState]) -> io::Result<()> {
        if self.open == Some(component) {
            return Ok(());
        }
        self.close(states);
        let state = &mut states[component];
        let (files_at, skipped_at) = (self.files.position(), self.skipped.position());
        for s in plan.components[component].skipped.iter() {
            self.skipped.append(&s?)?;
        }
        let planned_skips = plan.components[component].skipped.len();
        state.files = Some((files_at..files_at, 0));
        state.skipped = Some((skipped_at..skipped_at, planned_skips));
        self.open = Some(component);
        Ok(())
    }

    /// Ends the open child's runs at the spills' current positions.
    fn close(&mut self, states: &mut [ChildState]) {
        if let Some(open) = self.open.take() {
            let state = &mut states[open];
            if let Some((range, _)) = &mut state.files {
                range.end = self.files.position();
            }
            if let Some((range, _)) = &mut state.skipped {
                range.end = self.skipped.position();
            }
        }
    }

    /// Records an archived file of the open child.
    fn file(
        &mut self,
        state: &mut ChildState,
        name: String,
        size: u64,
        outcome: ReadOutcome,
        tokens: &mut BTreeMap<String, String>,
    ) -> io::Result<()> {
        if let Some(f) = outcome.error {
            state.fail(f);
        }
        let picked = outcome.selection;
        tokens.extend(picked.tokens);
        let mut notes = picked.notes;
        notes.extend(outcome.notes);
        state.archived_bytes += size;
        state.truncated |= picked.truncated;
        self.files.append(&FileRecord {
            name,
            source_bytes: outcome.source_bytes,
            archived_bytes: size,
            sha256: outcome.sha256,
            truncated: picked.truncated,
            lines_dropped: picked.lines_dropped,
            redactions: picked.redactions,
            notes,
        })?;
        count(&mut state.files);
        Ok(())
    }

    /// Records a planned file of the open child that was not archived.
    fn unavailable(
        &mut self,
        state: &mut ChildState,
        name: &str,
        why: Unavailable,
    ) -> io::Result<()> {
        let reason = match why {
            Unavailable::Failed(f) => {
                state.fail(f);
                return Ok(());
            }
            Unavailable::Vanished => "removed before it could be read (rotated away)".to_string(),
            Unavailable::NotRegular(reason) | Unavailable::NotSelected(reason) => reason,
        };
        self.skipped.append(&Skipped {
            name: name.to_string(),
            reason,
        })?;
        count(&mut state.skipped);
        Ok(())
    }
}

fn count(run: &mut Option<(Range<u64>, usize)>) {
    if let Some((_, n)) = run {
        *n += 1;
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

/// The writer's side of the pipeline: takes the readers' messages in plan
/// order and turns them into archive entries and manifest records.
struct Assembler<'e, 'p, 'a, W: Write> {
    plan: &'e Plan,
    archive: ArchiveWriter<'e, W>,
    progress: Progress<'p, 'a>,
    states: Vec<ChildState>,
    records: Records,
    tokens: BTreeMap<String, String>,
    /// The batch being written: its component and the files still to come.
    component: usize,
    files: VecDeque<BatchFile>,
    /// The entry being written: its archive name and size.
    entry: Option<(String, u64)>,
    /// Components whose fragment is complete: every component gets one, in
    /// plan order, empty when nothing of it was archived.
    fragments_done: usize,
}

impl<W: Write> Assembler<'_, '_, '_, W> {
    /// Ends the fragments of every component before `component`.
    fn cut_before(&mut self, component: usize) -> Result<()> {
        while self.fragments_done < component {
            let path = &self.plan.components[self.fragments_done].archive_dir;
            self.archive.cut(path).map_err(output_error)?;
            self.fragments_done += 1;
        }
        Ok(())
    }

    fn begin_batch(&mut self, component: usize, files: VecDeque<BatchFile>) -> Result<()> {
        self.cut_before(component)?;
        self.records
            .open(component, self.plan, &mut self.states)
            .map_err(Error::Scratch)?;
        self.states[component]
            .start
            .get_or_insert_with(Timestamp::now);
        self.component = component;
        self.files = files;
        Ok(())
    }

    fn batch_done(&self) -> bool {
        self.files.is_empty()
    }

    /// Takes the next message of the current batch's reader.
    fn accept(&mut self, message: Message) -> Result<()> {
        if self.progress.cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let component = &self.plan.components[self.component];
        let Some(file) = self.files.front() else {
            return Err(out_of_order("a message after the batch's last file"));
        };
        match (message, self.entry.take()) {
            (Message::Batch(messages), entry) => {
                self.entry = entry;
                for m in messages {
                    self.accept(m)?;
                }
            }
            (Message::Start { size, mtime, name }, None) => {
                let name = name.unwrap_or_else(|| file.name.clone());
                let path = format!("{}/{}", component.archive_dir, name);
                let compressed = precompressed(component.log_type, &name, &file.name);
                self.archive
                    .begin_entry(&path, size, mtime, compressed)
                    .map_err(output_error)?;
                self.entry = Some((name, size));
            }
            (Message::Data(chunk), Some(entry)) => {
                self.entry = Some(entry);
                self.progress.advance(chunk.len() as u64);
                self.archive.write_body(&chunk).map_err(output_error)?;
            }
            (Message::End(outcome), Some((name, size))) => {
                self.archive.end_entry().map_err(output_error)?;
                let state = &mut self.states[self.component];
                self.records
                    .file(state, name, size, outcome, &mut self.tokens)
                    .map_err(Error::Scratch)?;
                self.next_file();
            }
            (Message::Unavailable(why), None) => {
                let state = &mut self.states[self.component];
                self.records
                    .unavailable(state, &file.name, why)
                    .map_err(Error::Scratch)?;
                self.next_file();
            }
            _ => return Err(out_of_order("a message out of order")),
        }
        Ok(())
    }

    /// The current batch's reader stopped before its last file: the run was
    /// cancelled, or the reader panicked. A half-written entry cannot be
    /// completed; a file not yet started fails its component.
    fn reader_stopped(&mut self) -> Result<()> {
        if self.progress.cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let source = &self.files.front().expect("the batch is not done").source;
        if self.entry.is_some() {
            return Err(output_error(io::Error::other(format!(
                "the reader of {} stopped unexpectedly",
                source.display()
            ))));
        }
        let failure = Failure::because(source, Stage::ReaderStopped, "");
        self.states[self.component].fail(failure);
        self.next_file();
        Ok(())
    }

    fn next_file(&mut self) {
        self.files.pop_front();
        if self.batch_done() {
            self.states[self.component].finish = Some(Timestamp::now());
        }
    }
}

fn output_error(source: io::Error) -> Error {
    Error::Output {
        target: "<writer>".into(),
        source,
    }
}

/// A reader broke the `Start`, `Data`*, `End` order: a bug, never input.
fn out_of_order(what: &str) -> Error {
    output_error(io::Error::other(format!(
        "internal error: reader sent {what}"
    )))
}

/// Runs the whole collection into `out` and returns the manifest and the output.
pub(crate) fn run<W: Write>(
    pools: &Pools<'_>,
    request: &Request,
    plan: &Plan,
    settings: &Settings<'_>,
    out: W,
    selection: &Arc<Selection>,
    progress: Option<&mut ProgressFn<'_>>,
) -> Result<(Collected, W)> {
    let threads = pools.threads;
    let cancel = settings.cancel;
    let archive = ArchiveWriter::new(
        out,
        settings.format,
        settings.level,
        threads,
        pools.compressors,
        settings.finish,
    )
    .map_err(output_error)?;
    let mut assembler = Assembler {
        plan,
        archive,
        progress: Progress {
            callback: progress,
            done: 0,
            total: plan.total_bytes(),
            reported: None,
            cancel: cancel.clone(),
        },
        states: plan
            .components
            .iter()
            .map(|_| ChildState::default())
            .collect(),
        records: Records::new(),
        tokens: BTreeMap::new(),
        component: 0,
        files: VecDeque::new(),
        entry: None,
        fragments_done: 0,
    };

    // Any early return drops the archive writer, which cuts the output off.
    if threads > 1 {
        write_threaded(pools, plan, selection, cancel, &mut assembler)?;
    } else {
        write_inline(plan, selection, cancel, &mut assembler)?;
    }
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    assembler.cut_before(plan.components.len())?;
    let Assembler {
        mut archive,
        mut progress,
        states,
        records,
        tokens,
        ..
    } = assembler;

    let redactor = selection.redactor.as_ref();
    let manifest = build_manifest(request, plan, settings, redactor, states, records)
        .map_err(Error::Scratch)?;
    if settings.finish == Finish::Archive {
        let finished = Timestamp::now().as_second().max(0) as u64;
        archive
            .append_streamed(manifest::MANIFEST_NAME, finished, |w| {
                serde_json::to_writer_pretty(w, &manifest).map_err(io::Error::from)
            })
            .map_err(output_error)?;
    }
    let Written { out, index } = archive.finish().map_err(output_error)?;
    progress.complete();
    Ok((
        Collected {
            manifest,
            tokens,
            index,
        },
        out,
    ))
}

fn build_manifest(
    request: &Request,
    plan: &Plan,
    settings: &Settings<'_>,
    redactor: Option<&Redactor>,
    mut states: Vec<ChildState>,
    mut records: Records,
) -> io::Result<RunManifest> {
    // Children the writer never reached still list their planned skips.
    for ci in 0..plan.components.len() {
        if states[ci].files.is_none() {
            records.open(ci, plan, &mut states)?;
        }
    }
    records.close(&mut states);
    let files = records.files.finish()?;
    let skipped = records.skipped.finish()?;

    let planned = timestamp_string(settings.created);
    let size_limit_hit = states.iter().any(|s| s.truncated);
    let mut children = Vec::with_capacity(plan.components.len());
    for (c, state) in plan.components.iter().zip(states) {
        let token = redactor.map(|r| source_dir_token(r, &c.source_dir));
        let redact = token.as_deref().map(|t| (c.source_dir.as_path(), t));
        let error_message = state.error_message(&c.failures, redact);
        let (file_range, file_count) = state.files.unwrap_or_default();
        let (skip_range, skip_count) = state.skipped.unwrap_or_default();
        children.push(ChildJob {
            host_name: c.host_name.clone(),
            log_collection_type: c.log_type.as_str().to_string(),
            path: c.archive_dir.clone(),
            status: if error_message.is_none() {
                Status::Success
            } else {
                Status::Failure
            },
            error_message,
            start_date: state
                .start
                .map(timestamp_string)
                .unwrap_or_else(|| planned.clone()),
            finish_date: state
                .finish
                .map(timestamp_string)
                .unwrap_or_else(|| planned.clone()),
            uncompressed_disk_space_bytes: state.archived_bytes,
            files: Spilled::new(files.clone(), file_range, file_count),
            skipped: Spilled::new(skipped.clone(), skip_range, skip_count),
            notes: c.notes.clone(),
        });
    }
    let failed = children.iter().any(|c| c.status == Status::Failure);
    let head = Manifest::<()>::for_request(request, settings.id, Timestamp::now());
    Ok(Manifest {
        status: if failed {
            Status::Failure
        } else {
            Status::Success
        },
        creation_date: planned,
        uncompressed_size_total_bytes: children
            .iter()
            .map(|c| c.uncompressed_disk_space_bytes)
            .sum(),
        size_limit_hit,
        child_jobs: children,
        engine: head.engine,
        id: head.id,
        finish_date: head.finish_date,
        resource_type: head.resource_type,
        resource_name: head.resource_name,
        log_types: head.log_types,
        redacted: head.redacted,
        size_requested_per_file_bytes: head.size_requested_per_file_bytes,
        log_collection_from_date: head.log_collection_from_date,
        log_collection_to_date: head.log_collection_to_date,
        level: head.level,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_keeps_its_first_errors_and_counts_the_rest() {
        let denied = || io::Error::from_raw_os_error(libc::EACCES);
        let mut state = ChildState::default();
        assert_eq!(state.error_message(&[], None), None);
        let planning = [Failure::io("/logs", Stage::Listing, &denied())];
        assert_eq!(
            state.error_message(&planning, None).as_deref(),
            Some("/logs: Permission denied (os error 13)")
        );
        for i in 0..MAX_ERRORS + 5 {
            state.fail(Failure::because(
                format!("/logs/f{i}"),
                Stage::Opening,
                "failed",
            ));
        }
        let message = state.error_message(&planning, None).unwrap();
        let parts: Vec<&str> = message.split("; ").collect();
        assert_eq!(parts.len(), MAX_ERRORS + 1);
        assert_eq!(parts[0], "/logs: Permission denied (os error 13)");
        assert_eq!(parts[1], "/logs/f0: failed");
        assert_eq!(
            parts[MAX_ERRORS - 1],
            format!("/logs/f{}: failed", MAX_ERRORS - 2)
        );
        assert_eq!(parts[MAX_ERRORS], "and 6 more errors");
        // No failure overwrites another, and the redacted form hides the directory.
        let redacted = state
            .error_message(&planning, Some((Path::new("/logs"), "secret-1")))
            .unwrap();
        assert!(
            redacted.starts_with("secret-1: Permission denied"),
            "{redacted}"
        );
        assert!(redacted.contains("secret-1/f0: failed"), "{redacted}");
        assert!(!redacted.contains("/logs"), "{redacted}");
    }
}
