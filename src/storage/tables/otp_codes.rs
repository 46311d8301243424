//! Codes in D1 (`otp_codes`), the authority: every code's hash, attempts and
//! use. KV holds a copy of the usable ones (`storage::kv`).

use serde::Deserialize;

use super::rate_limits::{self, KeyedCounter, NotLocked};
use super::users;
use crate::domain::email::EmailAddress;
use crate::domain::error::AppError;
use crate::domain::limits::{Counter, Keys};
use crate::domain::otp::{LedgerSnapshot, OtpPolicy, Path, PendingCode, Unexpired, LIVE_CODES};
use crate::storage::statement::{int, opt_text, text, Param, Params, Statement, Written};

/// The SQL expression "attempts this code takes" (`OtpPolicy::attempts_for`).
fn max_attempts(p: &mut Params, policy: &OtpPolicy) -> String {
    let [mailed, challenged] = p.bind_all([
        int(i64::from(policy.attempts_for(false))),
        int(i64::from(policy.attempts_for(true))),
    ]);
    format!("(CASE WHEN challenged = 1 THEN {challenged} ELSE {mailed} END)")
}

/// The SQL condition "usable without a login id": one of the address's
/// `LIVE_CODES` newest unused, unexpired codes, with attempts left. Codes
/// strangers asked for push the owner's out of this path, never out of its
/// login's (`usable_on`).
fn usable(p: &mut Params, email: Param, policy: &OtpPolicy, now_ms: i64) -> String {
    let max = max_attempts(p, policy);
    let [now, live] = p.bind_all([int(now_ms), int(LIVE_CODES as i64)]);
    format!(
        "consumed_by IS NULL AND expires_at > {now} AND attempts < {max}
         AND code_id IN (SELECT code_id FROM otp_codes WHERE email = {email}
                         AND consumed_by IS NULL AND expires_at > {now}
                         ORDER BY issued_at DESC LIMIT {live})"
    )
}

/// The SQL condition "usable on the attempt's path" (`LedgerSnapshot::usable`):
/// for a login, its own codes with owner attempts left, and once the owner
/// budget is spent only those sent after a challenge.
fn usable_on(
    p: &mut Params,
    email: Param,
    policy: &OtpPolicy,
    now_ms: i64,
    lock: &NotLocked<'_>,
) -> String {
    match lock.path() {
        Path::Anonymous => usable(p, email, policy, now_ms),
        Path::Owner { login } => {
            let max = max_attempts(p, policy);
            let [now, login] = p.bind_all([int(now_ms), text(login)]);
            format!(
                "consumed_by IS NULL AND expires_at > {now} AND owner_attempts < {max}
                 AND login_id = {login} AND (challenged = 1 OR {})",
                lock.owner_budget_left(p)
            )
        }
    }
}

/// What a send's insert stored: its drawn code, or a review address's fixed one.
#[derive(Deserialize)]
pub(in crate::storage) struct Stored {
    pub review: u8,
}

