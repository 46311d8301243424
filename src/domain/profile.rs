//! What a user may write about themselves: completing registration and editing
//! the profile. Every value is checked here; storage only sees valid values.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde_json::Value;

use super::envelope::timestamp;
use super::error::AppError;
use super::fields::{boolean, raw_string, text, Fields, Patch};

/// The youngest age at which someone may hold an account.
pub const MIN_AGE_YEARS: i32 = 13;
/// How long a user waits between two username changes.
pub const USERNAME_CHANGE_DAYS: i64 = 30;

pub const GENDERS: &[&str] = &["male", "female", "non_binary", "other", "prefer_not_to_say"];
pub const AVAILABILITY: &[&str] = &["available", "busy", "away", "offline"];
const TIMEZONE_AREAS: &[&str] = &[
    "Africa",
    "America",
    "Antarctica",
    "Arctic",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
    "Etc",
];
const MAX_INTERESTS: usize = 20;

/// A validated column value, ready to bind.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnValue {
    Text(String),
    Bool(bool),
    Null,
}

/// Column writes in a fixed order. Column names come only from this module's
/// tables, never from the request.
pub type Changes = Vec<(&'static str, ColumnValue)>;

/// `POST /api/v1/auth/complete-registration`
#[derive(Debug, PartialEq)]
pub struct Registration {
    pub username: String,
    pub changes: Changes,
}

/// `PATCH /api/v1/users/me`
#[derive(Debug, PartialEq)]
pub struct ProfileUpdate {
    /// `Some` when the username changes: subject to the 30-day rule.
    pub username: Option<String>,
    pub changes: Changes,
}

/// Fields anyone may edit: (JSON name, column, parser).
type Editable = (
    &'static str,
    &'static str,
    fn(&Value) -> Result<ColumnValue, String>,
);

const EDITABLE: &[Editable] = &[
    ("bio", "bio", |v| text(500)(v).map(ColumnValue::Text)),
    ("instagram", "instagram", social),
    ("x", "x", social),
    ("tiktok", "tiktok", social),
    ("snapchat", "snapchat", social),
    ("facebook", "facebook", social),
    ("timezone", "timezone", |v| {
        raw_string(timezone)(v).map(ColumnValue::Text)
    }),
    ("availabilityStatus", "availability_status", |v| {
        one_of(AVAILABILITY)(v)
    }),
    ("interests", "interests", interests),
    ("expertise", "expertise", |v| {
        text(100)(v).map(ColumnValue::Text)
    }),
    ("profilePhoto", "profile_photo", photo),
];

/// Optional at registration, fixed afterwards (they describe the sign-up itself).
const REGISTRATION_ONLY: &[Editable] = &[
    ("countryCode", "country_code", |v| digits(1, 4)(v)),
    ("phoneNumber", "phone_number", |v| digits(4, 15)(v)),
    ("signupSource", "signup_source", |v| {
        text(100)(v).map(ColumnValue::Text)
    }),
    ("signupCampaign", "signup_campaign", |v| {
        text(100)(v).map(ColumnValue::Text)
    }),
];

impl Registration {
    pub fn parse(body: &[u8], today: NaiveDate) -> Result<Self, AppError> {
        let mut f = Fields::parse(body)?;
        let mut changes: Changes = Vec::new();
        let mut required =
            |f: &mut Fields,
             name: &str,
             column: &'static str,
             parse: &dyn Fn(&Value) -> Result<ColumnValue, String>| {
                if let Some(value) = f.required(name, parse) {
                    changes.push((column, value));
                }
            };
        required(&mut f, "name", "name", &|v| {
            text(50)(v).map(ColumnValue::Text)
        });
        required(&mut f, "surname", "surname", &|v| {
            text(50)(v).map(ColumnValue::Text)
        });
        required(&mut f, "birthDate", "birth_date", &|v| {
            raw_string(|s| birth_date(s, today))(v)
        });
        required(&mut f, "gender", "gender", &|v| one_of(GENDERS)(v));
        required(&mut f, "interests", "interests", &interests);
        for (accepted, version, label) in [
            (
                "privacyPolicyAccepted",
                "privacyPolicyVersion",
                "privacy_policy",
            ),
            ("termsOfUseAccepted", "termsOfUseVersion", "terms_of_use"),
            ("consentFormAccepted", "consentFormVersion", "consent_form"),
        ] {
            match f.required(accepted, &boolean) {
                Some(true) => changes.push((accepted_column(label), ColumnValue::Bool(true))),
                Some(false) => f.problem(format!("{accepted} must be true to register")),
                None => {}
            }
            if let Some(v) = f.required(version, &|v| raw_string(version_string)(v)) {
                changes.push((version_column(label), v));
            }
        }
        let username = f.required("username", &raw_string(username));
        for (name, column, parse) in EDITABLE.iter().chain(REGISTRATION_ONLY) {
            if *name == "interests" {
                continue;
            }
            if let Some(Some(value)) = f.optional(name, parse) {
                changes.push((column, value));
            }
        }
        let username = f.finish(username)?;
        changes.push(("username", ColumnValue::Text(username.clone())));
        changes.push(("is_registration_complete", ColumnValue::Bool(true)));
        Ok(Self { username, changes })
    }
}

impl ProfileUpdate {
    pub fn parse(body: &[u8]) -> Result<Self, AppError> {
        let mut f = Fields::parse(body)?;
        let mut allowed: Vec<&str> = EDITABLE.iter().map(|(name, ..)| *name).collect();
        allowed.push("username");
        f.only(&allowed);
        let mut changes: Changes = Vec::new();
        for (name, column, parse) in EDITABLE {
            match f.patch(name, parse) {
                Some(Patch::Set(value)) => changes.push((column, value)),
                Some(Patch::Clear) if *name == "interests" => {
                    changes.push((column, ColumnValue::Text("[]".into())))
                }
                Some(Patch::Clear) => changes.push((column, ColumnValue::Null)),
                Some(Patch::Absent) | None => {}
            }
        }
        let username = match f.patch("username", &raw_string(username)) {
            Some(Patch::Set(name)) => Some(Some(name)),
            Some(Patch::Clear) => {
                f.problem("username cannot be removed");
                None
            }
            Some(Patch::Absent) => Some(None),
            None => None,
        };
        let username = f.finish(username)?;
        if username.is_none() && changes.is_empty() {
            return Err(AppError::validation(
                "body must name at least one field to change",
            ));
        }
        Ok(Self { username, changes })
    }
}

/// A username may change again only if its last change is at or before this
/// instant (ISO text, comparable as a string with stored timestamps).
pub fn username_change_cutoff(now: DateTime<Utc>) -> String {
    timestamp(now - chrono::Duration::days(USERNAME_CHANGE_DAYS))
}

fn accepted_column(label: &str) -> &'static str {
    match label {
        "privacy_policy" => "privacy_policy_accepted",
        "terms_of_use" => "terms_of_use_accepted",
        _ => "consent_form_accepted",
    }
}

