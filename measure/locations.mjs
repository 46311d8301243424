// `npm run locations`: the cost of distance and the size of one database,
// measured on the real worker (the test build in workerd, local KV and D1).
//
// 1. Round trips: every endpoint's paths are run once and their request log
//    lines read back; each line carries the critical path of its storage calls
//    (`waits`, e.g. `kv+limiter>d1`: a KV read beside the flood check, then one
//    D1 batch), counted by the same instrumentation the benchmark prints.
// 2. Latency: each path is priced for users in five cities with the D1
//    primary in western Europe, from published round-trip times, for the
//    worker at the edge, with Smart Placement and pinned near the primary.
// 3. Capacity: USERS logins (with registration and a refresh) on a persisted
//    local D1; bytes per row of each table, with its indexes, from SQLite's
//    dbstat (python3's sqlite3), and D1's own time and rows written per
//    statement batch from its result metadata.
//
//   npm run locations            USERS=300 npm run locations
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freshEmail, spawnApp } from "../harness/app.mjs";

const USERS = Number(process.env.USERS ?? 200);

// Round-trip times in ms, published medians (WonderNetwork city-to-city pings
// and Cloudflare's own region figures, rounded). "edge" is the user's nearest
// Cloudflare location; the D1 primary is in western Europe (`--location weur`),
// Resend's API in us-east-1.
const CITIES = ["Frankfurt", "Virginia", "Sao Paulo", "Mumbai", "Sydney"];
const RTT = {
  userToEdge: 10, // a user to the Cloudflare location in their own city
  edgeToPrimary: { Frankfurt: 12, Virginia: 80, "Sao Paulo": 190, Mumbai: 115, Sydney: 270 },
  edgeToMail: { Frankfurt: 90, Virginia: 5, "Sao Paulo": 120, Mumbai: 190, Sydney: 200 },
  primaryToMail: 80, // western Europe to us-east-1
  // EMAIL_PROVIDER=cloudflare: the send_email binding hands the message to
  // Cloudflare Email Service inside Cloudflare's network, wherever the Worker
  // runs. No latency figure is published (the service is in beta); assumed 30
  // ms to acceptance: a hop from the Worker's location to an internal service
  // that may sit in a core data center (like the ~15-40 ms Cloudflare-internal
  // round trips priced above), plus the service's own checks before it
  // answers. Measure it on a deployment before relying on it.
  cloudflareMail: 30,
  nearPrimary: 2, // a Worker placed beside the primary
  kv: 5, // a KV read or write served in the Worker's location (hot)
  local: 0, // the rate-limiting binding answers in the Worker's location
};

/** One call's latency: the user's round trip to where the Worker runs, then each wait. */
function price(waits, city, placement, provider = "resend") {
  const placed = placement !== "edge";
  const toWorker = RTT.userToEdge + (placed ? RTT.edgeToPrimary[city] : 0);
  const cost = {
    d1: placed ? RTT.nearPrimary : RTT.edgeToPrimary[city],
    kv: RTT.kv,
    mail: provider === "cloudflare" ? RTT.cloudflareMail : placed ? RTT.primaryToMail : RTT.edgeToMail[city],
    limiter: RTT.local,
    challenge: placed ? RTT.primaryToMail : RTT.edgeToMail[city],
  };
  const steps = waits ? waits.split(">").map((step) => Math.max(...step.split("+").map((k) => cost[k]))) : [];
  return toWorker + steps.reduce((a, b) => a + b, 0);
}

/** A full complete-registration body, with a username of its own. */
function registration(tag) {
  return {
    name: "Johnathan", surname: "Doe-Smithson", username: `${tag}_${Date.now() % 100000}`,
    birthDate: "1990-01-15", gender: "male", interests: ["music", "travel", "technology"],
    privacyPolicyAccepted: true, privacyPolicyVersion: "1.2.0", termsOfUseAccepted: true,
    termsOfUseVersion: "1.1.0", consentFormAccepted: true, consentFormVersion: "1.0.0",
    bio: "Passionate about technology and travel, coffee and long walks.", countryCode: "90",
    phoneNumber: "5372505890", timezone: "Europe/Istanbul", instagram: "myinstagram",
  };
}

function requestLines(app) {
  return app.logs
    .join("")
    .split("\n")
    .filter((l) => l.includes('"event":"request"'))
    .map((l) => JSON.parse(l.slice(l.indexOf("{"))));
}

