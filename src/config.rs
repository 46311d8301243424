//! Configuration: vars from `wrangler.toml` and secrets from `wrangler secret` /
//! `.dev.vars`, parsed once per isolate into typed values. Pure: the edge passes
//! a lookup function, tests pass a map.

use crate::domain::cors::CorsPolicy;
use crate::domain::limits::EmailLimits;
use crate::domain::otp::{self, CodeHasher, OtpPolicy};
use crate::domain::token::TokenKeys;

pub const RESEND_API_URL: &str = "https://api.resend.com";
const MIN_HASH_KEY_LEN: usize = 32;
pub const DEFAULT_DELETION_GRACE_DAYS: u32 = 30;

/// How code emails leave the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailConfig {
    /// Writes the code to the worker's log. Local development only.
    Log,
    /// Resend's HTTP API (or anything that speaks it, such as the test stand-in).
    Resend {
        api_url: String,
        api_key: String,
        from: String,
        timeout_ms: u32,
    },
}

pub struct Config {
    pub otp: OtpPolicy,
    pub code_hasher: CodeHasher,
    pub tokens: TokenKeys,
    pub mail: MailConfig,
    /// Days between a deletion request and its finalisation.
    pub deletion_grace_days: u32,
    pub limits: EmailLimits,
    /// Browser origins that may call the API.
    pub cors: CorsPolicy,
}

impl Config {
    /// Reads every setting, reporting all problems at once (names only, never values).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        let environment = get("ENVIRONMENT").unwrap_or_else(|| "local".into());

        // Defaults come from the domain types, so they are written once.
        let (otp_defaults, limit_defaults) = (OtpPolicy::default(), EmailLimits::default());
        let otp = OtpPolicy {
            length: number(
                &get,
                "OTP_LENGTH",
                otp_defaults.length,
                otp::MIN_LENGTH..=otp::MAX_LENGTH,
                &mut problems,
            ),
            ttl_seconds: number(
                &get,
                "OTP_TTL_SECONDS",
                otp_defaults.ttl_seconds,
                otp::MIN_TTL_SECONDS..=otp::MAX_TTL_SECONDS,
                &mut problems,
            ),
            max_attempts: number(
                &get,
                "OTP_MAX_ATTEMPTS",
                otp_defaults.max_attempts,
                1..=20,
                &mut problems,
            ),
        };

        let limits = EmailLimits {
            resend_cooldown_seconds: number(
                &get,
                "OTP_RESEND_COOLDOWN_SECONDS",
                limit_defaults.resend_cooldown_seconds,
                0..=3600,
                &mut problems,
            ),
            sends_per_hour: number(
                &get,
                "OTP_SENDS_PER_HOUR",
                limit_defaults.sends_per_hour,
                1..=100_000,
                &mut problems,
            ),
            failures_before_lockout: number(
                &get,
                "LOGIN_FAILURES_BEFORE_LOCKOUT",
                limit_defaults.failures_before_lockout,
                1..=1000,
                &mut problems,
            ),
            lockout_seconds: number(
                &get,
                "LOGIN_LOCKOUT_SECONDS",
                limit_defaults.lockout_seconds,
                1..=86_400,
                &mut problems,
            ),
        };
        let deletion_grace_days = number(
            &get,
            "ACCOUNT_DELETION_GRACE_DAYS",
            DEFAULT_DELETION_GRACE_DAYS,
            1..=365,
            &mut problems,
        );

        let hash_key = require(&get, "OTP_HASH_KEY", &mut problems).unwrap_or_default();
        if !hash_key.is_empty() && hash_key.len() < MIN_HASH_KEY_LEN {
            problems.push(format!(
                "OTP_HASH_KEY must be at least {MIN_HASH_KEY_LEN} characters"
            ));
        }

