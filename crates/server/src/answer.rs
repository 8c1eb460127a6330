//! What the server answers: JSON resources (with `pretty` and `envelope`),
//! Ops Manager's error shape, and streamed bodies.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use logpack::jobs::codes;
use logpack::Error;

/// A response body: a whole buffer or a stream of chunks fed by a task.
pub enum Body {
    /// Sent at once.
    Full(Full<Bytes>),
    /// Chunks as they come; the sender's end closes the body. An `Err`
    /// chunk aborts the connection (the client sees a cut body, never a
    /// complete-looking wrong one).
    Stream(mpsc::Receiver<std::io::Result<Bytes>>),
}

impl Body {
    /// An empty body.
    pub fn empty() -> Body {
        Body::Full(Full::new(Bytes::new()))
    }
}

impl HttpBody for Body {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.get_mut() {
            Body::Full(f) => Pin::new(f).poll_frame(cx).map_err(|never| match never {}),
            Body::Stream(rx) => rx.poll_recv(cx).map(|c| c.map(|r| r.map(Frame::data))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Full(f) => f.is_end_stream(),
            Body::Stream(_) => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(f) => f.size_hint(),
            Body::Stream(_) => SizeHint::default(),
        }
    }
}

/// The `pretty` and `envelope` query flags every route takes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    /// Indented JSON.
    pub pretty: bool,
    /// `{"status", "content"}` (a list: `status` added to it).
    pub envelope: bool,
}

/// A JSON answer.
pub fn json_answer(status: StatusCode, value: Value, style: Style) -> Response<Body> {
    json_response(status, json_bytes(status, value, style))
}

/// The body of a JSON answer, in the request's style.
pub fn json_bytes(status: StatusCode, value: Value, style: Style) -> Bytes {
    let value = if style.envelope {
        match value {
            Value::Object(mut m) if m.contains_key("results") => {
                m.insert("status".into(), json!(status.as_u16()));
                Value::Object(m)
            }
            other => json!({"status": status.as_u16(), "content": other}),
        }
    } else {
        value
    };
    let mut text = if style.pretty {
        serde_json::to_vec_pretty(&value)
    } else {
        serde_json::to_vec(&value)
    }
    .unwrap_or_default();
    text.push(b'\n');
    Bytes::from(text)
}

/// A JSON answer with a body made already.
pub fn json_response(status: StatusCode, body: Bytes) -> Response<Body> {
    let mut r = Response::new(Body::Full(Full::new(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// An error as Ops Manager gives it: `{"detail", "error", "errorCode",
/// "parameters", "reason"}`.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// Ops Manager's error code.
    pub code: &'static str,
    /// What went wrong, for a person.
    pub detail: String,
    /// The field or parameter at fault, when one is.
    pub parameters: Vec<String>,
}

impl ApiError {
    /// An error without parameters.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            detail: detail.into(),
            parameters: Vec::new(),
        }
    }

    /// 400 with a field or parameter named.
    pub fn bad(code: &'static str, parameter: &str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code,
            detail: detail.into(),
            parameters: vec![parameter.to_string()],
        }
    }

    /// The answer, in the request's style.
    pub fn answer(&self, style: Style) -> Response<Body> {
        let value = json!({
            "detail": self.detail,
            "error": self.status.as_u16(),
            "errorCode": self.code,
            "parameters": self.parameters,
            "reason": self.status.canonical_reason().unwrap_or(""),
        });
        json_answer(self.status, value, style)
    }
}

/// The HTTP status of an Ops Manager error code (its error table).
pub fn status_of(code: &str) -> StatusCode {
    match code {
        codes::NOT_FOUND => StatusCode::NOT_FOUND,
        codes::DOWNLOAD_IN_PROGRESS
        | codes::DOWNLOAD_EXPIRED
        | codes::EXTEND_EXPIRED
        | codes::DELETE_IN_PROGRESS => StatusCode::FORBIDDEN,
        codes::RATE_LIMITED => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::BAD_REQUEST,
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        match e {
            Error::Refused { code, message } => ApiError::new(status_of(code), code, message),
            Error::MalformedJson { .. } => {
                ApiError::new(StatusCode::BAD_REQUEST, "INVALID_JSON", e.to_string())
            }
            Error::InvalidRequest { ref field, .. } => {
                let code = if field == "sizeRequestedPerFileBytes" {
                    "INVALID_LOG_REQUEST_SIZE"
                } else {
                    "INVALID_ATTRIBUTE"
                };
                let field = field.clone();
                ApiError::bad(code, &field, e.to_string())
            }
            other => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "UNEXPECTED_ERROR",
                other.to_string(),
            ),
        }
    }
}
