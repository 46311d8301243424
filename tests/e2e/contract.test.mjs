// The API contract: the served document is the committed one, the shipped
// TypeScript types are generated from it and usable, and the worker's answers
// match it.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import openapiTS, { astToString } from "openapi-typescript";
import { freshEmail, spawnApp } from "../../harness/app.mjs";
import { assertEnvelope } from "../../harness/envelope.mjs";

const ROOT = new URL("../../", import.meta.url).pathname;
const spec = JSON.parse(readFileSync(`${ROOT}api/openapi.json`, "utf8"));

let app;
before(async () => (app = await spawnApp()));
after(() => app?.dispose());

test("GET /api/v1/openapi.json serves the committed document itself, not in the envelope", async () => {
  const res = await app.get("/api/v1/openapi.json");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type"), /^application\/json/);
  assert.equal(res.headers.get("cache-control"), "no-cache");
  assert.deepEqual(res.body, spec);
  assert.equal(res.body.openapi, "3.1.0");
  assert.deepEqual(res.body.servers.map((s) => s.url), ["http://127.0.0.1:8787", "https://auth.allmine.app"]);
  // Its own description of that answer says the same.
  const documented = spec.paths["/api/v1/openapi.json"].get.responses["200"].content["application/json"].schema;
  assert.deepEqual(documented.required, ["openapi", "info", "paths"]);
  assert.equal(documented.properties.isSuccess, undefined);
});

test("the standard documents are described in their own form, and only they are", () => {
  const standard = [
    "/api/v1/openapi.json", "/.well-known/jwks.json", "/.well-known/openid-configuration",
    "/.well-known/oauth-authorization-server",
  ];
  // RFC 6749's token endpoint answers in its own form, errors included; only
  // the router's 405 (before any route runs) is the envelope.
  const oauth = (path, status) => path === "/oauth/token" && status !== "405";
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      for (const [status, response] of Object.entries(op.responses)) {
        const schema = response.content?.["application/json"]?.schema;
        const resolved = schema?.$ref ? spec.components.schemas[schema.$ref.split("/").pop()] : schema;
        const envelope = Boolean(resolved?.required?.includes("isSuccess"));
        const ownForm = (standard.includes(path) && status === "200") || oauth(path, status);
        assert.equal(envelope, !ownForm, `${method.toUpperCase()} ${path} ${status}`);
      }
    }
  }
});

test("the shipped TypeScript types are generated from the document (npm run types)", async () => {
  const generated = astToString(await openapiTS(spec, { rootTypes: true, rootTypesNoSchemaPrefix: true }));
  const committed = readFileSync(`${ROOT}types/api.d.ts`, "utf8");
  const strip = (s) => s.replace(/^\/\*\*[\s\S]*?\*\/\s*/, "").trim(); // the generator's banner
  assert.equal(strip(committed), strip(generated), "types/api.d.ts is stale: run npm run types");
});

// Asynchronously: a blocked event loop lets workerd close the idle keep-alive
// connection under the next request ("other side closed").
test("an app can import the types by name", async () => {
  await promisify(execFile)(`${ROOT}node_modules/.bin/tsc`, ["-p", `${ROOT}tests/types/tsconfig.json`], { cwd: ROOT });
});

test("documented examples and real answers agree on the login shape", async () => {
  const documented = spec.paths["/api/v1/auth/verify-otp-email"].post.responses["200"].content["application/json"].example;
  const real = assertEnvelope(await app.login(freshEmail()), 200);
  assert.deepEqual(Object.keys(real).sort(), Object.keys(documented.data).sort());
  assert.deepEqual(Object.keys(real.user).sort(), Object.keys(documented.data.user).sort());
  assert.deepEqual(
    Object.keys(real.user).sort(),
    [...spec.components.schemas.User.required].sort(),
  );
});
