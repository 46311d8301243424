//! How long records are kept once they stop mattering. The Cron Trigger purges
//! what is older: ended sessions, spent rate-limit counters, old audit events.
//! Pure: the job passes the clock and the settings in.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::limits::{EmailLimits, BUDGET_WINDOW_MS, WINDOW_MS};

const DAY_MS: i64 = 86_400_000;

/// An expired session is kept a day past its expiry (a refresh token is
/// refused from the moment the session expires, with or without its row), so
/// a login reported as strange can still be looked up the next morning.
const SESSION_GRACE_MS: i64 = DAY_MS;

/// Rows deleted per table per statement. D1 runs one query at a time, so a
/// large backlog (the first purge after an upgrade) is split into rounds that
/// let requests in between instead of one long delete that stalls logins.
pub const PURGE_BATCH_ROWS: u32 = 5_000;
/// Rounds per run: up to 50 000 rows per table every 15 minutes; more waits
/// for the next run.
pub const PURGE_MAX_ROUNDS: u32 = 10;

/// What is old enough to go, as of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cutoffs {
    /// Sessions that expired before this.
    pub sessions_expired_before: DateTime<Utc>,
    /// Counters whose window started before this (Unix ms) …
    pub counters_window_before_ms: i64,
    /// … and that last changed before this (Unix ms).
    pub counters_updated_before_ms: i64,
    /// Audit events recorded before this.
    pub audit_before: DateTime<Utc>,
}

impl Cutoffs {
    /// A counter goes only once no limit can still read it: its window (an
    /// hour) is over and so are its cooldown and any lockout it caused, which
    /// run from its last change. A day bounds both with room to spare, and a
    /// configured lockout longer than that is honoured.
    pub fn at(now: DateTime<Utc>, limits: &EmailLimits, audit_retention_days: u32) -> Self {
        let now_ms = now.timestamp_millis();
        // The daily failure budget holds a day after the failure that spent it.
        let last_change_matters_ms = BUDGET_WINDOW_MS
            .max(limits.lockout_ms())
            .max(limits.cooldown_ms());
        Self {
            sessions_expired_before: now - Duration::milliseconds(SESSION_GRACE_MS),
            counters_window_before_ms: now_ms - BUDGET_WINDOW_MS.max(WINDOW_MS),
            counters_updated_before_ms: now_ms - last_change_matters_ms,
            audit_before: now - Duration::days(i64::from(audit_retention_days)),
        }
    }
}

/// How many rows a purge removed, per table (the scheduled log line).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Purged {
    pub sessions: usize,
    pub rate_limits: usize,
    pub audit_events: usize,
}

impl Purged {
    pub fn add(&mut self, other: Purged) {
        self.sessions += other.sessions;
        self.rate_limits += other.rate_limits;
        self.audit_events += other.audit_events;
    }

    /// Whether some table filled its batch, so more may be waiting.
    pub fn filled(&self, batch_size: u32) -> bool {
        let full = usize::try_from(batch_size).unwrap_or(usize::MAX);
        [self.sessions, self.rate_limits, self.audit_events]
            .iter()
            .any(|&n| n >= full)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 22, 12, 0, 0).unwrap()
    }

    #[test]
    fn cutoffs_with_the_default_limits() {
        let c = Cutoffs::at(now(), &EmailLimits::default(), 90);
        let day_ago = Utc.with_ymd_and_hms(2026, 5, 21, 12, 0, 0).unwrap();
        assert_eq!(c.sessions_expired_before, day_ago);
        assert_eq!(c.counters_window_before_ms, day_ago.timestamp_millis());
        assert_eq!(c.counters_updated_before_ms, day_ago.timestamp_millis());
        assert_eq!(
            c.audit_before,
            Utc.with_ymd_and_hms(2026, 2, 21, 12, 0, 0).unwrap()
        );
    }

    #[test]
    fn a_lockout_longer_than_a_day_keeps_its_counter_longer() {
        let limits = EmailLimits {
            lockout_seconds: 2 * 86_400,
            ..EmailLimits::default()
        };
        let c = Cutoffs::at(now(), &limits, 1);
        assert_eq!(
            c.counters_updated_before_ms,
            now().timestamp_millis() - 2 * DAY_MS
        );
        assert_eq!(c.audit_before, now() - Duration::days(1));
    }

    #[test]
    fn purged_adds_up_and_knows_when_a_batch_was_full() {
        let mut total = Purged::default();
        total.add(Purged {
            sessions: 2,
            rate_limits: 0,
            audit_events: 5,
        });
        total.add(Purged {
            sessions: 1,
            ..Purged::default()
        });
        assert_eq!((total.sessions, total.audit_events), (3, 5));
        assert!(total.filled(5));
        assert!(!total.filled(6));
        assert_eq!(
            serde_json::to_string(&total).unwrap(),
            r#"{"sessions":3,"rateLimits":0,"auditEvents":5}"#
        );
    }
}
