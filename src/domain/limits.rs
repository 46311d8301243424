//! Abuse limits on the login endpoints, as one system.
//!
//! Guessing and mailing are counted per address *and client network* (the
//! IPv4 address, or the /64 of an IPv6 one), so strangers on other networks
//! cannot lock the owner out: their failures lock their own network. Above
//! that, every address has a daily failure budget shared by all networks,
//! which bounds guessing over the long run: once it is spent, sending a code
//! needs a solved Turnstile challenge (when Turnstile is configured) or, with
//! no challenge to offer, the address is locked for everyone until the budget
//! recovers. A failure counts only when it hit a live, unused code, weighted
//! by how many live codes it was checked against; a lock lasts its full time
//! after the failure that set it, and failures refused during a lock are not
//! counted (so they cannot extend it).
//!
//! An attempt that carries the login id its send returned (the owner's
//! client) is counted apart (`otp::Path::Owner`): on that login's codes and
//! against the address's *owner budget*, so strangers' guesses without it
//! never spend the owner's code, and the anonymous budget never locks it.
//! Strangers can get login ids of their own only by asking for codes; once
//! the owner budget is spent, only codes sent after a solved challenge (eight
//! digits) take attempts with a login id. With Turnstile, a spent budget or
//! per-address cap asks a sender for a challenge instead of refusing: whoever
//! floods an address, its owner can still get a code and sign in.
//!
//! Per address (counted in D1, exact across locations, because an attacker can
//! spread requests over the world). Per client network, coarsely, the Workers
//! rate-limiting binding floods (counted per location, where a local count is
//! enough).

use std::net::IpAddr;

use super::error::AppError;
use super::otp::Path;

/// How the per-address limits are set; read once from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmailLimits {
    /// Seconds between two sends to one address from one network.
    pub resend_cooldown_seconds: u32,
    /// Sends to one address from one network per hour.
    pub sends_per_hour: u32,
    /// Sends to one address from all networks together per hour.
    pub address_sends_per_hour: u32,
    /// Sends to one address from all networks together per day; beyond it a
    /// send needs a solved challenge, or waits when there is none to offer.
    pub address_sends_per_day: u32,
    /// Wrong codes from one network within an hour that lock that network out
    /// of the address.
    pub failures_before_lockout: u32,
    /// How long such a lock lasts after the failure that set it.
    pub lockout_seconds: u32,
    /// Wrong codes (weighted by live codes) for one address per day, from all
    /// networks together; spent, the address needs a challenge or is locked.
    pub daily_failure_budget: u32,
    /// Wrong codes with a login id for one address per day; spent, a send
    /// needs a challenge (or is refused) and only challenged codes take them.
    pub owner_failure_budget: u32,
}

impl Default for EmailLimits {
    fn default() -> Self {
        Self {
            resend_cooldown_seconds: 30,
            sends_per_hour: 5,
            address_sends_per_hour: 15,
            address_sends_per_day: 30,
            failures_before_lockout: 10,
            lockout_seconds: 900,
            daily_failure_budget: 10,
            owner_failure_budget: 3,
        }
    }
}

/// Counters of one network run in windows that start at their first event.
pub const WINDOW_MS: i64 = 3_600_000;
/// The address-wide budget's window, and how long a spent budget holds after
/// the failure that spent it.
pub const BUDGET_WINDOW_MS: i64 = 24 * WINDOW_MS;

/// The client network a request comes from: the IPv4 address, or the /64
/// prefix of an IPv6 address (one subscriber's allocation: counting its 2^64
/// addresses one by one would give a single client unlimited keys).
pub fn client_network(ip: &str) -> String {
    match ip.trim().parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        // Not an address (a local run without CF-Connecting-IP): one bucket.
        Err(_) => "unknown".into(),
    }
}

