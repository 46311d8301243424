//! `POST /api/v1/auth/complete-registration`: the profile and consents that turn
//! a new account into a registered one. Allowed once.

use worker::{Request, Response};

use crate::domain::envelope::timestamp;
use crate::domain::error::AppError;
use crate::domain::profile::Registration;
use crate::http::context::RequestCtx;
use crate::http::{auth, respond};
use crate::storage::user_repo::{Guard, UserRepo};

pub async fn handle(req: Request, ctx: &RequestCtx) -> Result<Response, AppError> {
    let user = auth::current_user(&req, ctx).await?;
    if user.is_registration_complete {
        return Err(AppError::Conflict("Registration is already complete"));
    }
    let registration = Registration::parse(ctx.body.json()?, ctx.now.date_naive())?;
    let db = ctx.db()?;
    // The guard repeats the check above inside the write, for two racing requests.
    let updated = UserRepo { db: &db }
        .update(
            &user.id,
            &registration.changes,
            Guard::RegistrationIncomplete,
            &timestamp(ctx.now),
        )
        .await?
        .ok_or(AppError::Conflict("Registration is already complete"))?;
    respond::ok(200, updated, ctx.now)
}
