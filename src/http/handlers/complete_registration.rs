//! `POST /api/v1/auth/complete-registration`: the profile and consents that turn
//! a new account into a registered one. Allowed once; raises
//! `user.registration_completed` for downstream services.

use worker::{Request, Response};

use crate::domain::error::AppError;
use crate::domain::events::Event;
use crate::domain::ids::OsRandom;
use crate::domain::profile::Registration;
use crate::domain::user_change::Precondition;
use crate::http::context::RequestCtx;
use crate::http::{auth, respond};
use crate::storage::units::user_update;

const ALREADY_COMPLETE: AppError = AppError::Conflict {
    code: "registration_complete",
    message: "Registration is already complete",
};

pub async fn handle(req: Request, ctx: &RequestCtx) -> Result<Response, AppError> {
    let user = auth::current_user(&req, ctx).await?;
    if user.is_registration_complete {
        return Err(ALREADY_COMPLETE);
    }
    let registration = Registration::parse(ctx.body.json()?, ctx.now.date_naive())?;
    let event = Event::registration_completed(&mut OsRandom, &user.id, ctx.now);
    // The precondition repeats the check above inside the write, for two racing requests.
    let updated = user_update::update_with_event(
        &ctx.db()?,
        &user.id,
        &registration.changes,
        &Precondition::RegistrationIncomplete,
        &ctx.timestamp(),
        &event,
    )
    .await?
    .ok_or(ALREADY_COMPLETE)?;
    ctx.publish(&event);
    respond::ok(200, updated, ctx.now)
}
