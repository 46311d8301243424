//! Pending codes. KV holds the usable codes of an address (their hashes),
//! written where the code is sent and read first where it is typed, expired by
//! KV. D1 (`otp_codes`) is the authority: every code's hash, attempts and use,
//! so a location whose KV copy is missing or stale still decides correctly.

use serde::Deserialize;
use worker::D1PreparedStatement;

use super::limit_store::{self, KeyedCounter, NotLocked};
use super::{audit_log, batch_rows, int, opt_text, text, Db, Kv};
use crate::domain::audit::AuditEvent;
use crate::domain::email::EmailAddress;
use crate::domain::error::AppError;
use crate::domain::limits::{Counter, Keys};
use crate::domain::otp::{LedgerSnapshot, OtpPolicy, PendingCode, PendingCodes, LIVE_CODES};
use crate::platform::trips::Kind;
use crate::platform::{fault, Context};

fn kv_key(email: &str) -> String {
    format!("otp:{email}")
}

/// The SQL condition "usable": unused, unexpired, attempts left. Its three
/// values (`now`, `max_attempts`) are bound at `now` and `max`.
fn usable(now: usize, max: usize) -> String {
    format!("consumed_by IS NULL AND expires_at > ?{now} AND attempts < ?{max}")
}

/// Stores a new code in D1, in the batch that admits its send (`limit_store::
/// admit_send`), right after the statement that takes the cooldown: only a
/// send that took it (`changes() > 0`) inserts its code. It is stored
/// `unsent`, which no verify accepts, until `activate` runs after the mail
/// was delivered: a send whose mail fails leaves no usable code behind, even
/// when taking it back fails too.
pub(super) fn insert_if_admitted(
    db: &Db,
    email: &EmailAddress,
    code: &PendingCode,
    policy: &OtpPolicy,
    now_ms: i64,
) -> Result<D1PreparedStatement, AppError> {
    db.statement(
        "INSERT INTO otp_codes (email, code_id, code_hash, attempts, issued_at, expires_at, consumed_by)
         SELECT ?1, ?2, ?3, 0, ?4, ?5, 'unsent' WHERE changes() > 0",
        &[
            text(email.as_str()),
            text(&code.id),
            text(&code.hash),
            int(now_ms),
            int(now_ms + i64::from(policy.ttl_seconds) * 1000),
        ],
    )
}

/// Makes a delivered code usable, retires all but the newest `LIVE_CODES`
/// delivered codes of the address and records `sent` (`code_sent`), in one batch.
pub async fn activate(
    db: &Db,
    email: &EmailAddress,
    code_id: &str,
    at: &str,
    sent: &AuditEvent,
) -> Result<(), AppError> {
    let activate = db.statement(
        "UPDATE otp_codes SET consumed_by = NULL
         WHERE email = ?1 AND code_id = ?2 AND consumed_by = 'unsent'",
        &[text(email.as_str()), text(code_id)],
    )?;
    let retire = db.statement(
        "UPDATE otp_codes SET consumed_by = 'retired'
         WHERE email = ?1 AND consumed_by IS NULL AND code_id NOT IN
           (SELECT code_id FROM otp_codes WHERE email = ?1 AND consumed_by IS NOT 'unsent'
            ORDER BY issued_at DESC LIMIT ?2)",
        &[text(email.as_str()), int(LIVE_CODES as i64)],
    )?;
    // `code_sent` rides in the same batch: recorded exactly when a delivered
    // code becomes usable, and no D1 call of its own after the response.
    let audit = audit_log::insert(db, at, sent)?;
    db.batch(vec![activate, retire, audit], "activate code")
        .await
        .map(|_| ())
}

/// Writes the address's usable codes (the new one first) to KV, where this
/// location's verifies read them first. It runs beside the mail call: D1,
/// written before the mail, is the authority, and a send whose mail fails
/// is withdrawn (`withdraw`).
pub async fn remember(
    kv: &Kv,
    email: &EmailAddress,
    codes: &PendingCodes,
    policy: &OtpPolicy,
) -> Result<(), AppError> {
    let record = serde_json::to_string(codes).map_err(AppError::internal)?;
    fault("kv")?;
    let _trip = kv.trips.start(Kind::Kv);
    // As bytes: `put` would take the string through serde_wasm_bindgen (and
    // number formatting) only to get the same string back.
    kv.store
        .put_bytes(&kv_key(email.as_str()), record.as_bytes())
        .context("kv put")?
        .expiration_ttl(u64::from(policy.ttl_seconds))
        .execute()
        .await
        .context("kv put")
}

/// Takes back a send whose mail was not sent: its cooldown is given back
/// (`release`, from `limit_store`) and the KV copy of the address's codes is
/// dropped beside it, so a verify there asks D1, where any earlier code that
/// is still usable remains so. Its code stays `unsent`, usable by no one.
pub async fn withdraw(
    kv: &Kv,
    db: &Db,
    email: &EmailAddress,
    release: D1PreparedStatement,
) -> Result<(), AppError> {
    let (ledger, copy) = futures_util::join!(
        db.batch(vec![release], "withdraw send"),
        forget(kv, email.as_str())
    );
    ledger?;
    copy
}

/// The codes KV holds for the address where this request runs. Missing, or in
/// a shape this version does not write, means none: D1 then decides.
pub async fn pending(kv: &Kv, email: &EmailAddress) -> Result<PendingCodes, AppError> {
    fault("kv")?;
    let trip = kv.trips.start(Kind::Kv);
    let raw = kv
        .store
        .get(&kv_key(email.as_str()))
        .text()
        .await
        .context("kv get")?;
    drop(trip);
    Ok(raw
        .and_then(|raw| serde_json::from_str(&raw).ok())
        .unwrap_or_default())
}

