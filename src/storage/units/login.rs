//! The outcomes of typing a code, each one D1 batch (one transaction, one
//! round trip) that also reads back the ledger, so a refusal is explained
//! without another round trip.

use crate::domain::audit::AuditEvent;
use crate::domain::email::EmailAddress;
use crate::domain::error::AppError;
use crate::domain::events::Event;
use crate::domain::ids::{random_hex, OsRandom};
use crate::domain::limits::{BudgetPolicy, EmailLimits, Keys};
use crate::domain::otp::{CodeRefusal, LedgerSnapshot, OtpPolicy, Path, PendingCodes};
use crate::domain::user::User;
use crate::storage::batch::{Batch, Results, Slot, StatementResult};
use crate::storage::statement::{text, Param, Params, Written};
use crate::storage::tables::otp_codes::{self, AttemptOn, Attempts, LedgerRow};
use crate::storage::tables::rate_limits::{self, NotLocked};
use crate::storage::tables::sessions::{self, NewSession};
use crate::storage::tables::users::{self, UserRow};
use crate::storage::tables::{audit_events, event_outbox};
use crate::storage::Db;

/// An attempt on the codes an address has pending.
#[derive(Clone, Copy)]
pub struct Attempt<'a> {
    pub email: &'a EmailAddress,
    pub keys: &'a Keys,
    pub policy: &'a OtpPolicy,
    pub limits: &'a EmailLimits,
    pub budget: BudgetPolicy,
    /// With the login id of the send (its tag), or without.
    pub path: Path<'a>,
    pub now_ms: i64,
}

/// A right code, and what its login writes.
pub struct Login<'a> {
    pub attempt: Attempt<'a>,
    /// The code that matched.
    pub code_id: &'a str,
    /// The id the user gets if this is their first login.
    pub new_user_id: &'a str,
    /// Every marker a finalised deletion may have left of the address.
    pub tombstones: &'a [String],
    pub session: NewSession<'a>,
    pub audit: &'a AuditEvent,
    /// `user.created` for `new_user_id`, written only if this login creates it.
    pub created: &'a Event,
    pub at: &'a str,
}

#[derive(Debug)]
pub enum LoginOutcome {
    /// The code was used by this request; the user (created or updated) and
    /// the session are written. `created`: this login created the user, and
    /// its `user.created` event is in the outbox.
    LoggedIn { user: Box<User>, created: bool },
    /// The code could not be used; nothing was written.
    NotUsable(CodeRefusal),
    /// The request's copy of the codes (KV) held a code D1 does not hold
    /// usable (a mail that failed, a code a later send retired), while D1 has
    /// others: nothing was written or counted; check the code against these.
    Stale(PendingCodes),
    /// The code was used, but the account was deleted and cannot sign in.
    Deleted,
}

/// What a code that matched none the request knew of came to.
#[derive(Debug)]
pub enum WrongAttempt {
    /// Counted (`Wrong`, or `LockedNow` for the count that locked the
    /// request out), or refused without counting: the answer.
    Refused(CodeRefusal),
    /// The request's copy of the codes (KV where it runs) was missing or stale,
    /// so nothing was counted against anyone; these are the usable codes
    /// D1 holds, to check the code against instead.
    Stale(PendingCodes),
}

/// The statements of a code's use: the use itself, and the count of the
/// guess as a wrong one when the code is there but not usable on the path.
pub(in crate::storage) struct UseSlots {
    pub used: Slot<Attempts>,
    counted: Slot<Attempts>,
}

/// What a right code this request did not get to use comes to.
#[derive(Debug)]
pub(in crate::storage) enum Unused {
    /// Used by another request first, spent, expired, or the request is
    /// locked out: the answer.
    Refused(CodeRefusal),
    /// D1 does not hold the code usable but holds these: the request's copy
    /// (KV) was stale; check the code against them.
    Stale(PendingCodes),
}

