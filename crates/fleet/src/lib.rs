//! Fleet (PRODUCT.md §12): one archive for a whole cluster, composed in
//! S3-compatible object storage.
//!
//! Each host runs [`put`]: it collects its own slice of the cluster's
//! request into a complete archive and uploads it as ONE object, then its
//! manifest, then its index, which marks the upload complete (a host that
//! dies before that leaves nothing the coordinator would take for
//! complete). One coordinator runs [`compose`]: it waits for the hosts,
//! then builds one object by multipart upload from the parts that
//! `logpack::compose::parts` lays out: large hosts' fragments copied by the
//! store (`UploadPartCopy`), small ones fetched and grouped, a final part
//! with the merged manifest. Hosts that failed or never reported become
//! FAILURE children.
//!
//! The S3 client is the AWS SDK (credentials, region, retries and signing
//! from it and the standard `AWS_*` variables), in this crate of its own so
//! that hosts linking the engine never build it.

mod store;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use logpack::compose::parts::{compose_parts, Part, StoredArchive};
use logpack::compose::ChildSummary;
use logpack::manifest::{Manifest, Status};
use logpack::{Engine, Index, Options, Output, Request, RunSpec};

pub use store::{Location, Store};

/// S3's smallest part (every part of a multipart upload but the last).
pub const MIN_PART: u64 = 5 << 20;

/// Why a fleet command failed.
#[derive(Debug)]
pub enum FleetError {
    /// A bad argument or request (exit 2).
    Usage(String),
    /// Anything else: the store, the collection (exit 1).
    Fatal(String),
}

impl std::fmt::Display for FleetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FleetError::Usage(m) | FleetError::Fatal(m) => f.write_str(m),
        }
    }
}

fn fatal(e: impl std::fmt::Display) -> FleetError {
    FleetError::Fatal(e.to_string())
}

/// What a host uploads beside its archive, last: the upload's marker.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostRecord {
    /// The host, as the request names it.
    pub hostname: String,
    /// The archive's key.
    pub archive: String,
    /// The archive's size.
    pub archive_bytes: u64,
    /// The archive's ETag: the coordinator reads and copies only that
    /// version (a second `put` replacing it meanwhile is refused, not mixed).
    pub archive_etag: Option<String>,
    /// The archive's manifest status.
    pub status: Status,
    /// The archive's index.
    pub index: Index,
}

/// The keys of one host's objects under the job's prefix.
fn host_keys(prefix: &str, host: &str) -> (String, String, String) {
    let base = format!("{prefix}hosts/{host}");
    (
        format!("{base}.tar.gz"),
        format!("{base}.manifest.json"),
        format!("{base}.json"),
    )
}

/// A host name as it may appear in a key.
fn check_hostname(host: &str) -> Result<(), FleetError> {
    let ok = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
        && !host.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(FleetError::Usage(format!(
            "host {host:?}: a fleet host name is made of letters, digits, '.', '-' and '_'"
        )))
    }
}

/// Reads the request file; relative paths are against its directory.
pub fn read_request(path: &Path) -> Result<Request, FleetError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| FleetError::Usage(format!("{}: {e}", path.display())))?;
    let base = std::path::absolute(path)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."));
    let request = Request::from_json(&text, &base)
        .map_err(|e| FleetError::Usage(format!("{}: {e}", path.display())))?;
    for h in &request.hosts {
        check_hostname(&h.hostname)?;
    }
    Ok(request)
}

/// What [`put`] did.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PutReport {
    /// The archive's status (FAILURE when a child failed).
    pub status: Status,
    /// The archive's key.
    pub archive: String,
    /// Its size.
    pub archive_bytes: u64,
    /// Compressed bytes of its children's fragments.
    pub fragment_bytes: u64,
}

