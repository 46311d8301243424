//! A logout's unit of work: the caller's session checked live, the sessions
//! ended and the event that tells downstream services written, in one
//! transaction. Ending one session from the list of sessions is the same
//! unit with another event.

use crate::domain::error::AppError;
use crate::domain::events::Event;
use crate::storage::batch::{Batch, Results, Slot, StatementResult};
use crate::storage::statement::{text, Written};
use crate::storage::tables::event_outbox;
use crate::storage::tables::sessions::{self, Live, RevokeReason};
use crate::storage::Db;

/// A logout by the holder of session `caller_session` of user `user_id`.
pub struct Logout<'a> {
    pub user_id: &'a str,
    pub caller_session: &'a str,
    /// One of the user's sessions, or with `None` all of them.
    pub target: Option<&'a str>,
    pub now: &'a str,
    /// The event of this logout (`session.revoked`, `session.revoked_all`),
    /// written to the outbox in the same batch exactly when the logout ends
    /// a session: the caller's is live and so is the target, if one is named.
    pub event: &'a Event,
}

struct Slots {
    live: Slot<Live>,
    revoked: Slot<Written>,
}

fn logout_batch(logout: &Logout<'_>) -> (Batch, Slots) {
    let (user_id, caller, now) = (logout.user_id, logout.caller_session, logout.now);
    let mut batch = Batch::new();
    let live = batch.push(sessions::live(user_id, caller, now));
    // Before the revocation, under the conditions it will find.
    batch.push(event_outbox::insert_where(logout.event, |p, user| {
        let [caller, now] = p.bind_all([text(caller), text(now)]);
        let target = match logout.target {
            Some(target) => sessions::live_sql(p.bind(text(target)), user, now),
            None => "1".to_owned(),
        };
        format!("{} AND {target}", sessions::live_sql(caller, user, now))
    }));
    let revoked = batch.push(sessions::revoke_statement(
        user_id,
        logout.target,
        RevokeReason::Logout,
        now,
        Some(caller),
    ));
    (batch, Slots { live, revoked })
}

fn logout_outcome<S: StatementResult>(
    results: &Results<S>,
    slots: &Slots,
) -> Result<Option<usize>, AppError> {
    if !Live::is_live(&results.rows(slots.live)?) {
        return Ok(None);
    }
    Ok(Some(results.count(slots.revoked)?))
}

