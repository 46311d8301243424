//! Finalising due deletions: one D1 batch per account, in which every write
//! after the erasure is conditional on that erasure having happened in this
//! batch. An account cancelled after the job selected it is left untouched:
//! its sessions, its pending code and its audit trail stay as they were.

use serde::Deserialize;

use crate::domain::audit::AuditKind;
use crate::domain::error::AppError;
use crate::domain::events::Event;
use crate::storage::batch::Batch;
use crate::storage::statement::{int, text, Param, Params, Statement, Written};
use crate::storage::tables::sessions::RevokeReason;
use crate::storage::tables::user_columns::erasure_sql;
use crate::storage::tables::{deletion_notices, event_outbox, otp_codes};
use crate::storage::{Db, Kv};

/// An account whose deletion is due, with the tombstone its address becomes.
pub struct DueAccount {
    pub id: String,
    pub email: String,
    pub tombstone: String,
}

/// Accounts whose deletion is due and whose owner was told in time
/// (`deletion_notices::told_in_time`), oldest first. `tombstone` is the keyed
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
    let statement: Statement<Row> = Statement::new(
        format!(
            "SELECT id, email FROM users
             WHERE account_deletion_status = 'pending' AND account_deletion_scheduled_for <= ?1
               AND {}
             ORDER BY account_deletion_scheduled_for LIMIT ?2",
            deletion_notices::told_in_time("users.id", "?1")
        ),
        vec![text(now), int(i64::from(limit))],
    );
    let rows = db.rows(statement, "due deletions").await?;
    Ok(rows
        .into_iter()
        .map(|r| DueAccount {
            tombstone: tombstone(&r.email),
            id: r.id,
            email: r.email,
        })
        .collect())
}

/// "Finalised by this batch": the erasure stamps `now`.
fn finalized_now(p: &mut Params, user: Param, now: &str) -> String {
    let now = p.bind(text(now));
    format!(
        "EXISTS (SELECT 1 FROM users WHERE id = {user}
           AND account_deletion_status = 'finalized' AND account_deletion_finalized_at = {now})"
    )
}

fn finalize_batch(
    account: &DueAccount,
    now: &str,
    deleted: &Event,
) -> (Batch, crate::storage::batch::Slot<Written>) {
    let mut batch = Batch::new();
    let erased = batch.push(Statement::<Written>::compose(|p| {
        let [tombstone, at, id] =
            p.bind_all([text(&account.tombstone), text(now), text(&account.id)]);
        format!(
            "UPDATE users SET {}, account_deletion_status = 'finalized',
                 account_deletion_finalized_at = {at}, updated_at = {at}
             WHERE id = {id} AND account_deletion_status = 'pending'
               AND account_deletion_scheduled_for <= {at} AND {}
             RETURNING id",
            erasure_sql(tombstone),
            deletion_notices::told_in_time("users.id", at)
        )
    }));
    batch.push(Statement::<Written>::compose(|p| {
        let [id, at, reason] = p.bind_all([
            text(&account.id),
            text(now),
            text(RevokeReason::AccountDeleted.as_str()),
        ]);
        format!(
            "UPDATE sessions SET revoked_at = COALESCE(revoked_at, {at}),
                 revoked_reason = COALESCE(revoked_reason, {reason}),
                 device_label = NULL, country = NULL, city = NULL
             WHERE user_id = {id} AND {}",
            finalized_now(p, id, now)
        )
    }));
    batch.push(otp_codes::delete_all_where(&account.email, |p| {
        let id = p.bind(text(&account.id));
        finalized_now(p, id, now)
    }));
    batch.push(Statement::<Written>::compose(|p| {
        let [id, at, kind] = p.bind_all([
            text(&account.id),
            text(now),
            text(AuditKind::DeletionFinalized.as_str()),
        ]);
        format!(
            "INSERT INTO audit_events (at, event, user_id)
             SELECT {at}, {kind}, {id} WHERE {}",
            finalized_now(p, id, now)
        )
    }));
    batch.push(event_outbox::insert_where(deleted, |p, user| {
        finalized_now(p, user, now)
    }));
    (batch, erased)
}

/// Erases the personal data of an account that is still pending and due, and
/// whose owner was told in time, only then revokes its sessions (and forgets
/// the devices and places they were opened from), drops its pending code,
/// records the audit
/// event and writes `deleted` (`user.deleted`) to the outbox. Returns whether
/// this call finalised it.
pub async fn finalize(
    db: &Db,
    kv: &Kv,
    account: &DueAccount,
    now: &str,
    deleted: &Event,
) -> Result<bool, AppError> {
    let (batch, erased) = finalize_batch(account, now, deleted);
    let finalized = db
        .batch(&batch, "finalize deletion")
        .await?
        .returned(erased)?;
    if finalized {
        // The KV copy would expire by itself; dropping it now is tidier.
        kv.forget(&account.email).await?;
    }
    Ok(finalized)
}

