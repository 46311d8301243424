//! The settings of event delivery to downstream services.

use super::settings::Settings;
use super::Environment;
use crate::domain::events::WebhookSecret;

/// Where events for downstream services are delivered, and the secret that
/// signs them. Read apart from [`Config`](super::Config): only the event
/// publisher and the queue consumer need it, and a mistake in it must not stop
/// sign-ins (events wait in the outbox or the queue until it is fixed).
#[derive(Debug)]
pub struct Webhooks {
    /// `WEBHOOK_ENDPOINTS`; empty: events are delivered to no one.
    pub endpoints: Vec<String>,
    /// `WEBHOOK_SECRET`, required when there are endpoints.
    pub secret: Option<WebhookSecret>,
}

impl Webhooks {
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, Vec<String>> {
        let mut s = Settings::new(&get);
        // Anything but an explicit `local` is held to the deployed rule.
        let deployed =
            s.get("ENVIRONMENT").and_then(|e| Environment::parse(&e)) != Some(Environment::Local);
        let endpoints = s.list("WEBHOOK_ENDPOINTS");
        for url in &endpoints {
            // Deployed, the events (one carries an address) travel encrypted only.
            let scheme_ok =
                url.starts_with("https://") || (!deployed && url.starts_with("http://"));
            let host = url.split_once("://").map_or("", |(_, rest)| rest);
            if !scheme_ok || host.is_empty() || url.contains(char::is_whitespace) {
                s.problem(format!(
                    "WEBHOOK_ENDPOINTS must list {} URLs, not {url:?}",
                    if deployed { "https" } else { "http(s)" }
                ));
            }
        }
        // With no endpoint there is nothing to sign yet.
        let secret = if endpoints.is_empty() {
            s.filled("WEBHOOK_SECRET")
        } else {
            s.require("WEBHOOK_SECRET")
        };
        let secret = secret.and_then(|raw| s.check(WebhookSecret::parse(&raw)));
        s.finish(Some(Self { endpoints, secret }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

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
}
