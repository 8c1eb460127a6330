//! Finds the stretches of a block that are compressed already (the zlib
//! payloads inside FTDC, the body of a rotated `.gz`), so that they are
//! stored instead of searched for matches that are not there, while the tar
//! headers, padding and BSON around them are still deflated.

use std::ops::Range;
use std::sync::OnceLock;

/// Bytes per window whose entropy is estimated.
const WINDOW: usize = 1024;

/// Bits per byte above which a window counts as compressed already. zlib
/// output measures about 7.8 on 1 KiB windows (the estimate runs low on
/// short windows); log text, BSON and tar headers measure 6 or less.
const STORED_ABOVE: f32 = 7.2;

/// The shortest stretch worth storing. Each switch between storing and
/// deflating ends a deflate block (about 25 µs with its Huffman trees), so
/// input that alternates every few KiB is cheaper to deflate whole.
const MIN_STORED: usize = 4 * WINDOW;

/// Splits a block of `len` bytes into `(range, stored)` segments, in order:
/// runs of at least [`MIN_STORED`] bytes of whole windows of `regions` (the
/// parts the writer marked as possibly compressed) that look incompressible
/// are stored, the rest is deflated.
pub(super) fn segments(input: &[u8], regions: &[Range<usize>]) -> Vec<(Range<usize>, bool)> {
    let mut stored: Vec<Range<usize>> = Vec::new();
    for region in regions {
        let mut at = region.start;
        while at + WINDOW <= region.end {
            if bits_per_byte(&input[at..at + WINDOW]) > STORED_ABOVE {
                match stored.last_mut() {
                    Some(last) if last.end == at => last.end = at + WINDOW,
                    _ => stored.push(at..at + WINDOW),
                }
            }
            at += WINDOW;
        }
    }
    stored.retain(|r| r.len() >= MIN_STORED);
    let mut segments = Vec::with_capacity(2 * stored.len() + 1);
    let mut at = 0;
    for s in stored {
        if s.start > at {
            segments.push((at..s.start, false));
        }
        at = s.end;
        segments.push((s, true));
    }
    if at < input.len() || segments.is_empty() {
        segments.push((at..input.len(), false));
    }
    segments
}

/// The Shannon entropy of the window's byte histogram.
fn bits_per_byte(window: &[u8]) -> f32 {
    let mut counts = [0u16; 256];
    for &b in window {
        counts[b as usize] += 1;
    }
    let table = c_log2_c();
    let sum: f32 = counts.iter().map(|&c| table[c as usize]).sum();
    let n = window.len() as f32;
    n.log2() - sum / n
}

/// `c · log2(c)` for every count a window can hold.
fn c_log2_c() -> &'static [f32; WINDOW + 1] {
    static TABLE: OnceLock<[f32; WINDOW + 1]> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = [0.0; WINDOW + 1];
        for (c, v) in t.iter_mut().enumerate().skip(1) {
            *v = c as f32 * (c as f32).log2();
        }
        t
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng as _, SeedableRng};

    fn noise(n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        StdRng::seed_from_u64(3).fill(&mut v[..]);
        v
    }

    #[test]
    fn noise_is_incompressible_text_and_zeros_are_not() {
        assert!(bits_per_byte(&noise(WINDOW)) > STORED_ABOVE);
        let text =
            b"{\"t\":{\"$date\":\"2026-11-19T10:00:00.000Z\"},\"s\":\"I\",\"c\":\"NETWORK\"}\n";
        let text: Vec<u8> = text.iter().copied().cycle().take(WINDOW).collect();
        assert!(bits_per_byte(&text) < 6.0);
        assert_eq!(bits_per_byte(&[0u8; WINDOW]), 0.0);
    }

    #[test]
    fn only_noise_inside_regions_is_stored() {
        // text | noise (region) | text | noise (not a region)
        let mut input = vec![b'a'; 3000];
        input.extend(noise(5000));
        input.extend(vec![b'b'; 3000]);
        input.extend(noise(4096));
        let region = 2000..9000;
        let segs = segments(&input, std::slice::from_ref(&region));
        let stored: Vec<_> = segs.iter().filter(|s| s.1).map(|s| s.0.clone()).collect();
        // Windows start at the region's start: 3024..7120 are all noise; the
        // windows that straddle text may go either way, never further.
        assert_eq!(stored.len(), 1, "{segs:?}");
        assert!(stored[0].start <= 3024 && stored[0].end >= 7120, "{segs:?}");
        assert!(stored[0].start >= 2000 && stored[0].end <= 9000, "{segs:?}");
        // The segments tile the block, in order.
        let mut at = 0;
        for (r, _) in &segs {
            assert_eq!(r.start, at);
            at = r.end;
        }
        assert_eq!(at, input.len());
    }

    #[test]
    fn short_incompressible_stretches_are_deflated() {
        // Noise and text alternating every 2 KiB: storing would cost more
        // switches than it saves.
        let mut input = Vec::new();
        for _ in 0..8 {
            input.extend(noise(2 * WINDOW));
            input.extend(vec![b'a'; 2 * WINDOW]);
        }
        let region = 0..input.len();
        let segs = segments(&input, std::slice::from_ref(&region));
        assert_eq!(segs, vec![(0..input.len(), false)]);
    }

    #[test]
    fn no_regions_is_one_deflated_segment() {
        assert_eq!(segments(&[1, 2, 3], &[]), vec![(0..3, false)]);
        assert_eq!(segments(&[], &[]), vec![(0..0, false)]);
    }
}
