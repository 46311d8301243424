//! Login sessions in D1 (`sessions`): opened by a login, rotated by a
//! refresh, revoked by a logout, a detected replay or a finalised deletion.

use serde::Deserialize;

use crate::domain::error::AppError;
use crate::domain::refresh::SessionState;
use crate::storage::statement::{opt_text, text, Param, Params, Statement, Written};
use crate::storage::Db;

/// A session about to be opened by a login.
pub struct NewSession<'a> {
    pub id: &'a str,
    pub refresh_jti: &'a str,
    pub created_at: &'a str,
    pub expires_at: &'a str,
}

/// Why a session ended (`sessions.revoked_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeReason {
    Logout,
    RefreshReuse,
    AccountDeleted,
}

impl RevokeReason {
    pub(in crate::storage) fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::RefreshReuse => "refresh_reuse",
            Self::AccountDeleted => "account_deleted",
        }
    }
}

/// The login's session write: opens a session for the user who owns `email`,
/// never a finalised one, where `condition` holds (the login's: this request
/// used the code), so the batch never leaves a session without its user or a
/// user with a stray session. `condition` gets the address's placeholder.
pub(in crate::storage) fn open_on_login(
    session: &NewSession<'_>,
    email: &str,
    condition: impl FnOnce(&mut Params, Param) -> String,
) -> Statement<Written> {
    Statement::compose(|p| {
        let [id, jti, created, expires, email] = p.bind_all([
            text(session.id),
            text(session.refresh_jti),
            text(session.created_at),
            text(session.expires_at),
            text(email),
        ]);
        format!(
            "INSERT INTO sessions (id, user_id, refresh_jti, created_at, expires_at)
             SELECT {id}, u.id, {jti}, {created}, {expires} FROM users u
             WHERE u.email = {email} AND u.account_deletion_status IS NOT 'finalized'
               AND {}",
            condition(p, email)
        )
    })
}

/// The condition "session `session` of user `user` is live at `now`": not
/// revoked, not expired, its user not finalised. Written once, since it
/// decides access wherever a token acts on its session.
pub(in crate::storage) fn live_sql(session: Param, user: Param, now: Param) -> String {
    format!(
        "EXISTS (SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id
           WHERE s.id = {session} AND s.user_id = {user} AND s.revoked_at IS NULL
             AND s.expires_at > {now} AND u.account_deletion_status IS NOT 'finalized')"
    )
}

/// Whether a session is live: one row, `live` 1 or 0.
#[derive(Deserialize)]
pub(in crate::storage) struct Live {
    live: i64,
}

impl Live {
    pub(in crate::storage) fn is_live(rows: &[Live]) -> bool {
        rows.first().is_some_and(|r| r.live == 1)
    }
}

pub(in crate::storage) fn live(user_id: &str, session_id: &str, now: &str) -> Statement<Live> {
    Statement::compose(|p| {
        let [session, user, now] = p.bind_all([text(session_id), text(user_id), text(now)]);
        format!("SELECT {} AS live", live_sql(session, user, now))
    })
}

/// Whether the session is live. Always asked of the primary: it decides access.
pub async fn is_live(
    db: &Db,
    user_id: &str,
    session_id: &str,
    now: &str,
) -> Result<bool, AppError> {
    let rows = db
        .rows(live(user_id, session_id, now), "session live")
        .await?;
    Ok(Live::is_live(&rows))
}

/// The revocation of one session of the user (`Some(id)`) or all of them,
/// and with `while_live` only if that session of the user is live at `now`.
/// `RETURNING` yields one row per session that was live.
pub(in crate::storage) fn revoke_statement(
    user_id: &str,
    session_id: Option<&str>,
    reason: RevokeReason,
    now: &str,
    while_live: Option<&str>,
) -> Statement<Written> {
    Statement::compose(|p| {
        let [user, session, now, reason, guard] = p.bind_all([
            text(user_id),
            opt_text(session_id),
            text(now),
            text(reason.as_str()),
            opt_text(while_live),
        ]);
        format!(
            "UPDATE sessions SET revoked_at = {now}, revoked_reason = {reason}
             WHERE user_id = {user} AND ({session} IS NULL OR id = {session})
               AND revoked_at IS NULL AND ({guard} IS NULL OR {})
             RETURNING id",
            live_sql(guard, user, now)
        )
    })
}

/// Revokes one session of the user (`Some(id)`) or all of them; returns how
/// many were live.
pub async fn revoke(
    db: &Db,
    user_id: &str,
    session_id: Option<&str>,
    reason: RevokeReason,
    now: &str,
) -> Result<usize, AppError> {
    let statement = revoke_statement(user_id, session_id, reason, now, None);
    let rows = db.rows(statement, "session revoke").await?;
    Ok(rows.len())
}

/// Retires the presented refresh token and makes the new one current, only
/// if the presented one is still current in a live session: one conditional
/// UPDATE, so of two concurrent refreshes with one token exactly one rotates.
/// `RETURNING` gives a row only to the request that rotated.
pub(in crate::storage) fn rotate(
    session_id: &str,
    user_id: &str,
    presented_jti: &str,
    new_jti: &str,
    expires_at: &str,
    now: &str,
) -> Statement<Written> {
    Statement::new(
        // `previous_refresh_jti = refresh_jti` reads the value before this UPDATE.
        "UPDATE sessions SET previous_refresh_jti = refresh_jti, refresh_jti = ?4,
             expires_at = ?5, refreshed_at = ?6
         WHERE id = ?1 AND user_id = ?2 AND refresh_jti = ?3
           AND revoked_at IS NULL AND expires_at > ?6
         RETURNING id",
        vec![
            text(session_id),
            text(user_id),
            text(presented_jti),
            text(new_jti),
            text(expires_at),
            text(now),
        ],
    )
}

/// A session as a refresh that did not rotate needs it, to be classified.
#[derive(Deserialize)]
pub(in crate::storage) struct SessionRow {
    user_id: String,
    refresh_jti: String,
    previous_refresh_jti: Option<String>,
    refreshed_at: Option<String>,
    live: i64,
}

impl SessionRow {
    pub(in crate::storage) fn state(self) -> SessionState {
        SessionState {
            refreshed_at: self
                .refreshed_at
                .as_deref()
                .and_then(|raw| chrono::DateTime::parse_from_rfc3339(raw).ok())
                .map(|t| t.with_timezone(&chrono::Utc)),
            user_id: self.user_id,
            refresh_jti: self.refresh_jti,
            previous_refresh_jti: self.previous_refresh_jti,
            live: self.live != 0,
        }
    }
}

pub(in crate::storage) fn state(session_id: &str, now: &str) -> Statement<SessionRow> {
    Statement::new(
        "SELECT user_id, refresh_jti, previous_refresh_jti, refreshed_at,
             (revoked_at IS NULL AND expires_at > ?2) AS live
         FROM sessions WHERE id = ?1",
        vec![text(session_id), text(now)],
    )
}
