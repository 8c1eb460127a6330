//! Parallel gzip, pigz-style: one standard gzip member whose deflate stream
//! is compressed block by block on a thread pool.
//!
//! `ParallelGzWriter::write` fills an input block of `block_size` bytes.
//! A full block goes to the pool as a `'static` job that owns the block and a
//! copy of the 32 KiB of input that precede it. The job deflates the block
//! (raw deflate, primed with those 32 KiB through `deflateSetDictionary`),
//! ends it with a sync flush so that it stops on a byte boundary, and
//! computes its CRC32. The final block is ended with `Finish` instead. Because
//! every block starts on a byte boundary and may refer back 32 KiB into the
//! data before it, the concatenated blocks form one ordinary deflate stream,
//! and the result is one gzip member that any gzip reader decodes.
//!
//! Level 6 is zlib's lazy matcher with a short chain (`deflate.rs`). Input
//! written while `ParallelGzWriter::set_precompressed` is on is checked
//! for incompressible stretches, which the job stores (`entropy.rs`).
//!
//! Order is kept with gzp's "receiver of receivers": each job gets its own
//! one-shot channel, and the writer keeps the receivers in submission order.
//! It writes finished blocks from the front of that queue whenever it can,
//! and when the queue holds `IN_FLIGHT_PER_THREAD` × pool threads blocks it
//! waits for the oldest one. The CRC32s are combined in order
//! (`crc32fast::Hasher::combine`). Output bytes depend only on the input,
//! the level, the block size and the precompressed marks, never on the
//! thread count or on how the input was split into `write` calls.
//!
//! # Memory
//!
//! With `T` pool threads, block size `B` and compressed block size `C`
//! (`C ≤ B + B/2048 + 64`; about `B/8` on log text):
//!
//! ```text
//! in flight (2T jobs)   2T × (B + 32 KiB + C)   input, dictionary copy, result
//! writer                2B + 32 KiB              block being filled, one spare, window
//! per running job       T × ~300 KiB             deflate state, new for each block
//! ```
//!
//! about `(2T + 2) × B + 2T × C` in all. With the defaults (`B` = 1 MiB) on
//! 2 threads that is 6 MiB of input plus at most 4 MiB of output, about
//! 7 MiB in total on log text.
//!
//! # Threads
//!
//! The pool should be dedicated to compression: its jobs only use CPU. The
//! writer may run on any thread; if it runs on a worker of that same pool it
//! helps with queued jobs instead of blocking, so it cannot deadlock there.
//! Without a pool every block is deflated on the writer's thread as it
//! fills: the same bytes, on one core.
//!
//! # Errors
//!
//! A job that fails or panics (the panic is caught: rayon would abort the
//! process otherwise) surfaces as an `io::Error` from the next `write`,
//! `flush` or `finish`. After any error the writer refuses all further
//! writes. Nothing happens on drop: an unfinished writer leaves a truncated
//! stream with no trailer, which every reader rejects.

use std::any::Any;
use std::collections::VecDeque;
use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};

use crossbeam_channel::{Receiver, TryRecvError};

mod deflate;
mod entropy;
use deflate::{Flush, RawDeflate};
use std::ops::Range;

/// The default input block size: 1 MiB (ECOSYSTEM.md measured 1 MiB blocks
/// as both faster and smaller than 128 KiB ones).
pub(crate) const DEFAULT_BLOCK_SIZE: usize = 1 << 20;

/// Blocks in flight per pool thread (submitted and not yet written out).
pub(crate) const IN_FLIGHT_PER_THREAD: usize = 2;

/// The deflate window: how far back a block may refer.
const WINDOW: usize = 32 << 10;

/// The gzip header: ID1 ID2, CM = deflate, FLG = 0, MTIME = 0, XFL = 0,
/// OS = 255 (unknown).
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

/// The length of the gzip header every logpack archive starts with.
pub(crate) const GZIP_HEADER_LEN: u64 = GZIP_HEADER.len() as u64;

/// Writes ONE standard gzip member whose deflate stream is compressed in
/// parallel, pigz-style. See the module docs for order, memory and errors.
///
/// Call [`finish`](Self::finish): dropping the writer does not complete the
/// stream.
pub(crate) struct ParallelGzWriter<'p, W: Write> {
    out: W,
    /// `None`: every block is deflated on the writer's thread.
    pool: Option<&'p rayon::ThreadPool>,
    level: u32,
    block_size: usize,
    max_in_flight: usize,
    /// The block being filled.
    buf: Vec<u8>,
    /// One emptied input block kept for reuse.
    spare: Option<Vec<u8>>,
    /// Output buffers of written blocks, kept for reuse (at most one per
    /// block in flight): allocating a fresh one per block fragments the
    /// heap that the run's long-lived records share.
    spare_outputs: Vec<Vec<u8>>,
    /// The last (up to) 32 KiB of input handed to the pool: the next
    /// block's dictionary.
    window: Vec<u8>,
    /// Results of submitted blocks, oldest first, each with the number of
    /// fragments that end right after it.
    pending: VecDeque<(Receiver<io::Result<Block>>, u32)>,
    /// CRC32 and length of everything written out so far.
    crc: crc32fast::Hasher,
    /// Deflate bytes written out so far (the gzip header excluded).
    deflated: u64,
    /// CRC32 and length of the current fragment's part written out so far.
    fragment_crc: crc32fast::Hasher,
    /// Where each finished fragment ends, in the deflate stream.
    fragments: Vec<FragmentEnd>,
    /// Whether the gzip header still has to be written (never, for a
    /// writer that makes bare fragments).
    header_due: bool,
    /// Bare fragments: no header, no final block, no trailer.
    bare: bool,
    /// What is written now may be compressed already.
    precompressed: bool,
    /// The parts of `buf` written while `precompressed`.
    regions: Vec<Range<usize>>,
    /// Set by the first error; every later call fails with this message.
    poisoned: Option<String>,
    /// Test hook: the job for this block (counting from 0) panics.
    #[cfg(test)]
    panic_at_block: Option<u64>,
    #[cfg(test)]
    submitted: u64,
}

