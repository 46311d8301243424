// A whole signing-key rotation, as docs/operations.md and `npm run keys` describe it,
// on one worker redeployed with new settings over the same KV and D1:
//   0. key A signs;
//   1. key B is published as the next key (A also listed as previous);
//   2. B signs: A's tokens keep working here and for stock verifiers, and a
//      key set cached before the switch already verifies B's tokens;
//   3. A is retired (its tokens long expired): its tokens are refused.
// Then the same from an EdDSA key to an ES256 one (JWT_ALGORITHM), checked as
// a gateway that only takes ES256 (AWS API Gateway) would check it.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, test } from "node:test";
import { calculateJwkThumbprint, createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { TEST_SECRETS, spawnApp } from "../../harness/app.mjs";
import { assertEnvelope } from "../../harness/envelope.mjs";
import { ROOT } from "../../harness/worker_options.mjs";

/** A key pair as `npm run keys [-- --alg ES256]` prints it. */
function newKey(alg = "EdDSA") {
  const out = execFileSync(process.execPath, [`${ROOT}scripts/keys.mjs`, "--alg", alg], { encoding: "utf8" });
  const value = (name) => out.match(new RegExp(`^\\s+${name}\\s+(\\S+)$`, "m"))[1];
  const secret = alg === "ES256" ? "JWT_ES256_PRIVATE_KEY" : "JWT_PRIVATE_KEY";
  return { secret, privateKey: value(secret), publicKey: value("JWT_NEXT_PUBLIC_KEY"), kid: value("kid") };
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
const verifyAccess = (token, keys, algorithms) =>
  jwtVerify(token, keys, { typ: "at+jwt", issuer: "http://127.0.0.1:8787", audience: "allmine", algorithms });
const algOf = (token) => decodeProtectedHeader(token).alg;
async function discoveredAlgorithms() {
  const res = await app.get("/.well-known/openid-configuration");
  assert.equal(res.status, 200);
  return res.body.id_token_signing_alg_values_supported;
}

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

test("a switch from EdDSA to ES256 is a rotation: published first, both verify, then EdDSA retired", async () => {
  const ed = newKey();
  const ec = newKey("ES256");
  // A verifier reading the key set being served (each restart moves the port).
  const current = () => createRemoteJWKSet(new URL("/.well-known/jwks.json", app.url));
  // As AWS API Gateway (or Kong, or API Shield) would: ES256 only.
  const asGateway = (token, keys) => verifyAccess(token, keys, ["ES256"]);
  // Both secrets are set throughout; JWT_ALGORITHM picks the one that signs.
  const secrets = { ...TEST_SECRETS, JWT_PRIVATE_KEY: ed.privateKey, JWT_ES256_PRIVATE_KEY: ec.privateKey };

  // 0. EdDSA signs alone (the ES256 secret waits unused, unpublished).
  await app.restart({ secrets });
  assert.deepEqual(kids(await keySet()), [ed.kid]);
  assert.deepEqual(await discoveredAlgorithms(), ["EdDSA"]);
  const old = await app.session();
  assert.equal(algOf(old.accessToken), "EdDSA");
  await verifyAccess(old.accessToken, current(), ["EdDSA"]);

  // 1. Publish the P-256 key ahead of its use: an EC JWK, kid its RFC 7638 thumbprint.
  const published = { JWT_NEXT_PUBLIC_KEY: ec.publicKey, JWT_PREVIOUS_PUBLIC_KEYS: ed.publicKey };
  await app.restart({ vars: published, secrets });
  const cachedBeforeSwitch = await keySet();
  assert.deepEqual(kids(cachedBeforeSwitch), [ed.kid, ec.kid]);
  const jwk = cachedBeforeSwitch.keys[1];
  assert.deepEqual(Object.keys(jwk).sort(), ["alg", "crv", "kid", "kty", "use", "x", "y"]);
  assert.deepEqual({ kty: jwk.kty, crv: jwk.crv, alg: jwk.alg, use: jwk.use }, { kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
  assert.equal(await calculateJwkThumbprint(jwk), ec.kid, "the kid npm run keys printed is the worker's");
  assert.equal(cachedBeforeSwitch.keys[0].kty, "OKP");
  assert.deepEqual(await discoveredAlgorithms(), ["EdDSA", "ES256"]);
  assert.equal(algOf((await app.session()).accessToken), "EdDSA", "ES256 does not sign yet");

  // 2. Switch: one deploy of JWT_ALGORITHM (the secret was already there).
  await app.restart({ vars: { ...published, JWT_ALGORITHM: "ES256" }, secrets });
  assert.deepEqual(kids(await keySet()), [ec.kid, ed.kid]);
  assert.deepEqual(await discoveredAlgorithms(), ["ES256", "EdDSA"]);
  const fresh = await app.session();
  assert.deepEqual([algOf(fresh.accessToken), kidOf(fresh.accessToken)], ["ES256", ec.kid]);
  assert.deepEqual([algOf(fresh.refreshToken), kidOf(fresh.refreshToken)], ["ES256", ec.kid]);
  // The ES256-only gateway accepts the new tokens, with the key set cached
  // before the switch as with the current one...
  await asGateway(fresh.accessToken, createLocalJWKSet(cachedBeforeSwitch));
  const { payload } = await asGateway(fresh.accessToken, current());
  assert.equal(payload.scope, "allmine");
  // ...and, pinned to ES256, refuses the EdDSA ones, which a verifier taking
  // both (and the service itself) still accepts during the overlap.
  await assert.rejects(asGateway(old.accessToken, current()), (err) => err.code === "ERR_JOSE_ALG_NOT_ALLOWED");
  await verifyAccess(old.accessToken, current(), ["EdDSA", "ES256"]);
  await verifyAccess(fresh.accessToken, current(), ["EdDSA", "ES256"]);
  assertEnvelope(await app.authed("GET", "/api/v1/users/me", old.accessToken), 200);
  assertEnvelope(await app.authed("GET", "/api/v1/users/me", fresh.accessToken), 200);
  // The EdDSA refresh token still refreshes, into an ES256 pair.
  const refreshed = assertEnvelope(
    await app.post("/api/v1/auth/refresh-token", { refreshToken: old.refreshToken }), 200);
  assert.deepEqual([algOf(refreshed.accessToken), kidOf(refreshed.refreshToken)], ["ES256", ec.kid]);
  await asGateway(refreshed.accessToken, current());

  // 3. Retire the EdDSA key and tidy up: only the EC key, only ES256.
  await app.restart({ vars: { JWT_ALGORITHM: "ES256", JWT_NEXT_PUBLIC_KEY: "", JWT_PREVIOUS_PUBLIC_KEYS: "" }, secrets });
  assert.deepEqual(kids(await keySet()), [ec.kid]);
  assert.deepEqual(await discoveredAlgorithms(), ["ES256"]);
  assertEnvelope(await app.authed("GET", "/api/v1/users/me", old.accessToken), 401);
  await assert.rejects(
    verifyAccess(old.accessToken, createLocalJWKSet(await keySet()), ["EdDSA", "ES256"]),
    (err) => err.code === "ERR_JWKS_NO_MATCHING_KEY",
  );
  assertEnvelope(await app.authed("GET", "/api/v1/users/me", refreshed.accessToken), 200);
  await asGateway(refreshed.accessToken, createLocalJWKSet(await keySet()));
});

test("JWT_ALGORITHM=ES256 without its secret: /health answers 503, the log names the secret", async () => {
  await app.restart({ vars: { JWT_ALGORITHM: "ES256" } });
  const res = await app.health();
  assert.equal(res.status, 503);
  assert.ok(!res.text.includes("JWT_ES256_PRIVATE_KEY"), res.text);
  assert.match(res.problems.join("\n"), /JWT_ES256_PRIVATE_KEY is not set \(JWT_ALGORITHM is ES256\)/);
});
