//! Per-address abuse counters in D1 (`rate_limits`), per address and client
//! network and per address alone. Each check-and-count is a conditional
//! write, so limits hold under concurrency and across locations.

use serde::Deserialize;
use worker::wasm_bindgen::JsValue;
use worker::D1PreparedStatement;

use super::{batch_rows, int, otp_store, text, Db};
use crate::domain::email::EmailAddress;
use crate::domain::error::AppError;
use crate::domain::limits::{
    BudgetPolicy, Counter, Counters, EmailLimits, Keys, Refusal, BUDGET_WINDOW_MS, WINDOW_MS,
};
use crate::domain::otp::{OtpPolicy, PendingCode};

/// The condition "this request is not locked out": its network's lock, and
/// the address's spent budget where that locks (`BudgetPolicy::Lock`). Its
/// values are bound after the statement's own.
pub(super) struct NotLocked<'a> {
    keys: &'a Keys,
    limits: &'a EmailLimits,
    budget: BudgetPolicy,
    now_ms: i64,
}

impl<'a> NotLocked<'a> {
    pub(super) fn new(
        keys: &'a Keys,
        limits: &'a EmailLimits,
        budget: BudgetPolicy,
        now_ms: i64,
    ) -> Self {
        Self {
            keys,
            limits,
            budget,
            now_ms,
        }
    }

    /// The SQL condition, numbering its parameters from `first`.
    pub(super) fn sql(&self, first: usize) -> String {
        let p = |i: usize| first + i;
        format!(
            "NOT EXISTS (SELECT 1 FROM rate_limits WHERE
                (key = ?{} AND count >= ?{} AND updated_at > ?{})
             OR (key = ?{} AND count >= ?{} AND updated_at > ?{}))",
            p(0),
            p(1),
            p(2),
            p(3),
            p(4),
            p(5)
        )
    }

    pub(super) fn values(&self) -> [JsValue; 6] {
        let budget_key = match self.budget {
            BudgetPolicy::Lock => text(&self.keys.address_failures),
            // A key no row has: a spent budget asks for a challenge, not a lock.
            BudgetPolicy::Challenge => JsValue::NULL,
        };
        [
            text(&self.keys.failures),
            int(i64::from(self.limits.failures_before_lockout)),
            int(self.now_ms - self.limits.lockout_ms()),
            budget_key,
            int(i64::from(self.limits.daily_failure_budget)),
            int(self.now_ms - BUDGET_WINDOW_MS),
        ]
    }
}

/// A failure counter and the rule it runs by.
struct FailureCounter<'a> {
    key: &'a str,
    window_ms: i64,
    threshold: u32,
    lock_ms: i64,
}

/// Adds this request's counted wrong codes to one failure counter, weighted by
/// how many usable codes the guess was checked against (each is a chance to be
/// right). Nothing is counted when no code was (`attempt` marks the rows).
/// A window restarts once it is over, unless its lock still holds.
fn add_failures(
    db: &Db,
    counter: FailureCounter<'_>,
    email: &EmailAddress,
    attempt: &str,
    now_ms: i64,
) -> Result<D1PreparedStatement, AppError> {
    let FailureCounter {
        key,
        window_ms,
        threshold,
        lock_ms,
    } = counter;
    db.statement(
        "INSERT INTO rate_limits (key, window_start, count, updated_at)
         SELECT ?1, ?2, w.n, ?2 FROM
           (SELECT COUNT(*) AS n FROM otp_codes WHERE email = ?3 AND last_attempt_by = ?4) w
         WHERE w.n > 0
         ON CONFLICT (key) DO UPDATE SET
             count = CASE WHEN window_start > ?2 - ?5 OR (count >= ?6 AND updated_at > ?2 - ?7)
                          THEN count + excluded.count ELSE excluded.count END,
             window_start = CASE WHEN window_start > ?2 - ?5 OR (count >= ?6 AND updated_at > ?2 - ?7)
                          THEN window_start ELSE ?2 END,
             updated_at = ?2",
        &[
            text(key),
            int(now_ms),
            text(email.as_str()),
            text(attempt),
            int(window_ms),
            int(i64::from(threshold)),
            int(lock_ms),
        ],
    )
}

