//! logpack collects the logs of a MongoDB deployment's host — agent logs,
//! mongod and mongos logs with their rotated siblings, FTDC and Ops Manager
//! server logs — into one `.tar.gz` (or `.tar.zst`) with a `manifest.json`
//! that records what was collected, skipped or failed.
//!
//! ```no_run
//! use logpack::{Engine, Options, Output, Request};
//!
//! let request = Request::from_file("request.json".as_ref())?;
//! let engine = Engine::new(Options::default())?;
//! let report = engine.collect(&request, Output::Path("logs.tar.gz".into()), None)?;
//! println!("{:?}", report.manifest.status);
//! # Ok::<(), logpack::Error>(())
//! ```
//!
//! The stages are separate modules: [`request`] (parse and validate),
//! [`walk`] (plan the files), `read` (bounded chunked reads), [`select`]
//! (time, severity and size selection) and [`redact`], `archive` (tar +
//! compression, with `pgzip` for parallel gzip), [`manifest`], `pipeline`
//! (the threads that tie them together), and [`verify`] (read an archive back).
//!
//! Memory is bounded whatever the input size: see [`Options::memory_bound`].
#![deny(missing_docs)]

mod archive;
pub mod capture;
pub mod compose;
mod engine;
mod error;
pub mod ffi;
pub mod jobs;
mod jsonscan;
pub mod manifest;
mod output;
#[doc(hidden)] // for benches/deflate.rs only
pub mod pgzip;
mod pipeline;
mod read;
pub mod redact;
pub mod request;
mod run;
pub mod select;
mod spill;
pub mod verify;
pub mod walk;

pub use archive::index::{Fragment, Index};
pub use archive::{Finish, Format};
pub use engine::{Engine, Options, Report};
pub use error::{Error, Result};
pub use manifest::{Manifest, RunManifest};
pub use output::Output;
pub use request::{LogType, Request};
pub use run::{new_job_id, CancelToken, ProgressFn, RedactionKey, RunSpec};
pub use walk::Plan;
