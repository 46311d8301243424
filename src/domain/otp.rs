//! One-time codes: their shape, how they are drawn, how they are stored and checked.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::audit::{AuditEvent, AuditKind};
use super::email::EmailAddress;
use super::error::AppError;
use super::ids::{from_hex, random_hex, to_hex, Random};
use super::limits::{BudgetPolicy, Counters, EmailLimits, Refusal};

pub const MIN_LENGTH: u8 = 4;
pub const MAX_LENGTH: u8 = 8;
/// The length of a code sent after a solved challenge (the address is under
/// attack): a hundred times harder to guess than six digits, still typeable.
pub const CHALLENGED_LENGTH: u8 = MAX_LENGTH;
/// Attempts a code sent after a solved challenge takes, on each path: fewer
/// than a mailed code's, because a solver can keep asking for such codes.
pub const CHALLENGED_ATTEMPTS: u32 = 3;
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

impl OtpPolicy {
    /// Attempts a code takes on each path.
    pub fn attempts_for(&self, challenged: bool) -> u32 {
        if challenged {
            CHALLENGED_ATTEMPTS.min(self.max_attempts)
        } else {
            self.max_attempts
        }
    }
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

/// A code as typed by the user: exactly `policy.length` ASCII digits, or
/// `CHALLENGED_LENGTH` (a code sent after a solved challenge).
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
        let long = raw.len() == usize::from(CHALLENGED_LENGTH);
        if (raw.len() != usize::from(length) && !long) || !raw.bytes().all(|b| b.is_ascii_digit()) {
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

    /// How many digits it has.
    pub fn length(&self) -> u8 {
        self.0.len() as u8
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
    /// Random id of this issuance; ties the KV record to its row in D1.
    pub id: String,
    pub hash: String,
    /// The keyed tag of the login id its send returned (`Keys::login_tag`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
}

/// How many codes of one address are usable at once: the newest and the one
/// it replaced. Mail can be slow; a user who asked twice may type either.
pub const LIVE_CODES: usize = 2;

/// The usable codes of an address, newest first, as KV holds them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingCodes {
    pub codes: Vec<PendingCode>,
}

impl PendingCodes {
    /// A new code, with the one it replaces (if still usable) kept behind it.
    pub fn after_resend(newest: PendingCode, previous: Option<PendingCode>) -> Self {
        let mut codes = vec![newest];
        codes.extend(previous);
        codes.truncate(LIVE_CODES);
        Self { codes }
    }

    /// The code this one is, if any (each comparison in constant time).
    pub fn matching<'a>(
        &'a self,
        hasher: &CodeHasher,
        email: &EmailAddress,
        code: &OtpCode,
    ) -> Option<&'a PendingCode> {
        self.codes
            .iter()
            .find(|c| hasher.matches(email, &c.id, code, &c.hash))
    }

    pub fn newest_id(&self) -> Option<&str> {
        self.codes.first().map(|c| c.id.as_str())
    }

    pub fn holds(&self, id: &str) -> bool {
        self.codes.iter().any(|c| c.id == id)
    }

    /// The codes an attempt on `path` may use: all of them, or one login's.
    pub fn on(&self, path: Path<'_>) -> Self {
        Self {
            codes: self
                .codes
                .iter()
                .filter(|c| path.covers(c))
                .cloned()
                .collect(),
        }
    }
}

/// Whom an attempt is counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path<'a> {
    /// The documented `{email, code}`: against every usable code of the
    /// address, under the address's daily failure budget.
    Anonymous,
    /// An attempt carrying a login id (its tag): against that login's codes
    /// alone, so strangers' guesses never spend them; under the owner budget.
    Owner { login: &'a str },
}

impl Path<'_> {
    fn covers(&self, code: &PendingCode) -> bool {
        match self {
            Self::Anonymous => true,
            Self::Owner { login } => code.login.as_deref() == Some(*login),
        }
    }
}

/// A freshly issued code: the plain code goes to the mailbox, the rest to storage.
pub struct IssuedCode {
    pub code: OtpCode,
    pub pending: PendingCode,
}

/// Draws a code of `length` digits for the login tagged `login`.
pub fn issue(
    email: &EmailAddress,
    length: u8,
    login: &str,
    hasher: &CodeHasher,
    rng: &mut impl Random,
) -> IssuedCode {
    let code = OtpCode::generate(length, rng);
    let id = random_hex(rng, 16);
    let hash = hasher.hash(email, &id, &code);
    IssuedCode {
        code,
        pending: PendingCode {
            id,
            hash,
            login: Some(login.to_owned()),
        },
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
    /// This attempt was counted, and its count locked the request out until
    /// then: answered as [`CodeRefusal::LockedOut`], recorded as the lock.
    LockedNow { until: i64 },
}

/// An unused, unexpired code as D1 holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unexpired {
    pub code: PendingCode,
    /// Wrong codes counted on it without its login id.
    pub attempts: u32,
    /// Wrong codes counted on it with its login id.
    pub owner_attempts: u32,
    /// Sent after a solved challenge (`CHALLENGED_LENGTH` digits): its login
    /// keeps its attempts when the owner budget is spent.
    pub challenged: bool,
}

