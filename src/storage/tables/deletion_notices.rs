//! The notice of each scheduled deletion (`deletion_notices`): written in the
//! batch that schedules, owed until the mail provider accepts it. A row is
//! the promise that the owner hears of the deletion at least a day before it
//! becomes final.

use std::fmt::Display;

use serde::Deserialize;

use crate::domain::error::AppError;
use crate::storage::statement::{int, text, Params, Statement, Written};
use crate::storage::Db;

/// The SQL condition "the schedule `notice` (a row of this table) is for is
/// still the account's live one": not cancelled, finalised or replaced.
const STILL_PENDING: &str = "EXISTS (SELECT 1 FROM users
    WHERE users.id = deletion_notices.user_id
      AND users.account_deletion_status = 'pending'
      AND users.account_deletion_requested_at = deletion_notices.requested_at)";

/// The notice of the schedule asked for at `requested_at`, owed, written only
/// where `condition` holds in the batch's transaction. It replaces any
/// earlier one of the user (a schedule, cancelled, then asked for again).
pub(in crate::storage) fn insert_where(
    user_id: &str,
    requested_at: &str,
    locale: &str,
    condition: impl FnOnce(&mut Params) -> String,
) -> Statement<Written> {
    Statement::compose(|p| {
        let [user, at, locale] = p.bind_all([text(user_id), text(requested_at), text(locale)]);
        format!(
            "INSERT OR REPLACE INTO deletion_notices (user_id, requested_at, locale)
             SELECT {user}, {at}, {locale} WHERE {}",
            condition(p)
        )
    })
}

/// The SQL condition "the owner of the account whose id is the SQL expression
/// `user` has been told in time" by the SQL expression `now`: no notice of theirs is owed or went out
/// less than a day before `now` (a deletion is finalised only then, so a
/// notice delayed by a mail outage still leaves the owner a day to cancel).
/// A deletion scheduled before notices existed has none, and goes ahead.
pub(in crate::storage) fn told_in_time(user: &str, now: impl Display) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM deletion_notices WHERE deletion_notices.user_id = {user}
           AND (sent_at IS NULL OR sent_at > strftime('%Y-%m-%dT%H:%M:%fZ', {now}, '-1 day')))"
    )
}

/// A notice still owed, with what its mail says and where it goes.
#[derive(Debug, Clone, Deserialize)]
pub struct Owed {
    pub user_id: String,
    pub requested_at: String,
    pub locale: String,
    pub email: String,
    pub scheduled_for: String,
}

/// Notices owed for schedules asked for before `before` (younger ones are
/// left to the request that is mailing them), oldest first.
pub(in crate::storage) fn owed_statement(before: &str, limit: u32) -> Statement<Owed> {
    Statement::new(
        format!(
            "SELECT deletion_notices.user_id, deletion_notices.requested_at, deletion_notices.locale,
                    users.email, users.account_deletion_scheduled_for AS scheduled_for
               FROM deletion_notices JOIN users ON users.id = deletion_notices.user_id
              WHERE deletion_notices.sent_at IS NULL AND deletion_notices.requested_at < ?1
                AND {STILL_PENDING}
              ORDER BY deletion_notices.requested_at LIMIT ?2"
        ),
        vec![text(before), int(i64::from(limit))],
    )
}

pub async fn owed(db: &Db, before: &str, limit: u32) -> Result<Vec<Owed>, AppError> {
    db.rows(owed_statement(before, limit), "owed deletion notices")
        .await
}

/// The provider accepted the notice of one schedule at `at`.
pub(in crate::storage) fn sent_statement(
    user_id: &str,
    requested_at: &str,
    at: &str,
) -> Statement<Written> {
    Statement::new(
        "UPDATE deletion_notices SET sent_at = ?3
         WHERE user_id = ?1 AND requested_at = ?2 AND sent_at IS NULL",
        vec![text(user_id), text(requested_at), text(at)],
    )
}

pub async fn sent(db: &Db, user_id: &str, requested_at: &str, at: &str) -> Result<(), AppError> {
    db.run(
        sent_statement(user_id, requested_at, at),
        "deletion notice sent",
    )
    .await
}

