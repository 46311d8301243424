// POST /api/v1/auth/verify-otp-email, against the contract in api/openapi.json
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { freshEmail, spawnApp } from "../../harness/app.mjs";
import { assertEnvelope } from "../../harness/envelope.mjs";

let app;
before(async () => (app = await spawnApp()));
after(() => app?.dispose());

const USER_FIELDS = {
  name: "string?", surname: "string?", username: "string?", countryCode: "string?",
  phoneNumber: "string?", signupSource: "string?", signupCampaign: "string?",
  profilePhoto: "string?", availabilityStatus: "string?", birthDate: "string?",
  gender: "string?", interests: "array", expertise: "string?", email: "string",
  bio: "string?", instagram: "string?", x: "string?", tiktok: "string?",
  snapchat: "string?", facebook: "string?", privacyPolicyAccepted: "boolean",
  privacyPolicyVersion: "string?", termsOfUseAccepted: "boolean",
  termsOfUseVersion: "string?", consentFormAccepted: "boolean",
  consentFormVersion: "string?", isRegistrationComplete: "boolean", roles: "array",
  followersCount: "number", followingCount: "number", minutePriceInLiveStream: "number",
  creditBalance: "number", lastLogin: "string?", timezone: "string?",
  lastUsernameChangeDate: "string?", accountDeletionStatus: "string?",
  accountDeletionRequestedAt: "string?", accountDeletionScheduledFor: "string?",
  accountDeletionCancelledAt: "string?", accountDeletionFinalizedAt: "string?",
};

function assertDocumentedUser(user) {
  assert.deepEqual(Object.keys(user).sort(), Object.keys(USER_FIELDS).sort());
  for (const [field, type] of Object.entries(USER_FIELDS)) {
    const value = user[field];
    if (type === "array") assert.ok(Array.isArray(value), field);
    else if (type.endsWith("?")) assert.ok(value === null || typeof value === type.slice(0, -1), field);
    else assert.equal(typeof value, type, field);
  }
}

async function jwks() {
  const res = await app.get("/.well-known/jwks.json");
  assert.equal(res.status, 200);
  return res.body;
}

async function userRow(email) {
  return app.db.prepare("SELECT * FROM users WHERE email = ?").bind(email).first();
}

