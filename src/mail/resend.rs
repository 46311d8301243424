//! Resend's HTTP API: `POST {api_url}/emails` with a bearer key.

use std::time::Duration;

use futures_util::future::{select, Either};
use worker::{Delay, Fetch, Headers, Method, Request, RequestInit};

use crate::domain::email::EmailAddress;
use crate::domain::error::AppError;
use crate::domain::otp_message::Message;

pub async fn send(
    api_url: &str,
    api_key: &str,
    from: &str,
    timeout_ms: u32,
    to: &EmailAddress,
    message: &Message,
) -> Result<(), AppError> {
    let body = serde_json::json!({
        "from": from,
        "to": [to.as_str()],
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
    });
    let headers = Headers::new();
    let set = |name: &str, value: &str| {
        headers
            .set(name, value)
            .map_err(|e| AppError::internal(format!("mail header {name}: {e}")))
    };
    set("Authorization", &format!("Bearer {api_key}"))?;
    set("Content-Type", "application/json")?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(body.to_string().into()));
    let request = Request::new_with_init(&format!("{api_url}/emails"), &init)
        .map_err(|e| AppError::internal(format!("mail request: {e}")))?;

    let fetch = Fetch::Request(request);
    let call = Box::pin(fetch.send());
    // A login waits on this call; past the timeout the user is better served by
    // an error and a retry.
    let timeout = Box::pin(Delay::from(Duration::from_millis(u64::from(timeout_ms))));
    let response = match select(call, timeout).await {
        Either::Left((result, _)) => result.map_err(|e| AppError::Unavailable {
            what: "email provider",
            cause: e.to_string(),
        })?,
        Either::Right(_) => {
            return Err(AppError::Unavailable {
                what: "email provider",
                cause: format!("no answer within {timeout_ms} ms"),
            })
        }
    };
    match response.status_code() {
        200..=299 => Ok(()),
        status => Err(AppError::EmailRejected(format!("HTTP {status}"))),
    }
}
