//! What a handler gets: the bindings, the configuration (parsed once per isolate)
//! and the request's clock.

use std::cell::RefCell;
use std::rc::Rc;

use chrono::{DateTime, Utc};
use worker::{D1Database, Env, KvStore};

use super::body::Body;
use crate::config::Config;
use crate::domain::envelope::timestamp;
use crate::domain::error::AppError;
use crate::domain::limits::Refusal;
use crate::storage::audit_log::{self, AuditEvent};

pub const KV_BINDING: &str = "OTP_CODES";
pub const D1_BINDING: &str = "DB";

thread_local! {
    // An isolate serves many requests with the same bindings; parsing keys and
    // vars once saves that work on every request. Only a valid config is kept,
    // so a fixed secret takes effect without waiting for a new isolate.
    static CONFIG: RefCell<Option<Rc<Config>>> = const { RefCell::new(None) };
}

pub struct RequestCtx {
    pub env: Env,
    pub ctx: worker::Context,
    pub now: DateTime<Utc>,
    pub client_ip: Option<String>,
    pub body: Body,
}

/// The isolate's configuration, parsed on first use.
pub fn config(env: &Env) -> Result<Rc<Config>, AppError> {
    if let Some(config) = CONFIG.with(|c| c.borrow().clone()) {
        return Ok(config);
    }
    let loaded = Config::from_lookup(|name| {
        env.secret(name)
            .or_else(|_| env.var(name))
            .ok()
            .map(|v| v.to_string())
    })
    .map(Rc::new)
    .map_err(|problems| AppError::Misconfigured(problems.join("; ")))?;
    CONFIG.with(|c| *c.borrow_mut() = Some(loaded.clone()));
    Ok(loaded)
}

pub fn kv(env: &Env) -> Result<KvStore, AppError> {
    env.kv(KV_BINDING)
        .map_err(|e| AppError::Misconfigured(format!("KV binding {KV_BINDING}: {e}")))
}

pub fn db(env: &Env) -> Result<D1Database, AppError> {
    env.d1(D1_BINDING)
        .map_err(|e| AppError::Misconfigured(format!("D1 binding {D1_BINDING}: {e}")))
}

impl RequestCtx {
    pub fn config(&self) -> Result<Rc<Config>, AppError> {
        config(&self.env)
    }

    pub fn kv(&self) -> Result<KvStore, AppError> {
        kv(&self.env)
    }

    pub fn db(&self) -> Result<D1Database, AppError> {
        db(&self.env)
    }

    pub fn now_ms(&self) -> i64 {
        self.now.timestamp_millis()
    }

    /// The client's address as Cloudflare reports it (absent in some local runs).
    pub fn client_ip(&self) -> String {
        self.client_ip.clone().unwrap_or_else(|| "unknown".into())
    }

    /// Per-IP flood protection through a Workers rate-limiting binding
    /// (`[[ratelimits]]` in wrangler.toml, which also sets limit and period).
    pub async fn limit_ip(&self, binding: &str) -> Result<(), AppError> {
        let limiter = self
            .env
            .rate_limiter(binding)
            .map_err(|e| AppError::Misconfigured(format!("rate limit binding {binding}: {e}")))?;
        let outcome = limiter
            .limit(self.client_ip())
            .await
            .map_err(|e| AppError::internal(format!("rate limiter {binding}: {e}")))?;
        if outcome.success {
            return Ok(());
        }
        // The binding's period is 60 s in wrangler.toml; a window ends within it.
        Err(Refusal::IpFlood {
            retry_after_seconds: 60,
        }
        .into_error(self.now_ms()))
    }

    /// Records a security event after the response, with the client's IP hashed.
    pub fn audit(&self, event: AuditEvent) {
        let (Ok(event), Ok(db)) = (self.with_ip(event), self.db()) else {
            return;
        };
        self.ctx
            .wait_until(audit_log::record(db, timestamp(self.now), event));
    }

    /// The event with the client's IP, hashed, filled in.
    pub fn with_ip(&self, mut event: AuditEvent) -> Result<AuditEvent, AppError> {
        let config = self.config()?;
        event.ip_hash = Some(config.code_hasher.tag("audit-ip", &self.client_ip()));
        Ok(event)
    }
}
