//! Storage behind narrow functions: KV for pending codes, D1 for the ledger,
//! users and sessions. Each call names what it does; SQL lives only here.

pub mod audit_log;
pub mod limit_store;
pub mod otp_store;
pub mod session_repo;
pub mod user_repo;

use worker::wasm_bindgen::JsValue;

use crate::domain::error::AppError;

/// A storage failure with the operation it interrupted, for the log.
pub(crate) fn failed(what: &'static str) -> impl FnOnce(worker::Error) -> AppError {
    move |err| AppError::Internal(format!("{what}: {err}"))
}

/// D1 binds JavaScript values; integers travel as numbers (exact up to 2^53).
pub(crate) fn int(n: i64) -> JsValue {
    JsValue::from_f64(n as f64)
}

pub(crate) fn text(s: &str) -> JsValue {
    JsValue::from_str(s)
}

/// Text, or SQL NULL when absent.
pub(crate) fn opt_text(s: Option<&str>) -> JsValue {
    s.map_or(JsValue::NULL, text)
}

/// The rows of statement `index` of a batch.
pub fn batch_rows<T: serde::de::DeserializeOwned>(
    results: &[worker::D1Result],
    index: usize,
) -> Result<Vec<T>, AppError> {
    results
        .get(index)
        .ok_or_else(|| AppError::internal(format!("batch has no result {index}")))?
        .results::<T>()
        .map_err(|e| AppError::internal(format!("batch result {index}: {e}")))
}
