//! Read-your-writes across D1 replicas: a write answers with the D1 session's
//! bookmark in `X-D1-Bookmark`; a client that sends it back on its next read
//! is served by a replica at least that fresh (`api/openapi.json` documents it).

use worker::{Request, Response};

use crate::domain::error::AppError;
use crate::platform::Context;

pub const HEADER: &str = "X-D1-Bookmark";

/// The bookmark the client sent, if it has the shape of one (hex groups and
/// dashes). Anything else is ignored: the read then starts on any replica.
pub fn from_request(req: &Request) -> Option<String> {
    let value = req.headers().get(HEADER).ok().flatten()?;
    let plausible = (1..=256).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    plausible.then_some(value)
}

/// Hands the session's bookmark back with the answer.
pub fn attach(response: &mut Response, bookmark: Option<String>) -> Result<(), AppError> {
    if let Some(bookmark) = bookmark {
        response
            .headers_mut()
            .set(HEADER, &bookmark)
            .context("bookmark header")?;
    }
    Ok(())
}
