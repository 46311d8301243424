//! The event outbox (`event_outbox`): events for downstream services, each
//! written in the batch of the change it describes and conditional on that
//! change, then drained to the EVENTS queue (`crate::webhooks::publish`).

use serde::Deserialize;
use worker::wasm_bindgen::JsValue;
use worker::D1PreparedStatement;

use super::{changes, int, text, Db};
use crate::domain::error::AppError;
use crate::domain::events::Event;

/// An event in the outbox that the queue has not accepted yet.
#[derive(Debug, Clone, Deserialize)]
pub struct Unsent {
    pub id: String,
    pub payload: String,
}

impl From<&Event> for Unsent {
    fn from(event: &Event) -> Self {
        Self {
            id: event.id.clone(),
            payload: event.payload.clone(),
        }
    }
}

/// The INSERT of `event`, written only where `condition` holds in the batch's
/// transaction. The event's columns are `?1`–`?5` (its user id is `?3`, which
/// most conditions need); `condition`'s own values are bound from `?6` on.
/// `RETURNING` tells the caller whether it was written.
pub(super) fn insert_where(
    db: &Db,
    event: &Event,
    condition: &str,
    values: &[JsValue],
) -> Result<D1PreparedStatement, AppError> {
    let mut all = vec![
        text(&event.id),
        text(event.kind.as_str()),
        text(&event.user_id),
        text(&event.occurred_at),
        text(&event.payload),
    ];
    all.extend_from_slice(values);
    db.statement(
        format!(
            "INSERT INTO event_outbox (id, type, user_id, created_at, payload)
             SELECT ?1, ?2, ?3, ?4, ?5 WHERE {condition}
             RETURNING id"
        ),
        &all,
    )
}

/// Events written before `before` and still not on the queue (their
/// publisher failed, or the worker stopped before it ran), oldest first.
pub async fn unsent(db: &Db, before: &str, limit: u32) -> Result<Vec<Unsent>, AppError> {
    let statement = db.statement(
        "SELECT id, payload FROM event_outbox
         WHERE sent_at IS NULL AND created_at < ?1
         ORDER BY created_at LIMIT ?2",
        &[text(before), int(i64::from(limit))],
    )?;
    db.rows(statement, "unsent events").await
}

/// Records that the queue accepted these events.
pub async fn mark_sent(db: &Db, ids: &[&str], at: &str) -> Result<(), AppError> {
    let ids = serde_json::to_string(ids).map_err(AppError::internal)?;
    let statement = db.statement(
        "UPDATE event_outbox SET sent_at = ?1
         WHERE id IN (SELECT value FROM json_each(?2)) AND sent_at IS NULL",
        &[text(at), text(&ids)],
    )?;
    db.run(statement, "events sent").await
}

/// With no receivers configured: marks every event written before `before`
/// and still unsent as sent, in one statement however many there are (a
/// request publishes nothing then). Returns how many.
pub async fn mark_leftovers_sent(db: &Db, before: &str, at: &str) -> Result<usize, AppError> {
    let statement = db.statement(
        "UPDATE event_outbox SET sent_at = ?1 WHERE sent_at IS NULL AND created_at < ?2",
        &[text(at), text(before)],
    )?;
    let results = db
        .batch(vec![statement], "events without receivers")
        .await?;
    changes(&results, 0)
}

/// Drops events the queue accepted before `before`: the queue owns them now,
/// and one of them carries an address.
pub async fn purge_sent(db: &Db, before: &str) -> Result<(), AppError> {
    let statement = db.statement(
        "DELETE FROM event_outbox WHERE sent_at IS NOT NULL AND sent_at < ?1",
        &[text(before)],
    )?;
    db.run(statement, "purge sent events").await
}
