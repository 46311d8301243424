//! The one place where results become HTTP responses in the envelope.

use chrono::{DateTime, Utc};
use serde::Serialize;
use worker::Response;

use crate::domain::envelope::Envelope;
use crate::domain::error::AppError;
use crate::platform::log;

/// A success in the envelope.
pub fn ok<T: Serialize>(status: u16, data: T, now: DateTime<Utc>) -> Result<Response, AppError> {
    json(status, &Envelope::success(status, data, now)).map_err(AppError::internal)
}

/// Any other serialisable body that must still be an envelope (the JWKS adds `keys`).
pub fn body<T: Serialize>(status: u16, body: &T) -> Result<Response, AppError> {
    json(status, body).map_err(AppError::internal)
}

/// Logs an error's cause, if it has one worth logging (ours, not the caller's).
pub fn log_error(err: &AppError) {
    if let Some(cause) = err.log_cause() {
        log::error(
            "error",
            serde_json::json!({"status": err.status(), "cause": cause}),
        );
    }
}

/// An error in the envelope. Causes are logged here and never sent.
pub fn error(err: &AppError, now: DateTime<Utc>) -> worker::Result<Response> {
    log_error(err);
    let status = err.status();
    let mut response = json(
        status,
        &Envelope::failure(status, err.public_messages(), now),
    )?;
    let headers = response.headers_mut();
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
    let bytes = serde_json::to_vec(body)?;
    let mut response = Response::from_bytes(bytes)?.with_status(status);
    let headers = response.headers_mut();
    headers.set("Content-Type", "application/json; charset=utf-8")?;
    // Bodies carry tokens and personal data: never cache them anywhere.
    headers.set("Cache-Control", "no-store")?;
    headers.set("X-Content-Type-Options", "nosniff")?;
    Ok(response)
}
