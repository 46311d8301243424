//! RFC 6749's token endpoint (`POST /oauth/token`) as pure rules: the form it
//! reads, the answer it gives, and the one mapping of `AppError` to the
//! RFC 6749 §5.2 error codes. The grants themselves are the envelope
//! endpoints' own cores (verify-otp-email, refresh-token); only the way in and
//! out differs.

use std::collections::BTreeMap;

use serde::Serialize;

use super::discovery::{EMAIL_OTP_GRANT_TYPE, REFRESH_TOKEN_GRANT_TYPE};
use super::email::EmailAddress;
use super::error::AppError;
use super::login_id::LoginId;
use super::otp::OtpCode;
use super::requests::{RefreshTokenRequest, VerifyOtpRequest, MAX_TOKEN_LEN};

/// Parameters a client uses to authenticate itself (RFC 6749 §2.3.1, RFC 7523);
/// clients here are public, so any of them is refused.
const CLIENT_CREDENTIALS: [&str; 3] =
    ["client_secret", "client_assertion", "client_assertion_type"];

/// A token request, past parsing.
#[derive(Debug)]
pub enum TokenRequest {
    /// `urn:allmine:params:oauth:grant-type:email-otp`: `email` and `code`.
    /// `login_id`, optional: the `loginId` the send returned.
    EmailOtp(VerifyOtpRequest),
    /// `refresh_token`.
    RefreshToken(RefreshTokenRequest),
}

/// What the endpoint checks a request against.
pub struct TokenRules<'a> {
    pub code_length: u8,
    /// The one client this deployment serves (`TOKEN_CLIENT_ID`).
    pub client_id: &'a str,
}

impl TokenRequest {
    /// `form`: the `application/x-www-form-urlencoded` body. `authorization`:
    /// whether the request carried an `Authorization` header.
    pub fn parse(
        form: &[u8],
        rules: &TokenRules<'_>,
        authorization: bool,
    ) -> Result<Self, AppError> {
        // Client authentication is checked first: RFC 6749 §5.2 names a failed
        // one whatever else is wrong with the request.
        if authorization {
            return Err(AppError::InvalidClient { via_header: true });
        }
        let params = parameters(form)?;
        if CLIENT_CREDENTIALS.iter().any(|p| params.contains_key(*p)) {
            return Err(AppError::InvalidClient { via_header: false });
        }
        if params
            .get("client_id")
            .is_some_and(|id| id != rules.client_id)
        {
            return Err(AppError::InvalidClient { via_header: false });
        }
        match params.get("grant_type").map(String::as_str) {
            None => Err(AppError::validation("grant_type is required")),
            Some(EMAIL_OTP_GRANT_TYPE) => {
                let email = required(&params, "email")
                    .and_then(|raw| EmailAddress::parse(raw).map_err(|e| format!("email {}", e.0)));
                let code = required(&params, "code").and_then(|raw| {
                    OtpCode::parse(raw, rules.code_length).map_err(|e| format!("code {e}"))
                });
                let login_id = params
                    .get("login_id")
                    .map(|raw| LoginId::parse(raw).map_err(|e| format!("login_id {e}")))
                    .transpose();
                match (email, code, login_id) {
                    (Ok(email), Ok(code), Ok(login_id)) => Ok(Self::EmailOtp(VerifyOtpRequest {
                        email,
                        code,
                        login_id,
                    })),
                    (email, code, login_id) => Err(AppError::Validation(
                        [email.err(), code.err(), login_id.err()]
                            .into_iter()
                            .flatten()
                            .collect(),
                    )),
                }
            }
            Some(REFRESH_TOKEN_GRANT_TYPE) => {
                let token = required(&params, "refresh_token").and_then(|raw| {
                    if raw.len() > MAX_TOKEN_LEN {
                        Err("refresh_token is not a token".to_string())
                    } else {
                        Ok(raw.to_owned())
                    }
                });
                token
                    .map(|refresh_token| Self::RefreshToken(RefreshTokenRequest { refresh_token }))
                    .map_err(AppError::validation)
            }
            Some(_) => Err(AppError::UnsupportedGrantType),
        }
    }
}

fn required<'a>(params: &'a BTreeMap<String, String>, name: &str) -> Result<&'a str, String> {
    params
        .get(name)
        .map(String::as_str)
        .ok_or_else(|| format!("{name} is required"))
}

/// The form's parameters. RFC 6749 §3.2: a parameter sent without a value
/// is omitted, and none may be repeated.
fn parameters(form: &[u8]) -> Result<BTreeMap<String, String>, AppError> {
    let mut params = BTreeMap::new();
    for (name, value) in form_urlencoded::parse(form) {
        if value.is_empty() {
            continue;
        }
        if params
            .insert(name.to_string(), value.into_owned())
            .is_some()
        {
            return Err(AppError::validation(format!("{name} is repeated")));
        }
    }
    Ok(params)
}

/// RFC 6749 §5.1's success. `scope` is left out: no scopes are issued yet.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub refresh_token: String,
    /// The access token's scope (RFC 6749 §5.1: sent, as it is configured).
    pub scope: String,
}

/// RFC 6749 §5.2's error body.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct OAuthError {
    pub error: &'static str,
    pub error_description: String,
}

/// Rate limits: RFC 6749 has no code for them. `slow_down` (RFC 8628 §3.5,
/// "poll less often") says the same thing to an OAuth client, and comes with
/// the 429 and `Retry-After` the envelope endpoints send.
pub const RATE_LIMITED: &str = "slow_down";