/// Notices whose schedule is no longer live (cancelled, finalised, or
/// replaced): nobody needs them any more.
pub(in crate::storage) fn drop_outlived_statement() -> Statement<Written> {
    Statement::new(
        format!("DELETE FROM deletion_notices WHERE NOT {STILL_PENDING}"),
        vec![],
    )
}

pub async fn drop_outlived(db: &Db) -> Result<(), AppError> {
    db.run(drop_outlived_statement(), "outlived deletion notices")
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::batch::Batch;
    use crate::storage::testing::Sqlite;

    const ASKED: &str = "2027-01-15T08:00:00.000Z";

    fn user(db: &Sqlite, id: &str, status: &str, requested_at: &str) {
        db.query(&format!(
            "INSERT INTO users (id, email, account_deletion_status, account_deletion_requested_at,
                                account_deletion_scheduled_for, created_at, updated_at)
             VALUES ('{id}', '{id}@example.com', '{status}', '{requested_at}',
                     '2027-02-14T08:00:00.000Z', '{ASKED}', '{ASKED}')"
        ));
    }

    fn owe(db: &Sqlite, id: &str, requested_at: &str) {
        let mut batch = Batch::new();
        batch.push(insert_where(id, requested_at, "tr", |_| "1 = 1".into()));
        db.run(&batch).unwrap();
    }

    fn owed_now(db: &Sqlite) -> Vec<Owed> {
        let mut batch = Batch::new();
        let slot = batch.push(owed_statement("2027-01-15T09:00:00.000Z", 10));
        db.run(&batch).unwrap().rows(slot).unwrap()
    }

    #[test]
    fn a_notice_is_owed_only_for_the_live_schedule_it_was_written_for() {
        let db = Sqlite::migrated();
        user(&db, "live", "pending", ASKED);
        user(&db, "cancelled", "cancelled", ASKED);
        user(&db, "asked-again", "pending", "2027-01-15T08:30:00.000Z");
        for id in ["live", "cancelled", "asked-again"] {
            owe(&db, id, ASKED);
        }
        let owed = owed_now(&db);
        assert_eq!(owed.len(), 1, "{owed:?}");
        assert_eq!(owed[0].user_id, "live");
        assert_eq!(owed[0].email, "live@example.com");
        assert_eq!(owed[0].locale, "tr");
        assert_eq!(owed[0].scheduled_for, "2027-02-14T08:00:00.000Z");

        let mut batch = Batch::new();
        batch.push(drop_outlived_statement());
        db.run(&batch).unwrap();
        let left = db.query("SELECT user_id FROM deletion_notices");
        assert_eq!(left.len(), 1, "{left:?}");
        assert_eq!(left[0]["user_id"], "live");
    }

    #[test]
    fn a_schedule_asked_for_again_replaces_its_notice_and_a_sent_one_is_no_longer_owed() {
        let db = Sqlite::migrated();
        user(&db, "u", "pending", "2027-01-15T08:30:00.000Z");
        owe(&db, "u", ASKED);
        owe(&db, "u", "2027-01-15T08:30:00.000Z");
        assert_eq!(db.query("SELECT 1 FROM deletion_notices").len(), 1);
        assert_eq!(owed_now(&db).len(), 1);
        // Too young: the request that wrote it is mailing it.
        let mut batch = Batch::new();
        let slot = batch.push(owed_statement("2027-01-15T08:30:00.000Z", 10));
        assert!(db.run(&batch).unwrap().rows(slot).unwrap().is_empty());

        let mut batch = Batch::new();
        batch.push(sent_statement("u", ASKED, "2027-01-15T08:31:00.000Z"));
        db.run(&batch).unwrap();
        assert_eq!(
            owed_now(&db).len(),
            1,
            "a stale schedule's mail settles nothing"
        );
        let mut batch = Batch::new();
        batch.push(sent_statement(
            "u",
            "2027-01-15T08:30:00.000Z",
            "2027-01-15T08:31:00.000Z",
        ));
        db.run(&batch).unwrap();
        assert!(owed_now(&db).is_empty());
        let told = db.query("SELECT sent_at FROM deletion_notices");
        assert_eq!(told[0]["sent_at"], "2027-01-15T08:31:00.000Z");
    }
}