describe("a successful login", () => {
  test("returns tokens and the full documented user, creating the account", async () => {
    const email = freshEmail();
    const data = assertEnvelope(await app.login(email), 200);
    assert.deepEqual(Object.keys(data).sort(), [
      "accessToken", "expiresIn", "isRegistrationComplete", "refreshExpiresIn", "refreshToken", "user",
    ]);
    assert.equal(data.expiresIn, 3600);
    assert.equal(data.refreshExpiresIn, 2592000);
    assert.equal(data.isRegistrationComplete, false);
    assertDocumentedUser(data.user);
    assert.equal(data.user.email, email);
    assert.deepEqual(data.user.roles, ["user"]);
    assert.deepEqual(data.user.interests, []);
    assert.equal(data.user.creditBalance, 0);
    assert.equal(data.user.followersCount, 0);
    assert.equal(data.user.isRegistrationComplete, data.isRegistrationComplete);
    assert.ok(Math.abs(Date.parse(data.user.lastLogin) - Date.now()) < 60_000);

    const row = await userRow(email);
    assert.ok(row, "the user is stored in D1");
    assert.equal(row.created_at, data.user.lastLogin);
    const sessions = await app.db.prepare("SELECT count(*) AS n FROM sessions WHERE user_id = ?").bind(row.id).first();
    assert.equal(sessions.n, 1);
  });

  test("tokens verify against the JWKS with an independent JWT library", async () => {
    const email = freshEmail();
    const data = assertEnvelope(await app.login(email), 200);
    const keys = createLocalJWKSet(await jwks());
    const options = { issuer: "http://127.0.0.1:8787", audience: "allmine", algorithms: ["EdDSA"] };

    const access = await jwtVerify(data.accessToken, keys, { ...options, typ: "at+jwt" });
    assert.equal(access.protectedHeader.alg, "EdDSA");
    assert.ok(access.protectedHeader.kid);
    const row = await userRow(email);
    assert.equal(access.payload.sub, row.id);
    assert.equal(access.payload.token_use, "access");
    assert.deepEqual(access.payload.roles, ["user"]);
    assert.equal(access.payload.exp - access.payload.iat, 3600);
    assert.ok(access.payload.jti && access.payload.sid);

    const refresh = await jwtVerify(data.refreshToken, keys, { ...options, typ: "rt+jwt" });
    assert.equal(refresh.payload.token_use, "refresh");
    assert.equal(refresh.payload.exp - refresh.payload.iat, 2592000);
    assert.equal(refresh.payload.sid, access.payload.sid);
    assert.notEqual(refresh.payload.jti, access.payload.jti);
    const session = await app.db.prepare("SELECT * FROM sessions WHERE id = ?").bind(access.payload.sid).first();
    assert.equal(session.refresh_jti, refresh.payload.jti);
  });

  test("the JWKS publishes the signing key for stock libraries", async () => {
    const set = await jwks();
    assert.equal(set.keys.length, 1);
    const [key] = set.keys;
    assert.deepEqual({ kty: key.kty, crv: key.crv, alg: key.alg, use: key.use }, {
      kty: "OKP", crv: "Ed25519", alg: "EdDSA", use: "sig",
    });
    const data = assertEnvelope(await app.login(freshEmail()), 200);
    assert.equal(decodeProtectedHeader(data.accessToken).kid, key.kid);
  });

  test("a later login keeps the account and updates lastLogin", async () => {
    const email = freshEmail();
    const first = assertEnvelope(await app.login(email), 200);
    const firstRow = await userRow(email);
    await new Promise((r) => setTimeout(r, 5));
    const second = assertEnvelope(await app.login(email.toUpperCase()), 200);
    const secondRow = await userRow(email);
    assert.equal(secondRow.id, firstRow.id);
    assert.ok(second.user.lastLogin > first.user.lastLogin);
    const count = await app.db.prepare("SELECT count(*) AS n FROM users WHERE email = ?").bind(email).first();
    assert.equal(count.n, 1);
  });

  test("returns the stored profile, not just defaults", async () => {
    const email = freshEmail();
    assertEnvelope(await app.login(email), 200);
    await app.db
      .prepare(`UPDATE users SET name = 'John', interests = '["music"]', is_registration_complete = 1,
                credit_balance = 500, privacy_policy_accepted = 1 WHERE email = ?`)
      .bind(email)
      .run();
    const data = assertEnvelope(await app.login(email), 200);
    assert.equal(data.user.name, "John");
    assert.deepEqual(data.user.interests, ["music"]);
    assert.equal(data.user.creditBalance, 500);
    assert.equal(data.user.privacyPolicyAccepted, true);
    assert.equal(data.isRegistrationComplete, true);
  });
});

