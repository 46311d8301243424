//! `GET /.well-known/jwks.json`: the public keys that verify our tokens, as the
//! plain RFC 7517 JWK Set that JWT libraries and gateways read (not the envelope).

use worker::Response;

use crate::domain::error::AppError;
use crate::domain::token::KEY_SET_MAX_AGE_SECONDS;
use crate::http::context::RequestCtx;
use crate::http::respond;

pub fn handle(ctx: &RequestCtx) -> Result<Response, AppError> {
    respond::document(&ctx.config()?.tokens.jwk_set(), &cache_control())
}

/// Shared caching for the key documents (this one and the discovery document):
/// see `KEY_SET_MAX_AGE_SECONDS` for the choice and the rotation rule it sets.
pub fn cache_control() -> String {
    format!("public, max-age={KEY_SET_MAX_AGE_SECONDS}")
}
