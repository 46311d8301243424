// A user's devices: the list of their live sessions, each with the device and
// place of the login that opened it (GET /api/v1/users/me/sessions), and
// ending one of them (DELETE /api/v1/users/me/sessions/{id}), which tells
// downstream services (`session.revoked`, delivered to a local receiver).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { decodeJwt } from "jose";
import { freshEmail, fromPlace } from "../../harness/app.mjs";
import { assertEnvelope } from "../../harness/envelope.mjs";
import { spawnAppWithWebhooks, verifyWebhook } from "../../harness/webhook_receiver.mjs";

const IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
const MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
const ISO_MILLIS_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

let app, receiver, WEBHOOK_SECRET, setup;
before(async () => {
  setup = await spawnAppWithWebhooks();
  ({ app, receiver, secret: WEBHOOK_SECRET } = setup);
});
after(() => setup?.dispose());

/** A login from a device (its User-Agent) and a place (its `request.cf`). */
async function loginFrom(email, userAgent, cf) {
  const code = await app.requestCode(email);
  const res = await app.verifyOtp(email, code, { "user-agent": userAgent, ...fromPlace(cf) });
  return { email, ...assertEnvelope(res, 200) };
}

const list = (s) => app.authed("GET", "/api/v1/users/me/sessions", s.accessToken);
const revoke = (s, id) => app.authed("DELETE", `/api/v1/users/me/sessions/${id}`, s.accessToken);
const refresh = (refreshToken) => app.post("/api/v1/auth/refresh-token", { refreshToken });
const me = (s) => app.authed("GET", "/api/v1/users/me", s.accessToken);
const sid = (s) => decodeJwt(s.accessToken).sid;
const userId = (s) => decodeJwt(s.accessToken).sub;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function assertError(res, status, code) {
  assertEnvelope(res, status);
  assert.equal(res.headers.get("error-code"), code, res.text);
}

/** The user's verified `session.revoked` deliveries. */
function revokedEvents(id) {
  return receiver
    .accepted(id)
    .map((a) => verifyWebhook(WEBHOOK_SECRET, a.headers, a.body))
    .filter((e) => e.type === "session.revoked");
}

/** The user's outbox rows of `session.revoked` (written with the change, before any delivery). */
async function revokedInOutbox(id) {
  const { results } = await app.db
    .prepare("SELECT payload FROM event_outbox WHERE user_id = ? AND type = 'session.revoked'")
    .bind(id)
    .all();
  return results.map((r) => JSON.parse(r.payload).data);
}

/** Audit rows are written after the response: wait for one. */
async function waitForAudit(user, event, detail) {
  for (let i = 0; i < 50; i++) {
    const row = await app.db
      .prepare("SELECT 1 AS found FROM audit_events WHERE user_id = ? AND event = ? AND detail = ?")
      .bind(user, event, detail)
      .first();
    if (row) return;
    await sleep(100);
  }
  assert.fail(`no ${event} audit row for ${user}`);
}

