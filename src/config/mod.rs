//! Configuration: vars from `wrangler.toml` and secrets from `wrangler secret` /
//! `.dev.vars`, parsed once per isolate into typed values. Pure: the edge passes
//! a lookup function, tests pass a map.

mod bounds;
mod mail;
mod review;
mod settings;
mod tokens;
mod webhooks;

#[cfg(test)]
mod tests;

use crate::domain::cors::CorsPolicy;
use crate::domain::keys::PurposeKeys;
use crate::domain::limits::{BudgetPolicy, EmailLimits};
use crate::domain::otp::OtpPolicy;
use crate::domain::refresh;
use crate::domain::review::ReviewLogins;
use crate::domain::token::TokenKeys;
use settings::Settings;

pub use mail::{
    MailConfig, Turnstile, DEFAULT_PRODUCT_NAME, RESEND_API_URL, SEND_EMAIL_BINDING,
    TURNSTILE_VERIFY_URL,
};
pub use webhooks::Webhooks;

pub const DEFAULT_DELETION_GRACE_DAYS: u32 = 30;
pub const DEFAULT_AUDIT_RETENTION_DAYS: u32 = 90;

/// Where the worker runs. Read from `ENVIRONMENT`, which has no default: a
/// deployment that forgot it must not fall back to the laxest setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Environment {
    Local,
    Development,
    /// `production`, or any other environment defined in wrangler.toml
    /// (`staging`, say): a name nobody wrote rules for gets the strictest
    /// ones, so adding an environment never loosens anything.
    Production {
        name: String,
    },
}

/// The longest `ENVIRONMENT` accepted: wrangler's environment names become
/// part of the Worker's name, which is short anyway.
const MAX_ENVIRONMENT_NAME: usize = 63;

impl Environment {
    /// `local`, `development`, or a name of lowercase letters, digits, `-` and
    /// `_` starting with a letter. Anything else (blank, `Production`, a
    /// space) is a mistake to report, not a new environment.
    fn parse(raw: &str) -> Option<Self> {
        let name = raw.trim();
        let well_formed = name.len() <= MAX_ENVIRONMENT_NAME
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        match name {
            "local" => Some(Self::Local),
            "development" => Some(Self::Development),
            _ if well_formed => Some(Self::Production { name: name.into() }),
            _ => None,
        }
    }

    /// Deployed: anything but `local` (https issuer, no log provider, ...).
    pub fn is_deployed(&self) -> bool {
        *self != Self::Local
    }

    /// The name as set in `ENVIRONMENT`.
    pub fn name(&self) -> &str {
        match self {
            Self::Local => "local",
            Self::Development => "development",
            Self::Production { name } => name,
        }
    }
}

/// Why this build must not run with this `ENVIRONMENT`, if it must not. A
/// test build (`--features fault-injection`) has `/__faults` and takes its
/// clock from the client (`X-Test-Now-Ms`): deployed by mistake, it would let
/// anyone break storage or age limits at will. So it runs only locally, and
/// everywhere else its configuration is refused like any wrong setting: every
/// API request answers the 500 envelope and `/health` names the cause.
/// `scripts/deploy.sh` refuses such a bundle before this could matter. An
/// unset or unknown `ENVIRONMENT` is refused already (`from_lookup`), in
/// every build: only a deployed one's is this problem.
pub fn test_build_problem(_environment: Option<&str>) -> Option<String> {
    #[cfg(feature = "fault-injection")]
    // Every deployed name, not a list of them: a new environment
    // (staging) must not be the one a test build may run in.
    if _environment
        .and_then(Environment::parse)
        .is_some_and(|e| e.is_deployed())
    {
        return Some(
            "ENVIRONMENT must be local in a test build (built with fault-injection); deploy a release build"
                .into(),
        );
    }
    None
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

pub struct Config {
    pub environment: Environment,
    pub otp: OtpPolicy,
    /// Keys per purpose, derived from `OTP_HASH_KEY` (and earlier ones).
    pub keys: PurposeKeys,
    pub tokens: TokenKeys,
    pub mail: MailConfig,
    /// `EMAIL_PRODUCT_NAME`: what the code email calls the service.
    pub email_product_name: String,
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
    /// `REVIEW_LOGINS`: addresses that sign in with a fixed code, unmailed
    /// (the app stores' reviewers); empty when unset.
    pub review_logins: ReviewLogins,
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

    /// The configuration this build runs with: `from_lookup`'s, refused
    /// whole in a test build outside `ENVIRONMENT=local` (`test_build_problem`).
    pub fn for_this_build(get: impl Fn(&str) -> Option<String>) -> Result<Self, Vec<String>> {
        let config = Self::from_lookup(&get);
        match (test_build_problem(get("ENVIRONMENT").as_deref()), config) {
            (None, config) => config,
            (Some(problem), Ok(_)) => Err(vec![problem]),
            // First: with it fixed (a release build deployed) the others may change.
            (Some(problem), Err(mut problems)) => {
                problems.insert(0, problem);
                Err(problems)
            }
        }
    }

    /// Reads every setting, reporting all problems at once (names only, never values).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, Vec<String>> {
        // The order of the reads is the order of the problems `/health` lists.
        let mut s = Settings::new(&get);
        let environment = s.require_word(
            "ENVIRONMENT",
            "local, development, production or another environment's name (a-z, 0-9, - and _, from a letter)",
            Environment::parse,
        );
        let otp = bounds::otp_policy(&mut s);
        let limits = bounds::email_limits(&mut s);
        let deletion_grace_days = s.number(
            "ACCOUNT_DELETION_GRACE_DAYS",
            DEFAULT_DELETION_GRACE_DAYS,
            1..=365,
        );
        let refresh_grace_seconds = s.number(
            "REFRESH_REUSE_GRACE_SECONDS",
            refresh::DEFAULT_GRACE_SECONDS,
            0..=refresh::MAX_GRACE_SECONDS,
        );
        let audit_retention_days = s.number(
            "AUDIT_RETENTION_DAYS",
            DEFAULT_AUDIT_RETENTION_DAYS,
            1..=3650,
        );
        let request_log = s
            .word("REQUEST_LOG", "all or failures", RequestLog::parse)
            .unwrap_or_default();
        bounds::hold_production_to_bounds(&mut s, environment.as_ref(), &otp, &limits);
        let keys = tokens::purpose_keys(&mut s);
        let tokens = tokens::token_keys(&mut s, environment.as_ref());
        let mail = mail::mail(&mut s, environment.as_ref());
        let email_product_name = mail::product_name(&mut s);
        let turnstile = mail::turnstile(&s);
        let cors = s
            .check(CorsPolicy::parse(&s.get_or("CORS_ALLOWED_ORIGINS", "")))
            .unwrap_or(CorsPolicy::Closed);
        let review_logins = review::review_logins(&mut s, &otp);

        let config = environment
            .zip(tokens)
            .zip(mail)
            .map(|((environment, tokens), mail)| Self {
                environment,
                otp,
                keys,
                tokens,
                mail,
                email_product_name,
                deletion_grace_days,
                refresh_grace_seconds,
                limits,
                cors,
                turnstile,
                audit_retention_days,
                request_log,
                review_logins,
            });
        s.finish(config)
    }
}
