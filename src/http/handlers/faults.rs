//! Fault injection for the end-to-end tests and the soak. Compiled only into
//! test builds (`--features fault-injection`): a release build has no such route.

use serde::Deserialize;
use worker::Response;

use crate::domain::error::AppError;
use crate::domain::events::Event;
use crate::domain::ids::OsRandom;
use crate::http::context::RequestCtx;
use crate::http::respond;
use crate::platform::faults::{self, Rates};
use crate::storage::units::deletion::{self, DueAccount};

pub fn panic(_ctx: &RequestCtx) -> Result<Response, AppError> {
    panic!("fault injection: deliberate panic");
}

/// `{"d1": 0.2, "kv": 0.1, "mail": 0.5, "queue": 1}`: the share of each kind of call that
/// fails from now on, in this isolate; `{}` stops every fault.
pub fn set_rates(ctx: &RequestCtx) -> Result<Response, AppError> {
    #[derive(Deserialize)]
    struct Body {
        #[serde(default)]
        d1: f64,
        #[serde(default)]
        kv: f64,
        #[serde(default)]
        mail: f64,
        #[serde(default)]
        queue: f64,
    }
    let body: Body = serde_json::from_slice(ctx.body.json()?)
        .map_err(|e| AppError::validation(format!("fault rates: {e}")))?;
    let share = |x: f64| x.clamp(0.0, 1.0);
    faults::set(Rates {
        d1: share(body.d1),
        kv: share(body.kv),
        mail: share(body.mail),
        queue: share(body.queue),
    });
    let rates = faults::get();
    respond::ok(
        200,
        serde_json::json!({"d1": rates.d1, "kv": rates.kv, "mail": rates.mail, "queue": rates.queue}),
        ctx.now,
    )
}

/// `{"wasmMemoryBytes": n}`: the size of this isolate's wasm linear memory (it
/// grows and never shrinks, so a leak in Rust shows here), for the soak to tell
/// our memory from workerd's.
pub fn memory(ctx: &RequestCtx) -> Result<Response, AppError> {
    #[cfg(target_arch = "wasm32")]
    let pages = core::arch::wasm32::memory_size(0);
    #[cfg(not(target_arch = "wasm32"))]
    let pages = 0;
    respond::ok(
        200,
        serde_json::json!({ "wasmMemoryBytes": pages * 65_536 }),
        ctx.now,
    )
}

/// `{"id": "...", "email": "..."}`: finalises that account as the Cron Trigger
/// would after selecting it, whatever happened since; answers whether it did.
pub async fn finalize_deletion(ctx: &RequestCtx) -> Result<Response, AppError> {
    #[derive(Deserialize)]
    struct Body {
        id: String,
        email: String,
    }
    let body: Body = serde_json::from_slice(ctx.body.json()?)
        .map_err(|e| AppError::validation(format!("account: {e}")))?;
    let config = ctx.config()?;
    let account = DueAccount {
        tombstone: config.keys.tombstone(&body.email),
        id: body.id,
        email: body.email,
    };
    let deleted = Event::user_deleted(&mut OsRandom, &account.id, ctx.now);
    let finalized =
        deletion::finalize(&ctx.db()?, &ctx.kv()?, &account, &ctx.timestamp(), &deleted).await?;
    respond::ok(200, serde_json::json!({ "finalized": finalized }), ctx.now)
}
