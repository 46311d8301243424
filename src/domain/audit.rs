//! Security events: what happened, to whom, from where (both as keyed hashes).

/// The events the audit trail records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditKind {
    CodeSent,
    /// A send to a review address stored its fixed code and mailed nothing.
    ReviewCodeSent,
    VerifyFailed,
    Lockout,
    Login,
    /// A login with a review address's fixed code (`domain::review`).
    ReviewLogin,
    RefreshReuse,
    Logout,
    /// A session ended from its owner's list of sessions.
    SessionRevoked,
    DeletionScheduled,
    DeletionCancelled,
    DeletionFinalized,
}

impl AuditKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CodeSent => "code_sent",
            Self::ReviewCodeSent => "review_code_sent",
            Self::VerifyFailed => "verify_failed",
            Self::Lockout => "lockout",
            Self::Login => "login",
            Self::ReviewLogin => "review_login",
            Self::RefreshReuse => "refresh_reuse",
            Self::Logout => "logout",
            Self::SessionRevoked => "session_revoked",
            Self::DeletionScheduled => "deletion_scheduled",
            Self::DeletionCancelled => "deletion_cancelled",
            Self::DeletionFinalized => "deletion_finalized",
        }
    }
}

/// One security event. Addresses and IPs arrive already as keyed hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub kind: AuditKind,
    pub user_id: Option<String>,
    pub email_hash: Option<String>,
    pub ip_hash: Option<String>,
    pub detail: Option<String>,
}

impl AuditEvent {
    pub fn new(kind: AuditKind) -> Self {
        Self {
            kind,
            user_id: None,
            email_hash: None,
            ip_hash: None,
            detail: None,
        }
    }

    pub fn user(mut self, user_id: &str) -> Self {
        self.user_id = Some(user_id.to_owned());
        self
    }

    pub fn email_hash(mut self, hash: &str) -> Self {
        self.email_hash = Some(hash.to_owned());
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}
