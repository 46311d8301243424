//! The user profile exactly as the API document shows it, and the rules about users.

use serde::Serialize;

pub use super::deletion::DeletionStatus;

/// Roles a new account starts with.
pub const DEFAULT_ROLES: &[&str] = &["user"];

/// The documented user. Field names and JSON types follow the API document;
/// values not known yet are `null`, lists are always lists.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Not part of the documented profile; clients read it from the token's `sub`.
    #[serde(skip)]
    pub id: String,
    pub name: Option<String>,
    pub surname: Option<String>,
    pub username: Option<String>,
    pub country_code: Option<String>,
    pub phone_number: Option<String>,
    pub signup_source: Option<String>,
    pub signup_campaign: Option<String>,
    pub profile_photo: Option<String>,
    pub availability_status: Option<String>,
    pub birth_date: Option<String>,
    pub gender: Option<String>,
    pub interests: Vec<String>,
    pub expertise: Option<String>,
    pub email: String,
    pub bio: Option<String>,
    pub instagram: Option<String>,
    pub x: Option<String>,
    pub tiktok: Option<String>,
    pub snapchat: Option<String>,
    pub facebook: Option<String>,
    pub privacy_policy_accepted: bool,
    pub privacy_policy_version: Option<String>,
    pub terms_of_use_accepted: bool,
    pub terms_of_use_version: Option<String>,
    pub consent_form_accepted: bool,
    pub consent_form_version: Option<String>,
    pub is_registration_complete: bool,
    pub roles: Vec<String>,
    pub followers_count: i64,
    pub following_count: i64,
    pub minute_price_in_live_stream: i64,
    pub credit_balance: i64,
    pub last_login: Option<String>,
    pub timezone: Option<String>,
    pub last_username_change_date: Option<String>,
    pub account_deletion_status: Option<DeletionStatus>,
    pub account_deletion_requested_at: Option<String>,
    pub account_deletion_scheduled_for: Option<String>,
    pub account_deletion_cancelled_at: Option<String>,
    pub account_deletion_finalized_at: Option<String>,
}

impl User {
    /// A finalised deletion is permanent: the address can no longer sign in.
    pub fn can_log_in(&self) -> bool {
        self.account_deletion_status != Some(DeletionStatus::Finalized)
    }
}

#[cfg(test)]
pub mod testing {
    use super::*;

    /// A new account as the service creates it on first login.
    pub fn new_user(email: &str) -> User {
        User {
            id: "u1".into(),
            name: None,
            surname: None,
            username: None,
            country_code: None,
            phone_number: None,
            signup_source: None,
            signup_campaign: None,
            profile_photo: None,
            availability_status: None,
            birth_date: None,
            gender: None,
            interests: vec![],
            expertise: None,
            email: email.into(),
            bio: None,
            instagram: None,
            x: None,
            tiktok: None,
            snapchat: None,
            facebook: None,
            privacy_policy_accepted: false,
            privacy_policy_version: None,
            terms_of_use_accepted: false,
            terms_of_use_version: None,
            consent_form_accepted: false,
            consent_form_version: None,
            is_registration_complete: false,
            roles: vec!["user".into()],
            followers_count: 0,
            following_count: 0,
            minute_price_in_live_stream: 0,
            credit_balance: 0,
            last_login: Some("2026-01-15T10:30:00.000Z".into()),
            timezone: None,
            last_username_change_date: None,
            account_deletion_status: None,
            account_deletion_requested_at: None,
            account_deletion_scheduled_for: None,
            account_deletion_cancelled_at: None,
            account_deletion_finalized_at: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::new_user;
    use super::*;

    /// The keys of the `user` object in the API contract (`api/openapi.json`, the `User` schema), in order.
    const DOCUMENTED_FIELDS: &[&str] = &[
        "name",
        "surname",
        "username",
        "countryCode",
        "phoneNumber",
        "signupSource",
        "signupCampaign",
        "profilePhoto",
        "availabilityStatus",
        "birthDate",
        "gender",
        "interests",
        "expertise",
        "email",
        "bio",
        "instagram",
        "x",
        "tiktok",
        "snapchat",
        "facebook",
        "privacyPolicyAccepted",
        "privacyPolicyVersion",
        "termsOfUseAccepted",
        "termsOfUseVersion",
        "consentFormAccepted",
        "consentFormVersion",
        "isRegistrationComplete",
        "roles",
        "followersCount",
        "followingCount",
        "minutePriceInLiveStream",
        "creditBalance",
        "lastLogin",
        "timezone",
        "lastUsernameChangeDate",
        "accountDeletionStatus",
        "accountDeletionRequestedAt",
        "accountDeletionScheduledFor",
        "accountDeletionCancelledAt",
        "accountDeletionFinalizedAt",
    ];

    #[test]
    fn user_serialises_with_exactly_the_documented_fields() {
        let json = serde_json::to_value(new_user("a@b.co")).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = DOCUMENTED_FIELDS.to_vec();
        expected.sort_unstable();
        let mut actual = keys.clone();
        actual.sort_unstable();
        assert_eq!(actual, expected);
    }

    #[test]
    fn unknown_values_are_null_and_lists_are_lists() {
        let json = serde_json::to_value(new_user("a@b.co")).unwrap();
        assert!(json["name"].is_null());
        assert_eq!(json["interests"], serde_json::json!([]));
        assert_eq!(json["roles"], serde_json::json!(["user"]));
        assert_eq!(json["creditBalance"], 0);
        assert_eq!(json["isRegistrationComplete"], false);
    }

    #[test]
    fn finalised_accounts_cannot_log_in() {
        let mut user = new_user("a@b.co");
        assert!(user.can_log_in());
        user.account_deletion_status = Some(DeletionStatus::Pending);
        assert!(user.can_log_in());
        user.account_deletion_status = Some(DeletionStatus::Finalized);
        assert!(!user.can_log_in());
    }
}
