//! `POST /api/v1/auth/send-otp-email`: draws a code, mails it, stores its hash.

use serde::Serialize;
use worker::{Request, Response};

use crate::domain::envelope::timestamp;
use crate::domain::error::AppError;
use crate::domain::ids::OsRandom;
use crate::domain::otp;
use crate::domain::otp_message;
use crate::domain::requests::SendOtpRequest;
use crate::http::context::RequestCtx;
use crate::http::{body, respond};
use crate::mail;
use crate::storage::otp_store::OtpStore;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CodeSent {
    expires_in: u32,
    code_length: u8,
}

/// Answers the same whether or not an account exists, so it reveals nothing.
pub async fn handle(mut req: Request, ctx: &RequestCtx) -> Result<Response, AppError> {
    let request = SendOtpRequest::parse(&body::json_bytes(&mut req).await?)?;
    let config = ctx.config()?;

    let issued = otp::issue(
        &request.email,
        &config.otp,
        &config.code_hasher,
        &mut OsRandom,
    );
    let message = otp_message::compose(&issued.code, config.otp.ttl_seconds, request.locale);
    // Mail first: if delivery fails nothing was stored, so no code is left usable
    // that its owner never received.
    mail::send(&config.mail, &request.email, &message).await?;

    let (kv, db) = (ctx.kv()?, ctx.db()?);
    OtpStore { kv: &kv, db: &db }
        .save(
            &request.email,
            &issued.pending,
            &config.otp,
            ctx.now_ms(),
            &timestamp(ctx.now),
        )
        .await?;

    respond::ok(
        200,
        CodeSent {
            expires_in: config.otp.ttl_seconds,
            code_length: config.otp.length,
        },
        ctx.now,
    )
}
