// Keys per purpose (docs/security.md, "Keys"): rotating the
// hash secret does not let a deleted address sign up again, as long as the
// previous secret stays listed; nothing else keeps using it.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { freshEmail, spawnApp, TEST_SECRETS } from "../../harness/app.mjs";
import { assertEnvelope } from "../../harness/envelope.mjs";

let app;
before(async () => (app = await spawnApp()));
after(() => app?.dispose());

async function deleteAccount(email) {
  const s = await app.session(email);
  assertEnvelope(await app.scheduleDeletion(s), 200);
  await app.makeDeletionDue(email);
  await app.runScheduled();
  assertEnvelope(await app.login(email), 409);
}

test("after a rotation of OTP_HASH_KEY, deleted addresses stay deleted; counters and audit hashes start afresh", async () => {
  const deleted = freshEmail("deleted");
  await deleteAccount(deleted);
  const { results: before } = await app.db.prepare("SELECT key FROM rate_limits").all();
  const oldKey = TEST_SECRETS.OTP_HASH_KEY;
  const newKey = randomBytes(32).toString("base64url");

  // Rotated, the previous secret listed: the marker is still recognised.
  await app.restart({ secrets: { ...TEST_SECRETS, OTP_HASH_KEY: newKey, OTP_HASH_KEY_PREVIOUS: oldKey } });
  assertEnvelope(await app.login(deleted), 409);
  const count = await app.db.prepare("SELECT count(*) AS n FROM users WHERE email = ?").bind(deleted).first();
  assert.equal(count.n, 0, "no new account for the deleted address");
  // Everything else is keyed anew: a new address's counters share no key with before.
  const other = freshEmail();
  assertEnvelope(await app.sendOtp(other), 200);
  const { results: after } = await app.db.prepare("SELECT key FROM rate_limits").all();
  const fresh = after.map((r) => r.key).filter((k) => !before.some((b) => b.key === k));
  assert.ok(fresh.length > 0);

  // Without the previous secret, the old marker would be lost: this is what
  // the rotation step in docs/operations.md prevents.
  await app.restart({ secrets: { ...TEST_SECRETS, OTP_HASH_KEY: newKey } });
  assertEnvelope(await app.login(deleted), 200);
});
