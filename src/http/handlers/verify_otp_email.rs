//! `POST /api/v1/auth/verify-otp-email`, as documented in the API reference:
//! checks the code, creates or updates the user, opens a session, returns tokens.

use chrono::Duration;
use worker::{Request, Response};

use super::session_tokens;
use crate::domain::envelope::timestamp;
use crate::domain::error::AppError;
use crate::domain::ids::{random_hex, uuid_v4, OsRandom};
use crate::domain::otp;
use crate::domain::requests::VerifyOtpRequest;
use crate::domain::token::REFRESH_TTL_SECONDS;
use crate::http::context::RequestCtx;
use crate::http::{body, respond};
use crate::storage::otp_store::OtpStore;
use crate::storage::session_repo::{NewSession, SessionRepo};
use crate::storage::user_repo::{first_user, UserRepo};

pub async fn handle(mut req: Request, ctx: &RequestCtx) -> Result<Response, AppError> {
    let config = ctx.config()?;
    let policy = &config.otp;
    let VerifyOtpRequest { email, code } =
        VerifyOtpRequest::parse(&body::json_bytes(&mut req).await?, policy.length)?;

    let (kv, db) = (ctx.kv()?, ctx.db()?);
    let store = OtpStore { kv: &kv, db: &db };
    let pending = store
        .pending(&email)
        .await?
        .ok_or(AppError::NoPendingCode)?;
    let now_ms = ctx.now_ms();

    if !config
        .code_hasher
        .matches(&email, &pending.id, &code, &pending.hash)
    {
        let state = store
            .record_wrong_attempt(&email, &pending.id, policy, now_ms)
            .await?;
        return Err(otp::refusal(state, policy));
    }

    // The right code. One D1 batch (a transaction, one round trip) uses the code,
    // upserts the user and opens the session; the last two only take effect for
    // the request whose `consumer` token won the use, so concurrent verifies of
    // one code produce exactly one login.
    let rng = &mut OsRandom;
    let consumer = random_hex(rng, 16);
    let now = timestamp(ctx.now);
    let session_id = uuid_v4(rng);
    let refresh_jti = random_hex(rng, 16);
    let session = NewSession {
        id: &session_id,
        refresh_jti: &refresh_jti,
        created_at: &now,
        expires_at: &timestamp(ctx.now + Duration::seconds(REFRESH_TTL_SECONDS)),
    };
    let results = db
        .batch(vec![
            store.consume(&email, &pending.id, &consumer, policy, now_ms)?,
            UserRepo { db: &db }.upsert_on_login(
                &uuid_v4(rng),
                &email,
                &config.code_hasher.tombstone(email.as_str()),
                &consumer,
                &now,
            )?,
            SessionRepo { db: &db }.open_on_login(&session, &email, &consumer)?,
        ])
        .await
        .map_err(|e| AppError::internal(format!("login batch: {e}")))?;

    let [consumed, upserted, _session] = results.as_slice() else {
        return Err(AppError::internal(
            "login batch returned the wrong number of results",
        ));
    };
    let consumed = consumed
        .results::<serde_json::Value>()
        .map_err(|e| AppError::internal(format!("consume result: {e}")))?;
    if consumed.is_empty() {
        // Another request used the code first, or it ran out of attempts or time.
        let state = store.state(&email, &pending.id, policy, now_ms).await?;
        return Err(otp::refusal(state, policy));
    }
    let Some(user) = first_user(upserted)? else {
        return Err(AppError::Conflict(
            "This account was deleted and can no longer sign in",
        ));
    };

    // The ledger already makes the code unusable; dropping the KV copy can wait.
    let forget_kv = kv.clone();
    let forget_email = email.clone();
    ctx.ctx.wait_until(async move {
        OtpStore {
            kv: &forget_kv,
            db: &db,
        }
        .forget(&forget_email)
        .await
    });

    let data = session_tokens::issue(&config, user, &session_id, refresh_jti, ctx.now)?;
    respond::ok(200, data, ctx.now)
}
