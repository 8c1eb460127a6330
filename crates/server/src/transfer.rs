//! Reading request bodies within a limit, and streaming a file (an open
//! archive) as a download with `Range` support.

use std::fs::File;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{
    HeaderValue, ACCEPT_RANGES, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE,
    RANGE,
};
use hyper::{HeaderMap, Response, StatusCode};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::answer::{ApiError, Body};

/// Chunks a download is read in: large enough that a loopback download
/// runs at memory speed, small enough that a slow client (two chunks
/// queued, one in hyper) holds about half a MiB.
const CHUNK: usize = 128 << 10;

/// The request body, at most `limit` bytes (413 beyond), as JSON (an
/// `INVALID_JSON` error says where it breaks). An empty body is `{}`.
pub async fn json_body(body: Incoming, limit: usize) -> Result<Value, ApiError> {
    let bytes = Limited::new(body, limit)
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "PAYLOAD_TOO_LARGE",
                    format!("the request body is over {limit} bytes"),
                )
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "INVALID_JSON",
                    format!("the request body could not be read: {e}"),
                )
            }
        })?
        .to_bytes();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
            format!(
                "the body is not valid JSON at line {}, column {}: {e}",
                e.line(),
                e.column()
            ),
        )
    })
}

/// The one byte range of a `Range: bytes=…` header, within `len`:
/// `Ok(None)` when there is none (or it is not a single bytes range, which
/// RFC 9110 lets a server ignore), `Err` when it cannot be satisfied.
fn range(headers: &HeaderMap, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = headers
        .get(RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| s.parse::<u64>().ok();
    let (start, end) = match (a.is_empty(), b.is_empty()) {
        // `bytes=-N`: the last N bytes.
        (true, false) => {
            let n = num(b).ok_or(())?;
            if n == 0 {
                return Err(());
            }
            (len.saturating_sub(n), len.checked_sub(1).ok_or(())?)
        }
        (false, _) => {
            let start = num(a).ok_or(())?;
            let end = if b.is_empty() {
                len.saturating_sub(1)
            } else {
                num(b).ok_or(())?.min(len.saturating_sub(1))
            };
            (start, end)
        }
        (true, true) => return Ok(None),
    };
    if start >= len || start > end {
        return Err(());
    }
    Ok(Some((start, end)))
}

/// A download of `file` (already open: a retry that replaces the archive
/// meanwhile does not change what this download reads) named `name`.
pub fn download(file: File, name: &str, headers: &HeaderMap) -> Response<Body> {
    let len = match file.metadata() {
        Ok(m) => m.len(),
        Err(e) => {
            return ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "UNEXPECTED_ERROR",
                format!("the archive cannot be read: {e}"),
            )
            .answer(Default::default())
        }
    };
    let (status, start, count) = match range(headers, len) {
        Ok(None) => (StatusCode::OK, 0, len),
        Ok(Some((a, b))) => (StatusCode::PARTIAL_CONTENT, a, b - a + 1),
        Err(()) => {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                r.headers_mut().insert(CONTENT_RANGE, v);
            }
            return r;
        }
    };
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(2);
    // Each chunk is read on the blocking pool, and sent from a task: a
    // client that stops reading holds no thread, and is dropped after
    // STALL. The channel's bound (two chunks) is what it can hold up.
    let file = std::sync::Arc::new(file);
    tokio::spawn(async move {
        let (mut at, end) = (start, start + count);
        while at < end {
            let want = CHUNK.min((end - at) as usize);
            let f = file.clone();
            let read = tokio::task::spawn_blocking(move || {
                use std::os::unix::fs::FileExt;
                let mut buf = vec![0u8; want];
                let mut got = 0;
                while got < want {
                    match f.read_at(&mut buf[got..], at + got as u64) {
                        Ok(0) => break,
                        Ok(n) => got += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                buf.truncate(got);
                Ok(buf)
            })
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
            let chunk = match read {
                Ok(buf) if buf.is_empty() => Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the archive is shorter than it was",
                )),
                other => other,
            };
            let failed = chunk.is_err();
            if let Ok(buf) = &chunk {
                at += buf.len() as u64;
            }
            let sent = tokio::time::timeout(STALL, tx.send(chunk.map(Bytes::from))).await;
            if failed || !matches!(sent, Ok(Ok(()))) {
                return; // a read error ends the body; a gone or stalled client, the task
            }
        }
    });
    let mut r = Response::new(Body::Stream(rx));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/gzip"));
    h.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(CONTENT_LENGTH, HeaderValue::from(count));
    // Archive names are made of `[A-Za-z0-9._-]` (Request::archive_stem).
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(CONTENT_DISPOSITION, v);
    }
    if status == StatusCode::PARTIAL_CONTENT {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{len}", start + count - 1))
        {
            h.insert(CONTENT_RANGE, v);
        }
    }
    r
}

