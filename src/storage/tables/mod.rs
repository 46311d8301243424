//! One module per D1 table, named after it: the statements that read and
//! write that table, and the single-statement calls on it. A table module
//! never imports a unit of work, and no two import each other both ways.

pub mod audit_events;
pub mod deletion_notices;
pub mod event_outbox;
pub mod otp_codes;
pub mod rate_limits;
pub mod sessions;
pub mod user_columns;
pub mod users;
