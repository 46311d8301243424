//! The one place where results become HTTP responses in the envelope.

use chrono::{DateTime, Utc};
use serde::Serialize;
use worker::Response;

use super::status;
use crate::domain::envelope::Envelope;
use crate::domain::error::AppError;
use crate::domain::oauth::{OAuthError, TokenResponse, RATE_LIMITED};
use crate::platform::log;

/// A success in the envelope.
pub fn ok<T: Serialize>(status: u16, data: T, now: DateTime<Utc>) -> Result<Response, AppError> {
    json(status, &Envelope::success(status, data, now)).map_err(AppError::internal)
}

/// A standard document that other tools read (the JWK Set, the metadata): a
/// 200 in its own form, not the envelope, cacheable as given. Any origin's
/// page may read it (`entry` sets `Access-Control-Allow-Origin: *`).
pub fn document<T: Serialize>(body: &T, cache_control: &str) -> Result<Response, AppError> {
    let bytes = serde_json::to_vec(body).map_err(AppError::internal)?;
    raw_document(bytes, cache_control)
}

/// [`document`] for a body that is JSON already (the OpenAPI document).
pub fn raw_document(json_bytes: Vec<u8>, cache_control: &str) -> Result<Response, AppError> {
    with_headers(200, json_bytes, cache_control).map_err(AppError::internal)
}

/// RFC 6749 §5.1's success: never cached (§5.1 asks for both headers).
pub fn oauth_tokens(body: &TokenResponse) -> Result<Response, AppError> {
    let bytes = serde_json::to_vec(body).map_err(AppError::internal)?;
    let mut response = with_headers(200, bytes, "no-store").map_err(AppError::internal)?;
    set_pragma(&mut response).map_err(AppError::internal)?;
    Ok(response)
}

/// An error of the token endpoint in RFC 6749 §5.2's form (not the envelope).
/// What each error becomes is `OAuthError::from`; the status follows the code:
/// 401 for `invalid_client`, 429 with `Retry-After` for a rate limit, 500 and
/// 503 for our own failures, 400 for the rest. `Error-Code` still tells the
/// service's own kinds apart (which limit, which refusal).
pub fn oauth_error(err: &AppError) -> worker::Result<Response> {
    log_error(err);
    let body = OAuthError::from(err);
    let status = match body.error {
        "invalid_client" => 401,
        RATE_LIMITED => 429,
        "server_error" => 500,
        "temporarily_unavailable" => 503,
        _ => 400,
    };
    let mut response = with_headers(status, serde_json::to_vec(&body)?, "no-store")?;
    set_pragma(&mut response)?;
    let headers = response.headers_mut();
    headers.set(ERROR_CODE_HEADER, err.code())?;
    match err {
        // RFC 6749 §5.2: an attempt through the Authorization header is
        // answered with a challenge in the scheme RFC 6749 defines for it.
        AppError::InvalidClient { via_header: true } => {
            headers.set("WWW-Authenticate", "Basic realm=\"allmine\"")?
        }
        AppError::RateLimited { retry_after, .. } => {
            headers.set("Retry-After", &retry_after.to_string())?
        }
        _ => {}
    }
    Ok(response)
}

/// For HTTP/1.0 caches, beside `Cache-Control: no-store` (RFC 6749 §5.1).
fn set_pragma(response: &mut Response) -> worker::Result<()> {
    response.headers_mut().set("Pragma", "no-cache")
}

/// Logs an error's cause, if it has one worth logging (ours, not the caller's).
pub fn log_error(err: &AppError) {
    if let Some(cause) = err.log_cause() {
        log::error(
            "error",
            serde_json::json!({"status": status::of(err), "cause": cause}),
        );
    }
}

/// The header that carries an error's stable code: the envelope's five keys
/// stay exactly as the API document defines them.
pub const ERROR_CODE_HEADER: &str = "Error-Code";

/// An error in the envelope. Causes are logged here and never sent.
pub fn error(err: &AppError, now: DateTime<Utc>) -> worker::Result<Response> {
    log_error(err);
    let status = status::of(err);
    let mut response = json(
        status,
        &Envelope::failure(status, err.public_messages(), now),
    )?;
    let headers = response.headers_mut();
    headers.set(ERROR_CODE_HEADER, err.code())?;
    match err {
        AppError::MethodNotAllowed { allow } => headers.set("Allow", &allow.join(", "))?,
        AppError::Unauthorized(_) => headers.set("WWW-Authenticate", "Bearer")?,
        AppError::RateLimited { retry_after, .. } => {
            headers.set("Retry-After", &retry_after.to_string())?
        }
        _ => {}
    }
    Ok(response)
}

fn json<T: Serialize>(status: u16, body: &T) -> worker::Result<Response> {
    // Envelopes carry tokens and personal data: never cache them anywhere.
    with_headers(status, serde_json::to_vec(body)?, "no-store")
}

fn with_headers(status: u16, json_bytes: Vec<u8>, cache_control: &str) -> worker::Result<Response> {
    let mut response = Response::from_bytes(json_bytes)?.with_status(status);
    let headers = response.headers_mut();
    headers.set("Content-Type", "application/json; charset=utf-8")?;
    headers.set("Cache-Control", cache_control)?;
    headers.set("X-Content-Type-Options", "nosniff")?;
    Ok(response)
}
