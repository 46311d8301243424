// Every response is the documented envelope: routing misses, bad bodies, health.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { spawnApp, TEST_SECRETS } from "./support/app.mjs";
import { assertEnvelope } from "./support/envelope.mjs";

let app;
before(async () => (app = await spawnApp()));
after(() => app?.dispose());

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

  test("every response carries a request id", async () => {
    const res = await app.get("/health");
    assert.match(res.headers.get("x-request-id") ?? "", /^[0-9a-f]{16}$/);
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
  test("a missing secret is a 500 envelope that names nothing secret, and health still answers", async () => {
    const broken = await spawnApp({ secrets: { ...TEST_SECRETS, JWT_PRIVATE_KEY: "" } });
    try {
      const res = await broken.sendOtp("someone@example.com");
      assertEnvelope(res, 500);
      assert.deepEqual(res.body.errors, ["Internal server error"]);
      assertEnvelope(await broken.get("/health"), 200);
      assert.ok(broken.logs.join("").includes("JWT_PRIVATE_KEY is not set"));
    } finally {
      await broken.dispose();
    }
  });
});
