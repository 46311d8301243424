//! How code emails leave the service, and the challenge a sender may be asked
//! to solve before one is sent.

use super::settings::Settings;
use super::Environment;

pub const RESEND_API_URL: &str = "https://api.resend.com";
pub const TURNSTILE_VERIFY_URL: &str = "https://challenges.cloudflare.com/turnstile/v0/siteverify";

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
    /// `TURNSTILE_HOSTNAMES`: the sites whose widgets may solve it (any when empty).
    pub hostnames: Vec<String>,
    /// `TURNSTILE_ACTION`: the action the widget must be rendered with, so a
    /// token solved for another purpose of the same site key does not count.
    pub action: Option<String>,
}

pub(super) fn mail(s: &mut Settings, environment: Option<&Environment>) -> Option<MailConfig> {
    match s.get_or("EMAIL_PROVIDER", "log").as_str() {
        // Logging codes is a laptop convenience; anywhere deployed it would leak
        // them. An unknown environment (already reported) is not local either.
        "log" => match environment {
            Some(Environment::Local) => Some(MailConfig::Log),
            None => None,
            Some(_) => {
                s.problem("EMAIL_PROVIDER=log is allowed only when ENVIRONMENT=local");
                None
            }
        },
        "resend" => {
            // Every read before the first `?`, so each problem is reported.
            let api_key = s.require("EMAIL_API_KEY");
            let from = s.require("EMAIL_FROM");
            let api_url = s.get_or("EMAIL_API_URL", RESEND_API_URL);
            let timeout_ms = s.number("EMAIL_TIMEOUT_MS", 10_000, 100..=30_000);
            Some(MailConfig::Resend {
                api_url: api_url.trim_end_matches('/').to_string(),
                api_key: api_key?,
                from: from?,
                timeout_ms,
            })
        }
        other => {
            s.problem(format!(
                "EMAIL_PROVIDER must be log or resend, not {other:?}"
            ));
            None
        }
    }
}

/// Off unless its secret is set.
pub(super) fn turnstile(s: &Settings) -> Option<Turnstile> {
    let secret = s.filled("TURNSTILE_SECRET_KEY")?;
    let verify_url = s
        .filled("TURNSTILE_VERIFY_URL")
        .unwrap_or_else(|| TURNSTILE_VERIFY_URL.into());
    Some(Turnstile {
        secret,
        verify_url,
        hostnames: s.list("TURNSTILE_HOSTNAMES"),
        action: s.filled("TURNSTILE_ACTION"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{base, load};

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
}
