//! Users in D1.

use serde::Deserialize;
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, D1Result};

use super::{failed, int, text};
use crate::domain::email::EmailAddress;
use crate::domain::error::AppError;
use crate::domain::profile::{Changes, ColumnValue};
use crate::domain::user::{DeletionStatus, User, DEFAULT_ROLES};

/// The extra condition an update must meet, so that check and write are one
/// atomic statement rather than a read followed by a write.
pub enum Guard<'a> {
    /// Registration can be completed once.
    RegistrationIncomplete,
    /// The username may change only if its last change is at or before the cutoff.
    UsernameChangeAllowed {
        cutoff: &'a str,
    },
    /// A deletion can be scheduled unless one is pending or final.
    DeletionSchedulable,
    /// A deletion can be cancelled only while pending.
    DeletionPending,
    None,
}

impl Guard<'_> {
    fn sql(&self) -> &'static str {
        match self {
            Self::RegistrationIncomplete => "is_registration_complete = 0",
            Self::UsernameChangeAllowed { .. } => {
                "(last_username_change_date IS NULL OR last_username_change_date <= ?)"
            }
            Self::DeletionSchedulable => {
                "(account_deletion_status IS NULL OR account_deletion_status = 'cancelled')"
            }
            Self::DeletionPending => "account_deletion_status = 'pending'",
            Self::None => "1 = 1",
        }
    }
}

fn bind_value(value: &ColumnValue) -> JsValue {
    match value {
        ColumnValue::Text(s) => text(s),
        ColumnValue::Bool(b) => int(i64::from(*b)),
        ColumnValue::Null => JsValue::NULL,
    }
}

/// The first `users` row of a result, as the documented user.
pub fn first_user(result: &D1Result) -> Result<Option<User>, AppError> {
    let rows = result
        .results::<UserRow>()
        .map_err(|e| AppError::internal(format!("users row: {e}")))?;
    rows.into_iter().next().map(User::try_from).transpose()
}

/// D1 reports constraint violations as text; a taken username is the caller's
/// problem (409), anything else is ours.
fn conflict_or_internal(what: &'static str) -> impl FnOnce(worker::Error) -> AppError {
    move |err| {
        let message = err.to_string();
        if message.contains("UNIQUE constraint failed: users.username") {
            AppError::Conflict("That username is already taken")
        } else {
            AppError::Internal(format!("{what}: {message}"))
        }
    }
}

pub struct UserRepo<'a> {
    pub db: &'a D1Database,
}

