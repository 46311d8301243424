//! The request body, read once at the edge for every request.
//!
//! It is always read (up to a cap) before anything answers: a response sent
//! while the client is still sending makes the connection reset, and the client
//! would see that instead of its 413, 415 or 401.

use futures_util::StreamExt;
use worker::Request;

use crate::domain::error::AppError;

/// Login bodies are tiny; anything larger is refused.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// An oversized body is still read (and dropped) up to this much; past it,
/// reading stops and the client may see the connection close.
const DRAIN_BYTES: usize = 1024 * 1024;

pub struct Body {
    bytes: Vec<u8>,
    oversized: bool,
    content_type: Option<String>,
}

impl Body {
    /// Streams the body in, keeping at most `MAX_BODY_BYTES` in memory.
    pub async fn read(req: &mut Request) -> Self {
        let content_type = req.headers().get("content-type").ok().flatten();
        let declared = req
            .headers()
            .get("content-length")
            .ok()
            .flatten()
            .and_then(|v| v.trim().parse::<u64>().ok());
        let mut body = Self {
            bytes: Vec::new(),
            oversized: declared.is_some_and(|n| n > MAX_BODY_BYTES as u64),
            content_type,
        };
        match declared {
            Some(n) if n > DRAIN_BYTES as u64 => return body,
            Some(0) => return body,
            // Framed by its Content-Length, so at most `n` bytes can arrive: one
            // read of the whole body is bounded, and costs one call into the
            // runtime instead of a stream reader's several per chunk.
            Some(n) if n <= MAX_BODY_BYTES as u64 => {
                if let Ok(bytes) = req.bytes().await {
                    body.bytes = bytes;
                    body.oversized = body.bytes.len() > MAX_BODY_BYTES;
                }
                return body;
            }
            _ => {}
        }
        let Ok(mut stream) = req.stream() else {
            return body; // no body
        };
        let mut seen = 0usize;
        while let Some(Ok(chunk)) = stream.next().await {
            seen += chunk.len();
            if seen <= MAX_BODY_BYTES {
                body.bytes.extend_from_slice(&chunk);
            } else if seen > DRAIN_BYTES {
                break;
            }
        }
        body.oversized |= seen > MAX_BODY_BYTES;
        body
    }

    /// The bytes of a JSON body: 415 for another media type, 413 when too large.
    pub fn json(&self) -> Result<&[u8], AppError> {
        self.of_type("application/json")
    }

    /// The bytes of a JSON body, or `None` when the request sent no body at
    /// all (an endpoint whose body is new reads an old client's empty one).
    pub fn json_if_any(&self) -> Result<Option<&[u8]>, AppError> {
        if self.bytes.is_empty() && !self.oversized {
            return Ok(None);
        }
        self.json().map(Some)
    }

    /// The bytes of an HTML form (`application/x-www-form-urlencoded`, what
    /// RFC 6749's token endpoint reads): 415 for another media type, 413 when
    /// too large.
    pub fn form(&self) -> Result<&[u8], AppError> {
        self.of_type("application/x-www-form-urlencoded")
    }

    fn of_type(&self, expected: &str) -> Result<&[u8], AppError> {
        let media_type = self
            .content_type
            .as_deref()
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim();
        if !media_type.eq_ignore_ascii_case(expected) {
            return Err(AppError::UnsupportedMediaType);
        }
        if self.oversized {
            return Err(AppError::PayloadTooLarge {
                limit: MAX_BODY_BYTES,
            });
        }
        Ok(&self.bytes)
    }
}
