//! `POST` and `DELETE /api/v1/users/me/deletion`: schedule or cancel the
//! deletion of the signed-in account. The Cron Trigger finalises it.
//!
//! Scheduling takes more than the access token: a code mailed to the
//! account's address (`send-otp-email`), checked and used exactly as a login
//! code is (`verify_otp_email::check_code`: the same flood limit, failure
//! counters, locks and audit), so an access token alone (a stolen one) cannot
//! start the deletion, nor guess the code faster than at login. The owner is
//! then mailed a notice saying when the deletion becomes final and how to
//! cancel it; scheduling raises `user.deletion_scheduled` for downstream
//! services. Cancelling needs the access token only: undoing is never harder
//! than it should be for the owner.

use worker::{Request, Response};

use crate::domain::audit::AuditEvent;
use crate::domain::deletion::{self, Transition};
use crate::domain::email::EmailAddress;
use crate::domain::envelope::timestamp;
use crate::domain::error::AppError;
use crate::domain::events::Event;
use crate::domain::ids::OsRandom;
use crate::domain::otp_message::Locale;
use crate::domain::requests::ScheduleDeletionRequest;
use crate::domain::user::User;
use crate::http::context::RequestCtx;
use crate::http::handlers::verify_otp_email::{check_code, Redeem, Redeemed};
use crate::http::{auth, respond};
use crate::jobs::deletion_notices::{self, Notice};
use crate::storage::tables::users;
use crate::storage::units::login::Attempt;
use crate::storage::units::schedule_deletion::{self, Scheduled, Scheduling};

pub async fn schedule(req: Request, ctx: &RequestCtx) -> Result<Response, AppError> {
    let config = ctx.config()?;
    let user = auth::current_user(&req, ctx).await?;
    let step = deletion::schedule(ctx.now, config.deletion_grace_days);
    // Before the code: a step that would be refused spends no code.
    if !deletion::schedulable(user.account_deletion_status) {
        return Err(step.conflict);
    }
    let request = ScheduleDeletionRequest::parse(ctx.body.json_if_any()?, config.otp.length)?;
    let email = EmailAddress::parse(&user.email)
        .map_err(|e| AppError::internal(format!("the account's address: {}", e.0)))?;
    let due_at = deletion::due_at(ctx.now, config.deletion_grace_days);
    let event = Event::deletion_scheduled(&mut OsRandom, &user.id, due_at, ctx.now);
    let confirm = Confirm {
        ctx,
        user_id: &user.id,
        step: &step,
        event: &event,
        locale: request.locale,
    };
    let updated = check_code(
        ctx,
        &config,
        &email,
        &request.code,
        request.login_id.as_ref(),
        &confirm,
    )
    .await?;
    ctx.audit(AuditEvent::new(step.event).user(&user.id));
    ctx.publish(&event);

    // The schedule stands whether or not this mail goes out: the owner asked
    // for it with a code from their own mailbox, and refusing it now would
    // leave a used code and an event already written. A notice whose mail
    // fails stays owed: the Cron Trigger mails it, and the deletion is not
    // finalised until a day after it went out (`jobs::deletion_notices`).
    let (requested_at, scheduled_for) = (ctx.timestamp(), timestamp(due_at));
    let notice = Notice {
        user_id: &user.id,
        email: &email,
        locale: request.locale,
        requested_at: &requested_at,
        scheduled_for: &scheduled_for,
    };
    let db = ctx.db()?;
    let sent =
        deletion_notices::deliver(&ctx.env, &ctx.trips, &config, &db, &notice, &requested_at).await;
    if let Err(err) = sent {
        respond::log_error(&err);
    }
    respond::ok(200, updated, ctx.now)
}

pub async fn cancel(req: Request, ctx: &RequestCtx) -> Result<Response, AppError> {
    let user = auth::current_user(&req, ctx).await?;
    let step = deletion::cancel(ctx.now);
    let (db, now) = (ctx.db()?, ctx.timestamp());
    let updated = users::update(&db, &user.id, &step.changes, &step.precondition, &now)
        .await?
        .ok_or(step.conflict)?;
    ctx.audit(AuditEvent::new(step.event).user(&user.id));
    respond::ok(200, updated, ctx.now)
}

/// A right code typed to confirm the schedule.
struct Confirm<'a> {
    ctx: &'a RequestCtx,
    user_id: &'a str,
    step: &'a Transition,
    event: &'a Event,
    locale: Locale,
}

impl Redeem for Confirm<'_> {
    type Done = User;

    async fn redeem(
        &self,
        attempt: Attempt<'_>,
        code_id: &str,
    ) -> Result<Redeemed<User>, AppError> {
        let at = self.ctx.timestamp();
        let scheduling = Scheduling {
            attempt,
            code_id,
            user_id: self.user_id,
            step: self.step,
            event: self.event,
            locale: self.locale.tag(),
            at: &at,
        };
        Ok(
            match schedule_deletion::commit(&self.ctx.db()?, &scheduling).await? {
                Scheduled::Done(user) => Redeemed::Done(*user),
                Scheduled::NotUsable(refusal) => Redeemed::Refused(refusal),
                Scheduled::Stale(current) => Redeemed::Stale(current),
                // A concurrent request scheduled it first.
                Scheduled::Conflict => return Err(self.step.conflict.clone()),
            },
        )
    }
}
