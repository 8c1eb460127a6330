//! Selecting FTDC files: by the time span their names give, and cut only
//! between their length-prefixed BSON documents.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// The start of an FTDC file from its name, `metrics.2026-11-20T10-00-00Z-00000`.
/// A name is any text (a stray multi-byte character, an escaped byte), so the
/// stamp is checked byte by byte against its shape before it is cut up.
pub fn start_from_name(name: &str) -> Option<i64> {
    const SHAPE: &[u8; 20] = b"dddd-dd-ddTdd-dd-ddZ";
    let rest = name.rsplit('/').next()?.strip_prefix("metrics.")?;
    let stamp = rest.as_bytes().get(..SHAPE.len())?;
    let fits = stamp.iter().zip(SHAPE).all(|(&b, &s)| match s {
        b'd' => b.is_ascii_digit(),
        _ => b == s,
    });
    if !fits {
        return None;
    }
    // All ASCII now: every byte index is a character boundary.
    let stamp = std::str::from_utf8(stamp).ok()?;
    let text = format!(
        "{}T{}:{}:{}Z",
        &stamp[..10],
        &stamp[11..13],
        &stamp[14..16],
        &stamp[17..19]
    );
    text.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond())
}

/// The time spans of the files of one `diagnostic.data` directory, asked
/// for in archive order. A dated file runs until the next dated file in
/// that order starts, or on without end when there is none or it does not
/// start later; `metrics.interim` and other undated names run from the
/// newest dated start on. Open ends only ever keep more.
pub struct Spans<I: Iterator<Item = (usize, i64)>> {
    /// The dated files' indexes and starts, read ahead of the asking.
    ahead: std::iter::Peekable<I>,
    newest: Option<i64>,
}

impl<I: Iterator<Item = (usize, i64)>> Spans<I> {
    /// `dated` lists each dated file's index and start in archive order;
    /// `newest` is the latest of those starts.
    pub fn new(dated: I, newest: Option<i64>) -> Self {
        Spans {
            ahead: dated.peekable(),
            newest,
        }
    }

    /// The span of file `index`, named `name`; indexes must grow.
    pub fn span(&mut self, index: usize, name: &str) -> (Option<i64>, Option<i64>) {
        let Some(start) = start_from_name(name) else {
            return (self.newest, None);
        };
        while self.ahead.next_if(|(i, _)| *i <= index).is_some() {}
        let end = self.ahead.peek().map(|(_, next)| *next);
        (Some(start), end.filter(|next| *next > start))
    }
}

