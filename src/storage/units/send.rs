//! A send's units of work: its admission (limits checked and counted, its
//! code stored), then either its activation once the mail was delivered, or
//! its withdrawal when the mail failed.

use crate::domain::audit::AuditEvent;
use crate::domain::email::EmailAddress;
use crate::domain::error::AppError;
use crate::domain::limits::{BudgetPolicy, EmailLimits, Keys, Refusal};
use crate::domain::otp::{OtpPolicy, Path, PendingCode};
use crate::storage::batch::{Batch, Results, Slot, StatementResult};
use crate::storage::statement::Written;
use crate::storage::tables::otp_codes::Stored;
use crate::storage::tables::rate_limits::{self, KeyedCounter, NotLocked, SendGate};
use crate::storage::tables::{audit_events, otp_codes};
use crate::storage::{Db, Kv};

/// What a send may do.
#[derive(Debug)]
pub enum Admission {
    /// Counted; the address's newest usable code (if any) stays usable too.
    Admitted {
        previous: Option<PendingCode>,
        /// What was stored is the review address's fixed code
        /// (`SendRequest::review`): nothing is to be mailed.
        review: bool,
    },
    Refused(Refusal),
    /// The address's daily failure budget is spent, or its daily sends are
    /// used up: a solved challenge is needed.
    ChallengeRequired,
}

/// A send about to be admitted.
pub struct SendRequest<'a> {
    pub email: &'a EmailAddress,
    pub keys: &'a Keys,
    pub limits: &'a EmailLimits,
    pub otp: &'a OtpPolicy,
    pub budget: BudgetPolicy,
    /// The sender solved a challenge (checked before this call).
    pub challenge_passed: bool,
    /// The code this send mails, stored only if the send is admitted.
    pub code: &'a PendingCode,
    /// For a review address, its fixed code: stored instead of `code`, to
    /// be mailed to no one, unless a real account holds the address
    /// (`otp_codes::insert_if_admitted`).
    pub review: Option<&'a PendingCode>,
    pub now_ms: i64,
}

struct AdmitSlots {
    before: Slot<KeyedCounter>,
    previous: Slot<PendingCode>,
    cooldown: Slot<Written>,
    stored: Slot<Stored>,
}

fn admit_batch(r: &SendRequest<'_>) -> Result<(Batch, AdmitSlots), AppError> {
    // What would refuse the owner's attempts refuses the send.
    let lock = NotLocked::new(
        r.keys,
        r.limits,
        r.budget,
        Path::Owner { login: "" },
        r.now_ms,
    );
    let gate = SendGate {
        keys: r.keys,
        limits: r.limits,
        lock: &lock,
        challenge_passed: r.challenge_passed,
        now_ms: r.now_ms,
    };
    let mut batch = Batch::new();
    let before = batch.push(rate_limits::read(r.keys));
    let previous = batch.push(otp_codes::newest_usable(r.email, r.otp, r.now_ms));
    let cooldown = batch.push(rate_limits::take_cooldown(&gate));
    let stored = batch.push_after(
        cooldown,
        otp_codes::insert_if_admitted(
            r.email,
            r.code,
            r.review,
            r.challenge_passed,
            r.otp,
            r.now_ms,
        ),
    )?;
    batch.push(rate_limits::count_sends(r.keys, r.now_ms));
    Ok((
        batch,
        AdmitSlots {
            before,
            previous,
            cooldown,
            stored,
        },
    ))
}

fn admission<S: StatementResult>(
    r: &SendRequest<'_>,
    results: &Results<S>,
    slots: &AdmitSlots,
) -> Result<Admission, AppError> {
    if results.returned(slots.cooldown)? {
        let previous = results.first(slots.previous)?;
        let review = results.first(slots.stored)?.is_some_and(|s| s.review == 1);
        return Ok(Admission::Admitted { previous, review });
    }
    let before = rate_limits::by_purpose(&results.rows(slots.before)?, r.keys);
    if !r.challenge_passed && r.limits.challenge_needed(&before, r.budget, r.now_ms) {
        return Ok(Admission::ChallengeRequired);
    }
    let refusal = r
        .limits
        .send_refusal(&before, r.budget, r.now_ms)
        // Refused by a concurrent send that the read did not see yet.
        .unwrap_or(Refusal::Cooldown {
            until: r.now_ms + r.limits.cooldown_ms(),
        });
    Ok(Admission::Refused(refusal))
}

