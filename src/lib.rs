//! Allmine's login service: email one-time codes, users in D1, EdDSA tokens.
//!
//! Data flows top to bottom: `http` (routing, parsing at the border) →
//! `domain` (pure rules) → `storage` / `mail` (KV, D1, the email provider) →
//! `http::respond` (the one place results become the envelope). `jobs` is the
//! Cron Trigger's entry into the same domain and storage; `webhooks` carries
//! the outbox's events over the EVENTS queue to downstream services;
//! `platform` holds the bindings, the log line and the error idiom that the
//! others stand on.

pub mod challenge;
pub mod config;
pub mod domain;
pub mod http;
pub mod jobs;
pub mod mail;
pub mod platform;
pub mod storage;
pub mod webhooks;
