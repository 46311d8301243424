// The hostile-input matrix: every endpoint that reads a body, under every kind of
// bad input, answers a 4xx envelope and changes nothing. Never a 5xx.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { spawnApp } from "../../harness/app.mjs";
import { assertEnvelope } from "../../harness/envelope.mjs";

let app;
let session;
before(async () => {
  app = await spawnApp();
  session = await app.session();
});
after(() => app?.dispose());

const deep = (n) => "[".repeat(n) + "]".repeat(n);
const BODIES = {
  empty: "",
  whitespace: "   \n ",
  null: "null",
  number: "42",
  string: '"email"',
  array: '[{"email":"a@b.co"}]',
  truncated: '{"email":"a@b.co",',
  trailingGarbage: '{"email":"a@b.co"} x',
  nested: deep(5000),
  deepObject: '{"a":'.repeat(3000) + "1" + "}".repeat(3000),
  bom: '\uFEFF{"email":"a@b.co","code":"123456"}',
  loneSurrogate: '{"email":"\\ud800@b.co","code":"123456"}',
  nulInEmail: '{"email":"a\\u0000@b.co","code":"123456"}',
  controlChars: '{"email":"a\\u0007b@c.co","code":"12\\n3456"}',
  homoglyph: '{"email":"аdmin@example.com","code":"123456"}',
  rtlOverride: '{"email":"\\u202egro.elpmaxe@nimda","code":"123456"}',
  idnUnicode: '{"email":"ali@bücher.de","code":"123456"}',
  longEmail: JSON.stringify({ email: `${"a".repeat(300)}@b.co`, code: "123456" }),
  wrongTypes: '{"email":{"$ne":null},"code":["123456"],"refreshToken":{"a":1},"bio":[1]}',
  numbersForStrings: '{"email":1e309,"code":123456,"refreshToken":0}',
  sqlish: `{"email":"a'; DROP TABLE users;--@b.co","code":"' OR 1=1 --"}`,
  duplicateKeys: '{"email":"a@b.co","email":"c@d.co","code":"1","code":"123456"}',
  hugeNumber: '{"email":"a@b.co","code":1' + "0".repeat(500) + "}",
  protoPollution: '{"__proto__":{"admin":true},"constructor":{"prototype":{}}}',
  oversized: JSON.stringify({ email: "a@b.co", pad: "x".repeat(17_000) }),
};
const CONTENT_TYPES = {
  json: "application/json",
  jsonCharset: "application/json; charset=utf-8",
  upper: "APPLICATION/JSON",
  text: "text/plain",
  form: "application/x-www-form-urlencoded",
  none: null,
};

const ENDPOINTS = [
  { method: "POST", path: "/api/v1/auth/send-otp-email" },
  { method: "POST", path: "/api/v1/auth/verify-otp-email" },
  { method: "POST", path: "/api/v1/auth/refresh-token" },
  { method: "POST", path: "/api/v1/auth/logout", auth: true },
  { method: "POST", path: "/api/v1/auth/complete-registration", auth: true },
  { method: "PATCH", path: "/api/v1/users/me", auth: true },
];

function send({ method, path, auth }, body, contentType) {
  const headers = {};
  if (contentType) headers["content-type"] = contentType;
  if (auth) headers.authorization = `Bearer ${session.accessToken}`;
  return app.raw(method, path, { body, headers });
}

async function snapshot() {
  const tables = ["users", "sessions", "otp_codes"];
  const out = {};
  for (const t of tables) {
    out[t] = (await app.db.prepare(`SELECT * FROM ${t} ORDER BY rowid`).all()).results;
  }
  return JSON.stringify(out);
}

describe("hostile input matrix", () => {
  for (const endpoint of ENDPOINTS) {
    test(`${endpoint.method} ${endpoint.path}: every bad body and content type is a 4xx envelope`, async () => {
      const before = await snapshot();
      const mails = app.mail.sent.length;
      for (const [typeName, contentType] of Object.entries(CONTENT_TYPES)) {
        for (const [bodyName, body] of Object.entries(BODIES)) {
          const res = await send(endpoint, body, contentType);
          const label = `${typeName} × ${bodyName} → ${res.status} ${res.text.slice(0, 200)}`;
          assert.ok(res.status >= 400 && res.status < 500, label);
          assertEnvelope(res, res.status);
          if (!contentType || !/json/i.test(contentType)) assert.equal(res.status, 415, label);
          if (bodyName === "oversized" && /json/i.test(contentType ?? "")) assert.equal(res.status, 413, label);
        }
      }
      assert.equal(await snapshot(), before, "no bad request changed storage");
      assert.equal(app.mail.sent.length, mails, "no bad request sent mail");
    });
  }
});

describe("hostile headers and paths", () => {
  test("odd paths, methods and auth headers stay 4xx envelopes", async () => {
    const cases = [
      ["GET", "/api/v1/auth/send-otp-email/../../health/%2e%2e"],
      ["GET", "/%00"],
      ["GET", `/${"a".repeat(8000)}`],
      ["OPTIONS", "/api/v1/auth/verify-otp-email"],
      ["QUERY", "/health"],
      ["DELETE", "/api/v1/users/me"],
    ];
    for (const [method, path] of cases) {
      const res = await app.call(method, path);
      assert.ok(res.status >= 400 && res.status < 500, `${method} ${path} → ${res.status}`);
      assertEnvelope(res, res.status);
    }
    for (const authorization of ["Bearer", "Bearer ", "Basic abc", `Bearer ${"x".repeat(10_000)}`, "Bearer a.b.c.d.e"]) {
      const res = await app.get("/api/v1/users/me", { authorization });
      assertEnvelope(res, 401);
    }
  });
});
