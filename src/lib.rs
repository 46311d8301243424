//! Allmine's login service: email one-time codes, users in D1, EdDSA tokens.
//!
//! Data flows top to bottom: `http` (routing, parsing at the border) →
//! `domain` (pure rules) → `storage` / `mail` (KV, D1, the email provider) →
//! `http::respond` (the one place results become the envelope).

pub mod config;
pub mod domain;
pub mod http;
pub mod jobs;
pub mod mail;
pub mod storage;