/// Admits a send or says why not, in one round trip: the counters are read,
/// then the cooldown taken, the new code stored and the send counted (per
/// network and for the address), each write conditional on every limit, so
/// two racing sends cannot both pass. The newest usable code is read first,
/// to stay usable beside the new one; older ones are retired on activation.
pub async fn admit(db: &Db, r: &SendRequest<'_>) -> Result<Admission, AppError> {
    let (batch, slots) = admit_batch(r)?;
    let results = db.batch(&batch, "limits batch").await?;
    admission(r, &results, &slots)
}

fn activate_batch(email: &EmailAddress, code: &PendingCode, at: &str, sent: &AuditEvent) -> Batch {
    let mut batch = Batch::new();
    batch.push(otp_codes::activate(email, &code.id));
    batch.push(otp_codes::retire_all_but_newest(
        email,
        code.login.as_deref(),
    ));
    // `code_sent` rides in the same batch: recorded exactly when a delivered
    // code becomes usable, and no D1 call of its own after the response.
    batch.push(audit_events::insert(at, sent));
    batch
}

/// Makes a delivered code usable, retires all but the newest `LIVE_CODES`
/// delivered codes of its login and records `sent` (`code_sent`), in one batch.
pub async fn activate(
    db: &Db,
    email: &EmailAddress,
    code: &PendingCode,
    at: &str,
    sent: &AuditEvent,
) -> Result<(), AppError> {
    db.batch(&activate_batch(email, code, at, sent), "activate code")
        .await
        .map(|_| ())
}

/// Why an admitted send is taken back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withdrawal {
    /// The mail was tried and failed: the send still counts against the
    /// hourly caps (a provider that times out may yet deliver, and one that
    /// refuses an address must not be called without bound).
    Failed,
    /// No mail was tried (the location's ceiling refused it): nothing counts.
    NotSent,
}

fn withdraw_batch(keys: &Keys, now_ms: i64, why: Withdrawal) -> Batch {
    let mut batch = Batch::new();
    batch.push(rate_limits::release_cooldown(keys, now_ms));
    if why == Withdrawal::NotSent {
        batch.push(rate_limits::uncount_sends(keys, now_ms));
    }
    batch
}

