//! The storage probe behind `GET /health`.

use crate::domain::error::AppError;
use crate::storage::statement::Statement;
use crate::storage::{Db, Kv};

/// Reads one key from KV and runs a trivial query on D1, side by side. Each
/// side fails on its own (a missing binding too), so the answer names what failed.
pub async fn probe(
    kv: Result<Kv, AppError>,
    db: Result<Db, AppError>,
) -> (Result<(), String>, Result<(), String>) {
    let kv_read = async { kv?.probe().await };
    let d1_read = async {
        let statement: Statement<serde_json::Value> = Statement::new("SELECT 1 AS ok", vec![]);
        db?.rows(statement, "health probe").await.map(|_| ())
    };
    let (kv, d1) = futures_util::join!(kv_read, d1_read);
    let cause = |e: AppError| e.log_cause().unwrap_or_else(|| e.to_string());
    (kv.map_err(cause), d1.map_err(cause))
}
