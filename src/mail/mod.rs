//! Sending email (the code, the deletion notice) through the configured provider.

mod cloudflare;
mod resend;

use worker::Env;

use crate::config::MailConfig;
use crate::domain::email::EmailAddress;
use crate::domain::error::AppError;
use crate::domain::otp_message::Message;
use crate::platform::trips::{Kind, Trips};
use crate::platform::{fault, log};

/// Delivers `message` to `to`. An error means the provider did not accept
/// it: a code it carries must not become usable.
pub async fn send(
    env: &Env,
    trips: &Trips,
    config: &MailConfig,
    to: &EmailAddress,
    message: &Message,
) -> Result<(), AppError> {
    fault("mail")?;
    let _trip = trips.start(Kind::Mail);
    match config {
        MailConfig::Log => {
            // Development only (refused in production by `Config`): the developer
            // reads the code from the `wrangler dev` console.
            log::info(
                "otp_mail_logged",
                serde_json::json!({"to": to.as_str(), "subject": message.subject, "text": message.text}),
            );
            Ok(())
        }
        MailConfig::Resend {
            api_url,
            api_key,
            from,
            timeout_ms,
        } => resend::send(api_url, api_key, from, *timeout_ms, to, message).await,
        MailConfig::Cloudflare { from, timeout_ms } => {
            cloudflare::send(env, from, *timeout_ms, to, message).await
        }
    }
}
