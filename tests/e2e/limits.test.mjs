// Rate limits: per address in D1 (cooldown, hourly cap, wrong-code lockout),
// per client IP through the rate-limiting binding. Each answers 429 with Retry-After.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { freshEmail, fromNetwork, spawnApp, withinOneLimiterWindow } from "../../harness/app.mjs";
import { SOLVED_TOKEN, startTurnstileStub, TURNSTILE_SECRET } from "../../harness/turnstile_stub.mjs";
import { assertEnvelope } from "../../harness/envelope.mjs";

const DEFAULT_LIMITS = { OTP_RESEND_COOLDOWN_SECONDS: "30", OTP_SENDS_PER_HOUR: "5" };

let app;
before(async () => (app = await spawnApp({ vars: DEFAULT_LIMITS })));
after(() => app?.dispose());

/** Every rate-limiting binding open (1,000 a minute) but those given, each a limit a minute. */
function limiters(limits) {
  const names = ["IP_SEND_LIMITER", "IP_VERIFY_LIMITER", "BLOCK_SEND_LIMITER", "BLOCK_VERIFY_LIMITER", "MAIL_CEILING"];
  return Object.fromEntries(names.map((name) => [name, { simple: { limit: limits[name] ?? 1000, period: 60 } }]));
}

function assertLimited(res, maxRetryAfter) {
  assertEnvelope(res, 429);
  const retry = Number(res.headers.get("retry-after"));
  assert.ok(retry >= 1 && retry <= maxRetryAfter, `Retry-After ${retry}`);
  return retry;
}

// Requests of one test come from one client network (its own, so the per-network
// flood limit of one test does not spill into the next) unless it says otherwise.
let OWNER;
let ownerSeq = 0;
beforeEach(() => {
  ownerSeq += 1;
  OWNER = fromNetwork(`192.0.2.${ownerSeq}`);
});

/** Spends the address's daily failure budget with wrong guesses from networks of `prefix`.x. */
async function spendBudget(app, email, prefix) {
  // The keys are keyed hashes: this address's is the one that reaches the
  // budget (LOGIN_DAILY_FAILURE_BUDGET in wrangler.toml) while this runs.
  const spentKeys = async () => {
    const { results } = await app.db.prepare("SELECT key FROM rate_limits WHERE key LIKE 'address-failures:%' AND count >= 10").all();
    return new Set(results.map((r) => r.key));
  };
  const before = await spentKeys();
  const spent = async () => [...(await spentKeys())].some((key) => !before.has(key));
  for (let n = 1; n < 50 && !(await spent()); n++) {
    const stranger = fromNetwork(`${prefix}.${n}`);
    await app.requestCode(email, {}, stranger);
    for (let i = 0; i < 3; i++) await app.verifyOtp(email, "000000", stranger);
  }
  assert.ok(await spent(), "the budget is spent");
}

