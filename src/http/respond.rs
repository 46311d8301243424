//! The one place where results become HTTP responses in the envelope.

use chrono::{DateTime, Utc};
use serde::Serialize;
use worker::Response;

use super::status;
use crate::domain::envelope::Envelope;
use crate::domain::error::AppError;
use crate::platform::log;

/// A success in the envelope.
pub fn ok<T: Serialize>(status: u16, data: T, now: DateTime<Utc>) -> Result<Response, AppError> {
    json(status, &Envelope::success(status, data, now)).map_err(AppError::internal)
}

/// A standard document that other tools read (the JWK Set, the discovery
/// document): a 200 in its own form, not the envelope, cacheable as given.
pub fn document<T: Serialize>(body: &T, cache_control: &str) -> Result<Response, AppError> {
    let bytes = serde_json::to_vec(body).map_err(AppError::internal)?;
    raw_document(bytes, cache_control)
}

/// [`document`] for a body that is JSON already (the OpenAPI document).
pub fn raw_document(json_bytes: Vec<u8>, cache_control: &str) -> Result<Response, AppError> {
    with_headers(200, json_bytes, cache_control).map_err(AppError::internal)
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
