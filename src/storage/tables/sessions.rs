//! Login sessions in D1 (`sessions`): opened by a login, rotated by a
//! refresh, revoked by a logout, a detected replay or a finalised deletion.

use serde::Deserialize;

use crate::domain::error::AppError;
use crate::domain::refresh::SessionState;
use crate::domain::session_list::{LiveSession, LoginOrigin, MAX_LISTED};
use crate::storage::statement::{int, opt_text, text, Param, Params, Statement, Written};
use crate::storage::Db;

/// A session about to be opened by a login.
pub struct NewSession<'a> {
    pub id: &'a str,
    pub refresh_jti: &'a str,
    pub created_at: &'a str,
    pub expires_at: &'a str,
    /// What the login was made from, for the user's list of sessions.
    pub origin: &'a LoginOrigin,
}

/// Why a session ended (`sessions.revoked_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeReason {
    Logout,
    RefreshReuse,
    AccountDeleted,
    /// A mailed code signed in to a review account: the account is real now,
    /// and the sessions its review logins opened end.
    ReviewEnded,
}

impl RevokeReason {
    pub(in crate::storage) fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::RefreshReuse => "refresh_reuse",
            Self::AccountDeleted => "account_deleted",
            Self::ReviewEnded => "review_ended",
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
        let origin = session.origin;
        let [id, jti, created, expires, device, country, city, email] = p.bind_all([
            text(session.id),
            text(session.refresh_jti),
            text(session.created_at),
            text(session.expires_at),
            opt_text(origin.device_label.as_deref()),
            opt_text(origin.country.as_deref()),
            opt_text(origin.city.as_deref()),
            text(email),
        ]);
        format!(
            "INSERT INTO sessions
                 (id, user_id, refresh_jti, created_at, expires_at, device_label, country, city)
             SELECT {id}, u.id, {jti}, {created}, {expires}, {device}, {country}, {city}
             FROM users u
             WHERE u.email = {email} AND u.account_deletion_status IS NOT 'finalized'
               AND {}",
            condition(p, email)
        )
    })
}

