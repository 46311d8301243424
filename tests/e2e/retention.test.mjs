// The Cron Trigger's retention purge: ended sessions, spent rate-limit counters
// and audit events past AUDIT_RETENTION_DAYS go; everything still in use stays.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { decodeJwt } from "jose";
import { spawnApp } from "../../harness/app.mjs";
import { assertEnvelope } from "../../harness/envelope.mjs";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let app;
// A retention other than the default, to see the setting is the one applied.
before(async () => (app = await spawnApp({ vars: { AUDIT_RETENTION_DAYS: "30" } })));
after(() => app?.dispose());

const iso = (ms) => new Date(ms).toISOString();

async function ids(table, key, prefix) {
  const { results } = await app.db
    .prepare(`SELECT ${key} AS id FROM ${table} WHERE ${key} LIKE ? ORDER BY ${key}`)
    .bind(`${prefix}%`)
    .all();
  return results.map((r) => r.id);
}

test("the scheduled job purges exactly what is past retention and logs the counts", async () => {
  const s = await app.session();
  const user = decodeJwt(s.accessToken).sub;
  const now = Date.now();

  // Sessions: [id, expires_at, revoked_at, should stay?]
  const sessions = [
    ["ret-s-expired-2d", now - 2 * DAY, null, false],
    ["ret-s-revoked-expired-2d", now - 2 * DAY, now - 20 * DAY, false],
    ["ret-s-expired-1h", now - HOUR, null, true], // kept a day past its expiry
    ["ret-s-revoked-live", now + 20 * DAY, now - HOUR, true],
    ["ret-s-live", now + 20 * DAY, null, true],
  ];
  for (const [id, expires, revoked] of sessions) {
    await app.db
      .prepare(
        `INSERT INTO sessions (id, user_id, refresh_jti, created_at, expires_at, revoked_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .bind(id, user, `jti-${id}`, iso(now - 40 * DAY), iso(expires), revoked === null ? null : iso(revoked))
      .run();
  }

  // Counters: [key, window_start, updated_at, count, should stay?]
  const counters = [
    ["ret-c-spent", now - 2 * DAY, now - 2 * DAY, 3, false],
    // Its window began long ago but it changed an hour ago: a lockout may still run from it.
    ["ret-c-recent-change", now - 2 * DAY, now - HOUR, 10, true],
    ["ret-c-this-hour", now - 10 * 60_000, now - 60_000, 1, true],
  ];
  for (const [key, windowStart, updatedAt, count] of counters) {
    await app.db
      .prepare("INSERT INTO rate_limits (key, window_start, count, updated_at) VALUES (?, ?, ?, ?)")
      .bind(key, windowStart, count, updatedAt)
      .run();
  }

  // Audit events: [detail, at, should stay?] with AUDIT_RETENTION_DAYS=30.
  const events = [
    ["ret-a-31d", now - 31 * DAY, false],
    ["ret-a-400d", now - 400 * DAY, false],
    ["ret-a-29d", now - 29 * DAY, true],
    ["ret-a-today", now - HOUR, true],
  ];
  for (const [detail, at] of events) {
    await app.db
      .prepare("INSERT INTO audit_events (at, event, detail) VALUES (?, 'login', ?)")
      .bind(iso(at), detail)
      .run();
  }

  await app.runScheduled();

  const kept = (rows) => rows.filter((r) => r.at(-1)).map((r) => r[0]).sort();
  assert.deepEqual(await ids("sessions", "id", "ret-s-"), kept(sessions));
  assert.deepEqual(await ids("rate_limits", "key", "ret-c-"), kept(counters));
  assert.deepEqual(await ids("audit_events", "detail", "ret-a-"), kept(events));

  // The login's own session, counters and audit trail are in use: untouched.
  assertEnvelope(await app.authed("GET", "/api/v1/users/me", s.accessToken), 200);
  const { n } = await app.db.prepare("SELECT COUNT(*) AS n FROM audit_events WHERE user_id = ?").bind(user).first();
  assert.ok(n >= 1);

  // The scheduled log line says how many rows each purge removed.
  const scheduledLine = () =>
    app.logs
      .join("")
      .split("\n")
      .flatMap((l) => {
        try {
          return [JSON.parse(l)];
        } catch {
          return []; // not a log line of ours, or not complete yet
        }
      })
      .find((l) => l.event === "scheduled");
  for (let i = 0; i < 50 && !scheduledLine(); i++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(scheduledLine()?.purged, { sessions: 2, rateLimits: 1, auditEvents: 2 });

  // A second run finds nothing more to do.
  await app.runScheduled();
  assert.deepEqual(await ids("sessions", "id", "ret-s-"), kept(sessions));
});

test("with no webhook receivers, a login's event costs no call of its own: the cron marks it sent", async () => {
  const s = await app.session();
  const user = decodeJwt(s.accessToken).sub;
  const outbox = async () =>
    (await app.db.prepare("SELECT id, type, sent_at FROM event_outbox WHERE user_id = ?").bind(user).all()).results;
  // Past the response's waitUntil work: still unsent, since nothing is published per request.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const [row] = await outbox();
  assert.equal(row.type, "user.created");
  assert.equal(row.sent_at, null, "no D1 call after the login marks it");

  // A leftover (older than a minute) is marked sent by the cron, with nowhere to deliver it.
  await app.db.prepare("UPDATE event_outbox SET created_at = ? WHERE id = ?").bind(iso(Date.now() - HOUR), row.id).run();
  await app.runScheduled();
  assert.ok((await outbox())[0].sent_at, "the cron marked it sent");
});
