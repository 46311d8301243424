//! CORS at the edge: the headers that let an allowed origin's page read any
//! answer (errors and 429s included), and the preflight a browser sends before
//! a call with JSON or a Bearer token. Which origins: `domain::cors`.

use chrono::{DateTime, Utc};
use worker::{Headers, Request, Response};

use super::{respond, router};
use crate::domain::error::AppError;
use crate::platform::bindings::cors_policy;

/// What a page may send: JSON bodies and Bearer tokens.
const ALLOW_HEADERS: &str = "Authorization, Content-Type, X-D1-Bookmark";
/// What a page may read besides the body.
const EXPOSE_HEADERS: &str =
    "Allow, Error-Code, Retry-After, WWW-Authenticate, X-Request-Id, X-D1-Bookmark";
/// How long a browser may reuse a preflight answer.
const MAX_AGE_SECONDS: &str = "86400";

/// What CORS adds to this request's answer.
#[derive(Default)]
pub struct Cors {
    /// `Access-Control-Allow-Origin`, when the request comes from an allowed origin.
    pub allow_origin: Option<String>,
    /// `Vary: Origin`, when the policy lists origins.
    vary: bool,
}

impl Cors {
    pub fn for_request(req: &Request, env: &worker::Env) -> Self {
        let policy = cors_policy(env);
        let allow_origin = req
            .headers()
            .get("origin")
            .ok()
            .flatten()
            .and_then(|origin| policy.allow_origin(&origin).map(str::to_owned));
        Self {
            allow_origin,
            vary: policy.varies_by_origin(),
        }
    }

    /// Lets an allowed origin's page read this answer.
    pub fn apply(&self, headers: &mut Headers) -> worker::Result<()> {
        if self.vary {
            headers.append("Vary", "Origin")?;
        }
        if let Some(origin) = &self.allow_origin {
            headers.set("Access-Control-Allow-Origin", origin)?;
            headers.set("Access-Control-Expose-Headers", EXPOSE_HEADERS)?;
        }
        Ok(())
    }
}

/// A browser's preflight: `OPTIONS` announcing the method it means to use.
pub fn is_preflight(method: &str, req: &Request) -> bool {
    method == "OPTIONS"
        && req
            .headers()
            .has("access-control-request-method")
            .unwrap_or(false)
}

/// Answers a preflight for `path` with the methods it serves (404 for a path
/// the service does not have). The body is the envelope like every other.
pub fn preflight(path: &str, now: DateTime<Utc>) -> Result<Response, AppError> {
    let methods = router::methods_for(path)?;
    let mut response = respond::ok(200, (), now)?;
    let headers = response.headers_mut();
    set(headers, "Access-Control-Allow-Methods", &methods.join(", "))?;
    set(headers, "Access-Control-Allow-Headers", ALLOW_HEADERS)?;
    set(headers, "Access-Control-Max-Age", MAX_AGE_SECONDS)?;
    Ok(response)
}

fn set(headers: &mut Headers, name: &str, value: &str) -> Result<(), AppError> {
    headers.set(name, value).map_err(AppError::internal)
}