fn version_column(label: &str) -> &'static str {
    match label {
        "privacy_policy" => "privacy_policy_version",
        "terms_of_use" => "terms_of_use_version",
        _ => "consent_form_version",
    }
}

/// 3–30 characters, a letter first, then letters, digits, `.` or `_`.
pub fn username(raw: &str) -> Result<String, String> {
    let ok_len = (3..=30).contains(&raw.len());
    let mut chars = raw.chars();
    let ok_first = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let ok_rest = chars.all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_');
    if ok_len && ok_first && ok_rest && !raw.contains("..") {
        Ok(raw.to_owned())
    } else {
        Err("must be 3 to 30 characters: a letter, then letters, digits, '.' or '_'".into())
    }
}

/// `YYYY-MM-DD` or a full ISO-8601 timestamp; in the past and old enough.
fn birth_date(raw: &str, today: NaiveDate) -> Result<ColumnValue, String> {
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .or_else(|| {
            DateTime::parse_from_rfc3339(raw)
                .ok()
                .map(|d| d.date_naive())
        })
        .ok_or("must be a date (YYYY-MM-DD)")?;
    if date >= today {
        return Err("must be in the past".into());
    }
    let mut age = today.year() - date.year();
    if (today.month(), today.day()) < (date.month(), date.day()) {
        age -= 1;
    }
    if age < MIN_AGE_YEARS {
        return Err(format!("must be at least {MIN_AGE_YEARS} years ago"));
    }
    if age > 130 {
        return Err("is too far in the past".into());
    }
    let midnight = date.and_hms_opt(0, 0, 0).ok_or("must be a date")?.and_utc();
    Ok(ColumnValue::Text(timestamp(midnight)))
}

/// `major.minor.patch` of the document the user accepted.
fn version_string(raw: &str) -> Result<ColumnValue, String> {
    let parts: Vec<&str> = raw.split('.').collect();
    let ok = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(ColumnValue::Text(raw.to_owned()))
    } else {
        Err("must be a version like 1.2.0".into())
    }
}

