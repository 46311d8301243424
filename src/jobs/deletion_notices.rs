//! The notice mailed to an account's owner when its deletion is scheduled.
//! The request that schedules mails it right away ([`deliver`]); a notice
//! whose mail failed (the provider refused or was down, the worker stopped
//! first) stays owed in D1 and the Cron Trigger mails it here, every run
//! until the provider accepts it. The deletion is finalised only a day or
//! more after its notice went out (`storage::units::deletion`), so no account
//! is deleted without its owner having been told in time to cancel.

use chrono::{DateTime, Duration, Utc};
use worker::Env;

use crate::config::Config;
use crate::domain::deletion_notice;
use crate::domain::email::EmailAddress;
use crate::domain::envelope::timestamp;
use crate::domain::error::AppError;
use crate::domain::otp_message::Locale;
use crate::mail;
use crate::platform::bindings;
use crate::platform::trips::Trips;
use crate::storage::tables::deletion_notices;
use crate::storage::{self, Db};

/// Notices younger than this are left to the request that wrote them, which
/// mails them before it answers: taking them here too would mail them twice.
/// Longer than the longest mail timeout (`EMAIL_TIMEOUT_MS`, 30 s at most).
const IN_FLIGHT_SECONDS: i64 = 60;
/// Notices per run: deletions are rare, and a backlog after a provider
/// outage drains over a few runs.
const PER_RUN: u32 = 50;

/// One owed notice: to whom, in which language, about which schedule (its
/// two timestamps exactly as `users` records them).
pub struct Notice<'a> {
    pub user_id: &'a str,
    pub email: &'a EmailAddress,
    pub locale: Locale,
    pub requested_at: &'a str,
    pub scheduled_for: &'a str,
}

/// Mails the notice, then records that it went out `at`. An error leaves it
/// owed.
pub async fn deliver(
    env: &Env,
    trips: &Trips,
    config: &Config,
    db: &Db,
    notice: &Notice<'_>,
    at: &str,
) -> Result<(), AppError> {
    let message = deletion_notice::compose(
        notice.locale,
        &config.email_product_name,
        instant(notice.requested_at)?,
        instant(notice.scheduled_for)?,
    );
    mail::send(env, trips, &config.mail, notice.email, &message).await?;
    deletion_notices::sent(db, notice.user_id, notice.requested_at, at).await
}

fn instant(stored: &str) -> Result<DateTime<Utc>, AppError> {
    DateTime::parse_from_rfc3339(stored)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|e| AppError::internal(format!("deletion notice time {stored:?}: {e}")))
}

/// Drops notices whose schedule was cancelled before they went out, then
/// mails the owed ones, oldest first. Stops at the first mail that fails (the
/// provider is likely down for the rest too): those wait for the next run.
/// Returns how many went out.
pub async fn run(env: &Env, now: DateTime<Utc>) -> Result<usize, AppError> {
    let config = bindings::config(env)?;
    let trips = Trips::default();
    let db = storage::db(env, &trips)?;
    deletion_notices::drop_outlived(&db).await?;
    let (at, before) = (
        timestamp(now),
        timestamp(now - Duration::seconds(IN_FLIGHT_SECONDS)),
    );
    let mut sent = 0;
    for owed in deletion_notices::owed(&db, &before, PER_RUN).await? {
        let email = EmailAddress::parse(&owed.email)
            .map_err(|e| AppError::internal(format!("owed notice's address: {}", e.0)))?;
        let notice = Notice {
            user_id: &owed.user_id,
            email: &email,
            locale: Locale::from_tag(&owed.locale),
            requested_at: &owed.requested_at,
            scheduled_for: &owed.scheduled_for,
        };
        deliver(env, &trips, &config, &db, &notice, &at).await?;
        sent += 1;
    }
    Ok(sent)
}
