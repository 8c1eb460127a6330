//! The routes of PRODUCT.md §11 and the job handlers (seeds `000`–`002`).

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, HOST};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Map, Value};

use logpack::jobs::{JobKind, JobStore};

use crate::answer::{json_answer, json_bytes, json_response, ApiError, Body, Style};
use crate::auth::{self, Scope};
use crate::config::ResourceType;
use crate::{atlas, logs, transfer, App, MAX_BODY};

const PUBLIC: &str = "/api/public/v1.0";

/// The query string, decoded, with the names a route accepts.
pub struct Query(Vec<(String, String)>);

impl Query {
    fn parse(q: Option<&str>) -> Result<Query, ApiError> {
        serde_urlencoded::from_str::<Vec<(String, String)>>(q.unwrap_or(""))
            .map(Query)
            .map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "INVALID_QUERY_PARAMETER",
                    format!("the query string cannot be decoded: {e}"),
                )
            })
    }

    /// The last value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Refuses a name that is not `pretty`, `envelope` or one of `known`
    /// (a typo must not be ignored).
    pub fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        match self
            .0
            .iter()
            .find(|(k, _)| k != "pretty" && k != "envelope" && !known.contains(&k.as_str()))
        {
            Some((k, _)) => Err(ApiError::bad(
                "INVALID_QUERY_PARAMETER",
                k,
                format!(
                    "unknown query parameter {k:?}; this route takes {}",
                    if known.is_empty() {
                        "only pretty and envelope".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            )),
            None => Ok(()),
        }
    }

    /// A boolean parameter (`true`/`false`), `default` when absent.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(ApiError::bad(
                "INVALID_QUERY_PARAMETER",
                name,
                format!("{name}={v:?}: expected true or false"),
            )),
        }
    }

    /// An integer parameter within `range`, `default` when absent.
    pub fn int(
        &self,
        name: &str,
        default: i64,
        range: std::ops::RangeInclusive<i64>,
    ) -> Result<i64, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if range.contains(&n) => Ok(n),
                _ => Err(ApiError::bad(
                    "INVALID_QUERY_PARAMETER",
                    name,
                    format!(
                        "{name}={v:?}: expected an integer from {} to {}",
                        range.start(),
                        range.end()
                    ),
                )),
            },
        }
    }
}

/// A matched route.
enum Route {
    /// `/groups/{g}/logCollectionJobs` or `/admin/omLogCollectionJobs`.
    Jobs(JobKind),
    /// One job.
    Job(JobKind, String),
    /// `…/download` or `…:download`.
    Download(JobKind, String),
    /// `…/retry` or `…:retry`.
    Retry(JobKind, String),
    /// Seed `003`: host (maybe `host:port`) and log name.
    Atlas(String, String),
    /// Seed `004`: `/logs` or `/logs/{pid}`.
    Logs(Option<String>),
}

impl Route {
    fn scope(&self) -> Scope {
        match self {
            Route::Jobs(JobKind::OmServer)
            | Route::Job(JobKind::OmServer, _)
            | Route::Download(JobKind::OmServer, _)
            | Route::Retry(JobKind::OmServer, _) => Scope::Admin,
            Route::Logs(_) => Scope::Logs,
            _ => Scope::Project,
        }
    }

    fn methods(&self) -> &'static [Method] {
        match self {
            Route::Jobs(_) => &[Method::GET, Method::POST],
            Route::Job(..) => &[Method::GET, Method::PATCH, Method::DELETE],
            Route::Download(..) | Route::Atlas(..) | Route::Logs(_) => &[Method::GET],
            Route::Retry(JobKind::Project, _) => &[Method::PUT],
            Route::Retry(JobKind::OmServer, _) => &[Method::POST],
        }
    }
}

