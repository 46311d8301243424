//! `POST` and `DELETE /api/v1/users/me/deletion`: schedule or cancel the
//! deletion of the signed-in account. The scheduled job finalises it.

use chrono::Duration;
use worker::{Request, Response};

use crate::domain::envelope::timestamp;
use crate::domain::error::AppError;
use crate::domain::profile::{Changes, ColumnValue};
use crate::domain::user::DeletionStatus;
use crate::http::context::RequestCtx;
use crate::http::{auth, respond};
use crate::storage::audit_log::AuditEvent;
use crate::storage::user_repo::{Guard, UserRepo};

pub async fn schedule(req: Request, ctx: &RequestCtx) -> Result<Response, AppError> {
    let grace = i64::from(ctx.config()?.deletion_grace_days);
    let now = timestamp(ctx.now);
    let changes = vec![
        (
            "account_deletion_status",
            ColumnValue::Text(DeletionStatus::Pending.as_str().into()),
        ),
        (
            "account_deletion_requested_at",
            ColumnValue::Text(now.clone()),
        ),
        (
            "account_deletion_scheduled_for",
            ColumnValue::Text(timestamp(ctx.now + Duration::days(grace))),
        ),
        ("account_deletion_cancelled_at", ColumnValue::Null),
    ];
    let transition = Transition {
        guard: Guard::DeletionSchedulable,
        conflict: "A deletion is already scheduled",
        event: "deletion_scheduled",
    };
    apply(req, ctx, changes, transition).await
}

pub async fn cancel(req: Request, ctx: &RequestCtx) -> Result<Response, AppError> {
    let now = timestamp(ctx.now);
    let changes = vec![
        (
            "account_deletion_status",
            ColumnValue::Text(DeletionStatus::Cancelled.as_str().into()),
        ),
        ("account_deletion_cancelled_at", ColumnValue::Text(now)),
    ];
    let transition = Transition {
        guard: Guard::DeletionPending,
        conflict: "No deletion is scheduled",
        event: "deletion_cancelled",
    };
    apply(req, ctx, changes, transition).await
}

/// A step of the deletion lifecycle: allowed from some states only.
struct Transition {
    guard: Guard<'static>,
    conflict: &'static str,
    event: &'static str,
}

async fn apply(
    req: Request,
    ctx: &RequestCtx,
    changes: Changes,
    transition: Transition,
) -> Result<Response, AppError> {
    let user = auth::current_user(&req, ctx).await?;
    let db = ctx.db()?;
    let updated = UserRepo { db: &db }
        .update(&user.id, &changes, transition.guard, &timestamp(ctx.now))
        .await?
        .ok_or(AppError::Conflict(transition.conflict))?;
    ctx.audit(AuditEvent {
        event: transition.event,
        user_id: Some(user.id),
        ..AuditEvent::default()
    });
    respond::ok(200, updated, ctx.now)
}
