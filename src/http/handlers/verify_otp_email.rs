//! `POST /api/v1/auth/verify-otp-email`, as documented in the API reference:
//! checks the code, creates or updates the user, opens a session, returns tokens.

use chrono::Duration;
use worker::{D1Database, D1PreparedStatement, KvStore, Response};

use super::session_tokens;
use crate::config::Config;
use crate::domain::email::EmailAddress;
use crate::domain::envelope::timestamp;
use crate::domain::error::AppError;
use crate::domain::ids::{random_hex, uuid_v4, OsRandom};
use crate::domain::limits::{Counter, Keys, Refusal};
use crate::domain::otp::{self, LedgerState, PendingCode};
use crate::domain::requests::VerifyOtpRequest;
use crate::domain::token::REFRESH_TTL_SECONDS;
use crate::domain::user::User;
use crate::http::context::RequestCtx;
use crate::http::respond;
use crate::storage::audit_log::{self, AuditEvent};
use crate::storage::batch_rows;
use crate::storage::limit_store::{LimitStore, NotLocked};
use crate::storage::otp_store::OtpStore;
use crate::storage::session_repo::{NewSession, SessionRepo};
use crate::storage::user_repo::{first_user, UserRepo};

pub const IP_LIMITER: &str = "IP_VERIFY_LIMITER";

pub async fn handle(ctx: &RequestCtx) -> Result<Response, AppError> {
    ctx.limit_ip(IP_LIMITER).await?;
    let config = ctx.config()?;
    let VerifyOtpRequest { email, code } =
        VerifyOtpRequest::parse(ctx.body.json()?, config.otp.length)?;

    let (kv, db) = (ctx.kv()?, ctx.db()?);
    let attempt = Attempt::new(ctx, &config, &kv, &db, &email);
    let pending = attempt
        .otp()
        .pending(&email)
        .await?
        .ok_or(AppError::NoPendingCode)?;
    if !config
        .code_hasher
        .matches(&email, &pending.id, &code, &pending.hash)
    {
        return Err(attempt.wrong_code(&pending).await);
    }
    // The used code stays in KV until it expires: the D1 ledger already refuses
    // it, and deleting it would cost a KV write on every login.
    let (user, session_id, refresh_jti) = attempt.login(&pending).await?;
    let data = session_tokens::issue(&config, user, &session_id, refresh_jti, ctx.now)?;
    respond::ok(200, data, ctx.now)
}

/// One verify request against the stores, with the address's limit keys.
struct Attempt<'a> {
    ctx: &'a RequestCtx,
    config: &'a Config,
    kv: &'a KvStore,
    db: &'a D1Database,
    email: &'a EmailAddress,
    email_hash: String,
    keys: Keys,
    now_ms: i64,
}

impl<'a> Attempt<'a> {
    fn new(
        ctx: &'a RequestCtx,
        config: &'a Config,
        kv: &'a KvStore,
        db: &'a D1Database,
        email: &'a EmailAddress,
    ) -> Self {
        let email_hash = config.code_hasher.tag("email", email.as_str());
        Self {
            keys: Keys::for_address(&email_hash),
            email_hash,
            ctx,
            config,
            kv,
            db,
            email,
            now_ms: ctx.now_ms(),
        }
    }

