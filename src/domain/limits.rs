//! Abuse limits on the login endpoints.
//!
//! Per address (counted in D1, exact across locations, because an attacker
//! can spread requests over the world): a resend cooldown, an hourly cap on
//! sends, and a lockout after repeated wrong codes across codes.
//! Per client IP (the Workers rate-limiting binding, counted per location):
//! coarse flood protection, where a local count is enough.

use super::error::AppError;

/// How the per-address limits are set; read once from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmailLimits {
    /// Seconds between two sends to one address.
    pub resend_cooldown_seconds: u32,
    /// Sends to one address per hour.
    pub sends_per_hour: u32,
    /// Wrong codes for one address within an hour that lock it.
    pub failures_before_lockout: u32,
    /// How long a lockout lasts after the last wrong code.
    pub lockout_seconds: u32,
}

impl Default for EmailLimits {
    fn default() -> Self {
        Self {
            resend_cooldown_seconds: 30,
            sends_per_hour: 5,
            failures_before_lockout: 10,
            lockout_seconds: 900,
        }
    }
}

/// Counters run in windows that start at their first event and last this long.
pub const WINDOW_MS: i64 = 3_600_000;

/// The counter keys of one address.
pub struct Keys {
    pub cooldown: String,
    pub sends: String,
    pub failures: String,
}

impl Keys {
    /// `tag` is a keyed hash of the address, so the table holds no addresses.
    pub fn for_address(tag: &str) -> Self {
        Self {
            cooldown: format!("send-cooldown:{tag}"),
            sends: format!("sends:{tag}"),
            failures: format!("failures:{tag}"),
        }
    }
}

/// A counter row as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub struct Counter {
    pub window_start: i64,
    pub count: i64,
    pub updated_at: i64,
}

/// Seconds until `until_ms`, rounded up, at least 1: the `Retry-After` value.
pub fn retry_after(until_ms: i64, now_ms: i64) -> u32 {
    let ms = (until_ms - now_ms).max(1);
    u32::try_from((ms + 999) / 1000).unwrap_or(u32::MAX)
}

impl EmailLimits {
    pub fn lockout_ms(&self) -> i64 {
        i64::from(self.lockout_seconds) * 1000
    }

    pub fn cooldown_ms(&self) -> i64 {
        i64::from(self.resend_cooldown_seconds) * 1000
    }

    /// If the failure counter locks the address now, until when.
    pub fn locked_until(&self, failures: Option<&Counter>, now_ms: i64) -> Option<i64> {
        let c = failures?;
        let in_window = c.window_start > now_ms - WINDOW_MS;
        let until = c.updated_at + self.lockout_ms();
        (in_window && c.count >= i64::from(self.failures_before_lockout) && until > now_ms)
            .then_some(until)
    }

    /// Why a send was refused, given the counters as they were before it.
    pub fn send_refusal(
        &self,
        cooldown: Option<&Counter>,
        sends: Option<&Counter>,
        failures: Option<&Counter>,
        now_ms: i64,
    ) -> Option<Refusal> {
        if let Some(until) = self.locked_until(failures, now_ms) {
            return Some(Refusal::LockedOut { until });
        }
        if let Some(c) = cooldown {
            let until = c.updated_at + self.cooldown_ms();
            if until > now_ms {
                return Some(Refusal::Cooldown { until });
            }
        }
        if let Some(c) = sends {
            let until = c.window_start + WINDOW_MS;
            if until > now_ms && c.count >= i64::from(self.sends_per_hour) {
                return Some(Refusal::HourlyCap { until });
            }
        }
        None
    }
}

/// A refused request and when to come back (Unix milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Cooldown { until: i64 },
    HourlyCap { until: i64 },
    LockedOut { until: i64 },
    IpFlood { retry_after_seconds: u32 },
}

impl Refusal {
    pub fn message(&self) -> &'static str {
        match self {
            Self::Cooldown { .. } => "A code was sent moments ago; wait before asking for another",
            Self::HourlyCap { .. } => "Too many codes were sent to this address; try again later",
            Self::LockedOut { .. } => {
                "Too many wrong codes for this address; it is locked for a while"
            }
            Self::IpFlood { .. } => "Too many requests; slow down",
        }
    }

    /// The 429 this refusal answers, with its `Retry-After`.
    pub fn into_error(self, now_ms: i64) -> AppError {
        AppError::RateLimited {
            message: self.message(),
            retry_after: self.retry_after(now_ms),
        }
    }

    pub fn retry_after(&self, now_ms: i64) -> u32 {
        match *self {
            Self::Cooldown { until } | Self::HourlyCap { until } | Self::LockedOut { until } => {
                retry_after(until, now_ms)
            }
            Self::IpFlood {
                retry_after_seconds,
            } => retry_after_seconds,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 10_000_000;

    fn counter(window_start: i64, count: i64, updated_at: i64) -> Counter {
        Counter {
            window_start,
            count,
            updated_at,
        }
    }

    #[test]
    fn nothing_recorded_means_no_refusal() {
        assert_eq!(
            EmailLimits::default().send_refusal(None, None, None, NOW),
            None
        );
    }

    #[test]
    fn cooldown_holds_for_its_seconds() {
        let limits = EmailLimits::default();
        let recent = counter(NOW - 10_000, 1, NOW - 10_000);
        assert_eq!(
            limits.send_refusal(Some(&recent), None, None, NOW),
            Some(Refusal::Cooldown {
                until: NOW + 20_000
            })
        );
        let old = counter(NOW - 30_000, 1, NOW - 30_000);
        assert_eq!(limits.send_refusal(Some(&old), None, None, NOW), None);
    }

    #[test]
    fn hourly_cap_counts_within_the_window() {
        let limits = EmailLimits::default();
        let full = counter(NOW - 1_000_000, 5, NOW - 60_000);
        assert_eq!(
            limits.send_refusal(None, Some(&full), None, NOW),
            Some(Refusal::HourlyCap {
                until: NOW - 1_000_000 + WINDOW_MS
            })
        );
        let expired = counter(NOW - WINDOW_MS, 5, NOW - 60_000);
        assert_eq!(limits.send_refusal(None, Some(&expired), None, NOW), None);
        let below = counter(NOW - 1_000, 4, NOW - 1_000);
        assert_eq!(limits.send_refusal(None, Some(&below), None, NOW), None);
    }

    #[test]
    fn lockout_follows_the_last_failure() {
        let limits = EmailLimits::default();
        let locked = counter(NOW - 100_000, 10, NOW - 1_000);
        assert_eq!(
            limits.locked_until(Some(&locked), NOW),
            Some(NOW - 1_000 + 900_000)
        );
        let over = counter(NOW - 100_000, 10, NOW - 900_000);
        assert_eq!(limits.locked_until(Some(&over), NOW), None);
        let few = counter(NOW - 100_000, 9, NOW - 1_000);
        assert_eq!(limits.locked_until(Some(&few), NOW), None);
        assert!(matches!(
            limits.send_refusal(None, None, Some(&locked), NOW),
            Some(Refusal::LockedOut { .. })
        ));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after(NOW + 1, NOW), 1);
        assert_eq!(retry_after(NOW + 1_001, NOW), 2);
        assert_eq!(retry_after(NOW - 5, NOW), 1);
        assert_eq!(
            Refusal::IpFlood {
                retry_after_seconds: 60
            }
            .retry_after(NOW),
            60
        );
    }
}
