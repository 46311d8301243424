//! Fault injection for the end-to-end tests. Off unless the var `FAULT_INJECTION`
//! is `1`, and never on in production, where the route does not exist.

use worker::Response;

use crate::domain::error::AppError;
use crate::http::context::RequestCtx;

fn enabled(ctx: &RequestCtx) -> bool {
    let var = |name: &str| ctx.env.var(name).ok().map(|v| v.to_string());
    var("FAULT_INJECTION").as_deref() == Some("1")
        && var("ENVIRONMENT").as_deref() != Some("production")
}

pub fn panic(ctx: &RequestCtx) -> Result<Response, AppError> {
    if !enabled(ctx) {
        return Err(AppError::RouteNotFound);
    }
    panic!("fault injection: deliberate panic");
}
