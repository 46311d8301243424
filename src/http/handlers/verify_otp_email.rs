//! `POST /api/v1/auth/verify-otp-email` (`api/openapi.json`): checks the code,
//! creates or updates the user, opens a session, returns tokens. [`login`] is
//! the whole of it past parsing, shared with the token endpoint's email-code
//! grant (`oauth_token`): the same limits, audit and events either way.
//! [`check_code`] is the check itself, shared with every step a code
//! confirms ([`Redeem`]: scheduling a deletion, `account_deletion`), so no
//! route guesses a code faster than login does.
//!
//! The code is checked first against the copy KV holds where this request
//! runs (two sequential round trips: KV, then one D1 batch). KV is eventually
//! consistent: when that copy is missing or stale, D1 says so in the same
//! batch without counting anything, and the code is checked against D1's
//! codes instead (one more round trip).

use chrono::Duration;
use worker::Response;

use crate::config::Config;
use crate::domain::audit::{AuditEvent, AuditKind};
use crate::domain::email::EmailAddress;
use crate::domain::envelope::timestamp;
use crate::domain::error::AppError;
use crate::domain::events::Event;
use crate::domain::ids::{random_hex, uuid_v4, OsRandom};
use crate::domain::limits::{client_network, Keys};
use crate::domain::login_id::LoginId;
use crate::domain::otp::{CodeRefusal, OtpCode, Path, PendingCodes};
use crate::domain::requests::VerifyOtpRequest;
use crate::domain::session_list::LoginOrigin;
use crate::domain::token::REFRESH_TTL_SECONDS;
use crate::http::context::RequestCtx;
use crate::http::respond;
use crate::http::session_tokens::{self, SessionTokens};
use crate::storage::tables::sessions::NewSession;
use crate::storage::units::login::{self, Attempt, Login, LoginOutcome, WrongAttempt};

pub const IP_LIMITER: &str = "IP_VERIFY_LIMITER";
/// Verifies per minute from one IPv6 /48, whichever of its /64s.
pub const BLOCK_LIMITER: &str = "BLOCK_VERIFY_LIMITER";

pub async fn handle(ctx: &RequestCtx) -> Result<Response, AppError> {
    let config = ctx.config()?;
    let request = VerifyOtpRequest::parse(ctx.body.json()?, config.otp.length)?;
    let tokens = login(ctx, &config, request).await?;
    respond::ok(200, tokens, ctx.now)
}

/// A parsed login request → the signed-in session's tokens and user, or why not.
pub async fn login(
    ctx: &RequestCtx,
    config: &Config,
    request: VerifyOtpRequest,
) -> Result<SessionTokens, AppError> {
    let VerifyOtpRequest {
        email,
        code,
        login_id,
    } = request;
    let sign_in = SignIn {
        ctx,
        config,
        email: &email,
    };
    check_code(ctx, config, &email, &code, login_id.as_ref(), &sign_in).await
}

/// What a right code is for: signing in, or a step a signed-in user confirms.
pub(crate) trait Redeem {
    type Done;

    /// Uses the code `code_id` (the one the typed code matched) and takes
    /// the step, in one D1 batch whose writes act only if this request won
    /// the use (`Attempt::use_code`).
    async fn redeem(
        &self,
        attempt: Attempt<'_>,
        code_id: &str,
    ) -> Result<Redeemed<Self::Done>, AppError>;
}

/// What a right code came to.
pub(crate) enum Redeemed<T> {
    Done(T),
    /// The code could not be used (used first elsewhere, spent, expired,
    /// locked out): the answer.
    Refused(CodeRefusal),
    /// D1 does not hold that code usable, but holds these.
    Stale(PendingCodes),
}

