//! Login sessions in D1: opened by a login, rotated by a refresh, revoked by a
//! logout, a detected replay or a finalised deletion.

use serde::Deserialize;
use worker::D1PreparedStatement;

use super::user_repo::{self, UserRow};
use super::{batch_rows, opt_text, text, Db};
use crate::domain::email::EmailAddress;
use crate::domain::error::AppError;
use crate::domain::user::User;

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
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::RefreshReuse => "refresh_reuse",
            Self::AccountDeleted => "account_deleted",
        }
    }
}

/// The login's session write: opens a session for the user who owns `email`,
/// under the same conditions as the login's user upsert (this request used the
/// code; not finalised), so the batch never leaves a session without its user
/// or a user with a stray session.
pub(super) fn open_on_login(
    db: &Db,
    session: &NewSession<'_>,
    email: &EmailAddress,
    consumer: &str,
) -> Result<D1PreparedStatement, AppError> {
    db.statement(
        "INSERT INTO sessions (id, user_id, refresh_jti, created_at, expires_at)
         SELECT ?1, u.id, ?2, ?3, ?4 FROM users u
         WHERE u.email = ?5 AND u.account_deletion_status IS NOT 'finalized'
           AND EXISTS (SELECT 1 FROM otp_codes WHERE email = ?5 AND consumed_by = ?6)",
        &[
            text(session.id),
            text(session.refresh_jti),
            text(session.created_at),
            text(session.expires_at),
            text(email.as_str()),
            text(consumer),
        ],
    )
}

/// A refresh: the presented token's claims and the token that replaces it.
pub struct RotateRequest<'a> {
    pub session_id: &'a str,
    pub user_id: &'a str,
    pub presented_jti: &'a str,
    pub new_jti: &'a str,
    pub expires_at: &'a str,
    pub now: &'a str,
}

/// What a refresh did to the session.
#[derive(Debug)]
pub enum Rotation {
    /// The session now expects the new token; here is its user.
    Rotated(Box<User>),
    /// The presented token was retired earlier: it was copied, so the whole
    /// session was revoked.
    Replayed,
    /// No live session of this user expects the token (ended, expired, unknown).
    Refused,
}

/// Retires the presented refresh token and makes the new one current, only if
/// the presented one is still current in a live session: one conditional
/// UPDATE, so of two concurrent refreshes with one token exactly one succeeds.
/// The user and the session are read in the same transaction, so a refused
/// rotation is classified without another round trip.
pub async fn rotate(db: &Db, r: &RotateRequest<'_>) -> Result<Rotation, AppError> {
    #[derive(Deserialize)]
    struct SessionRow {
        user_id: String,
        refresh_jti: String,
        revoked_at: Option<String>,
    }
    let results = db
        .batch(
            vec![
                db.statement(
                    "UPDATE sessions SET refresh_jti = ?4, expires_at = ?5, refreshed_at = ?6
                     WHERE id = ?1 AND user_id = ?2 AND refresh_jti = ?3
                       AND revoked_at IS NULL AND expires_at > ?6
                     RETURNING id",
                    &[
                        text(r.session_id),
                        text(r.user_id),
                        text(r.presented_jti),
                        text(r.new_jti),
                        text(r.expires_at),
                        text(r.now),
                    ],
                )?,
                // Read only through the new `jti`, i.e. only if this request rotated it.
                user_repo::select_by_session_jti(db, r.session_id, r.new_jti)?,
                db.statement(
                    "SELECT user_id, refresh_jti, revoked_at FROM sessions WHERE id = ?1",
                    &[text(r.session_id)],
                )?,
            ],
            "refresh batch",
        )
        .await?;
    if let Some(user) = user_repo::users(batch_rows::<UserRow>(&results, 1)?)? {
        return Ok(Rotation::Rotated(Box::new(user)));
    }
    // Not rotated. If the session is live but has moved on to another token,
    // the presented one was retired earlier: someone is replaying it.
    let session = batch_rows::<SessionRow>(&results, 2)?.into_iter().next();
    let replayed = session.is_some_and(|s| {
        s.revoked_at.is_none() && s.user_id == r.user_id && s.refresh_jti != r.presented_jti
    });
    if !replayed {
        return Ok(Rotation::Refused);
    }
    revoke(
        db,
        r.user_id,
        Some(r.session_id),
        RevokeReason::RefreshReuse,
        r.now,
    )
    .await?;
    Ok(Rotation::Replayed)
}

