//! One-time codes: their shape, how they are drawn, how they are stored and checked.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::email::EmailAddress;
use super::error::AppError;
use super::ids::{from_hex, random_hex, to_hex, Random};
use super::limits::{Counter, EmailLimits, Refusal};

pub const MIN_LENGTH: u8 = 4;
pub const MAX_LENGTH: u8 = 8;
/// Workers KV refuses an `expirationTtl` under 60 seconds.
pub const MIN_TTL_SECONDS: u32 = 60;
pub const MAX_TTL_SECONDS: u32 = 3600;

/// How codes are issued and checked; read once from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtpPolicy {
    pub length: u8,
    pub ttl_seconds: u32,
    pub max_attempts: u32,
}

impl Default for OtpPolicy {
    fn default() -> Self {
        Self {
            length: 6,
            ttl_seconds: 300,
            max_attempts: 5,
        }
    }
}

/// A code as typed by the user: exactly `policy.length` ASCII digits.
#[derive(Clone, PartialEq, Eq)]
pub struct OtpCode(String);

impl std::fmt::Debug for OtpCode {
    // Codes are secrets: keep them out of debug output and so out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OtpCode(***)")
    }
}

impl OtpCode {
    pub fn parse(raw: &str, length: u8) -> Result<Self, String> {
        if raw.len() != usize::from(length) || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("must be exactly {length} digits"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// Draws a uniformly random code. Rejection sampling keeps every digit equally
    /// likely: bytes 250..=255 are redrawn instead of folding them onto 0..=5.
    pub fn generate(length: u8, rng: &mut impl Random) -> Self {
        let mut code = String::with_capacity(usize::from(length));
        let mut byte = [0u8; 1];
        while code.len() < usize::from(length) {
            rng.fill(&mut byte);
            if byte[0] < 250 {
                code.push(char::from(b'0' + byte[0] % 10));
            }
        }
        Self(code)
    }

    /// The digits; only for composing the email that carries the code.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Keyed hash of codes. Only the hash is stored, so a read of KV does not yield
/// usable codes, and a 10^6 code space cannot be brute-forced offline without the key.
#[derive(Clone)]
pub struct CodeHasher {
    key: Vec<u8>,
}

impl CodeHasher {
    pub fn new(key: Vec<u8>) -> Self {
        Self { key }
    }

    fn mac(&self, email: &EmailAddress, code_id: &str, code: &OtpCode) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC accepts keys of any length");
        // Length-prefixed fields so that no two (email, id, code) triples hash alike.
        for part in [email.as_str(), code_id, code.expose()] {
            mac.update(&(part.len() as u32).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac
    }

    /// A keyed, irreversible tag of a value (an address, an IP) for one purpose:
    /// lets storage and logs recognise a value without being able to read it back.
    pub fn tag(&self, purpose: &str, value: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC accepts keys of any length");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(value.as_bytes());
        to_hex(&mac.finalize().into_bytes())
    }

    /// What remains of the email of a deleted account: the address can be
    /// recognised (so it cannot sign up again) but not read back.
    pub fn tombstone(&self, email: &str) -> String {
        format!("deleted:{}", self.tag("account-tombstone", email))
    }

    pub fn hash(&self, email: &EmailAddress, code_id: &str, code: &OtpCode) -> String {
        to_hex(&self.mac(email, code_id, code).finalize().into_bytes())
    }

    /// Constant-time comparison (`verify_slice` uses `subtle`), so timing does not
    /// reveal how many leading bytes of a guess were right.
    pub fn matches(
        &self,
        email: &EmailAddress,
        code_id: &str,
        code: &OtpCode,
        stored_hex: &str,
    ) -> bool {
        match from_hex(stored_hex) {
            Some(stored) => self.mac(email, code_id, code).verify_slice(&stored).is_ok(),
            None => false,
        }
    }
}

/// What KV holds for a pending code, under the address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingCode {
    /// Random id of this issuance; ties the KV record to its row in the D1 ledger.
    pub id: String,
    pub hash: String,
}

/// A freshly issued code: the plain code goes to the mailbox, the rest to storage.
pub struct IssuedCode {
    pub code: OtpCode,
    pub pending: PendingCode,
}

pub fn issue(
    email: &EmailAddress,
    policy: &OtpPolicy,
    hasher: &CodeHasher,
    rng: &mut impl Random,
) -> IssuedCode {
    let code = OtpCode::generate(policy.length, rng);
    let id = random_hex(rng, 16);
    let hash = hasher.hash(email, &id, &code);
    IssuedCode {
        code,
        pending: PendingCode { id, hash },
    }
}

/// Why an attempt on a code did not sign the user in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeRefusal {
    /// No live code for this issuance: never sent, replaced, expired or already used.
    NotPending,
    /// The code is live but every attempt on it is spent.
    Exhausted,
    /// A wrong code, counted against it: `attempts` are now spent.
    Wrong { attempts: u32 },
    /// The address is locked after repeated wrong codes, until then (Unix ms).
    LockedOut { until: i64 },
}

/// The ledger as it stands right after an attempt that did not log in: the
/// attempts spent on the live, unused code (`None` when there is none) and the
/// address's wrong-code counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerSnapshot {
    pub live_attempts: Option<u32>,
    pub failures: Option<Counter>,
}

impl CodeRefusal {
    /// Why a right code could not be used, from the ledger after the attempt.
    pub fn classify(
        snapshot: &LedgerSnapshot,
        policy: &OtpPolicy,
        limits: &EmailLimits,
        now_ms: i64,
    ) -> Self {
        if let Some(until) = limits.locked_until(snapshot.failures.as_ref(), now_ms) {
            return Self::LockedOut { until };
        }
        match snapshot.live_attempts {
            Some(attempts) if attempts >= policy.max_attempts => Self::Exhausted,
            // Live with attempts left: a concurrent request changed it between
            // the attempt and the read. Treat as not pending rather than guess.
            _ => Self::NotPending,
        }
    }