/// The end of one fragment: a run of blocks that starts with no dictionary
/// and ends byte-aligned, so that it can be copied into another stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FragmentEnd {
    /// Offset in the deflate stream just past the fragment.
    pub end: u64,
    /// CRC-32 of the fragment's input.
    pub crc: u32,
    /// Length of the fragment's input.
    pub size: u64,
}

/// What [`ParallelGzWriter::finish_fragments`] returns.
pub(crate) struct Finished<W> {
    pub out: W,
    /// Every fragment, the final one (ending with the final block) last.
    pub fragments: Vec<FragmentEnd>,
}

/// One compressed block, as the job hands it back.
struct Block {
    /// Raw deflate, ending on a byte boundary (or the final block).
    deflated: Vec<u8>,
    /// CRC32 and length of the block's input.
    crc: crc32fast::Hasher,
    /// The input buffer, returned for reuse.
    input: Vec<u8>,
}

impl<'p, W: Write> ParallelGzWriter<'p, W> {
    /// `pool` is dedicated to compression (its jobs never block on anything
    /// but CPU); `None` deflates on the caller's thread. `level` is the deflate level, 0 to 9 (higher is treated as
    /// 9). `block_size` is the input block size (at least 1 byte; see
    /// [`DEFAULT_BLOCK_SIZE`]). Nothing is written until the first block is
    /// compressed or [`finish`](Self::finish) is called.
    pub(crate) fn new(
        out: W,
        level: u32,
        block_size: usize,
        pool: Option<&'p rayon::ThreadPool>,
    ) -> Self {
        let block_size = block_size.max(1);
        ParallelGzWriter {
            out,
            pool,
            level: level.min(9),
            block_size,
            max_in_flight: IN_FLIGHT_PER_THREAD
                * pool.map_or(1, |p| p.current_num_threads().max(1)),
            buf: Vec::with_capacity(block_size),
            spare: None,
            spare_outputs: Vec::new(),
            window: Vec::new(),
            pending: VecDeque::new(),
            crc: crc32fast::Hasher::new(),
            deflated: 0,
            fragment_crc: crc32fast::Hasher::new(),
            fragments: Vec::new(),
            header_due: true,
            bare: false,
            precompressed: false,
            regions: Vec::new(),
            poisoned: None,
            #[cfg(test)]
            panic_at_block: None,
            #[cfg(test)]
            submitted: 0,
        }
    }

    /// Compresses what is buffered, waits for every block, writes the final
    /// block and the trailer, checks every error, flushes `out` and returns
    /// it.
    #[cfg(test)]
    pub(crate) fn finish(self) -> io::Result<W> {
        self.finish_fragments().map(|f| f.out)
    }

    /// Like [`finish`](Self::finish), and returns where every fragment
    /// ends; the final fragment is the last one.
    pub(crate) fn finish_fragments(mut self) -> io::Result<Finished<W>> {
        self.check()?;
        let r = self.finish_inner();
        self.guard(r)?;
        Ok(Finished {
            out: self.out,
            fragments: self.fragments,
        })
    }

    /// Makes a writer of bare fragments: no gzip header, and
    /// [`finish_fragments`](Self::finish_fragments) cuts the last fragment
    /// instead of writing a final block and the trailer.
    pub(crate) fn is_bare(&self) -> bool {
        self.bare
    }

    /// Makes a writer of bare fragments (see [`Self::bare`]).
    #[doc(hidden)]
    pub(crate) fn bare(mut self) -> Self {
        self.header_due = false;
        self.bare = true;
        self
    }

    /// Ends the current fragment: what was written since the last cut is
    /// compressed and ended byte-aligned with a sync flush, and what comes
    /// next gets no dictionary from before. Cuts with nothing written in
    /// between make empty fragments. Does not wait for the pool.
    pub(crate) fn cut(&mut self) -> io::Result<()> {
        self.check()?;
        let r = if !self.buf.is_empty() {
            self.submit(false, true)
        } else {
            if let Some((_, ends)) = self.pending.back_mut() {
                *ends += 1;
            } else {
                self.end_fragment();
            }
            Ok(())
        };
        self.window.clear();
        self.guard(r)
    }

