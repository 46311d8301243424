//! `GET /.well-known/openid-configuration`: the OpenID Connect Discovery form
//! of the metadata, in its own form (not the envelope). See `domain::discovery`
//! for its members and why each is there.

use worker::Response;

use super::jwks;
use crate::domain::discovery::OpenIdConfiguration;
use crate::domain::error::AppError;
use crate::http::context::RequestCtx;
use crate::http::respond;

pub fn handle(ctx: &RequestCtx) -> Result<Response, AppError> {
    let config = ctx.config()?;
    let tokens = &config.tokens;
    let document = OpenIdConfiguration::for_issuer(&tokens.issuance.issuer, tokens.algorithms());
    // Cached like the key set it points to: it changes only with the settings.
    respond::document(&document, &jwks::cache_control())
}