/// How long a blocked writer waits for a client that does not read before
/// giving up (the capture or stream then ends, freeing its slot).
const STALL: std::time::Duration = std::time::Duration::from_secs(60);

/// A blocking `Write` (for the engine's threads) that feeds a streamed
/// body. A client that went away, or that reads nothing for [`STALL`],
/// makes the next write fail.
pub struct ChannelWriter {
    tx: mpsc::Sender<std::io::Result<Bytes>>,
    runtime: tokio::runtime::Handle,
}

impl ChannelWriter {
    /// A writer and the body it feeds; call from the runtime.
    pub fn new() -> (ChannelWriter, Body) {
        let (tx, rx) = mpsc::channel(16);
        let w = ChannelWriter {
            tx,
            runtime: tokio::runtime::Handle::current(),
        };
        (w, Body::Stream(rx))
    }

    /// Cancels `cancel` when the client goes away or the server stops,
    /// until the returned guard is dropped (when the work is done).
    pub fn cancel_when_gone(
        &self,
        mut stopping: tokio::sync::watch::Receiver<bool>,
        cancel: logpack::CancelToken,
    ) -> tokio::sync::oneshot::Sender<()> {
        let (done, done_rx) = tokio::sync::oneshot::channel::<()>();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = tx.closed() => cancel.cancel(),
                _ = crate::stopped(&mut stopping) => cancel.cancel(),
                _ = done_rx => {}
            }
        });
        done
    }

    /// Ends the body with an error: the connection is cut, so the client
    /// cannot take a partial stream for a whole one.
    pub fn abort(&self, why: String) {
        let _ = self
            .runtime
            .block_on(self.tx.send(Err(std::io::Error::other(why))));
    }
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if b.is_empty() {
            return Ok(0);
        }
        let chunk = Bytes::copy_from_slice(b);
        match self
            .runtime
            .block_on(tokio::time::timeout(STALL, self.tx.send(Ok(chunk))))
        {
            Ok(Ok(())) => Ok(b.len()),
            Ok(Err(_)) => Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the client closed the connection",
            )),
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client stopped reading",
            )),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(v: &str, len: u64) -> Result<Option<(u64, u64)>, ()> {
        let mut h = HeaderMap::new();
        h.insert(RANGE, HeaderValue::from_str(v).unwrap());
        range(&h, len)
    }

    #[test]
    fn ranges_as_curl_and_browsers_send_them() {
        assert_eq!(of("bytes=0-", 10), Ok(Some((0, 9))));
        assert_eq!(of("bytes=4-", 10), Ok(Some((4, 9))));
        assert_eq!(of("bytes=2-5", 10), Ok(Some((2, 5))));
        assert_eq!(of("bytes=2-500", 10), Ok(Some((2, 9))));
        assert_eq!(of("bytes=-3", 10), Ok(Some((7, 9))));
        assert_eq!(of("bytes=-30", 10), Ok(Some((0, 9))));
        assert_eq!(of("bytes=10-", 10), Err(()));
        assert_eq!(of("bytes=5-2", 10), Err(()));
        assert_eq!(of("bytes=-0", 10), Err(()));
        assert_eq!(of("bytes=0-", 0), Err(()));
        assert_eq!(of("bytes=0-1,4-5", 10), Ok(None));
        assert_eq!(of("items=0-1", 10), Ok(None));
        assert_eq!(of("bytes=x-1", 10), Err(()));
    }
}