/// D1's codes and counters as they stand right after an attempt that did not
/// log in, read in the attempt's own transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerSnapshot {
    /// Unused, unexpired codes, newest first.
    pub unexpired: Vec<Unexpired>,
    pub counters: Counters,
}

impl LedgerSnapshot {
    /// The codes an attempt on `path` may still use, newest first.
    pub fn usable(
        &self,
        policy: &OtpPolicy,
        limits: &EmailLimits,
        path: Path<'_>,
        now_ms: i64,
    ) -> PendingCodes {
        let owner_budget_spent = limits
            .owner_budget_spent_until(self.counters.address_owner_failures.as_ref(), now_ms)
            .is_some();
        // Without a login id, the address's newest codes; with one, that
        // login's (of which there are never more than `LIVE_CODES`).
        let live = self
            .unexpired
            .iter()
            .filter(|u| path.covers(&u.code))
            .take(LIVE_CODES);
        PendingCodes {
            codes: live
                .filter(|u| {
                    let max = policy.attempts_for(u.challenged);
                    match path {
                        Path::Anonymous => u.attempts < max,
                        Path::Owner { .. } => {
                            u.owner_attempts < max && (u.challenged || !owner_budget_spent)
                        }
                    }
                })
                .map(|u| u.code.clone())
                .collect(),
        }
    }
}

impl CodeRefusal {
    /// Why an attempt was not counted or used, from the ledger after it.
    pub fn classify(
        snapshot: &LedgerSnapshot,
        policy: &OtpPolicy,
        limits: &EmailLimits,
        budget: BudgetPolicy,
        path: Path<'_>,
        now_ms: i64,
    ) -> Self {
        if let Some(until) = limits.verify_locked_until(&snapshot.counters, budget, path, now_ms) {
            return Self::LockedOut { until };
        }
        if !snapshot
            .usable(policy, limits, path, now_ms)
            .codes
            .is_empty()
        {
            // Usable codes, yet not counted: a concurrent request changed the
            // ledger between the attempt and the read. Not pending, not a guess.
            return Self::NotPending;
        }
        // Another login's codes are none of this attempt's business.
        if !snapshot.unexpired.iter().any(|u| path.covers(&u.code)) {
            Self::NotPending
        } else {
            Self::Exhausted
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
            Self::LockedOut { until } | Self::LockedNow { until } => {
                Refusal::LockedOut { until }.into_error(now_ms)
            }
        }
    }

