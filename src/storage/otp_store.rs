//! Pending codes: the hash in KV (expired by KV), attempts and use in the D1 ledger.

use serde::Deserialize;
use worker::{D1Database, D1PreparedStatement, KvStore};

use super::limit_store::NotLocked;
use super::{failed, int, opt_text, text};
use crate::domain::email::EmailAddress;
use crate::domain::error::AppError;
use crate::domain::otp::{LedgerState, OtpPolicy, PendingCode};

pub struct OtpStore<'a> {
    pub kv: &'a KvStore,
    pub db: &'a D1Database,
}

fn kv_key(email: &EmailAddress) -> String {
    format!("otp:{email}")
}

impl OtpStore<'_> {
    /// Stores a new code for the address, replacing any earlier one.
    pub async fn save(
        &self,
        email: &EmailAddress,
        pending: &PendingCode,
        policy: &OtpPolicy,
        now_ms: i64,
        issued_at: &str,
    ) -> Result<(), AppError> {
        let ledger = self
            .db
            .prepare(
                "INSERT INTO otp_ledger (email, code_id, attempts, expires_at, consumed_by, issued_at)
                 VALUES (?1, ?2, 0, ?3, NULL, ?4)
                 ON CONFLICT (email) DO UPDATE SET
                     code_id = excluded.code_id, attempts = 0, expires_at = excluded.expires_at,
                     consumed_by = NULL, issued_at = excluded.issued_at",
            )
            .bind(&[
                text(email.as_str()),
                text(&pending.id),
                int(now_ms + i64::from(policy.ttl_seconds) * 1000),
                text(issued_at),
            ])
            .map_err(failed("bind otp_ledger upsert"))?;
        let record = serde_json::to_string(pending).map_err(AppError::internal)?;
        let kv_put = self
            .kv
            .put(&kv_key(email), record)
            .map_err(|e| AppError::internal(format!("kv put: {e}")))?
            .expiration_ttl(u64::from(policy.ttl_seconds));
        // Both writes are independent; run them side by side to save a round trip.
        let (ledger, kv) = futures_util::join!(ledger.run(), kv_put.execute());
        ledger.map_err(failed("write otp_ledger"))?;
        kv.map_err(|e| AppError::internal(format!("kv put: {e}")))?;
        Ok(())
    }

    /// The code pending for the address, if KV still has one.
    pub async fn pending(&self, email: &EmailAddress) -> Result<Option<PendingCode>, AppError> {
        match self.kv.get(&kv_key(email)).text().await {
            Ok(None) => Ok(None),
            Ok(Some(raw)) => serde_json::from_str(&raw)
                .map(Some)
                .map_err(|e| AppError::internal(format!("corrupt otp record: {e}"))),
            Err(e) => Err(AppError::internal(format!("kv get: {e}"))),
        }
    }

    /// Drops the pending code of an address entirely (account deletion).
    pub async fn remove(&self, email: &EmailAddress) -> Result<(), AppError> {
        self.kv
            .delete(&kv_key(email))
            .await
            .map_err(|e| AppError::internal(format!("kv delete: {e}")))?;
        self.db
            .prepare("DELETE FROM otp_ledger WHERE email = ?1")
            .bind(&[text(email.as_str())])
            .map_err(failed("bind otp_ledger delete"))?
            .run()
            .await
            .map_err(failed("otp_ledger delete"))?;
        Ok(())
    }

    /// Ledger rows of codes that expired before `before_ms` are of no further use.
    pub async fn purge_expired(&self, before_ms: i64) -> Result<(), AppError> {
        self.db
            .prepare("DELETE FROM otp_ledger WHERE expires_at < ?1")
            .bind(&[int(before_ms)])
            .map_err(failed("bind otp_ledger purge"))?
            .run()
            .await
            .map_err(failed("otp_ledger purge"))?;
        Ok(())
    }

    /// Records an attempt on a code: one atomic UPDATE, applied only while the
    /// code is live, unused, has attempts left and the address is not locked out.
    /// With `consumer` (the right code) it also uses the code, so of concurrent
    /// requests exactly one wins; without, it only counts a wrong attempt.
    /// `RETURNING` gives the attempts spent; no row means it was refused.
    pub fn record_attempt(
        &self,
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
        self.db
            .prepare(format!(
                "UPDATE otp_ledger SET attempts = attempts + 1, consumed_by = ?3
                 WHERE email = ?1 AND code_id = ?2 AND consumed_by IS NULL
                   AND attempts < ?4 AND expires_at > ?5 AND {}
                 RETURNING attempts",
                lock.sql(own.len() + 1)
            ))
            .bind(&[own.as_slice(), &lock.values()].concat())
            .map_err(failed("bind otp_ledger attempt"))
    }

    /// Why a code could not be counted or used (only read on the failure path).
    pub async fn state(
        &self,
        email: &EmailAddress,
        code_id: &str,
        policy: &OtpPolicy,
        now_ms: i64,
    ) -> Result<LedgerState, AppError> {
        #[derive(Deserialize)]
        struct Row {
            attempts: u32,
        }
        let live = self
            .db
            .prepare(
                "SELECT attempts FROM otp_ledger
                 WHERE email = ?1 AND code_id = ?2 AND consumed_by IS NULL AND expires_at > ?3",
            )
            .bind(&[text(email.as_str()), text(code_id), int(now_ms)])
            .map_err(failed("bind otp_ledger state"))?
            .first::<Row>(None)
            .await
            .map_err(failed("read otp_ledger state"))?;
        Ok(match live {
            Some(row) if row.attempts >= policy.max_attempts => LedgerState::Exhausted,
            // Live with attempts left: a concurrent request changed it between our
            // two statements. Treat as not pending rather than guessing.
            _ => LedgerState::NotPending,
        })
    }
}
