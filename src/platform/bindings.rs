//! The worker's bindings, by name, and the configuration parsed once per isolate.
//! The fetch handler and the Cron Trigger both come through here.

use std::cell::RefCell;
use std::rc::Rc;

use worker::{Env, Queue};

use crate::config::{Config, Webhooks};
use crate::domain::cors::CorsPolicy;
use crate::domain::error::AppError;

pub const EVENTS_BINDING: &str = "EVENTS";

thread_local! {
    // An isolate serves many requests with the same bindings; parsing keys and
    // vars once saves that work on every request. Only a valid config is kept,
    // so a fixed secret takes effect without waiting for a new isolate.
    static CONFIG: RefCell<Option<Rc<Config>>> = const { RefCell::new(None) };
}

/// The isolate's configuration, parsed on first use, or every problem found
/// (settings by name, never their values: `/health` shows them).
pub fn load_config(env: &Env) -> Result<Rc<Config>, Vec<String>> {
    if let Some(config) = CONFIG.with(|c| c.borrow().clone()) {
        return Ok(config);
    }
    let loaded = Rc::new(Config::for_this_build(lookup(env))?);
    CONFIG.with(|c| *c.borrow_mut() = Some(loaded.clone()));
    Ok(loaded)
}

/// A setting by name: the secret, else the var.
fn lookup(env: &Env) -> impl Fn(&str) -> Option<String> + '_ {
    |name| {
        env.secret(name)
            .or_else(|_| env.var(name))
            .ok()
            .map(|v| v.to_string())
    }
}

/// Which browser origins may read answers. Read from the whole configuration
/// when it loads; when it does not (a secret missing), from its one setting,
/// so an allowed page still reads the 500 that says so instead of a CORS error.
pub fn cors_policy(env: &Env) -> CorsPolicy {
    match load_config(env) {
        Ok(config) => config.cors.clone(),
        Err(_) => lookup(env)("CORS_ALLOWED_ORIGINS")
            .map_or(Ok(CorsPolicy::Closed), |raw| CorsPolicy::parse(&raw))
            .unwrap_or(CorsPolicy::Closed),
    }
}

/// Where events go and how they are signed. Read on each use (a split and a
/// base64 decode), so a fix takes effect without waiting for a new isolate.
pub fn webhooks(env: &Env) -> Result<Webhooks, AppError> {
    Webhooks::from_lookup(lookup(env))
        .map_err(|problems| AppError::Misconfigured(problems.join("; ")))
}

/// Whether no receivers are configured: events then have nowhere to go, and
/// requests publish none (the Cron Trigger marks them sent). A webhook setting
/// that does not parse is not "none": its events wait until it is fixed.
pub fn no_webhook_receivers(env: &Env) -> bool {
    webhooks(env).is_ok_and(|webhooks| webhooks.receivers.is_empty())
}

/// The queue that carries events to the webhook consumer.
pub fn events_queue(env: &Env) -> Result<Queue, AppError> {
    env.queue(EVENTS_BINDING)
        .map_err(|e| AppError::Misconfigured(format!("queue binding {EVENTS_BINDING}: {e}")))
}

/// The isolate's configuration; a bad one is a 500 whose cause is logged.
pub fn config(env: &Env) -> Result<Rc<Config>, AppError> {
    load_config(env).map_err(|problems| AppError::Misconfigured(problems.join("; ")))
}
