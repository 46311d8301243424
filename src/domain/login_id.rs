//! The login id: an opaque handle that `send-otp-email` returns to the client
//! that asked for a code and `verify-otp-email` carries back (Stytch's
//! `email_id`, Clerk's sign-in attempt). Attempts that carry it are counted
//! on the codes of that login alone, apart from strangers' guesses, so a
//! stranger guessing at the address cannot make the owner's live code fail.
//! (A stranger can spend the address's owner budget with codes it asked for
//! itself; the owner then needs a challenged code: `domain::limits`.)
//!
//! It is no credential: a code is still needed, and a stranger who asks for
//! codes gets login ids of their own, whose attempts the owner budget bounds
//! (`domain::limits`). Storage keeps only a keyed tag of it.

use super::ids::{random_hex, Random};

/// 128 random bits, as 32 lowercase hex digits.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginId(String);

impl std::fmt::Debug for LoginId {
    // Only its owner should hold it: keep it out of debug output and logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginId(***)")
    }
}

impl LoginId {
    const HEX_LEN: usize = 32;

    pub fn generate(rng: &mut impl Random) -> Self {
        Self(random_hex(rng, Self::HEX_LEN / 2))
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        let well_formed = raw.len() == Self::HEX_LEN
            && raw
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if well_formed {
            Ok(Self(raw.to_owned()))
        } else {
            Err("must be the loginId a send returned".to_string())
        }
    }

    /// The id itself: for the send's answer and for tagging, nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::OsRandom;

    #[test]
    fn generated_ids_parse_and_differ() {
        let (a, b) = (
            LoginId::generate(&mut OsRandom),
            LoginId::generate(&mut OsRandom),
        );
        assert_ne!(a, b);
        assert_eq!(LoginId::parse(a.expose()).unwrap(), a);
    }

    #[test]
    fn anything_else_is_refused() {
        for raw in ["", "abc", &"A".repeat(32), &"g".repeat(32), &"a".repeat(33)] {
            assert!(LoginId::parse(raw).is_err(), "{raw}");
        }
        assert!(format!("{:?}", LoginId::parse(&"a".repeat(32)).unwrap()).contains("***"));
    }
}