describe("per address and client network", () => {
  test("a second send within the cooldown is 429 and mails nothing", async () => {
    const email = freshEmail();
    const first = assertEnvelope(await app.sendOtp(email, {}, OWNER), 200);
    assert.equal(first.resendAfter, 30);
    const sent = app.mail.sent.length;
    assertLimited(await app.sendOtp(email, {}, OWNER), 30);
    assert.equal(app.mail.sent.length, sent);
    assertEnvelope(await app.sendOtp(freshEmail(), {}, OWNER), 200); // other addresses are unaffected
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
      assertEnvelope(await app.sendOtp(email, {}, OWNER), 502);
    } finally {
      app.mail.failWith(null);
    }
    const afterFailure = await counters();
    assert.equal(afterFailure.cooldowns, before.cooldowns, "the failed send's cooldown was given back");
    assert.equal(afterFailure.sends, before.sends + 1, "the failed send counts against the hourly cap");
    assertEnvelope(await app.sendOtp(email, {}, OWNER), 200);
    assertEnvelope(await app.verifyOtp(email, app.mail.codeFor(email), OWNER), 200);
    assertLimited(await app.sendOtp(email, {}, OWNER), 30); // the delivered send holds its cooldown
  });

  test("concurrent sends to one address mail exactly one code", async () => {
    const email = freshEmail();
    const results = await Promise.all(Array.from({ length: 8 }, () => app.sendOtp(email, {}, OWNER)));
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 429, 429, 429, 429, 429, 429, 429]);
    assert.equal(app.mail.sent.filter((m) => m.to.includes(email)).length, 1);
  });

  test("the hourly cap holds once the cooldown has passed", async () => {
    const email = freshEmail();
    for (let i = 0; i < 5; i++) {
      assertEnvelope(await app.sendOtp(email, {}, OWNER), 200);
      // Age the cooldown instead of waiting 30 s.
      await app.db.prepare("UPDATE rate_limits SET updated_at = updated_at - 31000 WHERE key LIKE 'send-cooldown:%'").run();
    }
    const retry = assertLimited(await app.sendOtp(email, {}, OWNER), 3600);
    assert.ok(retry > 3000);
  });

  test("ten wrong codes from one network lock that network out of the address, for its full time", async () => {
    // A budget above ten, so that what locks is the network's count alone.
    const app = await spawnApp({ vars: { ...DEFAULT_LIMITS, LOGIN_DAILY_FAILURE_BUDGET: "20" } });
    try {
      const email = freshEmail();
      const attacker = fromNetwork("198.18.0.1");
      let code = await app.requestCode(email, {}, attacker);
      const statuses = [];
      for (let i = 0; i < 10; i++) {
        if (i === 5) {
          // The first code is dead after 5 wrong tries; age the cooldown and ask again.
          await app.db.prepare("UPDATE rate_limits SET updated_at = updated_at - 31000 WHERE key LIKE 'send-cooldown:%'").run();
          code = await app.requestCode(email, {}, attacker);
        }
        const wrong = code === "000000" ? "111111" : "000000";
        statuses.push((await app.verifyOtp(email, wrong, attacker)).status);
      }
      assert.deepEqual(statuses, [400, 400, 400, 400, 400, 400, 400, 400, 400, 429]);
      const refused = await app.sendOtp(email, {}, attacker);
      assertLimited(refused, 900);
      assert.match(refused.body.errors[0], /locked/);
      const res = await app.verifyOtp(email, code, attacker);
      assert.ok(assertLimited(res, 900) > 800);
      // Its lock lasts fifteen minutes after the tenth failure, even when that
      // failure came at the very end of the counting window.
      await app.db.prepare("UPDATE rate_limits SET window_start = window_start - 3590000 WHERE key LIKE 'failures:%'").run();
      assert.ok(assertLimited(await app.verifyOtp(email, code, attacker), 900) > 800);
      // Wrong codes sent during the lock are not counted, so they cannot extend it.
      const row = () => app.db.prepare("SELECT count, updated_at FROM rate_limits WHERE key LIKE 'failures:%' ORDER BY updated_at DESC LIMIT 1").first();
      const during = await row();
      await app.verifyOtp(email, code === "000000" ? "111111" : "000000", attacker);
      assert.deepEqual(await row(), during);
      // Once the lock has passed, that network may try again (its codes were
      // spent by the guessing: it asks for a new one).
      await app.db.prepare("UPDATE rate_limits SET updated_at = updated_at - 901000 WHERE key LIKE 'failures:%' OR key LIKE 'send-cooldown:%'").run();
      const fresh = await app.requestCode(email, {}, attacker);
      assertEnvelope(await app.verifyOtp(email, fresh, attacker), 200);
    } finally {
      await app.dispose();
    }
  });

  test("counters store no address and no IP", async () => {
    const email = freshEmail("counted");
    await app.sendOtp(email, {}, fromNetwork("192.0.2.77"));
    const { results } = await app.db.prepare("SELECT key FROM rate_limits").all();
    assert.ok(results.length > 0);
    assert.ok(results.every((r) => !r.key.includes("counted") && !r.key.includes("192.0.2")));
  });
});

describe("strangers cannot keep the owner out", () => {
  test("wrong guesses below the budget and a few sends from other networks do not stop the owner, even without its login id", async () => {
    const email = freshEmail();
    // The stranger asks for codes from two networks and guesses six times
    // (nine code checks: the budget is ten).
    for (let n = 1; n <= 2; n++) {
      const stranger = fromNetwork(`198.18.1.${n}`);
      assertEnvelope(await app.sendOtp(email, {}, stranger), 200);
      for (let i = 0; i < 3; i++) await app.verifyOtp(email, "000000", stranger);
    }
    // The owner, on their own network, gets a code at once and signs in with it.
    const code = await app.requestCode(email, {}, OWNER);
    assertEnvelope(await app.verifyOtp(email, code, OWNER), 200);
  });

  test("wrong codes against a used or expired code are not counted against anyone", async () => {
    const email = freshEmail();
    const stranger = fromNetwork("198.18.2.1");
    const code = await app.requestCode(email, {}, OWNER);
    assertEnvelope(await app.verifyOtp(email, code, OWNER), 200);
    const counted = () => app.db.prepare("SELECT total(count) AS c FROM rate_limits WHERE key LIKE '%failures:%'").first();
    const before = await counted();
    for (let i = 0; i < 12; i++) assertEnvelope(await app.verifyOtp(email, "000000", stranger), 404);
    const expired = freshEmail();
    await app.requestCode(expired, {}, OWNER);
    await app.db.prepare("UPDATE otp_codes SET expires_at = 0 WHERE email = ?").bind(expired).run();
    for (let i = 0; i < 3; i++) assertEnvelope(await app.verifyOtp(expired, "000000", stranger), 404);
    assert.deepEqual(await counted(), before, "no failure was counted");
  });

  test("without Turnstile, a spent daily budget locks the address for everyone, for a day", async () => {
    const email = freshEmail();
    await spendBudget(app, email, "198.18.3");
    const owner = await app.sendOtp(email, {}, OWNER);
    const retry = assertLimited(owner, 86400);
    assert.ok(retry > 86000, `locked for a day, Retry-After ${retry}`);
  });
});

