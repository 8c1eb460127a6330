//! One process's log as one gzip stream (seed `003`, Atlas's log download):
//! its rotated files oldest first, then the live one, each through the
//! same selection as a collection (time range, level), decompressed where
//! rotation compressed them, and compressed again as ONE gzip member.

use std::fs::File;
use std::io::{self, Read, Write};

use flate2::read::MultiGzDecoder;

use super::text::{self, TextDecision};
use super::Selection;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::pgzip::{ParallelGzWriter, DEFAULT_BLOCK_SIZE};
use crate::request::{LogType, Request};
use crate::run::CancelToken;
use crate::walk;

/// What a log stream read.
#[derive(Debug, Default, Clone)]
pub struct LogStreamReport {
    /// Files read, oldest first (names inside their directory).
    pub files: Vec<String>,
    /// Files that could not be read, with why (the stream goes on).
    pub failures: Vec<String>,
    /// Uncompressed bytes written.
    pub bytes: u64,
}

/// Counts what passes through.
/// Counts what passes through, and tells a failing sink from a failing
/// source.
struct Counted<'w> {
    out: &'w mut dyn Write,
    n: u64,
    failed: bool,
}

impl Write for Counted<'_> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let n = self.out.write(b).inspect_err(|_| self.failed = true)?;
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl Engine {
    /// Writes the `MONGODB` log of `request` (one host, one process; its
    /// `from`, `to` and `level` select the lines) to `out` as one gzip
    /// member. A file that cannot be read is reported and skipped; an error
    /// writing `out` ends the stream.
    pub fn log_gz(
        &self,
        request: &Request,
        cancel: &CancelToken,
        out: &mut dyn Write,
    ) -> Result<LogStreamReport> {
        let plan = walk::plan(request, None).map_err(Error::Scratch)?;
        let sel = Selection::from_request(request, None);
        let mut report = LogStreamReport::default();
        let output = |e: io::Error| Error::Output {
            target: "<log stream>".into(),
            source: e,
        };
        let mut gz = ParallelGzWriter::new(out, 6, DEFAULT_BLOCK_SIZE, self.pools().compressors);
        let mut counted = Counted {
            out: &mut gz,
            n: 0,
            failed: false,
        };
        for component in plan
            .components
            .iter()
            .filter(|c| c.log_type == LogType::Mongodb)
        {
            for f in &component.failures {
                report.failures.push(f.to_string());
            }
            for file in component.files.iter() {
                let file = file.map_err(Error::Scratch)?;
                if cancel.is_cancelled() {
                    return Err(Error::Cancelled);
                }
                let path = component.source_of(&file);
                let opened = File::open(&path).and_then(|f| {
                    let meta = f.metadata()?;
                    let mtime = meta
                        .modified()
                        .ok()
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_millis() as i64);
                    Ok((f, meta.len(), mtime))
                });
                let (f, size, mtime) = match opened {
                    Ok(o) => o,
                    Err(e) => {
                        report.failures.push(format!("{}: {e}", path.display()));
                        continue;
                    }
                };
                let streamed = match text::plan(&f, &file.name, size, mtime, &sel, cancel) {
                    Ok(TextDecision::Whole) if file.name.ends_with(".gz") => {
                        io::copy(&mut MultiGzDecoder::new(&f), &mut counted).map(|_| ())
                    }
                    Ok(TextDecision::Whole) => {
                        io::copy(&mut (&f).take(size), &mut counted).map(|_| ())
                    }
                    Ok(TextDecision::Skip(_)) => Ok(()),
                    Ok(TextDecision::Select(p)) => text::write(&f, &p, &sel, cancel, &mut counted),
                    Err(e) => Err(e),
                };
                match streamed {
                    Ok(()) => report.files.push(file.name.clone()),
                    // The sink failed: nothing more can be sent.
                    Err(e) if counted.failed => return Err(output(e)),
                    Err(e) => report.failures.push(format!("{}: {e}", path.display())),
                }
            }
        }
        report.bytes = counted.n;
        gz.finish_fragments().map_err(output)?;
        Ok(report)
    }
}
