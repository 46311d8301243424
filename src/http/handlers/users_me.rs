//! `GET` and `PATCH /api/v1/users/me`: the signed-in user's profile.

use worker::{Request, Response};

use crate::domain::envelope::timestamp;
use crate::domain::error::AppError;
use crate::domain::profile::{username_change_cutoff, ColumnValue, ProfileUpdate};
use crate::http::context::RequestCtx;
use crate::http::{auth, respond};
use crate::storage::user_repo::{Guard, UserRepo};

pub async fn get(req: Request, ctx: &RequestCtx) -> Result<Response, AppError> {
    let user = auth::current_user(&req, ctx).await?;
    respond::ok(200, user, ctx.now)
}

pub async fn patch(req: Request, ctx: &RequestCtx) -> Result<Response, AppError> {
    let user = auth::current_user(&req, ctx).await?;
    let update = ProfileUpdate::parse(ctx.body.json()?)?;
    let now = timestamp(ctx.now);
    let cutoff = username_change_cutoff(ctx.now);

    let mut changes = update.changes;
    let renamed = update
        .username
        .filter(|name| user.username.as_deref() != Some(name.as_str()));
    let guard = match renamed {
        Some(name) => {
            changes.push(("username", ColumnValue::Text(name)));
            changes.push(("last_username_change_date", ColumnValue::Text(now.clone())));
            Guard::UsernameChangeAllowed { cutoff: &cutoff }
        }
        None => Guard::None,
    };
    let db = ctx.db()?;
    let updated = UserRepo { db: &db }
        .update(&user.id, &changes, guard, &now)
        .await?
        .ok_or(AppError::Conflict(
            "The username can be changed once every 30 days",
        ))?;
    respond::ok(200, updated, ctx.now)
}