/// The two failure counters a wrong code adds to: its network's and the address's.
pub(super) fn record_failures(
    db: &Db,
    keys: &Keys,
    limits: &EmailLimits,
    email: &EmailAddress,
    attempt: &str,
    now_ms: i64,
) -> Result<[D1PreparedStatement; 2], AppError> {
    Ok([
        add_failures(
            db,
            FailureCounter {
                key: &keys.failures,
                window_ms: WINDOW_MS,
                threshold: limits.failures_before_lockout,
                lock_ms: limits.lockout_ms(),
            },
            email,
            attempt,
            now_ms,
        )?,
        add_failures(
            db,
            FailureCounter {
                key: &keys.address_failures,
                window_ms: BUDGET_WINDOW_MS,
                threshold: limits.daily_failure_budget,
                lock_ms: BUDGET_WINDOW_MS,
            },
            email,
            attempt,
            now_ms,
        )?,
    ])
}

#[derive(Deserialize)]
pub(super) struct KeyedCounter {
    pub key: String,
    #[serde(flatten)]
    pub counter: Counter,
}

/// Every counter key of a request, bound as `?n` .. `?n+4` by `read` and by
/// the ledger snapshot of a login attempt (`otp_store::ledger`).
pub(super) fn key_values(keys: &Keys) -> [JsValue; 5] {
    [
        text(&keys.cooldown),
        text(&keys.sends),
        text(&keys.failures),
        text(&keys.address_sends),
        text(&keys.address_failures),
    ]
}

/// Reads every counter of the keys.
pub(super) fn read(db: &Db, keys: &Keys) -> Result<D1PreparedStatement, AppError> {
    db.statement(
        "SELECT key, window_start, count, updated_at FROM rate_limits
         WHERE key IN (?1, ?2, ?3, ?4, ?5)",
        &key_values(keys),
    )
}

/// The rows of a `read` statement in a batch, by purpose.
pub(super) fn counters(
    results: &[worker::D1Result],
    index: usize,
    keys: &Keys,
) -> Result<Counters, AppError> {
    Ok(by_purpose(&batch_rows(results, index)?, keys))
}

/// Counter rows, by purpose.
pub(super) fn by_purpose(rows: &[KeyedCounter], keys: &Keys) -> Counters {
    let find = |key: &str| rows.iter().find(|c| c.key == key).map(|c| c.counter);
    Counters {
        cooldown: find(&keys.cooldown),
        sends: find(&keys.sends),
        failures: find(&keys.failures),
        address_sends: find(&keys.address_sends),
        address_failures: find(&keys.address_failures),
    }
}

/// What a send may do.
#[derive(Debug)]
pub enum Admission {
    /// Counted; the address's newest usable code (if any) stays usable too.
    Admitted {
        previous: Option<PendingCode>,
    },
    Refused(Refusal),
    /// The address's daily failure budget is spent: a solved challenge is needed.
    ChallengeRequired,
}

/// A send about to be admitted.
pub struct SendRequest<'a> {
    pub email: &'a EmailAddress,
    pub keys: &'a Keys,
    pub limits: &'a EmailLimits,
    pub otp: &'a OtpPolicy,
    pub budget: BudgetPolicy,
    /// The sender solved a challenge (checked before this call).
    pub challenge_passed: bool,
    /// The code this send mails, stored only if the send is admitted.
    pub code: &'a PendingCode,
    pub now_ms: i64,
}