    /// What the audit trail records of this refusal: a counted wrong code,
    /// and the count that locked the request out, once, as the lock. A
    /// refusal that counted nothing (during a lock, no code pending, spent)
    /// records nothing, so a stranger repeating refused attempts writes nothing.
    pub fn audit_event(self) -> Option<AuditEvent> {
        match self {
            Self::Wrong { .. } => {
                Some(AuditEvent::new(AuditKind::VerifyFailed).detail("wrong code"))
            }
            Self::LockedNow { .. } => {
                Some(AuditEvent::new(AuditKind::Lockout).detail("wrong codes"))
            }
            Self::NotPending | Self::Exhausted | Self::LockedOut { .. } => None,
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
        // A code sent after a challenge is longer, whatever the policy.
        assert!(OtpCode::parse("12345678", 6).is_ok());
        assert!(OtpCode::parse("123456789", 6).is_err());
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
        let issued = issue(&email(), 6, "login", &hasher, &mut OsRandom);
        assert_eq!(issued.pending.login.as_deref(), Some("login"));
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
        for locked in [
            CodeRefusal::LockedOut { until: 5_000 },
            CodeRefusal::LockedNow { until: 5_000 },
        ] {
            assert!(matches!(answer(locked), AppError::RateLimited { .. }));
        }
    }

    #[test]
    fn only_a_counted_refusal_is_audited_and_a_lock_once() {
        let kind = |r: CodeRefusal| r.audit_event().map(|e| e.kind);
        assert_eq!(
            kind(CodeRefusal::Wrong { attempts: 1 }),
            Some(AuditKind::VerifyFailed)
        );
        assert_eq!(
            kind(CodeRefusal::LockedNow { until: 1 }),
            Some(AuditKind::Lockout)
        );
        for quiet in [
            CodeRefusal::NotPending,
            CodeRefusal::Exhausted,
            CodeRefusal::LockedOut { until: 1 },
        ] {
            assert_eq!(kind(quiet), None, "{quiet:?}");
        }
    }

    #[test]
    fn a_refused_attempt_is_classified_from_the_ledger() {
        let (policy, limits) = (OtpPolicy::default(), EmailLimits::default());
        let code = |id: &str| PendingCode {
            id: id.into(),
            hash: "h".into(),
            login: None,
        };
        let classify = |unexpired: Vec<(PendingCode, u32)>, counters| {
            let unexpired = unexpired
                .into_iter()
                .map(|(code, attempts)| Unexpired {
                    code,
                    attempts,
                    owner_attempts: 0,
                    challenged: false,
                })
                .collect();
            CodeRefusal::classify(
                &LedgerSnapshot {
                    unexpired,
                    counters,
                },
                &policy,
                &limits,
                BudgetPolicy::Lock,
                Path::Anonymous,
                100_000_000,
            )
        };
        let none = Counters::default();
        assert_eq!(classify(vec![], none), CodeRefusal::NotPending);
        assert_eq!(classify(vec![(code("a"), 5)], none), CodeRefusal::Exhausted);
        assert_eq!(
            classify(vec![(code("a"), 2)], none),
            CodeRefusal::NotPending
        );
        let locked = Counters {
            failures: Some(crate::domain::limits::Counter {
                window_start: 99_900_000,
                count: 10,
                updated_at: 99_999_000,
            }),
            ..Counters::default()
        };
        assert!(matches!(
            classify(vec![(code("a"), 1)], locked),
            CodeRefusal::LockedOut { .. }
        ));
    }

    #[test]
    fn an_owner_attempt_sees_its_own_login_only_and_spends_apart() {
        let (policy, limits) = (OtpPolicy::default(), EmailLimits::default());
        let unexpired = |login: &str, attempts, owner_attempts, challenged| Unexpired {
            code: PendingCode {
                id: login.into(),
                hash: "h".into(),
                login: Some(login.into()),
            },
            attempts,
            owner_attempts,
            challenged,
        };
        let now = 100_000_000;
        let spent = crate::domain::limits::Counter {
            window_start: now - 1000,
            count: i64::from(limits.owner_failure_budget),
            updated_at: now - 1000,
        };
        let ids = |snapshot: &LedgerSnapshot, path| {
            let usable = snapshot.usable(&policy, &limits, path, now);
            usable.codes.into_iter().map(|c| c.id).collect::<Vec<_>>()
        };
        // Strangers spent every anonymous attempt on the owner's code.
        let mut snapshot = LedgerSnapshot {
            unexpired: vec![
                unexpired("mine", 5, 0, false),
                unexpired("theirs", 0, 5, false),
            ],
            counters: Counters::default(),
        };
        assert_eq!(ids(&snapshot, Path::Anonymous), vec!["theirs"]);
        assert_eq!(ids(&snapshot, Path::Owner { login: "mine" }), vec!["mine"]);
        assert!(ids(&snapshot, Path::Owner { login: "theirs" }).is_empty());
        // A spent owner budget leaves only codes sent after a challenge.
        snapshot.counters.address_owner_failures = Some(spent);
        assert!(ids(&snapshot, Path::Owner { login: "mine" }).is_empty());
        snapshot.unexpired[0].challenged = true;
        assert_eq!(ids(&snapshot, Path::Owner { login: "mine" }), vec!["mine"]);
    }

    #[test]
    fn a_resend_keeps_the_previous_code_usable_and_no_more() {
        let code = |id: &str| PendingCode {
            id: id.into(),
            hash: "h".into(),
            login: None,
        };
        let both = PendingCodes::after_resend(code("new"), Some(code("old")));
        assert_eq!(both.newest_id(), Some("new"));
        assert_eq!(both.codes.len(), 2);
        let hasher = CodeHasher::new(b"k".to_vec());
        let old = OtpCode::parse("111111", 6).unwrap();
        let new = OtpCode::parse("222222", 6).unwrap();
        let pending = PendingCodes::after_resend(
            PendingCode {
                id: "n".into(),
                hash: hasher.hash(&email(), "n", &new),
                login: None,
            },
            Some(PendingCode {
                id: "o".into(),
                hash: hasher.hash(&email(), "o", &old),
                login: None,
            }),
        );
        assert_eq!(pending.matching(&hasher, &email(), &old).unwrap().id, "o");
        assert_eq!(pending.matching(&hasher, &email(), &new).unwrap().id, "n");
        let other = OtpCode::parse("333333", 6).unwrap();
        assert!(pending.matching(&hasher, &email(), &other).is_none());
    }

    #[test]
    fn debug_output_hides_the_code() {
        let code = OtpCode::parse("123456", 6).unwrap();
        assert!(!format!("{code:?}").contains("123456"));
    }
}
