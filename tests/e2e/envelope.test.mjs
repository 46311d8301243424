// Every response is the documented envelope: routing misses, bad bodies, health.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { fromNetwork, spawnApp, TEST_SECRETS } from "../../harness/app.mjs";
import { assertEnvelope } from "../../harness/envelope.mjs";

// What /health says of the test build (the one these tests run) outside
// ENVIRONMENT=local (src/config/mod.rs, test_build_problem).
// /health names no setting (it is public); the worker's log names each.
const CONFIGURATION_INVALID = "The configuration is invalid: the worker's log names each problem";
const TEST_BUILD_REFUSED =
  "Configuration: ENVIRONMENT must be local in a test build (built with fault-injection); deploy a release build";

let app;
before(async () => (app = await spawnApp()));
after(() => app?.dispose());

describe("stable error codes", () => {
  test("each kind of error names itself in Error-Code, whatever its sentence", async () => {
    const code = (res) => res.headers.get("error-code");
    const path = "/api/v1/auth/verify-otp-email";
    const expectations = [
      [await app.get("/no/such/route"), 404, "route_not_found"],
      [await app.get(path), 405, "method_not_allowed"],
      [await app.raw("POST", path, { body: "{}", headers: { "content-type": "text/plain" } }), 415, "unsupported_media_type"],
      [await app.post(path, "{"), 400, "validation"],
      [await app.post(path, { email: "nobody@example.com", code: "123456" }), 404, "no_pending_code"],
      [await app.get("/api/v1/users/me"), 401, "unauthorized"],
    ];
    const email = `codes-${Date.now()}@example.com`;
    const right = await app.requestCode(email);
    const wrong = right === "000000" ? "111111" : "000000";
    expectations.push([await app.verifyOtp(email, wrong), 400, "wrong_code"]);
    const strict = await spawnApp({ vars: { OTP_RESEND_COOLDOWN_SECONDS: "30" } });
    try {
      const one = fromNetwork("192.0.2.77");
      await strict.requestCode(email, {}, one);
      expectations.push([await strict.sendOtp(email, {}, one), 429, "resend_cooldown"]);
    } finally {
      await strict.dispose();
    }
    for (const [res, status, expected] of expectations) {
      assertEnvelope(res, status);
      assert.equal(code(res), expected, res.text);
    }
    // A success carries none.
    assert.equal(code(await app.get("/health")), null);
  });
});

describe("routing", () => {
  test("unknown route answers a 404 envelope", async () => {
    const data = assertEnvelope(await app.get("/no/such/route"), 404);
    assert.equal(data, null);
  });

  test("wrong method answers a 405 envelope with Allow", async () => {
    const res = await app.get("/api/v1/auth/verify-otp-email");
    assertEnvelope(res, 405);
    assert.equal(res.headers.get("allow"), "POST");
    const put = await app.call("PUT", "/health", "{}");
    assertEnvelope(put, 405);
    assert.equal(put.headers.get("allow"), "GET");
  });

  test("a wrong method on the OpenAPI document (an asset) is the router's 405, not the asset server's", async () => {
    const res = await app.call("DELETE", "/api/v1/openapi.json", "");
    assertEnvelope(res, 405);
    assert.equal(res.headers.get("allow"), "GET");
  });

  test("every response carries a request id", async () => {
    const res = await app.get("/health");
    assert.match(res.headers.get("x-request-id") ?? "", /^[0-9a-f]{16}$/);
  });
});

