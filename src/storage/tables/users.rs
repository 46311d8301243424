//! Users in D1 (`users`).

use serde::Deserialize;

use super::sessions;
use super::user_columns::column;
use crate::domain::error::AppError;
use crate::domain::user::{DeletionStatus, User, DEFAULT_ROLES};
use crate::domain::user_change::{Changes, FieldValue, Precondition};
use crate::storage::statement::{int, text, Param, Params, Statement, Value};
use crate::storage::Db;

/// The SQL of a precondition, checked in the same statement as the write.
fn precondition_sql(p: &mut Params, precondition: &Precondition) -> String {
    match precondition {
        Precondition::RegistrationIncomplete => "is_registration_complete = 0".into(),
        Precondition::UsernameChangeAllowed { cutoff } => format!(
            "(last_username_change_date IS NULL OR last_username_change_date <= {})",
            p.bind(text(cutoff))
        ),
        Precondition::DeletionSchedulable => {
            "(account_deletion_status IS NULL OR account_deletion_status = 'cancelled')".into()
        }
        Precondition::DeletionPending => "account_deletion_status = 'pending'".into(),
        Precondition::None => "1 = 1".into(),
    }
}

/// The condition an update of user `user_id` applies under: not finalised,
/// and `precondition`.
pub(in crate::storage) fn guard_sql(
    p: &mut Params,
    user_id: &str,
    precondition: &Precondition,
) -> String {
    let id = p.bind(text(user_id));
    format!(
        "id = {id} AND account_deletion_status IS NOT 'finalized' AND {}",
        precondition_sql(p, precondition)
    )
}

fn bind_value(value: &FieldValue) -> Result<Value, AppError> {
    Ok(match value {
        FieldValue::Text(s) => text(s),
        FieldValue::Bool(b) => int(i64::from(*b)),
        FieldValue::List(items) => text(&serde_json::to_string(items).map_err(AppError::internal)?),
        FieldValue::Null => Value::Null,
    })
}

/// The users of rows D1 returned, as the documented user.
pub(in crate::storage) fn users(rows: Vec<UserRow>) -> Result<Option<User>, AppError> {
    rows.into_iter().next().map(User::try_from).transpose()
}

/// D1 reports constraint violations as text; a taken username is the caller's
/// problem (409), anything else is ours.
pub(in crate::storage) fn conflict_or_internal(err: AppError) -> AppError {
    match err {
        AppError::Internal(cause) if cause.contains("UNIQUE constraint failed: users.username") => {
            AppError::Conflict {
                code: "username_taken",
                message: "That username is already taken",
            }
        }
        other => other,
    }
}

/// The login's user write: creates the user on first login or stamps
/// `last_login` on a later one, only where `condition` holds (the login's:
/// this request used the code, so a losing concurrent request writes
/// nothing), and never for a finalised deletion. `RETURNING` gives the row;
/// none means a condition failed. `condition` gets the address's placeholder.
///
/// `tombstones` are what a finalised deletion may have left of this address
/// (under the current key or an earlier one): while one exists, the address
/// cannot make a new account either.
///
/// `review` is the SQL condition "the code used is a review code": a user it
/// creates is a review account, and a login with any other code makes an
/// account real for good (`real_account`).
pub(in crate::storage) fn upsert_on_login(
    new_id: &str,
    email: &str,
    tombstones: &[String],
    now: &str,
    condition: impl FnOnce(&mut Params, Param) -> String,
    review: impl FnOnce(&mut Params, Param) -> String,
) -> Result<Statement<UserRow>, AppError> {
    let roles = serde_json::to_string(DEFAULT_ROLES).map_err(AppError::internal)?;
    let tombstones = serde_json::to_string(tombstones).map_err(AppError::internal)?;
    Ok(Statement::compose(|p| {
        let [id, email, roles, now, tombstones] = p.bind_all([
            text(new_id),
            text(email),
            text(&roles),
            text(now),
            text(&tombstones),
        ]);
        let condition = condition(p, email);
        let review = review(p, email);
        format!(
            "INSERT INTO users (id, email, roles, last_login, created_at, updated_at, review)
             SELECT {id}, {email}, {roles}, {now}, {now}, {now}, {review}
             WHERE {condition}
               AND NOT EXISTS (SELECT 1 FROM users WHERE email IN (SELECT value FROM json_each({tombstones})))
             ON CONFLICT (email) DO UPDATE SET last_login = excluded.last_login,
                 updated_at = excluded.updated_at, review = users.review AND excluded.review
             WHERE users.account_deletion_status IS NOT 'finalized'
             RETURNING *"
        )
    }))
}