    /// The answer this refusal gets.
    pub fn into_error(self, policy: &OtpPolicy, now_ms: i64) -> AppError {
        match self {
            Self::NotPending => AppError::NoPendingCode,
            Self::Exhausted => AppError::TooManyAttempts,
            Self::Wrong { attempts } => AppError::WrongCode {
                attempts_left: policy.max_attempts.saturating_sub(attempts),
            },
            Self::LockedOut { until } => Refusal::LockedOut { until }.into_error(now_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::testing::FixedRandom;
    use crate::domain::ids::OsRandom;

    fn email() -> EmailAddress {
        EmailAddress::parse("john@example.com").unwrap()
    }

    #[test]
    fn code_of_wrong_length_or_non_digits_is_rejected() {
        assert!(OtpCode::parse("12345", 6).is_err());
        assert!(OtpCode::parse("1234567", 6).is_err());
        assert!(OtpCode::parse("12345a", 6).is_err());
        assert!(OtpCode::parse(" 123456", 6).is_err());
        assert!(OtpCode::parse("١٢٣٤٥٦", 6).is_err()); // Arabic-Indic digits
        assert!(OtpCode::parse("123456", 6).is_ok());
        assert!(OtpCode::parse("1234", 4).is_ok());
    }

    #[test]
    fn generated_code_has_the_policy_length_and_only_digits() {
        for len in MIN_LENGTH..=MAX_LENGTH {
            let code = OtpCode::generate(len, &mut OsRandom);
            assert_eq!(code.expose().len(), usize::from(len));
            assert!(OtpCode::parse(code.expose(), len).is_ok());
        }
    }

    #[test]
    fn generation_redraws_biased_bytes() {
        // 250..=255 would map to 0..=5 a second time; they must be skipped.
        let code = OtpCode::generate(4, &mut FixedRandom::new(&[255, 250, 7, 253, 19, 42, 3]));
        assert_eq!(code.expose(), "7923");
    }

    #[test]
    fn generated_digits_are_roughly_uniform() {
        let mut counts = [0u32; 10];
        for _ in 0..5_000 {
            for b in OtpCode::generate(8, &mut OsRandom).expose().bytes() {
                counts[usize::from(b - b'0')] += 1;
            }
        }
        // 40 000 digits: each expected 4 000; 5 sigma is about 300.
        for (digit, n) in counts.iter().enumerate() {
            assert!((3_700..=4_300).contains(n), "digit {digit} drawn {n} times");
        }
    }

    #[test]
    fn hash_matches_only_the_same_email_id_and_code() {
        let hasher = CodeHasher::new(b"secret".to_vec());
        let code = OtpCode::parse("123456", 6).unwrap();
        let hash = hasher.hash(&email(), "id1", &code);
        assert!(hasher.matches(&email(), "id1", &code, &hash));
        let other_code = OtpCode::parse("123457", 6).unwrap();
        assert!(!hasher.matches(&email(), "id1", &other_code, &hash));
        assert!(!hasher.matches(&email(), "id2", &code, &hash));
        let other = EmailAddress::parse("jane@example.com").unwrap();
        assert!(!hasher.matches(&other, "id1", &code, &hash));
        let other_key = CodeHasher::new(b"other".to_vec());
        assert!(!other_key.matches(&email(), "id1", &code, &hash));
        assert!(!hasher.matches(&email(), "id1", &code, "not-hex"));
    }

    #[test]
    fn stored_hash_does_not_contain_the_code() {
        let hasher = CodeHasher::new(b"secret".to_vec());
        let issued = issue(&email(), &OtpPolicy::default(), &hasher, &mut OsRandom);
        assert!(!issued.pending.hash.contains(issued.code.expose()));
        assert_eq!(issued.pending.hash.len(), 64);
        assert!(hasher.matches(
            &email(),
            &issued.pending.id,
            &issued.code,
            &issued.pending.hash
        ));
    }

    #[test]
    fn refusals_answer_as_documented() {
        let policy = OtpPolicy::default();
        let answer = |r: CodeRefusal| r.into_error(&policy, 0);
        assert_eq!(answer(CodeRefusal::NotPending), AppError::NoPendingCode);
        assert_eq!(answer(CodeRefusal::Exhausted), AppError::TooManyAttempts);
        assert_eq!(
            answer(CodeRefusal::Wrong { attempts: 2 }),
            AppError::WrongCode { attempts_left: 3 }
        );
        assert_eq!(
            answer(CodeRefusal::Wrong { attempts: 5 }),
            AppError::WrongCode { attempts_left: 0 }
        );
        assert_eq!(
            answer(CodeRefusal::LockedOut { until: 5_000 }).status(),
            429
        );
    }

    #[test]
    fn a_refused_right_code_is_classified_from_the_ledger() {
        let (policy, limits) = (OtpPolicy::default(), EmailLimits::default());
        let classify = |live_attempts, failures| {
            CodeRefusal::classify(
                &LedgerSnapshot {
                    live_attempts,
                    failures,
                },
                &policy,
                &limits,
                10_000_000,
            )
        };
        assert_eq!(classify(None, None), CodeRefusal::NotPending);
        assert_eq!(classify(Some(5), None), CodeRefusal::Exhausted);
        assert_eq!(classify(Some(2), None), CodeRefusal::NotPending);
        let locked = Counter {
            window_start: 9_900_000,
            count: 10,
            updated_at: 9_999_000,
        };
        assert!(matches!(
            classify(Some(1), Some(locked)),
            CodeRefusal::LockedOut { .. }
        ));
    }

    #[test]
    fn tombstones_are_stable_keyed_and_unreadable() {
        let hasher = CodeHasher::new(b"secret".to_vec());
        let a = hasher.tombstone("john@example.com");
        assert_eq!(a, hasher.tombstone("john@example.com"));
        assert!(a.starts_with("deleted:") && !a.contains("john"));
        assert_ne!(a, hasher.tombstone("jane@example.com"));
        assert_ne!(
            a,
            CodeHasher::new(b"other".to_vec()).tombstone("john@example.com")
        );
    }

    #[test]
    fn debug_output_hides_the_code() {
        let code = OtpCode::parse("123456", 6).unwrap();
        assert!(!format!("{code:?}").contains("123456"));
    }
}