/// Collects `host`'s slice of `request` and uploads it under `store`.
pub fn put(
    request: &Request,
    host: &str,
    store: &Location,
    endpoint: Option<&str>,
    threads: Option<usize>,
) -> Result<PutReport, FleetError> {
    check_hostname(host)?;
    let mut mine = request.clone();
    mine.hosts.retain(|h| h.hostname == host);
    if mine.hosts.is_empty() {
        let names: Vec<&str> = request.hosts.iter().map(|h| h.hostname.as_str()).collect();
        return Err(FleetError::Usage(format!(
            "--host {host}: not a host of the request ({})",
            names.join(", ")
        )));
    }
    let mut options = Options::default();
    if let Some(t) = threads {
        options.threads = t;
    }
    let engine = Engine::new(options).map_err(|e| FleetError::Usage(e.to_string()))?;
    let scratch = tempfile::tempdir().map_err(fatal)?;
    let local = scratch.path().join("host.tar.gz");
    let report = engine
        .run(&mine, Output::Path(local.clone()), RunSpec::new())
        .map_err(|e| FleetError::Fatal(format!("collecting {host}: {e}")))?;
    let stored = StoredArchive::read(&local).map_err(fatal)?;
    let archive_bytes = std::fs::metadata(&local).map_err(fatal)?.len();
    let (archive_key, manifest_key, record_key) = host_keys(&store.key, host);
    let s3 = Store::connect(endpoint)?;
    let status = report.manifest.status;
    s3.block_on(async {
        // The record goes last: its presence says the rest is complete.
        let archive_etag = s3.put_file(&store.bucket, &archive_key, &local).await?;
        let manifest = stored.manifest.clone().unwrap_or_default();
        s3.put_bytes(&store.bucket, &manifest_key, manifest).await?;
        let record = HostRecord {
            hostname: host.to_string(),
            archive: archive_key.clone(),
            archive_bytes,
            archive_etag,
            status,
            index: stored.index.clone(),
        };
        let json = serde_json::to_vec(&record).map_err(fatal)?;
        s3.put_bytes(&store.bucket, &record_key, json).await
    })?;
    Ok(PutReport {
        status,
        archive: archive_key,
        archive_bytes,
        fragment_bytes: stored.index.children.iter().map(|f| f.length).sum(),
    })
}

/// What [`compose`] did, with the coordinator's own traffic.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComposeReport {
    /// SUCCESS when every child of every host succeeded.
    pub status: Status,
    /// Hosts composed.
    pub hosts: usize,
    /// Hosts that never reported (their children are FAILURE).
    pub missing: Vec<String>,
    /// Children in the manifest.
    pub children: usize,
    /// Parts of the upload: copied by the store, made here.
    pub parts_copied: usize,
    /// Parts made here.
    pub parts_made: usize,
    /// Bytes the store copied (never seen here).
    pub bytes_copied: u64,
    /// Bytes this process downloaded: fragments, manifests, records, listings.
    pub bytes_downloaded: u64,
    /// Bytes this process uploaded.
    pub bytes_uploaded: u64,
    /// The composed object's size.
    pub object_bytes: u64,
}

