//! Per-address abuse counters in D1 (`rate_limits`). Each check-and-count is a
//! conditional write, so limits hold under concurrency and across locations.

use worker::wasm_bindgen::JsValue;
use worker::D1PreparedStatement;

use super::{batch_rows, int, text, Db};
use crate::domain::error::AppError;
use crate::domain::limits::{Counter, EmailLimits, Keys, Refusal, WINDOW_MS};

/// The condition "the address is not locked out", for statements that must not
/// act on a locked address. Its four values are bound after the statement's own.
pub(super) struct NotLocked<'a> {
    key: &'a str,
    threshold: i64,
    updated_after: i64,
    window_after: i64,
}

impl<'a> NotLocked<'a> {
    pub(super) fn new(keys: &'a Keys, limits: &EmailLimits, now_ms: i64) -> Self {
        Self {
            key: &keys.failures,
            threshold: i64::from(limits.failures_before_lockout),
            updated_after: now_ms - limits.lockout_ms(),
            window_after: now_ms - WINDOW_MS,
        }
    }

    /// The SQL condition, numbering its parameters from `first`.
    pub(super) fn sql(&self, first: usize) -> String {
        let [a, b, c, d] = [first, first + 1, first + 2, first + 3];
        format!(
            "NOT EXISTS (SELECT 1 FROM rate_limits WHERE key = ?{a} AND count >= ?{b}
                AND updated_at > ?{c} AND window_start > ?{d})"
        )
    }

    pub(super) fn values(&self) -> [JsValue; 4] {
        [
            text(self.key),
            int(self.threshold),
            int(self.updated_after),
            int(self.window_after),
        ]
    }
}

#[derive(serde::Deserialize)]
struct KeyedCounter {
    key: String,
    #[serde(flatten)]
    counter: Counter,
}

/// Admits a send to the address or says why not, in one round trip: the
/// counters are read, then the cooldown taken and the send counted, each
/// write conditional on the limits, so two racing sends cannot both pass.
pub async fn admit_send(
    db: &Db,
    keys: &Keys,
    limits: &EmailLimits,
    now_ms: i64,
) -> Result<Option<Refusal>, AppError> {
    let lock = NotLocked::new(keys, limits, now_ms);
    let read = db.statement(
        "SELECT key, window_start, count, updated_at FROM rate_limits
         WHERE key IN (?1, ?2, ?3)",
        &[
            text(&keys.cooldown),
            text(&keys.sends),
            text(&keys.failures),
        ],
    )?;
    let take_cooldown = db.statement(
        format!(
            "INSERT INTO rate_limits (key, window_start, count, updated_at)
             SELECT ?1, ?2, 1, ?2 WHERE {}
             ON CONFLICT (key) DO UPDATE SET window_start = ?2, count = 1, updated_at = ?2
             WHERE rate_limits.updated_at <= ?2 - ?3
             RETURNING count",
            lock.sql(4)
        ),
        &[
            [text(&keys.cooldown), int(now_ms), int(limits.cooldown_ms())].as_slice(),
            &lock.values(),
        ]
        .concat(),
    )?;
    let count_send = db.statement(
        "INSERT INTO rate_limits (key, window_start, count, updated_at)
         SELECT ?1, ?2, 1, ?2
         WHERE (SELECT updated_at FROM rate_limits WHERE key = ?5) = ?2
         ON CONFLICT (key) DO UPDATE SET
             count = CASE WHEN window_start > ?2 - ?3 THEN count + 1 ELSE 1 END,
             window_start = CASE WHEN window_start > ?2 - ?3 THEN window_start ELSE ?2 END,
             updated_at = ?2
         WHERE rate_limits.window_start <= ?2 - ?3 OR rate_limits.count < ?4
         RETURNING count",
        &[
            text(&keys.sends),
            int(now_ms),
            int(WINDOW_MS),
            int(i64::from(limits.sends_per_hour)),
            text(&keys.cooldown),
        ],
    )?;

    let results = db
        .batch(vec![read, take_cooldown, count_send], "limits batch")
        .await?;
    let took_cooldown = batch_rows::<serde_json::Value>(&results, 1)?.len() == 1;
    let counted_send = batch_rows::<serde_json::Value>(&results, 2)?.len() == 1;
    if took_cooldown && counted_send {
        return Ok(None);
    }
    let before: Vec<KeyedCounter> = batch_rows(&results, 0)?;
    let find = |key: &str| before.iter().find(|c| c.key == key).map(|c| c.counter);
    let refusal = limits
        .send_refusal(
            find(&keys.cooldown).as_ref(),
            find(&keys.sends).as_ref(),
            find(&keys.failures).as_ref(),
            now_ms,
        )
        // Refused by a concurrent send that the read did not see yet.
        .unwrap_or(Refusal::Cooldown {
            until: now_ms + limits.cooldown_ms(),
        });
    Ok(Some(refusal))
}

/// Gives back the cooldown of a send whose mail failed, so its owner can ask
/// again at once for the code that never arrived. The send still counts
/// against the hourly cap: a provider that times out may yet deliver, and
/// one that refuses an address must not be called without bound. Only the
/// row this send wrote (`updated_at` is its time) is removed.
pub async fn release_cooldown(db: &Db, keys: &Keys, now_ms: i64) -> Result<(), AppError> {
    let statement = db.statement(
        "DELETE FROM rate_limits WHERE key = ?1 AND updated_at = ?2",
        &[text(&keys.cooldown), int(now_ms)],
    )?;
    db.run(statement, "cooldown release").await
}

/// Counts a wrong code against the address.
pub(super) fn record_failure(
    db: &Db,
    keys: &Keys,
    now_ms: i64,
) -> Result<D1PreparedStatement, AppError> {
    db.statement(
        "INSERT INTO rate_limits (key, window_start, count, updated_at)
         VALUES (?1, ?2, 1, ?2)
         ON CONFLICT (key) DO UPDATE SET
             count = CASE WHEN window_start > ?2 - ?3 THEN count + 1 ELSE 1 END,
             window_start = CASE WHEN window_start > ?2 - ?3 THEN window_start ELSE ?2 END,
             updated_at = ?2",
        &[text(&keys.failures), int(now_ms), int(WINDOW_MS)],
    )
}