/// Percent-decodes a path segment (a host name may come as `db1%3A27017`).
fn decode(segment: &str) -> Option<String> {
    let b = segment.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The route of `path`, and the project id it names (checked against the
/// deployment's). `None`: no such route.
fn route(path: &str) -> Option<(Route, Option<String>)> {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let jobs = "logCollectionJobs";
    match segs.as_slice() {
        ["api", "public", "v1.0", "groups", g, j] if *j == jobs => {
            Some((Route::Jobs(JobKind::Project), Some(g.to_string())))
        }
        ["api", "public", "v1.0", "groups", g, j, id] if *j == jobs => Some((
            Route::Job(JobKind::Project, id.to_string()),
            Some(g.to_string()),
        )),
        ["api", "public", "v1.0", "groups", g, j, id, "download"] if *j == jobs => Some((
            Route::Download(JobKind::Project, id.to_string()),
            Some(g.to_string()),
        )),
        ["api", "public", "v1.0", "groups", g, j, id, "retry"] if *j == jobs => Some((
            Route::Retry(JobKind::Project, id.to_string()),
            Some(g.to_string()),
        )),
        ["api", "public", "v1.0", "admin", "omLogCollectionJobs"] => {
            Some((Route::Jobs(JobKind::OmServer), None))
        }
        ["api", "public", "v1.0", "admin", "omLogCollectionJobs", id] => {
            let kind = JobKind::OmServer;
            let r = if let Some(id) = id.strip_suffix(":download") {
                Route::Download(kind, id.to_string())
            } else if let Some(id) = id.strip_suffix(":retry") {
                Route::Retry(kind, id.to_string())
            } else {
                Route::Job(kind, id.to_string())
            };
            Some((r, None))
        }
        ["api", "atlas", "v2", "groups", g, "clusters", host, "logs", file] => {
            let name = file.strip_suffix(".gz")?;
            Some((
                Route::Atlas(decode(host)?, name.to_string()),
                Some(g.to_string()),
            ))
        }
        ["logs"] => Some((Route::Logs(None), None)),
        ["logs", pid] => Some((Route::Logs(Some(pid.to_string())), None)),
        _ => None,
    }
}

/// Answers one request.
pub async fn handle(app: Arc<App>, req: Request<Incoming>) -> Response<Body> {
    let query = match Query::parse(req.uri().query()) {
        Ok(q) => q,
        Err(e) => return e.answer(Style::default()),
    };
    let style = Style {
        pretty: query.flag("pretty", false).unwrap_or(false),
        envelope: query.flag("envelope", false).unwrap_or(false),
    };
    match answer(&app, req, &query, style).await {
        Ok(r) => r,
        Err(e) => e.answer(style),
    }
}

async fn answer(
    app: &Arc<App>,
    req: Request<Incoming>,
    query: &Query,
    style: Style,
) -> Result<Response<Body>, ApiError> {
    query.flag("pretty", false)?;
    query.flag("envelope", false)?;
    let path = req.uri().path().to_string();
    let Some((route, group)) = route(&path) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "RESOURCE_NOT_FOUND",
            format!("no resource at {path}"),
        ));
    };
    let method = req.method().clone();
    let allowed = route.methods();
    let head_of_get = method == Method::HEAD && allowed.contains(&Method::GET);
    if !(allowed.contains(&method) || head_of_get) {
        let list: Vec<&str> = allowed.iter().map(Method::as_str).collect();
        let mut r = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            format!("{method} is not allowed here; use {}", list.join(", ")),
        )
        .answer(style);
        if let Ok(v) = HeaderValue::from_str(&list.join(", ")) {
            r.headers_mut().insert(ALLOW, v);
        }
        return Ok(r);
    }
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| path.clone());
    let scope = route.scope();
    let caller = match auth::authenticate(
        &app.keys,
        &app.nonces,
        &method,
        &target,
        req.headers(),
        scope,
        style,
    ) {
        Ok(c) => c,
        Err(r) => return Ok(r),
    };
    if let Err(r) = auth::authorize(&caller, scope, &method, style) {
        return Ok(r);
    }
    if let Some(g) = group {
        if g != app.deployment.group_id {
            return Err(ApiError::bad(
                "GROUP_NOT_FOUND",
                "GROUP-ID",
                format!(
                    "no project {g} here; this server serves {}",
                    app.deployment.group_id
                ),
            )
            .with_status(StatusCode::NOT_FOUND));
        }
    }
    let base = base_url(app, &req);
    match route {
        Route::Jobs(kind) if method == Method::POST => {
            query.only(&[])?;
            let body = transfer::json_body(req.into_body(), MAX_BODY).await?;
            let id = create(app, kind, body).await?;
            Ok(json_answer(StatusCode::CREATED, json!({ "id": id }), style))
        }
        Route::Jobs(kind) => {
            query.only(&["pageNum", "itemsPerPage", "verbose", "includeCount"])?;
            let page = query.int("pageNum", 1, 1..=i64::from(u32::MAX))? as usize;
            let per = query.int("itemsPerPage", 100, 1..=500)? as usize;
            let verbose = query.flag("verbose", false)?;
            let key = format!(
                "{} {page} {per} {verbose} {} {} {base}",
                kind.as_str(),
                style.pretty,
                style.envelope
            );
            if let Some(body) = app.lists.get(&key) {
                return Ok(json_response(StatusCode::OK, body));
            }
            let version = app.lists.version();
            let mut list =
                blocking(app, move |s| s.list_of(Some(kind), page, per, verbose)).await?;
            let total = list["totalCount"].as_u64().unwrap_or(0) as usize;
            if let Some(results) = list["results"].as_array_mut() {
                for job in results {
                    add_download_url(job, kind, &base);
                }
            }
            list["links"] = links(&base, &path, page, per, total);
            let body = json_bytes(StatusCode::OK, list, style);
            if let Some(v) = version {
                app.lists.put(key, v, body.clone());
            }
            Ok(json_response(StatusCode::OK, body))
        }
        Route::Job(kind, id) => {
            let id = job_id(&id)?;
            match method {
                Method::PATCH => {
                    query.only(&[])?;
                    let body = transfer::json_body(req.into_body(), MAX_BODY).await?;
                    let until = expiration(&body)?;
                    let mut job = blocking(app, move |s| {
                        check_kind(s, &id, kind)?;
                        s.extend(&id, until)
                    })
                    .await?;
                    add_download_url(&mut job, kind, &base);
                    Ok(json_answer(StatusCode::OK, job, style))
                }
                Method::DELETE => {
                    query.only(&[])?;
                    blocking(app, move |s| {
                        check_kind(s, &id, kind)?;
                        s.delete(&id)
                    })
                    .await?;
                    let mut r = Response::new(Body::empty());
                    *r.status_mut() = StatusCode::NO_CONTENT;
                    Ok(r)
                }
                _ => {
                    // Ops Manager's Go client sends its list options on a get too.
                    query.only(&["verbose", "pageNum", "itemsPerPage", "includeCount"])?;
                    let verbose = query.flag("verbose", false)?;
                    let mut job = blocking(app, move |s| {
                        check_kind(s, &id, kind)?;
                        s.get(&id, verbose)
                    })
                    .await?;
                    add_download_url(&mut job, kind, &base);
                    Ok(json_answer(StatusCode::OK, job, style))
                }
            }
        }
        Route::Download(kind, id) => {
            query.only(&[])?;
            let id = job_id(&id)?;
            let (file, name) = blocking(app, move |s| {
                check_kind(s, &id, kind)?;
                s.open_archive(&id)
            })
            .await?;
            Ok(transfer::download(file, &name, req.headers()))
        }
        Route::Retry(kind, id) => {
            query.only(&[])?;
            let id = job_id(&id)?;
            let app2 = app.clone();
            blocking(app, move |s| {
                check_kind(s, &id, kind)?;
                let started = s.retry(&id)?;
                let run = s.run_in_background(started)?;
                app2.track(run);
                Ok(())
            })
            .await?;
            Ok(json_answer(StatusCode::OK, json!({}), style))
        }
        Route::Atlas(host, name) => atlas::download(app, &host, &name, query).await,
        Route::Logs(pid) => logs::capture(app, pid.as_deref(), query, req.headers()).await,
    }
}

