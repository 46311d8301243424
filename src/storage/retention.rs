//! The purge of records past their retention (`domain::retention`): one batch
//! per round, each DELETE bounded so that a backlog never holds D1 for long.

use super::{changes, int, text, Db};
use crate::domain::envelope::timestamp;
use crate::domain::error::AppError;
use crate::domain::retention::{Cutoffs, Purged};

/// Deletes up to `batch_rows` rows per table that `cutoffs` says are done
/// with: sessions past their expiry grace, counters whose windows and locks
/// have ended, audit events past retention. One round trip, one transaction.
pub async fn purge(db: &Db, cutoffs: &Cutoffs, batch_rows: u32) -> Result<Purged, AppError> {
    let limit = int(i64::from(batch_rows));
    let statements = vec![
        db.statement(
            "DELETE FROM sessions WHERE rowid IN
               (SELECT rowid FROM sessions WHERE expires_at < ?1 LIMIT ?2)",
            &[
                text(&timestamp(cutoffs.sessions_expired_before)),
                limit.clone(),
            ],
        )?,
        db.statement(
            "DELETE FROM rate_limits WHERE rowid IN
               (SELECT rowid FROM rate_limits
                WHERE updated_at < ?1 AND window_start < ?2 LIMIT ?3)",
            &[
                int(cutoffs.counters_updated_before_ms),
                int(cutoffs.counters_window_before_ms),
                limit.clone(),
            ],
        )?,
        db.statement(
            "DELETE FROM audit_events WHERE id IN
               (SELECT id FROM audit_events WHERE at < ?1 LIMIT ?2)",
            &[text(&timestamp(cutoffs.audit_before)), limit],
        )?,
    ];
    let results = db.batch(statements, "retention purge").await?;
    Ok(Purged {
        sessions: changes(&results, 0)?,
        rate_limits: changes(&results, 1)?,
        audit_events: changes(&results, 2)?,
    })
}