describe("codes are single use, short lived and attempt limited", () => {
  test("a used code answers 404", async () => {
    const email = freshEmail();
    const code = await app.requestCode(email);
    assertEnvelope(await app.verifyOtp(email, code), 200);
    assertEnvelope(await app.verifyOtp(email, code), 404);
  });

  test("no code ever sent answers 404", async () => {
    assertEnvelope(await app.verifyOtp(freshEmail(), "123456"), 404);
  });

  test("an expired code answers 404 even while KV still holds it", async () => {
    const email = freshEmail();
    const code = await app.requestCode(email);
    await app.db.prepare("UPDATE otp_codes SET expires_at = ? WHERE email = ?").bind(Date.now() - 1, email).run();
    assertEnvelope(await app.verifyOtp(email, code), 404);
  });

  test("wrong codes are 400 with attempts left, then 429, and the code dies", async () => {
    const email = freshEmail();
    const code = await app.requestCode(email);
    const wrong = code === "000000" ? "111111" : "000000";
    for (let left = 4; left >= 0; left--) {
      const res = await app.verifyOtp(email, wrong);
      assertEnvelope(res, 400);
      assert.match(res.body.errors[0], left ? new RegExp(`${left} attempt`) : /no attempts left/);
    }
    assertEnvelope(await app.verifyOtp(email, wrong), 429);
    assertEnvelope(await app.verifyOtp(email, code), 429);
    const fresh = await app.requestCode(email);
    assertEnvelope(await app.verifyOtp(email, fresh), 200);
  });

  test("sixteen simultaneous verifies of one right code give exactly one 200", async () => {
    const email = freshEmail();
    const code = await app.requestCode(email);
    const results = await Promise.all(Array.from({ length: 16 }, () => app.verifyOtp(email, code)));
    const statuses = results.map((r) => r.status).sort();
    assert.equal(statuses.filter((s) => s === 200).length, 1, `statuses: ${statuses}`);
    for (const res of results) {
      assert.ok([200, 404, 429].includes(res.status), `unexpected ${res.status}: ${res.text}`);
      assertEnvelope(res, res.status);
    }
    const row = await userRow(email);
    const sessions = await app.db.prepare("SELECT count(*) AS n FROM sessions WHERE user_id = ?").bind(row.id).first();
    assert.equal(sessions.n, 1);
    const logins = await app.db
      .prepare("SELECT count(*) AS n FROM audit_events WHERE event = 'login' AND user_id = ?")
      .bind(row.id)
      .first();
    assert.equal(logins.n, 1, "one login is audited once");
  });

  test("simultaneous wrong guesses never exceed the attempt limit", async () => {
    const email = freshEmail();
    const code = await app.requestCode(email);
    const wrong = code === "000000" ? "111111" : "000000";
    const results = await Promise.all(Array.from({ length: 12 }, () => app.verifyOtp(email, wrong)));
    assert.equal(results.filter((r) => r.status === 400).length, 5);
    assert.equal(results.filter((r) => r.status === 429).length, 7);
    const ledger = await app.db.prepare("SELECT attempts FROM otp_codes WHERE email = ?").bind(email).first();
    assert.equal(ledger.attempts, 5);
    assertEnvelope(await app.verifyOtp(email, code), 429);
  });
});

describe("accounts that cannot log in", () => {
  test("a finalised deletion answers 409 and changes nothing", async () => {
    const email = freshEmail();
    assertEnvelope(await app.login(email), 200);
    await app.db
      .prepare("UPDATE users SET account_deletion_status = 'finalized', last_login = 'before' WHERE email = ?")
      .bind(email)
      .run();
    const res = await app.login(email);
    assertEnvelope(res, 409);
    const row = await userRow(email);
    assert.equal(row.last_login, "before");
    const sessions = await app.db.prepare("SELECT count(*) AS n FROM sessions WHERE user_id = ?").bind(row.id).first();
    assert.equal(sessions.n, 1, "no session was opened");
  });
});

describe("bad input", () => {
  const cases = [
    [{}, ["email is required", "code is required"]],
    [{ email: "a@b.co" }, ["code is required"]],
    [{ code: "123456" }, ["email is required"]],
    [{ email: "a@b.co", code: 123456 }, ["code must be a string"]],
    [{ email: "a@b.co", code: "12345" }, ["code must be exactly 6 digits"]],
    [{ email: "a@b.co", code: "1234567" }, ["code must be exactly 6 digits"]],
    [{ email: "a@b.co", code: "12a456" }, ["code must be exactly 6 digits"]],
    [{ email: "a@b.co", code: "١٢٣٤٥٦" }, ["code must be exactly 6 digits"]],
    [{ email: ["a@b.co"], code: "123456" }, ["email must be a string"]],
    [{ email: "nope", code: "123456" }, ["email must contain '@'"]],
  ];
  for (const [body, errors] of cases) {
    test(`${JSON.stringify(body)} is a 400 naming the problem`, async () => {
      const res = await app.post("/api/v1/auth/verify-otp-email", body);
      assertEnvelope(res, 400);
      assert.deepEqual(res.body.errors, errors);
    });
  }

  test("bad input changes nothing", async () => {
    const email = freshEmail();
    const code = await app.requestCode(email);
    await app.post("/api/v1/auth/verify-otp-email", { email, code: code.slice(1) });
    await app.post("/api/v1/auth/verify-otp-email", { email, code: Number(code) });
    const ledger = await app.db.prepare("SELECT attempts FROM otp_codes WHERE email = ?").bind(email).first();
    assert.equal(ledger.attempts, 0);
    assert.equal(await userRow(email), null);
    assertEnvelope(await app.verifyOtp(email, code), 200);
  });
});