describe("the request log line", () => {
  const requestLines = (logs, id) =>
    logs.join("").split("\n").filter((l) => l.includes('"event":"request"') && l.includes(`"requestId":"${id}"`));

  test("REQUEST_LOG=failures keeps a line for refusals and failures only", async () => {
    const quiet = await spawnApp({ vars: { REQUEST_LOG: "failures" } });
    try {
      const ok = await quiet.get("/health");
      assertEnvelope(ok, 200);
      const refused = await quiet.post("/api/v1/auth/verify-otp-email", { email: "nope", code: "1" });
      assertEnvelope(refused, 400);
      const missing = await quiet.get("/no/such/route");
      assertEnvelope(missing, 404);
      await new Promise((r) => setTimeout(r, 200)); // stdout is read asynchronously
      assert.equal(requestLines(quiet.logs, ok.headers.get("x-request-id")).length, 0, "no line for a 200");
      for (const res of [refused, missing]) {
        const [line] = requestLines(quiet.logs, res.headers.get("x-request-id"));
        assert.ok(line, `a line for the ${res.status}`);
        assert.match(line, new RegExp(`"status":${res.status}`));
      }
    } finally {
      await quiet.dispose();
    }
  });

  test("REQUEST_LOG=all (the local default) logs every request", async () => {
    const ok = await app.get("/health");
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(requestLines(app.logs, ok.headers.get("x-request-id")).length, 1);
  });

  test("an unknown REQUEST_LOG is a configuration problem", async () => {
    const odd = await spawnApp({ vars: { REQUEST_LOG: "some" } });
    try {
      const res = await odd.health();
      assertEnvelope(res, 503);
      assert.ok(res.problems.some((e) => e.includes("REQUEST_LOG must be all or failures")), res.problems);
    } finally {
      await odd.dispose();
    }
  });
});

describe("health", () => {
  test("answers 200 after touching KV and D1", async () => {
    const data = assertEnvelope(await app.get("/health"), 200);
    assert.deepEqual(data, { status: "ok", kv: "ok", d1: "ok" });
  });
});

describe("request bodies", () => {
  const path = "/api/v1/auth/verify-otp-email";

  test("non-JSON content type is 415", async () => {
    assertEnvelope(await app.raw("POST", path, { body: "{}", headers: { "content-type": "text/plain" } }), 415);
    assertEnvelope(await app.raw("POST", path, { body: "email=x" }), 415);
  });

  test("malformed JSON is 400", async () => {
    for (const body of ["{", "[]", "null", "\"x\"", ""]) {
      const res = await app.post(path, body);
      const data = assertEnvelope(res, 400);
      assert.equal(data, null);
    }
  });

  test("an oversized body is 413, declared or not", async () => {
    const big = JSON.stringify({ email: "a@b.co", code: "123456", pad: "x".repeat(20_000) });
    assertEnvelope(await app.post(path, big), 413);
    const chunked = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(big));
        c.close();
      },
    });
    const res = await app.raw("POST", path, { body: chunked, headers: { "content-type": "application/json" } });
    assertEnvelope(res, 413);
  });
});