/// Stores a new code, in the batch that admits its send, right after the
/// statement that takes the cooldown (`Batch::push_after`): only a send that
/// took it (`changes() > 0`) inserts its code. It is stored `unsent`, which no
/// verify accepts, until `activate` runs after the mail was delivered: a send
/// whose mail fails leaves no usable code behind, even when taking it back
/// fails too.
///
/// For a review address (`review`: its fixed code, issued for this send),
/// the same statement decides which code is stored: the fixed one, marked
/// `review` (never `challenged`: its digits are no more than `OTP_LENGTH`),
/// unless a real account holds the address, whose send stores (and mails)
/// `code` as any other. Decided in the admitting transaction, so no account
/// can become real between the check and the insert. `RETURNING` says which.
pub(in crate::storage) fn insert_if_admitted(
    email: &EmailAddress,
    code: &PendingCode,
    review: Option<&PendingCode>,
    challenged: bool,
    policy: &OtpPolicy,
    now_ms: i64,
) -> Statement<Stored> {
    Statement::compose(|p| {
        let [email, id, hash, issued, expires, login, challenged] = p.bind_all([
            text(email.as_str()),
            text(&code.id),
            text(&code.hash),
            int(now_ms),
            int(now_ms + i64::from(policy.ttl_seconds) * 1000),
            opt_text(code.login.as_deref()),
            int(i64::from(challenged)),
        ]);
        let columns = "email, code_id, code_hash, attempts, issued_at, expires_at,
                       consumed_by, login_id, challenged, review";
        let Some(fixed) = review else {
            return format!(
                "INSERT INTO otp_codes ({columns})
                 SELECT {email}, {id}, {hash}, 0, {issued}, {expires}, 'unsent', {login}, {challenged}, 0
                 WHERE changes() > 0 RETURNING review"
            );
        };
        let [fixed_id, fixed_hash] = p.bind_all([text(&fixed.id), text(&fixed.hash)]);
        format!(
            "INSERT INTO otp_codes ({columns})
             SELECT {email}, CASE WHEN held THEN {id} ELSE {fixed_id} END,
                    CASE WHEN held THEN {hash} ELSE {fixed_hash} END, 0, {issued}, {expires},
                    'unsent', {login}, CASE WHEN held THEN {challenged} ELSE 0 END,
                    CASE WHEN held THEN 0 ELSE 1 END
             FROM (SELECT {} AS held)
             WHERE changes() > 0 RETURNING review",
            users::real_account(email)
        )
    })
}

/// Makes a delivered code usable; a review code only while no real account
/// holds the address (one that became real since the send was admitted
/// retired the address's usable codes at its login, not this `unsent` one).
pub(in crate::storage) fn activate(email: &EmailAddress, code_id: &str) -> Statement<Written> {
    Statement::compose(|p| {
        let [email, code] = p.bind_all([text(email.as_str()), text(code_id)]);
        format!(
            "UPDATE otp_codes SET consumed_by = NULL
             WHERE email = {email} AND code_id = {code} AND consumed_by = 'unsent'
               AND (review = 0 OR NOT {})",
            users::real_account(email)
        )
    })
}

/// Retires all but the newest `LIVE_CODES` delivered codes of a login (its
/// tag, or codes sent without one): a stranger's sends never retire the
/// owner's code, they only push it out of the path without a login id.
pub(in crate::storage) fn retire_all_but_newest(
    email: &EmailAddress,
    login: Option<&str>,
) -> Statement<Written> {
    Statement::new(
        "UPDATE otp_codes SET consumed_by = 'retired'
         WHERE email = ?1 AND login_id IS ?3 AND consumed_by IS NULL AND code_id NOT IN
           (SELECT code_id FROM otp_codes WHERE email = ?1 AND login_id IS ?3
            AND consumed_by IS NOT 'unsent' ORDER BY issued_at DESC LIMIT ?2)",
        vec![
            text(email.as_str()),
            int(LIVE_CODES as i64),
            opt_text(login),
        ],
    )
}

/// Rows of codes that expired before `before_ms`: of no further use.
pub(in crate::storage) fn purge_expired(before_ms: i64) -> Statement<Written> {
    Statement::new(
        "DELETE FROM otp_codes WHERE expires_at < ?1",
        vec![int(before_ms)],
    )
}

/// Every code of an address (a finalised deletion), under `condition`.
pub(in crate::storage) fn delete_all_where(
    email: &str,
    condition: impl FnOnce(&mut Params) -> String,
) -> Statement<Written> {
    Statement::compose(|p| {
        let email = p.bind(text(email));
        format!(
            "DELETE FROM otp_codes WHERE email = {email} AND {}",
            condition(p)
        )
    })
}

/// The newest usable code of the address, for a send to keep behind its new one.
pub(in crate::storage) fn newest_usable(
    email: &EmailAddress,
    policy: &OtpPolicy,
    now_ms: i64,
) -> Statement<PendingCode> {
    Statement::compose(|p| {
        let email = p.bind(text(email.as_str()));
        format!(
            "SELECT code_id AS id, code_hash AS hash, login_id AS login FROM otp_codes
             WHERE email = {email} AND {} ORDER BY issued_at DESC LIMIT 1",
            usable(p, email, policy, now_ms)
        )
    })
}

