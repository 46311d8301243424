//! `REVIEW_LOGINS`: the app stores' reviewers' addresses and fixed codes
//! (`domain::review`). A secret, optional: unset or blank, nobody has one.

use super::settings::Settings;
use crate::domain::otp::OtpPolicy;
use crate::domain::review::ReviewLogins;

pub(super) const REVIEW_LOGINS: &str = "REVIEW_LOGINS";

/// Each problem names the setting and the entry by position, never a value:
/// the addresses and codes are secret.
pub(super) fn review_logins(s: &mut Settings, otp: &OtpPolicy) -> ReviewLogins {
    let Some(raw) = s.filled(REVIEW_LOGINS) else {
        return ReviewLogins::default();
    };
    match ReviewLogins::parse(&raw, otp.length) {
        Ok(logins) => logins,
        Err(problems) => {
            for problem in problems {
                s.problem(format!("{REVIEW_LOGINS} {problem}"));
            }
            ReviewLogins::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{base, deployed, load};
    use crate::domain::email::EmailAddress;

    #[test]
    fn unset_or_blank_lists_nobody() {
        assert!(load(&base()).ok().unwrap().review_logins.is_empty());
        let mut vars = base();
        vars.insert("REVIEW_LOGINS", "  ".into());
        assert!(load(&vars).ok().unwrap().review_logins.is_empty());
    }

    #[test]
    fn set_it_gives_each_address_its_code_in_production_too() {
        let mut vars = deployed("production");
        vars.insert(
            "REVIEW_LOGINS",
            "review@allmine.app:482916,apple@allmine.app:730184".into(),
        );
        let config = load(&vars).ok().unwrap();
        let review = EmailAddress::parse("review@allmine.app").unwrap();
        let code = config.review_logins.code_for(&review).unwrap();
        assert_eq!(code.expose(), "482916");
    }

    #[test]
    fn guessable_or_wrong_length_codes_are_configuration_errors_naming_the_setting_only() {
        for (raw, problem) in [
            (
                "review@allmine.app:123456",
                "REVIEW_LOGINS entry 1: the code is guessable (a run of digits); draw a random one",
            ),
            (
                "review@allmine.app:48291",
                "REVIEW_LOGINS entry 1: the code must be exactly 6 digits (OTP_LENGTH)",
            ),
            (
                "review@allmine.app:482916,review@allmine.app:730184",
                "REVIEW_LOGINS entry 2: the address is listed twice",
            ),
        ] {
            let mut vars = deployed("production");
            vars.insert("REVIEW_LOGINS", raw.into());
            let problems = load(&vars).err().unwrap();
            assert_eq!(problems, [problem], "{raw}");
            assert!(!problems[0].contains("review@"), "{problem}");
        }
        // The length follows OTP_LENGTH.
        let mut vars = base();
        vars.insert("OTP_LENGTH", "8".into());
        vars.insert("REVIEW_LOGINS", "review@allmine.app:482916".into());
        assert_eq!(
            load(&vars).err().unwrap(),
            ["REVIEW_LOGINS entry 1: the code must be exactly 8 digits (OTP_LENGTH)"]
        );
        vars.insert("REVIEW_LOGINS", "review@allmine.app:48291637".into());
        assert!(load(&vars).is_ok());
    }
}
