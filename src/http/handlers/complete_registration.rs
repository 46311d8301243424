//! `POST /api/v1/auth/complete-registration`: the profile and consents that turn
//! a new account into a registered one. Allowed once.

use worker::{Request, Response};

use crate::domain::error::AppError;
use crate::domain::profile::Registration;
use crate::domain::user_change::Precondition;
use crate::http::context::RequestCtx;
use crate::http::{auth, respond};
use crate::storage::user_repo;

const ALREADY_COMPLETE: AppError = AppError::Conflict("Registration is already complete");

pub async fn handle(req: Request, ctx: &RequestCtx) -> Result<Response, AppError> {
    let user = auth::current_user(&req, ctx).await?;
    if user.is_registration_complete {
        return Err(ALREADY_COMPLETE);
    }
    let registration = Registration::parse(ctx.body.json()?, ctx.now.date_naive())?;
    // The precondition repeats the check above inside the write, for two racing requests.
    user_repo::update(
        &ctx.db()?,
        &user.id,
        &registration.changes,
        &Precondition::RegistrationIncomplete,
        &ctx.timestamp(),
    )
    .await?
    .ok_or(ALREADY_COMPLETE)
    .and_then(|updated| respond::ok(200, updated, ctx.now))
}