/// Takes back an admitted send that mailed nothing: its cooldown is given
/// back, so its owner can ask again at once, and the KV copy of the
/// address's codes is dropped beside it, so a verify there asks D1, where any
/// earlier code that is still usable remains so. Its code stays `unsent`,
/// usable by no one.
pub async fn withdraw(
    kv: &Kv,
    db: &Db,
    email: &EmailAddress,
    keys: &Keys,
    now_ms: i64,
    why: Withdrawal,
) -> Result<(), AppError> {
    let batch = withdraw_batch(keys, now_ms, why);
    if why == Withdrawal::NotSent {
        // Refused before the mail, the KV copy was never written: a refusal
        // costs one D1 call, not a KV write too.
        return db.batch(&batch, "withdraw send").await.map(|_| ());
    }
    let (ledger, copy) =
        futures_util::join!(db.batch(&batch, "withdraw send"), kv.forget(email.as_str()));
    ledger?;
    copy
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::audit::AuditKind;
    use crate::domain::limits::{EmailLimits, Keys};
    use crate::storage::testing::Sqlite;

    pub(crate) fn limits() -> EmailLimits {
        EmailLimits::default()
    }

    fn keys() -> Keys {
        Keys::new("a@example.com", "net-1")
    }

    fn code(id: &str) -> PendingCode {
        PendingCode {
            id: id.into(),
            hash: format!("hash-{id}"),
            login: Some(format!("login-{id}")),
        }
    }

    fn send<'a>(
        email: &'a EmailAddress,
        keys: &'a Keys,
        limits: &'a EmailLimits,
        otp: &'a OtpPolicy,
        code: &'a PendingCode,
        now_ms: i64,
    ) -> SendRequest<'a> {
        SendRequest {
            email,
            keys,
            limits,
            otp,
            budget: BudgetPolicy::Lock,
            challenge_passed: false,
            code,
            review: None,
            now_ms,
        }
    }

    fn admit_on(db: &Sqlite, r: &SendRequest<'_>) -> Admission {
        let (batch, slots) = admit_batch(r).unwrap();
        admission(r, &db.run(&batch).unwrap(), &slots).unwrap()
    }

    #[test]
    fn a_send_is_admitted_once_per_cooldown_and_its_code_waits_for_the_mail() {
        let db = Sqlite::migrated();
        let email = EmailAddress::parse("a@example.com").unwrap();
        let (keys, limits, otp) = (keys(), limits(), OtpPolicy::default());
        let first = code("c1");
        let now = 1_000_000;
        let r = send(&email, &keys, &limits, &otp, &first, now);
        assert!(matches!(
            admit_on(&db, &r),
            Admission::Admitted {
                previous: None,
                review: false
            }
        ));
        // Stored, but unsent: no verify accepts it yet.
        let rows = db.query("SELECT consumed_by FROM otp_codes WHERE code_id = 'c1'");
        assert_eq!(rows[0]["consumed_by"], "unsent");
        // A second send within the cooldown is refused, and stores nothing.
        let second = code("c2");
        let r2 = send(&email, &keys, &limits, &otp, &second, now + 1_000);
        assert!(matches!(
            admit_on(&db, &r2),
            Admission::Refused(Refusal::Cooldown { .. })
        ));
        assert!(db
            .query("SELECT 1 FROM otp_codes WHERE code_id = 'c2'")
            .is_empty());
        // Both hourly counters counted the admitted send once.
        let counts = db.query(&format!(
            "SELECT count FROM rate_limits WHERE key IN ('{}', '{}')",
            keys.sends, keys.address_sends
        ));
        assert_eq!(counts.len(), 2);
        assert!(counts.iter().all(|c| c["count"] == 1));
    }

    #[test]
    fn activation_makes_the_code_usable_and_a_later_send_keeps_it_behind_the_new_one() {
        let db = Sqlite::migrated();
        let email = EmailAddress::parse("a@example.com").unwrap();
        let (keys, limits, otp) = (keys(), limits(), OtpPolicy::default());
        let first = code("c1");
        let now = 1_000_000;
        admit_on(&db, &send(&email, &keys, &limits, &otp, &first, now));
        let sent = AuditEvent::new(AuditKind::CodeSent);
        db.run(&activate_batch(
            &email,
            &first,
            "2026-01-01T00:00:00Z",
            &sent,
        ))
        .unwrap();
        let later = now + limits.cooldown_ms() + 1;
        let second = code("c2");
        match admit_on(&db, &send(&email, &keys, &limits, &otp, &second, later)) {
            Admission::Admitted { previous, .. } => assert_eq!(previous, Some(first)),
            other => panic!("{other:?}"),
        }
        let audit = db.query("SELECT event FROM audit_events");
        assert_eq!(audit.len(), 1);
    }

    #[test]
    fn past_the_daily_cap_a_send_needs_a_challenge_or_waits_for_tomorrow() {
        let email = EmailAddress::parse("a@example.com").unwrap();
        let (keys, otp) = (keys(), OtpPolicy::default());
        let limits = EmailLimits {
            resend_cooldown_seconds: 0,
            address_sends_per_day: 2,
            ..limits()
        };
        let db = Sqlite::migrated();
        let codes: Vec<PendingCode> = (0..4).map(|i| code(&format!("c{i}"))).collect();
        let at = |i: i64| 1_000_000 + i * 60_000;
        for (i, code) in codes.iter().take(2).enumerate() {
            let r = send(&email, &keys, &limits, &otp, code, at(i as i64));
            assert!(
                matches!(admit_on(&db, &r), Admission::Admitted { .. }),
                "send {i}"
            );
        }
        // Without a challenge to offer: refused until the day is over.
        let third = send(&email, &keys, &limits, &otp, &codes[2], at(2));
        assert!(matches!(
            admit_on(&db, &third),
            Admission::Refused(Refusal::DailyCap { .. })
        ));
        // With one: asked for it, and a solved one gets the code.
        let mut challenged = SendRequest {
            budget: BudgetPolicy::Challenge,
            ..send(&email, &keys, &limits, &otp, &codes[2], at(2))
        };
        assert!(matches!(
            admit_on(&db, &challenged),
            Admission::ChallengeRequired
        ));
        challenged.challenge_passed = true;
        assert!(matches!(
            admit_on(&db, &challenged),
            Admission::Admitted { .. }
        ));
        // A day after the window began, the cap is lifted.
        let tomorrow = send(
            &email,
            &keys,
            &limits,
            &otp,
            &codes[3],
            at(0) + 86_400_000 + 1,
        );
        assert!(matches!(
            admit_on(&db, &tomorrow),
            Admission::Admitted { .. }
        ));
    }

    #[test]
    fn a_send_that_mailed_nothing_is_given_back_whole_and_a_failed_one_keeps_its_counts() {
        let email = EmailAddress::parse("a@example.com").unwrap();
        let (keys, limits, otp) = (keys(), limits(), OtpPolicy::default());
        let counts = |db: &Sqlite| {
            db.query(&format!(
                "SELECT key, count FROM rate_limits WHERE key IN ('{}', '{}', '{}') ORDER BY key",
                keys.cooldown, keys.sends, keys.address_sends
            ))
        };
        for (why, kept) in [(Withdrawal::NotSent, 0), (Withdrawal::Failed, 1)] {
            let db = Sqlite::migrated();
            let c = code("c1");
            admit_on(&db, &send(&email, &keys, &limits, &otp, &c, 1_000_000));
            db.run(&withdraw_batch(&keys, 1_000_000, why)).unwrap();
            let rows = counts(&db);
            // The cooldown is always given back; the hourly counts only when nothing was mailed.
            assert!(
                rows.iter().all(|r| r["key"] != keys.cooldown.as_str()),
                "{why:?}"
            );
            assert_eq!(rows.len(), 2, "{why:?}");
            assert!(rows.iter().all(|r| r["count"] == kept), "{why:?}");
            // At once, the owner may ask again.
            let again = code("c2");
            let r = send(&email, &keys, &limits, &otp, &again, 1_000_001);
            assert!(
                matches!(admit_on(&db, &r), Admission::Admitted { .. }),
                "{why:?}"
            );
        }
    }

    #[test]
    fn a_strangers_sends_never_retire_the_owners_code() {
        let db = Sqlite::migrated();
        let email = EmailAddress::parse("a@example.com").unwrap();
        let sent = AuditEvent::new(AuditKind::CodeSent);
        let issue = |id: &str, login: &str, at: i64| {
            db.query(&format!(
                "INSERT INTO otp_codes (email, code_id, code_hash, issued_at, expires_at, login_id)
                 VALUES ('a@example.com', '{id}', 'h', {at}, {}, '{login}')",
                at + 300_000
            ));
            let code = PendingCode {
                id: id.into(),
                hash: "h".into(),
                login: Some(login.into()),
            };
            db.run(&activate_batch(
                &email,
                &code,
                "2026-01-01T00:00:00Z",
                &sent,
            ))
            .unwrap();
        };
        issue("mine", "owner", 1_000);
        for (i, id) in ["s1", "s2", "s3"].iter().enumerate() {
            issue(id, "stranger", 2_000 + i as i64);
        }
        // The owner's resends retire its own codes beyond the newest two.
        issue("mine2", "owner", 3_000);
        issue("mine3", "owner", 3_001);
        let live =
            db.query("SELECT code_id FROM otp_codes WHERE consumed_by IS NULL ORDER BY code_id");
        let ids: Vec<_> = live.iter().map(|r| r["code_id"].clone()).collect();
        assert_eq!(ids, ["mine2", "mine3", "s2", "s3"]);
    }

    /// A user at the address: `review` 1 is a review account, 0 a real one.
    fn account(db: &Sqlite, email: &str, review: u8) {
        db.query(&format!(
            "INSERT INTO users (id, email, created_at, updated_at, review)
             VALUES ('usr-{review}', '{email}', 'x', 'x', {review})"
        ));
    }

    /// A review address's send: which code it stored, and how.
    fn review_send(db: &Sqlite, drawn: &PendingCode, fixed: &PendingCode, now: i64) -> Admission {
        let email = EmailAddress::parse("a@example.com").unwrap();
        let (keys, limits, otp) = (keys(), limits(), OtpPolicy::default());
        let r = SendRequest {
            review: Some(fixed),
            ..send(&email, &keys, &limits, &otp, drawn, now)
        };
        admit_on(db, &r)
    }

    fn stored(db: &Sqlite) -> Vec<serde_json::Value> {
        db.query(
            "SELECT code_id, review, challenged, consumed_by FROM otp_codes ORDER BY issued_at",
        )
    }

    #[test]
    fn a_review_address_without_a_real_account_stores_its_fixed_code() {
        for review_account in [false, true] {
            let db = Sqlite::migrated();
            if review_account {
                account(&db, "a@example.com", 1);
            }
            let admitted = review_send(&db, &code("drawn"), &code("fixed"), 1_000_000);
            assert!(
                matches!(admitted, Admission::Admitted { review: true, .. }),
                "{admitted:?}"
            );
            let rows = stored(&db);
            assert_eq!(
                rows,
                [
                    serde_json::json!({"code_id": "fixed", "review": 1, "challenged": 0, "consumed_by": "unsent"})
                ]
            );
            // Activated like any code, once its send is done.
            let email = EmailAddress::parse("a@example.com").unwrap();
            let sent = AuditEvent::new(AuditKind::ReviewCodeSent);
            db.run(&activate_batch(&email, &code("fixed"), "t", &sent))
                .unwrap();
            assert!(stored(&db)[0]["consumed_by"].is_null());
        }
    }

    #[test]
    fn a_real_accounts_address_stores_the_drawn_code_whatever_the_list_says() {
        let db = Sqlite::migrated();
        // Upper case in the list or the row: the address is the same.
        account(&db, "A@example.com", 0);
        let admitted = review_send(&db, &code("drawn"), &code("fixed"), 1_000_000);
        assert!(
            matches!(admitted, Admission::Admitted { review: false, .. }),
            "{admitted:?}"
        );
        assert_eq!(
            stored(&db),
            [
                serde_json::json!({"code_id": "drawn", "review": 0, "challenged": 0, "consumed_by": "unsent"})
            ]
        );
    }

    #[test]
    fn a_review_send_is_refused_and_challenged_as_any_and_never_stored_as_challenged() {
        let db = Sqlite::migrated();
        assert!(matches!(
            review_send(&db, &code("d1"), &code("f1"), 1_000_000),
            Admission::Admitted { review: true, .. }
        ));
        // Within the cooldown: refused, nothing stored.
        assert!(matches!(
            review_send(&db, &code("d2"), &code("f2"), 1_001_000),
            Admission::Refused(Refusal::Cooldown { .. })
        ));
        assert_eq!(stored(&db).len(), 1);
        // Past a cap, with a challenge to offer: asked for it; solved, the
        // fixed code is stored, not as a challenged code (it has six digits).
        let email = EmailAddress::parse("a@example.com").unwrap();
        let (keys, otp) = (keys(), OtpPolicy::default());
        let limits = EmailLimits {
            resend_cooldown_seconds: 0,
            address_sends_per_hour: 1,
            ..limits()
        };
        let (drawn, fixed) = (code("d3"), code("f3"));
        let mut r = SendRequest {
            review: Some(&fixed),
            budget: BudgetPolicy::Challenge,
            ..send(&email, &keys, &limits, &otp, &drawn, 1_100_000)
        };
        assert!(matches!(admit_on(&db, &r), Admission::ChallengeRequired));
        r.challenge_passed = true;
        assert!(matches!(
            admit_on(&db, &r),
            Admission::Admitted { review: true, .. }
        ));
        let rows = stored(&db);
        assert_eq!(rows[1]["code_id"], "f3");
        assert_eq!(rows[1]["challenged"], 0);
    }

    #[test]
    fn a_review_code_is_not_activated_once_a_real_account_holds_the_address() {
        let db = Sqlite::migrated();
        review_send(&db, &code("drawn"), &code("fixed"), 1_000_000);
        // Between the admission and the activation, an earlier mailed code
        // signed in and made the account real.
        account(&db, "a@example.com", 0);
        let email = EmailAddress::parse("a@example.com").unwrap();
        let sent = AuditEvent::new(AuditKind::ReviewCodeSent);
        db.run(&activate_batch(&email, &code("fixed"), "t", &sent))
            .unwrap();
        assert_eq!(stored(&db)[0]["consumed_by"], "unsent");
    }
}
