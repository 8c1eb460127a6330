//! `manifest.json` (PRODUCT.md §3): what was collected, what was skipped,
//! what failed. It mirrors the Ops Manager log collection job response.

use std::io;

use serde::{Deserialize, Serialize};

use crate::walk::Skipped;

pub use crate::spill::Spilled;

/// The status of a job or of one child.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Everything asked for was collected.
    Success,
    /// A named path was missing or unreadable, or a read failed.
    Failure,
}

/// The engine that wrote the archive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Engine {
    /// Always `logpack`.
    pub name: String,
    /// The crate version.
    pub version: String,
}

/// The whole manifest. `Child` is [`ChildJob`] with its lists in memory,
/// or, in a [`Report`](crate::Report), with them read back from disk
/// ([`RunManifest`]); both serialize to the same `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest<Child = ChildJob> {
    /// Engine name and version.
    pub engine: Engine,
    /// A random 24-hex-digit job id.
    pub id: String,
    /// `FAILURE` when any child failed.
    pub status: Status,
    /// When the job started (RFC 3339, UTC).
    pub creation_date: String,
    /// When the archive was complete.
    pub finish_date: String,
    /// From the request.
    pub resource_type: Option<String>,
    /// From the request.
    pub resource_name: Option<String>,
    /// The effective log types.
    pub log_types: Vec<String>,
    /// Whether values were redacted.
    pub redacted: bool,
    /// The per-file size cap, if any.
    pub size_requested_per_file_bytes: Option<u64>,
    /// Start of the time range, if any.
    pub log_collection_from_date: Option<String>,
    /// End of the time range, if any.
    pub log_collection_to_date: Option<String>,
    /// Minimum severity, if any.
    pub level: Option<String>,
    /// Sum of `archivedBytes` over every file.
    pub uncompressed_size_total_bytes: u64,
    /// Whether any file was cut by the size cap.
    pub size_limit_hit: bool,
    /// One per host × component.
    pub child_jobs: Vec<Child>,
}

impl<C> Manifest<C> {
    /// A manifest for `request` with no children yet: its fields, the
    /// engine, status SUCCESS, dates `now`.
    pub fn for_request(request: &crate::Request, id: &str, now: jiff::Timestamp) -> Manifest<C> {
        Manifest {
            engine: Engine {
                name: "logpack".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            id: id.to_string(),
            status: Status::Success,
            creation_date: timestamp_string(now),
            finish_date: timestamp_string(now),
            resource_type: request.resource_type.clone(),
            resource_name: request.resource_name.clone(),
            log_types: request
                .log_types
                .iter()
                .map(|t| t.as_str().to_string())
                .collect(),
            redacted: request.redacted,
            size_requested_per_file_bytes: request.size_requested_per_file_bytes,
            log_collection_from_date: request.from.map(|t| t.to_string()),
            log_collection_to_date: request.to.map(|t| t.to_string()),
            level: request.level.map(|l| format!("{l:?}").to_uppercase()),
            uncompressed_size_total_bytes: 0,
            size_limit_hit: false,
            child_jobs: Vec::new(),
        }
    }
}

/// The manifest a run returns: each child's files and skipped entries stay
/// on disk (or in a small buffer) until read.
pub type RunManifest = Manifest<ChildJob<Spilled<FileRecord>, Spilled<Skipped>>>;

/// One host × component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChildJob<Files = Vec<FileRecord>, Skips = Vec<Skipped>> {
    /// `host` or `host:port`.
    pub host_name: String,
    /// The log type, e.g. `MONGODB`.
    pub log_collection_type: String,
    /// The component's directory inside the archive.
    pub path: String,
    /// `SUCCESS` or `FAILURE`.
    pub status: Status,
    /// For failures: the path and the OS error.
    pub error_message: Option<String>,
    /// When the first file of the component started.
    pub start_date: String,
    /// When the last file of the component was archived.
    pub finish_date: String,
    /// Sum of the component's `archivedBytes`.
    pub uncompressed_disk_space_bytes: u64,
    /// The archived files, in archive order.
    pub files: Files,
    /// Entries that were seen but not collected.
    pub skipped: Skips,
    /// Remarks that are not failures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// One archived file. Its archive path is `<child path>/<name>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileRecord {
    /// Name below the child's path.
    pub name: String,
    /// Size of the source when it was opened.
    pub source_bytes: u64,
    /// Size of the entry in the archive.
    pub archived_bytes: u64,
    /// SHA-256 of the archived bytes, lower-case hex.
    pub sha256: String,
    /// Whether the size cap cut the file.
    pub truncated: bool,
    /// Lines removed by selection.
    pub lines_dropped: u64,
    /// Values replaced by redaction.
    pub redactions: u64,
    /// What happened while reading (growth, shrinkage, errors).
    pub notes: Vec<String>,
}

impl<Files, Skips> ChildJob<Files, Skips> {
    /// The archive path of `file`.
    pub fn archive_path(&self, file: &FileRecord) -> String {
        format!("{}/{}", self.path, file.name)
    }
}

impl RunManifest {
    /// The whole manifest in memory, as in `manifest.json`. It reads every
    /// record back, so it costs memory in proportion to the files.
    pub fn load(&self) -> io::Result<Manifest> {
        let value = serde_json::to_value(self)?;
        Ok(serde_json::from_value(value)?)
    }

    /// The number of archived files.
    pub fn file_count(&self) -> usize {
        self.child_jobs.iter().map(|c| c.files.len()).sum()
    }
}

impl Manifest {
    /// Every archived file with its full archive path, in archive order.
    pub fn archived_files(&self) -> impl Iterator<Item = (String, &FileRecord)> {
        self.child_jobs
            .iter()
            .flat_map(|c| c.files.iter().map(move |f| (c.archive_path(f), f)))
    }
}

/// A manifest date: RFC 3339 in UTC, to the second.
pub fn timestamp_string(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The archive path of the manifest itself.
pub const MANIFEST_NAME: &str = "manifest.json";
