//! The outcomes of typing a code, each one D1 batch (one transaction, one
//! round trip) that also reads back the ledger, so a refusal is explained
//! without another round trip.

use serde::Deserialize;

use super::limit_store::{self, NotLocked};
use super::otp_store::AttemptOn;
use super::session_repo::{self, NewSession};
use super::user_repo::{self, UserRow};
use super::{audit_log, batch_rows, otp_store, outbox, Db};
use crate::domain::audit::AuditEvent;
use crate::domain::email::EmailAddress;
use crate::domain::error::AppError;
use crate::domain::events::Event;
use crate::domain::ids::{random_hex, OsRandom};
use crate::domain::limits::{BudgetPolicy, EmailLimits, Keys};
use crate::domain::otp::{CodeRefusal, LedgerSnapshot, OtpPolicy, PendingCodes};
use crate::domain::user::User;

/// An attempt on the codes an address has pending.
#[derive(Clone, Copy)]
pub struct Attempt<'a> {
    pub email: &'a EmailAddress,
    pub keys: &'a Keys,
    pub policy: &'a OtpPolicy,
    pub limits: &'a EmailLimits,
    pub budget: BudgetPolicy,
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
    /// Counted, or refused without counting: the answer.
    Refused(CodeRefusal),
    /// The request's copy of the codes (KV where it runs) was missing or stale,
    /// so nothing was counted against anyone; these are the usable codes
    /// D1 holds, to check the code against instead.
    Stale(PendingCodes),
}

#[derive(Deserialize)]
struct Attempts {
    attempts: u32,
}

impl Attempt<'_> {
    fn not_locked(&self) -> NotLocked<'_> {
        NotLocked::new(self.keys, self.limits, self.budget, self.now_ms)
    }

    /// The statement that reads the ledger back (one statement: each one a
    /// batch carries costs D1 work of its own).
    fn snapshot_statement(&self, db: &Db) -> Result<worker::D1PreparedStatement, AppError> {
        otp_store::ledger(db, self.email, self.keys, self.now_ms)
    }

    fn snapshot(
        &self,
        results: &[worker::D1Result],
        index: usize,
    ) -> Result<LedgerSnapshot, AppError> {
        otp_store::ledger_rows(results, index, self.keys)
    }

    fn classify(&self, snapshot: &LedgerSnapshot) -> CodeRefusal {
        CodeRefusal::classify(snapshot, self.policy, self.limits, self.budget, self.now_ms)
    }
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
    let lock = attempt.not_locked();
    let [network, address] = limit_store::record_failures(
        db,
        attempt.keys,
        attempt.limits,
        attempt.email,
        &token,
        attempt.now_ms,
    )?;
    let snapshot = attempt.snapshot_statement(db)?;
    let results = db
        .batch(
            vec![
                otp_store::attempt(
                    db,
                    attempt.email,
                    AttemptOn::CountWrong {
                        seen_newest: seen.newest_id(),
                        token: &token,
                    },
                    attempt.policy,
                    attempt.now_ms,
                    &lock,
                )?,
                network,
                address,
                snapshot,
            ],
            "wrong attempt batch",
        )
        .await?;
    let counted = batch_rows::<Attempts>(&results, 0)?
        .into_iter()
        .map(|a| a.attempts)
        .max();
    let snapshot = attempt.snapshot(&results, 3)?;
    let locked =
        attempt
            .limits
            .verify_locked_until(&snapshot.counters, attempt.budget, attempt.now_ms);
    let usable = snapshot.usable(attempt.policy);
    Ok(match (locked, counted) {
        (Some(until), _) => WrongAttempt::Refused(CodeRefusal::LockedOut { until }),
        (None, Some(attempts)) => WrongAttempt::Refused(CodeRefusal::Wrong { attempts }),
        // Usable codes, but not those the request saw: its copy was stale.
        (None, None) if !usable.codes.is_empty() && usable.newest_id() != seen.newest_id() => {
            WrongAttempt::Stale(usable)
        }
        (None, None) => WrongAttempt::Refused(attempt.classify(&snapshot)),
    })
}

/// The right code. Uses it, upserts the user, opens the session, records the
/// login, retires the address's other codes and, for a new user, writes
/// `user.created`; all but the first only take effect for the request whose
/// `consumer` token won the use, so concurrent verifies of one code produce
/// exactly one login (and one event).
pub async fn commit(db: &Db, login: &Login<'_>) -> Result<LoginOutcome, AppError> {
    let consumer = random_hex(&mut OsRandom, 16);
    let attempt = &login.attempt;
    let email = attempt.email;
    let snapshot = attempt.snapshot_statement(db)?;
    let results = db
        .batch(
            vec![
                otp_store::attempt(
                    db,
                    email,
                    AttemptOn::Use {
                        code_id: login.code_id,
                        consumer: &consumer,
                    },
                    attempt.policy,
                    attempt.now_ms,
                    &attempt.not_locked(),
                )?,
                user_repo::upsert_on_login(
                    db,
                    login.new_user_id,
                    email,
                    login.tombstones,
                    &consumer,
                    login.at,
                )?,
                session_repo::open_on_login(db, &login.session, email, &consumer)?,
                audit_log::insert_login(db, login.at, login.audit, email.as_str(), &consumer)?,
                otp_store::retire_others(db, email, &consumer)?,
                snapshot,
                // The new id exists only if the upsert above inserted it.
                outbox::insert_where(
                    db,
                    login.created,
                    "EXISTS (SELECT 1 FROM users WHERE id = ?3)",
                    &[],
                )?,
            ],
            "login batch",
        )
        .await?;
    if batch_rows::<Attempts>(&results, 0)?.is_empty() {
        // Another request used the code first, it ran out of attempts or
        // time, or this request is locked out.
        let snapshot = attempt.snapshot(&results, 5)?;
        let refusal = attempt.classify(&snapshot);
        let usable = snapshot.usable(attempt.policy);
        if refusal == CodeRefusal::NotPending
            && !usable.codes.is_empty()
            && !usable.holds(login.code_id)
        {
            return Ok(LoginOutcome::Stale(usable));
        }
        return Ok(LoginOutcome::NotUsable(refusal));
    }
    let created = !batch_rows::<serde_json::Value>(&results, 6)?.is_empty();
    Ok(
        match user_repo::users(batch_rows::<UserRow>(&results, 1)?)? {
            Some(user) => LoginOutcome::LoggedIn {
                user: Box::new(user),
                created,
            },
            None => LoginOutcome::Deleted,
        },
    )
}
