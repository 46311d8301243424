// Failures that are ours, not the caller's: still envelopes, nothing half written.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { freshEmail, spawnApp } from "./support/app.mjs";
import { assertEnvelope } from "./support/envelope.mjs";

let app;
before(async () => (app = await spawnApp({ vars: { FAULT_INJECTION: "1" } })));
after(() => app?.dispose());

test("a panic answers a 500 envelope and the next request is served", async () => {
  const res = await app.post("/__faults/panic", {});
  assertEnvelope(res, 500);
  assert.deepEqual(res.body.errors, ["Internal server error"]);
  assert.ok(app.logs.join("").includes("deliberate panic"), "the panic message is logged");
  assertEnvelope(await app.get("/health"), 200);
  assertEnvelope(await app.login(freshEmail()), 200);
});

test("the fault route does not exist unless enabled", async () => {
  const plain = await spawnApp();
  try {
    assertEnvelope(await plain.post("/__faults/panic", {}), 404);
  } finally {
    await plain.dispose();
  }
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
    const ledger = await broken.db.prepare("SELECT consumed_by FROM otp_ledger WHERE email = ?").bind(email).first();
    assert.equal(ledger.consumed_by, null);
  } finally {
    await broken.dispose();
  }
});
