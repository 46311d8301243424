// The service as a stock OAuth client sees it: openid-client (v6) discovers it
// from the issuer alone (either metadata document), logs in with the email-code
// extension grant at the token endpoint, refreshes, and meets RFC 6749 errors;
// jose verifies the access tokens against the discovered jwks_uri. Every member
// of both metadata documents is exercised here by what a client does with it.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import * as client from "openid-client";
import { createRemoteJWKSet, decodeJwt, jwtVerify } from "jose";
import { freshEmail, spawnApp, withinOneLimiterWindow } from "../../harness/app.mjs";
import { assertEnvelope } from "../../harness/envelope.mjs";
import { freePort } from "../../harness/ports.mjs";

const EMAIL_OTP = "urn:allmine:params:oauth:grant-type:email-otp";
const CLIENT_ID = "allmine-app"; // TOKEN_CLIENT_ID's default
const RFC_6749_SUCCESS = ["access_token", "expires_in", "refresh_token", "scope", "token_type"];

let app, issuer, config;
// The issuer must be where the app is served, as it would be deployed: the
// client fetches the metadata from it and checks that it names itself.
before(async () => {
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  app = await spawnApp({ port, vars: { JWT_ISSUER: issuer } });
  assert.equal(new URL(app.url).origin, issuer);
  config = await discover();
});
after(() => app?.dispose());

/** What an app does: the issuer, its client id, no secret (a public client). */
function discover(algorithm = "oidc", secret) {
  return client.discovery(new URL(issuer), CLIENT_ID, secret, secret ? undefined : client.None(), {
    algorithm,
    execute: [client.allowInsecureRequests], // plain http on loopback only
  });
}

/** A form POST to the token endpoint, exactly as given. */
function tokenRequest(params, headers = {}) {
  return app.raw("POST", "/oauth/token", {
    body: new URLSearchParams(params).toString(),
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
  });
}

/** Asserts an RFC 6749 §5.2 error answer (not the envelope) and returns its code. */
function assertOAuthError(res, status, error) {
  assert.equal(res.status, status, res.text);
  assert.match(res.headers.get("content-type"), /^application\/json/);
  assert.deepEqual(Object.keys(res.body).sort(), ["error", "error_description"], res.text);
  assert.equal(res.body.error, error);
  assert.equal(typeof res.body.error_description, "string");
  assert.equal(res.headers.get("cache-control"), "no-store");
  assert.equal(res.headers.get("pragma"), "no-cache");
  return res.body;
}

/** A library call that must fail with this RFC 6749 error. */
async function rejectsWith(promise, status, error) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof client.ResponseBodyError, `${err.name}: ${err.message}`);
    assert.equal(err.status, status);
    assert.equal(err.error, error);
    return true;
  });
}

const verifyAccess = async (token, metadata = config.serverMetadata()) =>
  jwtVerify(token, createRemoteJWKSet(new URL(metadata.jwks_uri)), {
    typ: "at+jwt",
    issuer: metadata.issuer,
    audience: "allmine",
    algorithms: metadata.id_token_signing_alg_values_supported ?? ["EdDSA"],
  });

describe("discovery", () => {
  test("the RFC 8414 document holds exactly the members true of this service, public and cacheable", async () => {
    const res = await app.get("/.well-known/oauth-authorization-server");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    assert.equal(res.headers.get("cache-control"), "public, max-age=600");
    assert.deepEqual(res.body, {
      issuer,
      jwks_uri: `${issuer}/.well-known/jwks.json`,
      token_endpoint: `${issuer}/oauth/token`,
      grant_types_supported: [EMAIL_OTP, "refresh_token"],
      token_endpoint_auth_methods_supported: ["none"],
      response_types_supported: [],
    });
  });

  test("the OpenID document holds the same members and only the two discovery requires", async () => {
    const server = (await app.get("/.well-known/oauth-authorization-server")).body;
    const res = await app.get("/.well-known/openid-configuration");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    assert.deepEqual(res.body, {
      ...server,
      subject_types_supported: ["public"],
      id_token_signing_alg_values_supported: ["EdDSA"],
    });
  });

  test("a stock client discovers either document from the issuer alone", async () => {
    for (const algorithm of ["oidc", "oauth2"]) {
      const metadata = (await discover(algorithm)).serverMetadata();
      assert.equal(metadata.issuer, issuer, algorithm);
      assert.equal(metadata.token_endpoint, `${issuer}/oauth/token`, algorithm);
    }
  });

  test("response_types_supported is empty: there is no authorization endpoint to send a user to", () => {
    assert.deepEqual(config.serverMetadata().response_types_supported, []);
    assert.equal(config.serverMetadata().authorization_endpoint, undefined);
    assert.throws(() => client.buildAuthorizationUrl(config, { redirect_uri: "https://app.example/cb" }));
  });

  test("a page on any origin can read the metadata and the key set", async () => {
    for (const path of ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration", "/.well-known/jwks.json"]) {
      const res = await app.get(path, { origin: "https://gateway-console.example" });
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get("access-control-allow-origin"), "*", path);
      assert.equal(res.headers.get("vary"), null, path);
    }
  });
});

