//! Work done on the Cron Trigger rather than in a request.

pub mod account_deletion;
pub mod deletion_notices;
pub mod events;
pub mod retention;
