//! `POST /api/v1/auth/send-otp-email`: draws a code, mails it, stores its hash
//! (for a review address, stores its fixed code's hash and mails nothing).

use serde::Serialize;
use worker::Response;

use crate::challenge;
use crate::config::Config;
use crate::domain::audit::{AuditEvent, AuditKind};
use crate::domain::email::EmailAddress;
use crate::domain::error::AppError;
use crate::domain::ids::OsRandom;
use crate::domain::limits::{client_network, Keys};
use crate::domain::login_id::LoginId;
use crate::domain::otp::{self, IssuedCode, PendingCode, PendingCodes};
use crate::domain::otp_message::{self, Locale, Requested};
use crate::domain::requests::SendOtpRequest;
use crate::http::context::RequestCtx;
use crate::http::respond;
use crate::mail;
use crate::storage::units::send::{self, Admission, SendRequest, Withdrawal};

pub const IP_LIMITER: &str = "IP_SEND_LIMITER";
/// Sends per minute from one IPv6 /48, whichever of its /64s.
pub const BLOCK_LIMITER: &str = "BLOCK_SEND_LIMITER";
/// Mails per minute from one location, whatever the addresses: a cost guard.
pub const MAIL_CEILING: &str = "MAIL_CEILING";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CodeSent {
    expires_in: u32,
    code_length: u8,
    /// Seconds before another code can be requested for this address.
    resend_after: u32,
    /// For the verify (and a resend): attempts carrying it count apart.
    login_id: String,
}

/// Answers the same whether or not an account exists, so it reveals nothing.
/// A review address (`REVIEW_LOGINS`) is admitted exactly as any other, but
/// stores its fixed code and mails nothing, unless a real account holds it.
pub async fn handle(ctx: &RequestCtx) -> Result<Response, AppError> {
    ctx.limit_ip(IP_LIMITER, BLOCK_LIMITER).await?;
    let request = SendOtpRequest::parse(ctx.body.json()?)?;
    let config = ctx.config()?;
    let (kv, db) = (ctx.kv()?, ctx.db()?);
    let now_ms = ctx.now_ms();
    let email = &request.email;

    let network = client_network(ctx.client_ip());
    let keys = Keys::new(
        &config.keys.address_tag(email.as_str()),
        &config.keys.address_network_tag(email.as_str(), &network),
    );
    // A resend keeps the login id it carries; a first send draws one.
    let login_id = request
        .login_id
        .unwrap_or_else(|| LoginId::generate(&mut OsRandom));
    let login = config.keys.login_tag(email.as_str(), login_id.expose());
    let draw = |length| otp::issue(email, length, &login, &config.keys.codes, &mut OsRandom);
    // Drawn before admission: the admitting batch stores it (a refused send
    // wasted a few microseconds), so that nothing is written after the mail.
    let first = draw(config.otp.length);
    // A review address's fixed code, which the batch stores instead if no
    // real account holds the address.
    let fixed = config
        .review_logins
        .issue(email, &login, &config.keys.codes, &mut OsRandom);
    let admission = |code, challenge_passed| SendRequest {
        email,
        keys: &keys,
        limits: &config.limits,
        otp: &config.otp,
        budget: config.budget_policy(),
        challenge_passed,
        code,
        review: fixed.as_ref().map(|f| &f.pending),
        now_ms,
    };
    let mut admitted = send::admit(&db, &admission(&first.pending, false)).await?;
    let mut challenged = None;
    // A token is checked only when a challenge is required: a client that
    // always attaches one is not refused while the challenge service is down.
    if let (Admission::ChallengeRequired, Some(turnstile), Some(token)) =
        (&admitted, &config.turnstile, &request.turnstile_token)
    {
        if challenge::solved(&ctx.trips, turnstile, token, ctx.client_ip()).await? {
            // The address is under attack: a longer code, so that codes a
            // solver can keep asking for cannot be guessed faster. (A fixed
            // code stays as it is, and is stored as no challenged code.)
            let long = draw(config.otp.length.max(otp::CHALLENGED_LENGTH));
            admitted = send::admit(&db, &admission(&long.pending, true)).await?;
            challenged = Some(long);
        }
    }
    let (previous, review) = match admitted {
        Admission::Admitted { previous, review } => (previous, review),
        Admission::Refused(refusal) => return Err(refusal.into_error(now_ms)),
        Admission::ChallengeRequired => return Err(AppError::ChallengeRequired),
    };
    let email_hash = config.keys.audit_tag("email", email.as_str());
    let (issued, sent) = match (review, fixed) {
        // Nothing to mail: the reviewer knows the code. Only this location's
        // KV copy, as beside a mail.
        (true, Some(fixed)) => {
            let codes = PendingCodes::after_resend(fixed.pending.clone(), previous);
            kv.remember(email, &codes, &config.otp).await?;
            (fixed, AuditEvent::new(AuditKind::ReviewCodeSent))
        }
        (_, fixed) => {
            let issued = challenged.unwrap_or(first);
            mail_code(
                ctx,
                &config,
                email,
                &keys,
                &issued,
                previous,
                request.locale,
            )
            .await?;
            let sent = AuditEvent::new(AuditKind::CodeSent);
            // Listed, but a real account holds it: said in the audit, for the operator.
            let sent = match fixed {
                Some(_) => sent.detail("review address of a real account: mailed"),
                None => sent,
            };
            (issued, sent)
        }
    };
    // Delivered (or nothing to deliver): only now does the code verify (and
    // the oldest beyond the two newest retire), and the send is audited in
    // the same batch.
    let sent = ctx.with_ip(sent.email_hash(&email_hash))?;
    send::activate(&db, email, &issued.pending, &ctx.timestamp(), &sent).await?;

    respond::ok(
        200,
        CodeSent {
            expires_in: config.otp.ttl_seconds,
            code_length: issued.code.length(),
            resend_after: config.limits.resend_cooldown_seconds,
            login_id: login_id.expose().to_owned(),
        },
        ctx.now,
    )
}

