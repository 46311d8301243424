//! A refresh's unit of work: the rotation of a session's refresh token, with
//! the session and its user read in the same transaction, so a refresh that
//! did not rotate is classified (`domain::refresh`) without another round
//! trip; only a replay costs a second one, to revoke.

use chrono::{DateTime, Utc};

use crate::domain::envelope::timestamp;
use crate::domain::error::AppError;
use crate::domain::refresh::{self, StaleRefresh};
use crate::domain::user::User;
use crate::storage::batch::{Batch, Results, Slot, StatementResult};
use crate::storage::statement::Written;
use crate::storage::tables::sessions::{self, RevokeReason, SessionRow};
use crate::storage::tables::users::{self, UserRow};
use crate::storage::Db;

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

struct RotateSlots {
    rotated: Slot<Written>,
    user: Slot<UserRow>,
    session: Slot<SessionRow>,
}

fn rotate_batch(r: &RotateRequest<'_>, now: &str) -> (Batch, RotateSlots) {
    let mut batch = Batch::new();
    let rotated = batch.push(sessions::rotate(
        r.session_id,
        r.user_id,
        r.presented_jti,
        r.new_jti,
        r.expires_at,
        now,
    ));
    // The user, if this request rotated, or if the presented token is the one
    // the last rotation retired (a grace candidate).
    let user = batch.push(users::select_by_session_jti(
        r.session_id,
        r.new_jti,
        r.presented_jti,
    ));
    let session = batch.push(sessions::state(r.session_id, now));
    (
        batch,
        RotateSlots {
            rotated,
            user,
            session,
        },
    )
}

/// What the batch says, before any revocation: `Replayed` here means the
/// caller must still revoke the session.
fn verdict<S: StatementResult>(
    r: &RotateRequest<'_>,
    results: &Results<S>,
    slots: &RotateSlots,
) -> Result<Rotation, AppError> {
    let rotated = results.returned(slots.rotated)?;
    let user = match (rotated, users::users(results.rows(slots.user)?)?) {
        (true, Some(user)) => return Ok(Rotation::Rotated(Box::new(user))),
        (_, user) => user,
    };
    let session = results.first(slots.session)?.map(SessionRow::state);
    let verdict = refresh::classify(
        session.as_ref(),
        r.user_id,
        r.presented_jti,
        r.now,
        r.grace_seconds,
    );
    Ok(match (verdict, user) {
        (StaleRefresh::Grace { current_jti }, Some(user)) => Rotation::Current {
            user: Box::new(user),
            current_jti,
        },
        (StaleRefresh::Reuse, _) => Rotation::Replayed,
        // A grace candidate whose account was finalised meanwhile is refused too.
        (StaleRefresh::Grace { .. } | StaleRefresh::Refused, _) => Rotation::Refused,
    })
}

/// Retires the presented refresh token and makes the new one current, only
/// if the presented one is still current in a live session; a replay of a
/// retired token revokes the session.
pub async fn rotate(db: &Db, r: &RotateRequest<'_>) -> Result<Rotation, AppError> {
    let now = timestamp(r.now);
    let (batch, slots) = rotate_batch(r, &now);
    let results = db.batch(&batch, "refresh batch").await?;
    let rotation = verdict(r, &results, &slots)?;
    if let Rotation::Replayed = rotation {
        sessions::revoke(
            db,
            r.user_id,
            Some(r.session_id),
            RevokeReason::RefreshReuse,
            &now,
        )
        .await?;
    }
    Ok(rotation)
}
