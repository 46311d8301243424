//! `POST /api/v1/auth/send-otp-email`: draws a code, mails it, stores its hash.

use serde::Serialize;
use worker::Response;

use crate::domain::audit::{AuditEvent, AuditKind};
use crate::domain::error::AppError;
use crate::domain::ids::OsRandom;
use crate::domain::limits::Keys;
use crate::domain::otp;
use crate::domain::otp_message;
use crate::domain::requests::SendOtpRequest;
use crate::http::context::RequestCtx;
use crate::http::respond;
use crate::mail;
use crate::storage::{limit_store, otp_store};

pub const IP_LIMITER: &str = "IP_SEND_LIMITER";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CodeSent {
    expires_in: u32,
    code_length: u8,
    /// Seconds before another code can be requested for this address.
    resend_after: u32,
}

/// Answers the same whether or not an account exists, so it reveals nothing.
pub async fn handle(ctx: &RequestCtx) -> Result<Response, AppError> {
    ctx.limit_ip(IP_LIMITER).await?;
    let request = SendOtpRequest::parse(ctx.body.json()?)?;
    let config = ctx.config()?;
    let (kv, db) = (ctx.kv()?, ctx.db()?);
    let now_ms = ctx.now_ms();

    let email_hash = config.code_hasher.tag("email", request.email.as_str());
    let keys = Keys::for_address(&email_hash);
    if let Some(refusal) = limit_store::admit_send(&db, &keys, &config.limits, now_ms).await? {
        return Err(refusal.into_error(now_ms));
    }

    let issued = otp::issue(
        &request.email,
        &config.otp,
        &config.code_hasher,
        &mut OsRandom,
    );
    let message = otp_message::compose(&issued.code, config.otp.ttl_seconds, request.locale);
    // Mail first: if delivery fails nothing was stored, so no code is left usable
    // that its owner never received, and the cooldown is given back so that a
    // retry is not refused for a code that never arrived.
    if let Err(err) = mail::send(&ctx.trips, &config.mail, &request.email, &message).await {
        if let Err(release) = limit_store::release_cooldown(&db, &keys, now_ms).await {
            // The limits then stay as taken: a retry waits out the cooldown.
            respond::log_error(&release);
        }
        return Err(err);
    }

    otp_store::save(
        &kv,
        &db,
        &request.email,
        &issued.pending,
        &config.otp,
        now_ms,
        &ctx.timestamp(),
    )
    .await?;
    ctx.audit(AuditEvent::new(AuditKind::CodeSent).email_hash(&email_hash));

    respond::ok(
        200,
        CodeSent {
            expires_in: config.otp.ttl_seconds,
            code_length: config.otp.length,
            resend_after: config.limits.resend_cooldown_seconds,
        },
        ctx.now,
    )
}