impl Attempt<'_> {
    fn not_locked(&self) -> NotLocked<'_> {
        NotLocked::new(self.keys, self.limits, self.budget, self.path, self.now_ms)
    }

    /// The ledger after the batch's attempt (codes and counters), read back
    /// in the same batch.
    pub(in crate::storage) fn ledger(&self) -> crate::storage::statement::Statement<LedgerRow> {
        otp_codes::ledger(self.email, self.keys, self.now_ms)
    }

    /// Uses the right code `code_id` for the request whose token is
    /// `consumer`, within the same limits as every attempt; `RETURNING` gives
    /// a row only to the request that won it. Whatever else the batch writes
    /// is conditional on that win (`won`). If the code is there but this path
    /// may not use it, the guess is counted as a wrong one instead, in the
    /// same batch (`AttemptOn::CountMatched`): a match on a code one may not
    /// use answers, costs and takes as long as a wrong guess.
    pub(in crate::storage) fn use_code(
        &self,
        batch: &mut Batch,
        code_id: &str,
        consumer: &str,
    ) -> UseSlots {
        let used = batch.push(otp_codes::attempt(
            self.email,
            AttemptOn::Use { code_id, consumer },
            self.policy,
            self.now_ms,
            &self.not_locked(),
        ));
        let token = random_hex(&mut OsRandom, 16);
        let counted = batch.push(otp_codes::attempt(
            self.email,
            AttemptOn::CountMatched {
                code_id,
                consumer,
                token: &token,
            },
            self.policy,
            self.now_ms,
            &self.not_locked(),
        ));
        // After the count, which marks the rows it counted with `token`.
        for counter in rate_limits::record_failures(
            self.keys,
            self.limits,
            self.path,
            self.email,
            &token,
            self.now_ms,
        ) {
            batch.push(counter);
        }
        UseSlots { used, counted }
    }

    /// Why `code_id`, which this request matched, was not used, from the
    /// ledger the batch read back.
    pub(in crate::storage) fn unused<S: StatementResult>(
        &self,
        results: &Results<S>,
        ledger: Slot<LedgerRow>,
        slots: &UseSlots,
        code_id: &str,
    ) -> Result<Unused, AppError> {
        let snapshot = self.snapshot(results, ledger)?;
        let counted = results
            .rows(slots.counted)?
            .into_iter()
            .map(|a| a.attempts)
            .max();
        if let Some(attempts) = counted {
            // Counted as a wrong code; only an unlocked request is counted,
            // so a lock now is the one this count set.
            let locked = self.limits.verify_locked_until(
                &snapshot.counters,
                self.budget,
                self.path,
                self.now_ms,
            );
            return Ok(Unused::Refused(match locked {
                Some(until) => CodeRefusal::LockedNow { until },
                None => CodeRefusal::Wrong { attempts },
            }));
        }
        let refusal = self.classify(&snapshot);
        let usable = self.usable(&snapshot);
        if refusal == CodeRefusal::NotPending && !usable.codes.is_empty() && !usable.holds(code_id)
        {
            return Ok(Unused::Stale(usable));
        }
        Ok(Unused::Refused(refusal))
    }

    fn snapshot<S: StatementResult>(
        &self,
        results: &Results<S>,
        slot: Slot<LedgerRow>,
    ) -> Result<LedgerSnapshot, AppError> {
        otp_codes::snapshot(results.rows(slot)?, self.keys)
    }

    fn classify(&self, snapshot: &LedgerSnapshot) -> CodeRefusal {
        CodeRefusal::classify(
            snapshot,
            self.policy,
            self.limits,
            self.budget,
            self.path,
            self.now_ms,
        )
    }

    /// The codes this attempt may still use, as the ledger stands.
    fn usable(&self, snapshot: &LedgerSnapshot) -> PendingCodes {
        snapshot.usable(self.policy, self.limits, self.path, self.now_ms)
    }
}

struct WrongSlots {
    counted: Slot<Attempts>,
    ledger: Slot<LedgerRow>,
}

fn wrong_attempt_batch(
    attempt: &Attempt<'_>,
    seen: &PendingCodes,
    token: &str,
) -> (Batch, WrongSlots) {
    let lock = attempt.not_locked();
    let mut batch = Batch::new();
    let counted = batch.push(otp_codes::attempt(
        attempt.email,
        AttemptOn::CountWrong {
            seen_newest: seen.newest_id(),
            token,
        },
        attempt.policy,
        attempt.now_ms,
        &lock,
    ));
    // After the attempt, which marks the rows it counted with `token`.
    for counter in rate_limits::record_failures(
        attempt.keys,
        attempt.limits,
        attempt.path,
        attempt.email,
        token,
        attempt.now_ms,
    ) {
        batch.push(counter);
    }
    let ledger = batch.push(attempt.ledger());
    (batch, WrongSlots { counted, ledger })
}

