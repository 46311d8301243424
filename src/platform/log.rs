//! The service's log lines: one JSON object per line, with an `event` name.
//! Never a code, a token or a full address (except the `log` mail provider,
//! which exists to print the code locally and is refused when deployed).

use serde_json::{Map, Value};

fn line(event: &str, fields: Value) -> String {
    let mut object = Map::new();
    object.insert("event".into(), Value::from(event));
    if let Value::Object(fields) = fields {
        object.extend(fields);
    }
    Value::Object(object).to_string()
}

/// An event worth keeping (requests, jobs).
pub fn info(event: &str, fields: Value) {
    worker::console_log!("{}", line(event, fields));
}

/// A failure of ours (internal errors, audit writes that did not land).
pub fn error(event: &str, fields: Value) {
    worker::console_error!("{}", line(event, fields));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_comes_first_and_fields_follow() {
        let text = line("request", serde_json::json!({"status": 200}));
        assert_eq!(text, r#"{"event":"request","status":200}"#);
    }
}
