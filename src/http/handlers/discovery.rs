//! `GET /.well-known/openid-configuration`: where verifiers find our keys, in
//! the standard discovery form (not the envelope). See `domain::discovery` for
//! what it holds and why so little.

use worker::Response;

use super::jwks;
use crate::domain::discovery::Discovery;
use crate::domain::error::AppError;
use crate::http::context::RequestCtx;
use crate::http::respond;

pub fn handle(ctx: &RequestCtx) -> Result<Response, AppError> {
    let config = ctx.config()?;
    let document =
        Discovery::for_issuer(&config.tokens.issuance.issuer, config.tokens.algorithms());
    // Cached like the key set it points to: it changes with JWT_ISSUER and
    // with the keys' algorithms.
    respond::document(&document, &jwks::cache_control())
}