impl UserRepo<'_> {
    /// Creates the user on first login or stamps `last_login` on a later one, but only
    /// if `consumer` is the request that used the code (so a losing concurrent
    /// request writes nothing), and never for a finalised deletion. `RETURNING` gives
    /// the row; none means one of those conditions failed.
    ///
    /// `tombstone` is what a finalised deletion left of this address: while it
    /// exists, the address cannot make a new account either.
    pub fn upsert_on_login(
        &self,
        new_id: &str,
        email: &EmailAddress,
        tombstone: &str,
        consumer: &str,
        now: &str,
    ) -> Result<D1PreparedStatement, AppError> {
        let roles = serde_json::to_string(DEFAULT_ROLES).map_err(AppError::internal)?;
        self.db
            .prepare(
                "INSERT INTO users (id, email, roles, last_login, created_at, updated_at)
                 SELECT ?1, ?2, ?3, ?4, ?4, ?4
                 WHERE EXISTS (SELECT 1 FROM otp_ledger WHERE email = ?2 AND consumed_by = ?5)
                   AND NOT EXISTS (SELECT 1 FROM users WHERE email = ?6)
                 ON CONFLICT (email) DO UPDATE SET last_login = excluded.last_login,
                     updated_at = excluded.updated_at
                 WHERE users.account_deletion_status IS NOT 'finalized'
                 RETURNING *",
            )
            .bind(&[
                text(new_id),
                text(email.as_str()),
                text(&roles),
                text(now),
                text(consumer),
                text(tombstone),
            ])
            .map_err(failed("bind user upsert"))
    }

    /// The user behind an access token, if its session is still live.
    pub async fn find_for_session(
        &self,
        user_id: &str,
        session_id: &str,
        now: &str,
    ) -> Result<Option<User>, AppError> {
        let result = self
            .db
            .prepare(
                "SELECT u.* FROM users u JOIN sessions s ON s.user_id = u.id
                 WHERE u.id = ?1 AND s.id = ?2 AND s.revoked_at IS NULL AND s.expires_at > ?3
                   AND u.account_deletion_status IS NOT 'finalized'",
            )
            .bind(&[text(user_id), text(session_id), text(now)])
            .map_err(failed("bind user by session"))?
            .all()
            .await
            .map_err(failed("user by session"))?;
        first_user(&result)
    }

    /// For the refresh batch: the user of a session whose refresh token is now `jti`.
    pub fn select_by_session_jti(
        &self,
        session_id: &str,
        jti: &str,
    ) -> Result<D1PreparedStatement, AppError> {
        self.db
            .prepare(
                "SELECT u.* FROM users u JOIN sessions s ON s.user_id = u.id
                 WHERE s.id = ?1 AND s.refresh_jti = ?2
                   AND u.account_deletion_status IS NOT 'finalized'",
            )
            .bind(&[text(session_id), text(jti)])
            .map_err(failed("bind user by session jti"))
    }

    /// Writes `changes` (plus `updated_at`) if `guard` holds; `None` if it did not.
    pub async fn update(
        &self,
        user_id: &str,
        changes: &Changes,
        guard: Guard<'_>,
        now: &str,
    ) -> Result<Option<User>, AppError> {
        let mut assignments: Vec<String> =
            changes.iter().map(|(c, _)| format!("{c} = ?")).collect();
        assignments.push("updated_at = ?".into());
        let sql = format!(
            "UPDATE users SET {} WHERE id = ? AND account_deletion_status IS NOT 'finalized' AND {} RETURNING *",
            assignments.join(", "),
            guard.sql()
        );
        let mut values: Vec<JsValue> = changes.iter().map(|(_, v)| bind_value(v)).collect();
        values.push(text(now));
        values.push(text(user_id));
        if let Guard::UsernameChangeAllowed { cutoff } = guard {
            values.push(text(cutoff));
        }
        let result = self
            .db
            .prepare(sql)
            .bind(&values)
            .map_err(failed("bind user update"))?
            .all()
            .await
            .map_err(conflict_or_internal("user update"))?;
        first_user(&result)
    }

    /// Accounts whose deletion is due: `(id, email)`, oldest first.
    pub async fn due_deletions(
        &self,
        now: &str,
        limit: u32,
    ) -> Result<Vec<(String, String)>, AppError> {
        #[derive(Deserialize)]
        struct Row {
            id: String,
            email: String,
        }
        let result = self
            .db
            .prepare(
                "SELECT id, email FROM users
                 WHERE account_deletion_status = 'pending' AND account_deletion_scheduled_for <= ?1
                 ORDER BY account_deletion_scheduled_for LIMIT ?2",
            )
            .bind(&[text(now), int(i64::from(limit))])
            .map_err(failed("bind due deletions"))?
            .all()
            .await
            .map_err(failed("due deletions"))?;
        Ok(result
            .results::<Row>()
            .map_err(failed("due deletion rows"))?
            .into_iter()
            .map(|r| (r.id, r.email))
            .collect())
    }

    /// Erases the personal data of a pending, due account and marks it finalised.
    /// What stays: the id, counters needed for integrity, timestamps, and the
    /// address's keyed tombstone so it answers 409 instead of signing up again.
    pub fn finalize_deletion(
        &self,
        user_id: &str,
        tombstone: &str,
        now: &str,
    ) -> Result<D1PreparedStatement, AppError> {
        self.db
            .prepare(
                "UPDATE users SET email = ?2, name = NULL, surname = NULL, username = NULL,
                     country_code = NULL, phone_number = NULL, signup_source = NULL,
                     signup_campaign = NULL, profile_photo = NULL, availability_status = NULL,
                     birth_date = NULL, gender = NULL, interests = '[]', expertise = NULL,
                     bio = NULL, instagram = NULL, x = NULL, tiktok = NULL, snapchat = NULL,
                     facebook = NULL, timezone = NULL, last_login = NULL,
                     account_deletion_status = 'finalized', account_deletion_finalized_at = ?3,
                     updated_at = ?3
                 WHERE id = ?1 AND account_deletion_status = 'pending'",
            )
            .bind(&[text(user_id), text(tombstone), text(now)])
            .map_err(failed("bind finalize deletion"))
    }
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
