//! The outbox's safety net: events a request or a job wrote but could not put
//! on the queue (the queue refused, the worker stopped first) are sent here,
//! and events the queue accepted a day ago are purged.

use chrono::{DateTime, Duration, Utc};
use worker::Env;

use crate::domain::envelope::timestamp;
use crate::domain::error::AppError;
use crate::platform::bindings;
use crate::platform::trips::Trips;
use crate::storage::tables::event_outbox as outbox;
use crate::storage::{self, Db};
use crate::webhooks::publish;

/// Events younger than this are left to the request that wrote them, which
/// publishes right after its response: taking them here too would deliver
/// them twice.
const IN_FLIGHT_SECONDS: i64 = 60;
/// Events per round trip, and rounds per run: a backlog after a queue outage
/// drains at up to a thousand events a run.
const PAGE: u32 = 100;
const PAGES_PER_RUN: usize = 10;
/// Sent events stay a day for investigation (like the code ledger), then go:
/// `user.created` carries an address.
const SENT_RETENTION_HOURS: i64 = 24;

/// Returns how many leftover events were put on the queue (or, with no
/// receivers, marked sent).
pub async fn run(env: &Env, now: DateTime<Utc>) -> Result<usize, AppError> {
    let db = storage::db(env, &Trips::default())?;
    let (at, before) = (
        timestamp(now),
        timestamp(now - Duration::seconds(IN_FLIGHT_SECONDS)),
    );
    let sent = if bindings::no_webhook_receivers(env) {
        // Requests publish nothing then, so every leftover is marked sent
        // here, all in one statement (paging would cap them at a thousand a run).
        outbox::mark_leftovers_sent(&db, &before, &at).await?
    } else {
        publish_leftovers(env, &db, &before, &at).await?
    };
    outbox::purge_sent(&db, &timestamp(now - Duration::hours(SENT_RETENTION_HOURS))).await?;
    Ok(sent)
}

/// Puts leftover events on the queue, a page per round trip, at most
/// `PAGES_PER_RUN` pages.
async fn publish_leftovers(env: &Env, db: &Db, before: &str, at: &str) -> Result<usize, AppError> {
    let mut sent = 0;
    for _ in 0..PAGES_PER_RUN {
        let page = outbox::unsent(db, before, PAGE).await?;
        publish::publish(env, db, &page, at).await?;
        sent += page.len();
        if page.len() < PAGE as usize {
            break;
        }
    }
    Ok(sent)
}
