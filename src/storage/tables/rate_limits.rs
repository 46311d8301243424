//! Abuse counters in D1 (`rate_limits`), per address and client network and
//! per address alone. Each check-and-count is a conditional write, so limits
//! hold under concurrency and across locations.

use serde::Deserialize;

use crate::domain::email::EmailAddress;
use crate::domain::limits::{
    BudgetPolicy, Counter, Counters, EmailLimits, Keys, BUDGET_WINDOW_MS, WINDOW_MS,
};
use crate::domain::otp::Path;
use crate::storage::statement::{int, text, Params, Statement, Value, Written};

/// The condition "this request is not locked out": its network's lock, and
/// the budgets that lock its path (`EmailLimits::verify_locked_until`).
pub(in crate::storage) struct NotLocked<'a> {
    keys: &'a Keys,
    limits: &'a EmailLimits,
    budget: BudgetPolicy,
    path: Path<'a>,
    now_ms: i64,
}

impl<'a> NotLocked<'a> {
    pub(in crate::storage) fn new(
        keys: &'a Keys,
        limits: &'a EmailLimits,
        budget: BudgetPolicy,
        path: Path<'a>,
        now_ms: i64,
    ) -> Self {
        Self {
            keys,
            limits,
            budget,
            path,
            now_ms,
        }
    }

