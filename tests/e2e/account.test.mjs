// The signed-in user's account: me, complete-registration, profile edits, deletion.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { decodeJwt } from "jose";
import { spawnApp } from "../../harness/app.mjs";
import { assertEnvelope } from "../../harness/envelope.mjs";

let app;
before(async () => (app = await spawnApp()));
after(() => app?.dispose());

let counter = 0;
const uniqueName = () => `user_${Date.now().toString(36)}_${counter++}`;

function registration(overrides = {}) {
  return {
    name: "John", surname: "Doe", username: uniqueName(), birthDate: "1990-01-15",
    gender: "male", interests: ["music"], privacyPolicyAccepted: true,
    privacyPolicyVersion: "1.2.0", termsOfUseAccepted: true, termsOfUseVersion: "1.1.0",
    consentFormAccepted: true, consentFormVersion: "1.0.0", timezone: "Europe/Istanbul",
    ...overrides,
  };
}

const complete = (s, body) => app.authed("POST", "/api/v1/auth/complete-registration", s.accessToken, body);
const patchMe = (s, body) => app.authed("PATCH", "/api/v1/users/me", s.accessToken, body);
const getMe = (s) => app.authed("GET", "/api/v1/users/me", s.accessToken);

describe("GET /api/v1/users/me", () => {
  test("returns the user in the same shape as verify's user", async () => {
    const s = await app.session();
    const data = assertEnvelope(await getMe(s), 200);
    assert.deepEqual(data, s.user);
  });
});

describe("complete-registration", () => {
  test("stores the profile and consents and completes registration", async () => {
    const s = await app.session();
    const body = registration();
    const user = assertEnvelope(await complete(s, body), 200);
    assert.equal(user.isRegistrationComplete, true);
    assert.equal(user.username, body.username);
    assert.equal(user.birthDate, "1990-01-15T00:00:00.000Z");
    assert.deepEqual(user.interests, ["music"]);
    assert.equal(user.termsOfUseVersion, "1.1.0");
    assert.equal(user.timezone, "Europe/Istanbul");
    const again = assertEnvelope(await app.login(s.email), 200);
    assert.equal(again.isRegistrationComplete, true);
  });

  test("completing twice is 409", async () => {
    const s = await app.session();
    assertEnvelope(await complete(s, registration()), 200);
    assertEnvelope(await complete(s, registration()), 409);
  });

  test("a username taken in any case is 409", async () => {
    const a = await app.session();
    const b = await app.session();
    const name = uniqueName();
    assertEnvelope(await complete(a, registration({ username: name })), 200);
    const res = await complete(b, registration({ username: name.toUpperCase() }));
    assertEnvelope(res, 409);
    assert.deepEqual(res.body.errors, ["That username is already taken"]);
    const row = await app.db.prepare("SELECT is_registration_complete FROM users WHERE email = ?").bind(b.email).first();
    assert.equal(row.is_registration_complete, 0, "nothing was half written");
  });

  test("every field is validated and a refusal changes nothing", async () => {
    const s = await app.session();
    const res = await complete(s, registration({
      username: "x", birthDate: "2030-01-01", gender: "robot", consentFormAccepted: false,
      privacyPolicyVersion: "latest", interests: "music",
    }));
    assertEnvelope(res, 400);
    assert.equal(res.body.errors.length, 6, res.body.errors.join(" | "));
    const user = assertEnvelope(await getMe(s), 200);
    assert.deepEqual(user, s.user);
  });

  test("needs a bearer token", async () => {
    assertEnvelope(await app.post("/api/v1/auth/complete-registration", registration()), 401);
  });
});

