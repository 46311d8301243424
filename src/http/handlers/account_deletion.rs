//! `POST` and `DELETE /api/v1/users/me/deletion`: schedule or cancel the
//! deletion of the signed-in account. The Cron Trigger finalises it.

use worker::{Request, Response};

use crate::domain::audit::AuditEvent;
use crate::domain::deletion::{self, Transition};
use crate::domain::error::AppError;
use crate::http::context::RequestCtx;
use crate::http::{auth, respond};
use crate::storage::user_repo;

pub async fn schedule(req: Request, ctx: &RequestCtx) -> Result<Response, AppError> {
    let grace_days = ctx.config()?.deletion_grace_days;
    apply(req, ctx, deletion::schedule(ctx.now, grace_days)).await
}

pub async fn cancel(req: Request, ctx: &RequestCtx) -> Result<Response, AppError> {
    apply(req, ctx, deletion::cancel(ctx.now)).await
}

async fn apply(req: Request, ctx: &RequestCtx, step: Transition) -> Result<Response, AppError> {
    let user = auth::current_user(&req, ctx).await?;
    let updated = user_repo::update(
        &ctx.db()?,
        &user.id,
        &step.changes,
        &step.precondition,
        &ctx.timestamp(),
    )
    .await?
    .ok_or(AppError::Conflict(step.conflict))?;
    ctx.audit(AuditEvent::new(step.event).user(&user.id));
    respond::ok(200, updated, ctx.now)
}
