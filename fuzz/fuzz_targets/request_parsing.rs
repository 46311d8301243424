//! Every request body parser on arbitrary bytes: must never panic, and what it
//! accepts must be well formed.
#![no_main]

use allmine_auth::domain::email::EmailAddress;
use allmine_auth::domain::otp::CHALLENGED_LENGTH;
use allmine_auth::domain::profile::{ProfileUpdate, Registration};
use allmine_auth::domain::requests::{
    LogoutRequest, RefreshTokenRequest, ScheduleDeletionRequest, SendOtpRequest, VerifyOtpRequest,
};
use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = SendOtpRequest::parse(data) {
        assert!(EmailAddress::parse(req.email.as_str()).is_ok());
    }
    // A code has the policy's length, or CHALLENGED_LENGTH (a code sent
    // after a solved challenge).
    let well_formed = |code: &str| {
        [6, usize::from(CHALLENGED_LENGTH)].contains(&code.len())
            && code.bytes().all(|b| b.is_ascii_digit())
    };
    if let Ok(req) = VerifyOtpRequest::parse(data, 6) {
        assert!(well_formed(req.code.expose()));
    }
    if let Ok(req) = ScheduleDeletionRequest::parse(Some(data), 6) {
        assert!(well_formed(req.code.expose()));
    }
    let _ = RefreshTokenRequest::parse(data);
    let _ = LogoutRequest::parse(data);
    let _ = ProfileUpdate::parse(data);
    let _ = Registration::parse(data, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = EmailAddress::parse(text);
    }
});
