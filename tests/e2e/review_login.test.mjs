// Review access (issue 24): REVIEW_LOGINS lets the app stores' reviewers sign
// in at listed addresses with a fixed code, no mail sent, audited as review
// logins; a real account's address is never a review address; the fixed code
// takes the limits and attempt counts of any code; a guessable or wrong-length
// fixed code is a configuration error.
//
// Production-configured as far as a test build goes: it runs only with
// ENVIRONMENT=local (src/config/mod.rs, `test_build_problem`), so the app gets
// every var of wrangler.toml's [env.production.vars] but ENVIRONMENT (the
// deployed limits, REQUEST_LOG=failures, Resend as provider, pointed at the
// stand-in) and Turnstile, which production requires, pointed at its stand-in.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { unstable_readConfig } from "wrangler";
import { freshEmail, fromNetwork, spawnApp, TEST_SECRETS, withinOneLimiterWindow } from "../../harness/app.mjs";
import { assertEnvelope } from "../../harness/envelope.mjs";
import { SOLVED_TOKEN, startTurnstileStub } from "../../harness/turnstile_stub.mjs";
import { ROOT } from "../../harness/worker_options.mjs";

const { ENVIRONMENT: _, ...PRODUCTION_VARS } = unstable_readConfig(
  { config: `${ROOT}wrangler.toml`, env: "production" },
  { hideWarnings: true },
).vars;

// Each listed address with its fixed code (random-looking: guessable ones are refused).
const REVIEWER = freshEmail("reviewer");
const GUESSED = freshEmail("guessed");
const OWNER_GUESSED = freshEmail("owner-guessed");
const REAL = freshEmail("real");
const CLAIMED = freshEmail("claimed");
const FIXED = {
  [REVIEWER]: "482916",
  [GUESSED]: "730184",
  [OWNER_GUESSED]: "905362",
  [REAL]: "583071",
  [CLAIMED]: "617493",
};
const listing = (...emails) => emails.map((e) => `${e}:${FIXED[e]}`).join(",");
const LISTED = listing(REVIEWER, GUESSED, OWNER_GUESSED);

const wrong = (code) => (code.startsWith("0") ? "1" : "0") + code.slice(1);
let nextNetwork = 0;
/** A network of its own per call: the per-network cooldown never joins two tests' sends. */
const network = () => fromNetwork(`192.0.2.${++nextNetwork}`);

let turnstile, app, vars;
const secrets = (reviewLogins) => ({ ...TEST_SECRETS, REVIEW_LOGINS: reviewLogins });
before(async () => {
  turnstile = await startTurnstileStub();
  vars = {
    ...PRODUCTION_VARS,
    JWT_ISSUER: "https://auth.allmine.app",
    ...turnstile.vars,
  };
  app = await spawnApp({ vars, secrets: secrets(LISTED) });
});
after(async () => {
  await app?.dispose();
  await turnstile?.close();
});

const count = async (sql, ...params) => (await app.db.prepare(sql).bind(...params).first()).n;
const eventsOfUser = async (userId) => {
  // The user's login events, and every event under the same address (the send's too).
  const { results } = await app.db
    .prepare(
      `SELECT event, detail FROM audit_events
       WHERE email_hash = (SELECT email_hash FROM audit_events WHERE user_id = ? LIMIT 1) ORDER BY id`,
    )
    .bind(userId)
    .all();
  return results;
};
const userRow = (email) => app.db.prepare("SELECT id, review FROM users WHERE email = ?").bind(email).first();
/** The counter of `prefix` this request changed last (its key is a keyed hash of the address). */
const lastCounter = (prefix) =>
  app.db.prepare("SELECT count FROM rate_limits WHERE key LIKE ? ORDER BY updated_at DESC LIMIT 1").bind(`${prefix}:%`).first();

