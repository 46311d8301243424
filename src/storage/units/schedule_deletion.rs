//! Scheduling an account's deletion, confirmed by a code mailed to its
//! address (the step-up): the code's use, the schedule, its event for
//! downstream services and the notice owed to the owner, in one batch (one
//! transaction). As in a login (`login`), the use counts within the same
//! limits as any attempt, and every later write acts only for the request
//! that won it.

use crate::domain::deletion::Transition;
use crate::domain::error::AppError;
use crate::domain::events::Event;
use crate::domain::ids::{random_hex, OsRandom};
use crate::domain::otp::{CodeRefusal, PendingCodes};
use crate::domain::user::User;
use crate::storage::batch::{Batch, Results, Slot, StatementResult};
use crate::storage::statement::{text, Params};
use crate::storage::tables::otp_codes::{self, LedgerRow};
use crate::storage::tables::users::{self, conflict_or_internal, UserRow};
use crate::storage::tables::{deletion_notices, event_outbox};
use crate::storage::units::login::{won, Attempt, Unused, UseSlots};
use crate::storage::Db;

/// A right code, and the schedule it confirms.
pub struct Scheduling<'a> {
    pub attempt: Attempt<'a>,
    /// The code that matched.
    pub code_id: &'a str,
    pub user_id: &'a str,
    /// `deletion::schedule`: what it writes and when it may.
    pub step: &'a Transition,
    /// `user.deletion_scheduled`.
    pub event: &'a Event,
    /// The notice's language (`Locale::tag`).
    pub locale: &'a str,
    /// Now, as the schedule records it (`account_deletion_requested_at`).
    pub at: &'a str,
}

#[derive(Debug)]
pub enum Scheduled {
    /// The code was used by this request; the schedule, its event and the
    /// owed notice are written.
    Done(Box<User>),
    /// The code could not be used; nothing was written.
    NotUsable(CodeRefusal),
    /// The request's copy of the codes (KV) was stale; nothing was written
    /// or counted: check the code against these.
    Stale(PendingCodes),
    /// The code was used, but the account no longer allowed the step (a
    /// concurrent request scheduled it first): nothing else was written.
    Conflict,
}

struct Slots {
    used: UseSlots,
    user: Slot<UserRow>,
    ledger: Slot<LedgerRow>,
}

fn batch(scheduling: &Scheduling<'_>, consumer: &str) -> Result<(Batch, Slots), AppError> {
    let Scheduling {
        attempt, step, at, ..
    } = scheduling;
    let email = attempt.email;
    let won = won(consumer);
    let won = |p: &mut Params| {
        let email = p.bind(text(email.as_str()));
        won(p, email)
    };
    // The event and the notice first, under the update's own condition, so
    // that all three read the same state (as `user_update`).
    let allowed = |p: &mut Params| {
        format!(
            "{} AND EXISTS (SELECT 1 FROM users WHERE {})",
            won(p),
            users::guard_sql(p, scheduling.user_id, &step.precondition)
        )
    };
    let mut batch = Batch::new();
    let used = attempt.use_code(&mut batch, scheduling.code_id, consumer);
    batch.push(event_outbox::insert_where(scheduling.event, |p, _| {
        allowed(p)
    }));
    batch.push(deletion_notices::insert_where(
        scheduling.user_id,
        at,
        scheduling.locale,
        allowed,
    ));
    let user = batch.push(users::update_statement_where(
        scheduling.user_id,
        &step.changes,
        &step.precondition,
        at,
        won,
    )?);
    // One mail's worth of codes confirms one step, as it gives one login.
    batch.push(otp_codes::retire_others(email, consumer));
    let ledger = batch.push(attempt.ledger());
    Ok((batch, Slots { used, user, ledger }))
}

fn outcome<S: StatementResult>(
    scheduling: &Scheduling<'_>,
    results: &Results<S>,
    slots: &Slots,
) -> Result<Scheduled, AppError> {
    if !results.returned(slots.used.used)? {
        return Ok(
            match scheduling.attempt.unused(
                results,
                slots.ledger,
                &slots.used,
                scheduling.code_id,
            )? {
                Unused::Refused(refusal) => Scheduled::NotUsable(refusal),
                Unused::Stale(usable) => Scheduled::Stale(usable),
            },
        );
    }
    Ok(match users::users(results.rows(slots.user)?)? {
        Some(user) => Scheduled::Done(Box::new(user)),
        None => Scheduled::Conflict,
    })
}