/// Admits a send or says why not, in one round trip: the counters are read,
/// then the cooldown taken, the new code stored and the send counted (per
/// network and for the address), each write conditional on every limit, so
/// two racing sends cannot both pass. The newest usable code is read first,
/// to stay usable beside the new one; older ones are retired.
pub async fn admit_send(db: &Db, r: &SendRequest<'_>) -> Result<Admission, AppError> {
    let (keys, limits, now) = (r.keys, r.limits, r.now_ms);
    let lock = NotLocked::new(keys, limits, r.budget, now);
    let own = [
        text(&keys.cooldown),
        int(now),
        int(limits.cooldown_ms()),
        text(&keys.sends),
        int(i64::from(limits.sends_per_hour)),
        text(&keys.address_sends),
        int(i64::from(limits.address_sends_per_hour)),
        int(WINDOW_MS),
        text(&keys.address_failures),
        int(i64::from(limits.daily_failure_budget)),
        int(BUDGET_WINDOW_MS),
        int(i64::from(r.challenge_passed)),
    ];
    let take_cooldown = db.statement(
        format!(
            "INSERT INTO rate_limits (key, window_start, count, updated_at)
             SELECT ?1, ?2, 1, ?2 WHERE {lock}
               AND NOT EXISTS (SELECT 1 FROM rate_limits WHERE key = ?4
                               AND window_start > ?2 - ?8 AND count >= ?5)
               AND NOT EXISTS (SELECT 1 FROM rate_limits WHERE key = ?6
                               AND window_start > ?2 - ?8 AND count >= ?7)
               AND (?12 = 1 OR NOT EXISTS (SELECT 1 FROM rate_limits WHERE key = ?9
                               AND count >= ?10 AND updated_at > ?2 - ?11))
             ON CONFLICT (key) DO UPDATE SET window_start = ?2, count = 1, updated_at = ?2
             WHERE rate_limits.updated_at <= ?2 - ?3
             RETURNING count",
            lock = lock.sql(own.len() + 1)
        ),
        &[own.as_slice(), &lock.values()].concat(),
    )?;
    // The hourly counters of the network and of the address, in one statement,
    // counted only by the request that just took the cooldown.
    let count_sends = db.statement(
        "INSERT INTO rate_limits (key, window_start, count, updated_at)
         SELECT column1, ?2, 1, ?2 FROM (VALUES (?1), (?5))
         WHERE (SELECT updated_at FROM rate_limits WHERE key = ?4) = ?2
         ON CONFLICT (key) DO UPDATE SET
             count = CASE WHEN window_start > ?2 - ?3 THEN count + 1 ELSE 1 END,
             window_start = CASE WHEN window_start > ?2 - ?3 THEN window_start ELSE ?2 END,
             updated_at = ?2",
        &[
            text(&keys.sends),
            int(now),
            int(WINDOW_MS),
            text(&keys.cooldown),
            text(&keys.address_sends),
        ],
    )?;
    let results = db
        .batch(
            vec![
                read(db, keys)?,
                otp_store::newest_usable(db, r.email, r.otp, now)?,
                take_cooldown,
                // Right after take_cooldown: its `changes()` are the admission.
                otp_store::insert_if_admitted(db, r.email, r.code, r.otp, now)?,
                count_sends,
            ],
            "limits batch",
        )
        .await?;
    if batch_rows::<serde_json::Value>(&results, 2)?.len() == 1 {
        let previous = batch_rows::<PendingCode>(&results, 1)?.into_iter().next();
        return Ok(Admission::Admitted { previous });
    }
    let before = counters(&results, 0, keys)?;
    if r.budget == BudgetPolicy::Challenge
        && !r.challenge_passed
        && limits
            .budget_spent_until(before.address_failures.as_ref(), now)
            .is_some()
    {
        return Ok(Admission::ChallengeRequired);
    }
    let refusal = limits
        .send_refusal(&before, r.budget, now)
        // Refused by a concurrent send that the read did not see yet.
        .unwrap_or(Refusal::Cooldown {
            until: now + limits.cooldown_ms(),
        });
    Ok(Admission::Refused(refusal))
}

/// Gives back the cooldown of a send whose mail failed, so its owner can ask
/// again at once for the code that never arrived (one statement, for the
/// batch of `otp_store::withdraw`). The send still counts against the hourly
/// caps: a provider that times out may yet deliver, and one that refuses an
/// address must not be called without bound. Only the row this send wrote
/// (`updated_at` is its time) is removed.
pub fn release_cooldown(
    db: &Db,
    keys: &Keys,
    now_ms: i64,
) -> Result<D1PreparedStatement, AppError> {
    db.statement(
        "DELETE FROM rate_limits WHERE key = ?1 AND updated_at = ?2",
        &[text(&keys.cooldown), int(now_ms)],
    )
}
