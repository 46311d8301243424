//! The pure core of the service. Nothing in here knows about `worker`:
//! every rule can be exercised natively with `cargo test`.
//!
//! Time and randomness are passed in by the caller, so tests can fix them.

pub mod audit;
pub mod cors;
pub mod deletion;
pub mod deletion_notice;
pub mod device;
pub mod discovery;
pub mod email;
pub mod envelope;
pub mod error;
pub mod events;
pub mod fields;
pub mod ids;
pub mod keys;
pub mod limits;
pub mod login_id;
pub mod oauth;
pub mod otp;
pub mod otp_message;
pub mod place;
pub mod profile;
pub mod refresh;
pub mod requests;
pub mod retention;
pub mod review;
pub mod session_list;
pub mod template;
pub mod token;
pub mod user;
pub mod user_change;