/// The SQL condition "a real account holds the address `email`": one that
/// was not created by a review login, or has signed in with a mailed code
/// since. Its address is never a review address (`domain::review`).
pub(in crate::storage) fn real_account(email: Param) -> String {
    format!("EXISTS (SELECT 1 FROM users WHERE email = {email} AND review = 0)")
}

/// The user behind an access token, if its session is still live.
pub async fn find_for_session(
    db: &Db,
    user_id: &str,
    session_id: &str,
    now: &str,
) -> Result<Option<User>, AppError> {
    let statement = Statement::compose(|p| {
        let [user, session, now] = p.bind_all([text(user_id), text(session_id), text(now)]);
        format!(
            "SELECT * FROM users WHERE id = {user} AND {}",
            sessions::live_sql(session, user, now)
        )
    });
    users(db.rows(statement, "user by session").await?)
}

/// A user's profile by id (not finalised), from whichever replica `db` reads.
pub async fn find(db: &Db, user_id: &str) -> Result<Option<User>, AppError> {
    let statement = Statement::new(
        "SELECT * FROM users WHERE id = ?1 AND account_deletion_status IS NOT 'finalized'",
        vec![text(user_id)],
    );
    users(db.rows(statement, "user by id").await?)
}

/// For the refresh batch: the user of a session whose refresh token is now
/// `jti`, or whose last rotation retired `previous_jti`.
pub(in crate::storage) fn select_by_session_jti(
    session_id: &str,
    jti: &str,
    previous_jti: &str,
) -> Statement<UserRow> {
    Statement::new(
        "SELECT u.* FROM users u JOIN sessions s ON s.user_id = u.id
         WHERE s.id = ?1 AND (s.refresh_jti = ?2 OR s.previous_refresh_jti = ?3)
           AND u.account_deletion_status IS NOT 'finalized'",
        vec![text(session_id), text(jti), text(previous_jti)],
    )
}

/// The guarded UPDATE of `update`: `changes` (plus `updated_at`) where the
/// user is not finalised and `precondition` holds.
pub(in crate::storage) fn update_statement(
    user_id: &str,
    changes: &Changes,
    precondition: &Precondition,
    now: &str,
) -> Result<Statement<UserRow>, AppError> {
    update_statement_where(user_id, changes, precondition, now, |_| "1 = 1".into())
}

/// `update_statement`, applied only where `condition` holds as well (a
/// step confirmed by a code: only for the request that used it).
pub(in crate::storage) fn update_statement_where(
    user_id: &str,
    changes: &Changes,
    precondition: &Precondition,
    now: &str,
    condition: impl FnOnce(&mut Params) -> String,
) -> Result<Statement<UserRow>, AppError> {
    let values = changes
        .iter()
        .map(|(field, v)| Ok((column(*field), bind_value(v)?)))
        .collect::<Result<Vec<_>, AppError>>()?;
    Ok(Statement::compose(|p| {
        let mut assignments: Vec<String> = values
            .into_iter()
            .map(|(column, value)| format!("{column} = {}", p.bind(value)))
            .collect();
        assignments.push(format!("updated_at = {}", p.bind(text(now))));
        format!(
            "UPDATE users SET {} WHERE {} AND {} RETURNING *",
            assignments.join(", "),
            guard_sql(p, user_id, precondition),
            condition(p)
        )
    }))
}

/// Writes `changes` (plus `updated_at`) if `precondition` holds; `None` if not.
pub async fn update(
    db: &Db,
    user_id: &str,
    changes: &Changes,
    precondition: &Precondition,
    now: &str,
) -> Result<Option<User>, AppError> {
    let statement = update_statement(user_id, changes, precondition, now)?;
    let rows = db
        .rows(statement, "user update")
        .await
        .map_err(conflict_or_internal)?;
    users(rows)
}