    /// Whom the attempt is counted against.
    pub(in crate::storage) fn path(&self) -> Path<'a> {
        self.path
    }

    /// The SQL condition "the address's owner budget is not spent".
    pub(in crate::storage) fn owner_budget_left(&self, p: &mut Params) -> String {
        let [key, budget, since] = p.bind_all([
            text(&self.keys.address_owner_failures),
            int(i64::from(self.limits.owner_failure_budget)),
            int(self.now_ms - BUDGET_WINDOW_MS),
        ]);
        format!(
            "NOT EXISTS (SELECT 1 FROM rate_limits WHERE key = {key} AND count >= {budget}
                         AND updated_at > {since})"
        )
    }

    /// The SQL condition, its values bound into `p`.
    pub(in crate::storage) fn sql(&self, p: &mut Params) -> String {
        // NULL is a key no row has: that budget does not lock this path.
        let (budget_key, owner_key) = match (self.path, self.budget) {
            (Path::Anonymous, _) => (text(&self.keys.address_failures), Value::Null),
            (Path::Owner { .. }, BudgetPolicy::Lock) => (
                text(&self.keys.address_failures),
                text(&self.keys.address_owner_failures),
            ),
            (Path::Owner { .. }, BudgetPolicy::Challenge) => (Value::Null, Value::Null),
        };
        let [key, threshold, since, budget_key, budget, budget_since] = p.bind_all([
            text(&self.keys.failures),
            int(i64::from(self.limits.failures_before_lockout)),
            int(self.now_ms - self.limits.lockout_ms()),
            budget_key,
            int(i64::from(self.limits.daily_failure_budget)),
            int(self.now_ms - BUDGET_WINDOW_MS),
        ]);
        let [owner_key, owner_budget] =
            p.bind_all([owner_key, int(i64::from(self.limits.owner_failure_budget))]);
        format!(
            "NOT EXISTS (SELECT 1 FROM rate_limits WHERE
                (key = {key} AND count >= {threshold} AND updated_at > {since})
             OR (key = {budget_key} AND count >= {budget} AND updated_at > {budget_since})
             OR (key = {owner_key} AND count >= {owner_budget} AND updated_at > {budget_since}))"
        )
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
/// right). Nothing is counted when no code was (`otp_codes::attempt` marks the
/// rows). A window restarts once it is over, unless its lock still holds.
fn add_failures(
    counter: FailureCounter<'_>,
    email: &EmailAddress,
    attempt: &str,
    now_ms: i64,
) -> Statement<Written> {
    let FailureCounter {
        key,
        window_ms,
        threshold,
        lock_ms,
    } = counter;
    Statement::new(
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
        vec![
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
pub(in crate::storage) fn record_failures(
    keys: &Keys,
    limits: &EmailLimits,
    path: Path<'_>,
    email: &EmailAddress,
    attempt: &str,
    now_ms: i64,
) -> [Statement<Written>; 2] {
    // A login's wrong codes spend the owner budget, strangers' the address's.
    let (budget_key, budget) = match path {
        Path::Anonymous => (&keys.address_failures, limits.daily_failure_budget),
        Path::Owner { .. } => (&keys.address_owner_failures, limits.owner_failure_budget),
    };
    [
        add_failures(
            FailureCounter {
                key: &keys.failures,
                window_ms: WINDOW_MS,
                threshold: limits.failures_before_lockout,
                lock_ms: limits.lockout_ms(),
            },
            email,
            attempt,
            now_ms,
        ),
        add_failures(
            FailureCounter {
                key: budget_key,
                window_ms: BUDGET_WINDOW_MS,
                threshold: budget,
                lock_ms: BUDGET_WINDOW_MS,
            },
            email,
            attempt,
            now_ms,
        ),
    ]
}

/// A counter row with its key.
#[derive(Deserialize)]
pub(in crate::storage) struct KeyedCounter {
    pub key: String,
    #[serde(flatten)]
    pub counter: Counter,
}

/// The SQL condition "`key` is one of the request's counter keys".
pub(in crate::storage) fn any_key(p: &mut Params, keys: &Keys) -> String {
    let [a, b, c, d, e, f, g] = p.bind_all([
        text(&keys.cooldown),
        text(&keys.sends),
        text(&keys.failures),
        text(&keys.address_sends),
        text(&keys.address_daily_sends),
        text(&keys.address_failures),
        text(&keys.address_owner_failures),
    ]);
    format!("key IN ({a}, {b}, {c}, {d}, {e}, {f}, {g})")
}

/// Reads every counter of the keys (`by_purpose` sorts them).
pub(in crate::storage) fn read(keys: &Keys) -> Statement<KeyedCounter> {
    Statement::compose(|p| {
        format!(
            "SELECT key, window_start, count, updated_at FROM rate_limits WHERE {}",
            any_key(p, keys)
        )
    })
}

/// Counter rows, by purpose.
pub(in crate::storage) fn by_purpose(rows: &[KeyedCounter], keys: &Keys) -> Counters {
    let find = |key: &str| rows.iter().find(|c| c.key == key).map(|c| c.counter);
    Counters {
        cooldown: find(&keys.cooldown),
        sends: find(&keys.sends),
        failures: find(&keys.failures),
        address_sends: find(&keys.address_sends),
        address_daily_sends: find(&keys.address_daily_sends),
        address_failures: find(&keys.address_failures),
        address_owner_failures: find(&keys.address_owner_failures),
    }
}

/// A send's admission, the limits it must pass.
pub(in crate::storage) struct SendGate<'a> {
    pub keys: &'a Keys,
    pub limits: &'a EmailLimits,
    pub lock: &'a NotLocked<'a>,
    /// The sender solved a challenge (a spent budget then does not refuse).
    pub challenge_passed: bool,
    pub now_ms: i64,
}

/// Takes the address's cooldown, only if every limit passes: the request's
/// lock, the network's hourly cap and, without a solved challenge, the
/// address's hourly and daily caps and both of its budgets. `RETURNING` gives a
/// row only to the send it admits; its `changes()` are the admission for the
/// statement pushed right after it.
pub(in crate::storage) fn take_cooldown(g: &SendGate<'_>) -> Statement<Written> {
    let (keys, limits) = (g.keys, g.limits);
    Statement::compose(|p| {
        let [cooldown, now, cooldown_ms, sends, sends_cap, address_sends, address_cap, window] = p
            .bind_all([
                text(&keys.cooldown),
                int(g.now_ms),
                int(limits.cooldown_ms()),
                text(&keys.sends),
                int(i64::from(limits.sends_per_hour)),
                text(&keys.address_sends),
                int(i64::from(limits.address_sends_per_hour)),
                int(WINDOW_MS),
            ]);
        let [budget_key, budget, day, challenged, daily_sends, daily_cap] = p.bind_all([
            text(&keys.address_failures),
            int(i64::from(limits.daily_failure_budget)),
            int(BUDGET_WINDOW_MS),
            int(i64::from(g.challenge_passed)),
            text(&keys.address_daily_sends),
            int(i64::from(limits.address_sends_per_day)),
        ]);
        let [owner_key, owner_budget] = p.bind_all([
            text(&keys.address_owner_failures),
            int(i64::from(limits.owner_failure_budget)),
        ]);
        format!(
            "INSERT INTO rate_limits (key, window_start, count, updated_at)
             SELECT {cooldown}, {now}, 1, {now} WHERE {lock}
               AND NOT EXISTS (SELECT 1 FROM rate_limits WHERE key = {sends}
                               AND window_start > {now} - {window} AND count >= {sends_cap})
               AND ({challenged} = 1 OR NOT EXISTS (SELECT 1 FROM rate_limits WHERE key = {address_sends}
                               AND window_start > {now} - {window} AND count >= {address_cap}))
               AND ({challenged} = 1 OR NOT EXISTS (SELECT 1 FROM rate_limits WHERE key = {budget_key}
                               AND count >= {budget} AND updated_at > {now} - {day}))
               AND ({challenged} = 1 OR NOT EXISTS (SELECT 1 FROM rate_limits WHERE key = {owner_key}
                               AND count >= {owner_budget} AND updated_at > {now} - {day}))
               AND ({challenged} = 1 OR NOT EXISTS (SELECT 1 FROM rate_limits WHERE key = {daily_sends}
                               AND window_start > {now} - {day} AND count >= {daily_cap}))
             ON CONFLICT (key) DO UPDATE SET window_start = {now}, count = 1, updated_at = {now}
             WHERE rate_limits.updated_at <= {now} - {cooldown_ms}
             RETURNING count",
            lock = g.lock.sql(p)
        )
    })
}

/// The send counters (the network's and the address's hourly ones, the
/// address's daily one), in one statement, counted only by the request that
/// just took the cooldown (its row carries this request's time). Each window
/// restarts once it is over: an hour, or a day for the daily counter.
pub(in crate::storage) fn count_sends(keys: &Keys, now_ms: i64) -> Statement<Written> {
    Statement::compose(|p| {
        let [sends, address_sends, daily, cooldown, now, hour, day] = p.bind_all([
            text(&keys.sends),
            text(&keys.address_sends),
            text(&keys.address_daily_sends),
            text(&keys.cooldown),
            int(now_ms),
            int(WINDOW_MS),
            int(BUDGET_WINDOW_MS),
        ]);
        let current =
            format!("window_start > {now} - CASE key WHEN {daily} THEN {day} ELSE {hour} END");
        format!(
            "INSERT INTO rate_limits (key, window_start, count, updated_at)
             SELECT column1, {now}, 1, {now} FROM (VALUES ({sends}), ({address_sends}), ({daily}))
             WHERE (SELECT updated_at FROM rate_limits WHERE key = {cooldown}) = {now}
             ON CONFLICT (key) DO UPDATE SET
                 count = CASE WHEN {current} THEN count + 1 ELSE 1 END,
                 window_start = CASE WHEN {current} THEN window_start ELSE {now} END,
                 updated_at = {now}"
        )
    })
}

/// Takes back the hourly and daily counts of a send that mailed nothing, only
/// where this send was the last to count (its time is `updated_at`).
pub(in crate::storage) fn uncount_sends(keys: &Keys, now_ms: i64) -> Statement<Written> {
    Statement::new(
        "UPDATE rate_limits SET count = count - 1
         WHERE key IN (?1, ?2, ?3) AND updated_at = ?4 AND count > 0",
        vec![
            text(&keys.sends),
            text(&keys.address_sends),
            text(&keys.address_daily_sends),
            int(now_ms),
        ],
    )
}

/// Gives back the cooldown of a send whose mail failed, so its owner can ask
/// again at once for the code that never arrived. The send still counts
/// against the hourly caps: a provider that times out may yet deliver, and
/// one that refuses an address must not be called without bound. Only the
/// row this send wrote (`updated_at` is its time) is removed.
pub(in crate::storage) fn release_cooldown(keys: &Keys, now_ms: i64) -> Statement<Written> {
    Statement::new(
        "DELETE FROM rate_limits WHERE key = ?1 AND updated_at = ?2",
        vec![text(&keys.cooldown), int(now_ms)],
    )
}
