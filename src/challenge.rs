//! Cloudflare Turnstile's siteverify API: `POST {verify_url}` with the secret
//! and the token the widget gave the client; `{"success": true}` means solved,
//! if it was solved on one of our sites for the send action. Asked only when
//! an address's daily failure budget is spent and the send brought a token.

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
    #[serde(default)]
    hostname: Option<String>,
    #[serde(default)]
    action: Option<String>,
}

impl Verdict {
    /// Solved, on a site and for the action this service expects.
    fn accepted(&self, turnstile: &Turnstile) -> bool {
        let site = turnstile.hostnames.is_empty()
            || self.hostname.as_ref().is_some_and(|h| {
                turnstile
                    .hostnames
                    .iter()
                    .any(|ok| ok.eq_ignore_ascii_case(h))
            });
        let action = turnstile
            .action
            .as_ref()
            .is_none_or(|want| self.action.as_ref() == Some(want));
        self.success && site && action
    }
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
    Ok(verdict.accepted(turnstile))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turnstile(hostnames: &[&str], action: Option<&str>) -> Turnstile {
        Turnstile {
            secret: "s".into(),
            verify_url: "http://localhost".into(),
            hostnames: hostnames.iter().map(|h| h.to_string()).collect(),
            action: action.map(str::to_string),
        }
    }

    fn verdict(success: bool, hostname: Option<&str>, action: Option<&str>) -> Verdict {
        Verdict {
            success,
            hostname: hostname.map(str::to_string),
            action: action.map(str::to_string),
        }
    }

    #[test]
    fn a_solved_challenge_counts_only_on_our_sites_for_the_send_action() {
        let ours = turnstile(&["allmine.app"], Some("send-otp-email"));
        assert!(verdict(true, Some("allmine.app"), Some("send-otp-email")).accepted(&ours));
        assert!(verdict(true, Some("ALLMINE.app"), Some("send-otp-email")).accepted(&ours));
        assert!(!verdict(false, Some("allmine.app"), Some("send-otp-email")).accepted(&ours));
        assert!(!verdict(true, Some("evil.example"), Some("send-otp-email")).accepted(&ours));
        assert!(!verdict(true, None, Some("send-otp-email")).accepted(&ours));
        assert!(!verdict(true, Some("allmine.app"), Some("signup")).accepted(&ours));
        assert!(!verdict(true, Some("allmine.app"), None).accepted(&ours));
    }

    #[test]
    fn unconfigured_site_and_action_are_not_checked() {
        let any = turnstile(&[], None);
        assert!(verdict(true, None, None).accepted(&any));
        assert!(!verdict(false, None, None).accepted(&any));
    }
}