describe("the list of sessions", () => {
  test("shows each login's device and place, the caller's first and marked current", async () => {
    const email = freshEmail("devices");
    const phone = await loginFrom(email, IPHONE, { country: "TR", city: "Istanbul" });
    const laptop = await loginFrom(email, MAC, { country: "DE", city: "Berlin" });
    const rotated = assertEnvelope(await refresh(laptop.refreshToken), 200);

    const { sessions } = assertEnvelope(await list(phone), 200);
    assert.equal(sessions.length, 2);
    const [mine, other] = sessions;
    assert.deepEqual(Object.keys(mine).sort(), ["city", "country", "createdAt", "current", "deviceLabel", "id", "refreshedAt"]);
    assert.deepEqual(
      { ...mine, createdAt: undefined },
      { id: sid(phone), deviceLabel: "Safari on iPhone", country: "TR", city: "Istanbul", createdAt: undefined, refreshedAt: null, current: true },
    );
    assert.match(mine.createdAt, ISO_MILLIS_Z);
    assert.deepEqual(
      { ...other, createdAt: undefined, refreshedAt: undefined },
      { id: sid(laptop), deviceLabel: "Chrome on macOS", country: "DE", city: "Berlin", createdAt: undefined, refreshedAt: undefined, current: false },
    );
    assert.match(other.refreshedAt, ISO_MILLIS_Z);
    assert.ok(other.refreshedAt >= other.createdAt);

    // From the laptop's side (its rotated access token, the same session).
    const theirs = assertEnvelope(await app.authed("GET", "/api/v1/users/me/sessions", rotated.accessToken), 200).sessions;
    assert.deepEqual(theirs.map((s) => [s.id, s.current]), [[sid(laptop), true], [sid(phone), false]]);

    // The label is kept, never the header.
    const rows = await app.db.prepare("SELECT * FROM sessions WHERE user_id = ?").bind(userId(phone)).all();
    for (const row of rows.results) {
      assert.ok(!/Mozilla|AppleWebKit|Gecko/.test(JSON.stringify(row)), JSON.stringify(row));
    }
  });

  test("an unrecognised device and an unknown place are null, never the raw values", async () => {
    const s = await loginFrom(freshEmail("devices"), "curl/8.5.0 <script>x</script>", { country: "XX", city: "" });
    const { sessions } = assertEnvelope(await list(s), 200);
    assert.deepEqual(sessions.map((x) => [x.deviceLabel, x.country, x.city]), [[null, null, null]]);
  });

  test("only the user's own live sessions are listed, and another user's list does not show them", async () => {
    const a = await loginFrom(freshEmail("devices"), IPHONE, { country: "TR", city: "Istanbul" });
    const b = await loginFrom(freshEmail("devices"), MAC, { country: "DE", city: "Berlin" });
    const ended = await loginFrom(a.email, MAC, {});
    assertEnvelope(await app.authed("POST", "/api/v1/auth/logout", ended.accessToken, { refreshToken: ended.refreshToken }), 200);
    assert.deepEqual(assertEnvelope(await list(a), 200).sessions.map((s) => s.id), [sid(a)]);
    assert.deepEqual(assertEnvelope(await list(b), 200).sessions.map((s) => s.id), [sid(b)]);
    // The ended session's access token no longer lists anything.
    assertError(await list(ended), 401, "unauthorized");
    assertError(await app.get("/api/v1/users/me/sessions"), 401, "unauthorized");
  });
});