/// Where to start so that at most `cap` bytes of whole documents remain:
/// the first document boundary `b` with `size - b <= cap`. `None` when not
/// even the last document fits.
pub fn tail_start(file: &File, size: u64, cap: u64) -> io::Result<Option<u64>> {
    if size <= cap {
        return Ok(Some(0));
    }
    let threshold = size - cap;
    let mut at = 0u64;
    while at + 4 <= size {
        if at >= threshold {
            return Ok(Some(at));
        }
        let mut len = [0u8; 4];
        file.read_exact_at(&mut len, at)?;
        let len = u32::from_le_bytes(len) as u64;
        if len < 5 || at + len > size {
            // Not a document boundary (corrupt or being written): what
            // follows cannot be cut safely.
            return Ok(None);
        }
        at += len;
    }
    Ok((at >= threshold && at < size).then_some(at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn doc(n: usize) -> Vec<u8> {
        let mut d = ((n + 5) as u32).to_le_bytes().to_vec();
        d.extend(std::iter::repeat_n(b'x', n));
        d.push(0);
        d
    }

    #[test]
    fn names_give_spans() {
        let names = [
            "metrics.2026-11-19T10-00-00Z-00000",
            "metrics.2026-11-20T10-00-00Z-00000",
            "metrics.interim",
        ];
        let dated: Vec<(usize, i64)> = names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| Some((i, start_from_name(n)?)))
            .collect();
        let newest = dated.iter().map(|d| d.1).max();
        let mut spans = Spans::new(dated.into_iter(), newest);
        let s: Vec<_> = names
            .iter()
            .enumerate()
            .map(|(i, n)| spans.span(i, n))
            .collect();
        let t = |x: &str| x.parse::<jiff::Timestamp>().unwrap().as_millisecond();
        assert_eq!(
            s[0],
            (
                Some(t("2026-11-19T10:00:00Z")),
                Some(t("2026-11-20T10:00:00Z"))
            )
        );
        assert_eq!(s[1], (Some(t("2026-11-20T10:00:00Z")), None));
        assert_eq!(s[2], (Some(t("2026-11-20T10:00:00Z")), None));
    }

    #[test]
    fn names_that_are_not_stamps_have_no_start() {
        let t = |x: &str| x.parse::<jiff::Timestamp>().unwrap().as_millisecond();
        let good = "metrics.2026-11-20T10-00-00Z-00000";
        assert_eq!(start_from_name(good), Some(t("2026-11-20T10:00:00Z")));
        assert_eq!(
            start_from_name("d/metrics.2026-11-20T10-00-00Z"),
            Some(t("2026-11-20T10:00:00Z"))
        );
        // A multi-byte character at every byte position, in the stamp or
        // not (the bug: `metrics.2026-11-20T1é-00-0Z` cut inside `é`).
        for c in ["é", "日", "🦀"] {
            for i in 0..=good.len() {
                let name = format!("{}{c}{}", &good[..i], &good[i..]);
                let start = start_from_name(&name);
                assert_eq!(start.is_some(), i >= "metrics.".len() + 20, "{name}");
            }
        }
        for name in [
            "metrics.2026-11-20T1é-00-0Z",
            "metrics.2026-11-20T1\\xff-00-0Z",
            "metrics.2026-11-20X10-00-00Z",
            "metrics.2026-11-20T10-00-00",
            "metrics.2026-11-20T10-00-0",
            "metrics.2026-13-20T10-00-00Z",
            "metrics.2026-11-20T25-00-00Z",
            "metrics.2026-1a-20T10-00-00Z",
            "metrics.+026-11-20T10-00-00Z",
            "metrics. 2026-11-20T10-00-00Z",
            "metrics.",
            "metrics",
            "",
            "/",
            "metrics.interim",
        ] {
            assert_eq!(start_from_name(name), None, "{name}");
        }
    }

    #[test]
    fn a_later_file_that_starts_earlier_leaves_the_span_open() {
        // Out of order (two directories): the first span cannot end at a
        // start before its own, so it stays open and keeps more, not less.
        let t = |x: &str| x.parse::<jiff::Timestamp>().unwrap().as_millisecond();
        let (a, b) = (t("2026-11-20T10:00:00Z"), t("2026-11-19T10:00:00Z"));
        let mut spans = Spans::new([(0, a), (1, b)].into_iter(), Some(a));
        assert_eq!(
            spans.span(0, "x/metrics.2026-11-20T10-00-00Z-00000"),
            (Some(a), None)
        );
        assert_eq!(
            spans.span(1, "y/metrics.2026-11-19T10-00-00Z-00000"),
            (Some(b), None)
        );
        assert_eq!(spans.span(2, "metrics.interim"), (Some(a), None));
    }

    #[test]
    fn cap_cuts_between_documents() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        let docs = [doc(10), doc(20), doc(30)];
        for d in &docs {
            f.write_all(d).unwrap();
        }
        let size = docs.iter().map(|d| d.len() as u64).sum::<u64>();
        let last = docs[2].len() as u64;
        assert_eq!(
            tail_start(f.as_file(), size, last).unwrap(),
            Some(size - last)
        );
        assert_eq!(
            tail_start(f.as_file(), size, last + 10).unwrap(),
            Some(size - last)
        );
        assert_eq!(tail_start(f.as_file(), size, last - 1).unwrap(), None);
        assert_eq!(tail_start(f.as_file(), size, size).unwrap(), Some(0));
    }
}