/// A `users` row as D1 returns it: booleans as 0/1, lists as JSON text.
#[derive(Debug, Deserialize)]
pub struct UserRow {
    id: String,
    email: String,
    name: Option<String>,
    surname: Option<String>,
    username: Option<String>,
    country_code: Option<String>,
    phone_number: Option<String>,
    signup_source: Option<String>,
    signup_campaign: Option<String>,
    profile_photo: Option<String>,
    availability_status: Option<String>,
    birth_date: Option<String>,
    gender: Option<String>,
    interests: String,
    expertise: Option<String>,
    bio: Option<String>,
    instagram: Option<String>,
    x: Option<String>,
    tiktok: Option<String>,
    snapchat: Option<String>,
    facebook: Option<String>,
    privacy_policy_accepted: i64,
    privacy_policy_version: Option<String>,
    terms_of_use_accepted: i64,
    terms_of_use_version: Option<String>,
    consent_form_accepted: i64,
    consent_form_version: Option<String>,
    is_registration_complete: i64,
    roles: String,
    followers_count: i64,
    following_count: i64,
    minute_price_in_live_stream: i64,
    credit_balance: i64,
    last_login: Option<String>,
    timezone: Option<String>,
    last_username_change_date: Option<String>,
    account_deletion_status: Option<String>,
    account_deletion_requested_at: Option<String>,
    account_deletion_scheduled_for: Option<String>,
    account_deletion_cancelled_at: Option<String>,
    account_deletion_finalized_at: Option<String>,
}

impl TryFrom<UserRow> for User {
    type Error = AppError;

    fn try_from(row: UserRow) -> Result<Self, AppError> {
        let list = |raw: &str, column: &str| {
            serde_json::from_str::<Vec<String>>(raw)
                .map_err(|e| AppError::internal(format!("users.{column} is not a list: {e}")))
        };
        let deletion = match row.account_deletion_status.as_deref() {
            None => None,
            Some(raw) => Some(DeletionStatus::parse(raw).ok_or_else(|| {
                AppError::internal(format!("users.account_deletion_status is {raw:?}"))
            })?),
        };
        Ok(User {
            interests: list(&row.interests, "interests")?,
            roles: list(&row.roles, "roles")?,
            account_deletion_status: deletion,
            id: row.id,
            email: row.email,
            name: row.name,
            surname: row.surname,
            username: row.username,
            country_code: row.country_code,
            phone_number: row.phone_number,
            signup_source: row.signup_source,
            signup_campaign: row.signup_campaign,
            profile_photo: row.profile_photo,
            availability_status: row.availability_status,
            birth_date: row.birth_date,
            gender: row.gender,
            expertise: row.expertise,
            bio: row.bio,
            instagram: row.instagram,
            x: row.x,
            tiktok: row.tiktok,
            snapchat: row.snapchat,
            facebook: row.facebook,
            privacy_policy_accepted: row.privacy_policy_accepted != 0,
            privacy_policy_version: row.privacy_policy_version,
            terms_of_use_accepted: row.terms_of_use_accepted != 0,
            terms_of_use_version: row.terms_of_use_version,
            consent_form_accepted: row.consent_form_accepted != 0,
            consent_form_version: row.consent_form_version,
            is_registration_complete: row.is_registration_complete != 0,
            followers_count: row.followers_count,
            following_count: row.following_count,
            minute_price_in_live_stream: row.minute_price_in_live_stream,
            credit_balance: row.credit_balance,
            last_login: row.last_login,
            timezone: row.timezone,
            last_username_change_date: row.last_username_change_date,
            account_deletion_requested_at: row.account_deletion_requested_at,
            account_deletion_scheduled_for: row.account_deletion_scheduled_for,
            account_deletion_cancelled_at: row.account_deletion_cancelled_at,
            account_deletion_finalized_at: row.account_deletion_finalized_at,
        })
    }
}
