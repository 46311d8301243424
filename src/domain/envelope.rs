//! The response envelope of the public API: `{isSuccess, statusCode, data, errors, timestamp}`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

/// Every body the service sends has this shape, errors included.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<T: Serialize> {
    pub is_success: bool,
    pub status_code: u16,
    pub data: Option<T>,
    pub errors: Vec<String>,
    pub timestamp: String,
}

impl<T: Serialize> Envelope<T> {
    pub fn success(status_code: u16, data: T, now: DateTime<Utc>) -> Self {
        Self {
            is_success: true,
            status_code,
            data: Some(data),
            errors: Vec::new(),
            timestamp: timestamp(now),
        }
    }
}

impl Envelope<()> {
    pub fn failure(status_code: u16, errors: Vec<String>, now: DateTime<Utc>) -> Self {
        Self {
            is_success: false,
            status_code,
            data: None,
            errors,
            timestamp: timestamp(now),
        }
    }
}

/// ISO-8601 in UTC with milliseconds and `Z`, as in the API document.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 15, 10, 30, 0).unwrap()
    }

    #[test]
    fn failure_serialises_with_null_data_and_millisecond_timestamp() {
        let body = serde_json::to_value(Envelope::failure(404, vec!["gone".into()], at())).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "isSuccess": false,
                "statusCode": 404,
                "data": null,
                "errors": ["gone"],
                "timestamp": "2026-01-15T10:30:00.000Z"
            })
        );
    }

    #[test]
    fn success_carries_data_and_no_errors() {
        let body = serde_json::to_value(Envelope::success(200, serde_json::json!({"a": 1}), at()))
            .unwrap();
        assert_eq!(body["isSuccess"], true);
        assert_eq!(body["data"]["a"], 1);
        assert_eq!(body["errors"], serde_json::json!([]));
    }
}