impl From<&AppError> for OAuthError {
    /// The one mapping of the service's errors to RFC 6749 §5.2 (and, for our
    /// own failures, §4.1.2.1's `server_error` and `temporarily_unavailable`).
    fn from(err: &AppError) -> Self {
        let error = match err {
            AppError::Validation(_)
            | AppError::PayloadTooLarge { .. }
            | AppError::UnsupportedMediaType
            | AppError::RouteNotFound
            | AppError::SessionNotFound
            | AppError::MethodNotAllowed { .. } => "invalid_request",
            AppError::InvalidClient { .. } => "invalid_client",
            AppError::UnsupportedGrantType => "unsupported_grant_type",
            // The grant (the code, or the refresh token) is wrong, used,
            // expired, spent or revoked; or its account can no longer sign in.
            AppError::WrongCode { .. }
            | AppError::NoPendingCode
            | AppError::TooManyAttempts
            | AppError::Unauthorized(_)
            | AppError::Conflict { .. } => "invalid_grant",
            // Only send-otp-email asks for a challenge, and only scheduling a
            // deletion for a step-up; a token request never does either.
            AppError::ChallengeRequired | AppError::StepUpRequired => "invalid_grant",
            AppError::RateLimited { .. } => RATE_LIMITED,
            AppError::Misconfigured(_) | AppError::Internal(_) | AppError::EmailRejected(_) => {
                "server_error"
            }
            AppError::Unavailable { .. } | AppError::Unhealthy { .. } => "temporarily_unavailable",
        };
        let error_description = match err {
            AppError::UnsupportedMediaType => {
                "Content-Type must be application/x-www-form-urlencoded".to_string()
            }
            other => other.public_messages().join("; "),
        };
        Self {
            error,
            error_description,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: TokenRules<'static> = TokenRules {
        code_length: 6,
        client_id: "allmine-app",
    };

    fn parse(form: &str) -> Result<TokenRequest, AppError> {
        TokenRequest::parse(form.as_bytes(), &RULES, false)
    }

    #[test]
    fn the_email_code_grant_reads_email_code_and_login_id() {
        let form = "grant_type=urn%3Aallmine%3Aparams%3Aoauth%3Agrant-type%3Aemail-otp\
                    &email=+A%40B.co&code=123456&login_id=0123456789abcdef0123456789abcdef\
                    &client_id=allmine-app";
        match parse(form).unwrap() {
            TokenRequest::EmailOtp(req) => {
                assert_eq!(req.email.as_str(), "a@b.co");
                assert_eq!(req.code.expose(), "123456");
                let id = req.login_id.unwrap();
                assert_eq!(id.expose(), "0123456789abcdef0123456789abcdef");
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&form.replace("login_id=0123", "login_id=x")).is_err());
    }

    #[test]
    fn the_refresh_grant_reads_the_token() {
        match parse("grant_type=refresh_token&refresh_token=abc.def.ghi").unwrap() {
            TokenRequest::RefreshToken(req) => assert_eq!(req.refresh_token, "abc.def.ghi"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_requests_are_invalid_requests() {
        for form in [
            "",
            "email=a%40b.co",
            "grant_type=refresh_token",
            "grant_type=refresh_token&refresh_token=",
            "grant_type=refresh_token&refresh_token=a&refresh_token=b",
            "grant_type=urn%3Aallmine%3Aparams%3Aoauth%3Agrant-type%3Aemail-otp&email=nope&code=12",
        ] {
            let err = parse(form).unwrap_err();
            assert_eq!(
                OAuthError::from(&err).error,
                "invalid_request",
                "{form}: {err:?}"
            );
        }
        let both = parse(
            "grant_type=urn%3Aallmine%3Aparams%3Aoauth%3Agrant-type%3Aemail-otp&email=nope&code=12",
        );
        assert!(matches!(both, Err(AppError::Validation(p)) if p.len() == 2));
    }

    #[test]
    fn other_grants_are_unsupported() {
        for grant in ["password", "authorization_code", "client_credentials"] {
            let err = parse(&format!("grant_type={grant}")).unwrap_err();
            assert_eq!(OAuthError::from(&err).error, "unsupported_grant_type");
        }
    }

    #[test]
    fn any_client_authentication_or_a_foreign_client_is_refused() {
        let form = "grant_type=refresh_token&refresh_token=t";
        let header = TokenRequest::parse(form.as_bytes(), &RULES, true).unwrap_err();
        assert_eq!(header, AppError::InvalidClient { via_header: true });
        for extra in [
            "&client_secret=s",
            "&client_assertion=x&client_assertion_type=y",
            "&client_id=someone-else",
        ] {
            let err = parse(&format!("{form}{extra}")).unwrap_err();
            assert_eq!(
                err,
                AppError::InvalidClient { via_header: false },
                "{extra}"
            );
            assert_eq!(OAuthError::from(&err).error, "invalid_client");
        }
        // Authentication is judged before the grant.
        let err = parse("grant_type=password&client_secret=s").unwrap_err();
        assert_eq!(OAuthError::from(&err).error, "invalid_client");
    }

    #[test]
    fn refused_codes_and_tokens_are_invalid_grants_and_limits_slow_down() {
        for err in [
            AppError::WrongCode { attempts_left: 2 },
            AppError::NoPendingCode,
            AppError::TooManyAttempts,
            AppError::Unauthorized("x"),
        ] {
            assert_eq!(OAuthError::from(&err).error, "invalid_grant", "{err:?}");
        }
        let limited = AppError::RateLimited {
            code: "ip_flood",
            message: "Too many requests",
            retry_after: 3,
        };
        assert_eq!(
            OAuthError::from(&limited),
            OAuthError {
                error: "slow_down",
                error_description: "Too many requests".into()
            }
        );
        let ours = OAuthError::from(&AppError::internal("D1_ERROR: secret detail"));
        assert_eq!(ours.error, "server_error");
        assert!(!ours.error_description.contains("D1"));
    }
}
