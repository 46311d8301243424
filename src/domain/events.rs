//! Events for downstream services (a CRM, a profile service, …), and how they
//! travel as Standard Webhooks (<https://www.standardwebhooks.com>).
//!
//! An event is written to the outbox in the same D1 batch as the change it
//! describes, so it exists exactly when the change does. Its payload is fixed
//! at that moment, as the exact bytes every receiver gets and every signature
//! covers. Payloads are thin: the user id, and only the personal data a
//! receiver cannot do without (the address in `user.created`, so a CRM can
//! link the account to a contact). Receivers look nothing else up by address:
//! `user.deleted` carries the id alone, and receivers erase by id.

use base64ct::{Base64, Encoding};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::email::EmailAddress;
use super::envelope::timestamp;
use super::ids::{random_hex, Random};

/// The event types, as receivers see them in `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A first login created the account. Data: `userId`, `email`.
    UserCreated,
    /// The profile and consents were completed. Data: `userId`.
    RegistrationCompleted,
    /// The user asked for deletion. Data: `userId`, `scheduledFor`.
    DeletionScheduled,
    /// The account's personal data was erased. Data: `userId`.
    UserDeleted,
    /// The user ended one session (a logout, or from their list of
    /// sessions). Data: `userId`, `sessionId`.
    SessionRevoked,
    /// The user signed out everywhere. Data: `userId`.
    SessionsRevokedAll,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserCreated => "user.created",
            Self::RegistrationCompleted => "user.registration_completed",
            Self::DeletionScheduled => "user.deletion_scheduled",
            Self::UserDeleted => "user.deleted",
            Self::SessionRevoked => "session.revoked",
            Self::SessionsRevokedAll => "session.revoked_all",
        }
    }
}

/// One event, ready for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `webhook-id`: the same on every attempt and for every receiver, so
    /// receivers deduplicate by it. `evt_` and hex: never a `.`, which the
    /// signed content uses as its separator.
    pub id: String,
    pub kind: EventKind,
    pub user_id: String,
    pub occurred_at: String,
    /// The webhook body: `{"type", "timestamp", "data"}`, as the spec suggests.
    pub payload: String,
}

#[derive(Serialize)]
struct Payload<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    timestamp: &'a str,
    data: Data<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Data<'a> {
    user_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scheduled_for: Option<&'a str>,
    /// The `sid` of the session's tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<&'a str>,
}

impl Event {
    fn new(
        rng: &mut impl Random,
        kind: EventKind,
        user_id: &str,
        at: DateTime<Utc>,
        data: Data<'_>,
    ) -> Self {
        let occurred_at = timestamp(at);
        let payload = Payload {
            kind: kind.as_str(),
            timestamp: &occurred_at,
            data,
        };
        Self {
            id: format!("evt_{}", random_hex(rng, 16)),
            kind,
            user_id: user_id.to_owned(),
            payload: serde_json::to_string(&payload)
                .expect("a struct of strings always serialises"),
            occurred_at,
        }
    }

    fn only_id(user_id: &str) -> Data<'_> {
        Data {
            user_id,
            email: None,
            scheduled_for: None,
            session_id: None,
        }
    }

    pub fn user_created(
        rng: &mut impl Random,
        user_id: &str,
        email: &EmailAddress,
        at: DateTime<Utc>,
    ) -> Self {
        let data = Data {
            email: Some(email.as_str()),
            ..Self::only_id(user_id)
        };
        Self::new(rng, EventKind::UserCreated, user_id, at, data)
    }

    pub fn registration_completed(rng: &mut impl Random, user_id: &str, at: DateTime<Utc>) -> Self {
        let data = Self::only_id(user_id);
        Self::new(rng, EventKind::RegistrationCompleted, user_id, at, data)
    }

    pub fn deletion_scheduled(
        rng: &mut impl Random,
        user_id: &str,
        scheduled_for: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Self {
        let scheduled_for = timestamp(scheduled_for);
        let data = Data {
            scheduled_for: Some(&scheduled_for),
            ..Self::only_id(user_id)
        };
        Self::new(rng, EventKind::DeletionScheduled, user_id, at, data)
    }

    pub fn user_deleted(rng: &mut impl Random, user_id: &str, at: DateTime<Utc>) -> Self {
        let data = Self::only_id(user_id);
        Self::new(rng, EventKind::UserDeleted, user_id, at, data)
    }

    pub fn session_revoked(
        rng: &mut impl Random,
        user_id: &str,
        session_id: &str,
        at: DateTime<Utc>,
    ) -> Self {
        let data = Data {
            session_id: Some(session_id),
            ..Self::only_id(user_id)
        };
        Self::new(rng, EventKind::SessionRevoked, user_id, at, data)
    }

    pub fn sessions_revoked_all(rng: &mut impl Random, user_id: &str, at: DateTime<Utc>) -> Self {
        let data = Self::only_id(user_id);
        Self::new(rng, EventKind::SessionsRevokedAll, user_id, at, data)
    }
}

/// One queue message: one event for one receiver, so a receiver that is down
/// is retried (and dead-lettered) on its own, without repeating deliveries to
/// the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: String,
    pub endpoint: String,
    pub payload: String,
}

