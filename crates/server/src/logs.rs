//! Seed `004`: `GET /logs[/{pid}]`, dotnet-monitor's live logs, over the
//! engine's capture. Errors are problem details (RFC 9457), as
//! dotnet-monitor answers them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper::header::{HeaderValue, ACCEPT, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{HeaderMap, Response, StatusCode};
use serde_json::{json, Value};

use logpack::capture::{CaptureFormat, CaptureSpec};
use logpack::{CancelToken, Error, Request};

use crate::answer::{ApiError, Body};
use crate::routes::Query;
use crate::transfer::ChannelWriter;
use crate::App;

/// A problem details answer.
fn problem(status: StatusCode, detail: impl Into<String>) -> Response<Body> {
    let body = json!({
        "type": section(status).map_or("about:blank".to_string(), |s| {
            format!("https://tools.ietf.org/html/rfc9110#section-15.{s}")
        }),
        "title": status.canonical_reason().unwrap_or(""),
        "status": status.as_u16(),
        "detail": detail.into(),
    });
    let mut r = Response::new(Body::Full(http_body_util::Full::new(
        format!("{body}\n").into(),
    )));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    r
}

/// RFC 9110's section of a status it defines, for the problem `type`.
fn section(status: StatusCode) -> Option<String> {
    match status.as_u16() {
        n @ 400..=417 => Some(format!("5.{}", n - 399)),
        n @ 500..=505 => Some(format!("6.{}", n - 499)),
        _ => None,
    }
}

/// The framing dotnet-monitor picks for an `Accept` header: `text/plain`,
/// then ndjson, then JSON sequences, then server-sent events; ndjson when
/// the client takes anything. `None`: nothing it can produce is accepted.
fn negotiate(headers: &HeaderMap) -> Option<CaptureFormat> {
    let Some(accept) = headers.get(ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(CaptureFormat::Ndjson);
    };
    let types: Vec<String> = accept
        .split(',')
        .filter_map(|t| {
            let mut parts = t.split(';');
            let ty = parts.next()?.trim().to_ascii_lowercase();
            // `q=0` means "not this one".
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    == Some(0.0)
            });
            (!refused && !ty.is_empty()).then_some(ty)
        })
        .collect();
    let order = [
        ("text/plain", CaptureFormat::Text),
        ("application/x-ndjson", CaptureFormat::Ndjson),
        ("application/json-seq", CaptureFormat::JsonSeq),
        ("text/event-stream", CaptureFormat::Sse),
    ];
    if let Some((_, f)) = order.iter().find(|(t, _)| types.iter().any(|a| a == t)) {
        return Some(*f);
    }
    if types.iter().any(|a| a == "*/*" || a == "application/*") || types.is_empty() {
        return Some(CaptureFormat::Ndjson);
    }
    if types.iter().any(|a| a == "text/*") {
        return Some(CaptureFormat::Text);
    }
    None
}

/// The log files process `pid` has open, and its `--logpath`.
fn open_logs(pid: u32) -> Vec<PathBuf> {
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let mut out: Vec<PathBuf> = std::fs::read_dir(proc.join("fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .collect();
    if let Ok(cmdline) = std::fs::read(proc.join("cmdline")) {
        let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
        for (i, a) in args.iter().enumerate() {
            let a = String::from_utf8_lossy(a);
            if let Some(v) = a.strip_prefix("--logpath=") {
                out.push(PathBuf::from(v));
            } else if a == "--logpath" {
                if let Some(v) = args.get(i + 1) {
                    out.push(PathBuf::from(String::from_utf8_lossy(v).into_owned()));
                }
            }
        }
    }
    out
}

fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => a == b,
    }
}

/// The hosts to follow: the process of `pid`, or every host narrowed by
/// `component` (a hostname, a `host:port` process, or a log type).
fn hosts(
    app: &App,
    pid: Option<&str>,
    component: Option<&str>,
) -> Result<(Vec<Value>, Option<String>), Response<Body>> {
    let deployment = &app.deployment;
    if let Some(pid) = pid {
        let Ok(n) = pid.parse::<u32>() else {
            return Err(problem(
                StatusCode::BAD_REQUEST,
                format!("pid {pid:?} is not a process id"),
            ));
        };
        let open = open_logs(n);
        if open.is_empty() {
            return Err(problem(
                StatusCode::NOT_FOUND,
                format!("no process {n} can be seen"),
            ));
        }
        for (host, p) in deployment.processes() {
            let Some(log) = p.get("logPath").and_then(Value::as_str) else {
                continue;
            };
            let log = deployment.base_dir.join(log);
            if open.iter().any(|o| same_file(o, &log)) {
                return Ok((
                    vec![json!({"hostname": host, "processes": [p]})],
                    Some("MONGODB".into()),
                ));
            }
        }
        return Err(problem(
            StatusCode::NOT_FOUND,
            format!("process {n} writes none of the deployment's logs"),
        ));
    }
    let Some(c) = component else {
        return Ok((deployment.hosts.clone(), None));
    };
    let types = [
        "AUTOMATION_AGENT",
        "MONITORING_AGENT",
        "BACKUP_AGENT",
        "MONGODB",
        "APPLICATION",
        "HTTP_ACCESS",
        "MIGRATION",
        "DAEMON",
    ];
    if types.contains(&c) {
        return Ok((deployment.hosts.clone(), Some(c.to_string())));
    }
    for h in &deployment.hosts {
        let name = h.get("hostname").and_then(Value::as_str).unwrap_or("");
        if name == c {
            return Ok((vec![h.clone()], None));
        }
    }
    for (host, p) in deployment.processes() {
        if format!("{host}:{}", p["port"]) == c {
            return Ok((
                vec![json!({"hostname": host, "processes": [p]})],
                Some("MONGODB".into()),
            ));
        }
    }
    Err(problem(
        StatusCode::BAD_REQUEST,
        format!(
            "component {c:?} is not a host, a host:port process or a log type of the deployment"
        ),
    ))
}