/// Ends the target session (or all of the user's), but only while the
/// caller's own session is live, so the access token of an ended session (a
/// logout, a stolen chain revoked) cannot end its owner's other sessions.
/// Returns how many sessions were live and ended (0: the target is not a live
/// session of this user), or `None` when the caller's session has ended.
pub async fn logout(db: &Db, logout: &Logout<'_>) -> Result<Option<usize>, AppError> {
    let (batch, slots) = logout_batch(logout);
    let results = db.batch(&batch, "logout batch").await?;
    logout_outcome(&results, &slots)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::OsRandom;
    use crate::storage::testing::Sqlite;

    const NOW: &str = "2026-05-01T12:00:00.000Z";
    const ALICE: &str = "usr_alice";
    const BOB: &str = "usr_bob";

    /// Alice with sessions a1, a2, a3 (a3 expired) and Bob with b1.
    fn world() -> Sqlite {
        let db = Sqlite::migrated();
        db.query(
            "INSERT INTO users (id, email, created_at, updated_at) VALUES
               ('usr_alice', 'alice@example.com', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z'),
               ('usr_bob', 'bob@example.com', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')",
        );
        for (id, user, expires) in [
            ("a1", ALICE, "2026-06-01T00:00:00.000Z"),
            ("a2", ALICE, "2026-06-01T00:00:00.000Z"),
            ("a3", ALICE, "2026-04-01T00:00:00.000Z"),
            ("b1", BOB, "2026-06-01T00:00:00.000Z"),
        ] {
            db.query(&format!(
                "INSERT INTO sessions (id, user_id, refresh_jti, created_at, expires_at)
                 VALUES ('{id}', '{user}', 'jti-{id}', '2026-04-01T00:00:00.000Z', '{expires}')"
            ));
        }
        db
    }

    fn run(db: &Sqlite, logout: &Logout<'_>) -> Option<usize> {
        let (batch, slots) = logout_batch(logout);
        logout_outcome(&db.run(&batch).unwrap(), &slots).unwrap()
    }

    fn revoked(db: &Sqlite) -> Vec<String> {
        db.query("SELECT id FROM sessions WHERE revoked_at IS NOT NULL ORDER BY id")
            .into_iter()
            .map(|row| row["id"].as_str().unwrap().to_owned())
            .collect()
    }

    fn outbox(db: &Sqlite) -> usize {
        db.query("SELECT 1 FROM event_outbox").len()
    }

    fn ending<'a>(caller: &'a str, target: Option<&'a str>, event: &'a Event) -> Logout<'a> {
        Logout {
            user_id: ALICE,
            caller_session: caller,
            target,
            now: NOW,
            event,
        }
    }

    fn revoked_event(session: &str) -> Event {
        let at = chrono::DateTime::parse_from_rfc3339(NOW).unwrap().into();
        Event::session_revoked(&mut OsRandom, ALICE, session, at)
    }

    #[test]
    fn ending_another_live_session_of_ones_own_ends_it_alone_with_its_event() {
        let db = world();
        let event = revoked_event("a2");
        assert_eq!(run(&db, &ending("a1", Some("a2"), &event)), Some(1));
        assert_eq!(revoked(&db), ["a2"]);
        let row = db.query("SELECT type, payload FROM event_outbox");
        assert_eq!(row[0]["type"], "session.revoked");
        assert!(row[0]["payload"]
            .as_str()
            .unwrap()
            .contains(r#""sessionId":"a2""#));
        let reason = db.query("SELECT revoked_reason FROM sessions WHERE id = 'a2'");
        assert_eq!(reason[0]["revoked_reason"], "logout");
    }

    #[test]
    fn a_session_not_live_or_not_ones_own_is_left_alone_and_raises_nothing() {
        let db = world();
        for target in ["b1", "a3", "nope"] {
            let event = revoked_event(target);
            assert_eq!(
                run(&db, &ending("a1", Some(target), &event)),
                Some(0),
                "{target}"
            );
        }
        assert!(revoked(&db).is_empty());
        assert_eq!(outbox(&db), 0);
        // Ended once, it is not ended (or told) twice.
        let event = revoked_event("a2");
        assert_eq!(run(&db, &ending("a1", Some("a2"), &event)), Some(1));
        let again = revoked_event("a2");
        assert_eq!(run(&db, &ending("a1", Some("a2"), &again)), Some(0));
        assert_eq!(outbox(&db), 1);
    }

    #[test]
    fn ending_ones_own_session_is_a_logout_and_the_next_call_is_refused() {
        let db = world();
        let event = revoked_event("a1");
        assert_eq!(run(&db, &ending("a1", Some("a1"), &event)), Some(1));
        assert_eq!(revoked(&db), ["a1"]);
        let late = revoked_event("a2");
        assert_eq!(run(&db, &ending("a1", Some("a2"), &late)), None);
        assert_eq!(revoked(&db), ["a1"]);
        assert_eq!(outbox(&db), 1);
    }

    #[test]
    fn a_caller_whose_session_is_not_its_users_ends_nothing() {
        let db = world();
        let event = revoked_event("a2");
        // Bob's session with Alice's user id: not live for Alice.
        assert_eq!(run(&db, &ending("b1", Some("a2"), &event)), None);
        assert!(revoked(&db).is_empty());
        assert_eq!(outbox(&db), 0);
    }

    #[test]
    fn logging_out_everywhere_ends_the_live_sessions_only() {
        let db = world();
        let at = chrono::DateTime::parse_from_rfc3339(NOW).unwrap().into();
        let event = Event::sessions_revoked_all(&mut OsRandom, ALICE, at);
        assert_eq!(run(&db, &ending("a1", None, &event)), Some(2));
        assert_eq!(revoked(&db), ["a1", "a2"]);
        assert_eq!(outbox(&db), 1);
    }
}