    /// Writes `length` bytes of `src` as one whole fragment made elsewhere
    /// (raw deflate that starts with no dictionary and ends byte-aligned,
    /// of an input with CRC-32 `crc` and length `size`). Must follow a cut
    /// (or come first): it waits for every block in flight.
    pub(crate) fn append_fragment(
        &mut self,
        src: &mut dyn io::BufRead,
        length: u64,
        crc: u32,
        size: u64,
    ) -> io::Result<()> {
        self.check()?;
        if !self.buf.is_empty() || !self.window.is_empty() {
            return Err(io::Error::other(
                "internal error: a fragment appended in the middle of another",
            ));
        }
        let r = (|| {
            self.drain()?;
            self.write_header()?;
            copy_exact(src, length, &mut self.out)?;
            self.deflated += length;
            let part = crc32fast::Hasher::new_with_initial_len(crc, size);
            self.crc.combine(&part);
            self.fragment_crc.combine(&part);
            self.end_fragment();
            Ok(())
        })();
        self.guard(r)
    }

    /// Waits for every block in flight and writes it out.
    fn drain(&mut self) -> io::Result<()> {
        while let Some((rx, ends)) = self.pending.pop_front() {
            let block = self.wait(&rx)?;
            self.write_block(block, ends)?;
        }
        Ok(())
    }

    fn end_fragment(&mut self) {
        let crc = std::mem::take(&mut self.fragment_crc);
        self.fragments.push(FragmentEnd {
            end: self.deflated,
            size: crc.total_len(),
            crc: crc.finalize(),
        });
    }

    /// Marks what is written next as possibly compressed already (`true`)
    /// or not. The stretches of such input that look incompressible (1 KiB
    /// windows of high byte entropy, see `entropy.rs`) go into stored
    /// blocks: a copy instead of a deflate search that finds almost nothing,
    /// while the tar headers and other structure between them are still
    /// deflated.
    pub(crate) fn set_precompressed(&mut self, precompressed: bool) {
        self.precompressed = precompressed;
    }

    /// The output (the caller uses it to cut the stream off on failure).
    pub(crate) fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    fn finish_inner(&mut self) -> io::Result<()> {
        if self.bare {
            if !self.buf.is_empty() {
                self.submit(false, true)?;
            }
            self.drain()?;
            return self.out.flush();
        }
        self.submit(true, true)?;
        self.drain()?;
        self.write_header()?;
        let mut trailer = [0u8; 8];
        trailer[..4].copy_from_slice(&self.crc.clone().finalize().to_le_bytes());
        // ISIZE is the input length modulo 2^32 (RFC 1952): a truncating cast.
        trailer[4..].copy_from_slice(&(self.crc.total_len() as u32).to_le_bytes());
        self.out.write_all(&trailer)?;
        self.out.flush()
    }

    fn check(&self) -> io::Result<()> {
        match &self.poisoned {
            None => Ok(()),
            Some(msg) => Err(io::Error::other(format!(
                "parallel gzip writer failed earlier: {msg}"
            ))),
        }
    }

    /// Records the first error, so the stream is never continued after a gap.
    fn guard<T>(&mut self, r: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &r {
            self.poisoned.get_or_insert_with(|| e.to_string());
        }
        r
    }

    fn write_header(&mut self) -> io::Result<()> {
        if self.header_due {
            self.out.write_all(&GZIP_HEADER)?;
            self.header_due = false;
        }
        Ok(())
    }

