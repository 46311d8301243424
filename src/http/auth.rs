//! Bearer access tokens on the way in.

use worker::Request;

use super::context::RequestCtx;
use crate::domain::error::AppError;
use crate::domain::token::{TokenClaims, TokenUse};
use crate::domain::user::User;
use crate::platform::log;
use crate::storage::tables::users;

/// The verified claims of the request's access token. Every problem is one 401
/// (with `WWW-Authenticate: Bearer`); the reason goes to the log, not the caller.
pub fn access_claims(req: &Request, ctx: &RequestCtx) -> Result<TokenClaims, AppError> {
    let header = req
        .headers()
        .get("authorization")
        .ok()
        .flatten()
        .unwrap_or_default();
    let token = match header.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => return Err(AppError::Unauthorized("A bearer access token is required")),
    };
    ctx.config()?
        .tokens
        .verify(token, TokenUse::Access, ctx.now)
        .map_err(|why| {
            log::info("auth_refused", serde_json::json!({"reason": why}));
            AppError::Unauthorized("The access token is invalid or expired")
        })
}

/// The answer when the token's session has ended (logout, revocation, deletion).
pub const SESSION_ENDED: AppError = AppError::Unauthorized("The session has ended; sign in again");

/// The signed-in user, provided the token's session is still live (so logout
/// takes effect on this service at once, not when the access token expires).
pub async fn current_user(req: &Request, ctx: &RequestCtx) -> Result<User, AppError> {
    let claims = access_claims(req, ctx)?;
    users::find_for_session(&ctx.db()?, &claims.sub, &claims.sid, &ctx.timestamp())
        .await?
        .ok_or(SESSION_ENDED)
}
