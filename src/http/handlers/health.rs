//! `GET /health`: proves the configuration is valid and the worker can reach
//! KV and D1. A 503 says which part failed; the log says why.

use serde::Serialize;
use worker::Response;

use crate::domain::error::AppError;
use crate::http::context::RequestCtx;
use crate::http::respond;
use crate::storage::units::health;

/// What /health shows for any configuration problem; the log names each.
const CONFIGURATION_INVALID: &str =
    "The configuration is invalid: the worker's log names each problem";

#[derive(Serialize)]
struct Health {
    status: &'static str,
    kv: &'static str,
    d1: &'static str,
}

pub async fn handle(ctx: &RequestCtx) -> Result<Response, AppError> {
    // /health is public: naming a missing secret or a weak setting tells a
    // stranger what this deployment lacks. The names go to the log only.
    let mut causes: Vec<String> = ctx
        .config_problems()
        .into_iter()
        .map(|problem| format!("Configuration: {problem}"))
        .collect();
    let mut problems = Vec::new();
    if !causes.is_empty() {
        problems.push(CONFIGURATION_INVALID.to_string());
    }
    let (kv, d1) = health::probe(ctx.kv(), ctx.db()).await;
    for (what, probe) in [("KV", kv), ("D1", d1)] {
        if let Err(cause) = probe {
            // A storage error's text may say anything: logged, never shown.
            problems.push(format!("{what} is unavailable"));
            causes.push(format!("{what}: {cause}"));
        }
    }
    if problems.is_empty() {
        return respond::ok(
            200,
            Health {
                status: "ok",
                kv: "ok",
                d1: "ok",
            },
            ctx.now,
        );
    }
    Err(AppError::Unhealthy {
        problems,
        // One cause a line: a problem's own text may hold "; ".
        cause: causes.join("\n"),
    })
}