describe("ending one session", () => {
  test("ends it alone: its refresh token stops working, the other's still works; raises session.revoked and is audited", async () => {
    const email = freshEmail("devices");
    const phone = await loginFrom(email, IPHONE, { country: "TR", city: "Istanbul" });
    const lost = await loginFrom(email, MAC, { country: "DE", city: "Berlin" });

    assert.deepEqual(assertEnvelope(await revoke(phone, sid(lost)), 200), { revokedSessions: 1 });
    assertError(await refresh(lost.refreshToken), 401, "unauthorized");
    assertError(await me(lost), 401, "unauthorized");
    const next = assertEnvelope(await refresh(phone.refreshToken), 200);
    assertEnvelope(await app.authed("GET", "/api/v1/users/me", next.accessToken), 200);
    const { sessions } = assertEnvelope(await app.authed("GET", "/api/v1/users/me/sessions", next.accessToken), 200);
    assert.deepEqual(sessions.map((s) => s.id), [sid(phone)]);

    const event = await receiver.waitFor(() => revokedEvents(userId(phone))[0], "session.revoked");
    assert.deepEqual(event.data, { userId: userId(phone), sessionId: sid(lost) });
    await waitForAudit(userId(phone), "session_revoked", sid(lost));

    // Ended once: a second time is a 404, and raises nothing more.
    assertError(await revoke(phone, sid(lost)), 404, "session_not_found");
    await sleep(1000);
    assert.equal(revokedEvents(userId(phone)).length, 1);
    assert.equal((await revokedInOutbox(userId(phone))).length, 1);
  });

  test("another user's session cannot be ended: a 404 like an unknown id, and nothing changes", async () => {
    const alice = await loginFrom(freshEmail("alice"), IPHONE, { country: "TR", city: "Istanbul" });
    const bob = await loginFrom(freshEmail("bob"), MAC, { country: "DE", city: "Berlin" });

    const foreign = await revoke(alice, sid(bob));
    const unknown = await revoke(alice, randomUUID());
    assertError(foreign, 404, "session_not_found");
    assertError(unknown, 404, "session_not_found");
    assert.deepEqual(foreign.body.errors, unknown.body.errors);

    assertEnvelope(await me(bob), 200);
    assertEnvelope(await refresh(bob.refreshToken), 200);
    const row = await app.db.prepare("SELECT revoked_at FROM sessions WHERE id = ?").bind(sid(bob)).first();
    assert.equal(row.revoked_at, null);
    assert.deepEqual(await revokedInOutbox(userId(bob)), []);
    assert.deepEqual(await revokedInOutbox(userId(alice)), []);
    assertEnvelope(await me(alice), 200);
  });

  test("an id that cannot be a session is a 404 envelope with its code, never a 500", async () => {
    const s = await loginFrom(freshEmail("devices"), IPHONE, {});
    const uuid = sid(s);
    for (const id of [
      "not-a-session", uuid.toUpperCase(), uuid.replaceAll("-", ""), `${uuid}0`, "%00", "%2e%2e%2fdeletion",
      "'%20OR%201=1--", encodeURIComponent("ü"), "x".repeat(2000), "%E2%80%AE", "{id}",
    ]) {
      assertError(await revoke(s, id), 404, "session_not_found");
    }
    // Outside the route: no such path, or no such method.
    assertError(await revoke(s, `${uuid}/more`), 404, "route_not_found");
    assertError(await app.authed("DELETE", "/api/v1/users/me/sessions/", s.accessToken), 404, "route_not_found");
    const list405 = await app.authed("DELETE", "/api/v1/users/me/sessions", s.accessToken);
    assertError(list405, 405, "method_not_allowed");
    assert.equal(list405.headers.get("allow"), "GET");
    const one405 = await app.authed("GET", `/api/v1/users/me/sessions/${uuid}`, s.accessToken);
    assertError(one405, 405, "method_not_allowed");
    assert.equal(one405.headers.get("allow"), "DELETE");
    // Without a token, a malformed id and a real one are both a 401.
    assertError(await app.call("DELETE", `/api/v1/users/me/sessions/${uuid}`), 401, "unauthorized");
    assertError(await app.call("DELETE", "/api/v1/users/me/sessions/nope"), 401, "unauthorized");
    // Nothing of it ended the session.
    assertEnvelope(await list(s), 200);
  });

  test("ending the caller's own session is a logout", async () => {
    const email = freshEmail("devices");
    const s = await loginFrom(email, IPHONE, { country: "TR", city: "Istanbul" });
    const other = await loginFrom(email, MAC, {});

    assert.deepEqual(assertEnvelope(await revoke(s, sid(s)), 200), { revokedSessions: 1 });
    assertError(await refresh(s.refreshToken), 401, "unauthorized");
    assertError(await me(s), 401, "unauthorized");
    assertError(await list(s), 401, "unauthorized");
    // Its access token can no longer end the user's other sessions.
    assertError(await revoke(s, sid(other)), 401, "unauthorized");
    assertEnvelope(await refresh(other.refreshToken), 200);
    const row = await app.db.prepare("SELECT revoked_reason FROM sessions WHERE id = ?").bind(sid(s)).first();
    assert.equal(row.revoked_reason, "logout");
    const event = await receiver.waitFor(() => revokedEvents(userId(s))[0], "session.revoked");
    assert.deepEqual(event.data, { userId: userId(s), sessionId: sid(s) });
  });

  test("a logout with a refresh token raises session.revoked too", async () => {
    const s = await loginFrom(freshEmail("devices"), IPHONE, {});
    const res = await app.authed("POST", "/api/v1/auth/logout", s.accessToken, { refreshToken: s.refreshToken });
    assert.deepEqual(assertEnvelope(res, 200), { revokedSessions: 1 });
    const event = await receiver.waitFor(() => revokedEvents(userId(s))[0], "session.revoked");
    assert.deepEqual(event.data, { userId: userId(s), sessionId: sid(s) });
  });
});
