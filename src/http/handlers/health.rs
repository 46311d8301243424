//! `GET /health`: proves the worker can reach KV and D1.

use serde::Serialize;
use worker::Response;

use crate::domain::error::AppError;
use crate::http::context::RequestCtx;
use crate::http::respond;

#[derive(Serialize)]
struct Health {
    status: &'static str,
    kv: &'static str,
    d1: &'static str,
}

pub async fn handle(ctx: &RequestCtx) -> Result<Response, AppError> {
    let kv = ctx.kv()?;
    let db = ctx.db()?;
    let kv_read = kv.get("health:probe").text();
    let probe = db.prepare("SELECT 1 AS ok");
    let d1_read = probe.first::<serde_json::Value>(None);
    let (kv_result, d1_result) = futures_util::join!(kv_read, d1_read);

    let failed: Vec<(&'static str, String)> = [
        kv_result.err().map(|e| ("KV", e.to_string())),
        d1_result.err().map(|e| ("D1", e.to_string())),
    ]
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