    fn otp(&self) -> OtpStore<'a> {
        OtpStore {
            kv: self.kv,
            db: self.db,
        }
    }

    fn limits(&self) -> LimitStore<'a> {
        LimitStore { db: self.db }
    }

    /// The attempt on the pending code: a wrong one (`None`) or the use of it.
    fn record_attempt(
        &self,
        pending: &PendingCode,
        consumer: Option<&str>,
    ) -> Result<D1PreparedStatement, AppError> {
        let lock = NotLocked::new(&self.keys, &self.config.limits, self.now_ms);
        self.otp().record_attempt(
            self.email,
            &pending.id,
            consumer,
            &self.config.otp,
            self.now_ms,
            &lock,
        )
    }

    /// Counts the wrong code against the code and against the address, in one
    /// round trip, and says why it was refused.
    async fn wrong_code(&self, pending: &PendingCode) -> AppError {
        let counted = async {
            let results = self
                .db
                .batch(vec![
                    self.record_attempt(pending, None)?,
                    self.limits().record_failure(&self.keys, self.now_ms)?,
                ])
                .await
                .map_err(|e| AppError::internal(format!("wrong attempt batch: {e}")))?;
            let attempts = batch_rows::<serde_json::Value>(&results, 0)?
                .first()
                .and_then(|row| row["attempts"].as_u64());
            let failures = batch_rows::<Counter>(&results, 1)?.into_iter().next();
            Ok::<_, AppError>((attempts, failures))
        };
        let (attempts, failures) = match counted.await {
            Ok(counted) => counted,
            Err(err) => return err,
        };
        let event = |event, detail: &str| AuditEvent {
            event,
            email_hash: Some(self.email_hash.clone()),
            detail: Some(detail.into()),
            ..AuditEvent::default()
        };
        let limits = &self.config.limits;
        if let Some(until) = limits.locked_until(failures.as_ref(), self.now_ms) {
            self.ctx.audit(event("lockout", "wrong codes"));
            return Refusal::LockedOut { until }.into_error(self.now_ms);
        }
        self.ctx.audit(event("verify_failed", "wrong code"));
        match attempts {
            Some(attempts) => otp::refusal(
                LedgerState::Counted {
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                },
                &self.config.otp,
            ),
            None => self.refusal(pending).await,
        }
    }

    /// The right code. One D1 batch (a transaction, one round trip) uses the code,
    /// upserts the user and opens the session; the last two only take effect for
    /// the request whose `consumer` token won the use, so concurrent verifies of
    /// one code produce exactly one login. Returns the user, session id and the
    /// refresh token id the session now expects.
    async fn login(&self, pending: &PendingCode) -> Result<(User, String, String), AppError> {
        let rng = &mut OsRandom;
        let consumer = random_hex(rng, 16);
        let now = timestamp(self.ctx.now);
        let session_id = uuid_v4(rng);
        let refresh_jti = random_hex(rng, 16);
        let session = NewSession {
            id: &session_id,
            refresh_jti: &refresh_jti,
            created_at: &now,
            expires_at: &timestamp(self.ctx.now + Duration::seconds(REFRESH_TTL_SECONDS)),
        };
        let results = self
            .db
            .batch(vec![
                self.record_attempt(pending, Some(&consumer))?,
                UserRepo { db: self.db }.upsert_on_login(
                    &uuid_v4(rng),
                    self.email,
                    &self.config.code_hasher.tombstone(self.email.as_str()),
                    &consumer,
                    &now,
                )?,
                SessionRepo { db: self.db }.open_on_login(&session, self.email, &consumer)?,
                audit_log::insert_login(
                    self.db,
                    &now,
                    &self.ctx.with_ip(AuditEvent {
                        event: "login",
                        email_hash: Some(self.email_hash.clone()),
                        detail: Some(session_id.clone()),
                        ..AuditEvent::default()
                    })?,
                    self.email.as_str(),
                    &consumer,
                )
                .map_err(|e| AppError::internal(format!("bind login audit: {e}")))?,
            ])
            .await
            .map_err(|e| AppError::internal(format!("login batch: {e}")))?;

        if batch_rows::<serde_json::Value>(&results, 0)?.is_empty() {
            // Another request used the code first, it ran out of attempts or
            // time, or the address is locked out.
            return Err(self.refusal(pending).await);
        }
        let upserted = results
            .get(1)
            .ok_or_else(|| AppError::internal("login batch has no user result"))?;
        let user = first_user(upserted)?.ok_or(AppError::Conflict(
            "This account was deleted and can no longer sign in",
        ))?;
        Ok((user, session_id, refresh_jti))
    }

    /// Why a code was refused without being counted (read on this path only).
    async fn refusal(&self, pending: &PendingCode) -> AppError {
        let classify = async {
            let failures = self.limits().failures(&self.keys).await?;
            if let Some(until) = self
                .config
                .limits
                .locked_until(failures.as_ref(), self.now_ms)
            {
                return Ok(Refusal::LockedOut { until }.into_error(self.now_ms));
            }
            let state = self
                .otp()
                .state(self.email, &pending.id, &self.config.otp, self.now_ms)
                .await?;
            Ok::<_, AppError>(otp::refusal(state, &self.config.otp))
        };
        classify.await.unwrap_or_else(|err| err)
    }
}
