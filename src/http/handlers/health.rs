//! `GET /health`: proves the configuration is valid and the worker can reach
//! KV and D1; a 503 names each problem.

use serde::Serialize;
use worker::Response;

use crate::domain::error::AppError;
use crate::http::context::RequestCtx;
use crate::http::respond;
use crate::storage::units::health;

#[derive(Serialize)]
struct Health {
    status: &'static str,
    kv: &'static str,
    d1: &'static str,
}

pub async fn handle(ctx: &RequestCtx) -> Result<Response, AppError> {
    // The configuration's problems name settings only, so they can be shown:
    // an operator fixing a deployment should not need the logs to learn which.
    let mut problems: Vec<String> = ctx
        .config_problems()
        .into_iter()
        .map(|problem| format!("Configuration: {problem}"))
        .collect();
    let mut causes = problems.clone();
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
        cause: causes.join("; "),
    })
}