/// Mails an admitted send's code, beside this location's KV copy of the
/// address's codes (`issued` and the `previous` one it keeps usable).
async fn mail_code(
    ctx: &RequestCtx,
    config: &Config,
    email: &EmailAddress,
    keys: &Keys,
    issued: &IssuedCode,
    previous: Option<PendingCode>,
    locale: Locale,
) -> Result<(), AppError> {
    let (kv, db) = (ctx.kv()?, ctx.db()?);
    let now_ms = ctx.now_ms();
    // Only a send that will mail takes a unit of the location's ceiling, so
    // refused sends cannot spend it; one the ceiling refuses is given back
    // whole (its cooldown and its hourly counts: it mailed nothing).
    if let Err(ceiling) = ctx.limit_global(MAIL_CEILING).await {
        let unsent = send::withdraw(&kv, &db, email, keys, now_ms, Withdrawal::NotSent).await;
        if let Err(withdraw) = unsent {
            respond::log_error(&withdraw);
        }
        return Err(ceiling);
    }

    let whence = &ctx.whence;
    let requested = Requested {
        at: ctx.now,
        country: whence.country.as_deref(),
        city: whence.city.as_deref(),
        user_agent: &whence.user_agent,
    };
    let message = otp_message::compose(
        &issued.code,
        config.otp.ttl_seconds,
        locale,
        &config.email_product_name,
        &requested,
    );
    // The mail and this location's KV copy side by side. If delivery fails,
    // the send is withdrawn before the answer: its code was never made
    // usable, no copy of it is left in KV, and its cooldown is given back so
    // that a retry is not refused for a code that never arrived.
    let codes = PendingCodes::after_resend(issued.pending.clone(), previous);
    let (sent, remembered) = futures_util::join!(
        mail::send(&ctx.env, &ctx.trips, &config.mail, email, &message),
        kv.remember(email, &codes, &config.otp),
    );
    if let Err(err) = sent {
        let failed = send::withdraw(&kv, &db, email, keys, now_ms, Withdrawal::Failed).await;
        if let Err(withdraw) = failed {
            // The limits then stay as taken (a retry waits out the cooldown);
            // the code nobody received was never made usable.
            respond::log_error(&withdraw);
        }
        return Err(err);
    }
    remembered
}
