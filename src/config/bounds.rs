//! The code policy and the sending limits: the bounds every environment holds
//! them to, and the tighter ones production does. Defaults come from the
//! domain types, so they are written once.

use super::settings::Settings;
use super::Environment;
use crate::domain::limits::EmailLimits;
use crate::domain::otp::{self, OtpPolicy};

pub(super) fn otp_policy(s: &mut Settings) -> OtpPolicy {
    let defaults = OtpPolicy::default();
    OtpPolicy {
        length: s.number(
            "OTP_LENGTH",
            defaults.length,
            otp::MIN_LENGTH..=otp::MAX_LENGTH,
        ),
        ttl_seconds: s.number(
            "OTP_TTL_SECONDS",
            defaults.ttl_seconds,
            otp::MIN_TTL_SECONDS..=otp::MAX_TTL_SECONDS,
        ),
        max_attempts: s.number("OTP_MAX_ATTEMPTS", defaults.max_attempts, 1..=20),
    }
}

pub(super) fn email_limits(s: &mut Settings) -> EmailLimits {
    let defaults = EmailLimits::default();
    EmailLimits {
        resend_cooldown_seconds: s.number(
            "OTP_RESEND_COOLDOWN_SECONDS",
            defaults.resend_cooldown_seconds,
            0..=3600,
        ),
        sends_per_hour: s.number("OTP_SENDS_PER_HOUR", defaults.sends_per_hour, 1..=100_000),
        address_sends_per_hour: s.number(
            "OTP_ADDRESS_SENDS_PER_HOUR",
            defaults.address_sends_per_hour,
            1..=100_000,
        ),
        address_sends_per_day: s.number(
            "OTP_ADDRESS_SENDS_PER_DAY",
            defaults.address_sends_per_day,
            1..=100_000,
        ),
        daily_failure_budget: s.number(
            "LOGIN_DAILY_FAILURE_BUDGET",
            defaults.daily_failure_budget,
            1..=100_000,
        ),
        owner_failure_budget: s.number(
            "LOGIN_DAILY_OWNER_FAILURE_BUDGET",
            defaults.owner_failure_budget,
            1..=100_000,
        ),
        failures_before_lockout: s.number(
            "LOGIN_FAILURES_BEFORE_LOCKOUT",
            defaults.failures_before_lockout,
            1..=1000,
        ),
        lockout_seconds: s.number(
            "LOGIN_LOCKOUT_SECONDS",
            defaults.lockout_seconds,
            1..=86_400,
        ),
    }
}

/// Production holds these settings to tighter bounds: weaker values make
/// guessing a code or flooding an inbox cheap. It also needs Turnstile
/// (`TURNSTILE_SECRET_KEY`): without a challenge to offer, a spent failure
/// budget locks the address for everyone, so any stranger can keep its
/// owner out (docs/security.md, "Rate limits"). A limit that only a test or
/// an incident needs relaxed takes `ALLOW_WEAK_SETTINGS=true`, said out loud
/// in the deployment.
pub(super) fn hold_production_to_bounds(
    s: &mut Settings,
    environment: Option<&Environment>,
    otp: &OtpPolicy,
    limits: &EmailLimits,
) {
    let allow_weak = s
        .word("ALLOW_WEAK_SETTINGS", "true or false", parse_switch)
        .unwrap_or(false);
    if matches!(environment, Some(Environment::Production { .. })) && !allow_weak {
        for problem in weak_settings(otp, limits) {
            s.problem(problem);
        }
        if s.filled("TURNSTILE_SECRET_KEY").is_none() {
            s.problem(format!(
                "TURNSTILE_SECRET_KEY must be set in production {OVERRIDE}"
            ));
        }
    }
}

/// How every production problem says it can be overridden.
const OVERRIDE: &str = "(or set ALLOW_WEAK_SETTINGS=true)";

/// Blank is unset; anything but true or false is a mistake, not a yes.
fn parse_switch(raw: &str) -> Option<bool> {
    match raw.trim() {
        "" | "false" => Some(false),
        "true" => Some(true),
        _ => None,
    }
}

