//! What a user may write about themselves: completing registration and editing
//! the profile. Every value is checked here; storage only sees valid values.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde_json::Value;

use super::envelope::timestamp;
use super::error::AppError;
use super::fields::{boolean, invisible_message, is_invisible, raw_string, text, Fields, Patch};
use super::user_change::{Changes, FieldValue, UserField};

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

/// Fields anyone may edit: (JSON name, field, parser).
type Editable = (
    &'static str,
    UserField,
    fn(&Value) -> Result<FieldValue, String>,
);

const EDITABLE: &[Editable] = &[
    ("bio", UserField::Bio, |v| {
        text(500)(v).map(FieldValue::Text)
    }),
    ("instagram", UserField::Instagram, social),
    ("x", UserField::X, social),
    ("tiktok", UserField::Tiktok, social),
    ("snapchat", UserField::Snapchat, social),
    ("facebook", UserField::Facebook, social),
    ("timezone", UserField::Timezone, |v| {
        raw_string(timezone)(v).map(FieldValue::Text)
    }),
    ("availabilityStatus", UserField::AvailabilityStatus, |v| {
        one_of(AVAILABILITY)(v)
    }),
    ("interests", UserField::Interests, interests),
    ("expertise", UserField::Expertise, |v| {
        text(100)(v).map(FieldValue::Text)
    }),
    ("profilePhoto", UserField::ProfilePhoto, photo),
];

/// Optional at registration, fixed afterwards (they describe the sign-up itself).
const REGISTRATION_ONLY: &[Editable] = &[
    ("countryCode", UserField::CountryCode, |v| digits(1, 4)(v)),
    ("phoneNumber", UserField::PhoneNumber, |v| digits(4, 15)(v)),
    ("signupSource", UserField::SignupSource, |v| {
        text(100)(v).map(FieldValue::Text)
    }),
    ("signupCampaign", UserField::SignupCampaign, |v| {
        text(100)(v).map(FieldValue::Text)
    }),
];