/// Starts the capture and answers once it follows its files.
pub async fn capture(
    app: &Arc<App>,
    pid: Option<&str>,
    query: &Query,
    headers: &HeaderMap,
) -> Result<Response<Body>, ApiError> {
    if let Err(e) = query.only(&["level", "durationSeconds", "component"]) {
        return Ok(problem(StatusCode::BAD_REQUEST, e.detail));
    }
    let duration = match query.int("durationSeconds", 30, -1..=i64::from(i32::MAX)) {
        Ok(-1) => None,
        Ok(s) => Some(Duration::from_secs(s as u64)),
        Err(e) => return Ok(problem(StatusCode::BAD_REQUEST, e.detail)),
    };
    let Some(format) = negotiate(headers) else {
        return Ok(problem(
            StatusCode::NOT_ACCEPTABLE,
            "the logs come as text/plain, application/x-ndjson, application/json-seq or text/event-stream",
        ));
    };
    let (hosts, log_type) = match hosts(app, pid, query.get("component")) {
        Ok(h) => h,
        Err(r) => return Ok(r),
    };
    let mut request = json!({ "hosts": hosts });
    if let Some(t) = log_type {
        request["logTypes"] = json!([t]);
    }
    if let Some(level) = query.get("level") {
        request["level"] = json!(level);
    }
    let request = match Request::from_json(&request.to_string(), &app.deployment.base_dir) {
        Ok(r) => r,
        Err(e) => return Ok(problem(StatusCode::BAD_REQUEST, e.to_string())),
    };

    let (mut writer, body) = ChannelWriter::new();
    let cancel = CancelToken::default();
    let done = writer.cancel_when_gone(app.stopping.clone(), cancel.clone());
    let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
    let (ended_tx, ended) = tokio::sync::oneshot::channel::<Error>();
    let spec = CaptureSpec {
        duration,
        format,
        cancel,
        on_start: Some(Box::new(move || {
            let _ = started_tx.send(());
        })),
        // The client cannot see the server's stderr.
        notices_in_output: true,
        ..CaptureSpec::default()
    };
    let engine = app.engine.clone();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = engine.capture(&request, &mut writer, spec) {
            let _ = ended_tx.send(e);
        }
        drop(done);
    });
    // Either the capture follows its files (200), or it was refused.
    if started.await.is_err() {
        return Ok(match ended.await {
            Ok(Error::Refused {
                code: "RATE_LIMITED",
                message,
            }) => problem(StatusCode::TOO_MANY_REQUESTS, message),
            Ok(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            Err(_) => problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the capture ended at once",
            ),
        });
    }
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(accept: Option<&str>) -> Option<CaptureFormat> {
        let mut h = HeaderMap::new();
        if let Some(a) = accept {
            h.insert(ACCEPT, HeaderValue::from_str(a).unwrap());
        }
        negotiate(&h)
    }

    #[test]
    fn accept_negotiation_follows_dotnet_monitors_order() {
        assert_eq!(pick(None), Some(CaptureFormat::Ndjson));
        assert_eq!(pick(Some("*/*")), Some(CaptureFormat::Ndjson));
        assert_eq!(pick(Some("text/plain")), Some(CaptureFormat::Text));
        assert_eq!(
            pick(Some("text/event-stream, text/plain")),
            Some(CaptureFormat::Text)
        );
        assert_eq!(
            pick(Some("application/json-seq, application/x-ndjson")),
            Some(CaptureFormat::Ndjson)
        );
        assert_eq!(
            pick(Some("application/json-seq")),
            Some(CaptureFormat::JsonSeq)
        );
        assert_eq!(pick(Some("text/event-stream")), Some(CaptureFormat::Sse));
        assert_eq!(
            pick(Some("text/plain;q=0, text/event-stream")),
            Some(CaptureFormat::Sse)
        );
        assert_eq!(pick(Some("application/xml")), None);
    }

    #[test]
    fn problem_types_name_rfc_9110_sections() {
        assert_eq!(section(StatusCode::BAD_REQUEST).as_deref(), Some("5.1"));
        assert_eq!(section(StatusCode::NOT_FOUND).as_deref(), Some("5.5"));
        assert_eq!(section(StatusCode::NOT_ACCEPTABLE).as_deref(), Some("5.7"));
        assert_eq!(section(StatusCode::TOO_MANY_REQUESTS), None);
        assert_eq!(
            section(StatusCode::INTERNAL_SERVER_ERROR).as_deref(),
            Some("6.1")
        );
    }
}
