//! Request bodies of the auth endpoints, parsed once at the border into typed values.
//!
//! Rule for unknown fields: they are ignored, so clients may send extra context
//! (device info, app version) without breaking; every known field is checked.

use serde_json::Value;

use super::email::EmailAddress;
use super::error::AppError;
use super::fields::{raw_string, Fields};
use super::login_id::LoginId;
use super::otp::OtpCode;
use super::otp_message::Locale;

/// Tokens are a few hundred bytes; anything far longer is not one of ours.
pub const MAX_TOKEN_LEN: usize = 4096;

/// `POST /api/v1/auth/send-otp-email`
#[derive(Debug)]
pub struct SendOtpRequest {
    pub email: EmailAddress,
    pub locale: Locale,
    /// A Turnstile token, when the app was asked for a challenge (403).
    pub turnstile_token: Option<String>,
    /// The login id an earlier send returned: a resend keeps it, so the code
    /// of either mail signs in with it.
    pub login_id: Option<LoginId>,
}

/// `POST /api/v1/auth/verify-otp-email`
#[derive(Debug)]
pub struct VerifyOtpRequest {
    pub email: EmailAddress,
    pub code: OtpCode,
    /// The login id the send returned: the attempt counts on that login alone.
    pub login_id: Option<LoginId>,
}

/// `POST /api/v1/users/me/deletion`: the step-up that confirms it.
#[derive(Debug)]
pub struct ScheduleDeletionRequest {
    /// A code mailed to the account's address (`send-otp-email`).
    pub code: OtpCode,
    /// The language of the notice mailed once the deletion is scheduled.
    pub locale: Locale,
    /// The login id that code's send returned, counted as verify counts it.
    pub login_id: Option<LoginId>,
}

/// `POST /api/v1/auth/refresh-token` and the body of `POST /api/v1/auth/logout`.
#[derive(Debug)]
pub struct RefreshTokenRequest {
    pub refresh_token: String,
}

/// `POST /api/v1/auth/logout`
#[derive(Debug)]
pub struct LogoutRequest {
    pub refresh_token: Option<String>,
    /// Revoke every session of the user, not only this one.
    pub all_sessions: bool,
}

fn email(value: &Value) -> Result<EmailAddress, String> {
    raw_string(|s| EmailAddress::parse(s).map_err(|e| e.0.to_string()))(value)
}

fn locale(value: &Value) -> Result<Locale, String> {
    raw_string(|s| {
        if s.len() > 35 {
            Err("must be at most 35 characters".to_string())
        } else {
            Ok(Locale::from_tag(s))
        }
    })(value)
}

fn login_id(value: &Value) -> Result<LoginId, String> {
    raw_string(LoginId::parse)(value)
}

fn token(value: &Value) -> Result<String, String> {
    raw_string(|s| {
        if s.is_empty() || s.len() > MAX_TOKEN_LEN {
            Err("is not a token".to_string())
        } else {
            Ok(s.to_owned())
        }
    })(value)
}

impl SendOtpRequest {
    pub fn parse(body: &[u8]) -> Result<Self, AppError> {
        let mut fields = Fields::parse(body)?;
        let email = fields.required("email", &email);
        let locale = fields
            .optional("locale", &locale)
            .map(Option::unwrap_or_default);
        let turnstile_token = fields.optional("turnstileToken", &token);
        let login_id = fields.optional("loginId", &login_id);
        let (((email, locale), turnstile_token), login_id) =
            fields.finish(email.zip(locale).zip(turnstile_token).zip(login_id))?;
        Ok(Self {
            email,
            locale,
            turnstile_token,
            login_id,
        })
    }
}

impl VerifyOtpRequest {
    pub fn parse(body: &[u8], code_length: u8) -> Result<Self, AppError> {
        let mut fields = Fields::parse(body)?;
        let email = fields.required("email", &email);
        let code = fields.required("code", &raw_string(|s| OtpCode::parse(s, code_length)));
        let login_id = fields.optional("loginId", &login_id);
        let ((email, code), login_id) = fields.finish(email.zip(code).zip(login_id))?;
        Ok(Self {
            email,
            code,
            login_id,
        })
    }
}