fn one_of(allowed: &'static [&'static str]) -> impl Fn(&Value) -> Result<ColumnValue, String> {
    move |v| {
        raw_string(|s| {
            if allowed.contains(&s) {
                Ok(ColumnValue::Text(s.to_owned()))
            } else {
                Err(format!("must be one of {}", allowed.join(", ")))
            }
        })(v)
    }
}

fn social(v: &Value) -> Result<ColumnValue, String> {
    raw_string(|s| {
        let handle = s.strip_prefix('@').unwrap_or(s);
        let ok = (1..=30).contains(&handle.len())
            && handle
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-');
        if ok {
            Ok(ColumnValue::Text(handle.to_owned()))
        } else {
            Err("must be a handle of 1 to 30 letters, digits, '.', '_' or '-'".into())
        }
    })(v)
}

fn photo(v: &Value) -> Result<ColumnValue, String> {
    raw_string(|s| {
        if s.is_empty() || s.len() > 2048 || s.chars().any(|c| c.is_control() || c == ' ') {
            Err("must be a file name or URL of at most 2048 characters".into())
        } else {
            Ok(ColumnValue::Text(s.to_owned()))
        }
    })(v)
}

fn digits(min: usize, max: usize) -> impl Fn(&Value) -> Result<ColumnValue, String> {
    move |v| {
        raw_string(|s| {
            if (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
                Ok(ColumnValue::Text(s.to_owned()))
            } else {
                Err(format!("must be {min} to {max} digits"))
            }
        })(v)
    }
}

fn interests(v: &Value) -> Result<ColumnValue, String> {
    let Value::Array(items) = v else {
        return Err("must be a list of strings".into());
    };
    if items.len() > MAX_INTERESTS {
        return Err(format!("must have at most {MAX_INTERESTS} entries"));
    }
    let mut list: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let entry = text(40)(item).map_err(|why| format!("entries {why}"))?;
        if !list.contains(&entry) {
            list.push(entry);
        }
    }
    serde_json::to_string(&list)
        .map(ColumnValue::Text)
        .map_err(|_| "must be a list of strings".into())
}

