//! `GET /api/v1/openapi.json`: the API's OpenAPI 3.1 document (`api/openapi.json`)
//! as it is, not in the envelope: Swagger UI, schemathesis, code generators and
//! gateways read an OpenAPI document, not an answer that wraps one.
//!
//! It is a static asset, not part of the Wasm (about 10 KB gzip of the bundle):
//! `scripts/build.sh` copies the committed file to `build/assets/api/v1/`, and
//! `build/assets/_headers` gives it `Cache-Control: no-cache` (so the docs page
//! sees a new deployment's contract at once). `run_worker_first` (every path
//! but the docs page) sends the request here first, so any other method gets
//! the router's 405 with `Allow`; a GET is handed to the `ASSETS` binding.

use worker::{Request, Response};

use crate::domain::error::AppError;
use crate::http::context::RequestCtx;
use crate::http::respond;
use crate::platform::Context;

/// The document, for the unit test that holds it and the route table together.
#[cfg(test)]
pub const SPEC: &str = include_str!("../../../api/openapi.json");

pub async fn handle(req: Request, ctx: &RequestCtx) -> Result<Response, AppError> {
    let assets = ctx
        .env
        .assets("ASSETS")
        .map_err(|e| AppError::Misconfigured(format!("assets binding ASSETS: {e}")))?;
    let mut asset = assets.fetch_request(req).await.context("assets fetch")?;
    if asset.status_code() != 200 {
        return Err(AppError::internal(format!(
            "the OpenAPI document is not among the assets ({})",
            asset.status_code()
        )));
    }
    let bytes = asset.bytes().await.context("assets read")?;
    respond::raw_document(bytes, "no-cache")
}
