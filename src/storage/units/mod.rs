//! One module per unit of work that spans tables: one D1 batch (one
//! transaction, one round trip), built from the tables' statements and read
//! back through typed slots. Each is split into the batch it builds and the
//! outcome it reads, so native tests run both against SQLite.

pub mod deletion;
pub mod health;
pub mod login;
pub mod logout;
pub mod refresh;
pub mod retention;
pub mod schedule_deletion;
pub mod send;
pub mod user_update;
