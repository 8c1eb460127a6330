//! Sorting more records than memory should hold: records are sorted in
//! memory up to a budget, each full buffer becomes a sorted run in a
//! [`Spill`], and the runs are merged back, at most [`FAN_IN`] at a time.
//! A list that fits the budget never touches the disk.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::ops::Range;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Spill, Spilled};

/// Runs merged at once; each open run reads through a 64 KiB buffer.
const FAN_IN: usize = 16;

/// Records in order, streamed.
pub(crate) type Sorted<T> = Box<dyn Iterator<Item = io::Result<T>> + Send>;

type KeyFn<T, K> = Arc<dyn Fn(&T) -> K + Send + Sync>;

/// Sorts records by a key, keeping at most `budget` bytes of them in memory.
pub(crate) struct ExternalSort<T, K> {
    key: KeyFn<T, K>,
    /// The memory a record holds, counted against `budget`.
    weight: fn(&T) -> usize,
    budget: usize,
    buffer: Vec<T>,
    buffered: usize,
    runs: Spill,
    run_ranges: Vec<(Range<u64>, usize)>,
    purpose: &'static str,
}

impl<T, K> ExternalSort<T, K>
where
    T: Serialize + DeserializeOwned + Send + 'static,
    K: Ord + Send + 'static,
{
    /// `purpose` completes "a temporary file for …" in errors.
    pub fn new(
        budget: usize,
        purpose: &'static str,
        weight: fn(&T) -> usize,
        key: impl Fn(&T) -> K + Send + Sync + 'static,
    ) -> Self {
        ExternalSort {
            key: Arc::new(key),
            weight,
            budget,
            buffer: Vec::new(),
            buffered: 0,
            runs: Spill::new(purpose),
            run_ranges: Vec::new(),
            purpose,
        }
    }

    pub fn push(&mut self, record: T) -> io::Result<()> {
        self.buffered += (self.weight)(&record);
        self.buffer.push(record);
        if self.buffered >= self.budget {
            self.write_run()?;
        }
        Ok(())
    }

    fn sort_buffer(&mut self) {
        let key = &self.key;
        self.buffer.sort_by_cached_key(|r| key(r));
    }

    fn write_run(&mut self) -> io::Result<()> {
        self.sort_buffer();
        let start = self.runs.position();
        let len = self.buffer.len();
        for record in self.buffer.drain(..) {
            self.runs.append(&record)?;
        }
        self.run_ranges.push((start..self.runs.position(), len));
        self.buffered = 0;
        Ok(())
    }

    /// Every record pushed, in key order; equal keys keep push order.
    pub fn finish(mut self) -> io::Result<Sorted<T>> {
        if self.run_ranges.is_empty() {
            self.sort_buffer();
            return Ok(Box::new(self.buffer.into_iter().map(Ok)));
        }
        if !self.buffer.is_empty() {
            self.write_run()?;
        }
        drop(self.buffer);
        let mut runs = spilled(self.runs.finish()?, self.run_ranges);
        while runs.len() > FAN_IN {
            let mut next = Spill::new(self.purpose);
            let mut ranges = Vec::new();
            for group in runs.chunks(FAN_IN) {
                let start = next.position();
                let mut len = 0;
                for record in Merge::new(self.key.clone(), group) {
                    next.append(&record?)?;
                    len += 1;
                }
                ranges.push((start..next.position(), len));
            }
            runs = spilled(next.finish()?, ranges);
        }
        Ok(Box::new(Merge::new(self.key, &runs)))
    }
}

fn spilled<T: DeserializeOwned + Send + 'static>(
    spill: Arc<Spill>,
    ranges: Vec<(Range<u64>, usize)>,
) -> Vec<Spilled<T>> {
    ranges
        .into_iter()
        .map(|(range, len)| Spilled::new(spill.clone(), range, len))
        .collect()
}

/// A k-way merge of sorted runs; on equal keys the earlier run goes first.
struct Merge<T, K> {
    key: KeyFn<T, K>,
    runs: Vec<Sorted<T>>,
    /// The smallest unread key of each run that has one.
    heads: BinaryHeap<Reverse<(K, usize)>>,
    records: Vec<Option<T>>,
    error: Option<io::Error>,
}

impl<T, K> Merge<T, K>
where
    T: DeserializeOwned + Send + 'static,
    K: Ord,
{
    fn new(key: KeyFn<T, K>, runs: &[Spilled<T>]) -> Self {
        let mut merge = Merge {
            key,
            runs: runs
                .iter()
                .map(|r| Box::new(r.iter()) as Sorted<T>)
                .collect(),
            heads: BinaryHeap::new(),
            records: runs.iter().map(|_| None).collect(),
            error: None,
        };
        for i in 0..merge.runs.len() {
            merge.advance(i);
        }
        merge
    }

    /// Reads run `i`'s next record into its head.
    fn advance(&mut self, i: usize) {
        match self.runs[i].next() {
            Some(Ok(record)) => {
                self.heads.push(Reverse(((self.key)(&record), i)));
                self.records[i] = Some(record);
            }
            Some(Err(e)) => {
                self.error.get_or_insert(e);
            }
            None => {}
        }
    }
}

impl<T, K> Iterator for Merge<T, K>
where
    T: DeserializeOwned + Send + 'static,
    K: Ord,
{
    type Item = io::Result<T>;

    fn next(&mut self) -> Option<io::Result<T>> {
        if let Some(e) = self.error.take() {
            self.heads.clear();
            return Some(Err(e));
        }
        let Reverse((_, i)) = self.heads.pop()?;
        let record = self.records[i].take();
        self.advance(i);
        record.map(Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sort(values: &[u32], budget: usize) -> Vec<u32> {
        let mut sorter = ExternalSort::new(budget, "tests", |_: &u32| 4, |v: &u32| *v % 1000);
        for v in values {
            sorter.push(*v).unwrap();
        }
        sorter.finish().unwrap().map(Result::unwrap).collect()
    }

    fn expected(values: &[u32]) -> Vec<u32> {
        let mut want = values.to_vec();
        want.sort_by_key(|v| *v % 1000); // stable, as the external sort is
        want
    }

    #[test]
    fn within_the_budget_it_sorts_in_memory() {
        let values: Vec<u32> = (0..500).map(|i| (i * 7919) % 5003).collect();
        assert_eq!(sort(&values, 1 << 20), expected(&values));
    }

    #[test]
    fn runs_merge_in_order_and_equal_keys_keep_push_order() {
        // 4-byte records and a 40-byte budget: 10 per run, 2,000 runs,
        // so the runs are merged in three rounds.
        let values: Vec<u32> = (0..20_000).map(|i| (i * 7919) % 50_021).collect();
        assert_eq!(sort(&values, 40), expected(&values));
    }

    #[test]
    fn an_empty_sort_yields_nothing() {
        assert!(sort(&[], 8).is_empty());
    }
}
