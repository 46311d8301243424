//! The edge: everything that touches `worker` on the way in and out.
//! A request is routed, its body parsed into domain types, handled, and its
//! result turned into the envelope by `respond`.

mod auth;
mod body;
mod bookmark;
pub mod context;
mod cors;
mod entry;
pub mod handlers;
pub mod respond;
pub mod router;
mod session_tokens;
pub mod status;
