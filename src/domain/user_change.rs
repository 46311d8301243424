//! Changes to a user, as the domain names them. Which column a field lives in
//! is storage's business (`storage::tables::user_columns`); rules here speak of fields.

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

impl UserField {
    /// Every field, for checks that must cover them all.
    pub const ALL: [UserField; 32] = [
        Self::Name,
        Self::Surname,
        Self::Username,
        Self::CountryCode,
        Self::PhoneNumber,
        Self::SignupSource,
        Self::SignupCampaign,
        Self::ProfilePhoto,
        Self::AvailabilityStatus,
        Self::BirthDate,
        Self::Gender,
        Self::Interests,
        Self::Expertise,
        Self::Bio,
        Self::Instagram,
        Self::X,
        Self::Tiktok,
        Self::Snapchat,
        Self::Facebook,
        Self::Timezone,
        Self::PrivacyPolicyAccepted,
        Self::PrivacyPolicyVersion,
        Self::TermsOfUseAccepted,
        Self::TermsOfUseVersion,
        Self::ConsentFormAccepted,
        Self::ConsentFormVersion,
        Self::IsRegistrationComplete,
        Self::LastUsernameChangeDate,
        Self::AccountDeletionStatus,
        Self::AccountDeletionRequestedAt,
        Self::AccountDeletionScheduledFor,
        Self::AccountDeletionCancelledAt,
    ];
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
