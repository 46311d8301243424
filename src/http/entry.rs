//! The worker's entry points: requests, the Cron Trigger, the EVENTS queue.

use chrono::Utc;
use worker::{
    event, Context, Env, MessageBatch, Request, Response, ScheduleContext, ScheduledEvent,
};

use super::body::Body;
use super::context::{RequestCtx, Whence};
use super::cors::{self, Cors};
use super::router::Route;
use super::{handlers, respond, router};
use crate::config::RequestLog;
use crate::domain::error::AppError;
use crate::domain::ids::{random_hex, OsRandom};
use crate::jobs;
use crate::platform::log;
use crate::platform::trips::Trips;
use crate::webhooks;

#[event(start)]
fn start() {
    // A panic aborts the Wasm instance; the shim then re-creates it and
    // `worker/entry.mjs` answers a 500 envelope. Log the message first, as JSON.
    std::panic::set_hook(Box::new(|info| {
        log::error("panic", serde_json::json!({"message": info.to_string()}));
    }));
}

#[event(fetch)]
pub async fn fetch(mut req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let started = worker::Date::now().as_millis();
    // The raw method: workers-rs's `Method` reads any method it does not know
    // (QUERY, FOO…) as GET, which would route it as one.
    let method = req.inner().method();
    let path = req.path();
    let request_id = req
        .headers()
        .get("cf-ray")
        .ok()
        .flatten()
        .unwrap_or_else(|| random_hex(&mut OsRandom, 8));
    let client_ip = req.headers().get("cf-connecting-ip").ok().flatten();
    let whence = Whence::of(&req);
    let cors = Cors::for_request(&req, &env);
    let preflight = cors.allow_origin.is_some() && cors::is_preflight(&method, &req);
    let body = Body::read(&mut req).await;
    let ctx = RequestCtx {
        env,
        ctx,
        now: clock(&req),
        client_ip,
        whence,
        body,
        trips: Trips::default(),
    };

    let resolved = router::resolve(&method, &path);
    let route = resolved.as_ref().ok().copied().filter(|_| !preflight);
    let result = if preflight {
        cors::preflight(&path, ctx.now)
    } else {
        match resolved {
            Ok(route) => handlers::dispatch(route, req, &ctx).await,
            Err(err) => Err(err),
        }
    };
    let outcome = result.as_ref().map_or_else(AppError::kind, |_| "ok");
    let mut response = match result {
        Ok(response) => response,
        // The token endpoint answers errors as RFC 6749 says, not in the envelope.
        Err(err) if route == Some(Route::OAuthToken) => respond::oauth_error(&err)?,
        Err(err) => respond::error(&err, ctx.now)?,
    };
    response.headers_mut().set("X-Request-Id", &request_id)?;
    if route.is_some_and(Route::is_public_document) {
        // Public facts, the same for everyone: any page may read them, and
        // the answer does not vary by origin (so no `Vary: Origin` either).
        response
            .headers_mut()
            .set("Access-Control-Allow-Origin", "*")?;
    } else {
        cors.apply(response.headers_mut())?;
    }

    // One line per request (or per failed one, `REQUEST_LOG`); never a code,
    // a token or a full address. A configuration that does not load logs all.
    let status = response.status_code();
    let request_log = ctx.config().map_or(RequestLog::All, |c| c.request_log);
    if !request_log.logs(status) {
        return Ok(response);
    }
    log::info(
        "request",
        serde_json::json!({
            "requestId": request_id,
            "method": method,
            "path": path,
            "status": status,
            "trips": ctx.trips.counts(),
            "waits": ctx.trips.path(),
            "outcome": outcome,
            "durationMs": worker::Date::now().as_millis().saturating_sub(started),
        }),
    );
    Ok(response)
}

/// The request's clock. Test builds let a test or the guessing simulation set
/// it (`X-Test-Now-Ms`), to age limits without waiting; release builds cannot.
fn clock(_req: &Request) -> chrono::DateTime<Utc> {
    #[cfg(feature = "fault-injection")]
    if let Some(now) = _req
        .headers()
        .get("x-test-now-ms")
        .ok()
        .flatten()
        .and_then(|ms| ms.parse::<i64>().ok())
        .and_then(chrono::DateTime::from_timestamp_millis)
    {
        return now;
    }
    Utc::now()
}

/// The Cron Trigger (`[triggers]` in wrangler.toml). Each job runs whether or
/// not the others failed; one log line says what each did.
#[event(scheduled)]
pub async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let now = Utc::now();
    // Notices first: a deletion whose notice goes out now can be finalised
    // in this same run, if it is due.
    let notices = jobs::deletion_notices::run(&env, now).await;
    let deletions = jobs::account_deletion::run(&env, now).await;
    let retention = jobs::retention::run(&env, now).await;
    // Events the requests could not put on the queue; and the sent ones' purge.
    let events = jobs::events::run(&env, now).await;
    let cause = |err: &AppError| err.log_cause().unwrap_or_else(|| err.to_string());
    let mut fields = serde_json::json!({"cron": event.cron()});
    match &notices {
        Ok(sent) => fields["deletionNoticesSent"] = (*sent).into(),
        Err(err) => fields["deletionNoticeError"] = cause(err).into(),
    }
    match &deletions {
        Ok(finalized) => fields["deletionsFinalized"] = (*finalized).into(),
        Err(err) => fields["deletionError"] = cause(err).into(),
    }
    match &retention {
        Ok(purged) => fields["purged"] = serde_json::json!(purged),
        Err(err) => fields["retentionError"] = cause(err).into(),
    }
    match &events {
        Ok(sent) => fields["leftoverEventsSent"] = (*sent).into(),
        Err(err) => fields["eventsError"] = cause(err).into(),
    }
    if notices.is_ok() && deletions.is_ok() && retention.is_ok() && events.is_ok() {
        log::info("scheduled", fields);
    } else {
        log::error("scheduled", fields);
    }
}

/// The EVENTS queue's consumer (`[[queues.consumers]]` in wrangler.toml):
/// delivers events to downstream services as signed webhooks.
#[event(queue)]
pub async fn queue(batch: MessageBatch<String>, env: Env, _ctx: Context) -> worker::Result<()> {
    webhooks::deliver::deliver(batch, &env, Utc::now()).await;
    Ok(())
}
