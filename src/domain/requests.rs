//! Request bodies, parsed once at the border into typed values.
//!
//! Rule for unknown fields: they are ignored, so clients may send extra context
//! (device info, app version) without breaking; every known field is checked.

use serde_json::{Map, Value};

use super::email::EmailAddress;
use super::error::AppError;
use super::otp::OtpCode;
use super::otp_message::Locale;

/// `POST /api/v1/auth/send-otp-email`
#[derive(Debug)]
pub struct SendOtpRequest {
    pub email: EmailAddress,
    pub locale: Locale,
}

/// `POST /api/v1/auth/verify-otp-email`
#[derive(Debug)]
pub struct VerifyOtpRequest {
    pub email: EmailAddress,
    pub code: OtpCode,
}

impl SendOtpRequest {
    pub fn parse(body: &[u8]) -> Result<Self, AppError> {
        let mut fields = Fields::parse(body)?;
        let email = fields.email();
        let locale = fields
            .optional_str("locale", 35)
            .map(|tag| tag.as_deref().map_or(Locale::default(), Locale::from_tag));
        let (email, locale) = fields.finish(email.zip(locale))?;
        Ok(Self { email, locale })
    }
}

impl VerifyOtpRequest {
    pub fn parse(body: &[u8], code_length: u8) -> Result<Self, AppError> {
        let mut fields = Fields::parse(body)?;
        let email = fields.email();
        let code = fields
            .required_str("code")
            .and_then(|raw| fields.check(OtpCode::parse(&raw, code_length)));
        let (email, code) = fields.finish(email.zip(code))?;
        Ok(Self { email, code })
    }
}

/// A JSON object body and the problems found in it so far, so that one answer
/// lists every bad field rather than the first.
struct Fields {
    object: Map<String, Value>,
    problems: Vec<String>,
}

impl Fields {
    fn parse(body: &[u8]) -> Result<Self, AppError> {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(object)) => Ok(Self {
                object,
                problems: Vec::new(),
            }),
            Ok(_) => Err(AppError::validation("body must be a JSON object")),
            Err(_) => Err(AppError::validation("body must be valid JSON")),
        }
    }

    fn required_str(&mut self, name: &str) -> Option<String> {
        match self.object.get(name) {
            Some(Value::String(s)) => Some(s.clone()),
            None | Some(Value::Null) => {
                self.problems.push(format!("{name} is required"));
                None
            }
            Some(_) => {
                self.problems.push(format!("{name} must be a string"));
                None
            }
        }
    }

    /// `Some(None)` when absent, `None` when present but invalid.
    fn optional_str(&mut self, name: &str, max_len: usize) -> Option<Option<String>> {
        match self.object.get(name) {
            None | Some(Value::Null) => Some(None),
            Some(Value::String(s)) if s.len() <= max_len => Some(Some(s.clone())),
            Some(Value::String(_)) => {
                self.problems
                    .push(format!("{name} must be at most {max_len} characters"));
                None
            }
            Some(_) => {
                self.problems.push(format!("{name} must be a string"));
                None
            }
        }
    }

    fn email(&mut self) -> Option<EmailAddress> {
        let raw = self.required_str("email")?;
        let parsed = EmailAddress::parse(&raw).map_err(|e| e.0.to_string());
        self.check(parsed)
    }

    fn check<T>(&mut self, result: Result<T, String>) -> Option<T> {
        result.map_err(|problem| self.problems.push(problem)).ok()
    }

    /// The parsed values, or every problem found. A field is `None` only after
    /// it pushed a problem, so the `Internal` arm is unreachable by construction.
    fn finish<T>(self, parsed: Option<T>) -> Result<T, AppError> {
        match parsed {
            Some(value) if self.problems.is_empty() => Ok(value),
            _ if !self.problems.is_empty() => Err(AppError::Validation(self.problems)),
            _ => Err(AppError::internal(
                "a request field failed without a message",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(result: Result<impl std::fmt::Debug, AppError>) -> Vec<String> {
        match result {
            Err(AppError::Validation(problems)) => problems,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn verify_body_becomes_typed_values() {
        let req = VerifyOtpRequest::parse(br#"{"email":" A@B.co ","code":"1234"}"#, 4).unwrap();
        assert_eq!(req.email.as_str(), "a@b.co");
        assert_eq!(req.code.expose(), "1234");
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let found = problems(VerifyOtpRequest::parse(br#"{"email":"nope","code":12}"#, 6));
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("email"));
        assert_eq!(found[1], "code must be a string");
    }

    #[test]
    fn missing_fields_are_named() {
        let found = problems(VerifyOtpRequest::parse(b"{}", 6));
        assert_eq!(found, vec!["email is required", "code is required"]);
    }

    #[test]
    fn non_object_and_non_json_bodies_are_rejected() {
        for body in [&b"[]"[..], b"\"x\"", b"null", b"", b"{", b"\xff\xfe"] {
            assert_eq!(problems(SendOtpRequest::parse(body)).len(), 1);
        }
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let req = SendOtpRequest::parse(br#"{"email":"a@b.co","device":"ios"}"#).unwrap();
        assert_eq!(req.locale, Locale::En);
    }

    #[test]
    fn locale_is_read_and_checked() {
        let req = SendOtpRequest::parse(br#"{"email":"a@b.co","locale":"tr-TR"}"#).unwrap();
        assert_eq!(req.locale, Locale::Tr);
        let found = problems(SendOtpRequest::parse(br#"{"email":"a@b.co","locale":7}"#));
        assert_eq!(found, vec!["locale must be a string"]);
    }

    #[test]
    fn wrong_code_length_is_a_validation_error() {
        let found = problems(VerifyOtpRequest::parse(
            br#"{"email":"a@b.co","code":"12345"}"#,
            6,
        ));
        assert_eq!(found, vec!["code must be exactly 6 digits"]);
    }
}
