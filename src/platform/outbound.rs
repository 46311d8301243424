//! Outbound HTTP with a deadline: `fetch` has none of its own, and a caller
//! waiting on a receiver that never answers would wait as long as the platform
//! lets it.

use std::time::Duration;

use futures_util::future::{select, Either};
use worker::{Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect, Response};

/// POSTs `body` as JSON with `headers`. `Err` says why no answer came: the
/// request could not be made or sent, or nothing arrived within `timeout`.
/// A redirect is not followed but returned as the answer (a 3xx): following
/// it would send the body, and its signature, to a host nobody configured.
pub async fn post_json(
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
    timeout: Duration,
) -> Result<Response, String> {
    let all = Headers::new();
    for (name, value) in [("Content-Type", "application/json")].iter().chain(headers) {
        all.set(name, value)
            .map_err(|e| format!("header {name}: {e}"))?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(all)
        .with_body(Some(body.into()))
        .with_redirect(RequestRedirect::Manual);
    let request = Request::new_with_init(url, &init).map_err(|e| format!("request: {e}"))?;
    let fetch = Fetch::Request(request);
    let call = Box::pin(fetch.send());
    let deadline = Box::pin(Delay::from(timeout));
    let answer = match select(call, deadline).await {
        Either::Left((result, _)) => result.map_err(|e| e.to_string()),
        Either::Right(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
    };
    answer
}
