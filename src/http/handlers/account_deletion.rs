//! `POST` and `DELETE /api/v1/users/me/deletion`: schedule or cancel the
//! deletion of the signed-in account. The scheduled job finalises it.

use chrono::Duration;
use worker::{Request, Response};

use crate::domain::envelope::timestamp;
use crate::domain::error::AppError;
use crate::domain::profile::ColumnValue;
use crate::domain::user::DeletionStatus;
use crate::http::context::RequestCtx;
use crate::http::{auth, respond};
use crate::storage::audit_log::AuditEvent;
use crate::storage::user_repo::{Guard, UserRepo};

pub async fn schedule(req: Request, ctx: &RequestCtx) -> Result<Response, AppError> {
    let user = auth::current_user(&req, ctx).await?;
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
    let db = ctx.db()?;
    let updated = UserRepo { db: &db }
        .update(&user.id, &changes, Guard::DeletionSchedulable, &now)
        .await?
        .ok_or(AppError::Conflict("A deletion is already scheduled"))?;
    ctx.audit(AuditEvent {
        event: "deletion_scheduled",
        user_id: Some(user.id),
        ..AuditEvent::default()
    });
    respond::ok(200, updated, ctx.now)
}

pub async fn cancel(req: Request, ctx: &RequestCtx) -> Result<Response, AppError> {
    let user = auth::current_user(&req, ctx).await?;
    let now = timestamp(ctx.now);
    let changes = vec![
        (
            "account_deletion_status",
            ColumnValue::Text(DeletionStatus::Cancelled.as_str().into()),
        ),
        (
            "account_deletion_cancelled_at",
            ColumnValue::Text(now.clone()),
        ),
    ];
    let db = ctx.db()?;
    let updated = UserRepo { db: &db }
        .update(&user.id, &changes, Guard::DeletionPending, &now)
        .await?
        .ok_or(AppError::Conflict("No deletion is scheduled"))?;
    ctx.audit(AuditEvent {
        event: "deletion_cancelled",
        user_id: Some(user.id),
        ..AuditEvent::default()
    });
    respond::ok(200, updated, ctx.now)
}