impl ScheduleDeletionRequest {
    /// `body`: `None` when the request has none. No body, or no `code`, is
    /// the step-up missing (403 `step_up_required`), which a client answers
    /// by asking for a code; a code that is not one is a 400 like verify's.
    pub fn parse(body: Option<&[u8]>, code_length: u8) -> Result<Self, AppError> {
        let mut fields = Fields::parse(body.ok_or(AppError::StepUpRequired)?)?;
        if fields.absent("code") {
            return Err(AppError::StepUpRequired);
        }
        let code = fields.required("code", &raw_string(|s| OtpCode::parse(s, code_length)));
        let locale = fields
            .optional("locale", &locale)
            .map(Option::unwrap_or_default);
        let login_id = fields.optional("loginId", &login_id);
        let ((code, locale), login_id) = fields.finish(code.zip(locale).zip(login_id))?;
        Ok(Self {
            code,
            locale,
            login_id,
        })
    }
}

impl RefreshTokenRequest {
    pub fn parse(body: &[u8]) -> Result<Self, AppError> {
        let mut fields = Fields::parse(body)?;
        let refresh_token = fields.required("refreshToken", &token);
        let refresh_token = fields.finish(refresh_token)?;
        Ok(Self { refresh_token })
    }
}

impl LogoutRequest {
    pub fn parse(body: &[u8]) -> Result<Self, AppError> {
        let mut fields = Fields::parse(body)?;
        let refresh_token = fields.optional("refreshToken", &token);
        let all = fields
            .optional("allSessions", &super::fields::boolean)
            .map(|b| b.unwrap_or(false));
        let (refresh_token, all_sessions) = fields.finish(refresh_token.zip(all))?;
        if refresh_token.is_none() && !all_sessions {
            return Err(AppError::validation(
                "refreshToken is required unless allSessions is true",
            ));
        }
        Ok(Self {
            refresh_token,
            all_sessions,
        })
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
    fn a_deletion_without_a_code_asks_for_the_step_up_and_a_bad_code_is_a_400() {
        for missing in [
            None,
            Some(&b"{}"[..]),
            Some(br#"{"code":null,"locale":"tr"}"#),
        ] {
            assert_eq!(
                ScheduleDeletionRequest::parse(missing, 6).unwrap_err(),
                AppError::StepUpRequired,
                "{missing:?}"
            );
        }
        let found = problems(ScheduleDeletionRequest::parse(
            Some(br#"{"code":"12345","locale":7}"#),
            6,
        ));
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(ScheduleDeletionRequest::parse(Some(b"[]"), 6).is_err());
        let req = ScheduleDeletionRequest::parse(Some(br#"{"code":"042917","locale":"tr-TR"}"#), 6)
            .unwrap();
        assert_eq!(req.code.expose(), "042917");
        assert_eq!(req.locale.tag(), "tr");
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
        assert_eq!(req.locale, Locale::default());
    }

    #[test]
    fn locale_is_read_and_checked() {
        let req = SendOtpRequest::parse(br#"{"email":"a@b.co","locale":"tr-TR"}"#).unwrap();
        assert_eq!(req.locale.tag(), "tr");
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

    #[test]
    fn a_login_id_is_optional_and_checked() {
        let id = "0123456789abcdef0123456789abcdef";
        let body = format!(r#"{{"email":"a@b.co","code":"123456","loginId":"{id}"}}"#);
        let req = VerifyOtpRequest::parse(body.as_bytes(), 6).unwrap();
        assert_eq!(req.login_id.unwrap().expose(), id);
        let found = problems(VerifyOtpRequest::parse(
            br#"{"email":"a@b.co","code":"123456","loginId":"x"}"#,
            6,
        ));
        assert_eq!(found, vec!["loginId must be the loginId a send returned"]);
        let send = SendOtpRequest::parse(br#"{"email":"a@b.co","loginId":null}"#).unwrap();
        assert!(send.login_id.is_none());
    }

    #[test]
    fn logout_needs_a_token_or_all_sessions() {
        assert!(LogoutRequest::parse(b"{}").is_err());
        let all = LogoutRequest::parse(br#"{"allSessions":true}"#).unwrap();
        assert!(all.all_sessions && all.refresh_token.is_none());
        let one = LogoutRequest::parse(br#"{"refreshToken":"a.b.c"}"#).unwrap();
        assert_eq!(one.refresh_token.as_deref(), Some("a.b.c"));
        assert!(LogoutRequest::parse(br#"{"allSessions":"yes"}"#).is_err());
    }

    #[test]
    fn refresh_token_is_required_and_bounded() {
        assert_eq!(
            problems(RefreshTokenRequest::parse(b"{}")),
            vec!["refreshToken is required"]
        );
        let long = format!(r#"{{"refreshToken":"{}"}}"#, "a".repeat(5000));
        assert_eq!(
            problems(RefreshTokenRequest::parse(long.as_bytes())),
            vec!["refreshToken is not a token"]
        );
    }
}