/// Drops the KV copy of an address's codes (account deletion).
pub async fn forget(kv: &Kv, email: &str) -> Result<(), AppError> {
    fault("kv")?;
    let _trip = kv.trips.start(Kind::Kv);
    kv.store.delete(&kv_key(email)).await.context("kv delete")
}

/// Rows of codes that expired before `before_ms` are of no further use.
pub async fn purge_expired(db: &Db, before_ms: i64) -> Result<(), AppError> {
    let statement = db.statement(
        "DELETE FROM otp_codes WHERE expires_at < ?1",
        &[int(before_ms)],
    )?;
    db.run(statement, "otp_codes purge").await
}

/// The newest usable code of the address, for a send to keep behind its new one.
pub(super) fn newest_usable(
    db: &Db,
    email: &EmailAddress,
    policy: &OtpPolicy,
    now_ms: i64,
) -> Result<D1PreparedStatement, AppError> {
    db.statement(
        format!(
            "SELECT code_id AS id, code_hash AS hash FROM otp_codes
             WHERE email = ?1 AND {} ORDER BY issued_at DESC LIMIT 1",
            usable(2, 3)
        ),
        &[
            text(email.as_str()),
            int(now_ms),
            int(i64::from(policy.max_attempts)),
        ],
    )
}

/// What an attempt does to the address's usable codes.
pub(super) enum AttemptOn<'a> {
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
}

/// An attempt on codes: one atomic UPDATE, applied only to usable codes and
/// only while the request is not locked out. `RETURNING` gives the attempts
/// spent on each code it changed.
pub(super) fn attempt(
    db: &Db,
    email: &EmailAddress,
    on: AttemptOn<'_>,
    policy: &OtpPolicy,
    now_ms: i64,
    lock: &NotLocked<'_>,
) -> Result<D1PreparedStatement, AppError> {
    let (which, marks, target, token) = match on {
        AttemptOn::Use { code_id, consumer } => {
            ("code_id = ?2", "consumed_by", text(code_id), consumer)
        }
        AttemptOn::CountWrong { seen_newest, token } => (
            "?2 = (SELECT code_id FROM otp_codes WHERE email = ?1 AND {usable}
                   ORDER BY issued_at DESC LIMIT 1)",
            "last_attempt_by",
            opt_text(seen_newest),
            token,
        ),
    };
    let own = [
        text(email.as_str()),
        target,
        text(token),
        int(now_ms),
        int(i64::from(policy.max_attempts)),
    ];
    let usable = usable(4, 5);
    db.statement(
        format!(
            "UPDATE otp_codes SET attempts = attempts + 1, {marks} = ?3
             WHERE email = ?1 AND {usable} AND {locked} AND {which}
             RETURNING attempts",
            which = which.replace("{usable}", &usable),
            locked = lock.sql(own.len() + 1)
        ),
        &[own.as_slice(), &lock.values()].concat(),
    )
}

/// After a login: every other code of the address is retired, so one mail's
/// worth of codes gives one login.
pub(super) fn retire_others(
    db: &Db,
    email: &EmailAddress,
    consumer: &str,
) -> Result<D1PreparedStatement, AppError> {
    db.statement(
        "UPDATE otp_codes SET consumed_by = 'retired'
         WHERE email = ?1 AND consumed_by IS NULL
           AND EXISTS (SELECT 1 FROM otp_codes WHERE email = ?1 AND consumed_by = ?2)",
        &[text(email.as_str()), text(consumer)],
    )
}

/// The ledger after an attempt, in one statement: the address's unused,
/// unexpired codes (newest first), then the request's counters.
pub(super) fn ledger(
    db: &Db,
    email: &EmailAddress,
    keys: &Keys,
    now_ms: i64,
) -> Result<D1PreparedStatement, AppError> {
    db.statement(
        "SELECT 'code' AS kind, code_id AS id, code_hash AS hash, attempts,
                NULL AS key, NULL AS window_start, NULL AS count, NULL AS updated_at,
                issued_at AS ord
           FROM otp_codes WHERE email = ?1 AND consumed_by IS NULL AND expires_at > ?2
         UNION ALL
         SELECT 'counter', NULL, NULL, NULL, key, window_start, count, updated_at, 0
           FROM rate_limits WHERE key IN (?3, ?4, ?5, ?6, ?7)
         ORDER BY kind, ord DESC",
        &[
            [text(email.as_str()), int(now_ms)].as_slice(),
            &limit_store::key_values(keys),
        ]
        .concat(),
    )
}

/// One row of `ledger`: a code or a counter.
#[derive(Deserialize)]
struct LedgerRow {
    id: Option<String>,
    hash: Option<String>,
    attempts: Option<u32>,
    key: Option<String>,
    window_start: Option<i64>,
    count: Option<i64>,
    updated_at: Option<i64>,
}

/// The rows of a `ledger` statement in a batch.
pub(super) fn ledger_rows(
    results: &[worker::D1Result],
    index: usize,
    keys: &Keys,
) -> Result<LedgerSnapshot, AppError> {
    let mut unexpired = Vec::new();
    let mut counters = Vec::new();
    for row in batch_rows::<LedgerRow>(results, index)? {
        match row {
            LedgerRow {
                id: Some(id),
                hash: Some(hash),
                attempts: Some(attempts),
                ..
            } => unexpired.push((PendingCode { id, hash }, attempts)),
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
        counters: limit_store::by_purpose(&counters, keys),
    })
}
