//! Job lists, answered again without the store while it has not changed:
//! fifty clients polling a list of 10,000 jobs cost one query, not fifty.
//!
//! A dedicated store handle reads SQLite's `data_version`, which changes
//! when any other connection (the server's own store calls, a job's run,
//! another process) commits. Entries also expire after [`TTL`], so that
//! changes made by time alone (a job passing its expiration, an owner that
//! died) show within that.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;

use logpack::jobs::JobStore;

/// How long an entry may be served without the store being asked again.
const TTL: Duration = Duration::from_secs(1);
/// Entries kept (one per page, size, verbosity, style and host).
const MAX_ENTRIES: usize = 256;

/// What an answer depends on besides the store: the route's kind, the
/// query, the style and the base URL of its links.
pub type Key = String;

/// Cached list answers.
pub struct ListCache {
    probe: Mutex<JobStore>,
    entries: Mutex<HashMap<Key, (i64, Instant, Bytes)>>,
}

impl ListCache {
    /// A cache whose version probe is `probe` (a store handle of its own).
    pub fn new(probe: JobStore) -> ListCache {
        ListCache {
            probe: Mutex::new(probe),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The store's version now (`None` if it cannot be read: no caching).
    pub fn version(&self) -> Option<i64> {
        self.probe.lock().ok()?.data_version().ok()
    }

    /// The answer for `key`, if the store has not changed since it was made.
    pub fn get(&self, key: &str) -> Option<Bytes> {
        let version = self.version()?;
        let entries = self.entries.lock().ok()?;
        let (v, at, body) = entries.get(key)?;
        (*v == version && at.elapsed() < TTL).then(|| body.clone())
    }

    /// Keeps `body` for `key`, made from the store at `version` (read
    /// before the answer was made, so a change meanwhile invalidates it).
    pub fn put(&self, key: Key, version: i64, body: Bytes) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.retain(|_, (_, at, _)| at.elapsed() < TTL);
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
            }
            entries.insert(key, (version, Instant::now(), body));
        }
    }
}