    /// Hands the current block to the pool (the final block if `last`),
    /// after waiting for room in the queue, then writes out whatever is
    /// already done. `ends_fragment` marks the block as its fragment's last.
    fn submit(&mut self, last: bool, ends_fragment: bool) -> io::Result<()> {
        while self.pending.len() >= self.max_in_flight {
            let (rx, ends) = self.pending.pop_front().expect("queue is not empty");
            let block = self.wait(&rx)?;
            self.write_block(block, ends)?;
        }
        let ends = u32::from(ends_fragment);

        let next = self
            .spare
            .take()
            .unwrap_or_else(|| Vec::with_capacity(self.block_size));
        let input = std::mem::replace(&mut self.buf, if last { Vec::new() } else { next });
        let regions = std::mem::take(&mut self.regions);
        let output = self.spare_outputs.pop().unwrap_or_default();
        let level = self.level;
        let dictionary = if level == 0 {
            Vec::new() // stored blocks never refer back
        } else {
            self.window.clone()
        };
        if input.len() >= WINDOW {
            self.window.clear();
            self.window
                .extend_from_slice(&input[input.len() - WINDOW..]);
        } else {
            let excess = (self.window.len() + input.len()).saturating_sub(WINDOW);
            self.window.drain(..excess);
            self.window.extend_from_slice(&input);
        }

        #[cfg(test)]
        let inject_panic = self.panic_at_block == Some(self.submitted);
        #[cfg(test)]
        {
            self.submitted += 1;
        }
        let Some(pool) = self.pool else {
            #[cfg(test)]
            if inject_panic {
                return Err(io::Error::other("injected test failure"));
            }
            let block = compress_block(level, &dictionary, input, &regions, output, last)?;
            return self.write_block(block, ends);
        };
        let (tx, rx) = crossbeam_channel::bounded(1);
        pool.spawn(move || {
            // rayon aborts the process on a panic in a spawned job, so catch
            // it here and hand it to the writer as an error.
            let result = panic::catch_unwind(AssertUnwindSafe(|| {
                #[cfg(test)]
                if inject_panic {
                    panic!("injected test panic");
                }
                compress_block(level, &dictionary, input, &regions, output, last)
            }));
            let result = result.unwrap_or_else(|payload| {
                Err(io::Error::other(format!(
                    "gzip compression job panicked: {}",
                    panic_message(&*payload)
                )))
            });
            // The writer may have given up (an error, or dropped unfinished).
            let _ = tx.send(result);
        });
        self.pending.push_back((rx, ends));

        while let Some((rx, ends)) = self.pending.front() {
            let ends = *ends;
            match rx.try_recv() {
                Ok(result) => {
                    self.pending.pop_front();
                    self.write_block(result?, ends)?;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return Err(job_lost()),
            }
        }
        Ok(())
    }

    /// Waits for one job's result.
    fn wait(&self, rx: &Receiver<io::Result<Block>>) -> io::Result<Block> {
        if self.pool.is_none_or(|p| p.current_thread_index().is_none()) {
            return rx.recv().map_err(|_| job_lost())?;
        }
        // On a worker of our own pool a blocking recv could wait for a job
        // queued behind us on this very thread: run queued jobs meanwhile.
        loop {
            match rx.try_recv() {
                Ok(result) => return result,
                Err(TryRecvError::Disconnected) => return Err(job_lost()),
                Err(TryRecvError::Empty) => {
                    if rayon::yield_now() != Some(rayon::Yield::Executed) {
                        std::thread::yield_now();
                    }
                }
            }
        }
    }

    /// Writes a finished block, then ends `ends` fragments after it.
    fn write_block(&mut self, block: Block, ends: u32) -> io::Result<()> {
        self.write_header()?;
        self.out.write_all(&block.deflated)?;
        self.deflated += block.deflated.len() as u64;
        self.crc.combine(&block.crc);
        self.fragment_crc.combine(&block.crc);
        for _ in 0..ends {
            self.end_fragment();
        }
        if self.spare_outputs.len() < self.max_in_flight {
            self.spare_outputs.push(block.deflated);
        }
        let mut input = block.input;
        if input.capacity() >= self.block_size && self.spare.is_none() {
            input.clear();
            self.spare = Some(input);
        }
        Ok(())
    }
}

impl<W: Write> Write for ParallelGzWriter<'_, W> {
    /// Takes up to one block's worth of `buf`. Returns `Ok(n)` with the
    /// bytes accepted, or an error with none accepted.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.check()?;
        if buf.is_empty() {
            return Ok(0);
        }
        if self.buf.len() >= self.block_size {
            let r = self.submit(false, false);
            self.guard(r)?;
        }
        let n = buf.len().min(self.block_size - self.buf.len());
        let at = self.buf.len();
        self.buf.extend_from_slice(&buf[..n]);
        if self.precompressed {
            match self.regions.last_mut() {
                Some(last) if last.end == at => last.end = at + n,
                _ => self.regions.push(at..at + n),
            }
        }
        Ok(n)
    }

    /// Compresses the partial block, waits for every block, writes them and
    /// flushes `out`, so that everything written so far can be decoded. This
    /// stalls the pipeline: call it rarely.
    fn flush(&mut self) -> io::Result<()> {
        self.check()?;
        let r = (|| {
            if !self.buf.is_empty() {
                self.submit(false, false)?;
            }
            self.drain()?;
            self.out.flush()
        })();
        self.guard(r)
    }
}

fn job_lost() -> io::Error {
    io::Error::other("gzip compression job ended without a result")
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "(non-string payload)"
    }
}

/// Deflates one block: raw deflate primed with `dictionary`, ended with a
/// sync flush (or the final block if `last`), into `deflated` (emptied
/// first). The incompressible stretches of `regions` are stored. Runs on a
/// pool thread.
///
/// The stream is new for every block, so that the archive is the same
/// whichever thread compressed a block: a reused zlib-rs stream after
/// `reset` gave different (still valid) output on small blocks, in release
/// builds. A fresh stream costs about 2%.
fn compress_block(
    level: u32,
    dictionary: &[u8],
    input: Vec<u8>,
    regions: &[Range<usize>],
    mut deflated: Vec<u8>,
    last: bool,
) -> io::Result<Block> {
    let mut stream = RawDeflate::new(level)?;
    if !dictionary.is_empty() {
        stream.set_dictionary(dictionary)?;
    }
    deflated.clear();
    deflated.reserve(deflate_bound(input.len()));
    for (range, stored) in entropy::segments(&input, regions) {
        if range.is_empty() {
            continue;
        }
        stream.set_storing(stored, &mut deflated)?;
        stream.compress(&input[range], &mut deflated, Flush::None)?;
    }
    let end = if last { Flush::Finish } else { Flush::Sync };
    stream.compress(&[], &mut deflated, end)?;
    let mut crc = crc32fast::Hasher::new();
    crc.update(&input);
    Ok(Block {
        deflated,
        crc,
        input,
    })
}