describe("misconfiguration", () => {
  /** Starts an app with `vars`, runs `check` on it, and always stops it. */
  async function withApp(options, check) {
    const broken = await spawnApp(options);
    try {
      await check(broken);
    } finally {
      await broken.dispose();
    }
  }

  /** Nothing in a body may repeat a secret's value. */
  function assertNoSecrets(res) {
    for (const value of Object.values(TEST_SECRETS)) assert.ok(!res.text.includes(value), "a secret leaked");
  }

  test("a missing secret: the API answers 500 and health 503, naming nothing; the log names the setting", async () => {
    await withApp({ secrets: { ...TEST_SECRETS, JWT_PRIVATE_KEY: "" } }, async (broken) => {
      const res = await broken.sendOtp("someone@example.com");
      assertEnvelope(res, 500);
      assert.deepEqual(res.body.errors, ["Internal server error"]);
      const health = await broken.health();
      assertEnvelope(health, 503);
      assert.deepEqual(health.body.errors, [CONFIGURATION_INVALID]);
      assert.ok(!health.text.includes("JWT_PRIVATE_KEY"), health.text);
      assert.deepEqual(health.problems, ["Configuration: JWT_PRIVATE_KEY is not set"]);
    });
  });

  // Any well-formed name is an environment with production's rules (staging);
  // a blank or malformed one is a mistake, refused.
  test("a blank or malformed ENVIRONMENT fails closed", async () => {
    for (const ENVIRONMENT of ["", "Staging!"]) {
      await withApp({ vars: { ENVIRONMENT } }, async (broken) => {
        const health = await broken.health();
        assertEnvelope(health, 503);
        assert.deepEqual(health.body.errors, [CONFIGURATION_INVALID]);
        assert.deepEqual(health.problems, [
          "Configuration: ENVIRONMENT must be local, development, production or another environment's name (a-z, 0-9, - and _, from a letter)",
        ]);
        assertEnvelope(await broken.sendOtp("someone@example.com"), 500);
      });
    }
  });

  test("a test build refuses a new environment's name (staging) like production's", async () => {
    await withApp({ vars: { ENVIRONMENT: "staging", JWT_ISSUER: "https://auth.test" } }, async (app) => {
      const health = await app.health();
      assertEnvelope(health, 503);
      assert.equal(health.problems[0], TEST_BUILD_REFUSED);
    });
  });

  test("production refuses weak settings, no Turnstile and the log provider, naming each, never a value", async () => {
    const vars = { ENVIRONMENT: "production", JWT_ISSUER: "https://auth.test", OTP_LENGTH: "4", EMAIL_PROVIDER: "log" };
    await withApp({ vars }, async (broken) => {
      const health = await broken.health();
      assertEnvelope(health, 503);
      assert.deepEqual(health.body.errors, [CONFIGURATION_INVALID]);
      // The harness relaxes the per-address limits, which production refuses too.
      const weak = (setting, rule) =>
        `Configuration: ${setting} must be ${rule} in production (or set ALLOW_WEAK_SETTINGS=true)`;
      assert.deepEqual(health.problems, [
        TEST_BUILD_REFUSED,
        weak("OTP_LENGTH", "at least 6"),
        weak("OTP_RESEND_COOLDOWN_SECONDS", "at least 30"),
        weak("OTP_SENDS_PER_HOUR", "at most 20"),
        "Configuration: TURNSTILE_SECRET_KEY must be set in production (or set ALLOW_WEAK_SETTINGS=true)",
        "Configuration: EMAIL_PROVIDER=log is allowed only when ENVIRONMENT=local",
      ]);
      assertNoSecrets(health);
      const res = await broken.sendOtp("someone@example.com");
      assertEnvelope(res, 500);
      assert.deepEqual(res.body.errors, ["Internal server error"]);
      assert.equal(broken.mail.sent.length, 0);
    });
  });

  // The tests run the test build, which runs only with ENVIRONMENT=local: in
  // production the one problem left once ALLOW_WEAK_SETTINGS=true lets the
  // weak settings through is the build itself (a release build then runs:
  // the unit tests of src/config/ say so).
  test("ALLOW_WEAK_SETTINGS=true lets production's weak settings through; a test build still refuses it", async () => {
    const vars = { ENVIRONMENT: "production", JWT_ISSUER: "https://auth.test", OTP_LENGTH: "4", ALLOW_WEAK_SETTINGS: "true" };
    await withApp({ vars }, async (app) => {
      const health = await app.health();
      assertEnvelope(health, 503);
      assert.deepEqual(health.problems, [TEST_BUILD_REFUSED]);
      const res = await app.sendOtp("someone@example.com");
      assertEnvelope(res, 500);
      assert.deepEqual(res.body.errors, ["Internal server error"]);
      assert.equal(app.mail.sent.length, 0);
    });
  });

  test("a test build deployed anywhere but local serves neither /__faults nor a client's clock", async () => {
    await withApp({ vars: { ENVIRONMENT: "development", JWT_ISSUER: "https://auth.test" } }, async (app) => {
      const health = await app.health();
      assertEnvelope(health, 503);
      assert.deepEqual(health.problems, [TEST_BUILD_REFUSED]);
      const faults = await app.post("/__faults", { d1: 1 });
      assertEnvelope(faults, 500);
      assert.deepEqual(faults.body.errors, ["Internal server error"]);
      const aged = await app.sendOtp("someone@example.com", {}, { "x-test-now-ms": "0" });
      assertEnvelope(aged, 500);
    });
  });
});
