// POST /api/v1/auth/send-otp-email
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { freshEmail, spawnApp } from "../../harness/app.mjs";
import { assertEnvelope } from "../../harness/envelope.mjs";

let app;
before(async () => (app = await spawnApp()));
after(() => app?.dispose());

describe("sending a code", () => {
  test("mails a 6-digit code through Resend's API and says how long it lives", async () => {
    const email = freshEmail();
    const res = await app.sendOtp(`  ${email.toUpperCase()} `);
    const data = assertEnvelope(res, 200);
    const { loginId, ...rest } = data;
    assert.deepEqual(rest, { expiresIn: 300, codeLength: 6, resendAfter: 0 });
    assert.match(loginId, /^[0-9a-f]{32}$/, "an opaque login id for the verify");

    const mail = app.mail.sent.at(-1);
    assert.deepEqual(mail.to, [email], "address is trimmed and lower-cased");
    assert.equal(mail.from, "Allmine <login@allmine.local>");
    assert.equal(mail.headers["content-type"], "application/json");
    const code = app.mail.codeFor(email);
    assert.match(code, /^\d{6}$/);
    assert.ok(mail.html.includes(`>${code}<`), "the code stands alone in the HTML");
    assert.equal(mail.subject, "Your Allmine sign-in code");
    assert.ok(!mail.subject.includes(code), "lock screens and previews never show the code");
  });

  test("says when, from where and from which device, never the address or the raw User-Agent", async () => {
    const email = freshEmail();
    const ua =
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
    const ip = "203.0.113.77";
    await app.requestCode(email, {}, { "user-agent": ua, "cf-connecting-ip": ip });
    const mail = app.mail.sent.at(-1);
    // The place is Miniflare's stand-in request.cf here (Austin, US); the
    // EMAIL_PRODUCT_NAME test below sets its own.
    assert.match(mail.text, /requested at \d{4}-\d\d-\d\d \d\d:\d\d UTC from Chrome on macOS in [^.\n]+, [A-Z]{2}\./);
    assert.match(mail.html, /from Chrome on macOS in [^.<]+, [A-Z]{2}\./);
    assert.match(mail.text, /Not you\?/);
    for (const part of [mail.text, mail.html, mail.subject]) {
      assert.ok(!part.includes("Mozilla"), "no raw User-Agent");
      assert.ok(!part.includes(ip), "no IP address");
    }
  });

  test("calls the service by EMAIL_PRODUCT_NAME, escaped in the HTML; the place is the edge's", async () => {
    const named = await spawnApp({ vars: { EMAIL_PRODUCT_NAME: "Acme <ID>" }, cf: { country: "TR", city: "Istanbul" } });
    try {
      const email = freshEmail();
      await named.requestCode(email, {}, { "user-agent": "curl/8.5.0" });
      const mail = named.mail.sent.at(-1);
      assert.equal(mail.subject, "Your Acme <ID> sign-in code");
      assert.match(mail.text, /^Your Acme <ID> sign-in code is:$/m);
      assert.match(mail.html, /Your Acme &lt;ID&gt; sign-in code is:/);
      assert.ok(!mail.html.includes("<ID>"));
      assert.match(mail.text, /from an unknown device in Istanbul, TR\./);
    } finally {
      await named.dispose();
    }
  });

  test("stores only a keyed hash of the code in KV, with an expiry", async () => {
    const email = freshEmail();
    const code = await app.requestCode(email);
    const { value, metadata } = await app.kv.getWithMetadata(`otp:${email}`);
    assert.ok(value, "a record exists under the address");
    assert.ok(!value.includes(code), "the plain code is not stored");
    const record = JSON.parse(value);
    assert.equal(record.codes.length, 1);
    assert.match(record.codes[0].hash, /^[0-9a-f]{64}$/);
    assert.equal(metadata, null);
    const listed = await app.kv.list({ prefix: `otp:${email}` });
    const expiration = listed.keys[0].expiration;
    const ttl = expiration - Date.now() / 1000;
    assert.ok(ttl > 250 && ttl <= 301, `KV expiry about 300 s away, got ${ttl}`);
  });

  // Mail can be slow: a user who asked twice may type the first code. The code
  // a resend replaces stays usable for its remaining life; one more resend
  // retires it; a login retires every other code of the address.
  test("after a resend the previous code still works, once, and the newer one is retired by the login", async () => {
    const email = freshEmail();
    const first = await app.requestCode(email);
    let second = await app.requestCode(email);
    while (second === first) second = await app.requestCode(email);
    const record = JSON.parse(await app.kv.get(`otp:${email}`));
    assert.equal(record.codes.length, 2, "KV holds the new code and the one it replaced");
    assertEnvelope(await app.verifyOtp(email, first), 200);
    assertEnvelope(await app.verifyOtp(email, second), 404);
  });

  test("a second resend retires the first code; the two newest work", async () => {
    const email = freshEmail();
    const codes = [await app.requestCode(email)];
    while (codes.length < 3) {
      const next = await app.requestCode(email);
      if (!codes.includes(next)) codes.push(next);
    }
    const retired = await app.verifyOtp(email, codes[0]);
    assertEnvelope(retired, 400, "checked as a wrong code against the two usable ones");
    assertEnvelope(await app.verifyOtp(email, codes[1]), 200);
  });

  test("answers identically whether or not an account exists", async () => {
    const known = freshEmail("known");
    assertEnvelope(await app.login(known), 200);
    const a = await app.sendOtp(known);
    const b = await app.sendOtp(freshEmail("unknown"));
    assert.equal(a.status, b.status);
    // Each send has its own login id; the rest is the same.
    const withoutId = ({ loginId, ...rest }) => rest;
    assert.deepEqual(withoutId(a.body.data), withoutId(b.body.data));
    assert.deepEqual(Object.keys(a.body), Object.keys(b.body));
  });

  test("writes the email in Turkish when asked", async () => {
    const email = freshEmail();
    await app.requestCode(email, { locale: "tr-TR" });
    const mail = app.mail.sent.at(-1);
    assert.equal(mail.subject, "Allmine giriş kodunuz");
    assert.match(mail.text, /dakika/);
    assert.match(mail.html, /<html lang="tr">/);
  });

  test("rejects bad addresses with a clear 400 and sends nothing", async () => {
    const before = app.mail.sent.length;
    const cases = [
      [{}, /email is required/],
      [{ email: 42 }, /email must be a string/],
      [{ email: "" }, /email/],
      [{ email: "not-an-address" }, /email/],
      [{ email: "a@b" }, /email has an invalid domain/],
      [{ email: "jo\u0000hn@example.com" }, /ASCII/],
      [{ email: "jоhn@example.com" }, /ASCII/],
      [{ email: `${"a".repeat(250)}@example.com` }, /254/],
      [{ email: "a@b.co", locale: 5 }, /locale must be a string/],
    ];
    for (const [body, message] of cases) {
      const res = await app.post("/api/v1/auth/send-otp-email", body);
      assertEnvelope(res, 400);
      assert.match(res.body.errors.join(" "), message, JSON.stringify(body));
    }
    assert.equal(app.mail.sent.length, before);
  });

  test("a failing mail provider answers 502 and leaves no usable code", async () => {
    const email = freshEmail();
    app.mail.failWith(500);
    try {
      const res = await app.sendOtp(email);
      assertEnvelope(res, 502);
      assert.deepEqual(res.body.errors, ["The email could not be sent; try again later"]);
    } finally {
      app.mail.failWith(null);
    }
    const code = app.mail.codeFor(email); // the provider saw it, the user never got it
    assertEnvelope(await app.verifyOtp(email, code), 404);
    assert.equal(await app.kv.get(`otp:${email}`), null);
  });

  test("an unreachable mail provider answers 503", async () => {
    const unreachable = await spawnApp({ vars: { EMAIL_API_URL: "http://127.0.0.1:9" } });
    try {
      const email = freshEmail();
      assertEnvelope(await unreachable.sendOtp(email), 503);
      assert.equal(await unreachable.kv.get(`otp:${email}`), null);
    } finally {
      await unreachable.dispose();
    }
  });

  test("OTP_LENGTH decides the code length", async () => {
    const short = await spawnApp({ vars: { OTP_LENGTH: "4" } });
    try {
      const email = freshEmail();
      const data = assertEnvelope(await short.sendOtp(email), 200);
      assert.equal(data.codeLength, 4);
      const code = short.mail.codeFor(email);
      assert.match(code, /^\d{4}$/);
      assertEnvelope(await short.verifyOtp(email, code), 200);
    } finally {
      await short.dispose();
    }
  });

  test("logs never contain the code or the full address", async () => {
    const email = freshEmail("private");
    const code = await app.requestCode(email);
    await app.verifyOtp(email, code);
    const logs = app.logs.join("");
    assert.ok(logs.includes('"event":"request"'), "request lines are logged");
    assert.ok(!logs.includes(code));
    assert.ok(!logs.includes(email));
  });
});