impl ApiError {
    fn with_status(mut self, status: StatusCode) -> ApiError {
        self.status = status;
        self
    }
}

/// Runs a store call on the blocking pool.
async fn blocking<T: Send + 'static>(
    app: &Arc<App>,
    f: impl FnOnce(&JobStore) -> logpack::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    let app = app.clone();
    let Ok(_turn) = app.store_calls.clone().acquire_owned().await else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "the server is stopping",
        ));
    };
    match tokio::task::spawn_blocking(move || app.stores.with(f)).await {
        Ok(Ok(Ok(v))) => Ok(v),
        Ok(Ok(Err(e))) | Ok(Err(e)) => Err(e.into()),
        Err(e) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UNEXPECTED_ERROR",
            format!("the request failed: {e}"),
        )),
    }
}

/// A job id from a path: 24 lower-case hex digits, else no such job.
fn job_id(id: &str) -> Result<String, ApiError> {
    if id.len() == 24 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(id.to_string())
    } else {
        Err(not_found(id))
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        logpack::jobs::codes::NOT_FOUND,
        format!("no log collection job {id:?} in this project"),
    )
}

/// A project job is not found on the admin routes, nor the reverse.
fn check_kind(s: &JobStore, id: &str, kind: JobKind) -> logpack::Result<()> {
    if s.kind_of(id)? == kind {
        Ok(())
    } else {
        Err(logpack::Error::Refused {
            code: logpack::jobs::codes::NOT_FOUND,
            message: format!("no log collection job {id} here"),
        })
    }
}

