//! Users in D1.

use serde::Deserialize;
use worker::wasm_bindgen::JsValue;
use worker::D1PreparedStatement;

use super::session_repo;
use super::user_columns::column;
use super::{batch_rows, int, outbox, text, Db};
use crate::domain::email::EmailAddress;
use crate::domain::error::AppError;
use crate::domain::events::Event;
use crate::domain::user::{DeletionStatus, User, DEFAULT_ROLES};
use crate::domain::user_change::{Changes, FieldValue, Precondition};

/// The SQL of a precondition, checked in the same statement as the write.
fn precondition_sql(precondition: &Precondition) -> &'static str {
    match precondition {
        Precondition::RegistrationIncomplete => "is_registration_complete = 0",
        Precondition::UsernameChangeAllowed { .. } => {
            "(last_username_change_date IS NULL OR last_username_change_date <= ?)"
        }
        Precondition::DeletionSchedulable => {
            "(account_deletion_status IS NULL OR account_deletion_status = 'cancelled')"
        }
        Precondition::DeletionPending => "account_deletion_status = 'pending'",
        Precondition::None => "1 = 1",
    }
}

fn bind_value(value: &FieldValue) -> Result<JsValue, AppError> {
    Ok(match value {
        FieldValue::Text(s) => text(s),
        FieldValue::Bool(b) => int(i64::from(*b)),
        FieldValue::List(items) => text(&serde_json::to_string(items).map_err(AppError::internal)?),
        FieldValue::Null => JsValue::NULL,
    })
}

/// The users of rows D1 returned, as the documented user.
pub(super) fn users(rows: Vec<UserRow>) -> Result<Option<User>, AppError> {
    rows.into_iter().next().map(User::try_from).transpose()
}

/// D1 reports constraint violations as text; a taken username is the caller's
/// problem (409), anything else is ours.
fn conflict_or_internal(err: AppError) -> AppError {
    match err {
        AppError::Internal(cause) if cause.contains("UNIQUE constraint failed: users.username") => {
            AppError::Conflict("That username is already taken")
        }
        other => other,
    }
}

/// The login's user write: creates the user on first login or stamps
/// `last_login` on a later one, but only if `consumer` is the request that used
/// the code (so a losing concurrent request writes nothing), and never for a
/// finalised deletion. `RETURNING` gives the row; none means a condition failed.
///
/// `tombstones` are what a finalised deletion may have left of this address
/// (under the current key or an earlier one): while one exists, the address
/// cannot make a new account either.
pub(super) fn upsert_on_login(
    db: &Db,
    new_id: &str,
    email: &EmailAddress,
    tombstones: &[String],
    consumer: &str,
    now: &str,
) -> Result<D1PreparedStatement, AppError> {
    let roles = serde_json::to_string(DEFAULT_ROLES).map_err(AppError::internal)?;
    let tombstones = serde_json::to_string(tombstones).map_err(AppError::internal)?;
    db.statement(
        "INSERT INTO users (id, email, roles, last_login, created_at, updated_at)
         SELECT ?1, ?2, ?3, ?4, ?4, ?4
         WHERE EXISTS (SELECT 1 FROM otp_codes WHERE email = ?2 AND consumed_by = ?5)
           AND NOT EXISTS (SELECT 1 FROM users WHERE email IN (SELECT value FROM json_each(?6)))
         ON CONFLICT (email) DO UPDATE SET last_login = excluded.last_login,
             updated_at = excluded.updated_at
         WHERE users.account_deletion_status IS NOT 'finalized'
         RETURNING *",
        &[
            text(new_id),
            text(email.as_str()),
            text(&roles),
            text(now),
            text(consumer),
            text(&tombstones),
        ],
    )
}

/// The user behind an access token, if its session is still live.
pub async fn find_for_session(
    db: &Db,
    user_id: &str,
    session_id: &str,
    now: &str,
) -> Result<Option<User>, AppError> {
    let statement = db.statement(
        format!(
            "SELECT * FROM users WHERE id = ?1 AND {}",
            session_repo::live_sql(2, 1, 3)
        ),
        &[text(user_id), text(session_id), text(now)],
    )?;
    users(db.rows(statement, "user by session").await?)
}