async function roundTrips() {
  const app = await spawnApp();
  const seen = [];
  const record = async (name, call) => {
    const before = requestLines(app).length;
    const res = await call();
    const line = requestLines(app).slice(before).at(-1);
    seen.push({ name, status: res.status, waits: line.waits, ...line.trips });
    return res;
  };
  try {
    const email = freshEmail();
    await record("GET /health", () => app.get("/health"));
    await record("send-otp-email", () => app.sendOtp(email));
    const code = app.mail.codeFor(email);
    const wrong = code === "000000" ? "111111" : "000000";
    await record("verify: wrong code", () => app.verifyOtp(email, wrong));
    const login = await record("verify: right code (KV current)", () => app.verifyOtp(email, code));
    const { accessToken, refreshToken } = login.body.data;
    await record("verify: no code pending", () => app.verifyOtp(freshEmail(), "123456"));
    const stale = freshEmail();
    const staleCode = await app.requestCode(stale);
    await app.kv.delete(`otp:${stale}`);
    await record("verify: KV missing or stale (fallback)", () => app.verifyOtp(stale, staleCode));
    const spent = freshEmail();
    const spentCode = await app.requestCode(spent);
    for (let i = 0; i < 5; i++) await app.verifyOtp(spent, spentCode === "000000" ? "111111" : "000000");
    await record("verify: code exhausted", () => app.verifyOtp(spent, spentCode));
    const auth = { authorization: `Bearer ${accessToken}` };
    const refreshed = await record("refresh-token", () => app.post("/api/v1/auth/refresh-token", { refreshToken }));
    await record("GET /users/me", () => app.get("/api/v1/users/me", auth));
    await record("PATCH /users/me", () => app.call("PATCH", "/api/v1/users/me", { bio: "hi" }, auth));
    await record("logout", () =>
      app.post("/api/v1/auth/logout", { refreshToken: refreshed.body.data.refreshToken }, auth),
    );
    await record("GET /.well-known/jwks.json", () => app.get("/.well-known/jwks.json"));
    await record("GET /.well-known/openid-configuration", () => app.get("/.well-known/openid-configuration"));
    // The endpoints for apps: registration, devices, deletion, the OAuth form.
    const other = await app.session();
    const bearer = other.accessToken;
    await record("complete-registration", () =>
      app.authed("POST", "/api/v1/auth/complete-registration", bearer, registration("loc")),
    );
    const sessions = await record("GET /users/me/sessions", () => app.authed("GET", "/api/v1/users/me/sessions", bearer));
    const second = await app.session(other.email);
    await record("DELETE /users/me/sessions/{id}", () =>
      app.authed("DELETE", `/api/v1/users/me/sessions/${sessions.body.data.sessions.find((x) => x.current).id}`, second.accessToken),
    );
    await record("POST /users/me/deletion (with its code)", () => app.scheduleDeletion(second));
    await record("DELETE /users/me/deletion", () => app.authed("DELETE", "/api/v1/users/me/deletion", second.accessToken));
    await record("POST /oauth/token (refresh_token grant)", () =>
      app.raw("POST", "/oauth/token", {
        body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: second.refreshToken }).toString(),
        headers: { "content-type": "application/x-www-form-urlencoded" },
      }),
    );
  } finally {
    await app.dispose();
  }
  return seen;
}

function sqliteSizes(dir) {
  const files = [];
  const walk = (d) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (f.endsWith(".sqlite")) files.push(p);
    }
  };
  walk(join(dir, "d1"));
  const file = files.find((f) => statSync(f).size > 0 && !f.includes("metadata"));
  assert.ok(file, `no D1 SQLite file under ${dir}`);
  const python = `
import json, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
owner = dict(c.execute("SELECT name, tbl_name FROM sqlite_schema WHERE type IN ('table','index')"))
sizes = {}
for name, size in c.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
    table = owner.get(name, name)
    sizes[table] = sizes.get(table, 0) + size
rows = {t: c.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in sizes if t in owner and not t.startswith(('sqlite_', '_cf_', 'd1_'))}
print(json.dumps({"sizes": sizes, "rows": rows}))
`;
  return JSON.parse(execFileSync("python3", ["-c", python, file], { encoding: "utf8" }));
}

