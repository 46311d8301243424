//! Finalises the account deletions that are due: personal data erased, the
//! address reduced to a keyed tombstone, every session revoked, the pending
//! code dropped. Each account is one D1 batch, so none is left half deleted.

use chrono::{DateTime, Utc};
use worker::Env;

use crate::domain::deletion::FINALIZE_PER_RUN;
use crate::domain::envelope::timestamp;
use crate::domain::error::AppError;
use crate::domain::events::Event;
use crate::domain::ids::OsRandom;
use crate::platform::trips::Trips;
use crate::platform::{bindings, log};
use crate::storage;
use crate::storage::tables::event_outbox::Unsent;
use crate::storage::units::deletion;
use crate::webhooks::publish;

/// Expired ledger rows are kept a day for investigation, then purged.
const LEDGER_RETENTION_MS: i64 = 24 * 3600 * 1000;

/// Returns how many accounts were finalised.
pub async fn run(env: &Env, now: DateTime<Utc>) -> Result<usize, AppError> {
    let config = bindings::config(env)?;
    let trips = Trips::default();
    let (db, kv) = (storage::db(env, &trips)?, storage::kv(env, &trips)?);
    let at = timestamp(now);

    let tombstone = |email: &str| config.keys.tombstone(email);
    let mut deleted = Vec::new();
    for account in deletion::due(&db, &at, FINALIZE_PER_RUN, tombstone).await? {
        let event = Event::user_deleted(&mut OsRandom, &account.id, now);
        if deletion::finalize(&db, &kv, &account, &at, &event).await? {
            deleted.push(Unsent::from(&event));
        }
    }
    let finalized = deleted.len();
    // Downstream services hear of it now; if this fails, the events job does later.
    if let Err(err) = publish::publish(env, &db, &deleted, &at).await {
        log::error(
            "event_publish_failed",
            serde_json::json!({"events": finalized, "cause": err.log_cause()}),
        );
    }
    deletion::purge_expired_codes(&db, now.timestamp_millis() - LEDGER_RETENTION_MS).await?;
    Ok(finalized)
}