describe("PATCH /api/v1/users/me", () => {
  test("updates and clears the fields a user may change", async () => {
    const s = await app.session();
    assertEnvelope(await patchMe(s, { bio: "Hello", instagram: "@me", availabilityStatus: "busy" }), 200);
    const user = assertEnvelope(await patchMe(s, { bio: null, interests: ["chess"] }), 200);
    assert.equal(user.bio, null);
    assert.equal(user.instagram, "me");
    assert.equal(user.availabilityStatus, "busy");
    assert.deepEqual(user.interests, ["chess"]);
  });

  test("fields a user may not set are 400 and change nothing", async () => {
    const s = await app.session();
    for (const body of [{ roles: ["admin"] }, { creditBalance: 1e9 }, { email: "x@y.co" },
      { followersCount: 1 }, { isRegistrationComplete: true }, { bio: "ok", roles: ["admin"] }]) {
      const res = await patchMe(s, body);
      assertEnvelope(res, 400);
    }
    assertEnvelope(await patchMe(s, { timezone: "Mars/Olympus" }), 400);
    const user = assertEnvelope(await getMe(s), 200);
    assert.deepEqual(user, s.user);
  });

  test("a photo is a file name or an https URL; free text refuses invisible and direction characters", async () => {
    const s = await app.session();
    for (const profilePhoto of ["javascript:alert(1)", "data:text/html,<script>x</script>", "http://a.example/p.jpg",
      "file:///etc/passwd", "//evil.example/p.jpg"]) {
      const res = await patchMe(s, { profilePhoto });
      assertEnvelope(res, 400);
      assert.deepEqual(res.body.errors, ["profilePhoto must be a file name or an https URL of at most 2048 characters"]);
    }
    const res = await patchMe(s, { bio: "harmless\u202Egpj.exe", expertise: "ma\u200Bths" });
    assertEnvelope(res, 400);
    assert.deepEqual(res.body.errors, [
      "bio must not contain invisible or text-direction characters (found U+202E)",
      "expertise must not contain invisible or text-direction characters (found U+200B)",
    ]);
    assert.deepEqual(assertEnvelope(await getMe(s), 200), s.user);
    for (const profilePhoto of ["sample.jpg", "https://cdn.allmine.app/u/1.jpg"]) {
      assert.equal(assertEnvelope(await patchMe(s, { profilePhoto }), 200).profilePhoto, profilePhoto);
    }
  });

  test("the username changes at most once per 30 days", async () => {
    const s = await app.session();
    assertEnvelope(await complete(s, registration()), 200);
    const first = uniqueName();
    const renamed = assertEnvelope(await patchMe(s, { username: first }), 200);
    assert.equal(renamed.username, first);
    assert.ok(renamed.lastUsernameChangeDate);
    assertEnvelope(await patchMe(s, { username: uniqueName() }), 409);
    assertEnvelope(await patchMe(s, { username: first, bio: "same name is no change" }), 200);
    await app.db.prepare("UPDATE users SET last_username_change_date = '2000-01-01T00:00:00.000Z' WHERE email = ?")
      .bind(s.email).run();
    assertEnvelope(await patchMe(s, { username: uniqueName() }), 200);
  });
});

// What a finalised deletion leaves in each column of `users`: erased to NULL,
// to the empty list, to the address's tombstone; kept; or set by the deletion.
const ON_DELETION = {
  id: "kept", email: "tombstone", name: "null", surname: "null", username: "null",
  country_code: "null", phone_number: "null", signup_source: "null", signup_campaign: "null",
  profile_photo: "null", availability_status: "null", birth_date: "null", gender: "null",
  interests: "[]", expertise: "null", bio: "null", instagram: "null", x: "null", tiktok: "null",
  snapchat: "null", facebook: "null", privacy_policy_accepted: "kept", privacy_policy_version: "kept",
  terms_of_use_accepted: "kept", terms_of_use_version: "kept", consent_form_accepted: "kept",
  consent_form_version: "kept", is_registration_complete: "kept", roles: "kept",
  followers_count: "kept", following_count: "kept", minute_price_in_live_stream: "kept",
  credit_balance: "kept", last_login: "null", timezone: "null", last_username_change_date: "kept",
  account_deletion_status: "set", account_deletion_requested_at: "kept",
  account_deletion_scheduled_for: "kept", account_deletion_cancelled_at: "kept",
  account_deletion_finalized_at: "set", created_at: "kept", updated_at: "set", review: "kept",
};

