// `npm run dev` as a developer runs it: wrangler dev on the real config, local KV
// and D1 with migrations applied, and `-- --var` reaching wrangler.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { freshEmail } from "./support/app.mjs";
import { assertEnvelope } from "./support/envelope.mjs";
import { startResendStub } from "./support/resend_stub.mjs";

const ROOT = new URL("../../", import.meta.url).pathname;
let dev, mail, base, state;

async function waitForHealth(url, deadline) {
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/health`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error("wrangler dev did not become healthy in time");
}

before(async () => {
  mail = await startResendStub();
  state = mkdtempSync(join(tmpdir(), "allmine-dev-"));
  const port = 18787 + Math.floor(Math.random() * 1000);
  base = `http://127.0.0.1:${port}`;
  dev = spawn(
    "npm",
    ["run", "dev", "--", "--var", "EMAIL_PROVIDER:resend", "--var", `EMAIL_API_URL:${mail.url}`,
      "--var", "EMAIL_API_KEY:re_test_key"],
    { cwd: ROOT, env: { ...process.env, PORT: String(port), DEV_PERSIST_TO: state }, detached: true, stdio: "pipe" },
  );
  let output = "";
  dev.stdout.on("data", (c) => (output += c));
  dev.stderr.on("data", (c) => (output += c));
  try {
    await waitForHealth(base, Date.now() + 240_000);
  } catch (err) {
    throw new Error(`${err.message}\n${output.slice(-4000)}`);
  }
});

after(async () => {
  if (dev) {
    try {
      process.kill(-dev.pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
  await mail?.close();
  if (state) rmSync(state, { recursive: true, force: true });
});

const post = async (path, body) => {
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: await res.json(), text: "" };
};

test("npm run dev serves the login flow with --var overrides", async () => {
  const health = await fetch(`${base}/health`);
  assertEnvelope({ status: health.status, headers: health.headers, body: await health.json() }, 200);

  const email = freshEmail("dev");
  assertEnvelope(await post("/api/v1/auth/send-otp-email", { email }), 200);
  const code = mail.codeFor(email);
  const data = assertEnvelope(await post("/api/v1/auth/verify-otp-email", { email, code }), 200);
  assert.equal(data.user.email, email);
  assert.ok(data.accessToken.split(".").length === 3);
});

test("wrangler dev serves /docs with its security headers (web/_headers)", async () => {
  const res = await fetch(`${base}/docs`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-security-policy") ?? "", /frame-ancestors 'none'/);
  assert.equal(res.headers.get("x-frame-options"), "DENY");
});