fn base_url(app: &App, req: &Request<Incoming>) -> String {
    let scheme = if app.tls { "https" } else { "http" };
    let host = req
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| app.listen.to_string());
    format!("{scheme}://{host}")
}

fn add_download_url(job: &mut Value, kind: JobKind, base: &str) {
    let (Some(id), Some(group)) = (job["id"].as_str(), job["groupId"].as_str()) else {
        return;
    };
    let url = match kind {
        JobKind::Project => {
            format!("{base}{PUBLIC}/groups/{group}/logCollectionJobs/{id}/download")
        }
        JobKind::OmServer => format!("{base}{PUBLIC}/admin/omLogCollectionJobs/{id}:download"),
    };
    job["downloadUrl"] = json!(url);
}

/// Ops Manager's list links: `self`, and `previous`/`next` where there
/// are such pages.
fn links(base: &str, path: &str, page: usize, per: usize, total: usize) -> Value {
    let href = |p: usize| json!(format!("{base}{path}?pageNum={p}&itemsPerPage={per}"));
    let mut out = vec![json!({"href": href(page), "rel": "self"})];
    if page > 1 {
        out.push(json!({"href": href(page - 1), "rel": "previous"}));
    }
    if page * per < total {
        out.push(json!({"href": href(page + 1), "rel": "next"}));
    }
    Value::Array(out)
}

/// Fields of the job resource a client may send back unchanged (Ops
/// Manager's Go client PATCHes the whole `LogCollectionJob`): accepted and
/// ignored.
const READ_ONLY: &[&str] = &[
    "id",
    "groupId",
    "userId",
    "creationDate",
    "expirationDate",
    "finishDate",
    "status",
    "rootResourceName",
    "rootResourceType",
    "downloadUrl",
    "uncompressedSizeTotalBytes",
    "sizeLimitHit",
    "errorMessage",
    "childJobs",
    "links",
];

fn object(body: Value) -> Result<Map<String, Value>, ApiError> {
    match body {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
            "the body must be a JSON object",
        )),
    }
}

fn check_fields(m: &Map<String, Value>, known: &[&str]) -> Result<(), ApiError> {
    match m
        .keys()
        .find(|k| !known.contains(&k.as_str()) && !READ_ONLY.contains(&k.as_str()))
    {
        Some(k) => Err(ApiError::bad(
            "INVALID_ATTRIBUTE",
            k,
            format!("unknown attribute {k:?}; expected {}", known.join(", ")),
        )),
        None => Ok(()),
    }
}

