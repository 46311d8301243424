//! The EVENTS queue's consumer: each message is one event for one receiver,
//! POSTed as a Standard Webhook (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature`), signed with that receiver's secret. A 2xx
//! acknowledges it; anything else (a redirect included: it is never followed),
//! or no answer, hands it back to the queue, which retries it after
//! `retry_delay` and, past `max_retries`, moves it to the dead-letter queue
//! (wrangler.toml). A message for a receiver no longer configured is dropped.

use std::time::Duration;

use chrono::{DateTime, Utc};
use worker::{Env, MessageBatch, MessageExt, RawMessage};

use crate::config::Webhooks;
use crate::domain::events::{Delivery, DeliveryOutcome, WebhookSecret};
use crate::platform::{bindings, log, outbound};

/// How long a receiver has to answer: the spec recommends 15 to 30 s; a
/// receiver slower than that is better retried later.
const TIMEOUT: Duration = Duration::from_secs(15);

/// Delivers a batch, message by message (at most `max_batch_size`, each
/// bounded by `TIMEOUT`), each acknowledged or retried on its own. The
/// messages are text: a `Delivery` as JSON (`publish`).
pub async fn deliver(batch: MessageBatch<String>, env: &Env, now: DateTime<Utc>) {
    let webhooks = match bindings::webhooks(env) {
        Ok(webhooks) => webhooks,
        // Without a valid configuration nothing can be signed; the queue keeps
        // the messages (retries, then the dead-letter queue) until it is fixed.
        Err(err) => {
            log::error(
                "webhook_unconfigured",
                serde_json::json!({"cause": err.log_cause().unwrap_or_else(|| err.to_string()), "messages": batch.raw_iter().len()}),
            );
            batch.retry_all();
            return;
        }
    };
    for message in batch.raw_iter() {
        let delivery = message
            .body()
            .as_string()
            .and_then(|json| serde_json::from_str::<Delivery>(&json).ok());
        match delivery {
            Some(delivery) => match receiver_secret(&webhooks, &delivery) {
                Some(secret) => deliver_one(&message, &delivery, secret, now).await,
                // The message names its endpoint, but only the configuration
                // says who may receive events: a receiver taken out of
                // WEBHOOK_ENDPOINTS gets no retry and no dead-letter replay of
                // what was queued for it. Acknowledged (returning normally),
                // so the queue lets it go.
                None => log::info(
                    "webhook_receiver_removed",
                    serde_json::json!({"id": delivery.id, "receiver": host(&delivery.endpoint),
                        "cause": "the endpoint is no longer in WEBHOOK_ENDPOINTS; message dropped"}),
                ),
            },
            // Not one of ours; returning normally acknowledges it.
            None => log::error(
                "webhook_malformed_message",
                serde_json::json!({"cause": "not a Delivery as JSON text"}),
            ),
        }
    }
}

/// The secret that signs for the delivery's receiver, if it is still configured.
fn receiver_secret<'a>(webhooks: &'a Webhooks, delivery: &Delivery) -> Option<&'a WebhookSecret> {
    webhooks.receiver(&delivery.endpoint).map(|r| &r.secret)
}

async fn deliver_one(
    message: &RawMessage,
    delivery: &Delivery,
    secret: &WebhookSecret,
    now: DateTime<Utc>,
) {
    let timestamp = now.timestamp();
    let signature = secret.sign(&delivery.id, timestamp, &delivery.payload);
    let headers = [
        ("webhook-id", delivery.id.as_str()),
        ("webhook-timestamp", &timestamp.to_string()),
        ("webhook-signature", &signature),
    ];
    let answer =
        outbound::post_json(&delivery.endpoint, &headers, &delivery.payload, TIMEOUT).await;
    let outcome = match &answer {
        Ok(response) => DeliveryOutcome::of_status(response.status_code()),
        Err(_) => DeliveryOutcome::Retry,
    };
    // The receiver by host only: a URL may carry a token in its query.
    let receiver = host(&delivery.endpoint);
    let status = answer.as_ref().ok().map(|r| r.status_code());
    let cause = match &answer {
        Err(cause) => Some(cause.as_str()),
        // Following it would re-post the signed body (an address, perhaps)
        // wherever the Location says, and take that host's 2xx as delivery.
        Ok(_) if status.is_some_and(|s| (300..400).contains(&s)) => {
            Some("a redirect, which is not followed")
        }
        Ok(_) => None,
    };
    match outcome {
        DeliveryOutcome::Delivered => message.ack(),
        DeliveryOutcome::Gone => {
            log::error(
                "webhook_gone",
                serde_json::json!({"id": delivery.id, "receiver": receiver, "status": 410,
                    "cause": "the receiver answered 410 Gone; remove it from WEBHOOK_ENDPOINTS"}),
            );
            message.ack();
        }
        DeliveryOutcome::Retry => {
            log::info(
                "webhook_retry",
                serde_json::json!({"id": delivery.id, "receiver": receiver, "status": status, "cause": cause}),
            );
            message.retry();
        }
    }
}

fn host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority.rsplit('@').next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::host;

    #[test]
    fn receivers_are_logged_by_host_only() {
        assert_eq!(
            host("https://crm.example:8443/in?token=secret"),
            "crm.example:8443"
        );
        assert_eq!(host("http://127.0.0.1:9/"), "127.0.0.1:9");
        assert_eq!(host("https://user:pw@crm.example/in"), "crm.example");
    }
}