/// The login's end of a review account: where `condition` holds (this
/// request used the code) and `review` does not (the code was mailed, not a
/// review address's fixed one), the live sessions of the review account that
/// owns `email` are revoked. Pushed before the upsert, which makes the account
/// real: whoever holds the fixed code (an app store's reviewer, or anyone it
/// leaked to) keeps no session once the mailbox's owner has signed in.
pub(in crate::storage) fn end_review_on_login(
    email: &str,
    now: &str,
    condition: impl FnOnce(&mut Params, Param) -> String,
    review: impl FnOnce(&mut Params, Param) -> String,
) -> Statement<Written> {
    Statement::compose(|p| {
        let [email, now, reason] = p.bind_all([
            text(email),
            text(now),
            text(RevokeReason::ReviewEnded.as_str()),
        ]);
        let condition = condition(p, email);
        let review = review(p, email);
        format!(
            "UPDATE sessions SET revoked_at = {now}, revoked_reason = {reason}
             WHERE revoked_at IS NULL
               AND user_id IN (SELECT id FROM users WHERE email = {email} AND review = 1)
               AND {condition} AND NOT {review}"
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
/// An expired session has ended already and is left alone. `RETURNING`
/// yields one row per session that was live.
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
               AND revoked_at IS NULL AND expires_at > {now} AND ({guard} IS NULL OR {})
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

/// A live session as the list reads it.
#[derive(Deserialize)]
pub(in crate::storage) struct LiveRow {
    id: String,
    device_label: Option<String>,
    country: Option<String>,
    city: Option<String>,
    created_at: String,
    refreshed_at: Option<String>,
}

impl From<LiveRow> for LiveSession {
    fn from(row: LiveRow) -> Self {
        Self {
            id: row.id,
            device_label: row.device_label,
            country: row.country,
            city: row.city,
            created_at: row.created_at,
            refreshed_at: row.refreshed_at,
        }
    }
}

/// The user's live sessions (as `live_sql` means it), at most `MAX_LISTED`:
/// `current` first if it is one of them, then the most recently active.
pub(in crate::storage) fn live_of_user(
    user_id: &str,
    current: &str,
    now: &str,
) -> Statement<LiveRow> {
    Statement::new(
        "SELECT s.id, s.device_label, s.country, s.city, s.created_at, s.refreshed_at
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.user_id = ?1 AND s.revoked_at IS NULL AND s.expires_at > ?3
           AND u.account_deletion_status IS NOT 'finalized'
         ORDER BY s.id = ?2 DESC, COALESCE(s.refreshed_at, s.created_at) DESC, s.id
         LIMIT ?4",
        vec![
            text(user_id),
            text(current),
            text(now),
            int(i64::from(MAX_LISTED)),
        ],
    )
}

/// The user's live sessions, the caller's (`current`) first if it is live.
/// Asked of the primary: whether the caller's is among them decides access.
pub async fn live_of(
    db: &Db,
    user_id: &str,
    current: &str,
    now: &str,
) -> Result<Vec<LiveSession>, AppError> {
    let rows = db
        .rows(live_of_user(user_id, current, now), "sessions list")
        .await?;
    Ok(rows.into_iter().map(LiveSession::from).collect())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::batch::Batch;
    use crate::storage::testing::Sqlite;

    const NOW: &str = "2026-05-01T12:00:00.000Z";

    fn user(db: &Sqlite, id: &str, status: Option<&str>) {
        let status = status.map_or("NULL".to_owned(), |s| format!("'{s}'"));
        db.query(&format!(
            "INSERT INTO users (id, email, account_deletion_status, created_at, updated_at)
             VALUES ('{id}', '{id}@example.com', {status}, '{NOW}', '{NOW}')"
        ));
    }

    fn session(db: &Sqlite, id: &str, user: &str, created: &str, refreshed: Option<&str>) {
        let refreshed = refreshed.map_or("NULL".to_owned(), |r| format!("'{r}'"));
        db.query(&format!(
            "INSERT INTO sessions (id, user_id, refresh_jti, created_at, refreshed_at, expires_at)
             VALUES ('{id}', '{user}', 'jti-{id}', '{created}', {refreshed}, '2026-06-01T00:00:00.000Z')"
        ));
    }

    fn listed(db: &Sqlite, user: &str, current: &str) -> Vec<String> {
        let mut batch = Batch::new();
        let slot = batch.push(live_of_user(user, current, NOW));
        db.run(&batch)
            .unwrap()
            .rows(slot)
            .unwrap()
            .into_iter()
            .map(|row| LiveSession::from(row).id)
            .collect()
    }

    #[test]
    fn a_login_keeps_its_origin_and_the_list_reads_it_back() {
        let db = Sqlite::migrated();
        user(&db, "u1", None);
        let origin = LoginOrigin {
            device_label: Some("Safari on iPhone".into()),
            country: Some("TR".into()),
            city: Some("Istanbul".into()),
        };
        let new = NewSession {
            id: "s1",
            refresh_jti: "j1",
            created_at: NOW,
            expires_at: "2026-06-01T00:00:00.000Z",
            origin: &origin,
        };
        let mut batch = Batch::new();
        batch.push(open_on_login(&new, "u1@example.com", |_, _| "1".into()));
        let list = batch.push(live_of_user("u1", "s1", NOW));
        let rows = db.run(&batch).unwrap().rows(list).unwrap();
        let listed: Vec<LiveSession> = rows.into_iter().map(LiveSession::from).collect();
        assert_eq!(
            listed,
            [LiveSession {
                id: "s1".into(),
                device_label: Some("Safari on iPhone".into()),
                country: Some("TR".into()),
                city: Some("Istanbul".into()),
                created_at: NOW.into(),
                refreshed_at: None,
            }]
        );
    }

    #[test]
    fn the_list_is_the_users_live_sessions_the_callers_first_then_the_latest_active() {
        let db = Sqlite::migrated();
        user(&db, "u1", None);
        user(&db, "u2", None);
        session(&db, "old", "u1", "2026-04-01T00:00:00.000Z", None);
        session(
            &db,
            "busy",
            "u1",
            "2026-03-01T00:00:00.000Z",
            Some("2026-04-30T00:00:00.000Z"),
        );
        session(&db, "new", "u1", "2026-04-20T00:00:00.000Z", None);
        session(&db, "mine", "u1", "2026-02-01T00:00:00.000Z", None);
        session(&db, "gone", "u1", "2026-04-25T00:00:00.000Z", None);
        session(&db, "stale", "u1", "2026-04-26T00:00:00.000Z", None);
        session(&db, "theirs", "u2", "2026-04-27T00:00:00.000Z", None);
        db.query("UPDATE sessions SET revoked_at = '2026-04-29T00:00:00.000Z' WHERE id = 'gone'");
        db.query("UPDATE sessions SET expires_at = '2026-04-30T00:00:00.000Z' WHERE id = 'stale'");
        assert_eq!(listed(&db, "u1", "mine"), ["mine", "busy", "new", "old"]);
        // A caller whose session is not live is not in its own list.
        assert_eq!(listed(&db, "u1", "gone"), ["busy", "new", "old", "mine"]);
        assert_eq!(listed(&db, "u2", "theirs"), ["theirs"]);
    }

    #[test]
    fn a_finalised_account_lists_nothing() {
        let db = Sqlite::migrated();
        user(&db, "u1", Some("finalized"));
        session(&db, "s1", "u1", NOW, None);
        assert!(listed(&db, "u1", "s1").is_empty());
    }

    #[test]
    fn the_list_stops_at_its_cap_and_keeps_the_callers_session() {
        let db = Sqlite::migrated();
        user(&db, "u1", None);
        session(&db, "first", "u1", "2026-01-01T00:00:00.000Z", None);
        for i in 0..MAX_LISTED {
            session(
                &db,
                &format!("s{i:03}"),
                "u1",
                "2026-04-01T00:00:00.000Z",
                None,
            );
        }
        let list = listed(&db, "u1", "first");
        assert_eq!(list.len(), MAX_LISTED as usize);
        assert_eq!(list[0], "first");
    }
}
