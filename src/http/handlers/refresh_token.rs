//! `POST /api/v1/auth/refresh-token`: rotates the refresh token of a session.
//! A retired refresh token presented again means it was copied: the whole
//! session (every token descended from that login) is revoked.

use chrono::Duration;
use worker::Response;

use super::session_tokens;
use crate::domain::audit::{AuditEvent, AuditKind};
use crate::domain::envelope::timestamp;
use crate::domain::error::AppError;
use crate::domain::ids::{random_hex, OsRandom};
use crate::domain::requests::RefreshTokenRequest;
use crate::domain::token::{TokenUse, REFRESH_TTL_SECONDS};
use crate::http::context::RequestCtx;
use crate::http::respond;
use crate::platform::log;
use crate::storage::session_repo::{self, RotateRequest, Rotation};

const REFUSED: AppError =
    AppError::Unauthorized("The refresh token is invalid, expired or revoked");

pub async fn handle(ctx: &RequestCtx) -> Result<Response, AppError> {
    let request = RefreshTokenRequest::parse(ctx.body.json()?)?;
    let config = ctx.config()?;
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
        now: &ctx.timestamp(),
    };
    match session_repo::rotate(&db, &rotation).await? {
        Rotation::Rotated(user) => {
            let data = session_tokens::issue(&config, *user, &claims.sid, new_jti, ctx.now)?;
            respond::ok(200, data, ctx.now)
        }
        Rotation::Replayed => {
            ctx.audit(
                AuditEvent::new(AuditKind::RefreshReuse)
                    .user(&claims.sub)
                    .detail(claims.sid.clone()),
            );
            Err(REFUSED)
        }
        Rotation::Refused => Err(REFUSED),
    }
}