/// What an attempt does to the address's usable codes.
pub(in crate::storage) enum AttemptOn<'a> {
    /// The right code: use it, marking it with the request's `consumer`
    /// token. Of concurrent requests exactly one wins; `RETURNING` gives a row
    /// only to the winner.
    Use { code_id: &'a str, consumer: &'a str },
    /// A wrong code: count it against every usable code of the address, but
    /// only if the codes the request saw (KV's newest, `seen_newest`) are
    /// D1's, so a location with a missing or stale KV copy counts nothing
    /// against anyone. Marks the rows it counted with the request's `token`
    /// so the failure counters can weigh them.
    CountWrong {
        seen_newest: Option<&'a str>,
        token: &'a str,
    },
    /// The right code, but this request could not use it (in the same batch,
    /// after `Use`): if the code is still there, unused or not yet delivered,
    /// yet not usable on this path (its attempts spent, or the owner budget),
    /// the guess is counted as a wrong code against the path's usable codes,
    /// so that matching a code one may not use tells nothing and costs what a
    /// wrong guess costs. Nothing if the request (`consumer`) used it.
    CountMatched {
        code_id: &'a str,
        consumer: &'a str,
        token: &'a str,
    },
}

/// The attempts spent on a code an attempt changed.
#[derive(Deserialize)]
pub(in crate::storage) struct Attempts {
    pub attempts: u32,
}

/// An attempt on codes: one atomic UPDATE, applied only to usable codes and
/// only while the request is not locked out. `RETURNING` gives the attempts
/// spent on each code it changed.
pub(in crate::storage) fn attempt(
    email: &EmailAddress,
    on: AttemptOn<'_>,
    policy: &OtpPolicy,
    now_ms: i64,
    lock: &NotLocked<'_>,
) -> Statement<Attempts> {
    Statement::compose(|p| {
        let email_p = p.bind(text(email.as_str()));
        let usable_now = usable_on(p, email_p, policy, now_ms, lock);
        // Each path spends its own attempts (`attempts` AS the returned name).
        let spent = match lock.path() {
            Path::Anonymous => "attempts",
            Path::Owner { .. } => "owner_attempts",
        };
        let (marks, mark, which) = match on {
            AttemptOn::Use { code_id, consumer } => {
                let code = p.bind(text(code_id));
                (
                    "consumed_by",
                    p.bind(text(consumer)),
                    format!("code_id = {code}"),
                )
            }
            AttemptOn::CountWrong { seen_newest, token } => {
                let seen = p.bind(opt_text(seen_newest));
                let newest = format!(
                    "{seen} = (SELECT code_id FROM otp_codes WHERE email = {email_p} AND {}
                               ORDER BY issued_at DESC LIMIT 1)",
                    usable_on(p, email_p, policy, now_ms, lock)
                );
                ("last_attempt_by", p.bind(text(token)), newest)
            }
            AttemptOn::CountMatched {
                code_id,
                consumer,
                token,
            } => {
                let [code, consumer, now] =
                    p.bind_all([text(code_id), text(consumer), int(now_ms)]);
                let unusable_but_there = format!(
                    "NOT {} AND EXISTS (SELECT 1 FROM otp_codes WHERE email = {email_p}
                       AND code_id = {code} AND expires_at > {now}
                       AND (consumed_by IS NULL OR consumed_by = 'unsent'))",
                    used_by(email_p, consumer)
                );
                ("last_attempt_by", p.bind(text(token)), unusable_but_there)
            }
        };
        format!(
            "UPDATE otp_codes SET {spent} = {spent} + 1, {marks} = {mark}
             WHERE email = {email_p} AND {usable_now} AND {locked} AND {which}
             RETURNING {spent} + {policy_max} - {max} AS attempts",
            locked = lock.sql(p),
            // On the policy's scale, so `max_attempts - attempts` is what is left.
            policy_max = p.bind(int(i64::from(policy.max_attempts))),
            max = max_attempts(p, policy),
        )
    })
}

