//! Finalises the account deletions that are due: personal data erased, the
//! address reduced to a keyed tombstone, every session revoked, pending codes
//! dropped. Each account is one D1 batch, so none is left half deleted.

use chrono::{DateTime, Utc};
use worker::Env;

use crate::domain::email::EmailAddress;
use crate::domain::envelope::timestamp;
use crate::domain::error::AppError;
use crate::http::context;
use crate::storage::audit_log::{self, AuditEvent};
use crate::storage::otp_store::OtpStore;
use crate::storage::session_repo::SessionRepo;
use crate::storage::user_repo::UserRepo;

/// Accounts handled per run; the rest wait for the next trigger.
const BATCH_LIMIT: u32 = 100;
/// Expired ledger rows are kept a day for investigation, then purged.
const LEDGER_RETENTION_MS: i64 = 24 * 3600 * 1000;

/// Returns how many accounts were finalised.
pub async fn run(env: &Env, now: DateTime<Utc>) -> Result<usize, AppError> {
    let config = context::config(env)?;
    let (db, kv) = (context::db(env)?, context::kv(env)?);
    let users = UserRepo { db: &db };
    let sessions = SessionRepo { db: &db };
    let otp = OtpStore { kv: &kv, db: &db };
    let at = timestamp(now);

    let due = users.due_deletions(&at, BATCH_LIMIT).await?;
    for (user_id, email) in &due {
        let tombstone = config.code_hasher.tombstone(email);
        db.batch(vec![
            sessions.revoke(None, user_id, "account_deleted", &at)?,
            users.finalize_deletion(user_id, &tombstone, &at)?,
        ])
        .await
        .map_err(|e| AppError::internal(format!("finalize deletion: {e}")))?;
        if let Ok(address) = EmailAddress::parse(email) {
            otp.remove(&address).await?;
        }
        let event = AuditEvent {
            event: "deletion_finalized",
            user_id: Some(user_id.clone()),
            ..AuditEvent::default()
        };
        audit_log::record(context::db(env)?, at.clone(), event).await;
    }
    otp.purge_expired(now.timestamp_millis() - LEDGER_RETENTION_MS)
        .await?;
    Ok(due.len())
}
