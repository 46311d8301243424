// The login id (issue: no stranger can stop a user): a send returns
// `loginId`; a verify carrying it is counted on that login's codes alone, so
// strangers' guesses at the address never make the owner's code fail, and
// with Turnstile a stranger who spends the address's caps and budgets only
// makes the owner solve a challenge (for an 8-digit code), never keeps them out.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { freshEmail, fromNetwork, spawnApp } from "../../harness/app.mjs";
import { SOLVED_TOKEN, startTurnstileStub } from "../../harness/turnstile_stub.mjs";
import { assertEnvelope } from "../../harness/envelope.mjs";

// The deployed per-address limits (the harness relaxes them by default).
const DEPLOYED = { OTP_RESEND_COOLDOWN_SECONDS: "30", OTP_SENDS_PER_HOUR: "5" };
const OWNER = fromNetwork("192.0.2.10");
const stranger = (n) => fromNetwork(`198.51.100.${n}`);

let turnstile, app;
before(async () => {
  turnstile = await startTurnstileStub();
  app = await spawnApp({
    vars: {
      ...DEPLOYED,
      ...turnstile.vars,
    },
  });
});
after(async () => {
  await app?.dispose();
  await turnstile?.close();
});

/** The owner asks for a code: its digits and the send's login id. */
async function ownerAsks(email, extra = {}) {
  const res = await app.sendOtp(email, extra, OWNER);
  const data = assertEnvelope(res, 200);
  return { code: app.mail.codeFor(email), loginId: data.loginId, data };
}

const wrong = (code) => (code.startsWith("0") ? "1" : "0") + code.slice(1);

describe("the owner's code, typed by the client that asked for it", () => {
  test("signs in whatever strangers guessed meanwhile, from any number of networks", async () => {
    const email = freshEmail();
    const { code, loginId } = await ownerAsks(email);
    // Enough wrong guesses from other networks to spend every attempt on
    // the code, and the address's daily budget with it.
    for (let n = 1; n <= 20; n++) await app.verifyOtp(email, wrong(code), stranger(n));
    // The documented request, without the login id, is refused as before…
    assertEnvelope(await app.verifyOtp(email, code, OWNER), 429);
    // …and the owner's client, carrying it, signs in.
    const data = assertEnvelope(await app.verifyOtp(email, code, OWNER, { loginId }), 200);
    assert.equal(data.user.email, email);
  });

  test("strangers guessing with login ids of their own spend nothing of the owner's", async () => {
    const email = freshEmail();
    const { code, loginId } = await ownerAsks(email);
    for (let n = 1; n <= 5; n++) {
      const made_up = { loginId: "f".repeat(31) + String(n) };
      const res = await app.verifyOtp(email, wrong(code), stranger(40 + n), made_up);
      assertEnvelope(res, 404); // no code of that login: nothing to count
    }
    const row = await app.db.prepare("SELECT attempts, owner_attempts FROM otp_codes WHERE email = ?").bind(email).first();
    assert.deepEqual(row, { attempts: 0, owner_attempts: 0 });
    assertEnvelope(await app.verifyOtp(email, code, OWNER, { loginId }), 200);
  });

  test("the owner's own wrong codes are counted on the login and the owner budget", async () => {
    const email = freshEmail();
    const { code, loginId } = await ownerAsks(email);
    const typo = await app.verifyOtp(email, wrong(code), OWNER, { loginId });
    assertEnvelope(typo, 400);
    assert.equal(typo.headers.get("error-code"), "wrong_code");
    const row = await app.db.prepare("SELECT attempts, owner_attempts FROM otp_codes WHERE email = ?").bind(email).first();
    assert.deepEqual(row, { attempts: 0, owner_attempts: 1 });
    const budget = await app.db
      .prepare("SELECT count FROM rate_limits WHERE key LIKE 'address-owner-failures:%' ORDER BY updated_at DESC LIMIT 1")
      .first();
    assert.equal(budget.count, 1);
    assertEnvelope(await app.verifyOtp(email, code, OWNER, { loginId }), 200);
  });

  test("a resend carrying the login id keeps it: either mail's code signs in with it", async () => {
    const email = freshEmail();
    const first = await ownerAsks(email);
    const resend = await app.sendOtp(email, { loginId: first.loginId }, fromNetwork("192.0.2.11"));
    assert.equal(assertEnvelope(resend, 200).loginId, first.loginId);
    assertEnvelope(await app.verifyOtp(email, first.code, OWNER, { loginId: first.loginId }), 200);
  });

  test("a malformed login id is a clear 400 that counts nothing", async () => {
    const email = freshEmail();
    const { code } = await ownerAsks(email);
    const res = await app.verifyOtp(email, code, OWNER, { loginId: "not-one" });
    assertEnvelope(res, 400);
    assert.deepEqual(res.body.errors, ["loginId must be the loginId a send returned"]);
    const send = await app.sendOtp(email, { loginId: 42 }, OWNER);
    assertEnvelope(send, 400);
  });
});

describe("with Turnstile, the owner can always get a code", () => {
  test("past the address's hourly cap spent by strangers, by solving a challenge (an 8-digit code)", async () => {
    const email = freshEmail();
    // Three networks spend the address's 15 sends an hour.
    for (let n = 1; n <= 3; n++) {
      for (let i = 0; i < 5; i++) {
        const net = stranger(100 + n * 10 + i); // a fresh network per send: no cooldown between them
        assertEnvelope(await app.sendOtp(email, {}, net), 200);
      }
    }
    const asked = await app.sendOtp(email, {}, OWNER);
    assertEnvelope(asked, 403);
    assert.equal(asked.headers.get("error-code"), "challenge_required");
    const { code, loginId, data } = await ownerAsks(email, { turnstileToken: SOLVED_TOKEN });
    assert.equal(data.codeLength, 8);
    assert.match(code, /^\d{8}$/);
    assertEnvelope(await app.verifyOtp(email, code, OWNER, { loginId }), 200);
  });

  test("once the owner budget is spent, a send needs a challenge and only its code takes attempts", async () => {
    const email = freshEmail();
    const mine = await ownerAsks(email);
    // A stranger asks for codes of its own and guesses with their login ids:
    // four wrong codes, past the owner budget (three).
    for (let n = 1; n <= 2; n++) {
      const net = stranger(200 + n);
      const { loginId } = assertEnvelope(await app.sendOtp(email, {}, net), 200);
      for (let i = 0; i < 2; i++) await app.verifyOtp(email, "00000000".slice(0, 6), net, { loginId });
    }
    // The owner's six-digit code no longer takes attempts with its login id…
    const spent = await app.verifyOtp(email, mine.code, OWNER, { loginId: mine.loginId });
    assertEnvelope(spent, 429);
    assert.equal(spent.headers.get("error-code"), "too_many_attempts");
    // …and a new code needs a challenge, then signs in.
    assertEnvelope(await app.sendOtp(email, { loginId: mine.loginId }, fromNetwork("192.0.2.12")), 403);
    const res = await app.sendOtp(email, { loginId: mine.loginId, turnstileToken: SOLVED_TOKEN }, fromNetwork("192.0.2.12"));
    assert.equal(assertEnvelope(res, 200).codeLength, 8);
    const code = app.mail.codeFor(email);
    assertEnvelope(await app.verifyOtp(email, code, OWNER, { loginId: mine.loginId }), 200);
  });
});