/// The IPv6 /48 a client network belongs to (a site's allocation, which
/// holds 65,536 /64s): floods are limited per /48 too, so rotating through
/// its /64s does not buy unlimited fresh networks. `None` for IPv4.
pub fn client_block(ip: &str) -> Option<String> {
    match ip.trim().parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            Some(format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2]))
        }
        _ => None,
    }
}

/// The counter keys of one address and one client network. `address` and
/// `network` are keyed hashes, so the table holds neither.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    pub cooldown: String,
    pub sends: String,
    pub failures: String,
    pub address_sends: String,
    pub address_daily_sends: String,
    pub address_failures: String,
    pub address_owner_failures: String,
}

impl Keys {
    pub fn new(address: &str, address_network: &str) -> Self {
        Self {
            cooldown: format!("send-cooldown:{address_network}"),
            sends: format!("sends:{address_network}"),
            failures: format!("failures:{address_network}"),
            address_sends: format!("address-sends:{address}"),
            address_daily_sends: format!("address-day-sends:{address}"),
            address_failures: format!("address-failures:{address}"),
            address_owner_failures: format!("address-owner-failures:{address}"),
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

/// The counters that decide a request, as read with it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub cooldown: Option<Counter>,
    pub sends: Option<Counter>,
    pub failures: Option<Counter>,
    pub address_sends: Option<Counter>,
    pub address_daily_sends: Option<Counter>,
    pub address_failures: Option<Counter>,
    pub address_owner_failures: Option<Counter>,
}

/// Seconds until `until_ms`, rounded up, at least 1: the `Retry-After` value.
pub fn retry_after(until_ms: i64, now_ms: i64) -> u32 {
    let ms = (until_ms - now_ms).max(1);
    u32::try_from((ms + 999) / 1000).unwrap_or(u32::MAX)
}

/// Whether the address's daily budget is spent, and what that means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetPolicy {
    /// Turnstile is configured: a spent budget asks senders for a challenge;
    /// verifying the codes already sent goes on.
    Challenge,
    /// No challenge to offer: a spent budget locks the address for everyone.
    Lock,
}

impl EmailLimits {
    pub fn lockout_ms(&self) -> i64 {
        i64::from(self.lockout_seconds) * 1000
    }

    pub fn cooldown_ms(&self) -> i64 {
        i64::from(self.resend_cooldown_seconds) * 1000
    }

    /// If this network's failures lock it out of the address now, until when:
    /// the lock lasts its full time after the failure that set it.
    pub fn network_locked_until(&self, failures: Option<&Counter>, now_ms: i64) -> Option<i64> {
        let c = failures?;
        let until = c.updated_at + self.lockout_ms();
        (c.count >= i64::from(self.failures_before_lockout) && until > now_ms).then_some(until)
    }

    /// If the address's daily failure budget is spent now, until when.
    pub fn budget_spent_until(&self, failures: Option<&Counter>, now_ms: i64) -> Option<i64> {
        let c = failures?;
        let until = c.updated_at + BUDGET_WINDOW_MS;
        (c.count >= i64::from(self.daily_failure_budget) && until > now_ms).then_some(until)
    }

    /// If the address's owner budget is spent now, until when.
    pub fn owner_budget_spent_until(&self, failures: Option<&Counter>, now_ms: i64) -> Option<i64> {
        let c = failures?;
        let until = c.updated_at + BUDGET_WINDOW_MS;
        (c.count >= i64::from(self.owner_failure_budget) && until > now_ms).then_some(until)
    }

    /// If the address's hourly send cap (all networks) is reached now, until when.
    pub fn address_capped_until(&self, sends: Option<&Counter>, now_ms: i64) -> Option<i64> {
        let c = sends?;
        let until = c.window_start + WINDOW_MS;
        (until > now_ms && c.count >= i64::from(self.address_sends_per_hour)).then_some(until)
    }