/// Each entry: the setting, its value, the bound, and whether the bound is a
/// minimum (`true`) or a maximum. The per-address caps and the daily failure
/// budget are what the yearly guessing bound rests on (docs/security.md,
/// "The long-term bound"): production keeps them at most at the defaults
/// that bound was measured with, the daily cap up to 50.
fn weak_settings(otp: &OtpPolicy, limits: &EmailLimits) -> Vec<String> {
    let rules: [(&str, u32, u32, bool); 10] = [
        ("OTP_LENGTH", otp.length.into(), 6, true),
        ("OTP_MAX_ATTEMPTS", otp.max_attempts, 10, false),
        (
            "OTP_RESEND_COOLDOWN_SECONDS",
            limits.resend_cooldown_seconds,
            30,
            true,
        ),
        ("OTP_SENDS_PER_HOUR", limits.sends_per_hour, 20, false),
        (
            "OTP_ADDRESS_SENDS_PER_HOUR",
            limits.address_sends_per_hour,
            15,
            false,
        ),
        (
            "OTP_ADDRESS_SENDS_PER_DAY",
            limits.address_sends_per_day,
            50,
            false,
        ),
        (
            "LOGIN_DAILY_FAILURE_BUDGET",
            limits.daily_failure_budget,
            10,
            false,
        ),
        (
            "LOGIN_DAILY_OWNER_FAILURE_BUDGET",
            limits.owner_failure_budget,
            3,
            false,
        ),
        (
            "LOGIN_FAILURES_BEFORE_LOCKOUT",
            limits.failures_before_lockout,
            20,
            false,
        ),
        ("LOGIN_LOCKOUT_SECONDS", limits.lockout_seconds, 300, true),
    ];
    rules
        .into_iter()
        .filter(|&(_, value, bound, minimum)| {
            if minimum {
                value < bound
            } else {
                value > bound
            }
        })
        .map(|(name, _, bound, minimum)| {
            let side = if minimum { "at least" } else { "at most" };
            format!("{name} must be {side} {bound} in production {OVERRIDE}")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{base, deployed, load};

    /// Each production bound: the value at the bound passes, one step past it
    /// is refused by name, and `ALLOW_WEAK_SETTINGS=true` lets it through.
    #[test]
    fn production_refuses_weak_settings_one_by_one() {
        let cases = [
            ("OTP_LENGTH", "6", "5", "at least 6"),
            ("OTP_MAX_ATTEMPTS", "10", "11", "at most 10"),
            ("OTP_RESEND_COOLDOWN_SECONDS", "30", "29", "at least 30"),
            ("OTP_SENDS_PER_HOUR", "20", "21", "at most 20"),
            ("OTP_ADDRESS_SENDS_PER_HOUR", "15", "16", "at most 15"),
            ("OTP_ADDRESS_SENDS_PER_DAY", "50", "51", "at most 50"),
            ("LOGIN_DAILY_FAILURE_BUDGET", "10", "11", "at most 10"),
            ("LOGIN_DAILY_OWNER_FAILURE_BUDGET", "3", "4", "at most 3"),
            ("LOGIN_FAILURES_BEFORE_LOCKOUT", "20", "21", "at most 20"),
            ("LOGIN_LOCKOUT_SECONDS", "300", "299", "at least 300"),
        ];
        for (name, at_bound, past, rule) in cases {
            let mut vars = deployed("production");
            vars.insert(name, at_bound.into());
            assert!(load(&vars).is_ok(), "{name}={at_bound}");
            vars.insert(name, past.into());
            assert_eq!(
                load(&vars).err().unwrap(),
                vec![format!(
                    "{name} must be {rule} in production (or set ALLOW_WEAK_SETTINGS=true)"
                )]
            );
            vars.insert("ALLOW_WEAK_SETTINGS", "true".into());
            assert!(load(&vars).is_ok(), "{name}={past} allowed");
            // Outside production the same value needs no override.
            let mut vars = deployed("development");
            vars.insert(name, past.into());
            assert!(load(&vars).is_ok(), "{name}={past} in development");
        }
    }

    /// Without a challenge to offer, a spent budget locks the owner out:
    /// production needs Turnstile unless told otherwise out loud.
    #[test]
    fn production_needs_turnstile_unless_weak_settings_are_allowed() {
        let refused =
            "TURNSTILE_SECRET_KEY must be set in production (or set ALLOW_WEAK_SETTINGS=true)";
        for environment in ["production", "staging"] {
            let mut vars = deployed(environment);
            vars.remove("TURNSTILE_SECRET_KEY");
            assert_eq!(load(&vars).err().unwrap(), vec![refused], "{environment}");
            // Blank is unset.
            vars.insert("TURNSTILE_SECRET_KEY", " ".into());
            assert_eq!(load(&vars).err().unwrap(), vec![refused], "{environment}");
            vars.insert("ALLOW_WEAK_SETTINGS", "true".into());
            let config = load(&vars).ok().unwrap();
            assert!(config.turnstile.is_none());
        }
        // Development and local run without it.
        let mut vars = deployed("development");
        vars.remove("TURNSTILE_SECRET_KEY");
        assert!(load(&vars).is_ok());
        assert!(load(&base()).ok().unwrap().turnstile.is_none());
        // Set, it is the challenge production offers.
        assert!(load(&deployed("production"))
            .ok()
            .unwrap()
            .turnstile
            .is_some());
    }

    #[test]
    fn production_reports_every_weak_setting_and_the_override_is_strict() {
        let mut vars = deployed("production");
        vars.insert("OTP_LENGTH", "4".into());
        vars.insert("LOGIN_LOCKOUT_SECONDS", "60".into());
        vars.insert("OTP_RESEND_COOLDOWN_SECONDS", "0".into());
        assert_eq!(load(&vars).err().unwrap().len(), 3);
        vars.insert("ALLOW_WEAK_SETTINGS", "false".into());
        assert_eq!(load(&vars).err().unwrap().len(), 3);
        // Anything but true or false is a mistake, not a yes.
        for unclear in ["yes", "1", "TRUE"] {
            vars.insert("ALLOW_WEAK_SETTINGS", unclear.into());
            let problems = load(&vars).err().unwrap();
            assert!(
                problems.contains(&"ALLOW_WEAK_SETTINGS must be true or false".to_string()),
                "{unclear}: {problems:?}"
            );
            assert_eq!(problems.len(), 4, "{problems:?}");
        }
    }
}