/// Checks `code` against the codes pending for `email` (with a login id, that
/// login's alone) and, if it is right, has `redeem` use it. The network's flood limit, every failure counter and
/// lock, and the audit of refusals are login's, whichever step asked.
pub(crate) async fn check_code<R: Redeem>(
    ctx: &RequestCtx,
    config: &Config,
    email: &EmailAddress,
    code: &OtpCode,
    login_id: Option<&LoginId>,
    redeem: &R,
) -> Result<R::Done, AppError> {
    let (kv, db) = (ctx.kv()?, ctx.db()?);
    // The flood check and the KV read side by side; D1 waits for the verdict,
    // so a flooding client never reaches it.
    let (limited, seen) =
        futures_util::join!(ctx.limit_ip(IP_LIMITER, BLOCK_LIMITER), kv.pending(email));
    limited?;
    let seen = seen?;

    let network = client_network(ctx.client_ip());
    let keys = Keys::new(
        &config.keys.address_tag(email.as_str()),
        &config.keys.address_network_tag(email.as_str(), &network),
    );
    // With the send's login id, the attempt counts on that login's codes alone.
    let login = login_id.map(|id| config.keys.login_tag(email.as_str(), id.expose()));
    let path = match &login {
        Some(login) => Path::Owner { login },
        None => Path::Anonymous,
    };
    let attempt = Attempt {
        email,
        keys: &keys,
        policy: &config.otp,
        limits: &config.limits,
        budget: config.budget_policy(),
        path,
        now_ms: ctx.now_ms(),
    };
    let verify = Verify { ctx, config, email };
    // At most two passes: the codes this location's KV holds, then D1's if
    // those were missing or stale. A stale copy gets the answer a current one
    // would have: a code D1 does not hold usable is a wrong code while others
    // are pending, whether or not this location's KV still lists it.
    let mut known = seen.on(path);
    for _ in 0..2 {
        if let Some(matched) = known.matching(&config.keys.codes, email, code) {
            match redeem.redeem(attempt, &matched.id).await? {
                Redeemed::Done(done) => return Ok(done),
                Redeemed::Refused(refusal) => return Err(verify.refused(refusal)),
                Redeemed::Stale(current) => {
                    known = current;
                    continue;
                }
            }
        }
        match login::count_wrong_attempt(&db, &attempt, &known).await? {
            WrongAttempt::Refused(refusal) => return Err(verify.refused(refusal)),
            WrongAttempt::Stale(current) => known = current,
        }
    }
    // D1's codes changed again between two reads (a send raced this verify).
    Err(verify.refused(CodeRefusal::NotPending))
}

/// One code check, past parsing: how its refusals are answered and audited.
struct Verify<'a> {
    ctx: &'a RequestCtx,
    config: &'a Config,
    email: &'a EmailAddress,
}

impl Verify<'_> {
    /// The answer to a code that was not used, audited as
    /// `CodeRefusal::audit_event` says (a counted wrong code; a lock once).
    fn refused(&self, refusal: CodeRefusal) -> AppError {
        if let Some(event) = refusal.audit_event() {
            self.audit(event);
        }
        refusal.into_error(&self.config.otp, self.ctx.now_ms())
    }

    fn audit(&self, event: AuditEvent) {
        let email_hash = self.config.keys.audit_tag("email", self.email.as_str());
        self.ctx.audit(event.email_hash(&email_hash));
    }
}

/// A right code typed to sign in.
struct SignIn<'a> {
    ctx: &'a RequestCtx,
    config: &'a Config,
    email: &'a EmailAddress,
}

impl Redeem for SignIn<'_> {
    type Done = SessionTokens;

    /// The right code: use it and sign in. The used code stays in KV until it
    /// expires: D1 refuses it, and deleting it would cost a KV write per login.
    async fn redeem(
        &self,
        attempt: Attempt<'_>,
        code_id: &str,
    ) -> Result<Redeemed<SessionTokens>, AppError> {
        let (ctx, config) = (self.ctx, self.config);
        let rng = &mut OsRandom;
        let (session_id, refresh_jti) = (uuid_v4(rng), random_hex(rng, 16));
        let at = ctx.timestamp();
        let expires_at = timestamp(ctx.now + Duration::seconds(REFRESH_TTL_SECONDS));
        let audit = ctx.with_ip(
            AuditEvent::new(AuditKind::Login)
                .email_hash(&config.keys.audit_tag("email", self.email.as_str()))
                .detail(session_id.clone()),
        )?;
        let whence = &ctx.whence;
        let origin = LoginOrigin::of(
            &whence.user_agent,
            whence.country.as_deref(),
            whence.city.as_deref(),
        );
        let new_user_id = uuid_v4(rng);
        let created = Event::user_created(rng, &new_user_id, self.email, ctx.now);
        let login = Login {
            attempt,
            code_id,
            new_user_id: &new_user_id,
            tombstones: &config.keys.tombstones(self.email.as_str()),
            session: NewSession {
                id: &session_id,
                refresh_jti: &refresh_jti,
                created_at: &at,
                expires_at: &expires_at,
                origin: &origin,
            },
            audit: &audit,
            created: &created,
            at: &at,
        };
        let user = match login::commit(&ctx.db()?, &login).await? {
            LoginOutcome::LoggedIn {
                user,
                created: true,
            } => {
                ctx.publish(&created);
                *user
            }
            LoginOutcome::LoggedIn { user, .. } => *user,
            LoginOutcome::NotUsable(refusal) => return Ok(Redeemed::Refused(refusal)),
            LoginOutcome::Stale(current) => return Ok(Redeemed::Stale(current)),
            LoginOutcome::Deleted => {
                return Err(AppError::Conflict {
                    code: "account_deleted",
                    message: "This account was deleted and can no longer sign in",
                })
            }
        };
        let tokens = session_tokens::issue(config, user, &session_id, refresh_jti, ctx.now)?;
        Ok(Redeemed::Done(tokens))
    }
}
