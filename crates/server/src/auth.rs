//! Who is asking, and may they (PRODUCT.md §11): HTTP Digest with the API
//! keys for every route, and the monitor tokens for `/logs` only.

use hyper::header::{HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use hyper::{HeaderMap, Method, Response, StatusCode};

use crate::answer::{ApiError, Body, Style};
use crate::config::{Keys, Role};
use crate::digest::{Nonces, Verdict};

/// An authenticated caller.
#[derive(Debug, Clone)]
pub enum Caller {
    /// A programmatic API key (Digest), with its roles.
    Key {
        /// Its public key.
        user: String,
        /// Its roles.
        roles: Vec<Role>,
    },
    /// A `MonitorApiKey`/`Bearer` token: `/logs` only.
    Monitor,
}

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `/groups/{GROUP-ID}/…` and the Atlas download: group or global roles.
    Project,
    /// `/admin/…`: global roles.
    Admin,
    /// `/logs`: a monitor token or any API key.
    Logs,
}

/// Constant-time equality of two secrets (the length is not secret).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks the request's credentials; the error is the whole answer (401
/// with a challenge, or 403).
pub fn authenticate(
    keys: &Keys,
    nonces: &Nonces,
    method: &Method,
    target: &str,
    headers: &HeaderMap,
    scope: Scope,
    style: Style,
) -> Result<Caller, Response<Body>> {
    let header = headers.get(AUTHORIZATION).map(HeaderValue::as_bytes);
    let unauthorized = |stale: bool, why: &str| {
        let mut r = ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", why).answer(style);
        for c in nonces.challenge(stale) {
            if let Ok(v) = HeaderValue::from_str(&c) {
                r.headers_mut().append(WWW_AUTHENTICATE, v);
            }
        }
        r
    };
    let Some(header) = header else {
        return Err(unauthorized(false, "this resource needs credentials"));
    };
    if scope == Scope::Logs {
        for scheme in [&b"MonitorApiKey "[..], b"Bearer "] {
            if header.len() > scheme.len() && header[..scheme.len()].eq_ignore_ascii_case(scheme) {
                let token = header[scheme.len()..].trim_ascii();
                return if keys
                    .monitor_api_keys
                    .iter()
                    .any(|k| same(k.as_bytes(), token))
                {
                    Ok(Caller::Monitor)
                } else {
                    Err(unauthorized(false, "unknown monitor API key"))
                };
            }
        }
    }
    let verdict = nonces.check_header(
        method.as_str(),
        target,
        header,
        |user| keys.find(user).map(|k| k.private_key.clone()),
        std::time::Instant::now(),
    );
    let user = match verdict {
        Verdict::Ok { username } => username,
        Verdict::Stale => return Err(unauthorized(true, "the nonce has expired")),
        Verdict::Denied(why) => return Err(unauthorized(false, &why)),
    };
    let roles = keys
        .find(&user)
        .map(|k| k.roles.clone())
        .unwrap_or_default();
    Ok(Caller::Key { user, roles })
}

/// Whether `caller` may use a route of `scope` with `method`: read-only
/// roles only `GET` (and `HEAD`); a global role covers the project routes.
pub fn authorize(
    caller: &Caller,
    scope: Scope,
    method: &Method,
    style: Style,
) -> Result<(), Response<Body>> {
    let read = matches!(*method, Method::GET | Method::HEAD);
    let allowed = match caller {
        Caller::Monitor => scope == Scope::Logs,
        Caller::Key { roles, .. } => roles.iter().any(|r| {
            let (global, owner) = match r {
                Role::GroupOwner => (false, true),
                Role::GroupReadOnly => (false, false),
                Role::GlobalOwner => (true, true),
                Role::GlobalReadOnly => (true, false),
            };
            let reaches = scope != Scope::Admin || global;
            reaches && (owner || read)
        }),
    };
    if allowed {
        Ok(())
    } else {
        let who = match caller {
            Caller::Key { user, .. } => format!("API key {user}"),
            Caller::Monitor => "a monitor API key".to_string(),
        };
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "INSUFFICIENT_PERMISSIONS",
            format!("{who} has no role that allows {method} here"),
        )
        .answer(style))
    }
}
