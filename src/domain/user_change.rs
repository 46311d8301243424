//! Changes to a user, as the domain names them. Which column a field lives in
//! is storage's business (`storage::user_columns`); rules here speak of fields.

/// The user fields a request or a lifecycle step may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserField {
    Name,
    Surname,
    Username,
    CountryCode,
    PhoneNumber,
    SignupSource,
    SignupCampaign,
    ProfilePhoto,
    AvailabilityStatus,
    BirthDate,
    Gender,
    Interests,
    Expertise,
    Bio,
    Instagram,
    X,
    Tiktok,
    Snapchat,
    Facebook,
    Timezone,
    PrivacyPolicyAccepted,
    PrivacyPolicyVersion,
    TermsOfUseAccepted,
    TermsOfUseVersion,
    ConsentFormAccepted,
    ConsentFormVersion,
    IsRegistrationComplete,
    LastUsernameChangeDate,
    AccountDeletionStatus,
    AccountDeletionRequestedAt,
    AccountDeletionScheduledFor,
    AccountDeletionCancelledAt,
}

/// A validated value, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Text(String),
    Bool(bool),
    /// The list fields (`interests`), already checked.
    List(Vec<String>),
    Null,
}

/// Field writes in a fixed order.
pub type Changes = Vec<(UserField, FieldValue)>;

/// What must hold for a change to apply. Storage checks it in the same
/// statement as the write, so two racing requests cannot both pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// Registration can be completed once.
    RegistrationIncomplete,
    /// The username may change only if its last change is at or before the cutoff.
    UsernameChangeAllowed {
        cutoff: String,
    },
    /// A deletion can be scheduled unless one is pending or final.
    DeletionSchedulable,
    /// A deletion can be cancelled only while pending.
    DeletionPending,
    None,
}
