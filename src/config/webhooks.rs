//! The settings of event delivery to downstream services.

use super::settings::Settings;
use super::Environment;
use crate::domain::events::WebhookSecret;

/// Where events for downstream services are delivered, and the secret that
/// signs them for each receiver. Read apart from [`Config`](super::Config):
/// only the event publisher and the queue consumer need it, and a mistake in
/// it must not stop sign-ins (events wait in the outbox or the queue until it
/// is fixed).
#[derive(Debug)]
pub struct Webhooks {
    /// `WEBHOOK_ENDPOINTS`, in order, each with its secret; empty: events are
    /// delivered to no one.
    pub receivers: Vec<Receiver>,
}

#[derive(Debug)]
pub struct Receiver {
    pub endpoint: String,
    /// Its own from `WEBHOOK_SECRETS`, else the shared `WEBHOOK_SECRET`.
    pub secret: WebhookSecret,
}

impl Webhooks {
    /// The endpoints events are published to.
    pub fn endpoints(&self) -> impl Iterator<Item = &str> {
        self.receivers.iter().map(|r| r.endpoint.as_str())
    }

    /// The receiver configured now at `endpoint`. The queue consumer asks this
    /// of every message instead of trusting the endpoint the message names: a
    /// receiver removed from `WEBHOOK_ENDPOINTS` must stop getting retries and
    /// dead-letter replays of what was queued for it.
    pub fn receiver(&self, endpoint: &str) -> Option<&Receiver> {
        self.receivers.iter().find(|r| r.endpoint == endpoint)
    }

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
        let own = own_secrets(&mut s, &endpoints);
        // The shared secret signs for every receiver without one of its own
        // (all of them in configurations older than `WEBHOOK_SECRETS`); with
        // none such there is nothing for it to sign.
        let shared_needed = endpoints.iter().any(|e| !own.iter().any(|(o, _)| o == e));
        let shared = if shared_needed {
            s.require("WEBHOOK_SECRET")
        } else {
            s.filled("WEBHOOK_SECRET")
        };
        let shared = shared.and_then(|raw| s.check(WebhookSecret::parse(&raw)));
        let receivers = endpoints
            .into_iter()
            .filter_map(|endpoint| {
                let secret = match own.iter().find(|(o, _)| *o == endpoint) {
                    Some((_, secret)) => secret.clone(),
                    None => shared.clone()?,
                };
                Some(Receiver { endpoint, secret })
            })
            .collect();
        s.finish(Some(Self { receivers }))
    }
}

