//! Security events in D1 (`audit_events`): written after the response, or
//! inside the batch of the change they describe.

use crate::domain::audit::AuditEvent;
use crate::domain::error::AppError;
use crate::storage::statement::{opt_text, text, Param, Statement, Written};
use crate::storage::Db;

/// The INSERT of one event, for a caller that batches it with its own writes.
pub(in crate::storage) fn insert(at: &str, event: &AuditEvent) -> Statement<Written> {
    Statement::new(
        "INSERT INTO audit_events (at, event, user_id, email_hash, ip_hash, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        vec![
            text(at),
            text(event.kind.as_str()),
            opt_text(event.user_id.as_deref()),
            opt_text(event.email_hash.as_deref()),
            opt_text(event.ip_hash.as_deref()),
            opt_text(event.detail.as_deref()),
        ],
    )
}

/// The INSERT of a login's event, with the user's id read in the same
/// statement, written only where `condition` holds (the request used the
/// code: a losing concurrent verify records nothing). `condition` gets the
/// address's placeholder.
pub(in crate::storage) fn insert_login(
    at: &str,
    event: &AuditEvent,
    email: &str,
    condition: impl FnOnce(&mut crate::storage::statement::Params, Param) -> String,
) -> Statement<Written> {
    Statement::compose(|p| {
        let [at, kind, email_hash, ip_hash, detail, email] = p.bind_all([
            text(at),
            text(event.kind.as_str()),
            opt_text(event.email_hash.as_deref()),
            opt_text(event.ip_hash.as_deref()),
            opt_text(event.detail.as_deref()),
            text(email),
        ]);
        format!(
            "INSERT INTO audit_events (at, event, user_id, email_hash, ip_hash, detail)
             SELECT {at}, {kind}, u.id, {email_hash}, {ip_hash}, {detail} FROM users u
             WHERE u.email = {email} AND {}",
            condition(p, email)
        )
    })
}

/// Records one event on its own.
pub async fn record(db: &Db, at: &str, event: &AuditEvent) -> Result<(), AppError> {
    db.run(insert(at, event), "audit write").await
}
