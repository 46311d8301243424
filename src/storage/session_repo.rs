//! Login sessions in D1: opened by a login, rotated by a refresh, revoked by a
//! logout, a detected replay or a finalised deletion.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use worker::D1PreparedStatement;

use super::user_repo::{self, UserRow};
use super::{batch_rows, opt_text, outbox, text, Db};
use crate::domain::email::EmailAddress;
use crate::domain::envelope::timestamp;
use crate::domain::error::AppError;
use crate::domain::events::Event;
use crate::domain::refresh::{self, SessionState, StaleRefresh};
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
    pub now: DateTime<Utc>,
    /// `REFRESH_REUSE_GRACE_SECONDS`.
    pub grace_seconds: u32,
}

/// What a refresh did to the session.
#[derive(Debug)]
pub enum Rotation {
    /// The session now expects the new token; here is its user.
    Rotated(Box<User>),
    /// The presented token was retired by the last rotation moments ago (two
    /// tabs, a retry): nothing changed; the session expects `current_jti`.
    Current {
        user: Box<User>,
        current_jti: String,
    },
    /// The presented token was retired earlier: it was copied, so the whole
    /// session was revoked.
    Replayed,
    /// No live session of this user expects the token (ended, expired, unknown).
    Refused,
}

/// Retires the presented refresh token and makes the new one current, only if
/// the presented one is still current in a live session: one conditional
/// UPDATE, so of two concurrent refreshes with one token exactly one rotates.
/// The session and its user are read in the same transaction, so a refresh
/// that did not rotate is classified (`domain::refresh`) without another
/// round trip; only a replay costs a second one, to revoke.
pub async fn rotate(db: &Db, r: &RotateRequest<'_>) -> Result<Rotation, AppError> {
    #[derive(Deserialize)]
    struct SessionRow {
        user_id: String,
        refresh_jti: String,
        previous_refresh_jti: Option<String>,
        refreshed_at: Option<String>,
        live: i64,
    }
    let now = timestamp(r.now);
    let results = db
        .batch(
            vec![
                // `previous_refresh_jti = refresh_jti` reads the value before this UPDATE.
                db.statement(
                    "UPDATE sessions SET previous_refresh_jti = refresh_jti, refresh_jti = ?4,
                         expires_at = ?5, refreshed_at = ?6
                     WHERE id = ?1 AND user_id = ?2 AND refresh_jti = ?3
                       AND revoked_at IS NULL AND expires_at > ?6
                     RETURNING id",
                    &[
                        text(r.session_id),
                        text(r.user_id),
                        text(r.presented_jti),
                        text(r.new_jti),
                        text(r.expires_at),
                        text(&now),
                    ],
                )?,
                // The user, if this request rotated, or if the presented token
                // is the one the last rotation retired (a grace candidate).
                user_repo::select_by_session_jti(db, r.session_id, r.new_jti, r.presented_jti)?,
                db.statement(
                    "SELECT user_id, refresh_jti, previous_refresh_jti, refreshed_at,
                         (revoked_at IS NULL AND expires_at > ?2) AS live
                     FROM sessions WHERE id = ?1",
                    &[text(r.session_id), text(&now)],
                )?,
            ],
            "refresh batch",
        )
        .await?;
    let rotated = !batch_rows::<serde_json::Value>(&results, 0)?.is_empty();
    let user = match (
        rotated,
        user_repo::users(batch_rows::<UserRow>(&results, 1)?)?,
    ) {
        (true, Some(user)) => return Ok(Rotation::Rotated(Box::new(user))),
        (_, user) => user,
    };
    let session = batch_rows::<SessionRow>(&results, 2)?
        .into_iter()
        .next()
        .map(|s| SessionState {
            refreshed_at: s.refreshed_at.as_deref().and_then(parse_timestamp),
            user_id: s.user_id,
            refresh_jti: s.refresh_jti,
            previous_refresh_jti: s.previous_refresh_jti,
            live: s.live != 0,
        });
    let verdict = refresh::classify(
        session.as_ref(),
        r.user_id,
        r.presented_jti,
        r.now,
        r.grace_seconds,
    );
    match (verdict, user) {
        (StaleRefresh::Grace { current_jti }, Some(user)) => Ok(Rotation::Current {
            user: Box::new(user),
            current_jti,
        }),
        (StaleRefresh::Reuse, _) => {
            revoke(
                db,
                r.user_id,
                Some(r.session_id),
                RevokeReason::RefreshReuse,
                &now,
            )
            .await?;
            Ok(Rotation::Replayed)
        }
        // A grace candidate whose account was finalised meanwhile is refused too.
        (StaleRefresh::Grace { .. } | StaleRefresh::Refused, _) => Ok(Rotation::Refused),
    }
}

fn parse_timestamp(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw)
        .ok()
        .map(|t| t.with_timezone(&Utc))
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
///
/// `revoked_all`: the `session.revoked_all` event of a logout of all sessions,
/// written to the outbox in the same batch exactly when that logout happens
/// (the caller's session is live, so it ends at least that one).
pub async fn logout(
    db: &Db,
    user_id: &str,
    caller_session: &str,
    target: Option<&str>,
    now: &str,
    revoked_all: Option<&Event>,
) -> Result<Option<usize>, AppError> {
    let mut statements = vec![live_statement(db, user_id, caller_session, now)?];
    if let Some(event) = revoked_all {
        // Before the revocation, under the same condition; the event's user is ?3.
        statements.push(outbox::insert_where(
            db,
            event,
            &live_sql(6, 3, 7),
            &[text(caller_session), text(now)],
        )?);
    }
    statements.push(guarded_revoke_statement(
        db,
        user_id,
        target,
        RevokeReason::Logout,
        now,
        Some(caller_session),
    )?);
    let results = db.batch(statements, "logout batch").await?;
    let live = batch_rows::<Live>(&results, 0)?
        .first()
        .is_some_and(|r| r.live == 1);
    if !live {
        return Ok(None);
    }
    Ok(Some(
        batch_rows::<serde_json::Value>(&results, results.len() - 1)?.len(),
    ))
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
