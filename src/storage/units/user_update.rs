//! A profile change that downstream services hear of: the user's UPDATE and
//! its event in one transaction.

use crate::domain::error::AppError;
use crate::domain::events::Event;
use crate::domain::user::User;
use crate::domain::user_change::{Changes, Precondition};
use crate::storage::batch::Batch;
use crate::storage::tables::event_outbox;
use crate::storage::tables::users::{self, conflict_or_internal};
use crate::storage::Db;

/// `users::update`, and `event` in the outbox exactly when the update
/// applies: one batch, the event's INSERT first under the update's own
/// condition, so both read the same state in one transaction (and a failed
/// update, such as a taken username, rolls the event back with it).
pub async fn update_with_event(
    db: &Db,
    user_id: &str,
    changes: &Changes,
    precondition: &Precondition,
    now: &str,
    event: &Event,
) -> Result<Option<User>, AppError> {
    let mut batch = Batch::new();
    batch.push(event_outbox::insert_where(event, |p, _| {
        format!(
            "EXISTS (SELECT 1 FROM users WHERE {})",
            users::guard_sql(p, user_id, precondition)
        )
    }));
    let updated = batch.push(users::update_statement(
        user_id,
        changes,
        precondition,
        now,
    )?);
    let results = db
        .batch(&batch, "user update with event")
        .await
        .map_err(conflict_or_internal)?;
    users::users(results.rows(updated)?)
}
