//! `POST /api/v1/auth/verify-otp-email` (`api/openapi.json`): checks the code,
//! creates or updates the user, opens a session, returns tokens.

use chrono::Duration;
use worker::Response;

use super::session_tokens;
use crate::domain::audit::{AuditEvent, AuditKind};
use crate::domain::envelope::timestamp;
use crate::domain::error::AppError;
use crate::domain::ids::{random_hex, uuid_v4, OsRandom};
use crate::domain::limits::Keys;
use crate::domain::otp::CodeRefusal;
use crate::domain::requests::VerifyOtpRequest;
use crate::domain::token::REFRESH_TTL_SECONDS;
use crate::http::context::RequestCtx;
use crate::http::respond;
use crate::storage::login::{self, Attempt, Login, LoginOutcome};
use crate::storage::otp_store;
use crate::storage::session_repo::NewSession;

pub const IP_LIMITER: &str = "IP_VERIFY_LIMITER";

pub async fn handle(ctx: &RequestCtx) -> Result<Response, AppError> {
    ctx.limit_ip(IP_LIMITER).await?;
    let config = ctx.config()?;
    let VerifyOtpRequest { email, code } =
        VerifyOtpRequest::parse(ctx.body.json()?, config.otp.length)?;
    let (kv, db) = (ctx.kv()?, ctx.db()?);

    let pending = otp_store::pending(&kv, &email)
        .await?
        .ok_or(AppError::NoPendingCode)?;
    let email_hash = config.code_hasher.tag("email", email.as_str());
    let keys = Keys::for_address(&email_hash);
    let attempt = Attempt {
        email: &email,
        code_id: &pending.id,
        keys: &keys,
        policy: &config.otp,
        limits: &config.limits,
        now_ms: ctx.now_ms(),
    };
    let refused = |refusal: CodeRefusal| refusal.into_error(&config.otp, ctx.now_ms());

    if !config
        .code_hasher
        .matches(&email, &pending.id, &code, &pending.hash)
    {
        let refusal = login::count_wrong_attempt(&db, &attempt).await?;
        let event = match refusal {
            CodeRefusal::LockedOut { .. } => {
                AuditEvent::new(AuditKind::Lockout).detail("wrong codes")
            }
            _ => AuditEvent::new(AuditKind::VerifyFailed).detail("wrong code"),
        };
        ctx.audit(event.email_hash(&email_hash));
        return Err(refused(refusal));
    }

    // The used code stays in KV until it expires: the D1 ledger already refuses
    // it, and deleting it would cost a KV write on every login.
    let rng = &mut OsRandom;
    let (session_id, refresh_jti) = (uuid_v4(rng), random_hex(rng, 16));
    let at = ctx.timestamp();
    let expires_at = timestamp(ctx.now + Duration::seconds(REFRESH_TTL_SECONDS));
    let audit = ctx.with_ip(
        AuditEvent::new(AuditKind::Login)
            .email_hash(&email_hash)
            .detail(session_id.clone()),
    )?;
    let login = Login {
        attempt,
        new_user_id: &uuid_v4(rng),
        tombstone: &config.code_hasher.tombstone(email.as_str()),
        session: NewSession {
            id: &session_id,
            refresh_jti: &refresh_jti,
            created_at: &at,
            expires_at: &expires_at,
        },
        audit: &audit,
        at: &at,
    };
    let user = match login::commit(&db, &login).await? {
        LoginOutcome::LoggedIn(user) => *user,
        LoginOutcome::NotUsable(refusal) => return Err(refused(refusal)),
        LoginOutcome::Deleted => {
            return Err(AppError::Conflict(
                "This account was deleted and can no longer sign in",
            ))
        }
    };
    let data = session_tokens::issue(&config, user, &session_id, refresh_jti, ctx.now)?;
    respond::ok(200, data, ctx.now)
}
