//! `POST /api/v1/auth/verify-otp-email`, as documented in the API reference:
//! checks the code, creates or updates the user, opens a session, returns tokens.

use chrono::Duration;
use worker::{Request, Response};

use super::session_tokens;
use crate::config::Config;
use crate::domain::email::EmailAddress;
use crate::domain::envelope::timestamp;
use crate::domain::error::AppError;
use crate::domain::ids::{random_hex, uuid_v4, OsRandom};
use crate::domain::limits::{Counter, Keys, Refusal};
use crate::domain::otp::{self, LedgerState};
use crate::domain::requests::VerifyOtpRequest;
use crate::domain::token::REFRESH_TTL_SECONDS;
use crate::http::context::RequestCtx;
use crate::http::{body, respond};
use crate::storage::audit_log::AuditEvent;
use crate::storage::limit_store::{LimitStore, NotLocked};
use crate::storage::otp_store::OtpStore;
use crate::storage::session_repo::{NewSession, SessionRepo};
use crate::storage::user_repo::{first_user, UserRepo};

pub const IP_LIMITER: &str = "IP_VERIFY_LIMITER";

pub async fn handle(mut req: Request, ctx: &RequestCtx) -> Result<Response, AppError> {
    ctx.limit_ip(IP_LIMITER).await?;
    let config = ctx.config()?;
    let policy = &config.otp;
    let VerifyOtpRequest { email, code } =
        VerifyOtpRequest::parse(&body::json_bytes(&mut req).await?, policy.length)?;

    let (kv, db) = (ctx.kv()?, ctx.db()?);
    let store = OtpStore { kv: &kv, db: &db };
    let limits = LimitStore { db: &db };
    let email_hash = config.code_hasher.tag("email", email.as_str());
    let keys = Keys::for_address(&email_hash);
    let now_ms = ctx.now_ms();
    let lock = NotLocked::new(&keys, &config.limits, now_ms);
    let pending = store
        .pending(&email)
        .await?
        .ok_or(AppError::NoPendingCode)?;

    if !config
        .code_hasher
        .matches(&email, &pending.id, &code, &pending.hash)
    {
        // Count the wrong code against this code and against the address.
        let results = db
            .batch(vec![
                store.record_attempt(&email, &pending.id, None, policy, now_ms, &lock)?,
                limits.record_failure(&keys, now_ms)?,
            ])
            .await
            .map_err(|e| AppError::internal(format!("wrong attempt batch: {e}")))?;
        let attempts = results
            .first()
            .map(|r| r.results::<serde_json::Value>())
            .transpose()
            .map_err(|e| AppError::internal(format!("wrong attempt result: {e}")))?
            .and_then(|rows| rows.first().and_then(|r| r["attempts"].as_u64()));
        let failures = results
            .get(1)
            .map(|r| r.results::<Counter>())
            .transpose()
            .map_err(|e| AppError::internal(format!("failure counter: {e}")))?
            .and_then(|rows| rows.into_iter().next());
        let audit = |detail: &str| AuditEvent {
            event: "verify_failed",
            email_hash: Some(email_hash.clone()),
            detail: Some(detail.into()),
            ..AuditEvent::default()
        };
        if let Some(until) = config.limits.locked_until(failures.as_ref(), now_ms) {
            ctx.audit(AuditEvent {
                event: "lockout",
                ..audit("wrong codes")
            });
            return Err(Refusal::LockedOut { until }.into_error(now_ms));
        }
        ctx.audit(audit("wrong code"));
        return match attempts {
            Some(attempts) => Err(otp::refusal(
                LedgerState::Counted {
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                },
                policy,
            )),
            None => Err(refusal(ctx, &config, &store, &limits, &keys, &email, &pending.id).await),
        };
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
            store.record_attempt(&email, &pending.id, Some(&consumer), policy, now_ms, &lock)?,
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
        // Another request used the code first, or it ran out of attempts or time,
        // or the address is locked out.
        return Err(refusal(ctx, &config, &store, &limits, &keys, &email, &pending.id).await);
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
    ctx.audit(AuditEvent {
        event: "login",
        user_id: Some(user.id.clone()),
        email_hash: Some(email_hash),
        detail: Some(session_id.clone()),
        ..AuditEvent::default()
    });

    let data = session_tokens::issue(&config, user, &session_id, refresh_jti, ctx.now)?;
    respond::ok(200, data, ctx.now)
}

/// Why a code was refused without being counted (read on this path only).
async fn refusal(
    ctx: &RequestCtx,
    config: &Config,
    store: &OtpStore<'_>,
    limits: &LimitStore<'_>,
    keys: &Keys,
    email: &EmailAddress,
    code_id: &str,
) -> AppError {
    let now_ms = ctx.now_ms();
    let classify = async {
        let failures = limits.failures(keys).await?;
        if let Some(until) = config.limits.locked_until(failures.as_ref(), now_ms) {
            return Ok(Refusal::LockedOut { until }.into_error(now_ms));
        }
        let state = store.state(email, code_id, &config.otp, now_ms).await?;
        Ok::<_, AppError>(otp::refusal(state, &config.otp))
    };
    classify.await.unwrap_or_else(|err| err)
}