/// An IANA zone name by its shape (`Europe/Istanbul`, `America/Argentina/Salta`,
/// `UTC`). The shape rules out junk; the full zone list is not worth its bundle size.
fn timezone(raw: &str) -> Result<String, String> {
    let err = || "must be an IANA time zone such as Europe/Istanbul".to_string();
    if raw == "UTC" {
        return Ok(raw.to_owned());
    }
    let mut parts = raw.split('/');
    let area = parts.next().ok_or_else(err)?;
    let rest: Vec<&str> = parts.collect();
    let ok_rest = !rest.is_empty()
        && rest.len() <= 2
        && rest.iter().all(|p| {
            (1..=30).contains(&p.len())
                && p.starts_with(|c: char| c.is_ascii_uppercase() || c.is_ascii_digit())
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-+".contains(c))
        });
    if TIMEZONE_AREAS.contains(&area) && ok_rest {
        Ok(raw.to_owned())
    } else {
        Err(err())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 5, 1).unwrap()
    }

    fn valid_registration() -> serde_json::Value {
        serde_json::json!({
            "name": "John", "surname": "Doe", "username": "johndoe123",
            "birthDate": "1990-01-15", "gender": "male", "interests": ["music", "music", "travel"],
            "privacyPolicyAccepted": true, "privacyPolicyVersion": "1.2.0",
            "termsOfUseAccepted": true, "termsOfUseVersion": "1.1.0",
            "consentFormAccepted": true, "consentFormVersion": "1.0.0",
            "bio": "Hi", "countryCode": "90", "timezone": "Europe/Istanbul"
        })
    }

    fn errors(r: Result<impl std::fmt::Debug, AppError>) -> Vec<String> {
        match r {
            Err(AppError::Validation(p)) => p,
            other => panic!("expected validation error, got {other:?}"),
        }
    }

    fn column<'a>(changes: &'a Changes, name: &str) -> Option<&'a ColumnValue> {
        changes.iter().find(|(c, _)| *c == name).map(|(_, v)| v)
    }

    #[test]
    fn registration_becomes_column_writes() {
        let body = valid_registration().to_string();
        let reg = Registration::parse(body.as_bytes(), today()).unwrap();
        assert_eq!(reg.username, "johndoe123");
        let c = &reg.changes;
        assert_eq!(
            column(c, "birth_date"),
            Some(&ColumnValue::Text("1990-01-15T00:00:00.000Z".into()))
        );
        assert_eq!(
            column(c, "interests"),
            Some(&ColumnValue::Text(r#"["music","travel"]"#.into()))
        );
        assert_eq!(
            column(c, "is_registration_complete"),
            Some(&ColumnValue::Bool(true))
        );
        assert_eq!(
            column(c, "consent_form_accepted"),
            Some(&ColumnValue::Bool(true))
        );
        assert_eq!(
            column(c, "country_code"),
            Some(&ColumnValue::Text("90".into()))
        );
        assert_eq!(column(c, "roles"), None);
    }

    #[test]
    fn all_three_consents_must_be_accepted() {
        let mut body = valid_registration();
        body["termsOfUseAccepted"] = false.into();
        body["consentFormVersion"] = "v1".into();
        let found = errors(Registration::parse(body.to_string().as_bytes(), today()));
        assert_eq!(
            found,
            vec![
                "termsOfUseAccepted must be true to register",
                "consentFormVersion must be a version like 1.2.0",
            ]
        );
    }

    #[test]
    fn registration_fields_are_checked() {
        let mut body = valid_registration();
        body["username"] = "1john".into();
        body["birthDate"] = "2020-01-01".into();
        body["gender"] = "robot".into();
        body["interests"] = "music".into();
        let found = errors(Registration::parse(body.to_string().as_bytes(), today()));
        assert_eq!(found.len(), 4, "{found:?}");
    }

    #[test]
    fn birth_date_must_be_past_and_old_enough() {
        assert!(birth_date("2026-05-01", today()).is_err());
        assert!(birth_date("2013-05-02", today()).is_err());
        assert!(birth_date("2013-05-01", today()).is_ok());
        assert!(birth_date("1990-01-15T10:30:00.000Z", today()).is_ok());
        assert!(birth_date("15/01/1990", today()).is_err());
    }

    #[test]
    fn usernames_follow_the_rules() {
        for ok in ["joe", "john.doe", "j_d_123", "JohnDoe"] {
            assert!(username(ok).is_ok(), "{ok}");
        }
        for bad in [
            "jo",
            "1john",
            "_john",
            "john doe",
            "jöhn",
            "john..doe",
            &"a".repeat(31),
        ] {
            assert!(username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn profile_update_refuses_protected_fields() {
        let found = errors(ProfileUpdate::parse(
            br#"{"bio":"x","roles":["admin"],"creditBalance":1e9,"email":"a@b.co"}"#,
        ));
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found.iter().all(|p| p.ends_with("cannot be changed here")));
    }

    #[test]
    fn profile_update_sets_and_clears() {
        let update =
            ProfileUpdate::parse(br#"{"bio":null,"instagram":"@me","interests":null}"#).unwrap();
        assert_eq!(update.username, None);
        assert_eq!(
            update.changes,
            vec![
                ("bio", ColumnValue::Null),
                ("instagram", ColumnValue::Text("me".into())),
                ("interests", ColumnValue::Text("[]".into())),
            ]
        );
        assert!(ProfileUpdate::parse(b"{}").is_err());
        assert!(ProfileUpdate::parse(br#"{"username":null}"#).is_err());
        let rename = ProfileUpdate::parse(br#"{"username":"newname"}"#).unwrap();
        assert_eq!(rename.username.as_deref(), Some("newname"));
    }

    #[test]
    fn time_zones_are_checked_by_shape() {
        for ok in [
            "Europe/Istanbul",
            "America/Argentina/Salta",
            "UTC",
            "Etc/GMT+3",
        ] {
            assert!(timezone(ok).is_ok(), "{ok}");
        }
        for bad in [
            "Mars/Olympus",
            "Europe",
            "europe/istanbul",
            "Europe/../etc",
            "",
            "Europe/Istanbul/A/B",
        ] {
            assert!(timezone(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn username_changes_wait_thirty_days() {
        let now = Utc.with_ymd_and_hms(2026, 5, 31, 0, 0, 0).unwrap();
        let cutoff = username_change_cutoff(now);
        assert_eq!(cutoff, "2026-05-01T00:00:00.000Z");
        assert!("2026-05-01T00:00:00.000Z" <= cutoff.as_str());
        assert!("2026-05-01T00:00:01.000Z" > cutoff.as_str());
    }
}
