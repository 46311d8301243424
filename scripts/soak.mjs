// Load-and-soak: runs the login flow concurrently against `npm run dev`
// (wrangler dev, local KV and D1) on loopback, bounded in requests and time,
// then checks that nothing was lost or duplicated. Exit code 0 means it held.
//
//   npm run soak            SOAK_USERS=60 SOAK_CONCURRENCY=16 SOAK_SECONDS=60 npm run soak
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startResendStub } from "../tests/e2e/support/resend_stub.mjs";

const ROOT = new URL("../", import.meta.url).pathname;
const USERS = Number(process.env.SOAK_USERS ?? 40);
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 12);
const DEADLINE = Date.now() + 1000 * Number(process.env.SOAK_SECONDS ?? 90);
const port = 28787 + Math.floor(Math.random() * 1000);
const base = `http://127.0.0.1:${port}`;

const mail = await startResendStub();
const state = mkdtempSync(join(tmpdir(), "allmine-soak-"));
const dev = spawn(
  "npm",
  ["run", "dev", "--", "--var", "EMAIL_PROVIDER:resend", "--var", `EMAIL_API_URL:${mail.url}`,
    "--var", "EMAIL_API_KEY:re_test_key", "--var", "OTP_RESEND_COOLDOWN_SECONDS:0",
    "--var", "OTP_SENDS_PER_HOUR:1000"],
  { cwd: ROOT, env: { ...process.env, PORT: String(port), DEV_PERSIST_TO: state }, detached: true, stdio: "ignore" },
);
const stop = () => {
  try {
    process.kill(-dev.pid, "SIGTERM");
  } catch {
    // already gone
  }
};
process.on("exit", stop);

const stats = { requests: 0, byStatus: {}, logins: 0, refreshed: 0 };
let clientIp = 0;
async function post(path, body) {
  if (Date.now() > DEADLINE) throw new Error("soak ran out of time");
  stats.requests++;
  // A distinct client IP per request, so the per-IP flood limits stay out of the way.
  clientIp = (clientIp + 1) % 60000;
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "cf-connecting-ip": `10.${clientIp >> 8}.${clientIp & 255}.1`,
    },
    body: JSON.stringify(body),
  });
  stats.byStatus[res.status] = (stats.byStatus[res.status] ?? 0) + 1;
  return { status: res.status, body: await res.json() };
}

async function waitForHealth() {
  while (Date.now() < DEADLINE) {
    try {
      if ((await fetch(`${base}/health`)).status === 200) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error("wrangler dev did not start");
}

// One user's story: log in, race two verifies of the next code, refresh once.
async function story(i) {
  const email = `soak-${i}@example.com`;
  await post("/api/v1/auth/send-otp-email", { email });
  const first = await post("/api/v1/auth/verify-otp-email", { email, code: mail.codeFor(email) });
  assert.equal(first.status, 200, JSON.stringify(first.body));
  stats.logins++;

  await post("/api/v1/auth/send-otp-email", { email });
  const code = mail.codeFor(email);
  const race = await Promise.all([1, 2, 3].map(() => post("/api/v1/auth/verify-otp-email", { email, code })));
  const won = race.filter((r) => r.status === 200).length;
  assert.equal(won, 1, `one of three racing verifies wins, got ${race.map((r) => r.status)}`);
  stats.logins++;

  const refreshed = await post("/api/v1/auth/refresh-token", { refreshToken: first.body.data.refreshToken });
  assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
  stats.refreshed++;
}

function d1(sql) {
  const out = execFileSync(
    "npx",
    ["wrangler", "d1", "execute", "DB", "--local", "--persist-to", state, "--json", "--command", sql],
    { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
  );
  return JSON.parse(out)[0].results;
}

let failed = false;
try {
  await waitForHealth();
  const started = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < USERS) await story(next++);
    }),
  );
  const seconds = (Date.now() - started) / 1000;

  const [{ users, uniq }] = d1("SELECT count(*) AS users, count(DISTINCT email) AS uniq FROM users");
  const [{ sessions, orphans }] = d1(
    "SELECT count(*) AS sessions, sum(u.id IS NULL) AS orphans FROM sessions s LEFT JOIN users u ON u.id = s.user_id",
  );
  const fiveXX = Object.entries(stats.byStatus).filter(([s]) => Number(s) >= 500);
  console.log(JSON.stringify({ ...stats, seconds, users, sessions }, null, 1));
  assert.equal(users, USERS, "one user per address");
  assert.equal(uniq, users, "no duplicate users");
  assert.equal(sessions, stats.logins, "every successful login has exactly one session");
  assert.equal(orphans ?? 0, 0, "no session without its user");
  assert.deepEqual(fiveXX, [], "no 5xx");
  console.log(`soak: ${USERS} passed, 0 failed`);
} catch (err) {
  failed = true;
  console.error(`soak failed: ${err.stack ?? err}`);
} finally {
  stop();
  await mail.close();
  rmSync(state, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
