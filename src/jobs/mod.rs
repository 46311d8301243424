//! Work done on the Cron Trigger rather than in a request.

pub mod account_deletion;
pub mod events;
pub mod retention;