describe("a review address", () => {
  test("signs in with its fixed code, no mail sent, the answer shaped as any send's, audited as a review login", async () => {
    const mailsBefore = app.mail.sent.length;
    const ordinary = assertEnvelope(await app.sendOtp(freshEmail(), {}, network()), 200);
    assert.equal(app.mail.sent.length, mailsBefore + 1);

    const sent = await app.sendOtp(REVIEWER, {}, network());
    const data = assertEnvelope(sent, 200);
    assert.deepEqual(Object.keys(data).sort(), Object.keys(ordinary).sort());
    assert.deepEqual({ ...data, loginId: "" }, { ...ordinary, loginId: "" });
    assert.equal(data.codeLength, 6);
    assert.match(data.loginId, /^[0-9a-f]{32}$/);
    // Nothing was mailed to it.
    assert.equal(app.mail.sent.length, mailsBefore + 1);
    assert.equal(app.mail.lastMailTo(REVIEWER), undefined);

    const login = await app.verifyOtp(REVIEWER, FIXED[REVIEWER], network(), { loginId: data.loginId });
    const session = assertEnvelope(login, 200);
    assert.equal(session.user.email, REVIEWER);
    const user = await userRow(REVIEWER);
    assert.equal(user.review, 1, "a review account");
    assert.deepEqual(
      (await eventsOfUser(user.id)).map((e) => e.event),
      ["review_code_sent", "review_login"],
    );

    // Again, with the documented request (no login id): a fresh code row, the same digits.
    assertEnvelope(await app.sendOtp(REVIEWER, {}, network()), 200);
    assertEnvelope(await app.verifyOtp(REVIEWER, FIXED[REVIEWER], network()), 200);
    assert.equal(app.mail.lastMailTo(REVIEWER), undefined);
    assert.equal((await userRow(REVIEWER)).review, 1);
    assert.deepEqual(
      (await eventsOfUser(user.id)).map((e) => e.event),
      ["review_code_sent", "review_login", "review_code_sent", "review_login"],
    );
  });

  test("is admitted like any address: a second send from the same network within the cooldown is refused", async () => {
    const net = network();
    assertEnvelope(await app.sendOtp(REVIEWER, {}, net), 200);
    const again = await app.sendOtp(REVIEWER, {}, net);
    assertEnvelope(again, 429);
    assert.equal(again.headers.get("error-code"), "resend_cooldown");
  });

  test("wrong guesses at the fixed code are counted exactly as at a mailed code", async () => {
    // The same guesses at a mailed code and at a fixed one, from one network each.
    const outcome = async (email, codeOf) => {
      const net = network();
      assertEnvelope(await app.sendOtp(email, {}, net), 200);
      const code = codeOf(email);
      const answers = [];
      for (let i = 0; i < 5; i++) {
        const res = await app.verifyOtp(email, wrong(code), net);
        answers.push([res.status, res.headers.get("error-code"), res.body.errors.join()]);
      }
      const networkFailures = (await lastCounter("failures")).count;
      const budget = (await lastCounter("address-failures")).count;
      // Every attempt spent: the right code is refused too.
      const right = await app.verifyOtp(email, code, net);
      answers.push([right.status, right.headers.get("error-code")]);
      const row = await app.db.prepare("SELECT attempts, owner_attempts FROM otp_codes WHERE email = ?").bind(email).first();
      return { answers, row, networkFailures, budget };
    };
    const fixed = await outcome(GUESSED, (email) => FIXED[email]);
    // The code only its mailbox knows.
    const asMailed = await outcome(freshEmail("mailed"), (email) => app.mail.codeFor(email));
    assert.deepEqual(fixed, asMailed);
    assert.equal(fixed.answers[0][1], "wrong_code");
    assert.match(fixed.answers[0][2], /4 attempt\(s\) left/);
    assert.deepEqual(fixed.answers[5], [429, "too_many_attempts"]);
    assert.deepEqual(fixed.row, { attempts: 5, owner_attempts: 0 });
    assert.equal(fixed.budget, 5);
    assert.equal(await count("SELECT count(*) AS n FROM users WHERE email = ?", GUESSED), 0);
  });

  test("guesses with the login id spend the owner budget, then a send needs a challenge, as for anyone", async () => {
    const { loginId } = assertEnvelope(await app.sendOtp(OWNER_GUESSED, {}, network()), 200);
    for (let i = 0; i < 3; i++) {
      const res = await app.verifyOtp(OWNER_GUESSED, wrong(FIXED[OWNER_GUESSED]), network(), { loginId });
      assertEnvelope(res, 400);
    }
    assert.equal((await lastCounter("address-owner-failures")).count, 3);
    // The owner budget is spent: the fixed code no longer takes attempts with the login id…
    const spent = await app.verifyOtp(OWNER_GUESSED, FIXED[OWNER_GUESSED], network(), { loginId });
    assertEnvelope(spent, 429);
    assert.equal(spent.headers.get("error-code"), "too_many_attempts");
    // …and a send needs a solved challenge.
    const asked = await app.sendOtp(OWNER_GUESSED, { loginId }, network());
    assertEnvelope(asked, 403);
    assert.equal(asked.headers.get("error-code"), "challenge_required");
    const solved = await app.sendOtp(OWNER_GUESSED, { loginId, turnstileToken: SOLVED_TOKEN }, network());
    // Solved, the fixed code is stored as it is: six digits, not a challenged code
    // (which the owner budget would not bound), and still nothing is mailed.
    assert.equal(assertEnvelope(solved, 200).codeLength, 6);
    const newest = await app.db
      .prepare("SELECT review, challenged FROM otp_codes WHERE email = ? ORDER BY issued_at DESC LIMIT 1")
      .bind(OWNER_GUESSED)
      .first();
    assert.deepEqual(newest, { review: 1, challenged: 0 });
    assert.equal(app.mail.lastMailTo(OWNER_GUESSED), undefined);
  });
});

