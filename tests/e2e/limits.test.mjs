// Rate limits: per address in D1 (cooldown, hourly cap, wrong-code lockout),
// per client IP through the rate-limiting binding. Each answers 429 with Retry-After.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { freshEmail, spawnApp } from "./support/app.mjs";
import { assertEnvelope } from "./support/envelope.mjs";

const DEFAULT_LIMITS = { OTP_RESEND_COOLDOWN_SECONDS: "30", OTP_SENDS_PER_HOUR: "5" };

let app;
before(async () => (app = await spawnApp({ vars: DEFAULT_LIMITS })));
after(() => app?.dispose());

function assertLimited(res, maxRetryAfter) {
  assertEnvelope(res, 429);
  const retry = Number(res.headers.get("retry-after"));
  assert.ok(retry >= 1 && retry <= maxRetryAfter, `Retry-After ${retry}`);
  return retry;
}

describe("per address", () => {
  test("a second send within the cooldown is 429 and mails nothing", async () => {
    const email = freshEmail();
    const first = assertEnvelope(await app.sendOtp(email), 200);
    assert.equal(first.resendAfter, 30);
    const sent = app.mail.sent.length;
    assertLimited(await app.sendOtp(email), 30);
    assert.equal(app.mail.sent.length, sent);
    assertEnvelope(await app.sendOtp(freshEmail()), 200); // other addresses are unaffected
  });

  test("a send the mail provider failed gives back its cooldown but still counts: the retry is mailed", async () => {
    const email = freshEmail();
    const counters = () =>
      app.db
        .prepare(
          `SELECT (SELECT count(*) FROM rate_limits WHERE key LIKE 'send-cooldown:%') AS cooldowns,
                  (SELECT total(count) FROM rate_limits WHERE key LIKE 'sends:%') AS sends`,
        )
        .first();
    const before = await counters();
    app.mail.failWith(500);
    try {
      assertEnvelope(await app.sendOtp(email), 502);
    } finally {
      app.mail.failWith(null);
    }
    const afterFailure = await counters();
    assert.equal(afterFailure.cooldowns, before.cooldowns, "the failed send's cooldown was given back");
    assert.equal(afterFailure.sends, before.sends + 1, "the failed send counts against the hourly cap");
    assertEnvelope(await app.sendOtp(email), 200);
    assertEnvelope(await app.verifyOtp(email, app.mail.codeFor(email)), 200);
    assertLimited(await app.sendOtp(email), 30); // the delivered send holds its cooldown
  });

  test("concurrent sends to one address mail exactly one code", async () => {
    const email = freshEmail();
    const results = await Promise.all(Array.from({ length: 8 }, () => app.sendOtp(email)));
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 429, 429, 429, 429, 429, 429, 429]);
    assert.equal(app.mail.sent.filter((m) => m.to.includes(email)).length, 1);
  });

  test("the hourly cap holds once the cooldown has passed", async () => {
    const email = freshEmail();
    for (let i = 0; i < 5; i++) {
      assertEnvelope(await app.sendOtp(email), 200);
      // Age the cooldown instead of waiting 30 s.
      await app.db.prepare("UPDATE rate_limits SET updated_at = updated_at - 31000 WHERE key LIKE 'send-cooldown:%'").run();
    }
    const retry = assertLimited(await app.sendOtp(email), 3600);
    assert.ok(retry > 3000);
  });

  test("ten wrong codes across codes lock the address, then even the right code is 429", async () => {
    const relaxed = await spawnApp({ vars: { LOGIN_FAILURES_BEFORE_LOCKOUT: "10", LOGIN_LOCKOUT_SECONDS: "900" } });
    try {
      const email = freshEmail();
      let code = await relaxed.requestCode(email);
      let statuses = [];
      for (let i = 0; i < 10; i++) {
        if (i === 5) code = await relaxed.requestCode(email); // the first code is dead after 5
        const wrong = code === "000000" ? "111111" : "000000";
        statuses.push((await relaxed.verifyOtp(email, wrong)).status);
      }
      assert.deepEqual(statuses, [400, 400, 400, 400, 400, 400, 400, 400, 400, 429]);
      const fresh = await relaxed.requestCode(email).catch(() => null);
      assert.equal(fresh, null, "sending is refused while locked");
      const res = await relaxed.verifyOtp(email, code);
      const retry = assertLimited(res, 900);
      assert.ok(retry > 800);
      assert.match(res.body.errors[0], /locked/);
      // Unlocked once the lockout has passed: a new code works.
      await relaxed.db.prepare("UPDATE rate_limits SET updated_at = updated_at - 901000 WHERE key LIKE 'failures:%'").run();
      const again = await relaxed.requestCode(email);
      assertEnvelope(await relaxed.verifyOtp(email, again), 200);
    } finally {
      await relaxed.dispose();
    }
  });

  test("counters store no address", async () => {
    const email = freshEmail("counted");
    await app.sendOtp(email);
    const { results } = await app.db.prepare("SELECT key FROM rate_limits").all();
    assert.ok(results.length > 0);
    assert.ok(results.every((r) => !r.key.includes("counted")));
  });
});

describe("per client IP", () => {
  test("send and verify floods from one IP are 429 with Retry-After; other IPs pass", async () => {
    const ip = { "cf-connecting-ip": "203.0.113.7" };
    const statuses = [];
    for (let i = 0; i < 21; i++) {
      const res = await app.post("/api/v1/auth/send-otp-email", { email: freshEmail() }, ip);
      statuses.push(res.status);
    }
    assert.deepEqual(statuses.slice(0, 20), Array(20).fill(200));
    assertLimited(await app.post("/api/v1/auth/send-otp-email", { email: freshEmail() }, ip), 60);
    assertEnvelope(await app.sendOtp(freshEmail()), 200);

    const verifyIp = { "cf-connecting-ip": "203.0.113.8" };
    let last;
    for (let i = 0; i < 61; i++) {
      last = await app.post("/api/v1/auth/verify-otp-email", { email: freshEmail(), code: "123456" }, verifyIp);
    }
    assertLimited(last, 60);
  });
});

describe("audit trail", () => {
  test("security events are recorded with hashed address and IP", async () => {
    const email = freshEmail("audited");
    const code = await app.requestCode(email);
    const wrong = code === "000000" ? "111111" : "000000";
    await app.verifyOtp(email, wrong);
    assertEnvelope(await app.verifyOtp(email, code), 200);
    await new Promise((r) => setTimeout(r, 200)); // written after the response
    const { results } = await app.db.prepare("SELECT * FROM audit_events ORDER BY id").all();
    const events = results.map((r) => r.event);
    for (const e of ["code_sent", "verify_failed", "login"]) assert.ok(events.includes(e), e);
    for (const row of results) {
      assert.match(row.ip_hash, /^[0-9a-f]{64}$/);
      assert.ok(!JSON.stringify(row).includes("audited"));
    }
    const login = results.findLast((r) => r.event === "login");
    assert.ok(login.user_id);
  });
});
