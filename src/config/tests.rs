//! The fixtures the concerns' tests share, and the tests of `Config` as a
//! whole: its defaults, the settings read in `from_lookup` itself, and
//! `wrangler.toml` agreeing with both.

use super::*;
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

pub(super) fn base() -> HashMap<&'static str, String> {
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

pub(super) fn load<K: Borrow<str> + Eq + Hash>(
    vars: &HashMap<K, String>,
) -> Result<Config, Vec<String>> {
    Config::from_lookup(|name| vars.get(name).cloned())
}

/// `base()` made a deployed environment: resend instead of the log, and
/// Turnstile (which production requires).
pub(super) fn deployed(environment: &str) -> HashMap<&'static str, String> {
    let mut vars = base();
    vars.insert("ENVIRONMENT", environment.into());
    vars.insert("EMAIL_PROVIDER", "resend".into());
    vars.insert("EMAIL_API_KEY", "re_123".into());
    vars.insert("EMAIL_FROM", "Allmine <login@allmine.app>".into());
    vars.insert("TURNSTILE_SECRET_KEY", "0x4AAAAAAA-test-secret".into());
    vars
}

/// The vars one `[vars]` table of `wrangler.toml` sets (`name = "value"` lines).
pub(super) fn wrangler_vars(table: &str) -> HashMap<String, String> {
    let toml = include_str!("../../wrangler.toml");
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
    let toml = include_str!("../../wrangler.toml");
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
            "OTP_ADDRESS_SENDS_PER_DAY",
            limits.address_sends_per_day.to_string(),
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
        ("JWT_ALGORITHM", "EdDSA".to_string()),
        (
            "JWT_ACCESS_SCOPE",
            crate::domain::token::DEFAULT_ACCESS_SCOPE.to_string(),
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

/// A bare `wrangler deploy` uses the top-level settings: they must be the
/// local worker, under a name of its own, not production's.
#[test]
fn wrangler_toml_sets_every_environment_and_a_bare_deploy_is_local() {
    let toml = include_str!("../../wrangler.toml");
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
    // Its secrets, Turnstile's among them: the check requires it there.
    assert_eq!(
        load(&vars).err().unwrap(),
        vec!["TURNSTILE_SECRET_KEY must be set in production (or set ALLOW_WEAK_SETTINGS=true)"]
    );
    vars.insert(
        "TURNSTILE_SECRET_KEY".into(),
        "0x4AAAAAAA-test-secret".into(),
    );
    let config = load(&vars).ok().unwrap();
    assert_eq!(config.environment, production("production"));
    // Development's own values pass without Turnstile.
    let mut vars = wrangler_vars("env.development.vars");
    for (name, value) in base() {
        vars.entry(name.into()).or_insert(value);
    }
    vars.insert("EMAIL_API_KEY".into(), "re_123".into());
    assert!(load(&vars).is_ok());
}

fn production(name: &str) -> Environment {
    Environment::Production { name: name.into() }
}

const ENVIRONMENT_REFUSED: &str = "ENVIRONMENT must be local, development, production or another environment's name (a-z, 0-9, - and _, from a letter)";

#[test]
fn the_environment_must_be_set_and_well_formed() {
    let mut vars = base();
    vars.remove("ENVIRONMENT");
    assert_eq!(load(&vars).err().unwrap(), vec!["ENVIRONMENT is not set"]);
    let too_long = "s".repeat(64);
    for wrong in [
        "",
        " ",
        "Production",
        "stag ing",
        "-staging",
        "9lives",
        "staging!",
        "ünï",
        &too_long,
    ] {
        vars.insert("ENVIRONMENT", wrong.into());
        assert_eq!(
            load(&vars).err().unwrap(),
            vec![ENVIRONMENT_REFUSED],
            "{wrong:?}"
        );
    }
    for (raw, environment) in [
        ("local", Environment::Local),
        ("development", Environment::Development),
        ("production", production("production")),
        ("staging", production("staging")),
        ("eu-2_b", production("eu-2_b")),
        (&"s".repeat(63), production(&"s".repeat(63))),
    ] {
        let vars = if raw == "local" {
            base()
        } else {
            deployed(raw)
        };
        let loaded = load(&vars).ok().unwrap().environment;
        assert_eq!(loaded.name(), raw);
        assert_eq!(loaded, environment);
    }
}

/// An environment nobody wrote rules for (staging) is held to production's:
/// weak settings, the log provider and a plain-http issuer are refused, each
/// exactly as in production.
#[test]
fn any_other_environment_follows_production_rules() {
    for name in ["production", "staging"] {
        let mut vars = deployed(name);
        vars.insert("OTP_LENGTH", "4".into());
        vars.insert("EMAIL_PROVIDER", "log".into());
        vars.insert("JWT_ISSUER", "http://auth.test".into());
        vars.insert("WEBHOOK_ENDPOINTS", "http://crm.test/in".into());
        assert_eq!(
            load(&vars).err().unwrap(),
            vec![
                "OTP_LENGTH must be at least 6 in production (or set ALLOW_WEAK_SETTINGS=true)",
                "JWT_ISSUER must be an https URL when deployed",
                "EMAIL_PROVIDER=log is allowed only when ENVIRONMENT=local",
            ],
            "{name}"
        );
        assert!(
            Webhooks::from_lookup(|n| vars.get(n).cloned()).is_err(),
            "{name}: a plain-http webhook endpoint"
        );
    }
    // Development keeps its own rules: weak settings pass there.
    let mut vars = deployed("development");
    vars.insert("OTP_LENGTH", "4".into());
    assert!(load(&vars).is_ok());
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

/// A test build runs locally only; a release build anywhere. `from_lookup`
/// itself is the same in both builds, so the other tests hold in both.
#[test]
fn a_test_build_refuses_every_environment_but_local() {
    let test_build = cfg!(feature = "fault-injection");
    let for_build = |vars: &HashMap<&str, String>| Config::for_this_build(|n| vars.get(n).cloned());
    assert!(for_build(&base()).is_ok());
    let refusal = "ENVIRONMENT must be local in a test build (built with fault-injection); deploy a release build";
    // Every deployed name, a new one (staging) too.
    for environment in ["development", "production", "staging"] {
        let vars = deployed(environment);
        assert!(load(&vars).is_ok(), "{environment} is valid by itself");
        match for_build(&vars) {
            Ok(_) => assert!(!test_build, "a test build ran in {environment}"),
            Err(problems) => {
                assert!(
                    test_build,
                    "a release build refused {environment}: {problems:?}"
                );
                assert_eq!(problems, vec![refusal]);
            }
        }
    }
    // Added to the other problems, first.
    let mut vars = deployed("production");
    vars.insert("OTP_LENGTH", "3".into());
    let problems = for_build(&vars).err().unwrap();
    assert_eq!(
        problems.len(),
        if test_build { 2 } else { 1 },
        "{problems:?}"
    );
    assert_eq!(problems[0] == refusal, test_build);
    // No ENVIRONMENT, or a malformed one, is refused in every build already,
    // by that name alone.
    let mut unset = base();
    unset.remove("ENVIRONMENT");
    assert_eq!(
        for_build(&unset).err().unwrap(),
        vec!["ENVIRONMENT is not set"]
    );
    unset.insert("ENVIRONMENT", "Staging!".into());
    assert_eq!(for_build(&unset).err().unwrap(), vec![ENVIRONMENT_REFUSED]);
}
