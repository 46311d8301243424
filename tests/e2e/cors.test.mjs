// Browser calls from other origins (CORS_ALLOWED_ORIGINS): preflights, the
// headers that let an allowed page read any answer, and nothing for the rest.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { freshEmail, spawnApp, TEST_SECRETS } from "../../harness/app.mjs";
import { assertEnvelope } from "../../harness/envelope.mjs";

const APP_ORIGIN = "https://app.allmine.example";
const VERIFY = "/api/v1/auth/verify-otp-email";

let app;
before(
  async () =>
    (app = await spawnApp({
      vars: { CORS_ALLOWED_ORIGINS: `${APP_ORIGIN}, http://localhost:3000`, OTP_RESEND_COOLDOWN_SECONDS: "30" },
    })),
);
after(() => app?.dispose());

const preflight = (target, path, origin, method = "POST") =>
  target.raw("OPTIONS", path, {
    headers: { origin, "access-control-request-method": method, "access-control-request-headers": "content-type" },
  });

describe("an allowed origin", () => {
  test("gets a preflight answer naming the path's methods and the headers it may send", async () => {
    const res = await preflight(app, VERIFY, APP_ORIGIN);
    assertEnvelope(res, 200);
    assert.equal(res.headers.get("access-control-allow-origin"), APP_ORIGIN);
    assert.equal(res.headers.get("access-control-allow-methods"), "POST");
    assert.equal(res.headers.get("access-control-allow-headers"), "Authorization, Content-Type, X-D1-Bookmark");
    assert.equal(res.headers.get("access-control-max-age"), "86400");
    assert.match(res.headers.get("vary") ?? "", /Origin/);

    const me = await preflight(app, "/api/v1/users/me", "http://localhost:3000", "PATCH");
    assertEnvelope(me, 200);
    assert.equal(me.headers.get("access-control-allow-origin"), "http://localhost:3000");
    assert.equal(me.headers.get("access-control-allow-methods"), "GET, PATCH");
  });

  test("can read every answer, errors and limits included, and the headers that explain them", async () => {
    const email = freshEmail();
    const network = { "cf-connecting-ip": "192.0.2.200" };
    const code = await app.requestCode(email, {}, network);
    const ok = await app.post(VERIFY, { email, code }, { origin: APP_ORIGIN });
    assertEnvelope(ok, 200);
    assert.equal(ok.headers.get("access-control-allow-origin"), APP_ORIGIN);
    assert.equal(ok.headers.get("access-control-expose-headers"), "Allow, Error-Code, Retry-After, WWW-Authenticate, X-Request-Id, X-D1-Bookmark");

    const bad = await app.post(VERIFY, { email, code: "12" }, { origin: APP_ORIGIN });
    assertEnvelope(bad, 400);
    assert.equal(bad.headers.get("access-control-allow-origin"), APP_ORIGIN);

    const unauthorized = await app.get("/api/v1/users/me", { origin: APP_ORIGIN });
    assertEnvelope(unauthorized, 401);
    assert.equal(unauthorized.headers.get("access-control-allow-origin"), APP_ORIGIN);
    assert.equal(unauthorized.headers.get("www-authenticate"), "Bearer");

    // Within the first send's cooldown.
    const again = await app.post("/api/v1/auth/send-otp-email", { email }, { origin: APP_ORIGIN, ...network });
    assertEnvelope(again, 429);
    assert.equal(again.headers.get("access-control-allow-origin"), APP_ORIGIN);
    assert.ok(Number(again.headers.get("retry-after")) >= 1);
  });

  test("gets the token endpoint under the API's policy, its errors included", async () => {
    const pre = await preflight(app, "/oauth/token", APP_ORIGIN);
    assertEnvelope(pre, 200);
    assert.equal(pre.headers.get("access-control-allow-methods"), "POST");
    const res = await app.raw("POST", "/oauth/token", {
      body: "grant_type=password",
      headers: { origin: APP_ORIGIN, "content-type": "application/x-www-form-urlencoded" },
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.error, "unsupported_grant_type");
    assert.equal(res.headers.get("access-control-allow-origin"), APP_ORIGIN);
    const stranger = await app.raw("POST", "/oauth/token", {
      body: "grant_type=password",
      headers: { origin: "https://evil.example", "content-type": "application/x-www-form-urlencoded" },
    });
    assert.equal(stranger.headers.get("access-control-allow-origin"), null);
  });

  test("a preflight for a path the service does not have is a 404 envelope", async () => {
    assertEnvelope(await preflight(app, "/api/v1/nope", APP_ORIGIN), 404);
  });
});

describe("the public documents (JWK Set, metadata)", () => {
  test("any origin may read them, with or without the API's policy, and the answer does not vary", async () => {
    const documents = ["/.well-known/jwks.json", "/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"];
    for (const path of documents) {
      for (const headers of [{ origin: "https://evil.example" }, { origin: APP_ORIGIN }, {}]) {
        const res = await app.get(path, headers);
        assert.equal(res.status, 200, path);
        assert.equal(res.headers.get("access-control-allow-origin"), "*", `${path} ${headers.origin}`);
        assert.equal(res.headers.get("vary"), null, path);
        assert.match(res.headers.get("cache-control"), /^public, max-age=/);
      }
    }
  });
});

describe("any other origin", () => {
  test("gets no CORS headers, so the browser keeps the answer from its page", async () => {
    for (const origin of ["https://evil.example", "http://app.allmine.example", `${APP_ORIGIN}.evil.example`, "null"]) {
      const pre = await preflight(app, VERIFY, origin);
      assertEnvelope(pre, 405); // an OPTIONS like any other
      assert.equal(pre.headers.get("access-control-allow-origin"), null, origin);
      assert.equal(pre.headers.get("access-control-allow-methods"), null, origin);
      const res = await app.post(VERIFY, { email: freshEmail(), code: "123456" }, { origin });
      assertEnvelope(res, 404);
      assert.equal(res.headers.get("access-control-allow-origin"), null, origin);
    }
  });

  test("requests without an Origin header (apps, servers) get no CORS headers but Vary: Origin", async () => {
    const res = await app.get("/health");
    assertEnvelope(res, 200);
    assert.equal(res.headers.get("access-control-allow-origin"), null);
    // The answer would differ with an Origin, so caches must keep them apart.
    assert.equal(res.headers.get("vary"), "Origin");
  });
});

test("local development allows any origin; an empty list allows none", async () => {
  // The default test app runs with wrangler.toml's local vars.
  const local = await spawnApp();
  const closed = await spawnApp({ vars: { CORS_ALLOWED_ORIGINS: "" } });
  try {
    const open = await preflight(local, VERIFY, "http://localhost:5173");
    assertEnvelope(open, 200);
    assert.equal(open.headers.get("access-control-allow-origin"), "*");
    assert.equal(open.headers.get("vary"), null);

    const shut = await preflight(closed, VERIFY, "http://localhost:5173");
    assertEnvelope(shut, 405);
    assert.equal(shut.headers.get("access-control-allow-origin"), null);
  } finally {
    await Promise.all([local.dispose(), closed.dispose()]);
  }
});

test("a malformed origin list is a configuration error, not an open door", async () => {
  const broken = await spawnApp({ vars: { CORS_ALLOWED_ORIGINS: "allmine.example" } });
  try {
    const res = await broken.sendOtp(freshEmail());
    assertEnvelope(res, 500);
    assert.ok(broken.logs.join("").includes("CORS_ALLOWED_ORIGINS"));
    assert.equal((await preflight(broken, VERIFY, "https://allmine.example")).headers.get("access-control-allow-origin"), null);
  } finally {
    await broken.dispose();
  }
});

describe("a deployment missing a secret", () => {
  test("still lets an allowed page read its 500 (and health's 503), not a CORS error", async () => {
    const broken = await spawnApp({
      vars: { CORS_ALLOWED_ORIGINS: APP_ORIGIN },
      secrets: { ...TEST_SECRETS, JWT_PRIVATE_KEY: "" },
    });
    try {
      for (const [res, status] of [
        [await broken.raw("POST", VERIFY, { body: "{}", headers: { origin: APP_ORIGIN, "content-type": "application/json" } }), 500],
        [await broken.raw("GET", "/health", { headers: { origin: APP_ORIGIN } }), 503],
      ]) {
        assertEnvelope(res, status);
        assert.equal(res.headers.get("access-control-allow-origin"), APP_ORIGIN);
      }
      const other = await broken.raw("GET", "/health", { headers: { origin: "https://elsewhere.example" } });
      assert.equal(other.headers.get("access-control-allow-origin"), null);
    } finally {
      await broken.dispose();
    }
  });
});
