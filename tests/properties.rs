//! Property tests of the domain rules over generated input: parsing never
//! panics, what is accepted is normalised and stable, codes and hashes behave.

use allmine_auth::domain::email::EmailAddress;
use allmine_auth::domain::fields::{is_invisible, text};
use allmine_auth::domain::ids::OsRandom;
use allmine_auth::domain::limits::{BudgetPolicy, Counter, Counters, EmailLimits};
use allmine_auth::domain::otp::{CodeHasher, OtpCode};
use allmine_auth::domain::profile::{ProfileUpdate, Registration};
use allmine_auth::domain::requests::{
    LogoutRequest, RefreshTokenRequest, SendOtpRequest, VerifyOtpRequest,
};
use allmine_auth::domain::retention::Cutoffs;
use allmine_auth::domain::user_change::{FieldValue, UserField};
use chrono::{DateTime, NaiveDate};
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

    #[test]
    fn free_text_with_an_invisible_character_is_always_refused(
        before in "\\PC{0,20}",
        after in "\\PC{0,20}",
        invisible in proptest::sample::select(vec![
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}', '\u{200B}', '\u{200C}',
            '\u{200D}', '\u{2060}', '\u{FEFF}',
        ]),
    ) {
        let value = serde_json::Value::from(format!("{before}{invisible}{after}"));
        prop_assert!(text(100)(&value).is_err());
    }

    #[test]
    fn accepted_free_text_never_holds_an_invisible_character(raw in "\\PC{0,60}") {
        if let Ok(accepted) = text(100)(&serde_json::Value::from(raw)) {
            prop_assert!(!accepted.chars().any(is_invisible));
        }
    }

    /// Whatever is accepted as a photo is an https URL with a host, or a
    /// reference without a scheme that stays on the app's host.
    #[test]
    fn accepted_profile_photos_are_https_or_schemeless(
        raw in prop_oneof![
            "\\PC{0,40}",
            "[a-zA-Z]{1,10}:[/\\\\]{0,3}[a-z.@]{0,12}/?[a-z]{0,5}",
            "[/\\\\]{0,3}[a-z.:&]{0,15}",
        ],
    ) {
        let body = serde_json::json!({ "profilePhoto": raw }).to_string();
        if let Ok(update) = ProfileUpdate::parse(body.as_bytes()) {
            let Some((UserField::ProfilePhoto, FieldValue::Text(photo))) = update.changes.first() else {
                panic!("no photo in {:?}", update.changes);
            };
            let lower = photo.to_ascii_lowercase();
            match lower.strip_prefix("https://") {
                Some(rest) => prop_assert!(!rest.is_empty() && !rest.starts_with(['/', '?', '#', '@'])),
                None => prop_assert!(!photo.contains(':') && !photo.starts_with("//") && !photo.contains('\\')),
            }
        }
    }

    /// The retention purge deletes a counter only when its window started
    /// and its last change happened before the cutoffs; no counter that a
    /// limit still reads (a cooldown, an hourly cap, a lockout) ever matches.
    #[test]
    fn the_purge_never_takes_a_counter_a_limit_still_reads(
        cooldown in 0u32..=3600,
        sends_per_hour in 1u32..=100_000,
        failures in 1u32..=1000,
        lockout in 1u32..=86_400,
        budget in 1u32..=100_000,
        window_age_ms in 0i64..=3 * 86_400_000,
        since_window_ms in 0i64..=3 * 86_400_000,
        count in 0i64..=2000,
    ) {
        let limits = EmailLimits {
            resend_cooldown_seconds: cooldown,
            sends_per_hour,
            address_sends_per_hour: sends_per_hour,
            address_sends_per_day: sends_per_hour,
            failures_before_lockout: failures,
            lockout_seconds: lockout,
            daily_failure_budget: budget,
            owner_failure_budget: budget,
        };
        let now = DateTime::from_timestamp(1_780_000_000, 0).unwrap();
        let now_ms = now.timestamp_millis();
        let window_start = now_ms - window_age_ms;
        // A counter changes at or after the start of its window, never in the future.
        let counter = Counter {
            window_start,
            count,
            updated_at: (window_start + since_window_ms).min(now_ms),
        };
        let cutoffs = Cutoffs::at(now, &limits, 90);
        let purged = counter.window_start < cutoffs.counters_window_before_ms
            && counter.updated_at < cutoffs.counters_updated_before_ms;
        let c = Some(counter);
        let every = Counters {
            cooldown: c,
            sends: c,
            failures: c,
            address_sends: c,
            address_daily_sends: c,
            address_failures: c,
            address_owner_failures: c,
        };
        let still_read = limits.send_refusal(&every, BudgetPolicy::Lock, now_ms).is_some();
        prop_assert!(!(purged && still_read), "{counter:?} {limits:?}");
    }
}
