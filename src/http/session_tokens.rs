//! The token pair and profile that a login or a refresh hands to the client.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::domain::error::AppError;
use crate::domain::ids::{random_hex, OsRandom};
use crate::domain::oauth::TokenResponse;
use crate::domain::token::{Subject, TokenUse, ACCESS_TTL_SECONDS, REFRESH_TTL_SECONDS};
use crate::domain::user::User;

/// The `data` of verify-otp-email and refresh-token, as documented.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionTokens {
    access_token: String,
    refresh_token: String,
    expires_in: i64,
    refresh_expires_in: i64,
    user: User,
    is_registration_complete: bool,
}

impl SessionTokens {
    /// The same pair in RFC 6749 §5.1's form (the token endpoint), with the
    /// access token's `scope`: the user stays out, as a standard client would
    /// not read it.
    pub fn into_oauth(self, scope: &str) -> TokenResponse {
        TokenResponse {
            access_token: self.access_token,
            token_type: "Bearer",
            expires_in: self.expires_in,
            refresh_token: self.refresh_token,
            scope: scope.to_owned(),
        }
    }
}

/// Signs a fresh access token and the refresh token whose `jti` the session stores.
pub fn issue(
    config: &Config,
    user: User,
    session_id: &str,
    refresh_jti: String,
    now: DateTime<Utc>,
) -> Result<SessionTokens, AppError> {
    let subject = Subject {
        user_id: &user.id,
        session_id,
        roles: &user.roles,
    };
    let sign = |token_use, jti: String| {
        config
            .tokens
            .sign(&subject, token_use, jti, now)
            .map_err(|e| AppError::internal(format!("signing: {}", e.0)))
    };
    let access_token = sign(TokenUse::Access, random_hex(&mut OsRandom, 16))?;
    let refresh_token = sign(TokenUse::Refresh, refresh_jti)?;
    Ok(SessionTokens {
        access_token,
        refresh_token,
        expires_in: ACCESS_TTL_SECONDS,
        refresh_expires_in: REFRESH_TTL_SECONDS,
        is_registration_complete: user.is_registration_complete,
        user,
    })
}
