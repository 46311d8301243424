//! Outbox → queue. An event is marked sent only once the queue has accepted
//! it; until then it stays in the outbox for the Cron Trigger to try again.
//! So every event reaches the queue at least once (twice, rarely, if a
//! publisher dies between the two steps): receivers deduplicate by
//! `webhook-id`, as the Standard Webhooks spec asks.

use worker::wasm_bindgen::JsValue;
use worker::{Env, QueueContentType, RawMessageBuilder};

use crate::domain::error::AppError;
use crate::domain::events::Delivery;
use crate::platform::{bindings, fault, Context};
use crate::storage::tables::event_outbox::{self as outbox, Unsent};
use crate::storage::Db;

/// Messages per `sendBatch` (the Queues limit).
const QUEUE_BATCH: usize = 100;

/// Puts `events` on the queue, one message per event and receiver, then marks
/// them sent. With no receiver configured they are marked sent at once:
/// events are not kept for receivers added later.
pub async fn publish(env: &Env, db: &Db, events: &[Unsent], at: &str) -> Result<(), AppError> {
    if events.is_empty() {
        return Ok(());
    }
    // A misconfiguration leaves the events in the outbox until it is fixed.
    let webhooks = bindings::webhooks(env)?;
    let deliveries: Vec<Delivery> = events
        .iter()
        .flat_map(|event| {
            webhooks.endpoints().map(|endpoint| Delivery {
                id: event.id.clone(),
                endpoint: endpoint.to_owned(),
                payload: event.payload.clone(),
            })
        })
        .collect();
    if !deliveries.is_empty() {
        fault("queue")?;
        let queue = bindings::events_queue(env)?;
        for chunk in deliveries.chunks(QUEUE_BATCH) {
            let messages = chunk
                .iter()
                .map(|delivery| {
                    // Text messages of JSON, read back with serde_json: smaller
                    // code than converting a struct to and from a JS object.
                    let json = serde_json::to_string(delivery).map_err(AppError::internal)?;
                    Ok(RawMessageBuilder::new(JsValue::from_str(&json))
                        .build_with_content_type(QueueContentType::Text))
                })
                .collect::<Result<Vec<_>, AppError>>()?;
            queue
                .send_raw_batch(messages)
                .await
                .context("events queue send")?;
        }
    }
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    outbox::mark_sent(db, &ids, at).await
}