/// What a receiver's answer means for the delivery (the spec's "delivery
/// success and failure").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered,
    /// 410 Gone: the receiver wants no more events; retrying would not help.
    Gone,
    /// Anything else (3xx included: redirects are not followed): try again.
    Retry,
}

impl DeliveryOutcome {
    pub fn of_status(status: u16) -> Self {
        match status {
            200..=299 => Self::Delivered,
            410 => Self::Gone,
            _ => Self::Retry,
        }
    }
}

/// The symmetric signing secret: `whsec_` and the base64 of 24 to 64 random
/// bytes, as the spec serialises it.
#[derive(Clone)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

/// The spec's bounds on a symmetric secret, in bytes.
const SECRET_BYTES: std::ops::RangeInclusive<usize> = 24..=64;
pub const SECRET_PREFIX: &str = "whsec_";

impl WebhookSecret {
    /// `WEBHOOK_SECRET`, the secret receivers share.
    pub fn parse(raw: &str) -> Result<Self, String> {
        Self::parse_named(raw, "WEBHOOK_SECRET")
    }

    /// A secret read from the setting `name` (which the refusal names: never
    /// the value).
    pub fn parse_named(raw: &str, name: &str) -> Result<Self, String> {
        let encoded = raw.trim().strip_prefix(SECRET_PREFIX).ok_or_else(|| {
            format!("{name} must start with {SECRET_PREFIX} (Standard Webhooks format)")
        })?;
        let key = Base64::decode_vec(encoded)
            .map_err(|_| format!("{name} is not base64 after whsec_"))?;
        if !SECRET_BYTES.contains(&key.len()) {
            return Err(format!(
                "{name} must encode {} to {} bytes",
                SECRET_BYTES.start(),
                SECRET_BYTES.end()
            ));
        }
        Ok(Self { key })
    }

    /// `webhook-signature`: `v1,` and the base64 HMAC-SHA256 of
    /// `{id}.{timestamp}.{body}`.
    pub fn sign(&self, id: &str, timestamp_seconds: i64, body: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC accepts keys of any length");
        mac.update(format!("{id}.{timestamp_seconds}.").as_bytes());
        mac.update(body.as_bytes());
        format!("v1,{}", Base64::encode_string(&mac.finalize().into_bytes()))
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    struct Fixed;
    impl Random for Fixed {
        fn fill(&mut self, buf: &mut [u8]) {
            buf.fill(0xab);
        }
    }

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn signatures_match_the_reference_implementations() {
        // The test vector of the Standard Webhooks reference libraries: a
        // receiver's stock library must accept what we send.
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            secret.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                r#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_must_be_in_the_spec_format() {
        assert!(WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(WebhookSecret::parse("whsec_not base64!").is_err());
        // 16 bytes: under the spec's minimum of 24.
        assert!(WebhookSecret::parse("whsec_AAAAAAAAAAAAAAAAAAAAAA==").is_err());
        assert!(WebhookSecret::parse(&format!("whsec_{}", "A".repeat(88))).is_err());
    }

    #[test]
    fn payloads_are_thin_and_typed() {
        let email = EmailAddress::parse("john@example.com").unwrap();
        let created = Event::user_created(&mut Fixed, "u1", &email, at());
        assert_eq!(
            created.payload,
            r#"{"type":"user.created","timestamp":"2026-05-01T12:00:00.000Z","data":{"userId":"u1","email":"john@example.com"}}"#
        );
        assert_eq!(created.id, format!("evt_{}", "ab".repeat(16)));
        let deleted = Event::user_deleted(&mut Fixed, "u1", at());
        assert_eq!(
            deleted.payload,
            r#"{"type":"user.deleted","timestamp":"2026-05-01T12:00:00.000Z","data":{"userId":"u1"}}"#
        );
        let scheduled = Event::deletion_scheduled(&mut Fixed, "u1", at(), at());
        assert!(scheduled
            .payload
            .contains(r#""data":{"userId":"u1","scheduledFor":"2026-05-01T12:00:00.000Z"}"#));
        assert_eq!(
            Event::session_revoked(&mut Fixed, "u1", "s1", at()).payload,
            r#"{"type":"session.revoked","timestamp":"2026-05-01T12:00:00.000Z","data":{"userId":"u1","sessionId":"s1"}}"#
        );
        assert_eq!(
            Event::sessions_revoked_all(&mut Fixed, "u1", at())
                .kind
                .as_str(),
            "session.revoked_all"
        );
        assert_eq!(
            Event::registration_completed(&mut Fixed, "u1", at())
                .kind
                .as_str(),
            "user.registration_completed"
        );
    }

    #[test]
    fn only_2xx_is_delivered_and_410_stops() {
        assert_eq!(DeliveryOutcome::of_status(204), DeliveryOutcome::Delivered);
        assert_eq!(DeliveryOutcome::of_status(301), DeliveryOutcome::Retry);
        assert_eq!(DeliveryOutcome::of_status(500), DeliveryOutcome::Retry);
        assert_eq!(DeliveryOutcome::of_status(410), DeliveryOutcome::Gone);
    }
}
