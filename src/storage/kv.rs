//! The KV namespace of pending codes: a copy of an address's usable codes
//! (their hashes), written where the code is sent and read first where it is
//! typed, expired by KV. D1 (`tables::otp_codes`) is the authority, so a
//! location whose copy is missing or stale still decides correctly.

use worker::KvStore;

use crate::domain::email::EmailAddress;
use crate::domain::error::AppError;
use crate::domain::otp::{OtpPolicy, PendingCodes};
use crate::platform::trips::{Kind, Trips};
use crate::platform::{fault, Context};

/// The KV namespace, with the request's round-trip count.
pub struct Kv {
    store: KvStore,
    trips: Trips,
}

fn key(email: &str) -> String {
    format!("otp:{email}")
}

impl Kv {
    pub fn new(store: KvStore, trips: Trips) -> Self {
        Self { store, trips }
    }

    /// Writes the address's usable codes (the new one first), where this
    /// location's verifies read them first.
    pub async fn remember(
        &self,
        email: &EmailAddress,
        codes: &PendingCodes,
        policy: &OtpPolicy,
    ) -> Result<(), AppError> {
        let record = serde_json::to_string(codes).map_err(AppError::internal)?;
        fault("kv")?;
        let _trip = self.trips.start(Kind::Kv);
        // As bytes: `put` would take the string through serde_wasm_bindgen (and
        // number formatting) only to get the same string back.
        self.store
            .put_bytes(&key(email.as_str()), record.as_bytes())
            .context("kv put")?
            .expiration_ttl(u64::from(policy.ttl_seconds))
            .execute()
            .await
            .context("kv put")
    }

    /// The codes KV holds for the address where this request runs. Missing, or
    /// in a shape this version does not write, means none: D1 then decides.
    pub async fn pending(&self, email: &EmailAddress) -> Result<PendingCodes, AppError> {
        fault("kv")?;
        let trip = self.trips.start(Kind::Kv);
        let raw = self
            .store
            .get(&key(email.as_str()))
            .text()
            .await
            .context("kv get")?;
        drop(trip);
        Ok(raw
            .and_then(|raw| serde_json::from_str(&raw).ok())
            .unwrap_or_default())
    }

    /// Drops the copy of an address's codes (a withdrawn send, a deletion).
    pub async fn forget(&self, email: &str) -> Result<(), AppError> {
        fault("kv")?;
        let _trip = self.trips.start(Kind::Kv);
        self.store.delete(&key(email)).await.context("kv delete")
    }

    /// Reads one key, for `/health`.
    pub async fn probe(&self) -> Result<(), AppError> {
        fault("kv")?;
        let _trip = self.trips.start(Kind::Kv);
        self.store
            .get("health:probe")
            .text()
            .await
            .map(|_| ())
            .context("kv probe")
    }
}
