//! `GET /.well-known/oauth-authorization-server`: the RFC 8414 metadata, in
//! its own form (not the envelope). See `domain::discovery`.

use worker::Response;

use super::jwks;
use crate::domain::discovery::AuthorizationServer;
use crate::domain::error::AppError;
use crate::http::context::RequestCtx;
use crate::http::respond;

pub fn handle(ctx: &RequestCtx) -> Result<Response, AppError> {
    let config = ctx.config()?;
    let document = AuthorizationServer::for_issuer(&config.tokens.issuance.issuer);
    respond::document(&document, &jwks::cache_control())
}
