//! `GET /.well-known/jwks.json`: the public keys that verify our tokens.

use serde::Serialize;
use worker::Response;

use crate::domain::envelope::Envelope;
use crate::domain::error::AppError;
use crate::domain::token::Jwk;
use crate::http::context::RequestCtx;
use crate::http::respond;

#[derive(Serialize)]
struct KeySet {
    keys: Vec<Jwk>,
}

/// The envelope with the key list repeated at the top level: JWT libraries read
/// `keys` (RFC 7517 says other members are ignored), apps read the envelope.
#[derive(Serialize)]
struct JwksEnvelope {
    #[serde(flatten)]
    envelope: Envelope<KeySet>,
    keys: Vec<Jwk>,
}

pub fn handle(ctx: &RequestCtx) -> Result<Response, AppError> {
    let keys = ctx.config()?.tokens.jwks();
    let body = JwksEnvelope {
        envelope: Envelope::success(200, KeySet { keys: keys.clone() }, ctx.now),
        keys,
    };
    respond::body(200, &body)
}
