//! The two outcomes of typing a code, each one D1 batch (one transaction, one
//! round trip) that also reads back the ledger, so a refusal is explained
//! without another round trip.

use serde::Deserialize;

use super::limit_store::{self, NotLocked};
use super::session_repo::{self, NewSession};
use super::user_repo::{self, UserRow};
use super::{audit_log, batch_rows, otp_store, Db};
use crate::domain::audit::AuditEvent;
use crate::domain::email::EmailAddress;
use crate::domain::error::AppError;
use crate::domain::ids::{random_hex, OsRandom};
use crate::domain::limits::{Counter, EmailLimits, Keys};
use crate::domain::otp::{CodeRefusal, LedgerSnapshot, OtpPolicy};
use crate::domain::user::User;

/// An attempt on the code an address has pending.
pub struct Attempt<'a> {
    pub email: &'a EmailAddress,
    /// The issuance the code belongs to (from the pending record).
    pub code_id: &'a str,
    pub keys: &'a Keys,
    pub policy: &'a OtpPolicy,
    pub limits: &'a EmailLimits,
    pub now_ms: i64,
}

/// A right code, and what its login writes.
pub struct Login<'a> {
    pub attempt: Attempt<'a>,
    /// The id the user gets if this is their first login.
    pub new_user_id: &'a str,
    /// The keyed tombstone a finalised deletion would have left of the address.
    pub tombstone: &'a str,
    pub session: NewSession<'a>,
    pub audit: &'a AuditEvent,
    pub at: &'a str,
}

#[derive(Debug)]
pub enum LoginOutcome {
    /// The code was used by this request; the user (created or updated) and
    /// the session are written.
    LoggedIn(Box<User>),
    /// The code could not be used; nothing was written.
    NotUsable(CodeRefusal),
    /// The code was used, but the account was deleted and cannot sign in.
    Deleted,
}

#[derive(Deserialize)]
struct SnapshotRow {
    live_attempts: Option<u32>,
    window_start: Option<i64>,
    count: Option<i64>,
    updated_at: Option<i64>,
}

#[derive(Deserialize)]
struct Attempts {
    attempts: u32,
}

fn snapshot(results: &[worker::D1Result], index: usize) -> Result<LedgerSnapshot, AppError> {
    let row = batch_rows::<SnapshotRow>(results, index)?
        .into_iter()
        .next()
        .ok_or_else(|| AppError::internal("ledger snapshot has no row"))?;
    let failures = match (row.window_start, row.count, row.updated_at) {
        (Some(window_start), Some(count), Some(updated_at)) => Some(Counter {
            window_start,
            count,
            updated_at,
        }),
        _ => None,
    };
    Ok(LedgerSnapshot {
        live_attempts: row.live_attempts,
        failures,
    })
}

impl Attempt<'_> {
    fn record(
        &self,
        db: &Db,
        consumer: Option<&str>,
    ) -> Result<worker::D1PreparedStatement, AppError> {
        let lock = NotLocked::new(self.keys, self.limits, self.now_ms);
        otp_store::record_attempt(
            db,
            self.email,
            self.code_id,
            consumer,
            self.policy,
            self.now_ms,
            &lock,
        )
    }

    fn snapshot(&self, db: &Db) -> Result<worker::D1PreparedStatement, AppError> {
        otp_store::snapshot(
            db,
            self.email,
            self.code_id,
            &self.keys.failures,
            self.now_ms,
        )
    }

    fn classify(&self, snapshot: &LedgerSnapshot) -> CodeRefusal {
        CodeRefusal::classify(snapshot, self.policy, self.limits, self.now_ms)
    }
}

/// A wrong code: counted against the code and against the address, and the
/// reason the caller is given (wrong with attempts left, exhausted, locked, or
/// no live code at all).
pub async fn count_wrong_attempt(db: &Db, attempt: &Attempt<'_>) -> Result<CodeRefusal, AppError> {
    let results = db
        .batch(
            vec![
                attempt.record(db, None)?,
                limit_store::record_failure(db, attempt.keys, attempt.now_ms)?,
                attempt.snapshot(db)?,
            ],
            "wrong attempt batch",
        )
        .await?;
    let counted = batch_rows::<Attempts>(&results, 0)?.into_iter().next();
    let snapshot = snapshot(&results, 2)?;
    let locked = attempt
        .limits
        .locked_until(snapshot.failures.as_ref(), attempt.now_ms);
    Ok(match (locked, counted) {
        (Some(until), _) => CodeRefusal::LockedOut { until },
        (None, Some(Attempts { attempts })) => CodeRefusal::Wrong { attempts },
        (None, None) => attempt.classify(&snapshot),
    })
}

/// The right code. Uses it, upserts the user, opens the session and records
/// the login; the last three only take effect for the request whose
/// `consumer` token won the use, so concurrent verifies of one code produce
/// exactly one login.
pub async fn commit(db: &Db, login: &Login<'_>) -> Result<LoginOutcome, AppError> {
    let consumer = random_hex(&mut OsRandom, 16);
    let email = login.attempt.email;
    let results = db
        .batch(
            vec![
                login.attempt.record(db, Some(&consumer))?,
                user_repo::upsert_on_login(
                    db,
                    login.new_user_id,
                    email,
                    login.tombstone,
                    &consumer,
                    login.at,
                )?,
                session_repo::open_on_login(db, &login.session, email, &consumer)?,
                audit_log::insert_login(db, login.at, login.audit, email.as_str(), &consumer)?,
                login.attempt.snapshot(db)?,
            ],
            "login batch",
        )
        .await?;
    if batch_rows::<Attempts>(&results, 0)?.is_empty() {
        // Another request used the code first, it ran out of attempts or
        // time, or the address is locked out.
        let snapshot = snapshot(&results, 4)?;
        return Ok(LoginOutcome::NotUsable(login.attempt.classify(&snapshot)));
    }
    Ok(
        match user_repo::users(batch_rows::<UserRow>(&results, 1)?)? {
            Some(user) => LoginOutcome::LoggedIn(Box::new(user)),
            None => LoginOutcome::Deleted,
        },
    )
}
