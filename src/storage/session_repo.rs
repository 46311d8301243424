//! Login sessions in D1.

use worker::{D1Database, D1PreparedStatement};

use super::{failed, text};
use crate::domain::email::EmailAddress;
use crate::domain::error::AppError;

pub struct SessionRepo<'a> {
    pub db: &'a D1Database,
}

/// A session about to be opened by a login.
pub struct NewSession<'a> {
    pub id: &'a str,
    pub refresh_jti: &'a str,
    pub created_at: &'a str,
    pub expires_at: &'a str,
}

impl SessionRepo<'_> {
    /// Opens a session for the user who owns `email`, under the same conditions as
    /// the login's user upsert (this request used the code; not finalised), so the
    /// batch never leaves a session without its user or a user with a stray session.
    pub fn open_on_login(
        &self,
        session: &NewSession<'_>,
        email: &EmailAddress,
        consumer: &str,
    ) -> Result<D1PreparedStatement, AppError> {
        self.db
            .prepare(
                "INSERT INTO sessions (id, user_id, refresh_jti, created_at, expires_at)
                 SELECT ?1, u.id, ?2, ?3, ?4 FROM users u
                 WHERE u.email = ?5 AND u.account_deletion_status IS NOT 'finalized'
                   AND EXISTS (SELECT 1 FROM otp_ledger WHERE email = ?5 AND consumed_by = ?6)",
            )
            .bind(&[
                text(session.id),
                text(session.refresh_jti),
                text(session.created_at),
                text(session.expires_at),
                text(email.as_str()),
                text(consumer),
            ])
            .map_err(failed("bind session insert"))
    }
}
