//! Configuration: vars from `wrangler.toml` and secrets from `wrangler secret` /
//! `.dev.vars`, parsed once per isolate into typed values. Pure: the edge passes
//! a lookup function, tests pass a map.

use crate::domain::cors::CorsPolicy;
use crate::domain::events::WebhookSecret;
use crate::domain::keys::PurposeKeys;
use crate::domain::limits::BudgetPolicy;
use crate::domain::limits::EmailLimits;
use crate::domain::otp::{self, OtpPolicy};
use crate::domain::refresh;
use crate::domain::token::{Issuance, KeyMaterial, TokenKeys};

pub const RESEND_API_URL: &str = "https://api.resend.com";
pub const TURNSTILE_VERIFY_URL: &str = "https://challenges.cloudflare.com/turnstile/v0/siteverify";
const MIN_HASH_KEY_LEN: usize = 32;
pub const DEFAULT_DELETION_GRACE_DAYS: u32 = 30;
pub const DEFAULT_AUDIT_RETENTION_DAYS: u32 = 90;

/// Where the worker runs. Read from `ENVIRONMENT`, which has no default: a
/// deployment that forgot it must not fall back to the laxest setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Local,
    Development,
    Production,
}

impl Environment {
    fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "local" => Some(Self::Local),
            "development" => Some(Self::Development),
            "production" => Some(Self::Production),
            _ => None,
        }
    }
}

/// Which requests get the service's own log line (`REQUEST_LOG`). Workers
/// Logs already records every invocation (method, URL, status, timing), so a
/// deployment may keep its own line for what went wrong only; each line costs
/// CPU in the isolate, and under `wrangler dev` far more (the console message
/// travels through its inspector), about 1.3 ms of workerd CPU per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RequestLog {
    /// A line for every request. Unset means this: a deployment that forgot
    /// the setting loses no lines.
    #[default]
    All,
    /// A line for every response with status 400 or more (refusals, failures).
    Failures,
}

impl RequestLog {
    fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "all" => Some(Self::All),
            "failures" => Some(Self::Failures),
            _ => None,
        }
    }

    /// Whether a response with this status gets a line.
    pub fn logs(self, status: u16) -> bool {
        self == Self::All || status >= 400
    }
}

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

/// Cloudflare Turnstile, when configured: the challenge a sender must solve
/// once an address's daily failure budget is spent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turnstile {
    pub secret: String,
    pub verify_url: String,
}

pub struct Config {
    pub environment: Environment,
    pub otp: OtpPolicy,
    /// Keys per purpose, derived from `OTP_HASH_KEY` (and earlier ones).
    pub keys: PurposeKeys,
    pub tokens: TokenKeys,
    pub mail: MailConfig,
    /// Days between a deletion request and its finalisation.
    pub deletion_grace_days: u32,
    /// How long after a rotation the retired refresh token still gets the
    /// session's current one (`domain::refresh`); 0 turns it off.
    pub refresh_grace_seconds: u32,
    pub limits: EmailLimits,
    /// Browser origins that may call the API.
    pub cors: CorsPolicy,
    pub turnstile: Option<Turnstile>,
    /// Days an audit event is kept before the Cron Trigger purges it.
    pub audit_retention_days: u32,
    pub request_log: RequestLog,
}

impl Config {
    /// What a spent daily failure budget does: ask for a challenge when there
    /// is one to offer, lock the address otherwise.
    pub fn budget_policy(&self) -> BudgetPolicy {
        match self.turnstile {
            Some(_) => BudgetPolicy::Challenge,
            None => BudgetPolicy::Lock,
        }
    }
}

