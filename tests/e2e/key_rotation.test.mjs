// A whole signing-key rotation, as docs/operations.md and `npm run keys` describe it,
// on one worker redeployed with new settings over the same KV and D1:
//   0. key A signs;
//   1. key B is published as the next key (A also listed as previous);
//   2. B signs: A's tokens keep working here and for stock verifiers, and a
//      key set cached before the switch already verifies B's tokens;
//   3. A is retired (its tokens long expired): its tokens are refused.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, test } from "node:test";
import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { TEST_SECRETS, spawnApp } from "../../harness/app.mjs";
import { assertEnvelope } from "../../harness/envelope.mjs";
import { ROOT } from "../../harness/worker_options.mjs";

/** A key pair as `npm run keys` prints it. */
function newKey() {
  const out = execFileSync(process.execPath, [`${ROOT}scripts/keys.mjs`], { encoding: "utf8" });
  const value = (name) => out.match(new RegExp(`^\\s+${name}\\s+(\\S+)$`, "m"))[1];
  return { privateKey: value("JWT_PRIVATE_KEY"), publicKey: value("JWT_NEXT_PUBLIC_KEY"), kid: value("kid") };
}

const A = newKey();
const B = newKey();
const signedBy = (key) => ({ ...TEST_SECRETS, JWT_PRIVATE_KEY: key.privateKey });

let app;
before(async () => (app = await spawnApp({ secrets: signedBy(A) })));
after(() => app?.dispose());

async function keySet() {
  const res = await app.get("/.well-known/jwks.json");
  assert.equal(res.status, 200);
  return res.body;
}
const kids = (set) => set.keys.map((k) => k.kid);
const kidOf = (token) => decodeProtectedHeader(token).kid;
const verifyAccess = (token, keys) =>
  jwtVerify(token, keys, { typ: "at+jwt", issuer: "http://127.0.0.1:8787", audience: "allmine" });

test("a rotation never refuses a live token and ends with only the new key", async () => {
  // 0. A signs alone.
  assert.notEqual(A.kid, B.kid);
  assert.deepEqual(kids(await keySet()), [A.kid], "the kid npm run keys printed is the worker's");
  const old = await app.session();
  assert.equal(kidOf(old.accessToken), A.kid);

  // 1. Publish B ahead of its use.
  const published = { JWT_NEXT_PUBLIC_KEY: B.publicKey, JWT_PREVIOUS_PUBLIC_KEYS: A.publicKey };
  await app.restart({ vars: published, secrets: signedBy(A) });
  const cachedBeforeSwitch = await keySet();
  assert.deepEqual(kids(cachedBeforeSwitch), [A.kid, B.kid], "signing key first, each key once");
  assert.equal(cachedBeforeSwitch.keys[1].x, B.publicKey);
  assert.equal(kidOf((await app.session()).accessToken), A.kid, "B does not sign yet");
  assertEnvelope(await app.authed("GET", "/api/v1/users/me", old.accessToken), 200);

  // 2. Switch: only JWT_PRIVATE_KEY changes (one `wrangler secret put`).
  await app.restart({ vars: published, secrets: signedBy(B) });
  assert.deepEqual(kids(await keySet()), [B.kid, A.kid]);
  const fresh = await app.session();
  assert.equal(kidOf(fresh.accessToken), B.kid);
  assert.equal(kidOf(fresh.refreshToken), B.kid);
  // A verifier still holding the key set from before the switch accepts B's tokens.
  await verifyAccess(fresh.accessToken, createLocalJWKSet(cachedBeforeSwitch));
  // A's tokens keep working, here and for a verifier reading the current key set.
  const current = createRemoteJWKSet(new URL("/.well-known/jwks.json", app.url));
  assertEnvelope(await app.authed("GET", "/api/v1/users/me", old.accessToken), 200);
  await verifyAccess(old.accessToken, current);
  await verifyAccess(fresh.accessToken, current);
  // A's refresh token still refreshes, and the new pair is B's.
  const refreshed = assertEnvelope(
    await app.post("/api/v1/auth/refresh-token", { refreshToken: old.refreshToken }), 200);
  assert.equal(kidOf(refreshed.accessToken), B.kid);
  assert.equal(kidOf(refreshed.refreshToken), B.kid);

  // 3. Retire A once its last tokens have expired (30 days on), and tidy up.
  await app.restart({ vars: { JWT_NEXT_PUBLIC_KEY: "", JWT_PREVIOUS_PUBLIC_KEYS: "" }, secrets: signedBy(B) });
  assert.deepEqual(kids(await keySet()), [B.kid]);
  assertEnvelope(await app.authed("GET", "/api/v1/users/me", old.accessToken), 401);
  await assert.rejects(
    verifyAccess(old.accessToken, createLocalJWKSet(await keySet())),
    (err) => err.code === "ERR_JWKS_NO_MATCHING_KEY",
  );
  assertEnvelope(await app.authed("GET", "/api/v1/users/me", refreshed.accessToken), 200);
  assertEnvelope(await app.authed("GET", "/api/v1/users/me", fresh.accessToken), 200);
});