/** The deployed limits with Turnstile at the stand-in, for our site and the send action. */
function withTurnstile(turnstile, overrides = {}) {
  return {
    ...DEFAULT_LIMITS,
    ...turnstile.vars,
    ...overrides,
  };
}

describe("with Turnstile configured", () => {
  let turnstile, guarded;
  before(async () => {
    turnstile = await startTurnstileStub();
    guarded = await spawnApp({ vars: withTurnstile(turnstile) });
  });
  after(async () => {
    await guarded?.dispose();
    await turnstile?.close();
  });

  test("a spent budget asks senders for a challenge; a solved one gets an 8-digit code that signs in with its login id", async () => {
    const email = freshEmail();
    await spendBudget(guarded, email, "198.18.4");
    const asked = await guarded.sendOtp(email, {}, OWNER);
    assertEnvelope(asked, 403);
    assert.deepEqual(asked.body.errors, [
      "Challenge required: solve the Turnstile challenge and send its token as turnstileToken",
    ]);
    const wrongToken = await guarded.sendOtp(email, { turnstileToken: "forged" }, OWNER);
    assertEnvelope(wrongToken, 403);
    const solved = await guarded.sendOtp(email, { turnstileToken: SOLVED_TOKEN }, OWNER);
    assertEnvelope(solved, 200);
    assert.equal(turnstile.calls.at(-1).secret, TURNSTILE_SECRET);
    assert.equal(turnstile.calls.at(-1).remoteip, OWNER["cf-connecting-ip"]);
    assert.equal(solved.body.data.codeLength, 8);
    const code = guarded.mail.codeFor(email);
    assert.match(code, /^\d{8}$/);
    // Strangers spent the address's budget: an attempt without the login id
    // is refused unchecked; the owner's, carrying it, signs in.
    assertEnvelope(await guarded.verifyOtp(email, code, OWNER), 429);
    const { loginId } = solved.body.data;
    assertEnvelope(await guarded.verifyOtp(email, code, OWNER, { loginId }), 200);
  });

  test("below the budget nobody is asked, and no token is checked, even one the client attached", async () => {
    const calls = turnstile.calls.length;
    assertEnvelope(await guarded.sendOtp(freshEmail(), {}, OWNER), 200);
    assertEnvelope(await guarded.sendOtp(freshEmail(), { turnstileToken: "anything" }, OWNER), 200);
    assert.equal(turnstile.calls.length, calls);
  });

  test("a challenge solved on another site, or for another action, does not count", async () => {
    for (const vars of [{ TURNSTILE_HOSTNAMES: "allmine.app" }, { TURNSTILE_ACTION: "signup" }]) {
      const strict = await spawnApp({ vars: withTurnstile(turnstile, vars) });
      try {
        const email = freshEmail();
        await spendBudget(strict, email, "198.18.5");
        const mails = strict.mail.sent.length;
        assertEnvelope(await strict.sendOtp(email, { turnstileToken: SOLVED_TOKEN }, OWNER), 403);
        assert.equal(strict.mail.sent.length, mails);
      } finally {
        await strict.dispose();
      }
    }
  });
});

describe("the cost guard", () => {
  test("mails per minute from one location have a ceiling, whatever the addresses and networks", async () => {
    const capped = await spawnApp({
      ratelimits: limiters({ MAIL_CEILING: 3 }),
    });
    try {
      await withinOneLimiterWindow();
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await capped.sendOtp(freshEmail())).status);
      assert.deepEqual(statuses, [200, 200, 200, 429]);
      assert.equal(capped.mail.sent.length, 3);
    } finally {
      await capped.dispose();
    }
  });
});