impl Config {
    /// Reads every setting, reporting all problems at once (names only, never values).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        let environment = match get("ENVIRONMENT") {
            None => {
                problems.push("ENVIRONMENT is not set".into());
                None
            }
            Some(raw) => Environment::parse(&raw).or_else(|| {
                problems.push("ENVIRONMENT must be local, development or production".into());
                None
            }),
        };

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
            address_sends_per_hour: number(
                &get,
                "OTP_ADDRESS_SENDS_PER_HOUR",
                limit_defaults.address_sends_per_hour,
                1..=100_000,
                &mut problems,
            ),
            daily_failure_budget: number(
                &get,
                "LOGIN_DAILY_FAILURE_BUDGET",
                limit_defaults.daily_failure_budget,
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
        let refresh_grace_seconds = number(
            &get,
            "REFRESH_REUSE_GRACE_SECONDS",
            refresh::DEFAULT_GRACE_SECONDS,
            0..=refresh::MAX_GRACE_SECONDS,
            &mut problems,
        );

        let audit_retention_days = number(
            &get,
            "AUDIT_RETENTION_DAYS",
            DEFAULT_AUDIT_RETENTION_DAYS,
            1..=3650,
            &mut problems,
        );

        let request_log = match get("REQUEST_LOG") {
            None => RequestLog::default(),
            Some(raw) => RequestLog::parse(&raw).unwrap_or_else(|| {
                problems.push("REQUEST_LOG must be all or failures".into());
                RequestLog::default()
            }),
        };

        let allow_weak = match get("ALLOW_WEAK_SETTINGS").as_deref().map(str::trim) {
            None | Some("" | "false") => false,
            Some("true") => true,
            Some(_) => {
                problems.push("ALLOW_WEAK_SETTINGS must be true or false".into());
                false
            }
        };
        if environment == Some(Environment::Production) && !allow_weak {
            problems.extend(weak_settings(&otp, &limits));
        }

        let hash_key = require(&get, "OTP_HASH_KEY", &mut problems).unwrap_or_default();
        if !hash_key.is_empty() && hash_key.len() < MIN_HASH_KEY_LEN {
            problems.push(format!(
                "OTP_HASH_KEY must be at least {MIN_HASH_KEY_LEN} characters"
            ));
        }

        let issuance = Issuance {
            issuer: get("JWT_ISSUER").unwrap_or_else(|| "allmine-auth".into()),
            audience: get("JWT_AUDIENCE").unwrap_or_else(|| "allmine".into()),
            client_id: get("TOKEN_CLIENT_ID").unwrap_or_else(|| "allmine-app".into()),
        };
        // Verifiers find the keys at the issuer's URL (the discovery document
        // and the JWK Set); a deployed one fetched over plain HTTP could be fed
        // keys by anyone on the path.
        let deployed = matches!(
            environment,
            Some(Environment::Development | Environment::Production)
        );
        if deployed && !is_https_url(&issuance.issuer) {
            problems.push("JWT_ISSUER must be an https URL when deployed".into());
        }
        let next = get("JWT_NEXT_PUBLIC_KEY").filter(|k| !k.trim().is_empty());
        let previous = get("JWT_PREVIOUS_PUBLIC_KEYS").unwrap_or_default();
        let previous: Vec<&str> = previous
            .split(',')
            .filter(|k| !k.trim().is_empty())
            .collect();
        let tokens = require(&get, "JWT_PRIVATE_KEY", &mut problems).and_then(|seed| {
            let keys = KeyMaterial {
                signing_seed: &seed,
                next_public: next.as_deref(),
                previous_public: &previous,
            };
            TokenKeys::new(keys, issuance)
                .map_err(|e| problems.push(e.0))
                .ok()
        });

        let previous_hash_keys = get("OTP_HASH_KEY_PREVIOUS").unwrap_or_default();
        let previous_hash_keys: Vec<&[u8]> = previous_hash_keys
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::as_bytes)
            .collect();
        let keys = PurposeKeys::derive(hash_key.as_bytes(), &previous_hash_keys);

        let mail = mail_config(&get, environment, &mut problems);
        let turnstile = get("TURNSTILE_SECRET_KEY")
            .filter(|v| !v.trim().is_empty())
            .map(|secret| Turnstile {
                secret,
                verify_url: get("TURNSTILE_VERIFY_URL")
                    .filter(|v| !v.trim().is_empty())
                    .unwrap_or_else(|| TURNSTILE_VERIFY_URL.into()),
            });

        let cors = CorsPolicy::parse(&get("CORS_ALLOWED_ORIGINS").unwrap_or_default())
            .unwrap_or_else(|problem| {
                problems.push(problem);
                CorsPolicy::Closed
            });

        match (environment, tokens, mail) {
            (Some(environment), Some(tokens), Some(mail)) if problems.is_empty() => Ok(Self {
                environment,
                otp,
                keys,
                tokens,
                mail,
                deletion_grace_days,
                refresh_grace_seconds,
                limits,
                cors,
                turnstile,
                audit_retention_days,
                request_log,
            }),
            _ => Err(problems),
        }
    }
}

