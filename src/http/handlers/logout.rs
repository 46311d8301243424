//! `POST /api/v1/auth/logout`: ends the session of a refresh token, or with
//! `allSessions` every session of the user (and tells downstream services:
//! `session.revoked`, `session.revoked_all`).

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
use crate::storage::units::logout::{self, Logout};

/// The `data` of a logout, and of ending one session from the list.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct LoggedOut {
    pub(super) revoked_sessions: usize,
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
    // Downstream services are told in the same batch: one session ended, or all.
    let event = match &session_id {
        Some(session) => Event::session_revoked(&mut OsRandom, &access.sub, session, ctx.now),
        None => Event::sessions_revoked_all(&mut OsRandom, &access.sub, ctx.now),
    };
    // The caller's own session must be live: a signature and an expiry alone
    // would let the access token of an ended session end every other one.
    let revoked = logout::logout(
        &ctx.db()?,
        &Logout {
            user_id: &access.sub,
            caller_session: &access.sid,
            target: session_id.as_deref(),
            now: &ctx.timestamp(),
            event: &event,
        },
    )
    .await?
    .ok_or(auth::SESSION_ENDED)?;
    if revoked > 0 {
        ctx.publish(&event);
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
