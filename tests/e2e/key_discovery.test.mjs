// What other services rely on to verify our tokens: the JWK Set and the
// discovery document, each in its standard form (not the envelope) and
// cacheable; access tokens that a stock RFC 9068 verifier accepts; refresh
// tokens that it refuses, and that our own endpoints tell apart by `typ`.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  calculateJwkThumbprint, createLocalJWKSet, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify,
} from "jose";
import { KEY_SET_MAX_AGE_SECONDS } from "../../scripts/keys.mjs";
import { freshEmail, spawnApp } from "../../harness/app.mjs";
import { assertEnvelope } from "../../harness/envelope.mjs";

const ISSUER = "http://127.0.0.1:8787"; // JWT_ISSUER of the local settings in wrangler.toml
const CACHED = `public, max-age=${KEY_SET_MAX_AGE_SECONDS}`;
const RFC_9068_CLAIMS = ["iss", "exp", "aud", "sub", "client_id", "iat", "jti"];

let app;
before(async () => (app = await spawnApp()));
after(() => app?.dispose());

const verifyAccess = (token, keys) =>
  jwtVerify(token, keys, { typ: "at+jwt", issuer: ISSUER, audience: "allmine", algorithms: ["EdDSA"] });

/** Sends a request and returns the reason the worker logged for refusing its token. */
async function refusalReason(event, send) {
  const since = app.logs.length;
  await send();
  for (let i = 0; i < 40; i++) {
    const line = app.logs.slice(since).join("").split("\n").find((l) => l.includes(`"event":"${event}"`));
    if (line) return JSON.parse(line.slice(line.indexOf("{"))).reason;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`no ${event} line in the worker's log`);
}

describe("the JWK Set", () => {
  test("is a plain RFC 7517 key set, cacheable for the documented max-age", async () => {
    const res = await app.get("/.well-known/jwks.json");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^application\/json/);
    assert.equal(res.headers.get("cache-control"), CACHED);
    assert.deepEqual(Object.keys(res.body), ["keys"], "nothing but keys: not the envelope");
    assert.equal(res.body.keys.length, 1);
    const [key] = res.body.keys;
    assert.deepEqual(Object.keys(key).sort(), ["alg", "crv", "kid", "kty", "use", "x"]);
    assert.deepEqual({ kty: key.kty, crv: key.crv, alg: key.alg, use: key.use }, {
      kty: "OKP", crv: "Ed25519", alg: "EdDSA", use: "sig",
    });
    assert.equal(key.kid, await calculateJwkThumbprint(key), "kid is the RFC 7638 thumbprint");
  });

  test("its errors are still envelopes", async () => {
    const res = await app.post("/.well-known/jwks.json", {});
    assertEnvelope(res, 405);
    assert.equal(res.headers.get("allow"), "GET");
    assert.equal(res.headers.get("cache-control"), "no-store");
  });
});