describe("a real account's address", () => {
  test("listed in REVIEW_LOGINS, still gets a mailed code, and the fixed code does not sign it in", async () => {
    // The account is real: it signed in with a mailed code before it was listed.
    await app.session(REAL);
    assert.equal((await userRow(REAL)).review, 0);
    await app.restart({ vars, secrets: secrets(listing(REVIEWER, GUESSED, OWNER_GUESSED, REAL)) });
    assertEnvelope(await app.health(), 200);

    const mailsBefore = app.mail.sent.length;
    const net = network();
    const { loginId } = assertEnvelope(await app.sendOtp(REAL, {}, net), 200);
    assert.equal(app.mail.sent.length, mailsBefore + 1, "a code was mailed");
    const mailed = app.mail.codeFor(REAL);
    assert.equal(
      await count("SELECT count(*) AS n FROM otp_codes WHERE email = ? AND review = 1", REAL),
      0,
      "no fixed code stored",
    );
    if (mailed !== FIXED[REAL]) {
      const fixed = await app.verifyOtp(REAL, FIXED[REAL], net, { loginId });
      assertEnvelope(fixed, 400);
      assert.equal(fixed.headers.get("error-code"), "wrong_code");
    }
    assertEnvelope(await app.verifyOtp(REAL, mailed, net, { loginId }), 200);
    const user = await userRow(REAL);
    assert.equal(user.review, 0);
    const events = await eventsOfUser(user.id);
    assert.ok(!events.some((e) => e.event.startsWith("review_")), JSON.stringify(events));
    // The operator can see that a listed address was refused.
    assert.ok(events.some((e) => e.event === "code_sent" && /review address of a real account/.test(e.detail)));
    // The review addresses still are.
    assertEnvelope(await app.sendOtp(REVIEWER, {}, network()), 200);
    assertEnvelope(await app.verifyOtp(REVIEWER, FIXED[REVIEWER], network()), 200);
  });
});