/// The condition "session `?{session}` of user `?{user}` is live at `?{now}`":
/// not revoked, not expired, its user not finalised. Written once, since it
/// decides access wherever a token acts on its session.
pub(super) fn live_sql(session: usize, user: usize, now: usize) -> String {
    format!(
        "EXISTS (SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id
           WHERE s.id = ?{session} AND s.user_id = ?{user} AND s.revoked_at IS NULL
             AND s.expires_at > ?{now} AND u.account_deletion_status IS NOT 'finalized')"
    )
}

#[derive(Deserialize)]
struct Live {
    live: i64,
}

/// One row, `live` 1 or 0.
fn live_statement(
    db: &Db,
    user_id: &str,
    session_id: &str,
    now: &str,
) -> Result<D1PreparedStatement, AppError> {
    db.statement(
        format!("SELECT {} AS live", live_sql(1, 2, 3)),
        &[text(session_id), text(user_id), text(now)],
    )
}

/// Whether the session is live. Always asked of the primary: it decides access.
pub async fn is_live(
    db: &Db,
    user_id: &str,
    session_id: &str,
    now: &str,
) -> Result<bool, AppError> {
    let rows: Vec<Live> = db
        .rows(
            live_statement(db, user_id, session_id, now)?,
            "session live",
        )
        .await?;
    Ok(rows.first().is_some_and(|r| r.live == 1))
}

/// The revocation of one session of the user (`Some(id)`) or all of them.
/// `RETURNING` yields one row per session that was live.
pub(super) fn revoke_statement(
    db: &Db,
    user_id: &str,
    session_id: Option<&str>,
    reason: RevokeReason,
    now: &str,
) -> Result<D1PreparedStatement, AppError> {
    guarded_revoke_statement(db, user_id, session_id, reason, now, None)
}

/// `revoke_statement`, and with `while_live` only if that session of the
/// user is live at `now`.
fn guarded_revoke_statement(
    db: &Db,
    user_id: &str,
    session_id: Option<&str>,
    reason: RevokeReason,
    now: &str,
    while_live: Option<&str>,
) -> Result<D1PreparedStatement, AppError> {
    db.statement(
        format!(
            "UPDATE sessions SET revoked_at = ?3, revoked_reason = ?4
             WHERE user_id = ?1 AND (?2 IS NULL OR id = ?2) AND revoked_at IS NULL
               AND (?5 IS NULL OR {})
             RETURNING id",
            live_sql(5, 1, 3)
        ),
        &[
            text(user_id),
            opt_text(session_id),
            text(now),
            text(reason.as_str()),
            opt_text(while_live),
        ],
    )
}

/// A logout by the holder of session `caller_session`: ends `target` (one of
/// the user's sessions) or, with `None`, all of them, but only while the
/// caller's own session is live, so the access token of an ended session (a
/// logout, a stolen chain revoked) cannot end its owner's other sessions.
/// Checked and done in one transaction. Returns how many sessions were live,
/// or `None` when the caller's session has ended.
pub async fn logout(
    db: &Db,
    user_id: &str,
    caller_session: &str,
    target: Option<&str>,
    now: &str,
) -> Result<Option<usize>, AppError> {
    let results = db
        .batch(
            vec![
                live_statement(db, user_id, caller_session, now)?,
                guarded_revoke_statement(
                    db,
                    user_id,
                    target,
                    RevokeReason::Logout,
                    now,
                    Some(caller_session),
                )?,
            ],
            "logout batch",
        )
        .await?;
    let live = batch_rows::<Live>(&results, 0)?
        .first()
        .is_some_and(|r| r.live == 1);
    if !live {
        return Ok(None);
    }
    Ok(Some(batch_rows::<serde_json::Value>(&results, 1)?.len()))
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
    let statement = revoke_statement(db, user_id, session_id, reason, now)?;
    let rows: Vec<serde_json::Value> = db.rows(statement, "session revoke").await?;
    Ok(rows.len())
}
