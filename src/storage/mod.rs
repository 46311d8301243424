//! Storage behind narrow functions: KV for the copy of pending codes, D1 for
//! the codes, users, sessions, limits, the audit trail and the event outbox.
//! SQL lives only here.
//!
//! - `statement`: a statement as plain data (SQL, values, row type);
//! - `batch`: a unit of work's statements, read back through typed slots;
//! - `tables/`: the statements of each D1 table;
//! - `units/`: the units of work that span tables, one batch each;
//! - `d1`, `kv`: the bindings, where statements and keys meet the platform.

pub mod batch;
pub mod d1;
pub mod kv;
pub mod statement;
pub mod tables;
pub mod units;

#[cfg(test)]
pub(crate) mod testing;

pub use d1::Db;
pub use kv::Kv;

use worker::Env;

use crate::domain::error::AppError;
use crate::platform::trips::Trips;

pub const KV_BINDING: &str = "OTP_CODES";
pub const D1_BINDING: &str = "DB";

/// The KV namespace of pending codes; its calls count in `trips`.
pub fn kv(env: &Env, trips: &Trips) -> Result<Kv, AppError> {
    env.kv(KV_BINDING)
        .map(|store| Kv::new(store, trips.clone()))
        .map_err(|e| AppError::Misconfigured(format!("KV binding {KV_BINDING}: {e}")))
}

/// The D1 primary: every write, and every read that decides access. Its
/// calls count in `trips`.
pub fn db(env: &Env, trips: &Trips) -> Result<Db, AppError> {
    env.d1(D1_BINDING)
        .map(|database| Db::primary(database, trips.clone()))
        .map_err(|e| AppError::Misconfigured(format!("D1 binding {D1_BINDING}: {e}")))
}

/// A D1 session for reads that tolerate a replica, or for writes whose
/// bookmark goes back to the client (`start`: a bookmark or a constraint).
pub fn db_session(env: &Env, start: Option<&str>, trips: &Trips) -> Result<Db, AppError> {
    env.d1(D1_BINDING)
        .map(|database| Db::session(database, start, trips.clone()))
        .map_err(|e| AppError::Misconfigured(format!("D1 binding {D1_BINDING}: {e}")))
}
