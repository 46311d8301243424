//! Bearer access tokens on the way in.

use worker::Request;

use super::context::RequestCtx;
use crate::domain::envelope::timestamp;
use crate::domain::error::AppError;
use crate::domain::token::{TokenClaims, TokenUse};
use crate::domain::user::User;
use crate::storage::user_repo::UserRepo;

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
            worker::console_log!(
                "{}",
                serde_json::json!({"event": "auth_refused", "reason": why})
            );
            AppError::Unauthorized("The access token is invalid or expired")
        })
}

/// The signed-in user, provided the token's session is still live (so logout
/// takes effect on this service at once, not when the access token expires).
pub async fn current_user(req: &Request, ctx: &RequestCtx) -> Result<User, AppError> {
    let claims = access_claims(req, ctx)?;
    let db = ctx.db()?;
    UserRepo { db: &db }
        .find_for_session(&claims.sub, &claims.sid, &timestamp(ctx.now))
        .await?
        .ok_or(AppError::Unauthorized(
            "The session has ended; sign in again",
        ))
}
