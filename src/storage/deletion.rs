//! Finalising due deletions: one D1 batch per account, in which every write
//! after the erasure is conditional on that erasure having happened in this
//! batch. An account cancelled after the job selected it is left untouched:
//! its sessions, its pending code and its audit trail stay as they were.

use super::session_repo::RevokeReason;
use super::user_columns::erasure_sql;
use super::{batch_rows, int, otp_store, outbox, text, Db, Kv};
use crate::domain::audit::AuditKind;
use crate::domain::error::AppError;
use crate::domain::events::Event;
use serde::Deserialize;

/// An account whose deletion is due, with the tombstone its address becomes.
pub struct DueAccount {
    pub id: String,
    pub email: String,
    pub tombstone: String,
}

/// Accounts whose deletion is due, oldest first. `tombstone` is the keyed
/// marker an address leaves (`CodeHasher::tombstone`).
pub async fn due(
    db: &Db,
    now: &str,
    limit: u32,
    tombstone: impl Fn(&str) -> String,
) -> Result<Vec<DueAccount>, AppError> {
    #[derive(Deserialize)]
    struct Row {
        id: String,
        email: String,
    }
    let statement = db.statement(
        "SELECT id, email FROM users
         WHERE account_deletion_status = 'pending' AND account_deletion_scheduled_for <= ?1
         ORDER BY account_deletion_scheduled_for LIMIT ?2",
        &[text(now), int(i64::from(limit))],
    )?;
    let rows: Vec<Row> = db.rows(statement, "due deletions").await?;
    Ok(rows
        .into_iter()
        .map(|r| DueAccount {
            tombstone: tombstone(&r.email),
            id: r.id,
            email: r.email,
        })
        .collect())
}

/// Erases the personal data of an account that is still pending and due, and
/// only then revokes its sessions, drops its pending code, records the audit
/// event and writes `deleted` (`user.deleted`) to the outbox. Returns whether
/// this call finalised it.
pub async fn finalize(
    db: &Db,
    kv: &Kv,
    account: &DueAccount,
    now: &str,
    deleted: &Event,
) -> Result<bool, AppError> {
    // "Finalised by this batch": the erasure below stamps `now`.
    const FINALIZED_NOW: &str = "EXISTS (SELECT 1 FROM users WHERE id = ?1
        AND account_deletion_status = 'finalized' AND account_deletion_finalized_at = ?2)";
    let (id, at) = (text(&account.id), text(now));
    let erase = db.statement(
        format!(
            "UPDATE users SET {}, account_deletion_status = 'finalized',
                 account_deletion_finalized_at = ?2, updated_at = ?2
             WHERE id = ?3 AND account_deletion_status = 'pending'
               AND account_deletion_scheduled_for <= ?2
             RETURNING id",
            erasure_sql()
        ),
        &[text(&account.tombstone), at.clone(), id.clone()],
    )?;
    let revoke = db.statement(
        format!(
            "UPDATE sessions SET revoked_at = ?2, revoked_reason = ?3
             WHERE user_id = ?1 AND revoked_at IS NULL AND {FINALIZED_NOW}"
        ),
        &[
            id.clone(),
            at.clone(),
            text(RevokeReason::AccountDeleted.as_str()),
        ],
    )?;
    let drop_code = db.statement(
        format!("DELETE FROM otp_codes WHERE email = ?3 AND {FINALIZED_NOW}"),
        &[id.clone(), at.clone(), text(&account.email)],
    )?;
    let audit = db.statement(
        format!(
            "INSERT INTO audit_events (at, event, user_id)
             SELECT ?2, ?3, ?1 WHERE {FINALIZED_NOW}"
        ),
        &[id, at, text(AuditKind::DeletionFinalized.as_str())],
    )?;
    // FINALIZED_NOW with the event's own numbering: its user id is ?3.
    let event = outbox::insert_where(
        db,
        deleted,
        "EXISTS (SELECT 1 FROM users WHERE id = ?3
             AND account_deletion_status = 'finalized' AND account_deletion_finalized_at = ?6)",
        &[text(now)],
    )?;
    let results = db
        .batch(
            vec![erase, revoke, drop_code, audit, event],
            "finalize deletion",
        )
        .await?;
    let finalized = !batch_rows::<serde_json::Value>(&results, 0)?.is_empty();
    if finalized {
        // The KV copy would expire by itself; dropping it now is tidier.
        otp_store::forget(kv, &account.email).await?;
    }
    Ok(finalized)
}
