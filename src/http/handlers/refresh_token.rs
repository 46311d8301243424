//! `POST /api/v1/auth/refresh-token`: rotates the refresh token of a session.
//! A retired refresh token presented again means it was copied: the whole
//! session (every token descended from that login) is revoked.

use chrono::Duration;
use worker::Response;

use super::session_tokens;
use crate::domain::envelope::timestamp;
use crate::domain::error::AppError;
use crate::domain::ids::{random_hex, OsRandom};
use crate::domain::requests::RefreshTokenRequest;
use crate::domain::token::{TokenUse, REFRESH_TTL_SECONDS};
use crate::http::context::RequestCtx;
use crate::http::respond;
use crate::storage::audit_log::AuditEvent;
use crate::storage::session_repo::SessionRepo;
use crate::storage::user_repo::{first_user, UserRepo};

const REFUSED: AppError =
    AppError::Unauthorized("The refresh token is invalid, expired or revoked");

pub async fn handle(ctx: &RequestCtx) -> Result<Response, AppError> {
    let request = RefreshTokenRequest::parse(ctx.body.json()?)?;
    let config = ctx.config()?;
    let claims = config
        .tokens
        .verify(&request.refresh_token, TokenUse::Refresh, ctx.now)
        .map_err(|why| {
            worker::console_log!(
                "{}",
                serde_json::json!({"event": "refresh_refused", "reason": why})
            );
            REFUSED
        })?;

    let db = ctx.db()?;
    let sessions = SessionRepo { db: &db };
    let now = timestamp(ctx.now);
    let new_jti = random_hex(&mut OsRandom, 16);
    let expires_at = timestamp(ctx.now + Duration::seconds(REFRESH_TTL_SECONDS));
    // Rotation and the user read in one transaction: the user is read only
    // through the session's new `jti`, i.e. only if this request rotated it.
    let results = db
        .batch(vec![
            sessions.rotate(
                &claims.sid,
                &claims.sub,
                &claims.jti,
                &new_jti,
                &expires_at,
                &now,
            )?,
            UserRepo { db: &db }.select_by_session_jti(&claims.sid, &new_jti)?,
        ])
        .await
        .map_err(|e| AppError::internal(format!("refresh batch: {e}")))?;
    if let Some(user) = results.get(1).map(first_user).transpose()?.flatten() {
        let data = session_tokens::issue(&config, user, &claims.sid, new_jti, ctx.now)?;
        return respond::ok(200, data, ctx.now);
    }

    // Not rotated. If the session is live but has moved on to another token,
    // this one was retired earlier: someone is replaying it.
    if let Some(session) = sessions.find(&claims.sid).await? {
        let replayed = session.revoked_at.is_none()
            && session.user_id == claims.sub
            && session.refresh_jti != claims.jti;
        if replayed {
            sessions
                .revoke(Some(&claims.sid), &claims.sub, "refresh_reuse", &now)?
                .run()
                .await
                .map_err(|e| AppError::internal(format!("revoke on reuse: {e}")))?;
            ctx.audit(AuditEvent {
                event: "refresh_reuse",
                user_id: Some(claims.sub.clone()),
                detail: Some(claims.sid.clone()),
                ..AuditEvent::default()
            });
        }
    }
    Err(REFUSED)
}