/// Waits up to `wait` for `request`'s hosts under `store`, then composes
/// their archives into the object `out`.
pub fn compose(
    request: &Request,
    store: &Location,
    out: &Location,
    wait: Duration,
    endpoint: Option<&str>,
) -> Result<ComposeReport, FleetError> {
    if !out.key.ends_with(".tar.gz") {
        return Err(FleetError::Usage(format!(
            "-o {out}: the composed archive is a .tar.gz"
        )));
    }
    let s3 = Store::connect(endpoint)?;
    let hosts: Vec<String> = request.hosts.iter().map(|h| h.hostname.clone()).collect();
    let prefix = format!("{}hosts/", store.key);
    let deadline = Instant::now() + wait;
    let mut downloaded = 0u64;
    // Poll the listing, at most once a second, until every host reported.
    let reported = loop {
        let (keys, listed) = s3.block_on(s3.list(&store.bucket, &prefix))?;
        downloaded += listed;
        let done: Vec<&String> = hosts
            .iter()
            .filter(|h| keys.contains(&host_keys(&store.key, h).2))
            .collect();
        if done.len() == hosts.len() || Instant::now() >= deadline {
            break done.into_iter().cloned().collect::<Vec<String>>();
        }
        std::thread::sleep(Duration::from_secs(1).min(deadline - Instant::now()));
    };
    let mut stored = Vec::new();
    let mut archive_keys = Vec::new();
    let mut missing_hosts = Vec::new();
    for h in &hosts {
        if !reported.contains(h) {
            missing_hosts.push(h.clone());
            continue;
        }
        let (archive_key, _, record_key) = host_keys(&store.key, h);
        let record = s3.block_on(s3.get(&store.bucket, &record_key, None, None))?;
        downloaded += record.len() as u64;
        let at = format!("s3://{}/{record_key}", store.bucket);
        let record: HostRecord =
            serde_json::from_slice(&record).map_err(|e| fatal(format!("{at}: {e}")))?;
        if record.archive != archive_key || record.hostname != *h {
            return Err(fatal(format!(
                "{at}: it names {} of {}, not {archive_key} of {h}",
                record.archive, record.hostname
            )));
        }
        let name = format!("s3://{}/{}", store.bucket, record.archive);
        let archive = if StoredArchive::is_copied(&record.index, MIN_PART) {
            // Copied by the store: its manifest (and the trailer that
            // checks its index) are all this process reads of it. A smaller
            // one's come with its fragments.
            let tail = s3.block_on(s3.get(
                &store.bucket,
                &archive_key,
                Some(StoredArchive::tail_range(&record.index)),
                record.archive_etag.as_deref(),
            ))?;
            downloaded += tail.len() as u64;
            StoredArchive::from_tail(name, record.index, &tail)
                .map_err(|e| fatal(format!("{at}: {e}")))?
        } else {
            StoredArchive {
                name,
                index: record.index,
                manifest: None,
            }
        };
        archive_keys.push((record.archive, record.archive_etag));
        stored.push(archive);
    }
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let why = format!("the host did not report within {} s", wait.as_secs());
    let missing: Vec<ChildSummary> = missing_hosts
        .iter()
        .flat_map(|h| {
            let mut one = request.clone();
            one.hosts.retain(|x| &x.hostname == h);
            logpack::walk::expected_children(&one)
        })
        .map(|(host_name, log_type, path)| ChildSummary {
            host_name,
            log_collection_type: log_type.as_str().to_string(),
            path,
            status: Status::Failure,
            error_message: Some(why.clone()),
            start_date: now.clone(),
            finish_date: now.clone(),
            uncompressed_disk_space_bytes: 0,
        })
        .collect();
    let template = Manifest::for_request(request, "", jiff::Timestamp::now());

    let upload = s3.block_on(s3.create_upload(&out.bucket, &out.key))?;
    let mut parts = Vec::new();
    let mut uploaded = 0u64;
    let mut copied_parts = 0;
    let mut fetched = 0u64;
    let result = {
        let mut fetch = |i: usize, a: u64, b: u64| -> std::io::Result<Vec<u8>> {
            let bytes = s3
                .block_on(s3.get(
                    &store.bucket,
                    &archive_keys[i].0,
                    Some((a, b)),
                    archive_keys[i].1.as_deref(),
                ))
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            fetched += bytes.len() as u64;
            Ok(bytes)
        };
        let mut emit = |p: Part| -> std::io::Result<()> {
            let n = parts.len() as i32 + 1;
            let etag = match p {
                Part::Copy { source, start, end } => {
                    copied_parts += 1;
                    s3.block_on(s3.copy_part(
                        &out.bucket,
                        &out.key,
                        &upload,
                        n,
                        (
                            &store.bucket,
                            &archive_keys[source].0,
                            archive_keys[source].1.as_deref(),
                        ),
                        (start, end),
                    ))
                }
                Part::Bytes(b) => {
                    uploaded += b.len() as u64;
                    s3.block_on(s3.upload_part(&out.bucket, &out.key, &upload, n, b))
                }
            }
            .map_err(|e| std::io::Error::other(e.to_string()))?;
            parts.push(etag);
            Ok(())
        };
        compose_parts(
            &stored, &missing, &template, MIN_PART, &mut fetch, &mut emit,
        )
    };
    let composition = match result {
        Ok(c) => c,
        Err(e) => {
            let _ = s3.block_on(s3.abort_upload(&out.bucket, &out.key, &upload));
            return Err(fatal(format!("composing {out}: {e}")));
        }
    };
    let parts_made = parts.len() - copied_parts;
    if let Err(e) = s3.block_on(s3.complete_upload(&out.bucket, &out.key, &upload, parts)) {
        let _ = s3.block_on(s3.abort_upload(&out.bucket, &out.key, &upload));
        return Err(e);
    }
    Ok(ComposeReport {
        status: composition.manifest.status,
        hosts: stored.len(),
        missing: missing_hosts,
        children: composition.manifest.child_jobs.len(),
        parts_copied: copied_parts,
        parts_made,
        bytes_copied: composition.copied,
        bytes_downloaded: downloaded + fetched,
        bytes_uploaded: uploaded,
        object_bytes: composition.copied + composition.made,
    })
}