describe("the email-code grant", () => {
  test("signs in through the discovered token_endpoint; the access token verifies against jwks_uri", async () => {
    const email = freshEmail("oauth");
    const sent = await app.sendOtp(email);
    const code = app.mail.codeFor(email);
    const login_id = sent.body.data.loginId;
    const tokens = await client.genericGrantRequest(config, EMAIL_OTP, { email, code, login_id });
    assert.equal(tokens.token_type.toLowerCase(), "bearer");
    assert.equal(tokens.expires_in, 3600);
    assert.equal(tokens.scope, "allmine", "the configured scope, as the access token carries it");
    assert.equal(tokens.id_token, undefined, "no ID token is issued");
    // jwks_uri and id_token_signing_alg_values_supported, as a verifier uses them.
    const { payload } = await verifyAccess(tokens.access_token);
    assert.equal(payload.client_id, CLIENT_ID);
    assert.equal(payload.scope, tokens.scope);
    assert.equal(decodeJwt(tokens.refresh_token).sid, payload.sid);
    // The same session the envelope API knows.
    const me = assertEnvelope(await app.authed("GET", "/api/v1/users/me", tokens.access_token), 200);
    assert.equal(me.email, email);
  });

  test("answers exactly RFC 6749 §5.1, never cached", async () => {
    const email = freshEmail("oauth");
    const code = await app.requestCode(email);
    const res = await tokenRequest({ grant_type: EMAIL_OTP, email, code, client_id: CLIENT_ID });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(res.body).sort(), RFC_6749_SUCCESS);
    assert.equal(res.body.token_type, "Bearer");
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.equal(res.headers.get("pragma"), "no-cache");
  });

  test("a wrong code is invalid_grant, counted like verify-otp-email's; a used code too", async () => {
    const email = freshEmail("oauth");
    const code = await app.requestCode(email);
    const wrong = code === "000000" ? "111111" : "000000";
    await rejectsWith(client.genericGrantRequest(config, EMAIL_OTP, { email, code: wrong }), 400, "invalid_grant");
    const res = await tokenRequest({ grant_type: EMAIL_OTP, email, code: wrong });
    assert.match(assertOAuthError(res, 400, "invalid_grant").error_description, /3 attempt\(s\) left/);
    assert.equal(res.headers.get("error-code"), "wrong_code");
    await client.genericGrantRequest(config, EMAIL_OTP, { email, code });
    await rejectsWith(client.genericGrantRequest(config, EMAIL_OTP, { email, code }), 400, "invalid_grant");
  });

  test("no code pending is invalid_grant; a malformed request is invalid_request", async () => {
    assertOAuthError(await tokenRequest({ grant_type: EMAIL_OTP, email: freshEmail(), code: "123456" }), 400, "invalid_grant");
    assertOAuthError(await tokenRequest({ grant_type: EMAIL_OTP, email: "not-an-address", code: "12" }), 400, "invalid_request");
    assertOAuthError(await tokenRequest({ email: freshEmail(), code: "123456" }), 400, "invalid_request");
    // The form is what RFC 6749 speaks; JSON is refused in its terms.
    const json = await app.post("/oauth/token", { grant_type: EMAIL_OTP, email: freshEmail(), code: "123456" });
    assert.match(assertOAuthError(json, 400, "invalid_request").error_description, /x-www-form-urlencoded/);
  });
});