/// Uses the code and schedules the deletion, or says why not.
pub async fn commit(db: &Db, scheduling: &Scheduling<'_>) -> Result<Scheduled, AppError> {
    let consumer = random_hex(&mut OsRandom, 16);
    let (batch, slots) = batch(scheduling, &consumer)?;
    let results = db
        .batch(&batch, "schedule deletion")
        .await
        .map_err(conflict_or_internal)?;
    outcome(scheduling, &results, &slots)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::deletion;
    use crate::storage::testing::{Owner, Sqlite, AT, NOW};
    use chrono::{TimeZone, Utc};

    struct World {
        owner: Owner,
        step: Transition,
        event: Event,
    }

    impl World {
        fn new(db: &Sqlite, status: Option<&str>) -> Self {
            let status = status.map_or("NULL".into(), |s| format!("'{s}'"));
            db.query(&format!(
                "INSERT INTO users (id, email, account_deletion_status, created_at, updated_at)
                 VALUES ('usr_1', 'owner@example.com', {status}, '{AT}', '{AT}')"
            ));
            let now = Utc.with_ymd_and_hms(2027, 1, 15, 8, 0, 0).unwrap();
            Self {
                owner: Owner::new(),
                step: deletion::schedule(now, 30),
                event: Event::deletion_scheduled(
                    &mut OsRandom,
                    "usr_1",
                    deletion::due_at(now, 30),
                    now,
                ),
            }
        }

        fn pending(&self, db: &Sqlite, id: &str) {
            db.query(&format!(
                "INSERT INTO otp_codes (email, code_id, code_hash, attempts, issued_at, expires_at)
                 VALUES ('owner@example.com', '{id}', 'h-{id}', 0, {}, {})",
                NOW - 1000,
                NOW + 600_000
            ));
        }

        fn scheduling<'a>(&'a self, code_id: &'a str) -> Scheduling<'a> {
            Scheduling {
                attempt: self.owner.attempt(),
                code_id,
                user_id: "usr_1",
                step: &self.step,
                event: &self.event,
                locale: "tr",
                at: AT,
            }
        }
    }

    fn commit_on(db: &Sqlite, scheduling: &Scheduling<'_>, consumer: &str) -> Scheduled {
        let (batch, slots) = batch(scheduling, consumer).unwrap();
        outcome(scheduling, &db.run(&batch).unwrap(), &slots).unwrap()
    }

    fn count(db: &Sqlite, sql: &str) -> usize {
        db.query(sql).len()
    }

    #[test]
    fn the_right_code_schedules_with_its_event_and_notice_once() {
        let db = Sqlite::migrated();
        let world = World::new(&db, None);
        world.pending(&db, "c1");
        world.pending(&db, "c0");
        match commit_on(&db, &world.scheduling("c1"), "consumer-a") {
            Scheduled::Done(user) => assert_eq!(
                user.account_deletion_status,
                Some(deletion::DeletionStatus::Pending)
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(count(&db, "SELECT 1 FROM event_outbox"), 1);
        let notices = db.query("SELECT requested_at, locale FROM deletion_notices");
        assert_eq!(notices.len(), 1);
        assert_eq!(notices[0]["requested_at"], AT);
        assert_eq!(notices[0]["locale"], "tr");
        let codes = db.query("SELECT code_id, consumed_by FROM otp_codes ORDER BY code_id");
        assert_eq!(codes[0]["consumed_by"], "retired", "the other code");
        assert_eq!(codes[1]["consumed_by"], "consumer-a");

        // The same code again (a second request, or a replay): nothing more.
        assert!(matches!(
            commit_on(&db, &world.scheduling("c1"), "consumer-b"),
            Scheduled::NotUsable(CodeRefusal::NotPending)
        ));
        assert_eq!(count(&db, "SELECT 1 FROM event_outbox"), 1);
        assert_eq!(count(&db, "SELECT 1 FROM deletion_notices"), 1);
    }

    #[test]
    fn a_code_that_cannot_be_used_writes_nothing() {
        let db = Sqlite::migrated();
        let world = World::new(&db, None);
        world.pending(&db, "c1");
        db.query("UPDATE otp_codes SET attempts = 5");
        assert!(matches!(
            commit_on(&db, &world.scheduling("c1"), "consumer-a"),
            Scheduled::NotUsable(CodeRefusal::Exhausted)
        ));
        let user = db.query("SELECT account_deletion_status FROM users");
        assert_eq!(user[0]["account_deletion_status"], serde_json::Value::Null);
        assert_eq!(count(&db, "SELECT 1 FROM event_outbox"), 0);
        assert_eq!(count(&db, "SELECT 1 FROM deletion_notices"), 0);
    }

    #[test]
    fn an_account_already_pending_uses_the_code_and_writes_nothing_else() {
        let db = Sqlite::migrated();
        let world = World::new(&db, Some("pending"));
        world.pending(&db, "c1");
        assert!(matches!(
            commit_on(&db, &world.scheduling("c1"), "consumer-a"),
            Scheduled::Conflict
        ));
        assert_eq!(count(&db, "SELECT 1 FROM event_outbox"), 0);
        assert_eq!(count(&db, "SELECT 1 FROM deletion_notices"), 0);
    }

    #[test]
    fn a_stale_copy_is_told_the_codes_d1_holds() {
        let db = Sqlite::migrated();
        let world = World::new(&db, None);
        world.pending(&db, "c1");
        assert!(matches!(
            commit_on(&db, &world.scheduling("gone"), "consumer-a"),
            Scheduled::Stale(_)
        ));
        assert_eq!(count(&db, "SELECT 1 FROM deletion_notices"), 0);
    }
}