/// `WEBHOOK_SECRETS`: each receiver's own secret, as comma-separated
/// `<endpoint> <whsec_…>` pairs (a URL holds no space, a secret no comma).
/// Own secrets keep one receiver from forging events to another, which a
/// shared secret allows. Problems name an entry by its position: an endpoint
/// may carry a token in its query, and the value is a secret.
fn own_secrets(s: &mut Settings, endpoints: &[String]) -> Vec<(String, WebhookSecret)> {
    let mut own: Vec<(String, WebhookSecret)> = Vec::new();
    for (i, entry) in s.list("WEBHOOK_SECRETS").iter().enumerate() {
        let n = i + 1;
        let mut parts = entry.split_whitespace();
        let (Some(endpoint), Some(raw), None) = (parts.next(), parts.next(), parts.next()) else {
            s.problem(format!(
                "WEBHOOK_SECRETS entry {n} must be an endpoint and its secret, separated by a space"
            ));
            continue;
        };
        // A secret for an endpoint not listed would sign nothing: most likely
        // a typo, which would leave that receiver on the shared secret.
        if !endpoints.iter().any(|e| e == endpoint) {
            s.problem(format!(
                "WEBHOOK_SECRETS entry {n} names an endpoint that is not in WEBHOOK_ENDPOINTS"
            ));
            continue;
        }
        if own.iter().any(|(o, _)| o == endpoint) {
            s.problem(format!(
                "WEBHOOK_SECRETS entry {n} repeats an endpoint that already has a secret"
            ));
            continue;
        }
        let name = format!("WEBHOOK_SECRETS entry {n}");
        if let Some(secret) = s.check(WebhookSecret::parse_named(raw, &name)) {
            own.push((endpoint.to_string(), secret));
        }
    }
    own
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const SHARED: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const A_OWN: &str = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const B_OWN: &str = "whsec_ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

    /// Local unless the case names another environment.
    fn read(vars: &[(&str, &str)]) -> Result<Webhooks, Vec<String>> {
        let vars: HashMap<String, String> = [("ENVIRONMENT", "local")]
            .iter()
            .chain(vars)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Webhooks::from_lookup(|name| vars.get(name).cloned())
    }

    /// Which secret signs for `endpoint`, told by a signature.
    fn signs_like(webhooks: &Webhooks, endpoint: &str, secret: &str) -> bool {
        let sign = |s: &WebhookSecret| s.sign("msg_1", 1, "{}");
        let receiver = webhooks.receiver(endpoint).expect("a configured receiver");
        sign(&receiver.secret) == sign(&WebhookSecret::parse(secret).unwrap())
    }

    #[test]
    fn webhooks_need_a_secret_and_https_when_deployed() {
        let none = read(&[]).unwrap();
        assert!(none.receivers.is_empty());
        assert_eq!(
            read(&[("WEBHOOK_ENDPOINTS", "http://127.0.0.1:9/hook")]).unwrap_err(),
            vec!["WEBHOOK_SECRET is not set"]
        );
        let secret = ("WEBHOOK_SECRET", SHARED);
        let two = read(&[
            (
                "WEBHOOK_ENDPOINTS",
                " http://127.0.0.1:9/hook , https://crm.example/in?k=1,",
            ),
            secret,
        ])
        .unwrap();
        assert_eq!(
            two.endpoints().collect::<Vec<_>>(),
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
    fn only_configured_endpoints_are_receivers() {
        let webhooks = read(&[
            ("WEBHOOK_ENDPOINTS", "https://a.example/in"),
            ("WEBHOOK_SECRET", SHARED),
        ])
        .unwrap();
        assert!(webhooks.receiver("https://a.example/in").is_some());
        // Exact match only: a queued message naming a removed receiver, or a
        // near miss of a configured one, has nowhere to go.
        assert!(webhooks.receiver("https://b.example/in").is_none());
        assert!(webhooks.receiver("https://a.example/in/").is_none());
    }

    #[test]
    fn each_receiver_signs_with_its_own_secret_else_the_shared_one() {
        let endpoints = (
            "WEBHOOK_ENDPOINTS",
            "https://a.example/in,https://b.example/in?k=1,https://c.example/in",
        );
        let own = (
            "WEBHOOK_SECRETS",
            &*format!("https://a.example/in {A_OWN}, https://b.example/in?k=1 {B_OWN}"),
        );
        let mixed = read(&[endpoints, own, ("WEBHOOK_SECRET", SHARED)]).unwrap();
        assert!(signs_like(&mixed, "https://a.example/in", A_OWN));
        assert!(signs_like(&mixed, "https://b.example/in?k=1", B_OWN));
        assert!(!signs_like(&mixed, "https://b.example/in?k=1", A_OWN));
        // During the change: c has no secret of its own yet.
        assert!(signs_like(&mixed, "https://c.example/in", SHARED));
        // c still needs the shared one.
        assert_eq!(
            read(&[endpoints, own]).unwrap_err(),
            vec!["WEBHOOK_SECRET is not set"]
        );
        // Every receiver with its own: the shared secret may go.
        let all_own = read(&[
            (
                "WEBHOOK_ENDPOINTS",
                "https://a.example/in,https://b.example/in?k=1",
            ),
            own,
        ])
        .unwrap();
        assert_eq!(all_own.receivers.len(), 2);
        assert!(signs_like(&all_own, "https://a.example/in", A_OWN));
    }

    #[test]
    fn per_receiver_secrets_are_checked_and_never_repeated() {
        let endpoints = ("WEBHOOK_ENDPOINTS", "https://a.example/in?token=t0k3n");
        let shared = ("WEBHOOK_SECRET", SHARED);
        let problems =
            |secrets: &str| read(&[endpoints, shared, ("WEBHOOK_SECRETS", secrets)]).unwrap_err();
        assert_eq!(
            problems("https://a.example/in?token=t0k3n"),
            vec![
                "WEBHOOK_SECRETS entry 1 must be an endpoint and its secret, separated by a space"
            ]
        );
        assert_eq!(
            problems(&format!("https://elsewhere.example/in {A_OWN}")),
            vec!["WEBHOOK_SECRETS entry 1 names an endpoint that is not in WEBHOOK_ENDPOINTS"]
        );
        assert_eq!(
            problems(&format!(
                "https://a.example/in?token=t0k3n {A_OWN},https://a.example/in?token=t0k3n {B_OWN}"
            )),
            vec!["WEBHOOK_SECRETS entry 2 repeats an endpoint that already has a secret"]
        );
        let bad = "whsec_AAAAAAAAAAAAAAAAAAAAAA==";
        let short = problems(&format!("https://a.example/in?token=t0k3n {bad}"));
        assert_eq!(
            short,
            vec!["WEBHOOK_SECRETS entry 1 must encode 24 to 64 bytes"]
        );
        // Problems are shown by /health: no secret, no endpoint (its token).
        for problem in short {
            assert!(
                !problem.contains("t0k3n") && !problem.contains("AAAA"),
                "{problem}"
            );
        }
    }
}
