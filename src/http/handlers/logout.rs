//! `POST /api/v1/auth/logout`: ends this session, or with `allSessions` every
//! session of the user (and tells downstream services: `session.revoked_all`).

use serde::Serialize;
use worker::{Request, Response};

use crate::domain::audit::{AuditEvent, AuditKind};
use crate::domain::error::AppError;
use crate::domain::events::Event;
use crate::domain::ids::OsRandom;
use crate::domain::requests::LogoutRequest;
use crate::domain::token::TokenUse;
use crate::http::context::RequestCtx;
use crate::http::{auth, respond};
use crate::storage::units::logout;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LoggedOut {
    revoked_sessions: usize,
}

pub async fn handle(req: Request, ctx: &RequestCtx) -> Result<Response, AppError> {
    let access = auth::access_claims(&req, ctx)?;
    let request = LogoutRequest::parse(ctx.body.json()?)?;
    let session_id = match (&request.refresh_token, request.all_sessions) {
        (_, true) => None,
        (Some(token), false) => {
            let refresh = ctx
                .config()?
                .tokens
                .verify(token, TokenUse::Refresh, ctx.now)
                .map_err(|_| AppError::Unauthorized("The refresh token is invalid or expired"))?;
            // A user may end only their own sessions.
            if refresh.sub != access.sub {
                return Err(AppError::Unauthorized(
                    "The refresh token belongs to another user",
                ));
            }
            Some(refresh.sid)
        }
        (None, false) => return Err(AppError::validation("refreshToken is required")),
    };
    // Logging out everywhere tells downstream services (same batch).
    let revoked_all = session_id
        .is_none()
        .then(|| Event::sessions_revoked_all(&mut OsRandom, &access.sub, ctx.now));
    // The caller's own session must be live: a signature and an expiry alone
    // would let the access token of an ended session end every other one.
    let revoked = logout::logout(
        &ctx.db()?,
        &access.sub,
        &access.sid,
        session_id.as_deref(),
        &ctx.timestamp(),
        revoked_all.as_ref(),
    )
    .await?
    .ok_or(auth::SESSION_ENDED)?;
    if let Some(event) = &revoked_all {
        ctx.publish(event);
    }
    ctx.audit(
        AuditEvent::new(AuditKind::Logout)
            .user(&access.sub)
            .detail(format!("{revoked} session(s)")),
    );
    respond::ok(
        200,
        LoggedOut {
            revoked_sessions: revoked,
        },
        ctx.now,
    )
}