fn wrong_attempt_outcome<S: StatementResult>(
    attempt: &Attempt<'_>,
    seen: &PendingCodes,
    results: &Results<S>,
    slots: &WrongSlots,
) -> Result<WrongAttempt, AppError> {
    let counted = results
        .rows(slots.counted)?
        .into_iter()
        .map(|a| a.attempts)
        .max();
    let snapshot = attempt.snapshot(results, slots.ledger)?;
    let locked = attempt.limits.verify_locked_until(
        &snapshot.counters,
        attempt.budget,
        attempt.path,
        attempt.now_ms,
    );
    let usable = attempt.usable(&snapshot);
    Ok(match (locked, counted) {
        (Some(until), Some(_)) => WrongAttempt::Refused(CodeRefusal::LockedNow { until }),
        (Some(until), None) => WrongAttempt::Refused(CodeRefusal::LockedOut { until }),
        (None, Some(attempts)) => WrongAttempt::Refused(CodeRefusal::Wrong { attempts }),
        // Usable codes, but not those the request saw: its copy was stale.
        (None, None) if !usable.codes.is_empty() && usable.newest_id() != seen.newest_id() => {
            WrongAttempt::Stale(usable)
        }
        (None, None) => WrongAttempt::Refused(attempt.classify(&snapshot)),
    })
}

/// A code that matched none of `seen` (the codes KV held where the request
/// ran). Counted against every usable code of the address, and against its
/// network's and the address's failure counters, only if `seen` is current.
pub async fn count_wrong_attempt(
    db: &Db,
    attempt: &Attempt<'_>,
    seen: &PendingCodes,
) -> Result<WrongAttempt, AppError> {
    let token = random_hex(&mut OsRandom, 16);
    let (batch, slots) = wrong_attempt_batch(attempt, seen, &token);
    let results = db.batch(&batch, "wrong attempt batch").await?;
    wrong_attempt_outcome(attempt, seen, &results, &slots)
}

struct LoginSlots {
    used: UseSlots,
    user: Slot<UserRow>,
    ledger: Slot<LedgerRow>,
    created: Slot<Written>,
}

/// The condition every write of a login shares: this request (`consumer`)
/// used a code of the address.
pub(in crate::storage) fn won(consumer: &str) -> impl Fn(&mut Params, Param) -> String + '_ {
    move |p, email| otp_codes::used_by(email, p.bind(text(consumer)))
}

/// The condition "the code this request (`consumer`) used is a review
/// code", read from the code's own row: a review login is told apart by what
/// its send stored, not by today's configuration.
fn used_review_code(consumer: &str) -> impl Fn(&mut Params, Param) -> String + '_ {
    move |p, email| otp_codes::used_review_code(email, p.bind(text(consumer)))
}

fn login_batch(login: &Login<'_>, consumer: &str) -> Result<(Batch, LoginSlots), AppError> {
    let attempt = &login.attempt;
    let email = attempt.email;
    let mut batch = Batch::new();
    let used = attempt.use_code(&mut batch, login.code_id, consumer);
    // Before the upsert, which makes a review account real.
    batch.push(sessions::end_review_on_login(
        email.as_str(),
        login.at,
        won(consumer),
        used_review_code(consumer),
    ));
    let user = batch.push(users::upsert_on_login(
        login.new_user_id,
        email.as_str(),
        login.tombstones,
        login.at,
        won(consumer),
        used_review_code(consumer),
    )?);
    batch.push(sessions::open_on_login(
        &login.session,
        email.as_str(),
        won(consumer),
    ));
    batch.push(audit_events::insert_login(
        login.at,
        login.audit,
        email.as_str(),
        won(consumer),
        used_review_code(consumer),
    ));
    batch.push(otp_codes::retire_others(email, consumer));
    let ledger = batch.push(attempt.ledger());
    // The new id exists only if the upsert above inserted it.
    let created = batch.push(event_outbox::insert_where(login.created, |_, user| {
        format!("EXISTS (SELECT 1 FROM users WHERE id = {user})")
    }));
    Ok((
        batch,
        LoginSlots {
            used,
            user,
            ledger,
            created,
        },
    ))
}

fn login_outcome<S: StatementResult>(
    login: &Login<'_>,
    results: &Results<S>,
    slots: &LoginSlots,
) -> Result<LoginOutcome, AppError> {
    let attempt = &login.attempt;
    if !results.returned(slots.used.used)? {
        return Ok(
            match attempt.unused(results, slots.ledger, &slots.used, login.code_id)? {
                Unused::Refused(refusal) => LoginOutcome::NotUsable(refusal),
                Unused::Stale(usable) => LoginOutcome::Stale(usable),
            },
        );
    }
    let created = results.returned(slots.created)?;
    Ok(match users::users(results.rows(slots.user)?)? {
        Some(user) => LoginOutcome::LoggedIn {
            user: Box::new(user),
            created,
        },
        None => LoginOutcome::Deleted,
    })
}

