// `npm run dev` as a developer runs it: wrangler dev on the real config, local KV
// and D1 with migrations applied, `-- --var` reaching wrangler, and the port
// taken from PORT or from `-- --port`.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { decodeJwt } from "jose";
import { isDevProxyLoss, waitForHealth } from "../../harness/devserver.mjs";
import { freshEmail } from "../../harness/app.mjs";
import { assertEnvelope } from "../../harness/envelope.mjs";
import { freePort } from "../../harness/ports.mjs";
import { startResendStub } from "../../harness/resend_stub.mjs";
import { ROOT } from "../../harness/worker_options.mjs";

let mail, base;
const started = [];

async function healthy(url, deadline) {
  if (!(await waitForHealth(url, deadline))) throw new Error("wrangler dev did not become healthy in time");
}

/** `npm run dev -- <args>` with extra environment; resolves once `/health` answers at `port`. */
async function startDev(args, env, port) {
  const dir = mkdtempSync(join(tmpdir(), "allmine-dev-"));
  const child = spawn("npm", ["run", "dev", "--", ...args], {
    cwd: ROOT, env: { ...process.env, DEV_PERSIST_TO: dir, ...env }, detached: true, stdio: "pipe",
  });
  started.push({ child, dir });
  let output = "";
  child.stdout.on("data", (c) => (output += c));
  child.stderr.on("data", (c) => (output += c));
  // A refused command line ends the process at once: fail then, not at the deadline.
  const exited = new Promise((_, reject) =>
    child.on("exit", (code) => reject(new Error(`npm run dev exited (${code})`))));
  exited.catch(() => {}); // a later exit (stopped by the test) is not a failure
  try {
    await Promise.race([healthy(`http://127.0.0.1:${port}`, Date.now() + 240_000), exited]);
  } catch (err) {
    throw new Error(`${err.message}\n${output.slice(-4000)}`);
  }
  return `http://127.0.0.1:${port}`;
}

function stopAll() {
  for (const { child, dir } of started.splice(0)) {
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

before(async () => {
  mail = await startResendStub();
  const port = await freePort();
  base = await startDev(
    ["--var", "EMAIL_PROVIDER:resend", "--var", `EMAIL_API_URL:${mail.url}`, "--var", "EMAIL_API_KEY:re_test_key"],
    { PORT: String(port) },
    port,
  );
});

after(async () => {
  stopAll();
  await mail?.close();
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
  // The local issuer follows the port (PORT here): tokens name where they came from.
  assert.equal(decodeJwt(data.accessToken).iss, base);
  await assertMetadataNames(base);
});

/** The metadata of a dev server: both documents name it as issuer and token endpoint. */
async function assertMetadataNames(url) {
  for (const path of ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]) {
    const doc = await (await fetch(`${url}${path}`)).json();
    assert.equal(doc.issuer, url, path);
    assert.equal(doc.token_endpoint, `${url}/oauth/token`, path);
    assert.equal(doc.jwks_uri, `${url}/.well-known/jwks.json`, path);
  }
}

test("wrangler dev serves /docs with its security headers (web/_headers)", async () => {
  const res = await fetch(`${base}/docs`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-security-policy") ?? "", /frame-ancestors 'none'/);
  assert.equal(res.headers.get("x-frame-options"), "DENY");
});

test("the soak tells wrangler's lost-request 503 from the service's answers", async () => {
  // The answer exactly as the installed wrangler's ProxyWorker builds it: if an
  // upgrade changes it, the soak would judge it as a service answer (and fail).
  const proxy = readFileSync(join(ROOT, "node_modules/wrangler/wrangler-dist/ProxyWorker.js"), "utf8");
  const text = /"(Your worker restarted mid-request[^"]*)"/.exec(proxy)?.[1];
  assert.ok(text && /status: 503,\s*headers: \{ "Retry-After": "0" \}/.test(proxy), "wrangler's ProxyWorker changed");
  assert.ok(isDevProxyLoss(503, new Headers({ "Retry-After": "0" }), text));
  // The service's own refusal through the same proxy is not one.
  const res = await fetch(`${base}/health`, { method: "POST" });
  assert.equal(isDevProxyLoss(res.status, res.headers, await res.text()), false);
  assert.equal(isDevProxyLoss(503, new Headers({ "Retry-After": "0" }), '{"isSuccess":false,"statusCode":503}'), false);
});

test("a --port after -- is used (and wins over PORT), not passed twice", async () => {
  // One dev server at a time: each runs the build into the same build/.
  stopAll();
  const wanted = await freePort();
  // PORT names another port, which must stay free; had dev.sh passed its own
  // --port as well, wrangler would have refused the two ("expects a single value").
  let other = await freePort();
  while (other === wanted) other = await freePort();
  const url = await startDev(["--port", String(wanted)], { PORT: String(other) }, wanted);
  const health = await fetch(`${url}/health`);
  assertEnvelope({ status: health.status, headers: health.headers, body: await health.json() }, 200);
  await assert.rejects(fetch(`http://127.0.0.1:${other}/health`));
  // The issuer follows that port too (wrangler.toml's local one says 8787).
  assert.notEqual(wanted, 8787);
  await assertMetadataNames(url);
});