impl Registration {
    pub fn parse(body: &[u8], today: NaiveDate) -> Result<Self, AppError> {
        let mut f = Fields::parse(body)?;
        let mut changes: Changes = Vec::new();
        let mut required =
            |f: &mut Fields,
             name: &str,
             field: UserField,
             parse: &dyn Fn(&Value) -> Result<FieldValue, String>| {
                if let Some(value) = f.required(name, parse) {
                    changes.push((field, value));
                }
            };
        required(&mut f, "name", UserField::Name, &|v| {
            text(50)(v).map(FieldValue::Text)
        });
        required(&mut f, "surname", UserField::Surname, &|v| {
            text(50)(v).map(FieldValue::Text)
        });
        required(&mut f, "birthDate", UserField::BirthDate, &|v| {
            raw_string(|s| birth_date(s, today))(v)
        });
        required(&mut f, "gender", UserField::Gender, &|v| one_of(GENDERS)(v));
        required(&mut f, "interests", UserField::Interests, &interests);
        for (accepted, version, accepted_field, version_field) in [
            (
                "privacyPolicyAccepted",
                "privacyPolicyVersion",
                UserField::PrivacyPolicyAccepted,
                UserField::PrivacyPolicyVersion,
            ),
            (
                "termsOfUseAccepted",
                "termsOfUseVersion",
                UserField::TermsOfUseAccepted,
                UserField::TermsOfUseVersion,
            ),
            (
                "consentFormAccepted",
                "consentFormVersion",
                UserField::ConsentFormAccepted,
                UserField::ConsentFormVersion,
            ),
        ] {
            match f.required(accepted, &boolean) {
                Some(true) => changes.push((accepted_field, FieldValue::Bool(true))),
                Some(false) => f.problem(format!("{accepted} must be true to register")),
                None => {}
            }
            if let Some(v) = f.required(version, &|v| raw_string(version_string)(v)) {
                changes.push((version_field, v));
            }
        }
        let username = f.required("username", &raw_string(username));
        for (name, field, parse) in EDITABLE.iter().chain(REGISTRATION_ONLY) {
            if *field == UserField::Interests {
                continue;
            }
            if let Some(Some(value)) = f.optional(name, parse) {
                changes.push((*field, value));
            }
        }
        let username = f.finish(username)?;
        changes.push((UserField::Username, FieldValue::Text(username.clone())));
        changes.push((UserField::IsRegistrationComplete, FieldValue::Bool(true)));
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
        for (name, field, parse) in EDITABLE {
            match f.patch(name, parse) {
                Some(Patch::Set(value)) => changes.push((*field, value)),
                // A list is never null: clearing it empties it.
                Some(Patch::Clear) if *field == UserField::Interests => {
                    changes.push((*field, FieldValue::List(Vec::new())))
                }
                Some(Patch::Clear) => changes.push((*field, FieldValue::Null)),
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
fn birth_date(raw: &str, today: NaiveDate) -> Result<FieldValue, String> {
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
    Ok(FieldValue::Text(timestamp(midnight)))
}

/// `major.minor.patch` of the document the user accepted.
fn version_string(raw: &str) -> Result<FieldValue, String> {
    let parts: Vec<&str> = raw.split('.').collect();
    let ok = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(FieldValue::Text(raw.to_owned()))
    } else {
        Err("must be a version like 1.2.0".into())
    }
}

fn one_of(allowed: &'static [&'static str]) -> impl Fn(&Value) -> Result<FieldValue, String> {
    move |v| {
        raw_string(|s| {
            if allowed.contains(&s) {
                Ok(FieldValue::Text(s.to_owned()))
            } else {
                Err(format!("must be one of {}", allowed.join(", ")))
            }
        })(v)
    }
}

fn social(v: &Value) -> Result<FieldValue, String> {
    raw_string(|s| {
        let handle = s.strip_prefix('@').unwrap_or(s);
        let ok = (1..=30).contains(&handle.len())
            && handle
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-');
        if ok {
            Ok(FieldValue::Text(handle.to_owned()))
        } else {
            Err("must be a handle of 1 to 30 letters, digits, '.', '_' or '-'".into())
        }
    })(v)
}

/// A profile photo: a file name or path (`sample.jpg`, as the app uploads
/// them) or an `https` URL. Apps put it in an `<img src>` or open it, so every
/// other scheme (`javascript:`, `data:`, `http:`, `file:` …) and anything a
/// browser would resolve to another host (`//host`, `/\host`) is refused.
fn photo(v: &Value) -> Result<FieldValue, String> {
    raw_string(|s| {
        if let Some(c) = s.chars().find(|&c| is_invisible(c)) {
            return Err(invisible_message(c));
        }
        let plain = !s.is_empty()
            && s.len() <= 2048
            // Browsers drop tabs and newlines inside URLs (`java\tscript:`) and
            // read `\` as `/`: neither belongs in a file name or a clean URL.
            && !s.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\');
        if plain && photo_is_safe_reference(s) {
            Ok(FieldValue::Text(s.to_owned()))
        } else {
            Err("must be a file name or an https URL of at most 2048 characters".into())
        }
    })(v)
}

/// `https://host…`, or a relative reference that stays on the app's host.
fn photo_is_safe_reference(s: &str) -> bool {
    // RFC 3986: a scheme is what precedes a ':' that comes before any '/', '?'
    // or '#'.
    let head = &s[..s.find(['/', '?', '#']).unwrap_or(s.len())];
    match head.split_once(':') {
        Some((scheme, _)) => {
            scheme.eq_ignore_ascii_case("https")
                && s[scheme.len() + 1..]
                    .strip_prefix("//")
                    .is_some_and(|rest| {
                        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
                        // `https://user@host` shows one host and goes to another.
                        !authority.is_empty() && !authority.contains('@')
                    })
        }
        // No scheme: a path, unless `//` makes it another host. No ':' at all
        // and no '&' either, so no HTML entity (`javascript&colon;…`) can
        // spell a scheme once an app puts the value in an attribute.
        None => !s.starts_with("//") && !s.contains([':', '&']),
    }
}

fn digits(min: usize, max: usize) -> impl Fn(&Value) -> Result<FieldValue, String> {
    move |v| {
        raw_string(|s| {
            if (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
                Ok(FieldValue::Text(s.to_owned()))
            } else {
                Err(format!("must be {min} to {max} digits"))
            }
        })(v)
    }
}

fn interests(v: &Value) -> Result<FieldValue, String> {
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
    Ok(FieldValue::List(list))
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

    fn field(changes: &Changes, name: UserField) -> Option<&FieldValue> {
        changes.iter().find(|(f, _)| *f == name).map(|(_, v)| v)
    }

    fn photo_of(raw: &str) -> Result<FieldValue, String> {
        photo(&Value::from(raw))
    }

    #[test]
    fn profile_photo_is_a_file_name_or_an_https_url() {
        for ok in [
            "sample.jpg",
            "users/42/avatar.png",
            "photo_2026-05-01.webp?v=2",
            "https://cdn.allmine.app/u/42.jpg",
            "HTTPS://cdn.allmine.app/u/42.jpg?w=200&h=200#top",
            "https://cdn.allmine.app",
        ] {
            assert_eq!(photo_of(ok), Ok(FieldValue::Text(ok.into())), "{ok}");
        }
        for refused in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:image/svg+xml;base64,PHN2Zz4=",
            "http://cdn.allmine.app/u/42.jpg",
            "file:///etc/passwd",
            "vbscript:msgbox(1)",
            "blob:https://allmine.app/1",
            "//evil.example/x.jpg",
            "/\\evil.example/x.jpg",
            "\\\\evil.example\\x.jpg",
            "https:evil.example/x.jpg",
            "https:/evil.example/x.jpg",
            "https:///evil.example/x.jpg",
            "https://user@evil.example/x.jpg",
            "java\tscript:alert(1)",
            " javascript:alert(1)",
            "javascript&colon;alert(1)",
            "sample:1.jpg",
            "a/b:c.jpg",
            "a b.jpg",
            "",
        ] {
            assert_eq!(
                photo_of(refused),
                Err("must be a file name or an https URL of at most 2048 characters".into()),
                "{refused:?}"
            );
        }
        assert!(photo_of(&"a".repeat(2049)).is_err());
        assert_eq!(
            photo_of("gpj.\u{202E}exe"),
            Err("must not contain invisible or text-direction characters (found U+202E)".into())
        );
    }

    #[test]
    fn every_free_text_field_refuses_invisible_characters() {
        let sneaky = "Jo\u{200B}hn";
        for (name, value) in [
            ("bio", Value::from(sneaky)),
            ("expertise", Value::from(sneaky)),
            ("interests", serde_json::json!([sneaky])),
        ] {
            let body = serde_json::json!({ name: value }).to_string();
            let problems = errors(ProfileUpdate::parse(body.as_bytes()));
            assert_eq!(problems.len(), 1, "{name}: {problems:?}");
            assert!(
                problems[0].contains("(found U+200B)"),
                "{name}: {problems:?}"
            );
        }
        for name in ["name", "surname", "signupSource", "signupCampaign"] {
            let mut body = valid_registration();
            body[name] = Value::from("\u{2067}Admin\u{2069}");
            let problems = errors(Registration::parse(body.to_string().as_bytes(), today()));
            assert_eq!(
                problems,
                vec![format!(
                    "{name} must not contain invisible or text-direction characters (found U+2067)"
                )]
            );
        }
    }

    #[test]
    fn registration_becomes_field_writes() {
        let body = valid_registration().to_string();
        let reg = Registration::parse(body.as_bytes(), today()).unwrap();
        assert_eq!(reg.username, "johndoe123");
        let c = &reg.changes;
        assert_eq!(
            field(c, UserField::BirthDate),
            Some(&FieldValue::Text("1990-01-15T00:00:00.000Z".into()))
        );
        assert_eq!(
            field(c, UserField::Interests),
            Some(&FieldValue::List(vec!["music".into(), "travel".into()]))
        );
        assert_eq!(
            field(c, UserField::IsRegistrationComplete),
            Some(&FieldValue::Bool(true))
        );
        assert_eq!(
            field(c, UserField::ConsentFormAccepted),
            Some(&FieldValue::Bool(true))
        );
        assert_eq!(
            field(c, UserField::CountryCode),
            Some(&FieldValue::Text("90".into()))
        );
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
                (UserField::Bio, FieldValue::Null),
                (UserField::Instagram, FieldValue::Text("me".into())),
                (UserField::Interests, FieldValue::List(vec![])),
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