    /// If the address's daily send cap is reached now, until when.
    pub fn daily_capped_until(&self, sends: Option<&Counter>, now_ms: i64) -> Option<i64> {
        let c = sends?;
        let until = c.window_start + BUDGET_WINDOW_MS;
        (until > now_ms && c.count >= i64::from(self.address_sends_per_day)).then_some(until)
    }

    /// Whether a send needs a solved challenge before anything else is asked:
    /// either budget of the address is spent or its sends (hourly or daily,
    /// all networks) are used up, and there is a challenge to offer (under
    /// `Lock` they refuse instead). A challenged send mails a longer code.
    pub fn challenge_needed(&self, counters: &Counters, policy: BudgetPolicy, now_ms: i64) -> bool {
        policy == BudgetPolicy::Challenge
            && [
                self.budget_spent_until(counters.address_failures.as_ref(), now_ms),
                self.owner_budget_spent_until(counters.address_owner_failures.as_ref(), now_ms),
                self.daily_capped_until(counters.address_daily_sends.as_ref(), now_ms),
                self.address_capped_until(counters.address_sends.as_ref(), now_ms),
            ]
            .iter()
            .any(Option::is_some)
    }

    /// Whether attempts on `path` are refused now, and until when. The
    /// network lock always holds (it is the requester's own). Without a login
    /// id, a spent address budget locks the attempt. With one, only where
    /// there is no challenge to offer (`Lock`) do the budgets lock it: with
    /// Turnstile the owner's login goes on (the owner budget bounds it per
    /// code, `LedgerSnapshot::usable`).
    pub fn verify_locked_until(
        &self,
        counters: &Counters,
        policy: BudgetPolicy,
        path: Path<'_>,
        now_ms: i64,
    ) -> Option<i64> {
        let network = self.network_locked_until(counters.failures.as_ref(), now_ms);
        let budget = self.budget_spent_until(counters.address_failures.as_ref(), now_ms);
        let owner = self.owner_budget_spent_until(counters.address_owner_failures.as_ref(), now_ms);
        let address = match (path, policy) {
            (Path::Anonymous, _) => budget,
            (Path::Owner { .. }, BudgetPolicy::Lock) => budget.max(owner),
            (Path::Owner { .. }, BudgetPolicy::Challenge) => None,
        };
        network.max(address)
    }

    /// Why a send was refused, given the counters as they were before it.
    /// A spent budget under `Challenge` is not a refusal here: the caller asks
    /// for the challenge.
    pub fn send_refusal(
        &self,
        counters: &Counters,
        policy: BudgetPolicy,
        now_ms: i64,
    ) -> Option<Refusal> {
        // A send is refused by what would refuse its owner's attempts.
        let owner = Path::Owner { login: "" };
        if let Some(until) = self.verify_locked_until(counters, policy, owner, now_ms) {
            return Some(Refusal::LockedOut { until });
        }
        if let Some(c) = counters.cooldown {
            let until = c.updated_at + self.cooldown_ms();
            if until > now_ms {
                return Some(Refusal::Cooldown { until });
            }
        }
        let capped = |counter: Option<Counter>, cap: u32| {
            let c = counter?;
            let until = c.window_start + WINDOW_MS;
            (until > now_ms && c.count >= i64::from(cap)).then_some(Refusal::HourlyCap { until })
        };
        capped(counters.sends, self.sends_per_hour)
            .or_else(|| match policy {
                // With a challenge to offer, the caller asks for it instead.
                BudgetPolicy::Challenge => None,
                BudgetPolicy::Lock => capped(counters.address_sends, self.address_sends_per_hour),
            })
            .or_else(|| match policy {
                // With a challenge to offer, the caller asks for it instead.
                BudgetPolicy::Challenge => None,
                BudgetPolicy::Lock => self
                    .daily_capped_until(counters.address_daily_sends.as_ref(), now_ms)
                    .map(|until| Refusal::DailyCap { until }),
            })
    }
}

/// A refused request and when to come back (Unix milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Cooldown { until: i64 },
    HourlyCap { until: i64 },
    DailyCap { until: i64 },
    LockedOut { until: i64 },
    IpFlood { retry_after_seconds: u32 },
    MailCeiling { retry_after_seconds: u32 },
}

