//! The storage probe behind `GET /health`.

use super::{Db, Kv};
use crate::domain::error::AppError;
use crate::platform::fault;
use crate::platform::trips::Kind;

/// Reads one key from KV and runs a trivial query on D1, side by side. Each
/// side fails on its own (a missing binding too), so the answer names what failed.
pub async fn probe(
    kv: Result<Kv, AppError>,
    db: Result<Db, AppError>,
) -> (Result<(), String>, Result<(), String>) {
    let kv_read = async {
        let kv = kv.map_err(|e| e.to_string())?;
        fault("kv").map_err(|e| e.to_string())?;
        let _trip = kv.trips.start(Kind::Kv);
        kv.store
            .get("health:probe")
            .text()
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let d1_read = async {
        let db = db.map_err(|e| e.to_string())?;
        let statement = db
            .statement("SELECT 1 AS ok", &[])
            .map_err(|e| e.to_string())?;
        db.rows::<serde_json::Value>(statement, "health probe")
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    futures_util::join!(kv_read, d1_read)
}
