//! Reading a JSON request body, before any parsing: type and size are checked first.

use worker::Request;

use crate::domain::error::AppError;

/// Login bodies are tiny; anything larger is refused before it is read in full.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

pub async fn json_bytes(req: &mut Request) -> Result<Vec<u8>, AppError> {
    let header = |name: &str| req.headers().get(name).ok().flatten();
    let content_type = header("content-type").unwrap_or_default();
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if !media_type.eq_ignore_ascii_case("application/json") {
        return Err(AppError::UnsupportedMediaType);
    }
    let declared = header("content-length").and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(AppError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    let bytes = req
        .bytes()
        .await
        .map_err(|_| AppError::validation("body could not be read"))?;
    if bytes.len() > MAX_BODY_BYTES {
        return Err(AppError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    Ok(bytes)
}