impl Refusal {
    /// The stable code of the refusal (`AppError::code`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Cooldown { .. } => "resend_cooldown",
            Self::HourlyCap { .. } => "hourly_cap",
            Self::DailyCap { .. } => "daily_cap",
            Self::LockedOut { .. } => "locked_out",
            Self::IpFlood { .. } => "too_many_requests",
            Self::MailCeiling { .. } => "mail_ceiling",
        }
    }

    pub fn message(&self) -> &'static str {
        match self {
            Self::Cooldown { .. } => "A code was sent moments ago; wait before asking for another",
            Self::HourlyCap { .. } => "Too many codes were sent to this address; try again later",
            Self::DailyCap { .. } => {
                "Too many codes were sent to this address today; try again tomorrow"
            }
            Self::LockedOut { .. } => {
                "Too many wrong codes for this address; it is locked for a while"
            }
            Self::IpFlood { .. } => "Too many requests; slow down",
            Self::MailCeiling { .. } => {
                "Too many codes are being sent right now; try again shortly"
            }
        }
    }

    /// The 429 this refusal answers, with its `Retry-After`.
    pub fn into_error(self, now_ms: i64) -> AppError {
        AppError::RateLimited {
            code: self.code(),
            message: self.message(),
            retry_after: self.retry_after(now_ms),
        }
    }

    pub fn retry_after(&self, now_ms: i64) -> u32 {
        match *self {
            Self::Cooldown { until }
            | Self::HourlyCap { until }
            | Self::DailyCap { until }
            | Self::LockedOut { until } => retry_after(until, now_ms),
            Self::IpFlood {
                retry_after_seconds,
            }
            | Self::MailCeiling {
                retry_after_seconds,
            } => retry_after_seconds,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 100_000_000;

    fn counter(window_start: i64, count: i64, updated_at: i64) -> Option<Counter> {
        Some(Counter {
            window_start,
            count,
            updated_at,
        })
    }

    fn refusal(counters: Counters) -> Option<Refusal> {
        EmailLimits::default().send_refusal(&counters, BudgetPolicy::Lock, NOW)
    }

    #[test]
    fn nothing_recorded_means_no_refusal() {
        assert_eq!(refusal(Counters::default()), None);
    }

    #[test]
    fn cooldown_holds_for_its_seconds() {
        let recent = Counters {
            cooldown: counter(NOW - 10_000, 1, NOW - 10_000),
            ..Counters::default()
        };
        assert_eq!(
            refusal(recent),
            Some(Refusal::Cooldown {
                until: NOW + 20_000
            })
        );
        let old = Counters {
            cooldown: counter(NOW - 30_000, 1, NOW - 30_000),
            ..Counters::default()
        };
        assert_eq!(refusal(old), None);
    }

    #[test]
    fn hourly_caps_count_within_the_window_per_network_and_per_address() {
        let full = counter(NOW - 1_000_000, 5, NOW - 60_000);
        assert_eq!(
            refusal(Counters {
                sends: full,
                ..Counters::default()
            }),
            Some(Refusal::HourlyCap {
                until: NOW - 1_000_000 + WINDOW_MS
            })
        );
        let expired = counter(NOW - WINDOW_MS, 5, NOW - 60_000);
        assert_eq!(
            refusal(Counters {
                sends: expired,
                ..Counters::default()
            }),
            None
        );
        // Another network's five sends do not stop this one; fifteen across
        // every network do.
        assert_eq!(
            refusal(Counters {
                address_sends: counter(NOW - 1_000, 5, NOW - 1_000),
                ..Counters::default()
            }),
            None
        );
        assert!(matches!(
            refusal(Counters {
                address_sends: counter(NOW - 1_000, 15, NOW - 1_000),
                ..Counters::default()
            }),
            Some(Refusal::HourlyCap { .. })
        ));
    }

    #[test]
    fn a_network_lock_lasts_its_full_time_after_the_failure_that_set_it() {
        let limits = EmailLimits::default();
        // The tenth failure came at the very end of its window: the lock still
        // lasts fifteen minutes from it, not until the window ends.
        let late = counter(NOW - WINDOW_MS + 1_000, 10, NOW - 1_000);
        assert_eq!(
            limits.network_locked_until(late.as_ref(), NOW),
            Some(NOW - 1_000 + 900_000)
        );
        let over = counter(NOW - 100_000, 10, NOW - 900_000);
        assert_eq!(limits.network_locked_until(over.as_ref(), NOW), None);
        let few = counter(NOW - 100_000, 9, NOW - 1_000);
        assert_eq!(limits.network_locked_until(few.as_ref(), NOW), None);
    }

    #[test]
    fn a_spent_budget_locks_or_asks_for_a_challenge() {
        let limits = EmailLimits::default();
        let spent = Counters {
            address_failures: counter(NOW - 5_000_000, 15, NOW - 1_000),
            ..Counters::default()
        };
        let (anonymous, owner) = (Path::Anonymous, Path::Owner { login: "l" });
        for policy in [BudgetPolicy::Lock, BudgetPolicy::Challenge] {
            assert_eq!(
                limits.verify_locked_until(&spent, policy, anonymous, NOW),
                Some(NOW - 1_000 + BUDGET_WINDOW_MS)
            );
        }
        assert_eq!(
            limits.verify_locked_until(&spent, BudgetPolicy::Lock, owner, NOW),
            Some(NOW - 1_000 + BUDGET_WINDOW_MS)
        );
        // With Turnstile, strangers' guesses never lock the owner's login.
        assert_eq!(
            limits.verify_locked_until(&spent, BudgetPolicy::Challenge, owner, NOW),
            None
        );
        assert_eq!(
            limits.send_refusal(&spent, BudgetPolicy::Challenge, NOW),
            None
        );
        let recovered = Counters {
            address_failures: counter(NOW - BUDGET_WINDOW_MS - 5_000, 15, NOW - BUDGET_WINDOW_MS),
            ..Counters::default()
        };
        assert_eq!(
            limits.budget_spent_until(recovered.address_failures.as_ref(), NOW),
            None
        );
    }

    #[test]
    fn networks_are_ipv4_addresses_and_ipv6_slash_64s() {
        assert_eq!(client_network("198.51.100.7"), "198.51.100.7");
        assert_eq!(
            client_network("2001:db8:1:2:aaaa:bbbb:cccc:dddd"),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            client_network("2001:db8:1:2::1"),
            client_network("2001:db8:1:2:ffff::9")
        );
        assert_ne!(
            client_network("2001:db8:1:2::1"),
            client_network("2001:db8:1:3::1")
        );
        assert_eq!(client_network("::ffff:198.51.100.7"), "198.51.100.7");
        assert_eq!(client_network("not an ip"), "unknown");
    }

    #[test]
    fn an_ipv6_network_belongs_to_its_slash_48_and_ipv4_to_none() {
        assert_eq!(
            client_block("2001:db8:1:2:aaaa::1"),
            Some("2001:db8:1::/48".into())
        );
        assert_eq!(
            client_block("2001:db8:1:ffff::1"),
            client_block("2001:db8:1:2::1")
        );
        assert_ne!(
            client_block("2001:db8:1:2::1"),
            client_block("2001:db8:2:2::1")
        );
        assert_eq!(client_block("198.51.100.7"), None);
        assert_eq!(client_block("::ffff:198.51.100.7"), None);
        assert_eq!(client_block("not an ip"), None);
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