describe("the daily cap per address", () => {
  test("past it, a send waits for tomorrow without Turnstile, and needs a solved challenge with it", async () => {
    const turnstile = await startTurnstileStub();
    const vars = { ...DEFAULT_LIMITS, OTP_RESEND_COOLDOWN_SECONDS: "0", OTP_SENDS_PER_HOUR: "100", OTP_ADDRESS_SENDS_PER_DAY: "3" };
    const plain = await spawnApp({ vars });
    const guarded = await spawnApp({
      vars: { ...vars, TURNSTILE_SECRET_KEY: TURNSTILE_SECRET, TURNSTILE_VERIFY_URL: turnstile.url },
    });
    try {
      for (const app of [plain, guarded]) {
        const email = freshEmail("capped");
        for (let i = 0; i < 3; i++) assertEnvelope(await app.sendOtp(email, {}, fromNetwork(`198.18.9.${i + 1}`)), 200);
        const next = await app.sendOtp(email, {}, OWNER);
        if (app === plain) {
          const retry = assertLimited(next, 86400);
          assert.ok(retry > 86000, `until the day's window ends, Retry-After ${retry}`);
        } else {
          assertEnvelope(next, 403);
          assertEnvelope(await app.sendOtp(email, { turnstileToken: SOLVED_TOKEN }, OWNER), 200);
          assertEnvelope(await app.verifyOtp(email, app.mail.codeFor(email), OWNER), 200);
        }
      }
    } finally {
      await plain.dispose();
      await guarded.dispose();
      await turnstile.close();
    }
  });
});

describe("the cost guard is spent only by mails that go out", () => {
  test("a flood at one address spends no more than the mails it gets; a send the ceiling refuses is given back whole", async () => {
    const capped = await spawnApp({
      vars: DEFAULT_LIMITS,
      ratelimits: limiters({ MAIL_CEILING: 12 }),
    });
    try {
      await withinOneLimiterWindow();
      // Ten networks, three sends each, at one address: one mail per network
      // (the rest refused by each network's cooldown before the ceiling).
      const victim = freshEmail("flooded");
      const flood = [];
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 10; i++) {
          flood.push((await capped.post("/api/v1/auth/send-otp-email", { email: victim }, fromNetwork(`198.51.100.${i + 1}`))).status);
        }
      }
      assert.equal(flood.filter((s) => s === 200).length, 10, String(flood));
      assert.ok(flood.every((s) => s === 200 || s === 429), String(flood));
      // The refusals spent nothing: two other users get their codes this minute.
      assertEnvelope(await capped.sendOtp(freshEmail()), 200);
      assertEnvelope(await capped.sendOtp(freshEmail()), 200);
      assert.equal(capped.mail.sent.length, 12);
      // Now the ceiling refuses, and gives the send back: no cooldown and no
      // hourly count left behind for a mail that never went.
      assert.equal((await capped.sendOtp(freshEmail("late"))).status, 429);
      const count = async (like) =>
        (await capped.db.prepare("SELECT COUNT(*) AS n FROM rate_limits WHERE key LIKE ? AND count > 0").bind(like).first()).n;
      assert.equal(await count("send-cooldown:%"), 12);
      assert.equal(await count("sends:%"), 12);
      assert.equal(await count("address-sends:%"), 3);
    } finally {
      await capped.dispose();
    }
  });
});

describe("per IPv6 /48", () => {
  test("rotating through the /64s of one /48 meets the /48's limit; another /48 passes", async () => {
    const blocky = await spawnApp({
      ratelimits: limiters({ BLOCK_SEND_LIMITER: 5, BLOCK_VERIFY_LIMITER: 5 }),
    });
    try {
      // The binding counts in fixed windows: a run may straddle one boundary,
      // so 12 requests with a limit of 5 see at most 10 pass: at least two refused.
      for (const [path, body] of [
        ["/api/v1/auth/send-otp-email", () => ({ email: freshEmail() })],
        ["/api/v1/auth/verify-otp-email", () => ({ email: freshEmail(), code: "123456" })],
      ]) {
        const statuses = [];
        for (let i = 0; i < 12; i++) {
          statuses.push((await blocky.post(path, body(), fromNetwork(`2001:db8:99:${(i + 1).toString(16)}::1`))).status);
        }
        const refused = statuses.filter((s) => s === 429).length;
        assert.ok(refused >= 2 && statuses[0] !== 429, `${path}: ${statuses}`);
        assert.notEqual((await blocky.post(path, body(), fromNetwork("2001:db8:98:1::1"))).status, 429, path);
      }
    } finally {
      await blocky.dispose();
    }
  });
});

describe("per client network", () => {
  test("an IPv6 client is one network: its /64 shares one flood limit", async () => {
    await withinOneLimiterWindow();
    const statuses = [];
    for (let i = 0; i < 21; i++) {
      const ip = fromNetwork(`2001:db8:77:1:${(i + 1).toString(16)}::${i + 2}`);
      statuses.push((await app.post("/api/v1/auth/send-otp-email", { email: freshEmail() }, ip)).status);
    }
    assert.deepEqual(statuses.slice(0, 20), Array(20).fill(200));
    assert.equal(statuses[20], 429);
    assertEnvelope(await app.post("/api/v1/auth/send-otp-email", { email: freshEmail() }, fromNetwork("2001:db8:77:2::1")), 200);
  });

  test("send and verify floods from one IP are 429 with Retry-After; other IPs pass", async () => {
    await withinOneLimiterWindow();
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
