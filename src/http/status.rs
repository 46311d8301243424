//! The HTTP status of each error: a fact of the edge, not of the rules.

use crate::domain::error::AppError;

/// The status an error answers with (the contract documents 400, 404, 409
/// for the login routes; the rest follow HTTP's meanings).
pub fn of(err: &AppError) -> u16 {
    match err {
        AppError::Validation(_) | AppError::WrongCode { .. } | AppError::UnsupportedGrantType => {
            400
        }
        AppError::Unauthorized(_) | AppError::InvalidClient { .. } => 401,
        AppError::ChallengeRequired | AppError::StepUpRequired => 403,
        AppError::RouteNotFound | AppError::NoPendingCode | AppError::SessionNotFound => 404,
        AppError::MethodNotAllowed { .. } => 405,
        AppError::Conflict { .. } => 409,
        AppError::PayloadTooLarge { .. } => 413,
        AppError::UnsupportedMediaType => 415,
        AppError::TooManyAttempts | AppError::RateLimited { .. } => 429,
        AppError::Misconfigured(_) | AppError::Internal(_) => 500,
        AppError::EmailRejected(_) => 502,
        AppError::Unavailable { .. } | AppError::Unhealthy { .. } => 503,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_errors_map_to_documented_statuses() {
        assert_eq!(of(&AppError::validation("x")), 400);
        assert_eq!(of(&AppError::WrongCode { attempts_left: 2 }), 400);
        assert_eq!(of(&AppError::NoPendingCode), 404);
        assert_eq!(of(&AppError::SessionNotFound), 404);
        assert_eq!(
            of(&AppError::Conflict {
                code: "x",
                message: "x"
            }),
            409
        );
        assert_eq!(of(&AppError::TooManyAttempts), 429);
        assert_eq!(of(&AppError::internal("cause")), 500);
    }
}