/// The bounds production holds its settings to: weaker values make guessing a
/// code or flooding an inbox cheap. A limit that only a test or an incident
/// needs relaxed takes `ALLOW_WEAK_SETTINGS=true`, said out loud in the deployment.
/// Each entry: the setting, its value, the bound, and whether the bound is a
/// minimum (`true`) or a maximum.
fn weak_settings(otp: &OtpPolicy, limits: &EmailLimits) -> Vec<String> {
    let rules: [(&str, u32, u32, bool); 6] = [
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
            format!("{name} must be {side} {bound} in production (or set ALLOW_WEAK_SETTINGS=true)")
        })
        .collect()
}

fn mail_config(
    get: &impl Fn(&str) -> Option<String>,
    environment: Option<Environment>,
    problems: &mut Vec<String>,
) -> Option<MailConfig> {
    match get("EMAIL_PROVIDER").as_deref().unwrap_or("log") {
        // Logging codes is a laptop convenience; anywhere deployed it would leak
        // them. An unknown environment (already reported) is not local either.
        "log" => match environment {
            Some(Environment::Local) => Some(MailConfig::Log),
            None => None,
            Some(_) => {
                problems.push("EMAIL_PROVIDER=log is allowed only when ENVIRONMENT=local".into());
                None
            }
        },
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

/// Where events for downstream services are delivered, and the secret that
/// signs them. Read apart from [`Config`]: only the event publisher and the
/// queue consumer need it, and a mistake in it must not stop sign-ins (events
/// wait in the outbox or the queue until it is fixed).
#[derive(Debug)]
pub struct Webhooks {
    /// `WEBHOOK_ENDPOINTS`; empty: events are delivered to no one.
    pub endpoints: Vec<String>,
    /// `WEBHOOK_SECRET`, required when there are endpoints.
    pub secret: Option<WebhookSecret>,
}

impl Webhooks {
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        // Anything but an explicit `local` is held to the deployed rule.
        let deployed =
            get("ENVIRONMENT").and_then(|e| Environment::parse(&e)) != Some(Environment::Local);
        let endpoints: Vec<String> = get("WEBHOOK_ENDPOINTS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .map(str::to_owned)
            .collect();
        for url in &endpoints {
            // Deployed, the events (one carries an address) travel encrypted only.
            let scheme_ok =
                url.starts_with("https://") || (!deployed && url.starts_with("http://"));
            let host = url.split_once("://").map_or("", |(_, rest)| rest);
            if !scheme_ok || host.is_empty() || url.contains(char::is_whitespace) {
                problems.push(format!(
                    "WEBHOOK_ENDPOINTS must list {} URLs, not {url:?}",
                    if deployed { "https" } else { "http(s)" }
                ));
            }
        }
        let secret = match get("WEBHOOK_SECRET").filter(|v| !v.trim().is_empty()) {
            Some(raw) => WebhookSecret::parse(&raw)
                .map_err(|problem| problems.push(problem))
                .ok(),
            None if !endpoints.is_empty() => {
                problems.push("WEBHOOK_SECRET is not set".into());
                None
            }
            None => None,
        };
        if problems.is_empty() {
            Ok(Self { endpoints, secret })
        } else {
            Err(problems)
        }
    }
}

/// An absolute https URL with a host and no query or fragment (OpenID
/// Discovery's rule for an issuer).
fn is_https_url(value: &str) -> bool {
    let Some(rest) = value.strip_prefix("https://") else {
        return false;
    };
    let host = rest.split('/').next().unwrap_or_default();
    !host.is_empty()
        && !host.contains('@')
        && !rest.contains(['?', '#'])
        && !rest.contains(char::is_whitespace)
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
    use std::borrow::Borrow;
    use std::collections::HashMap;
    use std::hash::Hash;

    fn base() -> HashMap<&'static str, String> {
        HashMap::from([
            ("ENVIRONMENT", "local".to_string()),
            (
                "JWT_PRIVATE_KEY",
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8".to_string(),
            ),
            ("OTP_HASH_KEY", "k".repeat(32)),
            // Valid in every environment (deployed ones need https).
            ("JWT_ISSUER", "https://auth.test".to_string()),
        ])
    }

    fn load<K: Borrow<str> + Eq + Hash>(vars: &HashMap<K, String>) -> Result<Config, Vec<String>> {
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    /// `base()` made a deployed environment: resend instead of the log.
    fn deployed(environment: &str) -> HashMap<&'static str, String> {
        let mut vars = base();
        vars.insert("ENVIRONMENT", environment.into());
        vars.insert("EMAIL_PROVIDER", "resend".into());
        vars.insert("EMAIL_API_KEY", "re_123".into());
        vars.insert("EMAIL_FROM", "Allmine <login@allmine.app>".into());
        vars
    }

    /// The vars one `[vars]` table of `wrangler.toml` sets (`name = "value"` lines).
    fn wrangler_vars(table: &str) -> HashMap<String, String> {
        let toml = include_str!("../wrangler.toml");
        let header = format!("[{table}]");
        toml.lines()
            .skip_while(|l| *l != header)
            .skip(1)
            .take_while(|l| !l.starts_with('['))
            .filter_map(|l| l.split_once(" = "))
            .map(|(name, value)| (name.trim().into(), value.trim().trim_matches('"').into()))
            .collect()
    }

    #[test]
    fn defaults_apply_when_only_the_environment_and_secrets_are_set() {
        let config = load(&base()).unwrap();
        assert_eq!(config.environment, Environment::Local);
        assert_eq!(config.audit_retention_days, DEFAULT_AUDIT_RETENTION_DAYS);
        assert_eq!(config.otp, OtpPolicy::default());
        assert_eq!(config.limits, EmailLimits::default());
        assert_eq!(config.deletion_grace_days, DEFAULT_DELETION_GRACE_DAYS);
        assert_eq!(config.refresh_grace_seconds, refresh::DEFAULT_GRACE_SECONDS);
        assert_eq!(config.mail, MailConfig::Log);
        assert_eq!(config.tokens.issuance.audience, "allmine");
        assert_eq!(config.tokens.issuance.client_id, "allmine-app");
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
                "OTP_ADDRESS_SENDS_PER_HOUR",
                limits.address_sends_per_hour.to_string(),
            ),
            (
                "LOGIN_DAILY_FAILURE_BUDGET",
                limits.daily_failure_budget.to_string(),
            ),
            (
                "LOGIN_FAILURES_BEFORE_LOCKOUT",
                limits.failures_before_lockout.to_string(),
            ),
            ("LOGIN_LOCKOUT_SECONDS", limits.lockout_seconds.to_string()),
            (
                "ACCOUNT_DELETION_GRACE_DAYS",
                DEFAULT_DELETION_GRACE_DAYS.to_string(),
            ),
            (
                "REFRESH_REUSE_GRACE_SECONDS",
                refresh::DEFAULT_GRACE_SECONDS.to_string(),
            ),
            (
                "AUDIT_RETENTION_DAYS",
                DEFAULT_AUDIT_RETENTION_DAYS.to_string(),
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
    fn request_log_is_all_unless_set_to_failures() {
        let mut vars = base();
        assert_eq!(load(&vars).ok().unwrap().request_log, RequestLog::All);
        vars.insert("REQUEST_LOG", "failures".into());
        let quiet = load(&vars).ok().unwrap().request_log;
        assert!(!quiet.logs(200) && !quiet.logs(399));
        assert!(quiet.logs(400) && quiet.logs(503));
        assert!(RequestLog::All.logs(200));
        vars.insert("REQUEST_LOG", "none".into());
        assert!(load(&vars)
            .err()
            .unwrap()
            .contains(&"REQUEST_LOG must be all or failures".to_string()));
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
    fn a_deployed_issuer_must_be_an_https_url() {
        let mut vars = base();
        vars.insert("JWT_ISSUER", "http://127.0.0.1:8787".into());
        assert!(load(&vars).is_ok(), "plain http is fine locally");
        let mut vars = deployed("development");
        for issuer in [
            "http://auth-dev.allmine.app",
            "auth-dev.allmine.app",
            "allmine-auth",
            "https://",
            "https://auth.allmine.app?x=1",
            "https://user@auth.allmine.app",
        ] {
            vars.insert("JWT_ISSUER", issuer.into());
            assert_eq!(
                load(&vars).err(),
                Some(vec![
                    "JWT_ISSUER must be an https URL when deployed".to_string()
                ]),
                "{issuer}"
            );
        }
        vars.insert("JWT_ISSUER", "https://auth-dev.allmine.app".into());
        assert!(load(&vars).is_ok());
    }

    #[test]
    fn the_next_key_and_the_client_id_are_read() {
        let mut vars = base();
        vars.insert("TOKEN_CLIENT_ID", "allmine-web".into());
        // RFC 8037's example public key (not the signing key's).
        vars.insert(
            "JWT_NEXT_PUBLIC_KEY",
            "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo".into(),
        );
        let config = load(&vars).ok().unwrap();
        assert_eq!(config.tokens.issuance.client_id, "allmine-web");
        assert_eq!(config.tokens.jwk_set().keys.len(), 2);
        vars.insert("JWT_NEXT_PUBLIC_KEY", "not a key".into());
        let problems = load(&vars).err().unwrap();
        assert!(
            problems[0].starts_with("JWT_NEXT_PUBLIC_KEY"),
            "{problems:?}"
        );
    }

    #[test]
    fn the_refresh_grace_window_is_bounded() {
        let mut vars = base();
        vars.insert("REFRESH_REUSE_GRACE_SECONDS", "0".into());
        assert_eq!(load(&vars).ok().unwrap().refresh_grace_seconds, 0);
        vars.insert("REFRESH_REUSE_GRACE_SECONDS", "61".into());
        let problems = load(&vars).err().unwrap();
        assert!(
            problems[0].starts_with("REFRESH_REUSE_GRACE_SECONDS"),
            "{problems:?}"
        );
    }

    #[test]
    fn webhooks_need_a_secret_and_https_when_deployed() {
        // Local unless the case names another environment.
        let read = |vars: &[(&str, &str)]| {
            let vars: HashMap<String, String> = [("ENVIRONMENT", "local")]
                .iter()
                .chain(vars)
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Webhooks::from_lookup(|name| vars.get(name).cloned())
        };
        let none = read(&[]).unwrap();
        assert!(none.endpoints.is_empty() && none.secret.is_none());
        assert_eq!(
            read(&[("WEBHOOK_ENDPOINTS", "http://127.0.0.1:9/hook")]).unwrap_err(),
            vec!["WEBHOOK_SECRET is not set"]
        );
        let secret = ("WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let two = read(&[
            (
                "WEBHOOK_ENDPOINTS",
                " http://127.0.0.1:9/hook , https://crm.example/in?k=1,",
            ),
            secret,
        ])
        .unwrap();
        assert_eq!(
            two.endpoints,
            vec!["http://127.0.0.1:9/hook", "https://crm.example/in?k=1"]
        );
        let deployed = read(&[
            ("ENVIRONMENT", "production"),
            ("WEBHOOK_ENDPOINTS", "http://crm.example/in,ftp://x"),
            secret,
        ])
        .unwrap_err();
        assert_eq!(deployed.len(), 2, "{deployed:?}");
        // No ENVIRONMENT at all is held to the deployed rule.
        let unset = Webhooks::from_lookup(|name| {
            (name == "WEBHOOK_ENDPOINTS").then(|| "http://crm.example/in".to_string())
        });
        assert!(unset.unwrap_err()[0].starts_with("WEBHOOK_ENDPOINTS must list https"));
        assert!(read(&[("WEBHOOK_SECRET", "plain")]).is_err());
    }

    #[test]
    fn the_environment_must_be_set_and_known() {
        let mut vars = base();
        vars.remove("ENVIRONMENT");
        assert_eq!(load(&vars).err().unwrap(), vec!["ENVIRONMENT is not set"]);
        for wrong in ["", "staging", "Production", "prod"] {
            vars.insert("ENVIRONMENT", wrong.into());
            assert_eq!(
                load(&vars).err().unwrap(),
                vec!["ENVIRONMENT must be local, development or production"],
                "{wrong:?}"
            );
        }
        for (raw, environment) in [
            ("local", Environment::Local),
            ("development", Environment::Development),
            ("production", Environment::Production),
        ] {
            let vars = if raw == "local" {
                base()
            } else {
                deployed(raw)
            };
            assert_eq!(load(&vars).ok().unwrap().environment, environment);
        }
    }

    #[test]
    fn the_log_provider_is_allowed_only_locally() {
        for environment in ["development", "production"] {
            let mut vars = base();
            vars.insert("ENVIRONMENT", environment.into());
            assert_eq!(
                load(&vars).err().unwrap(),
                vec!["EMAIL_PROVIDER=log is allowed only when ENVIRONMENT=local"]
            );
            vars.insert("EMAIL_PROVIDER", "log".into());
            assert!(load(&vars).is_err(), "{environment}");
        }
        assert_eq!(load(&base()).ok().unwrap().mail, MailConfig::Log);
    }

    /// Each production bound: the value at the bound passes, one step past it
    /// is refused by name, and `ALLOW_WEAK_SETTINGS=true` lets it through.
    #[test]
    fn production_refuses_weak_settings_one_by_one() {
        let cases = [
            ("OTP_LENGTH", "6", "5", "at least 6"),
            ("OTP_MAX_ATTEMPTS", "10", "11", "at most 10"),
            ("OTP_RESEND_COOLDOWN_SECONDS", "30", "29", "at least 30"),
            ("OTP_SENDS_PER_HOUR", "20", "21", "at most 20"),
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

    #[test]
    fn audit_retention_is_read_and_bounded() {
        let mut vars = base();
        vars.insert("AUDIT_RETENTION_DAYS", "3650".into());
        assert_eq!(load(&vars).ok().unwrap().audit_retention_days, 3650);
        for wrong in ["0", "3651", "-1", "ninety"] {
            vars.insert("AUDIT_RETENTION_DAYS", wrong.into());
            assert_eq!(
                load(&vars).err().unwrap(),
                vec!["AUDIT_RETENTION_DAYS must be a whole number from 1 to 3650"]
            );
        }
    }

    /// The problems are shown by `/health`: they name settings, never the
    /// secrets' values.
    #[test]
    fn problems_never_repeat_a_secret() {
        let mut vars = deployed("production");
        let secrets = [
            "not-a-valid-ed25519-seed",
            "too-short-hash-key",
            "re_secret",
        ];
        vars.insert("JWT_PRIVATE_KEY", secrets[0].into());
        vars.insert("OTP_HASH_KEY", secrets[1].into());
        vars.insert("EMAIL_API_KEY", secrets[2].into());
        vars.insert("OTP_LENGTH", "4".into());
        let problems = load(&vars).err().unwrap();
        assert_eq!(problems.len(), 3, "{problems:?}");
        for problem in &problems {
            for secret in secrets {
                assert!(!problem.contains(secret), "{problem}");
            }
        }
    }

    /// A bare `wrangler deploy` uses the top-level settings: they must be the
    /// local worker, under a name of its own, not production's.
    #[test]
    fn wrangler_toml_sets_every_environment_and_a_bare_deploy_is_local() {
        let toml = include_str!("../wrangler.toml");
        let names: Vec<&str> = toml
            .lines()
            .filter(|l| l.starts_with(r#"name = "allmine"#))
            .collect();
        assert_eq!(
            names,
            [
                r#"name = "allmine-auth-local""#,
                r#"name = "allmine-auth-development""#,
                r#"name = "allmine-auth""#,
            ]
        );
        for (table, environment) in [
            ("vars", "local"),
            ("env.development.vars", "development"),
            ("env.production.vars", "production"),
        ] {
            let vars = wrangler_vars(table);
            assert_eq!(
                vars.get("ENVIRONMENT").map(String::as_str),
                Some(environment)
            );
            assert!(vars.contains_key("AUDIT_RETENTION_DAYS"), "{table}");
        }
        // Production's own values pass its bounds without the override.
        let mut vars = wrangler_vars("env.production.vars");
        assert!(!vars.contains_key("ALLOW_WEAK_SETTINGS"));
        for (name, value) in base() {
            vars.entry(name.into()).or_insert(value);
        }
        vars.insert("EMAIL_API_KEY".into(), "re_123".into());
        let config = load(&vars).ok().unwrap();
        assert_eq!(config.environment, Environment::Production);
    }
}
