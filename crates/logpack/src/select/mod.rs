//! Log-aware selection (PRODUCT.md §1, §4): time range, severity, size cap and
//! redaction, applied per file between reading and archiving.
//!
//! A selected text file is processed in passes over the same bytes: the first
//! counts what the filter keeps (so the tar header can carry the exact size),
//! an optional second finds where the size cap cuts, and the last streams the
//! kept bytes. Every pass runs the same deterministic filter, so memory stays
//! bounded whatever the file size and no spool is written to disk.

pub mod ftdc;
pub mod parse;
pub mod stream;
pub mod text;

use jiff::Timestamp;

use crate::redact::Redactor;
use crate::request::{Level, Request};

/// Slack for timestamps that step backwards: real logs step back by up to a
/// few seconds (threads stamp lines before they take the write lock), so
/// whole-file skips and in-file seeks keep this much margin. Inside the
/// narrowed range every entry is still checked exactly.
pub const TIME_MARGIN_MS: i64 = 5 * 60 * 1000;

/// What a request selects, shared by every reader of one run.
#[derive(Clone, Default)]
pub struct Selection {
    /// Inclusive lower bound, milliseconds since the epoch.
    pub from_ms: Option<i64>,
    /// Inclusive upper bound, milliseconds since the epoch.
    pub to_ms: Option<i64>,
    /// Minimum severity.
    pub level: Option<Level>,
    /// Keep at most this many (newest) bytes per file.
    pub cap: Option<u64>,
    /// Replaces sensitive values, when the request asks for it.
    pub redactor: Option<Redactor>,
}

fn millis(t: Timestamp) -> i64 {
    t.as_millisecond()
}

impl Selection {
    /// The selection a request asks for. `redactor` is used when the request
    /// sets `redacted`.
    pub fn from_request(request: &Request, redactor: Option<Redactor>) -> Selection {
        Selection {
            from_ms: request.from.map(millis),
            // `to` is inclusive at the logs' full precision: 11:00:00Z keeps
            // 11:00:00.000 and drops 11:00:00.500.
            to_ms: request.to.map(millis),
            level: request.level,
            cap: request.size_requested_per_file_bytes,
            redactor: if request.redacted { redactor } else { None },
        }
    }

    /// Whether a time range applies.
    pub fn has_time(&self) -> bool {
        self.from_ms.is_some() || self.to_ms.is_some()
    }

    /// Whether lines must be looked at (time, severity or redaction).
    pub fn filters_lines(&self) -> bool {
        self.has_time() || self.level.is_some() || self.redactor.is_some()
    }

    /// Whether anything applies at all.
    pub fn is_active(&self) -> bool {
        self.filters_lines() || self.cap.is_some()
    }

    /// Whether an instant lies in the range (inclusive at both ends).
    pub fn in_range(&self, ms: i64) -> bool {
        self.from_ms.is_none_or(|f| ms >= f) && self.to_ms.is_none_or(|t| ms <= t)
    }

    /// Whether a span `[start, end]` (either end open) may overlap the range,
    /// allowing [`TIME_MARGIN_MS`] of slack.
    pub fn may_overlap(&self, start: Option<i64>, end: Option<i64>) -> bool {
        let after_from = match (end, self.from_ms) {
            (Some(e), Some(f)) => e.saturating_add(TIME_MARGIN_MS) >= f,
            _ => true,
        };
        let before_to = match (start, self.to_ms) {
            (Some(s), Some(t)) => s.saturating_sub(TIME_MARGIN_MS) <= t,
            _ => true,
        };
        after_from && before_to
    }

    /// Whether an entry with this severity passes `level`; entries whose
    /// format has no severity always pass.
    pub fn level_ok(&self, level: Option<Level>) -> bool {
        match (self.level, level) {
            (Some(min), Some(l)) => l >= min,
            _ => true,
        }
    }
}

/// What selection made of one file.
#[derive(Debug, Default, Clone)]
pub struct FileSelection {
    /// The name in the archive (a filtered `.gz` loses its suffix).
    pub name: Option<String>,
    /// Whether the size cap cut the file.
    pub truncated: bool,
    /// Lines removed by the time and severity filters (not by the cap).
    pub lines_dropped: u64,
    /// Values replaced by redaction.
    pub redactions: u64,
    /// Remarks for the manifest.
    pub notes: Vec<String>,
    /// Redaction tokens seen in this file: (token, original value).
    pub tokens: Vec<(String, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_is_inclusive_at_full_precision() {
        let s = Selection {
            from_ms: Some(1_000),
            to_ms: Some(2_000),
            ..Selection::default()
        };
        assert!(s.in_range(1_000) && s.in_range(2_000));
        assert!(!s.in_range(999) && !s.in_range(2_001));
    }

    #[test]
    fn overlap_allows_the_margin() {
        let s = Selection {
            from_ms: Some(TIME_MARGIN_MS * 10),
            to_ms: Some(TIME_MARGIN_MS * 20),
            ..Selection::default()
        };
        assert!(s.may_overlap(Some(0), Some(TIME_MARGIN_MS * 9)));
        assert!(!s.may_overlap(Some(0), Some(TIME_MARGIN_MS * 9 - 1)));
        assert!(s.may_overlap(Some(TIME_MARGIN_MS * 21), None));
        assert!(!s.may_overlap(Some(TIME_MARGIN_MS * 21 + 1), None));
    }
}
