//! PRODUCT.md §1's selection rules, written once for the test references
//! (which are independent of `src/select`): whole entries are kept or
//! dropped, lines before the first entry follow it, and the cap keeps the
//! newest bytes from a line start.

/// Keeps the lines of the entries `keeps` accepts. `heads[i]` is what line
/// `i` says when it starts an entry. Returns the kept text and the number
/// of lines dropped, or `None` when no entry is kept.
pub fn keep_entries<H: Copy>(
    lines: &[&[u8]],
    heads: &[Option<H>],
    keeps: impl Fn(H) -> bool,
) -> Option<(Vec<u8>, u64)> {
    let first = heads.iter().flatten().next()?;
    let mut keep = keeps(*first);
    let (mut out, mut dropped, mut any) = (Vec::new(), 0u64, false);
    for (line, head) in lines.iter().zip(heads) {
        if let Some(h) = head {
            keep = keeps(*h);
            any |= keep;
        }
        if keep {
            out.extend_from_slice(line);
        } else {
            dropped += 1;
        }
    }
    any.then_some((out, dropped))
}

/// The newest `n` bytes of `text`, from a line start when one lies in them,
/// and whether anything was cut.
pub fn cap_tail(text: &[u8], n: usize) -> (Vec<u8>, bool) {
    let len = text.len();
    if len <= n {
        return (text.to_vec(), false);
    }
    let lo = len - n;
    let start = (lo..len).find(|&p| text[p - 1] == b'\n').unwrap_or(lo);
    (text[start..].to_vec(), true)
}