        let issuer = get("JWT_ISSUER").unwrap_or_else(|| "allmine-auth".into());
        let audience = get("JWT_AUDIENCE").unwrap_or_else(|| "allmine".into());
        let previous = get("JWT_PREVIOUS_PUBLIC_KEYS").unwrap_or_default();
        let previous: Vec<&str> = previous
            .split(',')
            .filter(|k| !k.trim().is_empty())
            .collect();
        let tokens = require(&get, "JWT_PRIVATE_KEY", &mut problems).and_then(|seed| {
            TokenKeys::new(&seed, &previous, issuer, audience)
                .map_err(|e| problems.push(e.0))
                .ok()
        });

        let mail = mail_config(&get, &environment, &mut problems);

        let cors = CorsPolicy::parse(&get("CORS_ALLOWED_ORIGINS").unwrap_or_default())
            .unwrap_or_else(|problem| {
                problems.push(problem);
                CorsPolicy::Closed
            });

        match (tokens, mail) {
            (Some(tokens), Some(mail)) if problems.is_empty() => Ok(Self {
                otp,
                code_hasher: CodeHasher::new(hash_key.into_bytes()),
                tokens,
                mail,
                deletion_grace_days,
                limits,
                cors,
            }),
            _ => Err(problems),
        }
    }
}

fn mail_config(
    get: &impl Fn(&str) -> Option<String>,
    environment: &str,
    problems: &mut Vec<String>,
) -> Option<MailConfig> {
    match get("EMAIL_PROVIDER").as_deref().unwrap_or("log") {
        // Logging codes is a development convenience; in production it would leak them.
        "log" if environment == "production" => {
            problems.push("EMAIL_PROVIDER=log is not allowed in production".into());
            None
        }
        "log" => Some(MailConfig::Log),
        "resend" => {
            let api_key = require(get, "EMAIL_API_KEY", problems);
            let from = require(get, "EMAIL_FROM", problems);
            let api_url = get("EMAIL_API_URL").unwrap_or_else(|| RESEND_API_URL.into());
            let timeout_ms = number(get, "EMAIL_TIMEOUT_MS", 10_000, 100..=30_000, problems);
            Some(MailConfig::Resend {
                api_url: api_url.trim_end_matches('/').to_string(),
                api_key: api_key?,
                from: from?,
                timeout_ms,
            })
        }
        other => {
            problems.push(format!(
                "EMAIL_PROVIDER must be log or resend, not {other:?}"
            ));
            None
        }
    }
}

fn require(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    problems: &mut Vec<String>,
) -> Option<String> {
    let value = get(name).filter(|v| !v.trim().is_empty());
    if value.is_none() {
        problems.push(format!("{name} is not set"));
    }
    value
}

