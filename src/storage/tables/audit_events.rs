//! Security events in D1 (`audit_events`): written after the response, or
//! inside the batch of the change they describe.

use crate::domain::audit::{AuditEvent, AuditKind};
use crate::domain::error::AppError;
use crate::storage::statement::{opt_text, text, Param, Params, Statement, Written};
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
/// code: a losing concurrent verify records nothing). Where `review` holds
/// (the code used was a review address's fixed code) it is recorded as
/// `review_login` instead. Both get the address's placeholder.
pub(in crate::storage) fn insert_login(
    at: &str,
    event: &AuditEvent,
    email: &str,
    condition: impl FnOnce(&mut Params, Param) -> String,
    review: impl FnOnce(&mut Params, Param) -> String,
) -> Statement<Written> {
    Statement::compose(|p| {
        let [at, kind, review_kind, email_hash, ip_hash, detail, email] = p.bind_all([
            text(at),
            text(event.kind.as_str()),
            text(AuditKind::ReviewLogin.as_str()),
            opt_text(event.email_hash.as_deref()),
            opt_text(event.ip_hash.as_deref()),
            opt_text(event.detail.as_deref()),
            text(email),
        ]);
        let condition = condition(p, email);
        let review = review(p, email);
        format!(
            "INSERT INTO audit_events (at, event, user_id, email_hash, ip_hash, detail)
             SELECT {at}, CASE WHEN {review} THEN {review_kind} ELSE {kind} END, u.id,
                    {email_hash}, {ip_hash}, {detail} FROM users u
             WHERE u.email = {email} AND {condition}"
        )
    })
}

/// Records one event on its own.
pub async fn record(db: &Db, at: &str, event: &AuditEvent) -> Result<(), AppError> {
    db.run(insert(at, event), "audit write").await
}
