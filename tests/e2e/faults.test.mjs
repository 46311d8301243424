// Failures that are ours, not the caller's: still envelopes, nothing half written.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { freshEmail, spawnApp, TEST_SECRETS } from "../../harness/app.mjs";
import { assertEnvelope } from "../../harness/envelope.mjs";

let app;
// The test build has fault injection compiled in (scripts/test.sh); a release
// build has no /__faults routes at all, which .ci/run checks on the bundle.
before(async () => (app = await spawnApp()));
after(() => app?.dispose());

test("a panic answers a 500 envelope and the next request is served", async () => {
  const res = await app.post("/__faults/panic", {});
  assertEnvelope(res, 500);
  assert.deepEqual(res.body.errors, ["Internal server error"]);
  assert.ok(app.logs.join("").includes("deliberate panic"), "the panic message is logged");
  assertEnvelope(await app.get("/health"), 200);
  assertEnvelope(await app.login(freshEmail()), 200);
});

test("the wasm memory probe answers its size in the envelope", async () => {
  const res = await app.get("/__faults/memory");
  assertEnvelope(res, 200);
  const bytes = res.body.data.wasmMemoryBytes;
  assert.ok(Number.isInteger(bytes) && bytes > 0 && bytes % 65_536 === 0, `wasmMemoryBytes ${bytes}`);
});

test("injected storage and mail failures answer envelopes, write nothing, and stop when cleared", async () => {
  const email = freshEmail();
  const code = await app.requestCode(email);
  assertEnvelope(await app.post("/__faults", { d1: 1 }), 200);
  const failed = await app.verifyOtp(email, code);
  assertEnvelope(failed, 500);
  assert.deepEqual(failed.body.errors, ["Internal server error"]);
  assertEnvelope(await app.post("/__faults", { d1: 0, kv: 1 }), 200);
  assertEnvelope(await app.verifyOtp(email, code), 500);
  assertEnvelope(await app.post("/__faults", { mail: 1 }), 200);
  const unsent = await app.sendOtp(freshEmail());
  assertEnvelope(unsent, 503);
  assert.deepEqual(unsent.body.errors, ["email provider is unavailable"]);
  assertEnvelope(await app.post("/__faults", {}), 200);
  // Nothing was written by the failed attempts: the code still logs in once.
  assertEnvelope(await app.verifyOtp(email, code), 200);
  const { count } = await app.db
    .prepare("SELECT COUNT(*) AS count FROM users WHERE email = ?")
    .bind(email)
    .first();
  assert.equal(count, 1);
});

test("an unexpected storage error is a 500 envelope that leaks no cause", async () => {
  const broken = await spawnApp();
  try {
    const email = freshEmail();
    const code = await broken.requestCode(email);
    await broken.db.prepare("DROP TABLE sessions").run();
    const res = await broken.verifyOtp(email, code);
    assertEnvelope(res, 500);
    assert.deepEqual(res.body.errors, ["Internal server error"]);
    assert.ok(!res.text.includes("sessions"));
    assert.ok(broken.logs.join("").includes("no such table"), "the cause is logged");
    // The batch is one transaction: the failed login wrote no user and kept the code.
    const user = await broken.db.prepare("SELECT 1 FROM users WHERE email = ?").bind(email).first();
    assert.equal(user, null);
    const ledger = await broken.db.prepare("SELECT consumed_by FROM otp_codes WHERE email = ?").bind(email).first();
    assert.equal(ledger.consumed_by, null);
  } finally {
    await broken.dispose();
  }
});

test("a missing KV binding: health is 503 naming KV, send is 500 and mails nothing", async () => {
  const broken = await spawnApp({ without: ["OTP_CODES"] });
  try {
    const health = await broken.get("/health");
    assertEnvelope(health, 503);
    assert.deepEqual(health.body.errors, ["KV is unavailable"]);
    assertEnvelope(await broken.sendOtp(freshEmail()), 500);
    assert.equal(broken.mail.sent.length, 0);
    assert.ok(broken.logs.join("").includes("OTP_CODES"), "the log names the binding");
  } finally {
    await broken.dispose();
  }
});

test("a missing D1 binding: health is 503 naming D1, verify is 500", async () => {
  const broken = await spawnApp({ without: ["DB"] });
  try {
    const health = await broken.get("/health");
    assertEnvelope(health, 503);
    assert.deepEqual(health.body.errors, ["D1 is unavailable"]);
    assertEnvelope(await broken.sendOtp(freshEmail()), 500);
    assert.equal(broken.mail.sent.length, 0);
    assertEnvelope(await broken.verifyOtp(freshEmail(), "123456"), 500);
  } finally {
    await broken.dispose();
  }
});

test("an email provider that does not answer times out as 503 and leaves no usable code", async () => {
  const slow = await spawnApp({ vars: { EMAIL_TIMEOUT_MS: "300" } });
  try {
    slow.mail.failWith("hang");
    const email = freshEmail();
    const started = Date.now();
    const res = await slow.sendOtp(email);
    assertEnvelope(res, 503);
    assert.ok(Date.now() - started < 5000, "answered promptly");
    assert.equal(await slow.kv.get(`otp:${email}`), null);
    // The code was stored unsent when the send was admitted, and never made usable.
    const ledger = await slow.db
      .prepare("SELECT count(*) AS n FROM otp_codes WHERE email = ? AND consumed_by IS NULL")
      .bind(email)
      .first();
    assert.equal(ledger.n, 0);
    slow.mail.failWith(null);
    assertEnvelope(await slow.login(freshEmail()), 200);
  } finally {
    await slow.dispose();
  }
});

test("a malformed signing key is a 500 envelope naming the setting in the log only", async () => {
  const broken = await spawnApp({ secrets: { ...TEST_SECRETS, JWT_PRIVATE_KEY: "not-a-key" } });
  try {
    const res = await broken.sendOtp(freshEmail());
    assertEnvelope(res, 500);
    assert.ok(!res.text.includes("JWT_PRIVATE_KEY"));
    assert.ok(broken.logs.join("").includes("JWT_PRIVATE_KEY"));
  } finally {
    await broken.dispose();
  }
});

// A code becomes usable only once its mail was delivered: a failed send's code
// stays `unsent` whatever happens to the withdrawal after it (which gives back
// the cooldown and the KV copy, and may itself fail).
test("a failed mail's code is never made usable, so a failed withdrawal cannot leave it usable", async () => {
  const email = freshEmail();
  const codesSent = async () =>
    (await app.db.prepare("SELECT count(*) AS n FROM audit_events WHERE event = 'code_sent'").first()).n;
  const sentBefore = await codesSent();
  app.mail.failWith(500);
  try {
    assertEnvelope(await app.sendOtp(email), 502);
  } finally {
    app.mail.failWith(null);
  }
  const code = app.mail.codeFor(email); // the provider saw it, then refused it
  const rows = await app.db.prepare("SELECT consumed_by FROM otp_codes WHERE email = ?").bind(email).all();
  assert.deepEqual(rows.results, [{ consumed_by: "unsent" }]);
  assertEnvelope(await app.verifyOtp(email, code), 404);
  assert.equal(await codesSent(), sentBefore, "a send whose mail failed is not audited as sent");
  // A delivered send is usable at once, and audited in the batch that activates it.
  const delivered = await app.requestCode(email);
  assert.equal(await codesSent(), sentBefore + 1);
  assertEnvelope(await app.verifyOtp(email, delivered), 200);
});
