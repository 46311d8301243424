//! `POST` and `DELETE /api/v1/users/me/deletion`: schedule or cancel the
//! deletion of the signed-in account. The Cron Trigger finalises it.
//! Scheduling raises `user.deletion_scheduled` for downstream services.

use worker::{Request, Response};

use crate::domain::audit::AuditEvent;
use crate::domain::deletion::{self, Transition};
use crate::domain::error::AppError;
use crate::domain::events::Event;
use crate::domain::ids::OsRandom;
use crate::domain::user::User;
use crate::http::context::RequestCtx;
use crate::http::{auth, respond};
use crate::storage::tables::users;
use crate::storage::units::user_update;

pub async fn schedule(req: Request, ctx: &RequestCtx) -> Result<Response, AppError> {
    let grace_days = ctx.config()?.deletion_grace_days;
    let user = auth::current_user(&req, ctx).await?;
    let event = Event::deletion_scheduled(
        &mut OsRandom,
        &user.id,
        deletion::due_at(ctx.now, grace_days),
        ctx.now,
    );
    let updated = apply(
        ctx,
        &user.id,
        deletion::schedule(ctx.now, grace_days),
        Some(&event),
    )
    .await?;
    ctx.publish(&event);
    respond::ok(200, updated, ctx.now)
}

pub async fn cancel(req: Request, ctx: &RequestCtx) -> Result<Response, AppError> {
    let user = auth::current_user(&req, ctx).await?;
    let updated = apply(ctx, &user.id, deletion::cancel(ctx.now), None).await?;
    respond::ok(200, updated, ctx.now)
}

/// Applies the step if its precondition holds (409 if not), with its event
/// for downstream services, if any, in the same batch.
async fn apply(
    ctx: &RequestCtx,
    user_id: &str,
    step: Transition,
    event: Option<&Event>,
) -> Result<User, AppError> {
    let (db, now) = (ctx.db()?, ctx.timestamp());
    let updated = match event {
        Some(event) => {
            user_update::update_with_event(
                &db,
                user_id,
                &step.changes,
                &step.precondition,
                &now,
                event,
            )
            .await?
        }
        None => users::update(&db, user_id, &step.changes, &step.precondition, &now).await?,
    }
    .ok_or(step.conflict)?;
    ctx.audit(AuditEvent::new(step.event).user(user_id));
    Ok(updated)
}
