//! The purge of records past their retention (`domain::retention`): one batch
//! per round, each DELETE bounded so that a backlog never holds D1 for long.

use crate::domain::envelope::timestamp;
use crate::domain::error::AppError;
use crate::domain::retention::{Cutoffs, Purged};
use crate::storage::batch::{Batch, Results, Slot, StatementResult};
use crate::storage::statement::{int, text, Statement, Written};
use crate::storage::Db;

struct PurgeSlots {
    sessions: Slot<Written>,
    rate_limits: Slot<Written>,
    audit_events: Slot<Written>,
}

fn purge_batch(cutoffs: &Cutoffs, max_rows: u32) -> (Batch, PurgeSlots) {
    let limit = int(i64::from(max_rows));
    let mut batch = Batch::new();
    let sessions = batch.push(Statement::new(
        "DELETE FROM sessions WHERE rowid IN
           (SELECT rowid FROM sessions WHERE expires_at < ?1 LIMIT ?2)",
        vec![
            text(&timestamp(cutoffs.sessions_expired_before)),
            limit.clone(),
        ],
    ));
    let rate_limits = batch.push(Statement::new(
        "DELETE FROM rate_limits WHERE rowid IN
           (SELECT rowid FROM rate_limits
            WHERE updated_at < ?1 AND window_start < ?2 LIMIT ?3)",
        vec![
            int(cutoffs.counters_updated_before_ms),
            int(cutoffs.counters_window_before_ms),
            limit.clone(),
        ],
    ));
    let audit_events = batch.push(Statement::new(
        "DELETE FROM audit_events WHERE id IN
           (SELECT id FROM audit_events WHERE at < ?1 LIMIT ?2)",
        vec![text(&timestamp(cutoffs.audit_before)), limit],
    ));
    (
        batch,
        PurgeSlots {
            sessions,
            rate_limits,
            audit_events,
        },
    )
}

fn purged<S: StatementResult>(
    results: &Results<S>,
    slots: &PurgeSlots,
) -> Result<Purged, AppError> {
    Ok(Purged {
        sessions: results.changes(slots.sessions)?,
        rate_limits: results.changes(slots.rate_limits)?,
        audit_events: results.changes(slots.audit_events)?,
    })
}

/// Deletes up to `max_rows` rows per table that `cutoffs` says are done
/// with: sessions past their expiry grace, counters whose windows and locks
/// have ended, audit events past retention. One round trip, one transaction.
pub async fn purge(db: &Db, cutoffs: &Cutoffs, max_rows: u32) -> Result<Purged, AppError> {
    let (batch, slots) = purge_batch(cutoffs, max_rows);
    purged(&db.batch(&batch, "retention purge").await?, &slots)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::testing::Sqlite;
    use chrono::{Duration, TimeZone, Utc};

    #[test]
    fn each_table_is_purged_up_to_the_bound_and_counted_on_its_own() {
        let db = Sqlite::migrated();
        for i in 0..3 {
            db.query(&format!(
                "INSERT INTO audit_events (at, event) VALUES ('2020-01-0{}T00:00:00.000Z', 'login')",
                i + 1
            ));
        }
        db.query(
            "INSERT INTO rate_limits (key, window_start, count, updated_at) VALUES ('k', 0, 1, 0)",
        );
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let cutoffs = Cutoffs {
            sessions_expired_before: now,
            counters_updated_before_ms: now.timestamp_millis(),
            counters_window_before_ms: now.timestamp_millis(),
            audit_before: now - Duration::days(1),
        };
        let (batch, slots) = purge_batch(&cutoffs, 2);
        let purged = purged(&db.run(&batch).unwrap(), &slots).unwrap();
        assert_eq!(purged.audit_events, 2);
        assert_eq!(purged.rate_limits, 1);
        assert_eq!(purged.sessions, 0);
        assert_eq!(db.query("SELECT 1 FROM audit_events").len(), 1);
    }
}
