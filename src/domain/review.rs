//! Review logins (`REVIEW_LOGINS`): addresses that sign in with a fixed code
//! instead of a mailed one, for the app stores' reviewers, who cannot read
//! the inbox a code is mailed to (Apple's guideline 2.1 asks for a demo
//! account).
//!
//! A fixed code is only as strong as it is unpredictable: it is stored and
//! checked like a drawn one (same attempts, limits and budgets, so it cannot
//! be guessed faster), but it is the same at every send, so it must not be
//! one a guesser tries first. [`guessable`] refuses those. Which addresses
//! may use it, and when it is refused (an address that belongs to a real
//! account), is the send's and storage's business (`send-otp-email`).

use super::email::EmailAddress;
use super::ids::{random_hex, Random};
use super::otp::{CodeHasher, IssuedCode, OtpCode, PendingCode};

/// The review addresses and their fixed codes, as configured; empty when
/// `REVIEW_LOGINS` is unset.
#[derive(Clone, Default)]
pub struct ReviewLogins {
    entries: Vec<(EmailAddress, OtpCode)>,
}

impl std::fmt::Debug for ReviewLogins {
    // The addresses and codes are a secret shared with the reviewers only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReviewLogins({} entries)", self.entries.len())
    }
}

impl ReviewLogins {
    /// `address:code,address:code` (entries trimmed, empty ones dropped),
    /// each code exactly `length` digits and not [`guessable`], no address
    /// twice. The problems name entries by position, never their values.
    pub fn parse(raw: &str, length: u8) -> Result<Self, Vec<String>> {
        let mut entries: Vec<(EmailAddress, OtpCode)> = Vec::new();
        let mut problems = Vec::new();
        let listed = raw.split(',').map(str::trim).filter(|e| !e.is_empty());
        for (n, entry) in (1..).zip(listed) {
            let Some((address, code)) = entry.rsplit_once(':') else {
                problems.push(format!("entry {n} must be address:code"));
                continue;
            };
            let address = EmailAddress::parse(address);
            let code = code.trim();
            let well_formed =
                code.len() == usize::from(length) && code.bytes().all(|b| b.is_ascii_digit());
            if address.is_err() {
                problems.push(format!(
                    "entry {n}: the address is not a valid email address"
                ));
            }
            if !well_formed {
                problems.push(format!(
                    "entry {n}: the code must be exactly {length} digits (OTP_LENGTH)"
                ));
            } else if let Some(why) = guessable(code) {
                problems.push(format!(
                    "entry {n}: the code is guessable ({why}); draw a random one"
                ));
            }
            let (Ok(address), true) = (address, well_formed) else {
                continue;
            };
            if entries.iter().any(|(listed, _)| *listed == address) {
                problems.push(format!("entry {n}: the address is listed twice"));
                continue;
            }
            match OtpCode::parse(code, length) {
                Ok(code) => entries.push((address, code)),
                Err(_) => problems.push(format!("entry {n}: the code is not a code")),
            }
        }
        if problems.is_empty() {
            Ok(Self { entries })
        } else {
            Err(problems)
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The fixed code of `email`, if it is a review address.
    pub fn code_for(&self, email: &EmailAddress) -> Option<&OtpCode> {
        self.entries
            .iter()
            .find(|(address, _)| address == email)
            .map(|(_, code)| code)
    }

    /// For a review address, its fixed code issued as a drawn one is
    /// (`otp::issue`): a fresh issuance id and the keyed hash under it, for
    /// the login tagged `login`. `None` for any other address.
    pub fn issue(
        &self,
        email: &EmailAddress,
        login: &str,
        hasher: &CodeHasher,
        rng: &mut impl Random,
    ) -> Option<IssuedCode> {
        let code = self.code_for(email)?.clone();
        let id = random_hex(rng, 16);
        let hash = hasher.hash(email, &id, &code);
        Some(IssuedCode {
            code,
            pending: PendingCode {
                id,
                hash,
                login: Some(login.to_owned()),
            },
        })
    }
}

/// Codes people pick, beyond what the rules of [`guessable`] catch: keypad
/// patterns, famous numbers, years and the like (lists of leaked PINs).
const COMMON: &[&str] = &[
    // Four digits.
    "1004", "2000", "2001", "1984", "1990", "2580", "0852", "1998", "2019", "2020", "2021", "2022",
    "2023", "2024", "2025", "2026", "1379", "1397", "7410", "0147", "3690", // Five.
    "14789", "25800", "11235", // Six.
    "112233", "123654", "147258", "147369", "159753", "159357", "789456", "456123", "123789",
    "789123", "147852", "258456", "741852", "852456", "963852", "369258", "142536", "147963",
    "100200", "102030", "112358", "314159", "271828", "142857", "121314", "131415", "123987",
    "654123", "258852", "321654", "123465", "124578", "998877", "778899", "445566", "665544",
    "332211", "556677", "010203", "200000", "100000", "123000", "123450", "111000",
    // Seven.
    "8675309", "1123581", "3141592", "1234560", // Eight.
    "11223344", "12345679", "14725836", "12369874", "31415926", "27182818", "11235813", "19871987",
    "20002000", "44332211", "12341234", "01020304", "10203040",
];

/// Why a fixed code is among the first a guesser tries, if it is: one digit
/// repeated or a run in steps (`111111`, `123456`, `654321`, `135791`, `890123`:
/// each digit the last plus one step, modulo 10), a shorter pattern repeated
/// (`121212`, `123123`), a mirror (`123321`), two different digits at most
/// (`112211`), or a listed common code. `code` is ASCII digits.
pub fn guessable(code: &str) -> Option<&'static str> {
    let digits: Vec<u8> = code.bytes().map(|b| b - b'0').collect();
    let n = digits.len();
    let step = |i: usize| (10 + digits[i + 1] - digits[i]) % 10;
    if n < 2 || (0..n - 1).all(|i| step(i) == step(0)) {
        return Some(if n < 2 || step(0) == 0 {
            "one digit repeated"
        } else {
            "a run of digits"
        });
    }
    if (1..=n / 2).any(|p| (p..n).all(|i| digits[i] == digits[i - p])) {
        return Some("a repeated pattern");
    }
    if (0..n / 2).all(|i| digits[i] == digits[n - 1 - i]) {
        return Some("the same backwards");
    }
    let mut distinct = digits.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() <= 2 {
        return Some("two different digits at most");
    }
    COMMON.contains(&code).then_some("a common code")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::OsRandom;

    fn email(raw: &str) -> EmailAddress {
        EmailAddress::parse(raw).unwrap()
    }

    #[test]
    fn one_digit_and_runs_are_guessable() {
        for code in [
            "000000", "111111", "999999", "1111", "22222222", "123456", "234567", "654321",
            "987654", "012345", "890123", "098765", "135791", "246802", "975319", "1234",
            "12345678", "87654321",
        ] {
            assert!(guessable(code).is_some(), "{code}");
        }
        assert_eq!(guessable("777777"), Some("one digit repeated"));
        assert_eq!(guessable("123456"), Some("a run of digits"));
        assert_eq!(guessable("654321"), Some("a run of digits"));
    }

    #[test]
    fn repeated_patterns_mirrors_and_two_digit_codes_are_guessable() {
        for (code, why) in [
            ("121212", "a repeated pattern"),
            ("123123", "a repeated pattern"),
            ("520520", "a repeated pattern"),
            ("12341234", "a repeated pattern"),
            ("1212121", "a repeated pattern"),
            ("123321", "the same backwards"),
            ("1221", "the same backwards"),
            ("9876789", "the same backwards"),
            ("112211", "the same backwards"),
            ("111222", "two different digits at most"),
            ("100010", "two different digits at most"),
            ("696699", "two different digits at most"),
        ] {
            assert_eq!(guessable(code), Some(why), "{code}");
        }
    }

    #[test]
    fn common_codes_are_guessable() {
        for code in [
            "112233", "159753", "147258", "789456", "102030", "314159", "8675309", "11223344",
            "2580", "1984",
        ] {
            assert_eq!(guessable(code), Some("a common code"), "{code}");
        }
    }

    #[test]
    fn random_looking_codes_pass() {
        for code in ["482916", "730184", "5067", "90417263", "3816205", "058214"] {
            assert_eq!(guessable(code), None, "{code}");
        }
        // Most random codes pass: the rules refuse well under one in a hundred.
        let refused = (0..1_000_000u32)
            .filter(|n| guessable(&format!("{n:06}")).is_some())
            .count();
        assert!(refused < 5_000, "{refused}");
    }

    #[test]
    fn entries_are_parsed_and_looked_up_by_normalised_address() {
        let logins =
            ReviewLogins::parse(" Review@Allmine.app:482916 , ,apple@allmine.app:730184,", 6)
                .unwrap();
        assert_eq!(
            logins
                .code_for(&email("review@allmine.app"))
                .map(OtpCode::expose),
            Some("482916")
        );
        assert_eq!(
            logins
                .code_for(&email("apple@allmine.app"))
                .map(OtpCode::expose),
            Some("730184")
        );
        assert!(logins.code_for(&email("someone@allmine.app")).is_none());
        assert!(ReviewLogins::parse("", 6).unwrap().is_empty());
        assert!(ReviewLogins::parse(" , ", 6).unwrap().is_empty());
    }

    #[test]
    fn wrong_entries_are_named_by_position_never_by_value() {
        let raw = "a@x.app:48291,b@x.app:4829161,c@x.app:48291a,not-an-address:482916,\
                   d@x.app:123456,e@x.app,a@x.app:730184,a@x.app:058214";
        let problems = ReviewLogins::parse(raw, 6).err().unwrap();
        assert_eq!(
            problems,
            [
                "entry 1: the code must be exactly 6 digits (OTP_LENGTH)",
                "entry 2: the code must be exactly 6 digits (OTP_LENGTH)",
                "entry 3: the code must be exactly 6 digits (OTP_LENGTH)",
                "entry 4: the address is not a valid email address",
                "entry 5: the code is guessable (a run of digits); draw a random one",
                "entry 6 must be address:code",
                "entry 8: the address is listed twice",
            ]
        );
        for problem in &problems {
            for value in ["48291", "482916", "x.app", "not-an-address", "123456"] {
                assert!(!problem.contains(value), "{problem}");
            }
        }
        // The length is OTP_LENGTH's, whatever it is.
        assert!(ReviewLogins::parse("a@x.app:5067", 4).is_ok());
        assert!(ReviewLogins::parse("a@x.app:482916", 4).is_err());
    }

    #[test]
    fn a_fixed_code_is_issued_like_a_drawn_one() {
        let logins = ReviewLogins::parse("review@allmine.app:482916", 6).unwrap();
        let hasher = CodeHasher::new(b"k".repeat(32));
        let address = email("review@allmine.app");
        let a = logins
            .issue(&address, "login-tag", &hasher, &mut OsRandom)
            .unwrap();
        let b = logins
            .issue(&address, "login-tag", &hasher, &mut OsRandom)
            .unwrap();
        // A fresh issuance each time: its own id and hash, the same digits.
        assert_ne!(a.pending.id, b.pending.id);
        assert_ne!(a.pending.hash, b.pending.hash);
        assert_eq!(a.code.expose(), "482916");
        assert_eq!(a.pending.login.as_deref(), Some("login-tag"));
        let typed = OtpCode::parse("482916", 6).unwrap();
        assert!(hasher.matches(&address, &a.pending.id, &typed, &a.pending.hash));
        assert!(logins
            .issue(&email("other@allmine.app"), "t", &hasher, &mut OsRandom)
            .is_none());
        assert!(!format!("{logins:?}").contains("482916"));
    }
}
