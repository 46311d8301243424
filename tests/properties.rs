//! Property tests of the domain rules over generated input: parsing never
//! panics, what is accepted is normalised and stable, codes and hashes behave.

use allmine_auth::domain::email::EmailAddress;
use allmine_auth::domain::ids::OsRandom;
use allmine_auth::domain::otp::{CodeHasher, OtpCode};
use allmine_auth::domain::profile::{ProfileUpdate, Registration};
use allmine_auth::domain::requests::{
    LogoutRequest, RefreshTokenRequest, SendOtpRequest, VerifyOtpRequest,
};
use chrono::NaiveDate;
use proptest::prelude::*;

proptest! {
    #[test]
    fn email_parsing_never_panics_and_is_idempotent(raw in ".{0,300}") {
        if let Ok(email) = EmailAddress::parse(&raw) {
            let again = EmailAddress::parse(email.as_str()).unwrap();
            prop_assert_eq!(&again, &email);
            prop_assert_eq!(email.as_str(), email.as_str().to_ascii_lowercase());
            prop_assert!(email.as_str().len() <= 254);
            prop_assert!(email.as_str().bytes().all(|b| b.is_ascii_graphic()));
        }
    }

    #[test]
    fn well_formed_addresses_are_accepted(
        local in "[a-z0-9][a-z0-9._+-]{0,20}[a-z0-9]",
        domain in "[a-z0-9]{1,20}(\\.[a-z0-9]{1,10}){0,3}\\.[a-z]{2,6}",
    ) {
        prop_assume!(!local.contains(".."));
        let raw = format!("  {}@{} ", local.to_uppercase(), domain);
        let email = EmailAddress::parse(&raw).unwrap();
        prop_assert_eq!(email.as_str(), format!("{local}@{domain}"));
    }

    #[test]
    fn code_parsing_accepts_exactly_the_digit_strings(raw in "\\PC{0,10}", len in 4u8..=8) {
        let ok = raw.len() == usize::from(len) && raw.bytes().all(|b| b.is_ascii_digit());
        prop_assert_eq!(OtpCode::parse(&raw, len).is_ok(), ok);
    }

    #[test]
    fn generated_codes_parse_and_verify_only_themselves(len in 4u8..=8, other in "[0-9]{4,8}") {
        let code = OtpCode::generate(len, &mut OsRandom);
        prop_assert!(OtpCode::parse(code.expose(), len).is_ok());
        let hasher = CodeHasher::new(b"property-test-key".to_vec());
        let email = EmailAddress::parse("a@b.co").unwrap();
        let hash = hasher.hash(&email, "id", &code);
        prop_assert!(hasher.matches(&email, "id", &code, &hash));
        if let Ok(guess) = OtpCode::parse(&other, len) {
            prop_assert_eq!(hasher.matches(&email, "id", &guess, &hash), guess == code);
        }
    }

    #[test]
    fn request_parsers_never_panic_on_arbitrary_bytes(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = SendOtpRequest::parse(&body);
        let _ = VerifyOtpRequest::parse(&body, 6);
        let _ = RefreshTokenRequest::parse(&body);
        let _ = LogoutRequest::parse(&body);
        let _ = ProfileUpdate::parse(&body);
        let _ = Registration::parse(&body, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
    }

    #[test]
    fn request_parsers_never_panic_on_json_shaped_input(
        email in proptest::option::of(".{0,80}"),
        code in proptest::option::of("\\PC{0,12}"),
        extra in proptest::collection::btree_map("[a-zA-Z]{1,12}", ".{0,20}", 0..6),
    ) {
        let mut object = serde_json::Map::new();
        for (k, v) in extra {
            object.insert(k, v.into());
        }
        if let Some(e) = email { object.insert("email".into(), e.into()); }
        if let Some(c) = code { object.insert("code".into(), c.into()); }
        let body = serde_json::Value::Object(object).to_string();
        let _ = SendOtpRequest::parse(body.as_bytes());
        if let Ok(req) = VerifyOtpRequest::parse(body.as_bytes(), 6) {
            prop_assert_eq!(req.code.expose().len(), 6);
        }
        let _ = ProfileUpdate::parse(body.as_bytes());
    }
}
