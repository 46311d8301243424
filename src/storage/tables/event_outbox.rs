//! The event outbox (`event_outbox`): events for downstream services, each
//! written in the batch of the change it describes and conditional on that
//! change, then drained to the EVENTS queue (`crate::webhooks::publish`).

use serde::Deserialize;

use crate::domain::error::AppError;
use crate::domain::events::Event;
use crate::storage::batch::Batch;
use crate::storage::statement::{int, text, Param, Params, Statement, Written};
use crate::storage::Db;

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
/// transaction; `condition` gets the placeholder of the event's user id,
/// which most conditions need. `RETURNING` tells whether it was written.
pub(in crate::storage) fn insert_where(
    event: &Event,
    condition: impl FnOnce(&mut Params, Param) -> String,
) -> Statement<Written> {
    Statement::compose(|p| {
        let [id, kind, user, at, payload] = p.bind_all([
            text(&event.id),
            text(event.kind.as_str()),
            text(&event.user_id),
            text(&event.occurred_at),
            text(&event.payload),
        ]);
        format!(
            "INSERT INTO event_outbox (id, type, user_id, created_at, payload)
             SELECT {id}, {kind}, {user}, {at}, {payload} WHERE {}
             RETURNING id",
            condition(p, user)
        )
    })
}

/// Events written before `before` and still not on the queue (their
/// publisher failed, or the worker stopped before it ran), oldest first.
pub async fn unsent(db: &Db, before: &str, limit: u32) -> Result<Vec<Unsent>, AppError> {
    let statement = Statement::new(
        "SELECT id, payload FROM event_outbox
         WHERE sent_at IS NULL AND created_at < ?1
         ORDER BY created_at LIMIT ?2",
        vec![text(before), int(i64::from(limit))],
    );
    db.rows(statement, "unsent events").await
}

/// Records that the queue accepted these events.
pub async fn mark_sent(db: &Db, ids: &[&str], at: &str) -> Result<(), AppError> {
    let ids = serde_json::to_string(ids).map_err(AppError::internal)?;
    let statement: Statement<Written> = Statement::new(
        "UPDATE event_outbox SET sent_at = ?1
         WHERE id IN (SELECT value FROM json_each(?2)) AND sent_at IS NULL",
        vec![text(at), text(&ids)],
    );
    db.run(statement, "events sent").await
}

/// With no receivers configured: marks every event written before `before`
/// and still unsent as sent, in one statement however many there are (a
/// request publishes nothing then). Returns how many.
pub async fn mark_leftovers_sent(db: &Db, before: &str, at: &str) -> Result<usize, AppError> {
    let mut batch = Batch::new();
    let marked = batch.push::<Written>(Statement::new(
        "UPDATE event_outbox SET sent_at = ?1 WHERE sent_at IS NULL AND created_at < ?2",
        vec![text(at), text(before)],
    ));
    db.batch(&batch, "events without receivers")
        .await?
        .changes(marked)
}

/// Drops events the queue accepted before `before`: the queue owns them now,
/// and one of them carries an address.
pub async fn purge_sent(db: &Db, before: &str) -> Result<(), AppError> {
    let statement: Statement<Written> = Statement::new(
        "DELETE FROM event_outbox WHERE sent_at IS NOT NULL AND sent_at < ?1",
        vec![text(before)],
    );
    db.run(statement, "purge sent events").await
}