/// Rows of codes that expired before `before_ms`.
pub async fn purge_expired_codes(db: &Db, before_ms: i64) -> Result<(), AppError> {
    db.run(otp_codes::purge_expired(before_ms), "otp_codes purge")
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::OsRandom;
    use crate::storage::testing::Sqlite;

    const NOW: &str = "2027-03-01T00:00:00.000Z";

    #[test]
    fn a_due_deletion_waits_until_its_owner_has_had_the_notice_a_day() {
        let db = Sqlite::migrated();
        db.query(
            "INSERT INTO users (id, email, account_deletion_status, account_deletion_requested_at,
                                account_deletion_scheduled_for, created_at, updated_at)
             VALUES ('usr_1', 'owner@example.com', 'pending', '2027-01-15T08:00:00.000Z',
                     '2027-02-14T08:00:00.000Z', 'x', 'x')",
        );
        db.query(
            "INSERT INTO deletion_notices (user_id, requested_at, locale)
             VALUES ('usr_1', '2027-01-15T08:00:00.000Z', 'en')",
        );
        let account = DueAccount {
            id: "usr_1".into(),
            email: "owner@example.com".into(),
            tombstone: "deleted:x".into(),
        };
        let event = Event::user_deleted(&mut OsRandom, "usr_1", chrono::Utc::now());
        let finalize = |db: &Sqlite| {
            let (batch, erased) = finalize_batch(&account, NOW, &event);
            db.run(&batch).unwrap().returned(erased).unwrap()
        };
        let due = |db: &Sqlite| {
            let rows = db.query(&format!(
                "SELECT id FROM users WHERE {}",
                deletion_notices::told_in_time("users.id", format!("'{NOW}'"))
            ));
            rows.len()
        };
        assert_eq!(due(&db), 0);
        assert!(!finalize(&db), "owed: the owner has not been told");
        assert_eq!(db.query("SELECT 1 FROM event_outbox").len(), 0);
        // Told late (a long mail outage): a day to cancel still.
        db.query("UPDATE deletion_notices SET sent_at = '2027-02-28T12:00:00.000Z'");
        assert_eq!(due(&db), 0);
        assert!(!finalize(&db), "told less than a day ago");
        db.query("UPDATE deletion_notices SET sent_at = '2027-02-28T00:00:00.000Z'");
        assert_eq!(due(&db), 1);
        assert!(finalize(&db), "told a day ago: it goes ahead");
    }

    #[test]
    fn a_finalised_account_keeps_no_device_or_place_of_its_sessions() {
        const DEVICES_NOW: &str = "2026-05-01T12:00:00.000Z";
        let db = Sqlite::migrated();
        db.query(&format!(
            "INSERT INTO users (id, email, account_deletion_status, account_deletion_scheduled_for,
                 created_at, updated_at)
             VALUES ('u1', 'u1@example.com', 'pending', '2026-04-01T00:00:00.000Z', '{DEVICES_NOW}', '{DEVICES_NOW}')"
        ));
        db.query(
            "INSERT INTO deletion_notices (user_id, requested_at, locale, sent_at)
             VALUES ('u1', '2026-03-01T00:00:00.000Z', 'en', '2026-03-01T00:00:00.000Z')",
        );
        for (id, revoked) in [("live", "NULL"), ("ended", "'2026-04-02T00:00:00.000Z'")] {
            db.query(&format!(
                "INSERT INTO sessions (id, user_id, refresh_jti, created_at, expires_at,
                     revoked_at, revoked_reason, device_label, country, city)
                 VALUES ('{id}', 'u1', 'j-{id}', '{DEVICES_NOW}', '2026-06-01T00:00:00.000Z', {revoked},
                     CASE WHEN {revoked} IS NULL THEN NULL ELSE 'logout' END,
                     'Chrome on macOS', 'TR', 'Istanbul')"
            ));
        }
        let account = DueAccount {
            id: "u1".into(),
            email: "u1@example.com".into(),
            tombstone: "tomb".into(),
        };
        let at = chrono::DateTime::parse_from_rfc3339(DEVICES_NOW)
            .unwrap()
            .into();
        let deleted = Event::user_deleted(&mut OsRandom, "u1", at);
        let (batch, erased) = finalize_batch(&account, DEVICES_NOW, &deleted);
        assert!(db.run(&batch).unwrap().returned(erased).unwrap());
        let rows = db.query(
            "SELECT id, revoked_at, revoked_reason, device_label, country, city
             FROM sessions ORDER BY id",
        );
        assert_eq!(
            rows,
            [
                serde_json::json!({"id": "ended", "revoked_at": "2026-04-02T00:00:00.000Z",
                    "revoked_reason": "logout", "device_label": null, "country": null, "city": null}),
                serde_json::json!({"id": "live", "revoked_at": DEVICES_NOW,
                    "revoked_reason": "account_deleted", "device_label": null, "country": null, "city": null}),
            ]
        );
    }
}
