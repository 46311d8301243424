//! Every column of `users`, in one list: which domain field it stores, and
//! whether it is personal data (erased when a deletion is finalised, and to
//! what) or kept. A unit test ties this list to the migrations, so a new
//! column cannot be added without deciding its fate on deletion.

use crate::domain::user_change::UserField;
use crate::storage::statement::Param;

/// What a finalised deletion does to a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDeletion {
    /// Personal data: erased to SQL NULL.
    EraseToNull,
    /// Personal data in a NOT NULL list column: erased to the empty list `'[]'`.
    EraseToEmptyList,
    /// The address: replaced by its keyed tombstone (`deleted:<tag>`), so it
    /// answers 409 and cannot sign up again, but cannot be read back.
    EraseToTombstone,
    /// Not personal: ids, counters, consent records, timestamps of the account
    /// and its deletion, kept for integrity and accountability.
    Keep,
}

/// `(column, the field it stores if any, what deletion does to it)`.
#[rustfmt::skip]
pub const USER_COLUMNS: &[(&str, Option<UserField>, OnDeletion)] = &[
    ("id",                             None,                                          OnDeletion::Keep),
    ("email",                          None,                                          OnDeletion::EraseToTombstone),
    ("name",                           Some(UserField::Name),                         OnDeletion::EraseToNull),
    ("surname",                        Some(UserField::Surname),                      OnDeletion::EraseToNull),
    ("username",                       Some(UserField::Username),                     OnDeletion::EraseToNull),
    ("country_code",                   Some(UserField::CountryCode),                  OnDeletion::EraseToNull),
    ("phone_number",                   Some(UserField::PhoneNumber),                  OnDeletion::EraseToNull),
    ("signup_source",                  Some(UserField::SignupSource),                 OnDeletion::EraseToNull),
    ("signup_campaign",                Some(UserField::SignupCampaign),               OnDeletion::EraseToNull),
    ("profile_photo",                  Some(UserField::ProfilePhoto),                 OnDeletion::EraseToNull),
    ("availability_status",            Some(UserField::AvailabilityStatus),           OnDeletion::EraseToNull),
    ("birth_date",                     Some(UserField::BirthDate),                    OnDeletion::EraseToNull),
    ("gender",                         Some(UserField::Gender),                       OnDeletion::EraseToNull),
    ("interests",                      Some(UserField::Interests),                    OnDeletion::EraseToEmptyList),
    ("expertise",                      Some(UserField::Expertise),                    OnDeletion::EraseToNull),
    ("bio",                            Some(UserField::Bio),                          OnDeletion::EraseToNull),
    ("instagram",                      Some(UserField::Instagram),                    OnDeletion::EraseToNull),
    ("x",                              Some(UserField::X),                            OnDeletion::EraseToNull),
    ("tiktok",                         Some(UserField::Tiktok),                       OnDeletion::EraseToNull),
    ("snapchat",                       Some(UserField::Snapchat),                     OnDeletion::EraseToNull),
    ("facebook",                       Some(UserField::Facebook),                     OnDeletion::EraseToNull),
    ("privacy_policy_accepted",        Some(UserField::PrivacyPolicyAccepted),        OnDeletion::Keep),
    ("privacy_policy_version",         Some(UserField::PrivacyPolicyVersion),         OnDeletion::Keep),
    ("terms_of_use_accepted",          Some(UserField::TermsOfUseAccepted),           OnDeletion::Keep),
    ("terms_of_use_version",           Some(UserField::TermsOfUseVersion),            OnDeletion::Keep),
    ("consent_form_accepted",          Some(UserField::ConsentFormAccepted),          OnDeletion::Keep),
    ("consent_form_version",           Some(UserField::ConsentFormVersion),           OnDeletion::Keep),
    ("is_registration_complete",       Some(UserField::IsRegistrationComplete),       OnDeletion::Keep),
    ("roles",                          None,                                          OnDeletion::Keep),
    ("followers_count",                None,                                          OnDeletion::Keep),
    ("following_count",                None,                                          OnDeletion::Keep),
    ("minute_price_in_live_stream",    None,                                          OnDeletion::Keep),
    ("credit_balance",                 None,                                          OnDeletion::Keep),
    ("last_login",                     None,                                          OnDeletion::EraseToNull),
    ("timezone",                       Some(UserField::Timezone),                     OnDeletion::EraseToNull),
    ("last_username_change_date",      Some(UserField::LastUsernameChangeDate),       OnDeletion::Keep),
    ("account_deletion_status",        Some(UserField::AccountDeletionStatus),        OnDeletion::Keep),
    ("account_deletion_requested_at",  Some(UserField::AccountDeletionRequestedAt),   OnDeletion::Keep),
    ("account_deletion_scheduled_for", Some(UserField::AccountDeletionScheduledFor),  OnDeletion::Keep),
    ("account_deletion_cancelled_at",  Some(UserField::AccountDeletionCancelledAt),   OnDeletion::Keep),
    ("account_deletion_finalized_at",  None,                                          OnDeletion::Keep),
    ("created_at",                     None,                                          OnDeletion::Keep),
    ("updated_at",                     None,                                          OnDeletion::Keep),
    // A review account (created by a review login): kept, so a deleted
    // review account's tombstone still says what it was.
    ("review",                         None,                                          OnDeletion::Keep),
];

/// The column that stores a field.
pub fn column(field: UserField) -> &'static str {
    USER_COLUMNS
        .iter()
        .find(|(_, f, _)| *f == Some(field))
        .map(|(column, ..)| *column)
        // Every field is in the list; the unit test below proves it.
        .unwrap_or("id")
}

/// The `SET` assignments that erase the personal columns, the address to
/// the `tombstone` bound at that placeholder.
pub fn erasure_sql(tombstone: Param) -> String {
    USER_COLUMNS
        .iter()
        .filter_map(|(column, _, fate)| match fate {
            OnDeletion::EraseToNull => Some(format!("{column} = NULL")),
            OnDeletion::EraseToEmptyList => Some(format!("{column} = '[]'")),
            OnDeletion::EraseToTombstone => Some(format!("{column} = {tombstone}")),
            OnDeletion::Keep => None,
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::statement::text;

    /// The columns the migrations give `users`, in order, as SQLite reports
    /// them once every migration has run.
    fn migrated_columns() -> Vec<String> {
        crate::storage::testing::Sqlite::migrated()
            .query("SELECT name FROM pragma_table_info('users') ORDER BY cid")
            .into_iter()
            .map(|row| row["name"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn every_migrated_column_has_a_fate_on_deletion() {
        let listed: Vec<&str> = USER_COLUMNS.iter().map(|(c, ..)| *c).collect();
        assert_eq!(migrated_columns(), listed);
    }

    #[test]
    fn every_field_has_exactly_one_column() {
        for field in UserField::ALL {
            let n = USER_COLUMNS
                .iter()
                .filter(|(_, f, _)| *f == Some(field))
                .count();
            assert_eq!(n, 1, "{field:?}");
        }
    }

    #[test]
    fn erasure_covers_the_personal_columns_only() {
        let sql = erasure_sql(crate::storage::statement::Params::default().bind(text("t")));
        assert!(sql.starts_with("email = ?1, name = NULL"));
        assert!(sql.contains("interests = '[]'"));
        assert!(sql.contains("last_login = NULL"));
        assert!(!sql.contains("credit_balance"));
        assert!(!sql.contains("account_deletion_status"));
    }
}
