//! The account deletion lifecycle: scheduled by the user, cancellable while
//! pending, finalised by the Cron Trigger once due. Each step is allowed from
//! some states only; storage applies a step and its precondition atomically.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::audit::AuditKind;
use super::envelope::timestamp;
use super::error::AppError;
use super::user_change::{Changes, FieldValue, Precondition, UserField};

/// Where an account stands in the deletion lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeletionStatus {
    Pending,
    Cancelled,
    Finalized,
}

impl DeletionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Cancelled => "cancelled",
            Self::Finalized => "finalized",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Pending, Self::Cancelled, Self::Finalized]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// A step the user takes: what it writes, when it is allowed, what it answers
/// when it is not, and what the audit trail records.
#[derive(Debug, PartialEq)]
pub struct Transition {
    pub changes: Changes,
    pub precondition: Precondition,
    /// The 409 when the precondition does not hold.
    pub conflict: AppError,
    pub event: AuditKind,
}

/// When a deletion asked for `now` becomes final.
pub fn due_at(now: DateTime<Utc>, grace_days: u32) -> DateTime<Utc> {
    now + Duration::days(i64::from(grace_days))
}

/// The user asks for deletion: it becomes final `grace_days` from now.
pub fn schedule(now: DateTime<Utc>, grace_days: u32) -> Transition {
    let status = DeletionStatus::Pending.as_str().to_owned();
    Transition {
        changes: vec![
            (UserField::AccountDeletionStatus, FieldValue::Text(status)),
            (
                UserField::AccountDeletionRequestedAt,
                FieldValue::Text(timestamp(now)),
            ),
            (
                UserField::AccountDeletionScheduledFor,
                FieldValue::Text(timestamp(due_at(now, grace_days))),
            ),
            (UserField::AccountDeletionCancelledAt, FieldValue::Null),
        ],
        precondition: Precondition::DeletionSchedulable,
        conflict: AppError::Conflict {
            code: "deletion_scheduled",
            message: "A deletion is already scheduled",
        },
        event: AuditKind::DeletionScheduled,
    }
}

/// Whether an account in `status` may schedule its deletion: the state
/// `Precondition::DeletionSchedulable` holds storage to, read before a code
/// is spent on a step that would be refused anyway.
pub fn schedulable(status: Option<DeletionStatus>) -> bool {
    matches!(status, None | Some(DeletionStatus::Cancelled))
}

/// The user changes their mind before the deletion is final.
pub fn cancel(now: DateTime<Utc>) -> Transition {
    let status = DeletionStatus::Cancelled.as_str().to_owned();
    Transition {
        changes: vec![
            (UserField::AccountDeletionStatus, FieldValue::Text(status)),
            (
                UserField::AccountDeletionCancelledAt,
                FieldValue::Text(timestamp(now)),
            ),
        ],
        precondition: Precondition::DeletionPending,
        conflict: AppError::Conflict {
            code: "no_deletion_scheduled",
            message: "No deletion is scheduled",
        },
        event: AuditKind::DeletionCancelled,
    }
}

/// Accounts the Cron Trigger finalises per run; the rest wait for the next one.
pub const FINALIZE_PER_RUN: u32 = 100;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn scheduling_sets_the_due_date_after_the_grace_period() {
        let step = schedule(now(), 30);
        assert_eq!(step.precondition, Precondition::DeletionSchedulable);
        assert!(step.changes.contains(&(
            UserField::AccountDeletionScheduledFor,
            FieldValue::Text("2026-05-31T12:00:00.000Z".into())
        )));
        assert!(step
            .changes
            .contains(&(UserField::AccountDeletionCancelledAt, FieldValue::Null)));
    }

    #[test]
    fn only_an_account_without_a_live_deletion_can_schedule_one() {
        assert!(schedulable(None));
        assert!(schedulable(Some(DeletionStatus::Cancelled)));
        assert!(!schedulable(Some(DeletionStatus::Pending)));
        assert!(!schedulable(Some(DeletionStatus::Finalized)));
    }

    #[test]
    fn cancelling_is_allowed_only_while_pending() {
        let step = cancel(now());
        assert_eq!(step.precondition, Precondition::DeletionPending);
        assert_eq!(step.event, AuditKind::DeletionCancelled);
    }

    #[test]
    fn statuses_read_back() {
        assert_eq!(
            serde_json::to_value(DeletionStatus::Finalized).unwrap(),
            "finalized"
        );
        assert_eq!(
            DeletionStatus::parse("pending"),
            Some(DeletionStatus::Pending)
        );
        assert_eq!(DeletionStatus::parse("x"), None);
    }
}
