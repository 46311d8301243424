//! Security events in D1 (`audit_events`), written after the response is sent.

use worker::D1Database;

use super::text;
use worker::wasm_bindgen::JsValue;

/// One security event. Addresses and IPs arrive already as keyed hashes.
#[derive(Debug, Clone, Default)]
pub struct AuditEvent {
    pub event: &'static str,
    pub user_id: Option<String>,
    pub email_hash: Option<String>,
    pub ip_hash: Option<String>,
    pub detail: Option<String>,
}

/// Best effort: an audit write that fails is logged and never fails the request.
pub async fn record(db: D1Database, at: String, event: AuditEvent) {
    let opt = |v: &Option<String>| v.as_deref().map_or(JsValue::NULL, text);
    let statement = db
        .prepare(
            "INSERT INTO audit_events (at, event, user_id, email_hash, ip_hash, detail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(&[
            text(&at),
            text(event.event),
            opt(&event.user_id),
            opt(&event.email_hash),
            opt(&event.ip_hash),
            opt(&event.detail),
        ]);
    let result = match statement {
        Ok(statement) => statement.run().await.map(|_| ()),
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        worker::console_error!(
            "{}",
            serde_json::json!({"event": "audit_write_failed", "audit": event.event, "cause": e.to_string()})
        );
    }
}
