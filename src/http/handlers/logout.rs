//! `POST /api/v1/auth/logout`: ends this session, or with `allSessions` every
//! session of the user.

use serde::Serialize;
use worker::{Request, Response};

use crate::domain::envelope::timestamp;
use crate::domain::error::AppError;
use crate::domain::requests::LogoutRequest;
use crate::domain::token::TokenUse;
use crate::http::context::RequestCtx;
use crate::http::{auth, respond};
use crate::storage::audit_log::AuditEvent;
use crate::storage::session_repo::SessionRepo;

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
    let db = ctx.db()?;
    let revoked = SessionRepo { db: &db }
        .revoke(
            session_id.as_deref(),
            &access.sub,
            "logout",
            &timestamp(ctx.now),
        )?
        .all()
        .await
        .map_err(|e| AppError::internal(format!("logout: {e}")))?
        .results::<serde_json::Value>()
        .map_err(|e| AppError::internal(format!("logout rows: {e}")))?
        .len();
    ctx.audit(AuditEvent {
        event: "logout",
        user_id: Some(access.sub.clone()),
        detail: Some(format!("{revoked} session(s)")),
        ..AuditEvent::default()
    });
    respond::ok(
        200,
        LoggedOut {
            revoked_sessions: revoked,
        },
        ctx.now,
    )
}
