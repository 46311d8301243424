//! `POST /api/v1/auth/refresh-token`: rotates the refresh token of a session.
//! A retired refresh token presented again means it was copied: the whole
//! session (every token descended from that login) is revoked. The one
//! exception is the token the last rotation retired, presented again within
//! `REFRESH_REUSE_GRACE_SECONDS` (two tabs, a retry after a lost answer): it is
//! answered with the session's current refresh token, and nothing rotates.
//! [`rotate`] is the whole of it past parsing, shared with the token
//! endpoint's `refresh_token` grant (`oauth_token`).

use chrono::Duration;
use worker::Response;

use crate::config::Config;
use crate::domain::audit::{AuditEvent, AuditKind};
use crate::domain::envelope::timestamp;
use crate::domain::error::AppError;
use crate::domain::ids::{random_hex, OsRandom};
use crate::domain::requests::RefreshTokenRequest;
use crate::domain::token::{TokenUse, REFRESH_TTL_SECONDS};
use crate::http::context::RequestCtx;
use crate::http::respond;
use crate::http::session_tokens::{self, SessionTokens};
use crate::platform::log;
use crate::storage::units::refresh::{self, RotateRequest, Rotation};

const REFUSED: AppError =
    AppError::Unauthorized("The refresh token is invalid, expired or revoked");

pub async fn handle(ctx: &RequestCtx) -> Result<Response, AppError> {
    let request = RefreshTokenRequest::parse(ctx.body.json()?)?;
    let config = ctx.config()?;
    let tokens = rotate(ctx, &config, request).await?;
    respond::ok(200, tokens, ctx.now)
}

/// A parsed refresh request → the session's next tokens and its user, or why not.
pub async fn rotate(
    ctx: &RequestCtx,
    config: &Config,
    request: RefreshTokenRequest,
) -> Result<SessionTokens, AppError> {
    let claims = config
        .tokens
        .verify(&request.refresh_token, TokenUse::Refresh, ctx.now)
        .map_err(|why| {
            log::info("refresh_refused", serde_json::json!({"reason": why}));
            REFUSED
        })?;

    let db = ctx.db()?;
    let new_jti = random_hex(&mut OsRandom, 16);
    let rotation = RotateRequest {
        session_id: &claims.sid,
        user_id: &claims.sub,
        presented_jti: &claims.jti,
        new_jti: &new_jti,
        expires_at: &timestamp(ctx.now + Duration::seconds(REFRESH_TTL_SECONDS)),
        now: ctx.now,
        grace_seconds: config.refresh_grace_seconds,
    };
    let (user, jti) = match refresh::rotate(&db, &rotation).await? {
        Rotation::Rotated(user) => (user, new_jti),
        Rotation::Current { user, current_jti } => {
            log::info("refresh_grace", serde_json::json!({"session": claims.sid}));
            (user, current_jti)
        }
        Rotation::Replayed => {
            ctx.audit(
                AuditEvent::new(AuditKind::RefreshReuse)
                    .user(&claims.sub)
                    .detail(claims.sid.clone()),
            );
            return Err(REFUSED);
        }
        Rotation::Refused => return Err(REFUSED),
    };
    session_tokens::issue(config, *user, &claims.sid, jti, ctx.now)
}
