//! Security events in D1 (`audit_events`): written after the response, or
//! inside the batch of the change they describe.

use worker::D1PreparedStatement;

use super::{opt_text, text, Db};
use crate::domain::audit::AuditEvent;
use crate::domain::error::AppError;

/// The INSERT of one event, for a caller that batches it with its own writes.
pub(super) fn insert(
    db: &Db,
    at: &str,
    event: &AuditEvent,
) -> Result<D1PreparedStatement, AppError> {
    db.statement(
        "INSERT INTO audit_events (at, event, user_id, email_hash, ip_hash, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        &[
            text(at),
            text(event.kind.as_str()),
            opt_text(event.user_id.as_deref()),
            opt_text(event.email_hash.as_deref()),
            opt_text(event.ip_hash.as_deref()),
            opt_text(event.detail.as_deref()),
        ],
    )
}

/// The INSERT of a login's event: written only for the request whose `consumer`
/// token used the code (so a losing concurrent verify records nothing), with the
/// user's id read in the same statement.
pub(super) fn insert_login(
    db: &Db,
    at: &str,
    event: &AuditEvent,
    email: &str,
    consumer: &str,
) -> Result<D1PreparedStatement, AppError> {
    db.statement(
        "INSERT INTO audit_events (at, event, user_id, email_hash, ip_hash, detail)
         SELECT ?1, ?2, u.id, ?3, ?4, ?5 FROM users u
         WHERE u.email = ?6
           AND EXISTS (SELECT 1 FROM otp_codes WHERE email = ?6 AND consumed_by = ?7)",
        &[
            text(at),
            text(event.kind.as_str()),
            opt_text(event.email_hash.as_deref()),
            opt_text(event.ip_hash.as_deref()),
            opt_text(event.detail.as_deref()),
            text(email),
            text(consumer),
        ],
    )
}

/// Records one event on its own.
pub async fn record(db: &Db, at: &str, event: &AuditEvent) -> Result<(), AppError> {
    db.run(insert(db, at, event)?, "audit write").await
}