/// A user's profile by id (not finalised), from whichever replica `db` reads.
pub async fn find(db: &Db, user_id: &str) -> Result<Option<User>, AppError> {
    let statement = db.statement(
        "SELECT * FROM users WHERE id = ?1 AND account_deletion_status IS NOT 'finalized'",
        &[text(user_id)],
    )?;
    users(db.rows(statement, "user by id").await?)
}

/// For the refresh batch: the user of a session whose refresh token is now
/// `jti`, or whose last rotation retired `previous_jti`.
pub(super) fn select_by_session_jti(
    db: &Db,
    session_id: &str,
    jti: &str,
    previous_jti: &str,
) -> Result<D1PreparedStatement, AppError> {
    db.statement(
        "SELECT u.* FROM users u JOIN sessions s ON s.user_id = u.id
         WHERE s.id = ?1 AND (s.refresh_jti = ?2 OR s.previous_refresh_jti = ?3)
           AND u.account_deletion_status IS NOT 'finalized'",
        &[text(session_id), text(jti), text(previous_jti)],
    )
}

/// The guarded UPDATE of `update`: `changes` (plus `updated_at`) where the
/// user is not finalised and `precondition` holds.
fn update_statement(
    db: &Db,
    user_id: &str,
    changes: &Changes,
    precondition: &Precondition,
    now: &str,
) -> Result<D1PreparedStatement, AppError> {
    let mut assignments: Vec<String> = changes
        .iter()
        .map(|(field, _)| format!("{} = ?", column(*field)))
        .collect();
    assignments.push("updated_at = ?".into());
    let sql = format!(
        "UPDATE users SET {} WHERE {} RETURNING *",
        assignments.join(", "),
        guard_sql(precondition)
    );
    let mut values: Vec<JsValue> = changes
        .iter()
        .map(|(_, v)| bind_value(v))
        .collect::<Result<_, _>>()?;
    values.push(text(now));
    values.extend(guard_values(user_id, precondition));
    db.statement(sql, &values)
}

/// The condition an update applies under, with its values (`guard_values`).
fn guard_sql(precondition: &Precondition) -> String {
    format!(
        "id = ? AND account_deletion_status IS NOT 'finalized' AND {}",
        precondition_sql(precondition)
    )
}

fn guard_values(user_id: &str, precondition: &Precondition) -> Vec<JsValue> {
    let mut values = vec![text(user_id)];
    if let Precondition::UsernameChangeAllowed { cutoff } = precondition {
        values.push(text(cutoff));
    }
    values
}

/// Writes `changes` (plus `updated_at`) if `precondition` holds; `None` if not.
pub async fn update(
    db: &Db,
    user_id: &str,
    changes: &Changes,
    precondition: &Precondition,
    now: &str,
) -> Result<Option<User>, AppError> {
    let statement = update_statement(db, user_id, changes, precondition, now)?;
    let rows = db
        .rows(statement, "user update")
        .await
        .map_err(conflict_or_internal)?;
    users(rows)
}

/// `update`, and `event` in the outbox exactly when the update applies: one
/// batch, the event's INSERT first under the update's own condition, so both
/// read the same state in one transaction (and a failed update, such as a
/// taken username, rolls the event back with it).
pub async fn update_with_event(
    db: &Db,
    user_id: &str,
    changes: &Changes,
    precondition: &Precondition,
    now: &str,
    event: &Event,
) -> Result<Option<User>, AppError> {
    // The guard's `?`s follow the event's `?1`–`?5`, so SQLite numbers them from 6.
    let condition = format!(
        "EXISTS (SELECT 1 FROM users WHERE {})",
        guard_sql(precondition)
    );
    let results = db
        .batch(
            vec![
                outbox::insert_where(db, event, &condition, &guard_values(user_id, precondition))?,
                update_statement(db, user_id, changes, precondition, now)?,
            ],
            "user update with event",
        )
        .await
        .map_err(conflict_or_internal)?;
    users(batch_rows::<UserRow>(&results, 1)?)
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