/// The SQL condition "the request whose token is `consumer` used a code of
/// `email`": the login's other writes take effect only for the request that
/// won the code.
pub(in crate::storage) fn used_by(email: Param, consumer: Param) -> String {
    format!("EXISTS (SELECT 1 FROM otp_codes WHERE email = {email} AND consumed_by = {consumer})")
}

/// The SQL condition "the code the request whose token is `consumer` used
/// is a review code" (`insert_if_admitted`), read from the row it used.
pub(in crate::storage) fn used_review_code(email: Param, consumer: Param) -> String {
    format!(
        "EXISTS (SELECT 1 FROM otp_codes WHERE email = {email} AND consumed_by = {consumer}
                 AND review = 1)"
    )
}

/// After a login: every other code of the address is retired, so one mail's
/// worth of codes gives one login.
pub(in crate::storage) fn retire_others(
    email: &EmailAddress,
    consumer: &str,
) -> Statement<Written> {
    Statement::compose(|p| {
        let [email, consumer] = p.bind_all([text(email.as_str()), text(consumer)]);
        format!(
            "UPDATE otp_codes SET consumed_by = 'retired'
             WHERE email = {email} AND consumed_by IS NULL AND {}",
            used_by(email, consumer)
        )
    })
}

/// One row of `ledger`: a code or a counter.
#[derive(Deserialize)]
pub(in crate::storage) struct LedgerRow {
    id: Option<String>,
    hash: Option<String>,
    login: Option<String>,
    attempts: Option<u32>,
    owner_attempts: Option<u32>,
    challenged: Option<u8>,
    key: Option<String>,
    window_start: Option<i64>,
    count: Option<i64>,
    updated_at: Option<i64>,
}

/// The ledger after an attempt, in one statement (each statement a batch
/// carries costs D1 work of its own): the address's unused, unexpired codes
/// (newest first), then the request's counters (`snapshot` reads it).
pub(in crate::storage) fn ledger(
    email: &EmailAddress,
    keys: &Keys,
    now_ms: i64,
) -> Statement<LedgerRow> {
    Statement::compose(|p| {
        let [email, now] = p.bind_all([text(email.as_str()), int(now_ms)]);
        format!(
            "SELECT 'code' AS kind, code_id AS id, code_hash AS hash, login_id AS login, attempts,
                    owner_attempts, challenged,
                    NULL AS key, NULL AS window_start, NULL AS count, NULL AS updated_at,
                    issued_at AS ord
               FROM otp_codes WHERE email = {email} AND consumed_by IS NULL AND expires_at > {now}
             UNION ALL
             SELECT 'counter', NULL, NULL, NULL, NULL, NULL, NULL,
                    key, window_start, count, updated_at, 0
               FROM rate_limits WHERE {}
             ORDER BY kind, ord DESC",
            rate_limits::any_key(p, keys)
        )
    })
}

/// The rows of a `ledger` statement.
pub(in crate::storage) fn snapshot(
    rows: Vec<LedgerRow>,
    keys: &Keys,
) -> Result<LedgerSnapshot, AppError> {
    let mut unexpired = Vec::new();
    let mut counters = Vec::new();
    for row in rows {
        match row {
            LedgerRow {
                id: Some(id),
                hash: Some(hash),
                login,
                attempts: Some(attempts),
                owner_attempts: Some(owner_attempts),
                challenged: Some(challenged),
                ..
            } => unexpired.push(Unexpired {
                code: PendingCode { id, hash, login },
                attempts,
                owner_attempts,
                challenged: challenged == 1,
            }),
            LedgerRow {
                key: Some(key),
                window_start: Some(window_start),
                count: Some(count),
                updated_at: Some(updated_at),
                ..
            } => counters.push(KeyedCounter {
                key,
                counter: Counter {
                    window_start,
                    count,
                    updated_at,
                },
            }),
            _ => {
                return Err(AppError::internal(
                    "ledger row is neither a code nor a counter",
                ))
            }
        }
    }
    Ok(LedgerSnapshot {
        unexpired,
        counters: rate_limits::by_purpose(&counters, keys),
    })
}
