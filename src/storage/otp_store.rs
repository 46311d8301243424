//! Pending codes: the hash in KV (expired by KV), attempts and use in the D1 ledger.

use worker::D1PreparedStatement;

use super::limit_store::NotLocked;
use super::{int, opt_text, text, Db, Kv};
use crate::domain::email::EmailAddress;
use crate::domain::error::AppError;
use crate::domain::otp::{OtpPolicy, PendingCode};
use crate::platform::trips::Kind;
use crate::platform::{fault, Context};

fn kv_key(email: &EmailAddress) -> String {
    format!("otp:{email}")
}

/// Stores a new code for the address, replacing any earlier one.
pub async fn save(
    kv: &Kv,
    db: &Db,
    email: &EmailAddress,
    pending: &PendingCode,
    policy: &OtpPolicy,
    now_ms: i64,
    issued_at: &str,
) -> Result<(), AppError> {
    let ledger = db.statement(
        "INSERT INTO otp_ledger (email, code_id, attempts, expires_at, consumed_by, issued_at)
         VALUES (?1, ?2, 0, ?3, NULL, ?4)
         ON CONFLICT (email) DO UPDATE SET
             code_id = excluded.code_id, attempts = 0, expires_at = excluded.expires_at,
             consumed_by = NULL, issued_at = excluded.issued_at",
        &[
            text(email.as_str()),
            text(&pending.id),
            int(now_ms + i64::from(policy.ttl_seconds) * 1000),
            text(issued_at),
        ],
    )?;
    let record = serde_json::to_string(pending).map_err(AppError::internal)?;
    let kv_put = async {
        fault("kv")?;
        let _trip = kv.trips.start(Kind::Kv);
        kv.store
            .put(&kv_key(email), record)
            .context("kv put")?
            .expiration_ttl(u64::from(policy.ttl_seconds))
            .execute()
            .await
            .context("kv put")
    };
    // Both writes are independent; run them side by side to save a round trip.
    let (ledger, kv) = futures_util::join!(db.run(ledger, "write otp_ledger"), kv_put);
    ledger?;
    kv
}

/// The code pending for the address, if KV still has one.
pub async fn pending(kv: &Kv, email: &EmailAddress) -> Result<Option<PendingCode>, AppError> {
    fault("kv")?;
    let trip = kv.trips.start(Kind::Kv);
    let raw = kv
        .store
        .get(&kv_key(email))
        .text()
        .await
        .context("kv get")?;
    drop(trip);
    match raw {
        None => Ok(None),
        Some(raw) => serde_json::from_str(&raw)
            .map(Some)
            .context("corrupt otp record"),
    }
}

/// Drops the KV copy of an address's pending code (account deletion).
pub async fn forget(kv: &Kv, email: &str) -> Result<(), AppError> {
    fault("kv")?;
    let _trip = kv.trips.start(Kind::Kv);
    kv.store
        .delete(&format!("otp:{email}"))
        .await
        .context("kv delete")
}

/// Ledger rows of codes that expired before `before_ms` are of no further use.
pub async fn purge_expired(db: &Db, before_ms: i64) -> Result<(), AppError> {
    let statement = db.statement(
        "DELETE FROM otp_ledger WHERE expires_at < ?1",
        &[int(before_ms)],
    )?;
    db.run(statement, "otp_ledger purge").await
}

/// Records an attempt on a code: one atomic UPDATE, applied only while the
/// code is live, unused, has attempts left and the address is not locked out.
/// With `consumer` (the right code) it also uses the code, so of concurrent
/// requests exactly one wins; without, it only counts a wrong attempt.
/// `RETURNING` gives the attempts spent; no row means it was refused.
pub(super) fn record_attempt(
    db: &Db,
    email: &EmailAddress,
    code_id: &str,
    consumer: Option<&str>,
    policy: &OtpPolicy,
    now_ms: i64,
    lock: &NotLocked<'_>,
) -> Result<D1PreparedStatement, AppError> {
    let own = [
        text(email.as_str()),
        text(code_id),
        opt_text(consumer),
        int(i64::from(policy.max_attempts)),
        int(now_ms),
    ];
    db.statement(
        format!(
            "UPDATE otp_ledger SET attempts = attempts + 1, consumed_by = ?3
             WHERE email = ?1 AND code_id = ?2 AND consumed_by IS NULL
               AND attempts < ?4 AND expires_at > ?5 AND {}
             RETURNING attempts",
            lock.sql(own.len() + 1)
        ),
        &[own.as_slice(), &lock.values()].concat(),
    )
}

/// The ledger after an attempt, read in the attempt's own batch: the attempts
/// spent on the live, unused issuance (NULL when there is none) and the
/// address's wrong-code counter.
pub(super) fn snapshot(
    db: &Db,
    email: &EmailAddress,
    code_id: &str,
    failures_key: &str,
    now_ms: i64,
) -> Result<D1PreparedStatement, AppError> {
    db.statement(
        "SELECT
           (SELECT attempts FROM otp_ledger WHERE email = ?1 AND code_id = ?2
              AND consumed_by IS NULL AND expires_at > ?3) AS live_attempts,
           r.window_start, r.count, r.updated_at
         FROM (SELECT 1) LEFT JOIN rate_limits r ON r.key = ?4",
        &[
            text(email.as_str()),
            text(code_id),
            int(now_ms),
            text(failures_key),
        ],
    )
}
