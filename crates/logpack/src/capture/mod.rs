//! Live capture (PRODUCT.md §10): follow the live logs of a request's
//! components through rotation, for a duration, as normalized entries.

pub mod entry;
mod follow;
mod run;

pub use entry::{CaptureFormat, LogEntry};
pub use run::{CaptureReport, CaptureSpec, NoticeFn, MAX_CAPTURES};