describe("account deletion", () => {
  const schedule = (s, extra) => app.scheduleDeletion(s, extra);
  const scheduleWith = (s, body) => app.authed("POST", "/api/v1/users/me/deletion", s.accessToken, body);
  const cancel = (s) => app.authed("DELETE", "/api/v1/users/me/deletion", s.accessToken);
  const statusOf = async (s) => assertEnvelope(await getMe(s), 200).accountDeletionStatus;
  const outboxOf = async (s) =>
    (await app.db.prepare("SELECT type FROM event_outbox WHERE user_id = ?").bind(decodeJwt(s.accessToken).sub).all())
      .results.map((r) => r.type);
  const noticeOf = (s) =>
    app.db.prepare("SELECT * FROM deletion_notices WHERE user_id = ?").bind(decodeJwt(s.accessToken).sub).first();

  test("schedules in 30 days, and can be cancelled", async () => {
    const s = await app.session();
    const user = assertEnvelope(await schedule(s), 200);
    assert.equal(user.accountDeletionStatus, "pending");
    const days = (Date.parse(user.accountDeletionScheduledFor) - Date.parse(user.accountDeletionRequestedAt)) / 86_400_000;
    assert.equal(days, 30);
    assertEnvelope(await schedule(s), 409);
    const cancelled = assertEnvelope(await cancel(s), 200);
    assert.equal(cancelled.accountDeletionStatus, "cancelled");
    assert.ok(cancelled.accountDeletionCancelledAt);
    assertEnvelope(await cancel(s), 409);
  });

  test("an access token alone cannot schedule it: 403 step_up_required, and nothing changes", async () => {
    const s = await app.session();
    const mailsBefore = app.mail.sent.length;
    for (const res of [
      await app.authed("POST", "/api/v1/users/me/deletion", s.accessToken),
      await scheduleWith(s, {}),
      await scheduleWith(s, { code: null, locale: "tr" }),
    ]) {
      assertEnvelope(res, 403);
      assert.equal(res.headers.get("error-code"), "step_up_required");
      assert.match(res.body.errors[0], /^Confirm with a code: request one for the account's address with send-otp-email/);
    }
    // A code that is not one is malformed, like verify's (nothing counted).
    const malformed = await scheduleWith(s, { code: "12" });
    assertEnvelope(malformed, 400);
    assert.equal(malformed.headers.get("error-code"), "validation");
    assert.equal(await statusOf(s), null);
    assert.deepEqual(await outboxOf(s), ["user.created"]);
    assert.equal(await noticeOf(s), null);
    assert.equal(app.mail.sent.length, mailsBefore, "no notice, no code");
  });

  test("a wrong code is refused and counted like a wrong login code", async () => {
    const s = await app.session();
    const code = await app.requestCode(s.email);
    const wrong = code === "000000" ? "000001" : "000000";
    const res = await scheduleWith(s, { code: wrong });
    assertEnvelope(res, 400);
    assert.equal(res.headers.get("error-code"), "wrong_code");
    assert.deepEqual(res.body.errors, ["Invalid code; 4 attempt(s) left"]);
    assert.equal(await statusOf(s), null);
    assert.equal(await noticeOf(s), null);
    // The same counters as login's: the code's attempts, and the address's failures.
    const row = await app.db.prepare("SELECT attempts FROM otp_codes WHERE email = ? AND consumed_by IS NULL").bind(s.email).first();
    assert.equal(row.attempts, 1);
    const verify = await app.verifyOtp(s.email, wrong);
    assert.deepEqual(verify.body.errors, ["Invalid code; 3 attempt(s) left"], "login sees the guess made here");
    // Audited alike, after each response.
    const failed = () => app.db.prepare("SELECT count(*) AS n FROM audit_events WHERE event = 'verify_failed' AND email_hash = " +
      "(SELECT email_hash FROM audit_events WHERE event = 'login' AND user_id = ?)").bind(decodeJwt(s.accessToken).sub).first();
    for (let waited = 0; (await failed()).n < 2 && waited < 3000; waited += 100) await new Promise((r) => setTimeout(r, 100));
    assert.equal((await failed()).n, 2, "both wrong codes audited alike");
  });

  test("the right code schedules it and mails the notice; the code cannot be used again; cancel works", async () => {
    const s = await app.session();
    const code = await app.requestCode(s.email);
    const user = assertEnvelope(await scheduleWith(s, { code, locale: "tr-TR" }), 200);
    assert.equal(user.accountDeletionStatus, "pending");
    assert.deepEqual((await outboxOf(s)).sort(), ["user.created", "user.deletion_scheduled"]);

    const notice = app.mail.lastMailTo(s.email);
    assert.equal(notice.outcome, "delivered");
    const minute = (iso) => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
    assert.equal(notice.subject, `Allmine hesabınız ${user.accountDeletionScheduledFor.slice(0, 10)} tarihinde silinecek`);
    assert.ok(notice.text.includes(minute(user.accountDeletionScheduledFor)), notice.text);
    assert.ok(notice.text.includes(minute(user.accountDeletionRequestedAt)), notice.text);
    assert.match(notice.text, /giriş yapın ve silme işlemini iptal edin/);
    assert.ok(!/^\d{4,8}$/m.test(notice.text), "no code in the notice");
    const owed = await noticeOf(s);
    assert.equal(owed.requested_at, user.accountDeletionRequestedAt);
    assert.equal(owed.locale, "tr");
    assert.ok(owed.sent_at, "the notice went out");

    const cancelled = assertEnvelope(await cancel(s), 200);
    assert.equal(cancelled.accountDeletionStatus, "cancelled");
    // The used code schedules nothing again, and signs nobody in.
    const again = await scheduleWith(s, { code });
    assertEnvelope(again, 404);
    assert.equal(again.headers.get("error-code"), "no_pending_code");
    assert.equal(await statusOf(s), "cancelled");
    assertEnvelope(await app.verifyOtp(s.email, code), 404);
    // English unless asked otherwise.
    assertEnvelope(await schedule(s), 200);
    assert.match(app.mail.lastMailTo(s.email).subject, /^Your Allmine account will be deleted on \d{4}-\d{2}-\d{2}$/);
  });

  test("a deletion already scheduled is 409 before any code is spent", async () => {
    const s = await app.session();
    assertEnvelope(await schedule(s), 200);
    const code = await app.requestCode(s.email);
    const res = await scheduleWith(s, { code });
    assertEnvelope(res, 409);
    assert.equal(res.headers.get("error-code"), "deletion_scheduled");
    assertEnvelope(await app.verifyOtp(s.email, code), 200);
  });

  test("a notice whose mail fails leaves the deletion scheduled; the Cron Trigger mails it, and the deletion waits a day for it", async () => {
    const s = await app.session();
    const code = await app.requestCode(s.email);
    app.mail.failWith(503);
    let user;
    try {
      user = assertEnvelope(await scheduleWith(s, { code }), 200);
    } finally {
      app.mail.failWith(null);
    }
    assert.equal(user.accountDeletionStatus, "pending");
    assert.equal(app.mail.lastMailTo(s.email).outcome, 503);
    assert.equal((await noticeOf(s)).sent_at, null, "owed");

    // Past the request's own window, and due already: the job mails it, and
    // does not finalise an account whose owner was told a moment ago.
    const { sub } = decodeJwt(s.accessToken);
    const earlier = new Date(Date.now() - 120_000).toISOString();
    await app.db.batch([
      app.db.prepare("UPDATE users SET account_deletion_requested_at = ?, account_deletion_scheduled_for = '2000-01-01T00:00:00.000Z' WHERE id = ?").bind(earlier, sub),
      app.db.prepare("UPDATE deletion_notices SET requested_at = ? WHERE user_id = ?").bind(earlier, sub),
    ]);
    await app.runScheduled();
    const mailed = app.mail.lastMailTo(s.email);
    assert.equal(mailed.outcome, "delivered");
    assert.match(mailed.subject, /will be deleted on 2000-01-01/);
    assert.ok((await noticeOf(s)).sent_at, "no longer owed");
    assert.equal(await statusOf(s), "pending", "told less than a day ago: not yet");
    const sent = app.mail.sent.length;
    await app.runScheduled();
    assert.equal(app.mail.sent.length, sent, "mailed once");

    await app.makeDeletionDue(s.email);
    await app.runScheduled();
    const row = await app.db.prepare("SELECT account_deletion_status FROM users WHERE id = ?").bind(sub).first();
    assert.equal(row.account_deletion_status, "finalized");
  });

  test("the scheduled job finalises due deletions; the address then gets 409", async () => {
    const s = await app.session();
    assertEnvelope(await complete(s, registration()), 200);
    const keep = await app.session(); // another account, not due
    assertEnvelope(await schedule(keep), 200);
    assertEnvelope(await schedule(s), 200);
    await app.makeDeletionDue(s.email);
    // Every personal column holds something, so an erasure that misses one shows.
    await app.db.prepare(
      `UPDATE users SET
         country_code = '90', phone_number = '5551234567', signup_source = 'ad', signup_campaign = 'spring',
         profile_photo = 'me.jpg', availability_status = 'busy', expertise = 'maths', instagram = 'i',
         x = 'x', tiktok = 't', snapchat = 's', facebook = 'f', interests = '["music"]'
       WHERE email = ?`,
    ).bind(s.email).run();
    const { sub } = decodeJwt(s.accessToken);
    const before = await app.db.prepare("SELECT * FROM users WHERE id = ?").bind(sub).first();

    await app.runScheduled();

    const row = await app.db.prepare("SELECT * FROM users WHERE id = ?").bind(sub).first();
    const { results: columns } = await app.db.prepare("PRAGMA table_info(users)").all();
    assert.deepEqual(columns.map((c) => c.name).sort(), Object.keys(ON_DELETION).sort(),
      "every users column has its fate on deletion stated here");
    for (const [column, fate] of Object.entries(ON_DELETION)) {
      if (fate === "null") assert.equal(row[column], null, column);
      if (fate === "[]") assert.equal(row[column], "[]", column);
      if (fate === "tombstone") assert.match(row[column], /^deleted:[0-9a-f]{64}$/, column);
      if (fate === "kept") assert.deepEqual(row[column], before[column], column);
      if (fate === "set") assert.notDeepEqual(row[column], before[column], column);
    }
    assert.equal(row.account_deletion_status, "finalized");
    const live = await app.db.prepare("SELECT count(*) AS n FROM sessions WHERE user_id = ? AND revoked_at IS NULL").bind(sub).first();
    assert.equal(live.n, 0);
    assertEnvelope(await app.post("/api/v1/auth/refresh-token", { refreshToken: s.refreshToken }), 401);

    const res = await app.login(s.email);
    assertEnvelope(res, 409);
    const count = await app.db.prepare("SELECT count(*) AS n FROM users WHERE email = ?").bind(s.email).first();
    assert.equal(count.n, 0, "no new account for the deleted address");

    const kept = await app.db.prepare("SELECT account_deletion_status FROM users WHERE email = ?").bind(keep.email).first();
    assert.equal(kept.account_deletion_status, "pending");
  });

  test("an account cancelled after the job selected it keeps its sessions, code and audit trail", async () => {
    const s = await app.session();
    assertEnvelope(await schedule(s), 200);
    await app.makeDeletionDue(s.email);
    const { sub } = decodeJwt(s.accessToken);
    // The job has selected the account (it was due); then the user cancels.
    assertEnvelope(await cancel(s), 200);
    assertEnvelope(await app.sendOtp(s.email), 200);
    const ledgerBefore = await app.db.prepare("SELECT * FROM otp_codes WHERE email = ?").bind(s.email).first();
    const res = await app.post("/__faults/finalize-deletion", { id: sub, email: s.email });
    assert.equal(assertEnvelope(res, 200).finalized, false);

    const row = await app.db.prepare("SELECT email, account_deletion_status FROM users WHERE id = ?").bind(sub).first();
    assert.deepEqual(row, { email: s.email, account_deletion_status: "cancelled" });
    const live = await app.db.prepare("SELECT count(*) AS n FROM sessions WHERE user_id = ? AND revoked_at IS NULL").bind(sub).first();
    assert.equal(live.n, 1, "the session survives");
    assertEnvelope(await app.authed("GET", "/api/v1/users/me", s.accessToken), 200);
    const ledgerAfter = await app.db.prepare("SELECT * FROM otp_codes WHERE email = ?").bind(s.email).first();
    assert.deepEqual(ledgerAfter, ledgerBefore, "the pending code is untouched");
    assert.ok(await app.kv.get(`otp:${s.email}`), "its KV copy too");
    const audit = await app.db.prepare("SELECT count(*) AS n FROM audit_events WHERE user_id = ? AND event = 'deletion_finalized'").bind(sub).first();
    assert.equal(audit.n, 0);
  });
});
