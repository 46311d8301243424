//! The service's one error type. `status()` and `public_messages()` are the whole
//! mapping to HTTP; `crate::http::respond` turns it into the envelope.

use std::fmt;

/// The stable message of a 403 on send-otp-email: apps match it to show the
/// Turnstile widget (documented in `api/openapi.json`).
pub const CHALLENGE_REQUIRED: &str =
    "Challenge required: solve the Turnstile challenge and send its token as turnstileToken";

/// The stable message of a 403 on scheduling a deletion without a code.
pub const STEP_UP_REQUIRED: &str =
    "Confirm with a code: request one for the account's address with send-otp-email and send it as code";

/// Everything that can go wrong while serving a request.
///
/// Expected failures (the caller did something wrong) carry the messages we show;
/// unexpected ones carry their cause for the log, which is never sent to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppError {
    /// 400: the request is malformed; one message per problem.
    Validation(Vec<String>),
    /// 400: the code does not match the pending one.
    WrongCode { attempts_left: u32 },
    /// 401: missing, malformed, expired or foreign credentials.
    Unauthorized(&'static str),
    /// 401 (token endpoint only): the client tried to authenticate, or named
    /// a client this service does not know. Clients are public: they send at
    /// most `client_id`. `via_header`: the attempt was an `Authorization`
    /// header, which RFC 6749 §5.2 answers with a `WWW-Authenticate` challenge.
    InvalidClient { via_header: bool },
    /// 400 (token endpoint only): a `grant_type` the endpoint does not take.
    UnsupportedGrantType,
    /// 403: the address is under sustained guessing; sending a code to it
    /// needs a solved Turnstile challenge (`turnstileToken`).
    ChallengeRequired,
    /// 403: the step needs a fresh code mailed to the account's address, on
    /// top of the access token (scheduling a deletion).
    StepUpRequired,
    /// 404: no such route.
    RouteNotFound,
    /// 404: no code is pending for the address (never sent, expired or used).
    NoPendingCode,
    /// 404: the caller has no live session by that id (whoever else may).
    SessionNotFound,
    /// 405: the path exists, the method does not.
    MethodNotAllowed { allow: Vec<&'static str> },
    /// 409: the resource exists or cannot change in its current state;
    /// `code` says which state.
    Conflict {
        code: &'static str,
        message: &'static str,
    },
    /// 413: the body is larger than the service accepts.
    PayloadTooLarge { limit: usize },
    /// 415: the body is not JSON.
    UnsupportedMediaType,
    /// 429: every attempt on the pending code is spent.
    TooManyAttempts,
    /// 429: a rate limit; come back after `retry_after` seconds. `code` says
    /// which limit (`Refusal::code`).
    RateLimited {
        code: &'static str,
        message: &'static str,
        retry_after: u32,
    },
    /// 500: the deployment is missing or has malformed configuration.
    Misconfigured(String),
    /// 500: a bug or an unexpected storage failure.
    Internal(String),
    /// 502: the email provider answered with an error.
    EmailRejected(String),
    /// 503: a dependency could not be reached.
    Unavailable { what: &'static str, cause: String },
    /// 503: `/health` found the service unable to serve; `problems` are shown
    /// (they name settings and dependencies, never values), `cause` is logged.
    Unhealthy {
        problems: Vec<String>,
        cause: String,
    },
}

impl AppError {
    pub fn validation(message: impl Into<String>) -> Self {
        Self::Validation(vec![message.into()])
    }

    pub fn internal(cause: impl fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    /// A short name of the variant, for the request log's `outcome`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Validation(_) => "validation",
            Self::WrongCode { .. } => "wrong_code",
            Self::Unauthorized(_) => "unauthorized",
            Self::InvalidClient { .. } => "invalid_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::ChallengeRequired => "challenge_required",
            Self::StepUpRequired => "step_up_required",
            Self::RouteNotFound => "route_not_found",
            Self::NoPendingCode => "no_pending_code",
            Self::SessionNotFound => "session_not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::Conflict { .. } => "conflict",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::TooManyAttempts => "too_many_attempts",
            Self::RateLimited { .. } => "rate_limited",
            Self::Misconfigured(_) => "misconfigured",
            Self::Internal(_) => "internal",
            Self::EmailRejected(_) => "email_rejected",
            Self::Unavailable { .. } => "unavailable",
            Self::Unhealthy { .. } => "unhealthy",
        }
    }

    /// The stable code a client branches on (the `Error-Code` header,
    /// enumerated in `api/openapi.json` as `ErrorCode`): one per kind of
    /// error, never the sentence. A failure of ours is `internal` whatever
    /// its kind, so the code reveals nothing of the deployment.
    pub fn code(&self) -> &'static str {
        match self {
            Self::RateLimited { code, .. } | Self::Conflict { code, .. } => code,
            Self::Misconfigured(_) => "internal",
            other => other.kind(),
        }
    }

    /// What the caller is told. Never includes an internal cause.
    pub fn public_messages(&self) -> Vec<String> {
        match self {
            Self::Validation(messages) => messages.clone(),
            Self::WrongCode { attempts_left: 0 } => {
                vec!["Invalid code; no attempts left, request a new code".into()]
            }
            Self::WrongCode { attempts_left } => {
                vec![format!("Invalid code; {attempts_left} attempt(s) left")]
            }
            Self::Unauthorized(why) => vec![(*why).into()],
            Self::InvalidClient { .. } => vec![
                "Unknown client, or client authentication attempted: clients are public and send at most client_id"
                    .into(),
            ],
            Self::UnsupportedGrantType => vec![
                "grant_type must be urn:allmine:params:oauth:grant-type:email-otp or refresh_token"
                    .into(),
            ],
            Self::ChallengeRequired => vec![CHALLENGE_REQUIRED.into()],
            Self::StepUpRequired => vec![STEP_UP_REQUIRED.into()],
            Self::RouteNotFound => vec!["Resource not found".into()],
            Self::NoPendingCode => {
                vec![
                    "No pending code for this email; it expired, was used, or was never sent"
                        .into(),
                ]
            }
            Self::SessionNotFound => vec!["No such session".into()],
            Self::MethodNotAllowed { allow } => {
                vec![format!("Method not allowed; use {}", allow.join(", "))]
            }
            Self::Conflict { message, .. } => vec![(*message).into()],
            Self::PayloadTooLarge { limit } => {
                vec![format!("Request body must be at most {limit} bytes")]
            }
            Self::UnsupportedMediaType => vec!["Content-Type must be application/json".into()],
            Self::TooManyAttempts => {
                vec!["Too many wrong attempts for this code; request a new code".into()]
            }
            Self::RateLimited { message, .. } => vec![(*message).into()],
            Self::Misconfigured(_) | Self::Internal(_) => vec!["Internal server error".into()],
            Self::EmailRejected(_) => vec!["The email could not be sent; try again later".into()],
            Self::Unavailable { what, .. } => vec![format!("{what} is unavailable")],
            Self::Unhealthy { problems, .. } => problems.clone(),
        }
    }

    /// The cause worth logging, for the failures that are ours rather than the caller's.
    pub fn log_cause(&self) -> Option<String> {
        match self {
            Self::Misconfigured(cause) => Some(format!("misconfigured: {cause}")),
            Self::Internal(cause) => Some(cause.clone()),
            Self::EmailRejected(cause) => Some(format!("email provider: {cause}")),
            Self::Unavailable { what, cause } => Some(format!("{what}: {cause}")),
            Self::Unhealthy { cause, .. } => Some(cause.clone()),
            _ => None,
        }
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind(), self.public_messages().join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_causes_are_never_shown_to_the_caller() {
        let err = AppError::internal("D1_ERROR: no such table: users");
        assert_eq!(err.public_messages(), vec!["Internal server error"]);
        assert!(err.log_cause().unwrap().contains("no such table"));
    }

    #[test]
    fn a_caller_error_has_no_cause_to_log() {
        assert_eq!(AppError::validation("x").log_cause(), None);
    }

    /// Every code an answer can carry is in the contract's `ErrorCode`
    /// enumeration (the e2e suite checks each answer it sees against it too).
    #[test]
    fn every_code_is_in_the_documented_enumeration() {
        use crate::domain::limits::Refusal;
        let document: serde_json::Value =
            serde_json::from_str(include_str!("../../api/openapi.json")).unwrap();
        let documented: Vec<&str> = document["components"]["schemas"]["ErrorCode"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        let refusals = [
            Refusal::Cooldown { until: 0 },
            Refusal::HourlyCap { until: 0 },
            Refusal::DailyCap { until: 0 },
            Refusal::LockedOut { until: 0 },
            Refusal::IpFlood {
                retry_after_seconds: 1,
            },
            Refusal::MailCeiling {
                retry_after_seconds: 1,
            },
        ];
        let mut errors = vec![
            AppError::validation("x"),
            AppError::WrongCode { attempts_left: 1 },
            AppError::Unauthorized("x"),
            AppError::InvalidClient { via_header: true },
            AppError::UnsupportedGrantType,
            AppError::ChallengeRequired,
            AppError::StepUpRequired,
            AppError::RouteNotFound,
            AppError::NoPendingCode,
            AppError::SessionNotFound,
            AppError::MethodNotAllowed { allow: vec![] },
            AppError::PayloadTooLarge { limit: 1 },
            AppError::UnsupportedMediaType,
            AppError::TooManyAttempts,
            AppError::Misconfigured("x".into()),
            AppError::internal("x"),
            AppError::EmailRejected("x".into()),
            AppError::Unavailable {
                what: "x",
                cause: "x".into(),
            },
            AppError::Unhealthy {
                problems: vec![],
                cause: "x".into(),
            },
        ];
        errors.extend(refusals.map(|r| r.into_error(0)));
        for err in &errors {
            assert!(
                documented.contains(&err.code()),
                "{} is not documented",
                err.code()
            );
        }
        assert_eq!(AppError::Misconfigured("x".into()).code(), "internal");
    }
}
