//! Cloudflare Turnstile's siteverify API: `POST {verify_url}` with the secret
//! and the token the widget gave the client; `{"success": true}` means solved.
//! Asked only when an address's daily failure budget is spent.

use std::time::Duration;

use futures_util::future::{select, Either};
use serde::Deserialize;
use worker::{Delay, Fetch, Headers, Method, Request, RequestInit};

use crate::config::Turnstile;
use crate::domain::error::AppError;
use crate::platform::trips::{Kind, Trips};
use crate::platform::Context;

/// How long a send waits for Turnstile before giving up.
const TIMEOUT_MS: u64 = 5_000;

#[derive(Deserialize)]
struct Verdict {
    success: bool,
}

/// Whether `token` is a solved challenge for this client.
pub async fn solved(
    trips: &Trips,
    turnstile: &Turnstile,
    token: &str,
    client_ip: &str,
) -> Result<bool, AppError> {
    let body = serde_json::json!({
        "secret": turnstile.secret,
        "response": token,
        "remoteip": client_ip,
    });
    let headers = Headers::new();
    headers
        .set("Content-Type", "application/json")
        .context("turnstile header")?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(body.to_string().into()));
    let request =
        Request::new_with_init(&turnstile.verify_url, &init).context("turnstile request")?;

    let _trip = trips.start(Kind::Challenge);
    let fetch = Fetch::Request(request);
    let call = Box::pin(fetch.send());
    let timeout = Box::pin(Delay::from(Duration::from_millis(TIMEOUT_MS)));
    let unavailable = |cause: String| AppError::Unavailable {
        what: "challenge service",
        cause,
    };
    let mut response = match select(call, timeout).await {
        Either::Left((result, _)) => result.map_err(|e| unavailable(e.to_string()))?,
        Either::Right(_) => return Err(unavailable(format!("no answer within {TIMEOUT_MS} ms"))),
    };
    if !(200..=299).contains(&response.status_code()) {
        return Err(unavailable(format!("HTTP {}", response.status_code())));
    }
    let verdict: Verdict = response
        .json()
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    Ok(verdict.success)
}
