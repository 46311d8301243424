//! `GET /health`: proves the worker can reach KV and D1.

use serde::Serialize;
use worker::Response;

use crate::domain::error::AppError;
use crate::http::context::RequestCtx;
use crate::http::respond;
use crate::storage::health;

#[derive(Serialize)]
struct Health {
    status: &'static str,
    kv: &'static str,
    d1: &'static str,
}

pub async fn handle(ctx: &RequestCtx) -> Result<Response, AppError> {
    let (kv, d1) = health::probe(ctx.kv(), ctx.db()).await;
    let failed: Vec<(&'static str, String)> =
        [kv.err().map(|e| ("KV", e)), d1.err().map(|e| ("D1", e))]
            .into_iter()
            .flatten()
            .collect();
    match failed.as_slice() {
        [] => respond::ok(
            200,
            Health {
                status: "ok",
                kv: "ok",
                d1: "ok",
            },
            ctx.now,
        ),
        [(what, cause)] => Err(AppError::Unavailable {
            what,
            cause: cause.clone(),
        }),
        _ => Err(AppError::Unavailable {
            what: "KV and D1",
            cause: failed
                .iter()
                .map(|(w, c)| format!("{w}: {c}"))
                .collect::<Vec<_>>()
                .join("; "),
        }),
    }
}
