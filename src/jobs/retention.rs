//! Purges what is past its retention (`domain::retention`): ended sessions,
//! spent rate-limit counters, audit events older than `AUDIT_RETENTION_DAYS`.

use chrono::{DateTime, Utc};
use worker::Env;

use crate::domain::error::AppError;
use crate::domain::retention::{Cutoffs, Purged, PURGE_BATCH_ROWS, PURGE_MAX_ROUNDS};
use crate::platform::bindings;
use crate::platform::trips::Trips;
use crate::storage;
use crate::storage::units::retention;

/// Returns how many rows went from each table.
pub async fn run(env: &Env, now: DateTime<Utc>) -> Result<Purged, AppError> {
    let config = bindings::config(env)?;
    let db = storage::db(env, &Trips::default())?;
    let cutoffs = Cutoffs::at(now, &config.limits, config.audit_retention_days);
    let mut purged = Purged::default();
    for _ in 0..PURGE_MAX_ROUNDS {
        let round = retention::purge(&db, &cutoffs, PURGE_BATCH_ROWS).await?;
        purged.add(round);
        if !round.filled(PURGE_BATCH_ROWS) {
            break;
        }
    }
    Ok(purged)
}
