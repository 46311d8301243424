//! Login sessions in D1.

use worker::{D1Database, D1PreparedStatement};

use super::{failed, opt_text, text};
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

/// A session as the refresh and logout paths need it.
#[derive(Debug, serde::Deserialize)]
pub struct SessionRow {
    pub user_id: String,
    pub refresh_jti: String,
    pub revoked_at: Option<String>,
}

impl SessionRepo<'_> {
    /// Retires `old_jti` and makes `new_jti` the session's refresh token, only if
    /// `old_jti` is still the current one of a live session: one atomic UPDATE, so
    /// of two concurrent refreshes with the same token exactly one succeeds.
    pub fn rotate(
        &self,
        session_id: &str,
        user_id: &str,
        old_jti: &str,
        new_jti: &str,
        expires_at: &str,
        now: &str,
    ) -> Result<D1PreparedStatement, AppError> {
        self.db
            .prepare(
                "UPDATE sessions SET refresh_jti = ?4, expires_at = ?5, refreshed_at = ?6
                 WHERE id = ?1 AND user_id = ?2 AND refresh_jti = ?3
                   AND revoked_at IS NULL AND expires_at > ?6
                 RETURNING id",
            )
            .bind(&[
                text(session_id),
                text(user_id),
                text(old_jti),
                text(new_jti),
                text(expires_at),
                text(now),
            ])
            .map_err(failed("bind session rotate"))
    }

    pub async fn find(&self, session_id: &str) -> Result<Option<SessionRow>, AppError> {
        self.db
            .prepare("SELECT user_id, refresh_jti, revoked_at FROM sessions WHERE id = ?1")
            .bind(&[text(session_id)])
            .map_err(failed("bind session find"))?
            .first::<SessionRow>(None)
            .await
            .map_err(failed("session find"))
    }

    /// Revokes one session of the user (`Some(id)`) or all of them (`None`).
    /// `RETURNING` yields one row per session that was live.
    pub fn revoke(
        &self,
        session_id: Option<&str>,
        user_id: &str,
        reason: &str,
        now: &str,
    ) -> Result<D1PreparedStatement, AppError> {
        self.db
            .prepare(
                "UPDATE sessions SET revoked_at = ?3, revoked_reason = ?4
                 WHERE user_id = ?1 AND (?2 IS NULL OR id = ?2) AND revoked_at IS NULL
                 RETURNING id",
            )
            .bind(&[text(user_id), opt_text(session_id), text(now), text(reason)])
            .map_err(failed("bind session revoke"))
    }
}
