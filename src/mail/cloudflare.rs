//! Cloudflare Email Service through a `send_email` binding (`[[send_email]]`
//! in wrangler.toml): no API key, no HTTP call of ours; the message leaves
//! from Cloudflare's own network.

use std::time::Duration;

use futures_util::future::{select, Either};
use worker::{js_sys, Delay, Env, SendEmailBuilder};

use crate::config::SEND_EMAIL_BINDING;
use crate::domain::email::EmailAddress;
use crate::domain::error::AppError;
use crate::domain::otp_message::Message;

pub async fn send(
    env: &Env,
    from: &str,
    timeout_ms: u32,
    to: &EmailAddress,
    message: &Message,
) -> Result<(), AppError> {
    // A deployment without the binding cannot mail: like a provider that is
    // down, not like a wrong request.
    let binding = env
        .send_email(SEND_EMAIL_BINDING)
        .map_err(|e| AppError::Unavailable {
            what: "email provider",
            cause: format!("send_email binding {SEND_EMAIL_BINDING}: {e}"),
        })?;
    let email = SendEmailBuilder::builder(from, to.as_str(), &message.subject)
        .text(&message.text)
        .html(&message.html)
        .build();
    let call = Box::pin(binding.send_with_builder(&email));
    // A login waits on this call; past the timeout the user is better served by
    // an error and a retry (the same bound as Resend's).
    let timeout = Box::pin(Delay::from(Duration::from_millis(u64::from(timeout_ms))));
    let outcome = match select(call, timeout).await {
        Either::Left((Ok(_), _)) => Ok(()),
        // The binding refuses what the service would not send (an unverified
        // sender, a recipient not allowed, the daily quota spent): rejected.
        Either::Left((Err(e), _)) => Err(AppError::EmailRejected(format!(
            "send_email: {}",
            js_message(&e)
        ))),
        Either::Right(_) => Err(AppError::Unavailable {
            what: "email provider",
            cause: format!("no answer within {timeout_ms} ms"),
        }),
    };
    outcome
}

/// The thrown error's message (a recipient's address may be in it: logged
/// by `respond::log_error` as the cause, like Resend's, never answered).
fn js_message(e: &js_sys::Error) -> String {
    String::from(e.message())
}