fn missing(field: &str) -> ApiError {
    ApiError::bad(
        "MISSING_ATTRIBUTE",
        field,
        format!("the attribute {field} is required"),
    )
}

fn enum_value(field: &str, v: &Value, expected: &[&str]) -> ApiError {
    ApiError::bad(
        "INVALID_ENUM_VALUE",
        field,
        format!("{field}: {v} is not one of {}", expected.join(", ")),
    )
}

const PROJECT_TYPES: &[&str] = &[
    "AUTOMATION_AGENT",
    "MONITORING_AGENT",
    "BACKUP_AGENT",
    "MONGODB",
    "FTDC",
];
const OM_TYPES: &[&str] = &["APPLICATION", "HTTP_ACCESS", "MIGRATION", "DAEMON"];

fn log_types(
    m: &Map<String, Value>,
    allowed: &[&str],
    required: bool,
) -> Result<Option<Value>, ApiError> {
    match m.get("logTypes") {
        None | Some(Value::Null) if required => Err(missing("logTypes")),
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) if !a.is_empty() => {
            for t in a {
                if !t.as_str().is_some_and(|s| allowed.contains(&s)) {
                    return Err(enum_value("logTypes", t, allowed));
                }
            }
            Ok(Some(Value::Array(a.clone())))
        }
        Some(other) => Err(ApiError::bad(
            "INVALID_ATTRIBUTE",
            "logTypes",
            format!("logTypes: {other} is not a non-empty array of log types"),
        )),
    }
}

fn size_field(m: &Map<String, Value>, required: bool) -> Result<Option<Value>, ApiError> {
    match m.get("sizeRequestedPerFileBytes") {
        None | Some(Value::Null) if required => Err(missing("sizeRequestedPerFileBytes")),
        None | Some(Value::Null) => Ok(None),
        Some(v) if v.as_u64().is_some_and(|n| n > 0) => Ok(Some(v.clone())),
        Some(v) => Err(ApiError::bad(
            "INVALID_LOG_REQUEST_SIZE",
            "sizeRequestedPerFileBytes",
            format!("sizeRequestedPerFileBytes: {v} is not a positive number of bytes"),
        )),
    }
}

