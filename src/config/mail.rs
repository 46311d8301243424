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
    /// Cloudflare Email Service through the `send_email` binding `EMAIL`.
    Cloudflare { from: String, timeout_ms: u32 },
}

/// The `send_email` binding the cloudflare provider sends through (`[[send_email]]`).
pub const SEND_EMAIL_BINDING: &str = "EMAIL";
pub const DEFAULT_PRODUCT_NAME: &str = "Allmine";

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
        // The binding itself is looked up when sending: `Config` is pure, and
        // a missing binding answers like an unreachable provider.
        "cloudflare" => {
            let from = s.require("EMAIL_FROM");
            let timeout_ms = s.number("EMAIL_TIMEOUT_MS", 10_000, 100..=30_000);
            Some(MailConfig::Cloudflare {
                from: from?,
                timeout_ms,
            })
        }
        other => {
            s.problem(format!(
                "EMAIL_PROVIDER must be log, resend or cloudflare, not {other:?}"
            ));
            None
        }
    }
}

/// `EMAIL_PRODUCT_NAME`: the name the email calls the service by.
pub(super) fn product_name(s: &mut Settings) -> String {
    let name = s.get_or("EMAIL_PRODUCT_NAME", DEFAULT_PRODUCT_NAME);
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
        s.problem("EMAIL_PRODUCT_NAME must be 1 to 60 characters on one line");
    }
    name.to_string()
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
    fn cloudflare_needs_a_sender_and_no_key() {
        let mut vars = base();
        vars.insert("EMAIL_PROVIDER", "cloudflare".into());
        assert_eq!(load(&vars).err().unwrap(), vec!["EMAIL_FROM is not set"]);
        vars.insert("EMAIL_FROM", "Allmine <login@allmine.app>".into());
        assert_eq!(
            load(&vars).ok().unwrap().mail,
            MailConfig::Cloudflare {
                from: "Allmine <login@allmine.app>".into(),
                timeout_ms: 10_000,
            }
        );
        vars.insert("EMAIL_PROVIDER", "sendgrid".into());
        assert_eq!(
            load(&vars).err().unwrap(),
            vec![r#"EMAIL_PROVIDER must be log, resend or cloudflare, not "sendgrid""#]
        );
    }

    #[test]
    fn the_product_name_defaults_and_is_checked() {
        assert_eq!(load(&base()).ok().unwrap().email_product_name, "Allmine");
        let mut vars = base();
        vars.insert("EMAIL_PRODUCT_NAME", " Acme ID ".into());
        assert_eq!(load(&vars).ok().unwrap().email_product_name, "Acme ID");
        for wrong in ["", "  ", "a\nb", &"x".repeat(61)] {
            vars.insert("EMAIL_PRODUCT_NAME", wrong.to_string());
            assert_eq!(
                load(&vars).err().unwrap(),
                vec!["EMAIL_PRODUCT_NAME must be 1 to 60 characters on one line"],
                "{wrong:?}"
            );
        }
    }

    #[test]
    fn the_log_provider_is_allowed_only_locally() {
        for environment in ["development", "production"] {
            let mut vars = base();
            vars.insert("ENVIRONMENT", environment.into());
            vars.insert("TURNSTILE_SECRET_KEY", "0x4AAAAAAA-test-secret".into());
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