describe("the refresh_token grant", () => {
  test("rotates like refresh-token, and reuse through the token endpoint revokes the session", async () => {
    const email = freshEmail("oauth");
    const first = await client.genericGrantRequest(config, EMAIL_OTP, { email, code: await app.requestCode(email) });
    const second = await client.refreshTokenGrant(config, first.refresh_token);
    assert.notEqual(second.refresh_token, first.refresh_token);
    assert.equal(decodeJwt(second.refresh_token).sid, decodeJwt(first.refresh_token).sid);
    await verifyAccess(second.access_token);
    const third = await client.refreshTokenGrant(config, second.refresh_token);
    // The token the last rotation retired, again within the grace window: the current one.
    const retry = await client.refreshTokenGrant(config, second.refresh_token);
    assert.equal(decodeJwt(retry.refresh_token).jti, decodeJwt(third.refresh_token).jti);
    // Two rotations back: reuse. The session is revoked, its current token with it.
    await rejectsWith(client.refreshTokenGrant(config, first.refresh_token), 400, "invalid_grant");
    await rejectsWith(client.refreshTokenGrant(config, third.refresh_token), 400, "invalid_grant");
    const { sub, sid } = decodeJwt(first.refresh_token);
    const row = await app.db.prepare("SELECT revoked_reason FROM sessions WHERE id = ?").bind(sid).first();
    assert.equal(row.revoked_reason, "refresh_reuse");
    for (let i = 0; ; i++) {
      const audit = await app.db
        .prepare("SELECT 1 AS found FROM audit_events WHERE user_id = ? AND event = 'refresh_reuse'").bind(sub).first();
      if (audit) break;
      assert.ok(i < 50, "no refresh_reuse audit row");
      await new Promise((r) => setTimeout(r, 100));
    }
    // The envelope endpoint agrees: one implementation.
    assertEnvelope(await app.post("/api/v1/auth/refresh-token", { refreshToken: third.refresh_token }), 401);
  });

  test("a token the envelope endpoint issued refreshes here, and an access token is not a refresh token", async () => {
    const s = await app.session();
    const tokens = await client.refreshTokenGrant(config, s.refreshToken);
    await verifyAccess(tokens.access_token);
    assertOAuthError(await tokenRequest({ grant_type: "refresh_token", refresh_token: s.accessToken }), 400, "invalid_grant");
    assertOAuthError(await tokenRequest({ grant_type: "refresh_token" }), 400, "invalid_request");
  });
});

describe("grant types and clients", () => {
  test("a grant not in grant_types_supported is unsupported_grant_type", async () => {
    for (const grant_type of ["password", "authorization_code", "client_credentials"]) {
      assertOAuthError(await tokenRequest({ grant_type, username: "a", password: "b" }), 400, "unsupported_grant_type");
    }
    await rejectsWith(client.genericGrantRequest(config, "password", { username: "a", password: "b" }), 400, "unsupported_grant_type");
  });

  test("token_endpoint_auth_methods_supported is none: a client secret is invalid_client", async () => {
    // The library sends it in the form (client_secret_post)…
    const withSecret = await discover("oidc", "s3cret");
    const email = freshEmail("oauth");
    const code = await app.requestCode(email);
    await rejectsWith(client.genericGrantRequest(withSecret, EMAIL_OTP, { email, code }), 401, "invalid_client");
    // …or in an Authorization header (client_secret_basic), answered with its challenge.
    const basic = await tokenRequest(
      { grant_type: EMAIL_OTP, email, code },
      { authorization: `Basic ${Buffer.from(`${CLIENT_ID}:s3cret`).toString("base64")}` },
    );
    assertOAuthError(basic, 401, "invalid_client");
    assert.match(basic.headers.get("www-authenticate"), /^Basic /);
    // Another client's id is refused too; the code survived all of it.
    assertOAuthError(await tokenRequest({ grant_type: EMAIL_OTP, email, code, client_id: "someone-else" }), 401, "invalid_client");
    await client.genericGrantRequest(config, EMAIL_OTP, { email, code });
  });

  test("a wrong method is still the envelope's 405", async () => {
    const res = await app.get("/oauth/token");
    assertEnvelope(res, 405);
    assert.equal(res.headers.get("allow"), "POST");
  });
});

test("verify limits refuse with 429 slow_down and Retry-After, like verify-otp-email", async () => {
  const limited = await spawnApp({
    ratelimits: {
      IP_SEND_LIMITER: { simple: { limit: 1000, period: 60 } },
      IP_VERIFY_LIMITER: { simple: { limit: 1, period: 60 } },
      BLOCK_SEND_LIMITER: { simple: { limit: 1000, period: 60 } },
      BLOCK_VERIFY_LIMITER: { simple: { limit: 1000, period: 60 } },
      MAIL_CEILING: { simple: { limit: 1000, period: 60 } },
    },
  });
  try {
    await withinOneLimiterWindow();
    const network = { "cf-connecting-ip": "192.0.2.77" };
    const form = (email) => ({
      body: new URLSearchParams({ grant_type: EMAIL_OTP, email, code: "123456" }).toString(),
      headers: { "content-type": "application/x-www-form-urlencoded", ...network },
    });
    const statuses = [];
    let res;
    for (let i = 0; i < 3; i++) {
      res = await limited.raw("POST", "/oauth/token", form(freshEmail()));
      statuses.push(res.status);
    }
    assert.deepEqual(statuses, [400, 429, 429]);
    assertOAuthError(res, 429, "slow_down");
    assert.ok(Number(res.headers.get("retry-after")) >= 1);
    // The envelope endpoint shares the limit: it is the same code.
    assertEnvelope(await limited.post("/api/v1/auth/verify-otp-email", { email: freshEmail(), code: "123456" }, network), 429);
  } finally {
    await limited.dispose();
  }
});
