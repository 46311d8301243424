//! `GET /api/v1/users/me/sessions` and `DELETE /api/v1/users/me/sessions/{id}`:
//! the devices a user is signed in on, and ending one of them.

use serde::Serialize;
use worker::{Request, Response};

use super::logout::LoggedOut;
use crate::domain::audit::{AuditEvent, AuditKind};
use crate::domain::error::AppError;
use crate::domain::events::Event;
use crate::domain::ids::OsRandom;
use crate::domain::session_list::{self, ListedSession, SessionId};
use crate::http::context::RequestCtx;
use crate::http::router::{self, SESSION_PATH};
use crate::http::{auth, respond};
use crate::storage::tables::sessions;
use crate::storage::units::logout::{self, Logout};

#[derive(Serialize)]
struct Sessions {
    sessions: Vec<ListedSession>,
}

/// The caller's live sessions, theirs first and marked `current`. One read of
/// the primary, which also decides access: the caller's session must be
/// among the live ones.
pub async fn list(req: Request, ctx: &RequestCtx) -> Result<Response, AppError> {
    let access = auth::access_claims(&req, ctx)?;
    let live = sessions::live_of(&ctx.db()?, &access.sub, &access.sid, &ctx.timestamp()).await?;
    let sessions = session_list::list(live, &access.sid).ok_or(auth::SESSION_ENDED)?;
    respond::ok(200, Sessions { sessions }, ctx.now)
}

/// Ends one of the caller's live sessions, theirs included (then it is a
/// logout). Any other id, another user's included, is a 404 alike, and one
/// that cannot be a session id is answered without asking D1.
pub async fn revoke(req: Request, ctx: &RequestCtx) -> Result<Response, AppError> {
    let access = auth::access_claims(&req, ctx)?;
    let path = req.path();
    let target = router::param(SESSION_PATH, "id", &path)
        .and_then(SessionId::parse)
        .ok_or(AppError::SessionNotFound)?;
    let event = Event::session_revoked(&mut OsRandom, &access.sub, target.as_str(), ctx.now);
    let revoked = logout::logout(
        &ctx.db()?,
        &Logout {
            user_id: &access.sub,
            caller_session: &access.sid,
            target: Some(target.as_str()),
            now: &ctx.timestamp(),
            event: &event,
        },
    )
    .await?
    .ok_or(auth::SESSION_ENDED)?;
    if revoked == 0 {
        return Err(AppError::SessionNotFound);
    }
    ctx.publish(&event);
    ctx.audit(
        AuditEvent::new(AuditKind::SessionRevoked)
            .user(&access.sub)
            .detail(target.as_str()),
    );
    respond::ok(
        200,
        LoggedOut {
            revoked_sessions: revoked,
        },
        ctx.now,
    )
}