describe("a review account made real", () => {
  test("ends the reviewers' sessions when a mailed code signs in", async () => {
    await app.restart({ vars, secrets: secrets(listing(REVIEWER, GUESSED, OWNER_GUESSED, CLAIMED)) });
    assertEnvelope(await app.sendOtp(CLAIMED, {}, network()), 200);
    const reviewer = assertEnvelope(await app.verifyOtp(CLAIMED, FIXED[CLAIMED], network()), 200);
    assertEnvelope(await app.authed("GET", "/api/v1/users/me", reviewer.accessToken), 200);
    assert.equal((await userRow(CLAIMED)).review, 1);

    // The review is over: the operator takes the address off the list, and
    // its mailbox's owner signs in with a mailed code.
    await app.restart({ vars, secrets: secrets(LISTED) });
    const net = network();
    const { loginId } = assertEnvelope(await app.sendOtp(CLAIMED, {}, net), 200);
    const owner = assertEnvelope(await app.verifyOtp(CLAIMED, app.mail.codeFor(CLAIMED), net, { loginId }), 200);
    assert.equal((await userRow(CLAIMED)).review, 0);

    const stale = await app.authed("GET", "/api/v1/users/me", reviewer.accessToken);
    assertEnvelope(stale, 401);
    const refreshed = await app.post("/api/v1/auth/refresh-token", { refreshToken: reviewer.refreshToken });
    assertEnvelope(refreshed, 401);
    assertEnvelope(await app.authed("GET", "/api/v1/users/me", owner.accessToken), 200);
    assert.equal(
      await count("SELECT count(*) AS n FROM sessions WHERE revoked_reason = 'review_ended'"),
      1,
      "the reviewer's session, and only it",
    );
  });
});

describe("the mail ceiling", () => {
  test("is not taken by a review send, which mails nothing", async () => {
    const limit = (n) => ({ simple: { limit: n, period: 60 } });
    const capped = await spawnApp({
      vars,
      secrets: secrets(listing(REVIEWER)),
      ratelimits: {
        IP_SEND_LIMITER: limit(1000),
        IP_VERIFY_LIMITER: limit(1000),
        BLOCK_SEND_LIMITER: limit(1000),
        BLOCK_VERIFY_LIMITER: limit(1000),
        MAIL_CEILING: limit(1),
      },
    });
    try {
      await withinOneLimiterWindow();
      assertEnvelope(await capped.sendOtp(freshEmail(), {}, network()), 200);
      const ceiling = await capped.sendOtp(freshEmail(), {}, network());
      assertEnvelope(ceiling, 429);
      assert.equal(ceiling.headers.get("error-code"), "mail_ceiling");
      assertEnvelope(await capped.sendOtp(REVIEWER, {}, network()), 200);
      assertEnvelope(await capped.verifyOtp(REVIEWER, FIXED[REVIEWER], network()), 200);
      assert.equal(capped.mail.sent.length, 1);
    } finally {
      await capped.dispose();
    }
  });
});

describe("the configuration", () => {
  test("a guessable or wrong-length fixed code is a configuration error naming REVIEW_LOGINS, never a value", async () => {
    for (const [code, problem] of [
      ["123456", "Configuration: REVIEW_LOGINS entry 1: the code is guessable (a run of digits); draw a random one"],
      ["121212", "Configuration: REVIEW_LOGINS entry 1: the code is guessable (a repeated pattern); draw a random one"],
      ["48291", "Configuration: REVIEW_LOGINS entry 1: the code must be exactly 6 digits (OTP_LENGTH)"],
      ["4829163", "Configuration: REVIEW_LOGINS entry 1: the code must be exactly 6 digits (OTP_LENGTH)"],
    ]) {
      await app.restart({ vars, secrets: secrets(`${REVIEWER}:${code}`) });
      const health = await app.health();
      assertEnvelope(health, 503);
      assert.deepEqual(health.problems, [problem], code);
      assert.doesNotMatch(health.text, /REVIEW_LOGINS/, "the public answer names no setting");
      // Every endpoint that needs the configuration refuses.
      assertEnvelope(await app.sendOtp(REVIEWER, {}, network()), 500);
    }
    // Unset or blank: no review address, nothing else changes.
    for (const blank of ["", " "]) {
      await app.restart({ vars, secrets: secrets(blank) });
      assertEnvelope(await app.health(), 200);
      assertEnvelope(await app.sendOtp(REVIEWER, {}, network()), 200);
      assert.match(app.mail.codeFor(REVIEWER), /^\d{6}$/, "mailed, as to anyone");
    }
  });
});
