//! `GET` and `PATCH /api/v1/users/me`: the signed-in user's profile.

use worker::{Request, Response};

use crate::domain::error::AppError;
use crate::domain::profile::{username_change_cutoff, ProfileUpdate};
use crate::domain::user_change::{FieldValue, Precondition, UserField};
use crate::http::context::RequestCtx;
use crate::http::{auth, bookmark, respond};
use crate::platform::log;
use crate::storage::tables::{sessions, users};

/// The profile may come from a nearby D1 replica (at least as fresh as the
/// client's bookmark); whether the session is live is asked of the primary,
/// side by side, so a logout takes effect at once everywhere.
pub async fn get(req: Request, ctx: &RequestCtx) -> Result<Response, AppError> {
    let claims = auth::access_claims(&req, ctx)?;
    let sent = bookmark::from_request(&req);
    log::info(
        "d1_session",
        serde_json::json!({"start": if sent.is_some() { "bookmark" } else { "unconstrained" }}),
    );
    let replica = ctx.db_session(Some(sent.as_deref().unwrap_or("first-unconstrained")))?;
    let primary = ctx.db()?;
    let now = ctx.timestamp();
    let (live, profile) = futures_util::join!(
        sessions::is_live(&primary, &claims.sub, &claims.sid, &now),
        users::find(&replica, &claims.sub),
    );
    if !live? {
        return Err(auth::SESSION_ENDED);
    }
    let user = match profile? {
        Some(user) => user,
        // A replica that has not seen the account yet (a login moments ago
        // without a bookmark): the primary has it.
        None => users::find(&primary, &claims.sub)
            .await?
            .ok_or(auth::SESSION_ENDED)?,
    };
    let mut response = respond::ok(200, user, ctx.now)?;
    bookmark::attach(&mut response, replica.bookmark())?;
    Ok(response)
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
    // Written through a session on the primary, so its bookmark can go back.
    let db = ctx.db_session(Some("first-primary"))?;
    let updated = users::update(&db, &user.id, &changes, &precondition, &now)
        .await?
        .ok_or(AppError::Conflict {
            code: "username_change_too_soon",
            message: "The username can be changed once every 30 days",
        })?;
    let mut response = respond::ok(200, updated, ctx.now)?;
    bookmark::attach(&mut response, db.bookmark())?;
    Ok(response)
}
