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
    // A missing binding counts as unavailable too: the answer names what failed.
    let kv_read = async {
        let kv = ctx.kv().map_err(|e| e.to_string())?;
        kv.get("health:probe")
            .text()
            .await
            .map_err(|e| e.to_string())
    };
    let d1_read = async {
        let db = ctx.db().map_err(|e| e.to_string())?;
        db.prepare("SELECT 1 AS ok")
            .first::<serde_json::Value>(None)
            .await
            .map_err(|e| e.to_string())
    };
    let (kv_result, d1_result) = futures_util::join!(kv_read, d1_read);

    let failed: Vec<(&'static str, String)> = [
        kv_result.err().map(|e| ("KV", e)),
        d1_result.err().map(|e| ("D1", e)),
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
