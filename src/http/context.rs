//! What a handler gets: the bindings, the configuration (parsed once per isolate)
//! and the request's clock.

use std::rc::Rc;

use chrono::{DateTime, Utc};
use worker::Env;

use super::body::Body;
use crate::config::Config;
use crate::domain::audit::AuditEvent;
use crate::domain::envelope::timestamp;
use crate::domain::error::AppError;
use crate::domain::events::Event;
use crate::domain::limits::{client_block, client_network, Refusal};
use crate::platform::trips::{Kind, Trips};
use crate::platform::{bindings, log, Context};
use crate::storage::tables::audit_events;
use crate::storage::tables::event_outbox::Unsent;
use crate::storage::{self, Db, Kv};
use crate::webhooks;

pub struct RequestCtx {
    pub env: Env,
    pub ctx: worker::Context,
    pub now: DateTime<Utc>,
    pub client_ip: Option<String>,
    /// Where the request came from, for the code email.
    pub whence: Whence,
    pub body: Body,
    /// This request's storage round trips, for its log line.
    pub trips: Trips,
}

/// What the edge says about the requester, as much as the code email tells
/// (no address): `request.cf`'s country and city (absent locally) and the
/// User-Agent (never shown as it is: `domain::device` names the device).
#[derive(Debug, Clone, Default)]
pub struct Whence {
    pub country: Option<String>,
    pub city: Option<String>,
    pub user_agent: String,
}

impl Whence {
    pub fn of(req: &worker::Request) -> Self {
        let cf = req.cf();
        Self {
            country: cf.and_then(worker::Cf::country),
            city: cf.and_then(worker::Cf::city),
            user_agent: req
                .headers()
                .get("user-agent")
                .ok()
                .flatten()
                .unwrap_or_default(),
        }
    }
}

impl RequestCtx {
    pub fn config(&self) -> Result<Rc<Config>, AppError> {
        bindings::config(&self.env)
    }

    /// What is wrong with the configuration (nothing when it is valid).
    pub fn config_problems(&self) -> Vec<String> {
        bindings::load_config(&self.env).err().unwrap_or_default()
    }

    pub fn kv(&self) -> Result<Kv, AppError> {
        storage::kv(&self.env, &self.trips)
    }

    pub fn db(&self) -> Result<Db, AppError> {
        storage::db(&self.env, &self.trips)
    }

    /// A D1 session starting at `start` (a bookmark, `first-primary` or
    /// `first-unconstrained`): reads near the user, bookmarks for the client.
    pub fn db_session(&self, start: Option<&str>) -> Result<Db, AppError> {
        storage::db_session(&self.env, start, &self.trips)
    }

    pub fn now_ms(&self) -> i64 {
        self.now.timestamp_millis()
    }

    pub fn timestamp(&self) -> String {
        timestamp(self.now)
    }

    /// The client's address as Cloudflare reports it (absent in some local runs).
    pub fn client_ip(&self) -> &str {
        self.client_ip.as_deref().unwrap_or("unknown")
    }

    /// Flood protection per client network (the IPv4 address, or the IPv6 /64)
    /// and, for IPv6, per /48 in aggregate (`block`), through Workers
    /// rate-limiting bindings (`[[ratelimits]]` in wrangler.toml, which also
    /// set limits and periods). Both are asked side by side.
    pub async fn limit_ip(&self, network: &str, block: &str) -> Result<(), AppError> {
        let ip = self.client_ip();
        let per_block = async {
            match client_block(ip) {
                Some(prefix) => self.rate_limited(block, prefix).await,
                None => Ok(false),
            }
        };
        let (network, block) =
            futures_util::join!(self.rate_limited(network, client_network(ip)), per_block);
        if network? || block? {
            // The binding's period is 60 s in wrangler.toml; a window ends within it.
            return Err(Refusal::IpFlood {
                retry_after_seconds: 60,
            }
            .into_error(self.now_ms()));
        }
        Ok(())
    }

    /// A ceiling over every client of this location (one shared key).
    pub async fn limit_global(&self, binding: &str) -> Result<(), AppError> {
        if self.rate_limited(binding, "all".into()).await? {
            return Err(Refusal::MailCeiling {
                retry_after_seconds: 60,
            }
            .into_error(self.now_ms()));
        }
        Ok(())
    }

    async fn rate_limited(&self, binding: &str, key: String) -> Result<bool, AppError> {
        let limiter = self
            .env
            .rate_limiter(binding)
            .map_err(|e| AppError::Misconfigured(format!("rate limit binding {binding}: {e}")))?;
        let _trip = self.trips.start(Kind::Limiter);
        let outcome = limiter.limit(key).await.context("rate limiter")?;
        Ok(!outcome.success)
    }

    /// Records a security event after the response, with the client's IP
    /// hashed. Best effort: a write that fails is logged, never the caller's.
    pub fn audit(&self, event: AuditEvent) {
        // After the response: not on the request's critical path, not counted.
        let db = storage::db(&self.env, &Trips::default());
        let (Ok(event), Ok(db)) = (self.with_ip(event), db) else {
            return;
        };
        let at = self.timestamp();
        self.ctx.wait_until(async move {
            if let Err(err) = audit_events::record(&db, &at, &event).await {
                log::error(
                    "audit_write_failed",
                    serde_json::json!({"audit": event.kind.as_str(), "cause": err.log_cause()}),
                );
            }
        });
    }

    /// Puts an event this request wrote to the outbox on the EVENTS queue,
    /// after the response (webhook delivery never delays an answer). If that
    /// fails, the event stays in the outbox and the Cron Trigger sends it.
    pub fn publish(&self, event: &Event) {
        // With no receivers there is nothing to send, and marking this one
        // event sent would cost a D1 call per request: the Cron Trigger marks
        // the outbox's leftovers sent, all in one statement, instead.
        if bindings::no_webhook_receivers(&self.env) {
            return;
        }
        let Ok(db) = storage::db(&self.env, &Trips::default()) else {
            return;
        };
        let (env, events, at) = (self.env.clone(), [Unsent::from(event)], self.timestamp());
        self.ctx.wait_until(async move {
            if let Err(err) = webhooks::publish::publish(&env, &db, &events, &at).await {
                log::error(
                    "event_publish_failed",
                    serde_json::json!({"id": events[0].id, "cause": err.log_cause()}),
                );
            }
        });
    }

    /// The event with the client's IP, hashed, filled in.
    pub fn with_ip(&self, mut event: AuditEvent) -> Result<AuditEvent, AppError> {
        let config = self.config()?;
        event.ip_hash = Some(config.keys.audit_tag("ip", self.client_ip()));
        Ok(event)
    }
}