/// One block as a pgzip job deflates it (level 6 is the tuned one), ended
/// with a sync flush; the `precompressed` ranges are checked for stretches to
/// store. For `benches/deflate.rs`.
#[doc(hidden)]
pub fn deflate_block(
    level: u32,
    dictionary: &[u8],
    input: Vec<u8>,
    precompressed: &[Range<usize>],
) -> io::Result<Vec<u8>> {
    compress_block(level, dictionary, input, precompressed, Vec::new(), false).map(|b| b.deflated)
}

/// Room for a raw deflate of `n` bytes plus the sync-flush marker (zlib's
/// `deflateBound` is `n + n/4096 + n/16384 + ...`; this rounds up).
fn deflate_bound(n: usize) -> usize {
    n + (n >> 11) + 64
}

/// Writes exactly `length` bytes of `src` to `out`, straight from the
/// reader's buffer (a fragment in memory is written in one piece, with no
/// bounce buffer).
pub(crate) fn copy_exact(
    src: &mut dyn io::BufRead,
    length: u64,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut left = length;
    while left > 0 {
        let buf = src.fill_buf()?;
        if buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("fragment ended after {} of {length} bytes", length - left),
            ));
        }
        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        out.write_all(&buf[..n])?;
        src.consume(n);
        left -= n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, Status};
    use rand::rngs::StdRng;
    use rand::{Rng as _, SeedableRng};
    use std::io::Read;
    use std::process::{Command, Stdio};

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    }

    fn compress(data: &[u8], level: u32, block_size: usize, pool: &rayon::ThreadPool) -> Vec<u8> {
        let mut w = ParallelGzWriter::new(Vec::new(), level, block_size, Some(pool));
        w.write_all(data).unwrap();
        w.finish().unwrap()
    }

    fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
        let mut rng = StdRng::seed_from_u64(seed | 1);
        (0..n).map(|_| rng.random::<u64>() as u8).collect()
    }

    /// mongod-like logs: logv2 JSON and legacy text lines, with varying
    /// timestamps, ids and ports.
    fn log_text(n: usize, seed: u64) -> Vec<u8> {
        let mut rng = StdRng::seed_from_u64(seed | 1);
        let mut out = Vec::with_capacity(n + 4096);
        let mut t = 0u64;
        while out.len() < n {
            t += rng.random_range(0..40);
            let ms = t % 1000;
            let s = t / 1000 % 60;
            let m = t / 60_000 % 60;
            let h = t / 3_600_000 % 24;
            let conn = rng.random_range(0..5000);
            let line = match rng.random_range(0..10) {
                0..=5 => format!(
                    r#"{{"t":{{"$date":"2025-08-18T{h:02}:{m:02}:{s:02}.{ms:03}+00:00"}},"s":"I",  "c":"NETWORK",  "id":22943,   "ctx":"listener","msg":"Connection accepted","attr":{{"remote":"192.168.{}.{}:{}","connectionId":{conn},"connectionCount":{}}}}}"#,
                    rng.random_range(0..256),
                    rng.random_range(0..256),
                    40000 + rng.random_range(0..20000),
                    rng.random_range(0..100)
                ),
                6..=7 => format!(
                    r#"{{"t":{{"$date":"2025-08-18T{h:02}:{m:02}:{s:02}.{ms:03}+00:00"}},"s":"I",  "c":"COMMAND",  "id":51803,   "ctx":"conn{conn}","msg":"Slow query","attr":{{"ns":"app.orders","command":{{"find":"orders","filter":{{"customer":{}}}}},"docsExamined":{},"durationMillis":{}}}}}"#,
                    rng.random_range(0..1_000_000),
                    rng.random_range(0..100_000),
                    rng.random_range(0..5000)
                ),
                _ => format!(
                    "2018-12-10T{h:02}:{m:02}:{s:02}.{ms:03}-0500 I NETWORK  [conn{conn}] end connection 10.0.{}.{}:{} ({} connections now open)",
                    rng.random_range(0..256),
                    rng.random_range(0..256),
                    rng.random_range(0..65536),
                    rng.random_range(0..100)
                ),
            };
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
        out
    }

    /// Parses the member by hand: the exact header, one raw deflate stream
    /// to its end, and the trailer, with nothing after it.
    fn decode_single_member(gz: &[u8]) -> Vec<u8> {
        assert_eq!(&gz[..10], &GZIP_HEADER, "gzip header");
        let mut inflate = flate2::Decompress::new(false);
        let mut out = Vec::with_capacity(gz.len() * 4 + 1024);
        let body = &gz[10..];
        loop {
            if out.capacity() == out.len() {
                out.reserve(out.len() + 1024);
            }
            let pos = inflate.total_in() as usize;
            let status = inflate
                .decompress_vec(&body[pos..], &mut out, flate2::FlushDecompress::None)
                .unwrap();
            if status == Status::StreamEnd {
                break;
            }
            assert!(pos < body.len() || out.len() < out.capacity(), "truncated");
        }
        let trailer = &body[inflate.total_in() as usize..];
        assert_eq!(
            trailer.len(),
            8,
            "exactly the trailer follows the deflate stream"
        );
        assert_eq!(trailer[..4], crc32fast::hash(&out).to_le_bytes());
        assert_eq!(trailer[4..], (out.len() as u32).to_le_bytes());
        out
    }

    /// Decodes with every decoder at hand and checks they all agree with
    /// `want`: flate2's single-member and multi-member decoders, a manual
    /// parse, `gzip -t`/`gzip -dc` and Python's `gzip`/`zlib` modules.
    fn check_decoders(gz: &[u8], want: &[u8]) {
        // Single member, and nothing after it.
        let mut rest = gz;
        let mut got = Vec::new();
        flate2::bufread::GzDecoder::new(&mut rest)
            .read_to_end(&mut got)
            .unwrap();
        assert!(got == want, "GzDecoder output differs");
        assert!(
            rest.is_empty(),
            "{} bytes follow the gzip member",
            rest.len()
        );

        let mut got = Vec::new();
        flate2::read::MultiGzDecoder::new(gz)
            .read_to_end(&mut got)
            .unwrap();
        assert!(got == want, "MultiGzDecoder output differs");

        assert!(decode_single_member(gz) == want, "manual decode differs");

        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), gz).unwrap();
        check_gzip_cli(file.path(), want);
        check_python(file.path(), want);
    }

    /// Runs `cmd`; `None` when its program is not installed, which fails
    /// the test under CI (`.ci/run` installs every reader).
    fn output_if_installed(cmd: &mut Command) -> Option<std::process::Output> {
        let program = cmd.get_program().to_string_lossy().into_owned();
        match cmd.output() {
            Ok(out) => Some(out),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0");
                assert!(!ci, "{program} is not installed, and CI needs it");
                eprintln!("note: {program} not installed; skipping its check");
                None
            }
            Err(e) => panic!("running {program}: {e}"),
        }
    }

    fn check_gzip_cli(path: &std::path::Path, want: &[u8]) {
        let stdin = || std::fs::File::open(path).unwrap();
        let Some(t) = output_if_installed(Command::new("gzip").arg("-t").stdin(stdin())) else {
            return;
        };
        assert!(
            t.status.success() && t.stderr.is_empty(),
            "gzip -t: {:?} {}",
            t.status,
            String::from_utf8_lossy(&t.stderr)
        );
        let d = Command::new("gzip")
            .arg("-dc")
            .stdin(stdin())
            .output()
            .unwrap();
        assert!(d.status.success() && d.stderr.is_empty(), "gzip -dc failed");
        assert!(d.stdout == want, "gzip -dc output differs");
    }

    /// Python's zlib (C zlib): one member, fully consumed, nothing left over.
    fn check_python(path: &std::path::Path, want: &[u8]) {
        const SCRIPT: &str = "import gzip, sys, zlib\n\
            data = open(sys.argv[1], 'rb').read()\n\
            d = zlib.decompressobj(31)\n\
            out = d.decompress(data) + d.flush()\n\
            assert d.eof, 'stream not finished'\n\
            assert d.unused_data == b'', 'data after the member'\n\
            assert gzip.decompress(data) == out\n\
            sys.stdout.buffer.write(out)\n";
        let mut python = Command::new("python3");
        python.arg("-c").arg(SCRIPT).arg(path).stdin(Stdio::null());
        let Some(r) = output_if_installed(&mut python) else {
            return;
        };
        assert!(
            r.status.success(),
            "python3: {:?} {}",
            r.status,
            String::from_utf8_lossy(&r.stderr)
        );
        assert!(r.stdout == want, "Python output differs");
    }

    #[test]
    fn round_trips_through_every_decoder() {
        let p = pool(2);
        let bs = 64 << 10;
        let logs = log_text(10 * bs + 123, 7);
        let random = random_bytes(3 * bs + 5, 11);
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", Vec::new()),
            ("one byte", b"x".to_vec()),
            ("one block", logs[..bs].to_vec()),
            ("block - 1", logs[..bs - 1].to_vec()),
            ("block + 1", logs[..bs + 1].to_vec()),
            ("many blocks", logs.clone()),
            ("random", random),
            ("zeros", vec![0u8; 5 * bs + 17]),
        ];
        for (name, data) in &cases {
            for level in [0, 1, 6, 9] {
                let gz = compress(data, level, bs, &p);
                eprintln!("{name} level {level}: {} -> {}", data.len(), gz.len());
                check_decoders(&gz, data);
            }
        }
    }

    #[test]
    fn default_block_size_round_trips() {
        let p = pool(2);
        let data = log_text(2 * DEFAULT_BLOCK_SIZE + 1000, 3);
        let gz = compress(&data, 6, DEFAULT_BLOCK_SIZE, &p);
        check_decoders(&gz, &data);
    }

    #[test]
    fn empty_input_is_the_smallest_valid_member() {
        let p = pool(1);
        let gz = compress(b"", 6, DEFAULT_BLOCK_SIZE, &p);
        let mut want = GZIP_HEADER.to_vec();
        want.extend_from_slice(&[3, 0]); // an empty final fixed-Huffman block
        want.extend_from_slice(&[0; 8]); // CRC32 of nothing, ISIZE 0
        assert_eq!(gz, want);
    }

    /// A tar stream whose names and bodies hold multi-byte UTF-8, with body
    /// sizes around the 512-byte tar block and a GNU long name; also returns
    /// the entries.
    fn utf8_tar() -> (Vec<u8>, Vec<(String, Vec<u8>)>) {
        let text = "é漢字🙂 ";
        let mut b = tar::Builder::new(Vec::new());
        let mut entries = Vec::new();
        let sizes = [0usize, 1, 100, 511, 512, 513, 700, 1023, 1024, 1025, 3000];
        for (i, &n) in sizes.iter().enumerate() {
            let body: Vec<u8> = text.bytes().cycle().take(n).collect();
            let mut h = tar::Header::new_gnu();
            h.set_size(n as u64);
            h.set_mode(0o644);
            h.set_mtime(1_700_000_000);
            h.set_entry_type(tar::EntryType::Regular);
            let name = if i == 3 {
                format!("{}/é漢字🙂.log", "目录".repeat(30)) // > 100 bytes
            } else {
                format!("logs/é漢字🙂-{n}.log")
            };
            b.append_data(&mut h, &name, &body[..]).unwrap();
            entries.push((name, body));
        }
        (b.into_inner().unwrap(), entries)
    }

    #[test]
    fn tiny_blocks_split_tar_headers_and_utf8_characters() {
        let (data, want) = utf8_tar();
        let headers: Vec<usize> = tar::Archive::new(&data[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().raw_header_position() as usize)
            .collect();
        let inside_header = |i: usize| headers.iter().any(|&h| h < i && i < h + 512);
        let inside_char = |i: usize| data[i] & 0xc0 == 0x80; // a continuation byte
        let pools = [pool(1), pool(2), pool(4)];
        for bs in [100usize, 511, 512, 513, 700] {
            let cuts: Vec<usize> = (1..)
                .map(|k| k * bs)
                .take_while(|&c| c < data.len())
                .collect();
            // 512-byte blocks line up with tar blocks; every other size
            // cuts through some header.
            assert!(
                bs % 512 == 0 || cuts.iter().any(|&c| inside_header(c)),
                "{bs}: no cut inside a tar header"
            );
            assert!(
                cuts.iter().any(|&c| inside_char(c)),
                "{bs}: no cut inside a character"
            );

            let outputs: Vec<Vec<u8>> = pools.iter().map(|p| compress(&data, 6, bs, p)).collect();
            assert!(
                outputs.iter().all(|o| o == &outputs[0]),
                "block size {bs}: output depends on the thread count"
            );
            check_decoders(&outputs[0], &data);

            let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&outputs[0][..]));
            let got: Vec<(String, Vec<u8>)> = archive
                .entries()
                .unwrap()
                .map(|e| {
                    let mut e = e.unwrap();
                    let name = e.path().unwrap().to_str().unwrap().to_owned();
                    let mut body = Vec::new();
                    e.read_to_end(&mut body).unwrap();
                    (name, body)
                })
                .collect();
            assert!(got == want, "block size {bs}: tar entries differ");
        }
    }

    #[test]
    fn output_is_the_same_for_any_thread_count_and_write_pattern() {
        let data = log_text(900_000, 5);
        let bs = 100_000;
        let reference = compress(&data, 6, bs, &pool(1));
        assert!(decode_single_member(&reference) == data);
        // 0: no pool, every block deflated on the writer's thread.
        for threads in [0, 1, 2, 4] {
            let p = (threads > 0).then(|| pool(threads));
            // Odd write sizes.
            let mut w = ParallelGzWriter::new(Vec::new(), 6, bs, p.as_ref());
            let mut rest = &data[..];
            let mut step = 1;
            while !rest.is_empty() {
                let n = step.min(rest.len());
                w.write_all(&rest[..n]).unwrap();
                rest = &rest[n..];
                step = (step * 7 + 3) % 50_000 + 1;
            }
            assert!(
                w.finish().unwrap() == reference,
                "{threads} threads, odd writes"
            );
            if let Some(p) = &p {
                assert!(compress(&data, 6, bs, p) == reference, "{threads} threads");
            }
        }
    }

    #[test]
    fn precompressed_regions_round_trip() {
        let p = pool(2);
        let text = log_text(3 << 20, 11);
        let noise = random_bytes(3 << 20, 12);
        let mut w = ParallelGzWriter::new(Vec::new(), 6, 1 << 20, Some(&p));
        w.write_all(&text[..1000]).unwrap();
        w.set_precompressed(true);
        w.write_all(&noise).unwrap();
        w.set_precompressed(false);
        w.write_all(&text).unwrap();
        w.set_precompressed(true);
        w.write_all(b"tail").unwrap();
        let gz = w.finish().unwrap();
        let mut want = text[..1000].to_vec();
        want.extend_from_slice(&noise);
        want.extend_from_slice(&text);
        want.extend_from_slice(b"tail");
        check_decoders(&gz, &want);
        // The noise is stored: its size plus a few bytes per block. The text
        // is still deflated.
        assert!(gz.len() < noise.len() + text.len() / 5, "{}", gz.len());
    }

    #[test]
    fn structure_between_compressed_stretches_is_still_deflated() {
        // Like small FTDC files in a tar: a header and a little BSON, then a
        // zlib payload, over and over, all marked as possibly compressed.
        let p = pool(2);
        let text = log_text(400 << 10, 13);
        let noise = random_bytes(8000 * 200, 14);
        let mut want = Vec::new();
        let mut w = ParallelGzWriter::new(Vec::new(), 6, 1 << 20, Some(&p));
        w.set_precompressed(true);
        for i in 0..200 {
            let parts = [
                &text[i * 2000..i * 2000 + 2000],
                &noise[i * 8000..(i + 1) * 8000],
            ];
            for part in parts {
                w.write_all(part).unwrap();
                want.extend_from_slice(part);
            }
        }
        let gz = w.finish().unwrap();
        check_decoders(&gz, &want);
        let stored_alone = noise.len() + 200 * 2000;
        assert!(gz.len() > noise.len(), "{}", gz.len());
        assert!(
            gz.len() < noise.len() + stored_alone / 20,
            "{} bytes: the text between the noise was not deflated",
            gz.len()
        );
    }

    #[test]
    fn flush_makes_everything_written_decodable() {
        let p = pool(2);
        let data = log_text(300_000, 9);
        let mut w = ParallelGzWriter::new(Vec::new(), 6, 64 << 10, Some(&p));
        w.write_all(&data[..150_001]).unwrap();
        w.flush().unwrap();
        let so_far = w.get_mut().clone();
        let mut inflate = flate2::Decompress::new(false);
        let mut out = Vec::with_capacity(200_000);
        inflate
            .decompress_vec(&so_far[10..], &mut out, flate2::FlushDecompress::Sync)
            .unwrap();
        assert!(out == data[..150_001]);
        w.write_all(&data[150_001..]).unwrap();
        check_decoders(&w.finish().unwrap(), &data);
    }

    #[test]
    fn size_is_within_one_percent_of_flate2() {
        let data = log_text(4 << 20, 1);
        let gz = compress(&data, 6, DEFAULT_BLOCK_SIZE, &pool(2));
        let mut e = flate2::write::GzEncoder::new(Vec::new(), Compression::new(6));
        e.write_all(&data).unwrap();
        let single = e.finish().unwrap();
        let ratio = gz.len() as f64 / single.len() as f64;
        eprintln!(
            "parallel {} bytes, flate2 {} bytes, ratio {ratio:.4}",
            gz.len(),
            single.len()
        );
        assert!(ratio < 1.01, "parallel output is {ratio:.4}× flate2's");
        check_decoders(&gz, &data);
    }

    #[test]
    fn a_panicking_job_is_an_error_not_an_abort_or_hang() {
        let data = log_text(1 << 20, 2);
        for threads in [1, 2] {
            for at in [0u64, 3, 15] {
                let p = pool(threads);
                let mut w = ParallelGzWriter::new(Vec::new(), 6, 64 << 10, Some(&p));
                w.panic_at_block = Some(at);
                let r = w.write_all(&data).and_then(|()| w.flush());
                let err = match r {
                    Err(e) => e,
                    Ok(()) => w.finish().unwrap_err(),
                };
                assert!(err.to_string().contains("panicked"), "{err}");
            }
        }
        // The poisoned writer refuses to continue or finish.
        let p = pool(1);
        let mut w = ParallelGzWriter::new(Vec::new(), 6, 1000, Some(&p));
        w.panic_at_block = Some(0);
        let _ = w.write_all(&data[..10_000]);
        let _ = w.flush();
        assert!(w.write(b"more").is_err());
        assert!(w.finish().is_err());
    }

    /// A sink that fails once it has taken `left` bytes.
    #[derive(Debug)]
    struct FailAfter {
        left: usize,
    }

    impl Write for FailAfter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.left == 0 {
                return Err(io::Error::other("disk full"));
            }
            let n = buf.len().min(self.left);
            self.left -= n;
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn an_output_error_is_returned_and_sticks() {
        let p = pool(2);
        let data = random_bytes(1 << 20, 4);
        let mut w = ParallelGzWriter::new(FailAfter { left: 100_000 }, 6, 32 << 10, Some(&p));
        let first = w.write_all(&data).and_then(|()| w.flush()).unwrap_err();
        assert!(first.to_string().contains("disk full"), "{first}");
        assert!(w.write(b"x").is_err());
        assert!(w.finish().unwrap_err().to_string().contains("disk full"));
    }

    #[test]
    fn running_on_a_worker_of_its_own_pool_does_not_deadlock() {
        let p = pool(1);
        let data = log_text(1 << 20, 8);
        let gz = p.install(|| compress(&data, 6, 16 << 10, &p));
        assert!(decode_single_member(&gz) == data);
    }
}