describe("the discovery document", () => {
  test("carries exactly the members true of this service, cached like the key set (tests/e2e/oauth.test.mjs uses each)", async () => {
    const res = await app.get("/.well-known/openid-configuration");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^application\/json/);
    assert.equal(res.headers.get("cache-control"), CACHED);
    assert.deepEqual(res.body, {
      issuer: ISSUER,
      jwks_uri: `${ISSUER}/.well-known/jwks.json`,
      token_endpoint: `${ISSUER}/oauth/token`,
      grant_types_supported: ["urn:allmine:params:oauth:grant-type:email-otp", "refresh_token"],
      token_endpoint_auth_methods_supported: ["none"],
      response_types_supported: [],
      subject_types_supported: ["public"],
      id_token_signing_alg_values_supported: ["EdDSA"],
    });
    // The RFC 8414 document: the same members but the two only OpenID requires.
    const server = await app.get("/.well-known/oauth-authorization-server");
    assert.equal(server.status, 200);
    assert.equal(server.headers.get("cache-control"), CACHED);
    const { subject_types_supported, id_token_signing_alg_values_supported, ...rest } = res.body;
    assert.deepEqual(server.body, rest);
  });

  test("its issuer is the tokens' iss, and its jwks_uri serves the key set", async () => {
    const doc = (await app.get("/.well-known/openid-configuration")).body;
    const { accessToken, refreshToken } = await app.session();
    assert.equal(decodeJwt(accessToken).iss, doc.issuer);
    assert.equal(decodeJwt(refreshToken).iss, doc.issuer);
    const served = await app.get(new URL(doc.jwks_uri).pathname);
    assert.deepEqual(served.body, (await app.get("/.well-known/jwks.json")).body);
    assert.equal(served.body.keys[0].kid, decodeProtectedHeader(accessToken).kid);
  });

  test("follows JWT_ISSUER", async () => {
    const other = await spawnApp({ vars: { JWT_ISSUER: "https://auth.example.test" } });
    try {
      const doc = (await other.get("/.well-known/openid-configuration")).body;
      assert.equal(doc.issuer, "https://auth.example.test");
      assert.equal(doc.jwks_uri, "https://auth.example.test/.well-known/jwks.json");
      assert.equal(doc.token_endpoint, "https://auth.example.test/oauth/token");
      assert.deepEqual((await other.get("/.well-known/oauth-authorization-server")).body.issuer, doc.issuer);
      const { accessToken } = await other.session();
      assert.equal(decodeJwt(accessToken).iss, "https://auth.example.test");
    } finally {
      await other.dispose();
    }
  });

  test("an issuer with a path is refused: the documents are served only at the root", async () => {
    const other = await spawnApp({ vars: { JWT_ISSUER: "https://auth.example.test/tenant" } });
    try {
      assertEnvelope(await other.get("/.well-known/openid-configuration"), 500);
      const health = await other.health();
      assertEnvelope(health, 503);
      assert.ok(health.problems.some((e) => e.includes("JWT_ISSUER must have no path")), health.problems);
    } finally {
      await other.dispose();
    }
  });
});

describe("typed tokens", () => {
  test("a stock RFC 9068 verifier accepts access tokens and refuses refresh tokens", async () => {
    const { accessToken, refreshToken } = await app.session();
    for (const keys of [
      createRemoteJWKSet(new URL("/.well-known/jwks.json", app.url)),
      createLocalJWKSet((await app.get("/.well-known/jwks.json")).body),
    ]) {
      const { payload, protectedHeader } = await verifyAccess(accessToken, keys);
      assert.equal(protectedHeader.typ, "at+jwt");
      for (const claim of RFC_9068_CLAIMS) assert.ok(payload[claim] !== undefined, `${claim} is present`);
      assert.equal(payload.client_id, "allmine-app");
      assert.equal(payload.token_use, "access");
      assert.ok(payload.sid && Array.isArray(payload.roles));

      await assert.rejects(verifyAccess(refreshToken, keys), (err) => {
        assert.equal(err.code, "ERR_JWT_CLAIM_VALIDATION_FAILED");
        assert.equal(err.claim, "typ");
        return true;
      });
    }
  });

  test("refresh tokens carry rt+jwt, and verify as such", async () => {
    const { refreshToken } = await app.session();
    const keys = createLocalJWKSet((await app.get("/.well-known/jwks.json")).body);
    const { payload, protectedHeader } = await jwtVerify(refreshToken, keys, {
      typ: "rt+jwt", issuer: ISSUER, audience: "allmine",
    });
    assert.equal(protectedHeader.typ, "rt+jwt");
    assert.equal(payload.token_use, "refresh");
  });

  test("our endpoints refuse the other kind of token by its typ", async () => {
    const { accessToken, refreshToken } = await app.session();
    const asBearer = refusalReason("auth_refused", async () =>
      assertEnvelope(await app.authed("GET", "/api/v1/users/me", refreshToken), 401));
    assert.equal(await asBearer, "wrong token type");

    const asRefresh = refusalReason("refresh_refused", async () =>
      assertEnvelope(await app.post("/api/v1/auth/refresh-token", { refreshToken: accessToken }), 401));
    assert.equal(await asRefresh, "wrong token type");

    assertEnvelope(await app.authed("GET", "/api/v1/users/me", accessToken), 200);
  });

  test("TOKEN_CLIENT_ID names the app in client_id", async () => {
    const other = await spawnApp({ vars: { TOKEN_CLIENT_ID: "allmine-web" } });
    try {
      const { accessToken } = await other.session(freshEmail("client"));
      assert.equal(decodeJwt(accessToken).client_id, "allmine-web");
    } finally {
      await other.dispose();
    }
  });
});
