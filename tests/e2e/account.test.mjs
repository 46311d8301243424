// The signed-in user's account: me, complete-registration, profile edits, deletion.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { decodeJwt } from "jose";
import { spawnApp } from "./support/app.mjs";
import { assertEnvelope } from "./support/envelope.mjs";

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

describe("account deletion", () => {
  const schedule = (s) => app.authed("POST", "/api/v1/users/me/deletion", s.accessToken);
  const cancel = (s) => app.authed("DELETE", "/api/v1/users/me/deletion", s.accessToken);

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

  test("the scheduled job finalises due deletions; the address then gets 409", async () => {
    const s = await app.session();
    assertEnvelope(await complete(s, registration()), 200);
    const keep = await app.session(); // another account, not due
    assertEnvelope(await schedule(keep), 200);
    assertEnvelope(await schedule(s), 200);
    await app.db.prepare("UPDATE users SET account_deletion_scheduled_for = '2000-01-01T00:00:00.000Z' WHERE email = ?")
      .bind(s.email).run();
    const { sub } = decodeJwt(s.accessToken);

    await app.runScheduled();

    const row = await app.db.prepare("SELECT * FROM users WHERE id = ?").bind(sub).first();
    assert.equal(row.account_deletion_status, "finalized");
    assert.ok(row.account_deletion_finalized_at);
    assert.notEqual(row.email, s.email, "the address is erased");
    assert.match(row.email, /^deleted:[0-9a-f]{64}$/);
    for (const column of ["name", "surname", "username", "birth_date", "bio", "timezone"]) {
      assert.equal(row[column], null, column);
    }
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
});
