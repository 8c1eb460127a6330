//! Records kept out of memory, so that memory does not grow with the
//! number of files: the plan's file lists (sorted through [`sort`]) and
//! the manifest's per-file records, which a run appends as it writes them
//! and streams back into `manifest.json`.

use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::marker::PhantomData;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

pub(crate) mod sort;

use serde::de::DeserializeOwned;
use serde::ser::{Error as _, SerializeSeq};
use serde::{Serialize, Serializer};

/// Records stay in memory up to this many bytes; past it they all go to an
/// unlinked temporary file, so small runs never touch the disk.
pub(crate) const MEMORY_LIMIT: usize = 1 << 20;

/// An append-only sequence of JSON values, in memory or in a temporary file.
pub(crate) struct Spill {
    /// What the records are, for the error when no temporary file can be made.
    purpose: &'static str,
    /// Bytes not yet in `file` (all of them while there is no file).
    pending: Vec<u8>,
    file: Option<File>,
    /// Bytes already written to `file`.
    flushed: u64,
}

impl Spill {
    /// An empty spill; `purpose` completes "a temporary file for …".
    pub fn new(purpose: &'static str) -> Spill {
        Spill {
            purpose,
            pending: Vec::new(),
            file: None,
            flushed: 0,
        }
    }

    /// Where the next record will start.
    pub fn position(&self) -> u64 {
        self.flushed + self.pending.len() as u64
    }

    /// Appends one record.
    pub fn append<T: Serialize>(&mut self, record: &T) -> io::Result<()> {
        serde_json::to_writer(&mut self.pending, record)?;
        // A separator: numbers written back to back would read as one.
        self.pending.push(b'\n');
        if self.pending.len() >= MEMORY_LIMIT {
            self.flush()?;
        }
        Ok(())
    }

    /// Moves the pending bytes to the file, creating it the first time.
    fn flush(&mut self) -> io::Result<()> {
        let purpose = self.purpose;
        let file = match &mut self.file {
            Some(f) => f,
            None => self.file.insert(tempfile::tempfile().map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "cannot create a temporary file for {purpose} in {}: {e}",
                        std::env::temp_dir().display()
                    ),
                )
            })?),
        };
        file.write_all_at(&self.pending, self.flushed)?;
        self.flushed += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }

    /// Ends appending: every record is now readable through `read`.
    pub fn finish(mut self) -> io::Result<Arc<Spill>> {
        if self.file.is_some() {
            self.flush()?;
        }
        self.pending.shrink_to_fit();
        Ok(Arc::new(self))
    }
}

/// Reads back `at..end` of a finished spill; it holds the spill, so
/// readers of several runs can be open at once.
struct SpillReader {
    spill: Arc<Spill>,
    at: u64,
    end: u64,
}

impl Read for SpillReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf.len().min((self.end - self.at) as usize);
        if want == 0 {
            return Ok(0);
        }
        let n = match &self.spill.file {
            None => {
                let at = self.at as usize;
                buf[..want].copy_from_slice(&self.spill.pending[at..at + want]);
                want
            }
            Some(file) => file.read_at(&mut buf[..want], self.at)?,
        };
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.at += n as u64;
        Ok(n)
    }
}

/// A run of `len` consecutive records of one spill: one child's files or
/// skipped entries. It serializes as a JSON array, read back record by
/// record, so writing it never holds the whole list.
pub struct Spilled<T> {
    spill: Arc<Spill>,
    range: Range<u64>,
    len: usize,
    kind: PhantomData<fn() -> T>,
}

impl<T> Clone for Spilled<T> {
    fn clone(&self) -> Self {
        Spilled {
            spill: self.spill.clone(),
            range: self.range.clone(),
            len: self.len,
            kind: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Spilled<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Spilled({} records)", self.len)
    }
}

impl<T: DeserializeOwned + Send + 'static> Spilled<T> {
    pub(crate) fn new(spill: Arc<Spill>, range: Range<u64>, len: usize) -> Self {
        Spilled {
            spill,
            range,
            len,
            kind: PhantomData,
        }
    }

    /// The number of records.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The records in order, read back one at a time.
    pub fn iter(&self) -> impl Iterator<Item = io::Result<T>> + Send + 'static {
        let reader = SpillReader {
            spill: self.spill.clone(),
            at: self.range.start,
            end: self.range.end,
        };
        // A file is read in blocks; memory is read directly.
        let capacity = if self.spill.file.is_some() {
            64 << 10
        } else {
            0
        };
        serde_json::Deserializer::from_reader(BufReader::with_capacity(capacity, reader))
            .into_iter::<T>()
            .map(|r| r.map_err(io::Error::from))
    }

    /// Every record, in memory.
    pub fn load(&self) -> io::Result<Vec<T>> {
        self.iter().collect()
    }
}

impl<T: DeserializeOwned + Serialize + Send + 'static> Serialize for Spilled<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len))?;
        let mut count = 0;
        for record in self.iter() {
            seq.serialize_element(&record.map_err(S::Error::custom)?)?;
            count += 1;
        }
        if count != self.len {
            return Err(S::Error::custom(format!(
                "the manifest's records hold {count} entries where {} were written",
                self.len
            )));
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(records: usize) {
        let mut spill = Spill::new("tests");
        let mut ranges = Vec::new();
        for chunk in (0..records).collect::<Vec<_>>().chunks(1000) {
            let start = spill.position();
            for i in chunk {
                spill
                    .append(&format!("record {i} {}", "x".repeat(i % 300)))
                    .unwrap();
            }
            ranges.push((start..spill.position(), chunk.to_vec()));
        }
        let spilled_to_disk = spill.file.is_some();
        assert_eq!(spilled_to_disk, spill.position() >= MEMORY_LIMIT as u64);
        let spill = spill.finish().unwrap();
        for (range, ids) in ranges {
            let run = Spilled::<String>::new(spill.clone(), range, ids.len());
            let got = run.load().unwrap();
            let want: Vec<String> = ids
                .iter()
                .map(|i| format!("record {i} {}", "x".repeat(i % 300)))
                .collect();
            assert_eq!(got, want);
            assert_eq!(
                serde_json::to_string_pretty(&run).unwrap(),
                serde_json::to_string_pretty(&want).unwrap()
            );
        }
    }

    #[test]
    fn small_runs_stay_in_memory_and_read_back() {
        roundtrip(100);
    }

    #[test]
    fn large_runs_go_to_a_file_and_read_back() {
        roundtrip(20_000);
    }

    #[test]
    fn a_short_run_is_an_error_not_a_short_array() {
        let mut spill = Spill::new("tests");
        spill.append(&1u32).unwrap();
        let end = spill.position();
        let run = Spilled::<u32>::new(spill.finish().unwrap(), 0..end, 2);
        assert!(serde_json::to_string(&run).is_err());
    }

    #[test]
    fn empty_runs_serialize_as_empty_arrays() {
        let run = Spilled::<u32>::new(Spill::new("tests").finish().unwrap(), 0..0, 0);
        assert_eq!(serde_json::to_string_pretty(&run).unwrap(), "[]");
    }
}
