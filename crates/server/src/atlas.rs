//! Seed `003`: one process's log between two instants, as one gzip
//! stream, Atlas style.

use std::sync::Arc;

use hyper::header::{HeaderValue, CONTENT_DISPOSITION, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use serde_json::{json, Value};

use logpack::{CancelToken, Request};

use crate::answer::{ApiError, Body};
use crate::routes::Query;
use crate::transfer::ChannelWriter;
use crate::App;

/// The log names of the route, and what they are: process type, audit.
const NAMES: &[(&str, &str, bool)] = &[
    ("mongodb", "mongod", false),
    ("mongos", "mongos", false),
    ("mongodb-audit-log", "mongod", true),
    ("mongos-audit-log", "mongos", true),
];

/// Streams the log; errors found before the first byte are JSON answers.
pub async fn download(
    app: &Arc<App>,
    host: &str,
    name: &str,
    query: &Query,
) -> Result<Response<Body>, ApiError> {
    query.only(&["startDate", "endDate"])?;
    let Some(&(_, kind, audit)) = NAMES.iter().find(|(n, _, _)| *n == name) else {
        let names: Vec<&str> = NAMES.iter().map(|(n, _, _)| *n).collect();
        return Err(ApiError::bad(
            "INVALID_ENUM_VALUE",
            "LOGNAME",
            format!("{name:?} is not one of {}", names.join(", ")),
        ));
    };
    let range = i64::MIN..=i64::MAX;
    let from = query
        .get("startDate")
        .map(|_| query.int("startDate", 0, range.clone()))
        .transpose()?;
    let to = query
        .get("endDate")
        .map(|_| query.int("endDate", 0, range))
        .transpose()?;
    if let (Some(a), Some(b)) = (from, to) {
        if a > b {
            return Err(ApiError::bad(
                "INVALID_QUERY_PARAMETER",
                "startDate",
                format!("startDate {a} is after endDate {b}"),
            ));
        }
    }
    // HOSTNAME, or HOSTNAME:PORT when the host runs several such processes.
    let (hostname, port) = match host.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => (h, p.parse::<u64>().ok()),
        _ => (host, None),
    };
    let matches: Vec<(&str, &Value)> = app
        .deployment
        .processes()
        .filter(|(h, p)| {
            *h == hostname
                && p.get("type").and_then(Value::as_str) == Some(kind)
                && port.is_none_or(|port| p.get("port").and_then(Value::as_u64) == Some(port))
        })
        .collect();
    let process = match matches.as_slice() {
        [] => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "RESOURCE_NOT_FOUND",
                format!("the deployment has no {kind} on {host}"),
            ))
        }
        [one] => one.1,
        _ => {
            return Err(ApiError::bad(
                "INVALID_PATH_PARAMETER",
                "HOSTNAME",
                format!(
                    "{host} runs {} {kind} processes; name one as {host}:PORT",
                    matches.len()
                ),
            ))
        }
    };
    let log_path = if audit {
        process.get("auditLogPath").cloned().ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "RESOURCE_NOT_FOUND",
                format!("the {kind} on {host} has no auditLogPath in the deployment"),
            )
        })?
    } else {
        process["logPath"].clone()
    };
    let mut p = json!({"type": kind, "port": process["port"], "logPath": log_path});
    if let Some(rs) = process.get("replicaSet") {
        p["replicaSet"] = rs.clone();
    }
    let mut request = json!({
        "logTypes": ["MONGODB"],
        "hosts": [{"hostname": hostname, "processes": [p]}],
    });
    if let Some(a) = from {
        request["logCollectionFromDate"] = json!(a);
    }
    if let Some(b) = to {
        request["logCollectionToDate"] = json!(b);
    }
    let request = Request::from_json(&request.to_string(), &app.deployment.base_dir)
        .map_err(ApiError::from)?;

    let Ok(permit) = app.log_streams.clone().try_acquire_owned() else {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            logpack::jobs::codes::RATE_LIMITED,
            "too many log downloads are running; try again later",
        ));
    };
    let (mut writer, body) = ChannelWriter::new();
    let cancel = CancelToken::default();
    let done = writer.cancel_when_gone(app.stopping.clone(), cancel.clone());
    let engine = app.engine.clone();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = engine.log_gz(&request, &cancel, &mut writer) {
            writer.abort(e.to_string());
        }
        drop((done, permit));
    });
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/gzip"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.gz\"")) {
        h.insert(CONTENT_DISPOSITION, v);
    }
    Ok(r)
}
