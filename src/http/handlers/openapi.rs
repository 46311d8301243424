//! `GET /api/v1/openapi.json`: the API's OpenAPI 3.1 document (`api/openapi.json`),
//! as the `data` of the envelope like every other answer.

use serde_json::value::RawValue;
use worker::Response;

use crate::domain::error::AppError;
use crate::http::context::RequestCtx;
use crate::http::respond;

/// The document, compiled in: one source of truth for the worker, the docs page,
/// the generated TypeScript types and the contract tests.
pub const SPEC: &str = include_str!("../../../api/openapi.json");

pub fn handle(ctx: &RequestCtx) -> Result<Response, AppError> {
    let spec: &RawValue = serde_json::from_str(SPEC).map_err(AppError::internal)?;
    respond::ok(200, spec, ctx.now)
}
