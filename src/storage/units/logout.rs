//! A logout's unit of work: the caller's session checked live, the
//! sessions ended and, for a logout of all of them, `session.revoked_all`
//! written, in one transaction.

use crate::domain::error::AppError;
use crate::domain::events::Event;
use crate::storage::batch::Batch;
use crate::storage::statement::text;
use crate::storage::tables::event_outbox;
use crate::storage::tables::sessions::{self, Live, RevokeReason};
use crate::storage::Db;

/// A logout by the holder of session `caller_session`: ends `target` (one of
/// the user's sessions) or, with `None`, all of them, but only while the
/// caller's own session is live, so the access token of an ended session (a
/// logout, a stolen chain revoked) cannot end its owner's other sessions.
/// Returns how many sessions were live, or `None` when the caller's session
/// has ended.
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
    let mut batch = Batch::new();
    let live = batch.push(sessions::live(user_id, caller_session, now));
    if let Some(event) = revoked_all {
        // Before the revocation, under the same condition.
        batch.push(event_outbox::insert_where(event, |p, user| {
            let [session, now] = p.bind_all([text(caller_session), text(now)]);
            sessions::live_sql(session, user, now)
        }));
    }
    let revoked = batch.push(sessions::revoke_statement(
        user_id,
        target,
        RevokeReason::Logout,
        now,
        Some(caller_session),
    ));
    let results = db.batch(&batch, "logout batch").await?;
    if !Live::is_live(&results.rows(live)?) {
        return Ok(None);
    }
    Ok(Some(results.count(revoked)?))
}
