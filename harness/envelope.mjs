import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

// The contract's error codes: every error answer must carry one of them.
const ERROR_CODES = JSON.parse(readFileSync(new URL("../api/openapi.json", import.meta.url), "utf8"))
  .components.schemas.ErrorCode.enum;

const ISO_MILLIS_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Asserts the documented envelope and returns its `data`. */
export function assertEnvelope(res, status) {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text}`);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  const body = res.body;
  assert.ok(body && typeof body === "object", `body is not JSON: ${res.text}`);
  assert.deepEqual(
    Object.keys(body).filter((k) => k !== "keys").sort(),
    ["data", "errors", "isSuccess", "statusCode", "timestamp"],
  );
  assert.equal(body.statusCode, status);
  assert.equal(body.isSuccess, status >= 200 && status < 300);
  assert.ok(Array.isArray(body.errors) && body.errors.every((e) => typeof e === "string"));
  assert.match(body.timestamp, ISO_MILLIS_Z);
  if (body.isSuccess) {
    assert.deepEqual(body.errors, []);
  } else {
    assert.equal(body.data, null);
    assert.ok(body.errors.length > 0, "an error envelope names at least one error");
    const code = res.headers.get("error-code");
    assert.ok(ERROR_CODES.includes(code), `Error-Code ${code} is not in the contract's ErrorCode`);
  }
  return body.data;
}
