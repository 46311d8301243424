//! `POST /oauth/token`: RFC 6749's token endpoint, for clients that speak
//! OAuth (discovered through the metadata). Its two grants are the envelope
//! endpoints' own cores: the email code is verify-otp-email's `login`, the
//! refresh is refresh-token's `rotate`; only the form in and RFC 6749's JSON
//! out differ. Errors leave as RFC 6749 §5.2 bodies (`respond::oauth_error`,
//! chosen by the router's entry for this route).

use worker::{Request, Response};

use super::{refresh_token, verify_otp_email};
use crate::domain::error::AppError;
use crate::domain::oauth::{TokenRequest, TokenRules};
use crate::http::context::RequestCtx;
use crate::http::respond;

pub async fn handle(req: Request, ctx: &RequestCtx) -> Result<Response, AppError> {
    let config = ctx.config()?;
    let authorization = req.headers().has("authorization").unwrap_or(false);
    let rules = TokenRules {
        code_length: config.otp.length,
        client_id: &config.tokens.issuance.client_id,
    };
    let tokens = match TokenRequest::parse(ctx.body.form()?, &rules, authorization)? {
        TokenRequest::EmailOtp(request) => verify_otp_email::login(ctx, &config, request).await?,
        TokenRequest::RefreshToken(request) => refresh_token::rotate(ctx, &config, request).await?,
    };
    respond::oauth_tokens(&tokens.into_oauth(&config.tokens.issuance.scope))
}