async function capacity() {
  const dir = mkdtempSync(join(tmpdir(), "allmine-capacity-"));
  const app = await spawnApp({ persist: dir });
  const d1 = { send: [], login: [], refresh: [] };
  const lastTrips = () => requestLines(app).at(-1).trips;
  try {
    for (let i = 0; i < USERS; i++) {
      const email = freshEmail("capacity");
      await app.sendOtp(email);
      d1.send.push(lastTrips());
      const res = await app.verifyOtp(email, app.mail.codeFor(email));
      assert.equal(res.status, 200, res.text);
      d1.login.push(lastTrips());
      const { accessToken, refreshToken } = res.body.data;
      await app.authed("POST", "/api/v1/auth/complete-registration", accessToken, registration(`user_${i}`));
      await app.post("/api/v1/auth/refresh-token", { refreshToken });
      d1.refresh.push(lastTrips());
    }
    await new Promise((r) => setTimeout(r, 500)); // audit rows are written after the response
  } finally {
    await app.dispose();
  }
  const measured = sqliteSizes(dir);
  rmSync(dir, { recursive: true, force: true });
  const mean = (xs, f) => xs.reduce((a, x) => a + f(x), 0) / xs.length;
  const perRow = (t) => measured.sizes[t] / Math.max(1, measured.rows[t]);
  return {
    users: USERS,
    bytesPerRow: Object.fromEntries(Object.keys(measured.rows).map((t) => [t, Math.round(perRow(t))])),
    rows: measured.rows,
    d1: Object.fromEntries(
      Object.entries(d1).map(([k, xs]) => [
        k,
        { ms: Number(mean(xs, (t) => t.d1_ms).toFixed(3)), rowsWritten: Number(mean(xs, (t) => t.d1_rows_written).toFixed(1)), batches: mean(xs, (t) => t.d1) },
      ]),
    ),
  };
}

const trips = await roundTrips();
console.log("\nRound trips per endpoint (critical path: waits in order, '+' = side by side)\n");
console.log("| Endpoint and path | Status | Sequential | KV | D1 | Mail | Critical path |");
console.log("| --- | --- | --- | --- | --- | --- | --- |");
for (const t of trips) {
  console.log(`| ${t.name} | ${t.status} | ${t.sequential} | ${t.kv} | ${t.d1} | ${t.mail} | \`${t.waits || "none"}\` |`);
}

console.log("\nLatency model, ms (D1 primary in western Europe; edge / Smart Placement near the primary)\n");
console.log(`| Endpoint | ${CITIES.join(" | ")} |`);
console.log(`| --- | ${CITIES.map(() => "---").join(" | ")} |`);
for (const t of trips.filter((t) => !t.name.startsWith("verify: no") && !t.name.includes("exhausted"))) {
  const cells = CITIES.map((c) => `${price(t.waits, c, "edge")} / ${price(t.waits, c, "placed")}`);
  console.log(`| ${t.name} | ${cells.join(" | ")} |`);
}
// The one path that mails, with Cloudflare Email Service in place of Resend.
for (const t of trips.filter((t) => t.mail > 0)) {
  const cells = CITIES.map((c) => `${price(t.waits, c, "edge", "cloudflare")} / ${price(t.waits, c, "placed", "cloudflare")}`);
  console.log(`| ${t.name}, EMAIL_PROVIDER=cloudflare | ${cells.join(" | ")} |`);
}

const cap = await capacity();
const GB = 10 * 1024 ** 3;
const perUser = cap.bytesPerRow.users + cap.bytesPerRow.sessions + 2 * cap.bytesPerRow.audit_events;
console.log(`\nCapacity, measured on ${cap.users} logins with registration and a refresh\n`);
console.log("| Table | rows | bytes per row (with indexes) |");
console.log("| --- | --- | --- |");
for (const [t, b] of Object.entries(cap.bytesPerRow)) console.log(`| ${t} | ${cap.rows[t]} | ${b} |`);
console.log("\n| Operation | D1 batches | D1 time (ms) | rows written |");
console.log("| --- | --- | --- | --- |");
for (const [k, v] of Object.entries(cap.d1)) console.log(`| ${k} | ${v.batches} | ${v.ms} | ${v.rowsWritten} |`);
console.log(
  `\nOne 10 GB database holds about ${Math.round(GB / perUser / 1e6)} million users ` +
    `(a user with one session and two audit rows: ${perUser} bytes). Writes are serialised on the primary: ` +
    `at ${cap.d1.login.ms} ms of D1 time per login and ${cap.d1.send.ms} ms per send, one database serves about ` +
    `${Math.round(1000 / (cap.d1.login.ms + cap.d1.send.ms))} logins a second (a send and a verify each).`,
);
console.log(JSON.stringify({ trips, capacity: cap }));