/// The right code. Uses it, upserts the user, opens the session, records the
/// login, retires the address's other codes and, for a new user, writes
/// `user.created`; all but the first only take effect for the request whose
/// `consumer` token won the use, so concurrent verifies of one code produce
/// exactly one login (and one event).
pub async fn commit(db: &Db, login: &Login<'_>) -> Result<LoginOutcome, AppError> {
    let consumer = random_hex(&mut OsRandom, 16);
    let (batch, slots) = login_batch(login, &consumer)?;
    let results = db.batch(&batch, "login batch").await?;
    login_outcome(login, &results, &slots)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::audit::AuditKind;
    use crate::domain::otp::PendingCode;
    use crate::domain::session_list::LoginOrigin;
    use crate::storage::testing::{Owner, Sqlite, AT, NOW};
    use serde_json::Value as Json;

    struct World {
        owner: Owner,
        origin: LoginOrigin,
    }

    impl World {
        fn new() -> Self {
            Self {
                owner: Owner::new(),
                origin: LoginOrigin {
                    device_label: Some("Chrome on macOS".into()),
                    country: Some("TR".into()),
                    city: None,
                },
            }
        }

        fn attempt(&self) -> Attempt<'_> {
            self.owner.attempt()
        }

        /// An attempt carrying the login id tagged `login`, with Turnstile on.
        fn owner_attempt<'a>(&'a self, login: &'a str) -> Attempt<'a> {
            Attempt {
                budget: BudgetPolicy::Challenge,
                path: Path::Owner { login },
                ..self.attempt()
            }
        }

        /// A delivered, usable code.
        fn pending(&self, db: &Sqlite, id: &str, issued_at: i64) -> PendingCode {
            self.pending_for(db, id, issued_at, None)
        }

        /// Request `n` signs in with `code_id` as `consumer`: a plain
        /// login's audit and its own `user.created`, run on `db`.
        fn sign_in(&self, db: &Sqlite, n: usize, code_id: &str, consumer: &str) -> LoginOutcome {
            let (audit, created) = (AuditEvent::new(AuditKind::Login), created_event(n));
            commit_on(db, &self.login(n, code_id, &audit, &created), consumer)
        }

        /// c: an attacker's own code (login x), its anonymous attempts
        /// spent, so matching it without a login id may not use it; d: a
        /// newer code (login y), usable.
        fn spent_and_usable(&self, db: &Sqlite) {
            self.pending_for(db, "c", NOW - 2000, Some("x"));
            self.pending_for(db, "d", NOW - 1000, Some("y"));
            db.query(&format!(
                "UPDATE otp_codes SET attempts = {} WHERE code_id = 'c'",
                self.owner.policy.max_attempts
            ));
        }

        /// A review address's fixed code, as its send stored it.
        fn review_code(&self, db: &Sqlite, id: &str, issued_at: i64) -> PendingCode {
            let code = self.pending(db, id, issued_at);
            db.query(&format!(
                "UPDATE otp_codes SET review = 1 WHERE code_id = '{id}'"
            ));
            code
        }

        /// A delivered, usable code of the login tagged `login`.
        fn pending_for(
            &self,
            db: &Sqlite,
            id: &str,
            issued_at: i64,
            login: Option<&str>,
        ) -> PendingCode {
            let login_sql = login.map_or("NULL".to_string(), |l| format!("'{l}'"));
            db.query(&format!(
                "INSERT INTO otp_codes (email, code_id, code_hash, attempts, issued_at, expires_at,
                                        login_id)
                 VALUES ('{}', '{id}', 'h-{id}', 0, {issued_at}, {}, {login_sql})",
                self.owner.email.as_str(),
                NOW + 600_000
            ));
            PendingCode {
                id: id.into(),
                hash: format!("h-{id}"),
                login: login.map(str::to_owned),
            }
        }

        /// The login of request `n` (its own new user id, session and token).
        fn login<'a>(
            &'a self,
            n: usize,
            code_id: &'a str,
            audit: &'a AuditEvent,
            created: &'a Event,
        ) -> Login<'a> {
            Login {
                attempt: self.attempt(),
                code_id,
                new_user_id: ["usr_1", "usr_2"][n],
                tombstones: &[],
                session: NewSession {
                    id: ["ses_1", "ses_2"][n],
                    refresh_jti: ["jti_1", "jti_2"][n],
                    created_at: AT,
                    expires_at: "2027-02-15T08:00:00.000Z",
                    origin: &self.origin,
                },
                audit,
                created,
                at: AT,
            }
        }
    }

    /// `user.created` for request `n`'s new user id.
    fn created_event(n: usize) -> Event {
        let email = EmailAddress::parse("owner@example.com").unwrap();
        Event::user_created(
            &mut OsRandom,
            ["usr_1", "usr_2"][n],
            &email,
            chrono::Utc::now(),
        )
    }

    fn commit_on(db: &Sqlite, login: &Login<'_>, consumer: &str) -> LoginOutcome {
        let (batch, slots) = login_batch(login, consumer).unwrap();
        login_outcome(login, &db.run(&batch).unwrap(), &slots).unwrap()
    }

    #[test]
    fn the_right_code_creates_the_user_with_session_audit_and_event_once() {
        let db = Sqlite::migrated();
        let world = World::new();
        world.pending(&db, "c1", NOW - 1000);
        world.pending(&db, "c0", NOW - 2000);
        let (audit, created) = (AuditEvent::new(AuditKind::Login), created_event(0));
        let login = world.login(0, "c1", &audit, &created);
        match commit_on(&db, &login, "consumer-a") {
            LoginOutcome::LoggedIn { user, created } => {
                assert_eq!(user.email, "owner@example.com");
                assert!(created);
            }
            other => panic!("{other:?}"),
        }
        let sessions =
            db.query("SELECT device_label, country, city FROM sessions WHERE user_id = 'usr_1'");
        assert_eq!(
            sessions,
            [serde_json::json!({"device_label": "Chrome on macOS", "country": "TR", "city": null})]
        );
        assert_eq!(
            db.query("SELECT 1 FROM audit_events WHERE user_id = 'usr_1'")
                .len(),
            1
        );
        assert_eq!(db.query("SELECT 1 FROM event_outbox").len(), 1);
        // The other code is retired: one mail's worth of codes, one login.
        let other = db.query("SELECT consumed_by FROM otp_codes WHERE code_id = 'c0'");
        assert_eq!(other[0]["consumed_by"], "retired");

        // The same code again (a concurrent verify that lost) writes nothing.
        let second_event = created_event(1);
        let again = world.login(1, "c1", &audit, &second_event);
        assert!(matches!(
            commit_on(&db, &again, "consumer-b"),
            LoginOutcome::NotUsable(_)
        ));
        assert_eq!(db.query("SELECT 1 FROM sessions").len(), 1);
        assert_eq!(db.query("SELECT 1 FROM audit_events").len(), 1);
        assert_eq!(db.query("SELECT 1 FROM event_outbox").len(), 1);
    }

    #[test]
    fn a_second_login_updates_the_user_and_writes_no_created_event() {
        let db = Sqlite::migrated();
        let world = World::new();
        let (audit, created) = (AuditEvent::new(AuditKind::Login), created_event(0));
        world.pending(&db, "c1", NOW - 1000);
        commit_on(&db, &world.login(0, "c1", &audit, &created), "consumer-a");
        world.pending(&db, "c2", NOW - 500);
        let second_event = created_event(1);
        let second = world.login(1, "c2", &audit, &second_event);
        match commit_on(&db, &second, "consumer-b") {
            LoginOutcome::LoggedIn { user, created } => {
                assert_eq!(user.id, "usr_1");
                assert!(!created);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(db.query("SELECT 1 FROM users").len(), 1);
        assert_eq!(db.query("SELECT 1 FROM event_outbox").len(), 1);
        assert_eq!(db.query("SELECT 1 FROM sessions").len(), 2);
    }

    #[test]
    fn a_wrong_code_counts_against_every_usable_code_and_both_failure_counters() {
        let db = Sqlite::migrated();
        let world = World::new();
        let newest = world.pending(&db, "c1", NOW - 1000);
        let older = world.pending(&db, "c0", NOW - 2000);
        let seen = PendingCodes::after_resend(newest, Some(older));
        let attempt = world.attempt();
        let (batch, slots) = wrong_attempt_batch(&attempt, &seen, "tok");
        let outcome = wrong_attempt_outcome(&attempt, &seen, &db.run(&batch).unwrap(), &slots);
        assert!(matches!(
            outcome.unwrap(),
            WrongAttempt::Refused(CodeRefusal::Wrong { attempts: 1 })
        ));
        let counters = db.query(&format!(
            "SELECT count FROM rate_limits WHERE key IN ('{}', '{}')",
            world.owner.keys.failures, world.owner.keys.address_failures
        ));
        // Weighted: the guess was checked against two codes.
        assert_eq!(counters.len(), 2);
        assert!(counters.iter().all(|c| c["count"] == 2));
    }

    #[test]
    fn only_the_attempt_that_locks_is_told_so_and_later_ones_count_nothing() {
        let db = Sqlite::migrated();
        let world = World::new();
        let attempt = world.attempt();
        let mut outcomes = Vec::new();
        // Fresh codes keep the guesses counted until the network's lock.
        for i in 0..world.owner.limits.failures_before_lockout + 2 {
            let code = world.pending(&db, &format!("c{i}"), NOW - 1000 + i64::from(i));
            let seen = PendingCodes::after_resend(code, None);
            let (batch, slots) = wrong_attempt_batch(&attempt, &seen, &format!("tok{i}"));
            let results = db.run(&batch).unwrap();
            outcomes.push(wrong_attempt_outcome(&attempt, &seen, &results, &slots).unwrap());
        }
        let locked_now = outcomes
            .iter()
            .filter(|o| matches!(o, WrongAttempt::Refused(CodeRefusal::LockedNow { .. })))
            .count();
        assert_eq!(locked_now, 1, "{outcomes:?}");
        assert!(matches!(
            outcomes.last().unwrap(),
            WrongAttempt::Refused(CodeRefusal::LockedOut { .. })
        ));
    }

    #[test]
    fn a_wrong_code_seen_against_a_stale_copy_counts_nothing() {
        let db = Sqlite::migrated();
        let world = World::new();
        world.pending(&db, "c1", NOW - 1000);
        let stale = PendingCodes::after_resend(
            PendingCode {
                id: "gone".into(),
                hash: "h".into(),
                login: None,
            },
            None,
        );
        let attempt = world.attempt();
        let (batch, slots) = wrong_attempt_batch(&attempt, &stale, "tok");
        let outcome = wrong_attempt_outcome(&attempt, &stale, &db.run(&batch).unwrap(), &slots);
        assert!(matches!(outcome.unwrap(), WrongAttempt::Stale(_)));
        assert!(db.query("SELECT 1 FROM rate_limits").is_empty());
        assert_eq!(db.query("SELECT attempts FROM otp_codes")[0]["attempts"], 0);
    }

    #[test]
    fn strangers_guesses_never_spend_the_owners_code() {
        let db = Sqlite::migrated();
        let world = World::new();
        let mine = world.pending_for(&db, "c1", NOW - 1000, Some("mine"));
        let seen = PendingCodes::after_resend(mine, None);
        // Strangers spend every anonymous attempt on it, and more.
        let stranger = world.attempt();
        for i in 0..world.owner.policy.max_attempts + 2 {
            let (batch, _) = wrong_attempt_batch(&stranger, &seen, &format!("tok{i}"));
            db.run(&batch).unwrap();
        }
        let attempts = db.query("SELECT attempts, owner_attempts FROM otp_codes");
        assert_eq!(
            attempts[0]["attempts"],
            i64::from(world.owner.policy.max_attempts)
        );
        // The owner's own typo counts on the owner path and the owner budget…
        let owner = world.owner_attempt("mine");
        let (batch, slots) = wrong_attempt_batch(&owner, &seen.on(owner.path), "typo");
        let outcome = wrong_attempt_outcome(&owner, &seen, &db.run(&batch).unwrap(), &slots);
        assert!(matches!(
            outcome.unwrap(),
            WrongAttempt::Refused(CodeRefusal::Wrong { attempts: 1 })
        ));
        let owner_budget = db.query(&format!(
            "SELECT count FROM rate_limits WHERE key = '{}'",
            world.owner.keys.address_owner_failures
        ));
        assert_eq!(owner_budget[0]["count"], 1);
        // …and the right code still signs in.
        let (audit, created) = (AuditEvent::new(AuditKind::Login), created_event(0));
        let login = Login {
            attempt: owner,
            ..world.login(0, "c1", &audit, &created)
        };
        assert!(matches!(
            commit_on(&db, &login, "consumer-a"),
            LoginOutcome::LoggedIn { .. }
        ));
    }

    #[test]
    fn another_logins_id_cannot_use_or_spend_the_code() {
        let db = Sqlite::migrated();
        let world = World::new();
        world.pending_for(&db, "c1", NOW - 1000, Some("mine"));
        let theirs = world.owner_attempt("theirs");
        let (audit, created) = (AuditEvent::new(AuditKind::Login), created_event(0));
        let login = Login {
            attempt: theirs,
            ..world.login(0, "c1", &audit, &created)
        };
        assert!(matches!(
            commit_on(&db, &login, "consumer-a"),
            LoginOutcome::NotUsable(_)
        ));
        let (batch, _) = wrong_attempt_batch(&theirs, &PendingCodes::default(), "tok");
        db.run(&batch).unwrap();
        let row = db.query("SELECT attempts, owner_attempts, consumed_by FROM otp_codes");
        assert_eq!(row[0]["owner_attempts"], 0);
        assert_eq!(row[0]["attempts"], 0);
        assert!(row[0]["consumed_by"].is_null());
    }

    #[test]
    fn a_review_code_makes_a_review_account_audited_as_a_review_login_until_a_mailed_code_signs_in()
    {
        let db = Sqlite::migrated();
        let world = World::new();
        let audit = AuditEvent::new(AuditKind::Login);
        let account = || db.query("SELECT review FROM users")[0]["review"].clone();
        let events = || {
            db.query("SELECT event FROM audit_events ORDER BY id")
                .into_iter()
                .map(|r| r["event"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        world.review_code(&db, "fixed", NOW - 1000);
        let created = created_event(0);
        let login = world.login(0, "fixed", &audit, &created);
        assert!(matches!(
            commit_on(&db, &login, "consumer-a"),
            LoginOutcome::LoggedIn { created: true, .. }
        ));
        assert_eq!(account(), 1);
        assert_eq!(events(), ["review_login"]);
        let created = created_event(1);
        // A later login of the same user (its session's ids are taken once each).
        let sign_in_again = |code_id: &str, consumer: &str| {
            db.query("DELETE FROM sessions WHERE id = 'ses_2'");
            commit_on(&db, &world.login(1, code_id, &audit, &created), consumer)
        };
        // Again with a fixed code: still a review account.
        world.review_code(&db, "fixed2", NOW - 900);
        sign_in_again("fixed2", "consumer-b");
        assert_eq!(account(), 1);
        // A mailed code signs in: the account is real from now on, whatever
        // code signs in next.
        world.pending(&db, "mailed", NOW - 800);
        sign_in_again("mailed", "consumer-c");
        assert_eq!(account(), 0);
        assert_eq!(events(), ["review_login", "review_login", "login"]);
        world.review_code(&db, "fixed3", NOW - 700);
        sign_in_again("fixed3", "consumer-d");
        assert_eq!(account(), 0);
    }

    #[test]
    fn a_mailed_code_ends_the_sessions_of_the_review_account_it_makes_real() {
        let db = Sqlite::migrated();
        let world = World::new();
        let sessions = || {
            db.query("SELECT id, revoked_at, revoked_reason FROM sessions ORDER BY id")
                .into_iter()
                .map(|r| (r["id"].clone(), r["revoked_reason"].clone()))
                .collect::<Vec<_>>()
        };
        world.review_code(&db, "fixed", NOW - 1000);
        world.sign_in(&db, 0, "fixed", "consumer-a");
        // Another review login (a second reviewer) leaves the first one's session.
        world.review_code(&db, "fixed2", NOW - 900);
        world.sign_in(&db, 1, "fixed2", "consumer-b");
        assert_eq!(
            sessions(),
            [("ses_1".into(), Json::Null), ("ses_2".into(), Json::Null)]
        );
        // The mailbox's owner signs in with a mailed code: both review
        // sessions end, and only the owner's new one is live.
        db.query("DELETE FROM sessions WHERE id = 'ses_2'");
        world.pending(&db, "mailed", NOW - 800);
        world.sign_in(&db, 1, "mailed", "consumer-c");
        assert_eq!(
            sessions(),
            [
                ("ses_1".into(), Json::from("review_ended")),
                ("ses_2".into(), Json::Null)
            ]
        );
        // A real account's logins end nothing.
        db.query("DELETE FROM sessions WHERE id = 'ses_1'");
        world.pending(&db, "mailed2", NOW - 700);
        world.sign_in(&db, 0, "mailed2", "consumer-d");
        assert_eq!(
            sessions(),
            [("ses_1".into(), Json::Null), ("ses_2".into(), Json::Null)]
        );
    }

    #[test]
    fn a_lost_race_ends_no_review_session() {
        let db = Sqlite::migrated();
        let world = World::new();
        world.review_code(&db, "fixed", NOW - 1000);
        world.sign_in(&db, 0, "fixed", "consumer-a");
        world.pending(&db, "mailed", NOW - 800);
        world.sign_in(&db, 1, "mailed", "consumer-b");
        db.query("UPDATE sessions SET revoked_at = NULL, revoked_reason = NULL");
        db.query("UPDATE users SET review = 1");
        // The same mailed code again: used already, so this request did not win.
        world.sign_in(&db, 1, "mailed", "consumer-c");
        assert_eq!(
            db.query("SELECT COUNT(*) AS n FROM sessions WHERE revoked_at IS NOT NULL")[0]["n"],
            0
        );
    }

    #[test]
    fn accounts_from_before_review_logins_are_real() {
        let db = Sqlite::migrated();
        let world = World::new();
        world.pending(&db, "c1", NOW - 1000);
        world.sign_in(&db, 0, "c1", "consumer-a");
        assert_eq!(db.query("SELECT review FROM users")[0]["review"], 0);
        assert_eq!(
            db.query("SELECT event FROM audit_events")[0]["event"],
            "login"
        );
    }

    #[test]
    fn matching_a_code_this_path_may_not_use_counts_as_a_wrong_guess() {
        let db = Sqlite::migrated();
        let world = World::new();
        world.spent_and_usable(&db);
        // A guess without a login id that matched c in a stale KV copy.
        match world.sign_in(&db, 0, "c", "consumer-a") {
            LoginOutcome::NotUsable(CodeRefusal::Wrong { attempts: 1 }) => {}
            other => panic!("{other:?}"),
        }
        let rows =
            db.query("SELECT code_id, attempts, owner_attempts FROM otp_codes ORDER BY code_id");
        assert_eq!(rows[0]["attempts"], 5, "c is not checked again");
        assert_eq!(
            rows[0]["owner_attempts"], 0,
            "c keeps its owner path, which is its owner's"
        );
        assert_eq!(
            rows[1]["attempts"], 1,
            "the guess counts on d, as a wrong one would"
        );
        let budget = db.query(&format!(
            "SELECT count FROM rate_limits WHERE key = '{}'",
            world.owner.keys.address_failures
        ));
        assert_eq!(budget[0]["count"], 1);
        assert!(db.query("SELECT 1 FROM sessions").is_empty());
    }

    #[test]
    fn a_counted_match_that_locks_the_request_out_is_told_so_once() {
        let db = Sqlite::migrated();
        let world = World::new();
        world.spent_and_usable(&db);
        // The network one counted guess short of its lock.
        db.query(&format!(
            "INSERT INTO rate_limits (key, window_start, count, updated_at)
             VALUES ('{}', {t}, {}, {t})",
            world.owner.keys.failures,
            world.owner.limits.failures_before_lockout - 1,
            t = NOW - 1000
        ));
        assert!(matches!(
            world.sign_in(&db, 0, "c", "consumer-a"),
            LoginOutcome::NotUsable(CodeRefusal::LockedNow { .. })
        ));
        // The next match, during the lock, counts nothing and is a plain lock.
        assert!(matches!(
            world.sign_in(&db, 1, "c", "consumer-b"),
            LoginOutcome::NotUsable(CodeRefusal::LockedOut { .. })
        ));
        let d = db.query("SELECT attempts FROM otp_codes WHERE code_id = 'd'");
        assert_eq!(d[0]["attempts"], 1, "only the first match was counted");
    }

    #[test]
    fn a_code_used_or_gone_is_stale_and_counts_nothing() {
        let db = Sqlite::migrated();
        let world = World::new();
        world.pending(&db, "c", NOW - 2000);
        world.pending(&db, "d", NOW - 1000);
        db.query("UPDATE otp_codes SET consumed_by = 'retired' WHERE code_id = 'c'");
        let (audit, created) = (AuditEvent::new(AuditKind::Login), created_event(0));
        let login = world.login(0, "c", &audit, &created);
        assert!(matches!(
            commit_on(&db, &login, "consumer-a"),
            LoginOutcome::Stale(_)
        ));
        assert!(db.query("SELECT 1 FROM rate_limits").is_empty());
    }
}