/// Builds the request of PRODUCT.md §1 for a job body and records the job,
/// then runs it on a thread of its own. Returns the id.
async fn create(app: &Arc<App>, kind: JobKind, body: Value) -> Result<String, ApiError> {
    let m = object(body)?;
    let mut request = Map::new();
    match kind {
        JobKind::Project => {
            check_fields(
                &m,
                &[
                    "resourceType",
                    "resourceName",
                    "redacted",
                    "sizeRequestedPerFileBytes",
                    "logTypes",
                    "logCollectionFromDate",
                    "logCollectionToDate",
                    "level",
                ],
            )?;
            let rt = m
                .get("resourceType")
                .ok_or_else(|| missing("resourceType"))?;
            let kinds = ["CLUSTER", "REPLICASET", "PROCESS"];
            // mongocli sends it lower-cased.
            let upper = rt.as_str().map(str::to_ascii_uppercase).unwrap_or_default();
            let resource = ResourceType::parse(&upper)
                .ok_or_else(|| enum_value("resourceType", rt, &kinds))?;
            let name = match m.get("resourceName") {
                Some(Value::String(s)) if !s.is_empty() => s.clone(),
                Some(_) => {
                    return Err(ApiError::bad(
                        "INVALID_ATTRIBUTE",
                        "resourceName",
                        "resourceName must be a non-empty string",
                    ))
                }
                None => return Err(missing("resourceName")),
            };
            match m.get("redacted") {
                Some(Value::Bool(b)) => {
                    request.insert("redacted".into(), json!(b));
                }
                Some(v) => {
                    return Err(ApiError::bad(
                        "INVALID_ATTRIBUTE",
                        "redacted",
                        format!("redacted: {v} is not true or false"),
                    ))
                }
                None => return Err(missing("redacted")),
            }
            request.insert(
                "logTypes".into(),
                log_types(&m, PROJECT_TYPES, true)?.unwrap_or_default(),
            );
            if let Some(size) = size_field(&m, true)? {
                request.insert("sizeRequestedPerFileBytes".into(), size);
            }
            let hosts = app
                .deployment
                .project_hosts(resource, &name)
                .ok_or_else(|| {
                    ApiError::bad(
                        "INVALID_ATTRIBUTE",
                        "resourceName",
                        format!("the deployment has no {upper} named {name:?}"),
                    )
                })?;
            request.insert("resourceType".into(), json!(upper));
            request.insert("resourceName".into(), json!(name));
            request.insert("hosts".into(), Value::Array(hosts));
        }
        JobKind::OmServer => {
            check_fields(
                &m,
                &[
                    "servers",
                    "logTypes",
                    "sizeRequestedPerFileBytes",
                    "logCollectionFromDate",
                    "logCollectionToDate",
                    "redacted",
                ],
            )?;
            let servers: Vec<String> = match m.get("servers") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(a)) if a.iter().all(Value::is_string) => a
                    .iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect(),
                Some(v) => {
                    return Err(ApiError::bad(
                        "INVALID_ATTRIBUTE",
                        "servers",
                        format!("servers: {v} is not an array of host names"),
                    ))
                }
            };
            let hosts = app.deployment.om_hosts(&servers).map_err(|missing| {
                ApiError::bad(
                    "INVALID_ATTRIBUTE",
                    "servers",
                    if missing.is_empty() {
                        "the deployment has no Ops Manager server (a host with omLogDir)"
                            .to_string()
                    } else {
                        format!(
                            "not Ops Manager servers of the deployment: {}",
                            missing.join(", ")
                        )
                    },
                )
            })?;
            if let Some(t) = log_types(&m, OM_TYPES, false)? {
                request.insert("logTypes".into(), t);
            }
            if let Some(size) = size_field(&m, false)? {
                request.insert("sizeRequestedPerFileBytes".into(), size);
            }
            if let Some(r) = m.get("redacted") {
                request.insert("redacted".into(), r.clone());
            }
            request.insert("hosts".into(), Value::Array(hosts));
        }
    }
    for key in ["logCollectionFromDate", "logCollectionToDate", "level"] {
        if let Some(v) = m.get(key).filter(|v| !v.is_null()) {
            request.insert(key.into(), v.clone());
        }
    }
    let text = Value::Object(request).to_string();
    let base = app.deployment.base_dir.clone();
    let app2 = app.clone();
    blocking(app, move |s| {
        let started = s.create(&text, &base, &[])?;
        let id = started.id.clone();
        let run = s.run_in_background(started)?;
        app2.track(run);
        Ok(id)
    })
    .await
}

/// The `expirationDate` of a PATCH body.
fn expiration(body: &Value) -> Result<jiff::Timestamp, ApiError> {
    let m = match body {
        Value::Object(m) => m,
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_JSON",
                "the body must be a JSON object",
            ))
        }
    };
    // The Go client sends the whole job back; only the date is changed.
    check_fields(
        m,
        &[
            "expirationDate",
            "resourceType",
            "resourceName",
            "redacted",
            "sizeRequestedPerFileBytes",
            "logTypes",
            "logCollectionFromDate",
            "logCollectionToDate",
            "level",
            "servers",
        ],
    )?;
    match m.get("expirationDate") {
        Some(Value::String(s)) => s.parse::<jiff::Timestamp>().map_err(|e| {
            ApiError::bad(
                "INVALID_ATTRIBUTE",
                "expirationDate",
                format!("expirationDate: {s:?} is not an RFC 3339 date: {e}"),
            )
        }),
        Some(v) => Err(ApiError::bad(
            "INVALID_ATTRIBUTE",
            "expirationDate",
            format!("expirationDate: {v} is not an RFC 3339 date"),
        )),
        None => Err(missing("expirationDate")),
    }
}
