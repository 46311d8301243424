//! Refresh-token rotation: what a refresh that did not rotate means.
//!
//! Each refresh retires the presented token and makes a new one current. A
//! retired token presented again usually means it was copied, and the whole
//! session is revoked. But two tabs refreshing at once, or a client retrying
//! after the answer was lost, also present the token that was retired a moment
//! ago. Within a short grace window after the rotation, that token is answered
//! with the session's *current* token rather than a new one: both callers end
//! up holding the one token the session accepts next, so there is still a
//! single live chain, and nothing is revoked.

use chrono::{DateTime, Duration, Utc};

/// The default of `REFRESH_REUSE_GRACE_SECONDS`.
pub const DEFAULT_GRACE_SECONDS: u32 = 10;
/// The longest grace window allowed: a copied token used within it is not
/// detected, so it stays short.
pub const MAX_GRACE_SECONDS: u32 = 60;

/// A session as a refresh that did not rotate found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionState {
    pub user_id: String,
    /// The token the session accepts next.
    pub refresh_jti: String,
    /// The token the last rotation retired, if any.
    pub previous_refresh_jti: Option<String>,
    /// When that rotation happened.
    pub refreshed_at: Option<DateTime<Utc>>,
    /// Not revoked and not expired.
    pub live: bool,
}

/// What a refresh that did not rotate the session amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaleRefresh {
    /// The token retired by the last rotation, within the grace window: answer
    /// with the current token (`jti`), rotate nothing.
    Grace { current_jti: String },
    /// A retired token outside the grace window: it was copied. Revoke.
    Reuse,
    /// No live session of this user knows the token: refuse, change nothing.
    Refused,
}

/// Classifies a refresh of `presented_jti` by `user_id` that did not rotate
/// `session` (absent: no such session).
pub fn classify(
    session: Option<&SessionState>,
    user_id: &str,
    presented_jti: &str,
    now: DateTime<Utc>,
    grace_seconds: u32,
) -> StaleRefresh {
    let Some(session) = session else {
        return StaleRefresh::Refused;
    };
    // An ended session needs no revoking; a token of another user's session
    // (a forged `sub` would not pass the signature) or the current token itself
    // (which rotates unless the session ended) is not a replay either.
    if !session.live || session.user_id != user_id || session.refresh_jti == presented_jti {
        return StaleRefresh::Refused;
    }
    let just_retired = session.previous_refresh_jti.as_deref() == Some(presented_jti);
    let within_grace = session.refreshed_at.is_some_and(|at| {
        // A rotation stamped slightly ahead of this request's clock (another
        // isolate's clock) counts as just now.
        grace_seconds > 0 && now - at <= Duration::seconds(i64::from(grace_seconds))
    });
    if just_retired && within_grace {
        StaleRefresh::Grace {
            current_jti: session.refresh_jti.clone(),
        }
    } else {
        StaleRefresh::Reuse
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap() + Duration::seconds(seconds)
    }

    /// Rotated at 0 from `a` to `b`.
    fn rotated() -> SessionState {
        SessionState {
            user_id: "u".into(),
            refresh_jti: "b".into(),
            previous_refresh_jti: Some("a".into()),
            refreshed_at: Some(at(0)),
            live: true,
        }
    }

    #[test]
    fn the_just_retired_token_within_the_window_gets_the_current_one() {
        let grace = StaleRefresh::Grace {
            current_jti: "b".into(),
        };
        assert_eq!(classify(Some(&rotated()), "u", "a", at(0), 10), grace);
        assert_eq!(classify(Some(&rotated()), "u", "a", at(10), 10), grace);
        // Another isolate's clock a little ahead of ours.
        assert_eq!(classify(Some(&rotated()), "u", "a", at(-1), 10), grace);
    }

    #[test]
    fn after_the_window_it_is_reuse() {
        assert_eq!(
            classify(Some(&rotated()), "u", "a", at(11), 10),
            StaleRefresh::Reuse
        );
    }

    #[test]
    fn a_token_two_rotations_back_is_reuse_even_at_once() {
        assert_eq!(
            classify(Some(&rotated()), "u", "older", at(0), 60),
            StaleRefresh::Reuse
        );
    }

    #[test]
    fn a_zero_window_turns_grace_off() {
        assert_eq!(
            classify(Some(&rotated()), "u", "a", at(0), 0),
            StaleRefresh::Reuse
        );
    }

    #[test]
    fn ended_foreign_or_missing_sessions_are_refused_without_revoking() {
        let ended = SessionState {
            live: false,
            ..rotated()
        };
        assert_eq!(
            classify(Some(&ended), "u", "older", at(0), 10),
            StaleRefresh::Refused
        );
        assert_eq!(
            classify(Some(&rotated()), "someone-else", "older", at(0), 10),
            StaleRefresh::Refused
        );
        assert_eq!(classify(None, "u", "a", at(0), 10), StaleRefresh::Refused);
        assert_eq!(
            classify(Some(&rotated()), "u", "b", at(0), 10),
            StaleRefresh::Refused
        );
    }

    #[test]
    fn a_session_never_rotated_has_no_grace() {
        let fresh = SessionState {
            previous_refresh_jti: None,
            refreshed_at: None,
            ..rotated()
        };
        assert_eq!(
            classify(Some(&fresh), "u", "a", at(0), 10),
            StaleRefresh::Reuse
        );
    }
}