fn number<T>(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: T,
    range: std::ops::RangeInclusive<T>,
    problems: &mut Vec<String>,
) -> T
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let Some(raw) = get(name) else {
        return default;
    };
    match raw.trim().parse::<T>() {
        Ok(value) if range.contains(&value) => value,
        _ => {
            problems.push(format!(
                "{name} must be a whole number from {} to {}",
                range.start(),
                range.end()
            ));
            default
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn base() -> HashMap<&'static str, String> {
        HashMap::from([
            (
                "JWT_PRIVATE_KEY",
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8".to_string(),
            ),
            ("OTP_HASH_KEY", "k".repeat(32)),
        ])
    }

    fn load(vars: &HashMap<&'static str, String>) -> Result<Config, Vec<String>> {
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_apply_when_only_secrets_are_set() {
        let config = load(&base()).unwrap();
        assert_eq!(config.otp, OtpPolicy::default());
        assert_eq!(config.limits, EmailLimits::default());
        assert_eq!(config.deletion_grace_days, DEFAULT_DELETION_GRACE_DAYS);
        assert_eq!(config.mail, MailConfig::Log);
        assert_eq!(config.tokens.audience, "allmine");
    }

    /// The defaults in code, the values `wrangler.toml` sets for every
    /// environment and the table in the README all say the same thing.
    #[test]
    fn wrangler_toml_sets_the_defaults_in_code() {
        let toml = include_str!("../wrangler.toml");
        let otp = OtpPolicy::default();
        let limits = EmailLimits::default();
        let expected = [
            ("OTP_LENGTH", otp.length.to_string()),
            ("OTP_TTL_SECONDS", otp.ttl_seconds.to_string()),
            ("OTP_MAX_ATTEMPTS", otp.max_attempts.to_string()),
            (
                "OTP_RESEND_COOLDOWN_SECONDS",
                limits.resend_cooldown_seconds.to_string(),
            ),
            ("OTP_SENDS_PER_HOUR", limits.sends_per_hour.to_string()),
            (
                "LOGIN_FAILURES_BEFORE_LOCKOUT",
                limits.failures_before_lockout.to_string(),
            ),
            ("LOGIN_LOCKOUT_SECONDS", limits.lockout_seconds.to_string()),
            (
                "ACCOUNT_DELETION_GRACE_DAYS",
                DEFAULT_DELETION_GRACE_DAYS.to_string(),
            ),
        ];
        for (name, value) in expected {
            let lines: Vec<&str> = toml
                .lines()
                .filter(|l| l.starts_with(&format!("{name} =")))
                .collect();
            assert!(!lines.is_empty(), "{name} is not in wrangler.toml");
            for line in lines {
                assert_eq!(line, format!("{name} = \"{value}\""));
            }
        }
    }

    #[test]
    fn every_problem_is_reported_by_name() {
        let mut vars = base();
        vars.remove("JWT_PRIVATE_KEY");
        vars.insert("OTP_LENGTH", "3".into());
        vars.insert("OTP_TTL_SECONDS", "30".into());
        vars.insert("OTP_HASH_KEY", "short".into());
        let problems = load(&vars).err().unwrap();
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems.iter().any(|p| p.starts_with("OTP_LENGTH")));
        assert!(problems.iter().any(|p| p.starts_with("OTP_TTL_SECONDS")));
        assert!(problems.iter().any(|p| p.starts_with("JWT_PRIVATE_KEY")));
        assert!(problems.iter().any(|p| p.starts_with("OTP_HASH_KEY")));
    }

    #[test]
    fn resend_needs_a_key_and_a_sender() {
        let mut vars = base();
        vars.insert("EMAIL_PROVIDER", "resend".into());
        let problems = load(&vars).err().unwrap();
        assert_eq!(
            problems,
            vec!["EMAIL_API_KEY is not set", "EMAIL_FROM is not set"]
        );
        vars.insert("EMAIL_API_KEY", "re_123".into());
        vars.insert("EMAIL_FROM", "Allmine <login@allmine.app>".into());
        vars.insert("EMAIL_API_URL", "http://127.0.0.1:9999/".into());
        match load(&vars).ok().unwrap().mail {
            MailConfig::Resend { api_url, .. } => assert_eq!(api_url, "http://127.0.0.1:9999"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cors_origins_are_read_and_checked() {
        assert_eq!(load(&base()).ok().unwrap().cors, CorsPolicy::Closed);
        let mut vars = base();
        vars.insert("CORS_ALLOWED_ORIGINS", "https://app.allmine.app".into());
        assert_eq!(
            load(&vars).ok().unwrap().cors,
            CorsPolicy::Origins(vec!["https://app.allmine.app".into()])
        );
        vars.insert("CORS_ALLOWED_ORIGINS", "app.allmine.app".into());
        let problems = load(&vars).err().unwrap();
        assert!(
            problems[0].starts_with("CORS_ALLOWED_ORIGINS"),
            "{problems:?}"
        );
    }

    #[test]
    fn log_provider_is_refused_in_production() {
        let mut vars = base();
        vars.insert("ENVIRONMENT", "production".into());
        assert!(load(&vars).is_err());
    }
}
