//! Security events in D1 (`audit_events`), written after the response is sent.

use worker::{D1Database, D1PreparedStatement};

use super::{opt_text, text};

/// One security event. Addresses and IPs arrive already as keyed hashes.
#[derive(Debug, Clone, Default)]
pub struct AuditEvent {
    pub event: &'static str,
    pub user_id: Option<String>,
    pub email_hash: Option<String>,
    pub ip_hash: Option<String>,
    pub detail: Option<String>,
}

/// The INSERT of one event, for a caller that batches it with its own writes.
pub fn insert(
    db: &D1Database,
    at: &str,
    event: &AuditEvent,
) -> worker::Result<D1PreparedStatement> {
    db.prepare(
        "INSERT INTO audit_events (at, event, user_id, email_hash, ip_hash, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .bind(&[
        text(at),
        text(event.event),
        opt_text(event.user_id.as_deref()),
        opt_text(event.email_hash.as_deref()),
        opt_text(event.ip_hash.as_deref()),
        opt_text(event.detail.as_deref()),
    ])
}

/// The INSERT of a login's event: written only for the request whose `consumer`
/// token used the code (so a losing concurrent verify records nothing), with the
/// user's id read in the same statement.
pub fn insert_login(
    db: &D1Database,
    at: &str,
    event: &AuditEvent,
    email: &str,
    consumer: &str,
) -> worker::Result<D1PreparedStatement> {
    db.prepare(
        "INSERT INTO audit_events (at, event, user_id, email_hash, ip_hash, detail)
         SELECT ?1, ?2, u.id, ?3, ?4, ?5 FROM users u
         WHERE u.email = ?6
           AND EXISTS (SELECT 1 FROM otp_ledger WHERE email = ?6 AND consumed_by = ?7)",
    )
    .bind(&[
        text(at),
        text(event.event),
        opt_text(event.email_hash.as_deref()),
        opt_text(event.ip_hash.as_deref()),
        opt_text(event.detail.as_deref()),
        text(email),
        text(consumer),
    ])
}

/// Best effort: an audit write that fails is logged and never fails the request.
pub async fn record(db: D1Database, at: String, event: AuditEvent) {
    let result = match insert(&db, &at, &event) {
        Ok(statement) => statement.run().await.map(|_| ()),
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        worker::console_error!(
            "{}",
            serde_json::json!({"event": "audit_write_failed", "audit": event.event, "cause": e.to_string()})
        );
    }
}
