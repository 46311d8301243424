//! `GET /api/v1/openapi.json`: the API's OpenAPI 3.1 document (`api/openapi.json`)
//! as it is, not in the envelope: Swagger UI, schemathesis, code generators and
//! gateways read an OpenAPI document, not an answer that wraps one.

use worker::Response;

use crate::domain::error::AppError;
use crate::http::respond;

/// The document, compiled in: one source of truth for the worker, the docs page,
/// the generated TypeScript types and the contract tests.
pub const SPEC: &str = include_str!("../../../api/openapi.json");

pub fn handle() -> Result<Response, AppError> {
    // Served as committed (a unit test parses it); `no-cache` so the docs page
    // sees a new deployment's contract at once.
    respond::raw_document(SPEC.as_bytes().to_vec(), "no-cache")
}
