//! `GET` and `PATCH /api/v1/users/me`: the signed-in user's profile.

use worker::{Request, Response};

use crate::domain::error::AppError;
use crate::domain::profile::{username_change_cutoff, ProfileUpdate};
use crate::domain::user_change::{FieldValue, Precondition, UserField};
use crate::http::context::RequestCtx;
use crate::http::{auth, respond};
use crate::storage::user_repo;

pub async fn get(req: Request, ctx: &RequestCtx) -> Result<Response, AppError> {
    let user = auth::current_user(&req, ctx).await?;
    respond::ok(200, user, ctx.now)
}

pub async fn patch(req: Request, ctx: &RequestCtx) -> Result<Response, AppError> {
    let user = auth::current_user(&req, ctx).await?;
    let update = ProfileUpdate::parse(ctx.body.json()?)?;
    let now = ctx.timestamp();

    let mut changes = update.changes;
    let renamed = update
        .username
        .filter(|name| user.username.as_deref() != Some(name.as_str()));
    let precondition = match renamed {
        Some(name) => {
            changes.push((UserField::Username, FieldValue::Text(name)));
            changes.push((
                UserField::LastUsernameChangeDate,
                FieldValue::Text(now.clone()),
            ));
            Precondition::UsernameChangeAllowed {
                cutoff: username_change_cutoff(ctx.now),
            }
        }
        None => Precondition::None,
    };
    let updated = user_repo::update(&ctx.db()?, &user.id, &changes, &precondition, &now)
        .await?
        .ok_or(AppError::Conflict(
            "The username can be changed once every 30 days",
        ))?;
    respond::ok(200, updated, ctx.now)
}
