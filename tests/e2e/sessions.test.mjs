// Refresh rotation with reuse detection (and its grace window for two tabs or
// a retry), logout, and bearer authentication.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { decodeJwt } from "jose";
import { spawnApp } from "../../harness/app.mjs";
import { assertEnvelope } from "../../harness/envelope.mjs";

let app;
before(async () => (app = await spawnApp()));
after(() => app?.dispose());

const refresh = (refreshToken) => app.post("/api/v1/auth/refresh-token", { refreshToken });
const me = (accessToken) => app.authed("GET", "/api/v1/users/me", accessToken);

/** A refresh as if it happened at `ms` (the test build's clock header). */
const refreshAt = (refreshToken, ms) =>
  app.post("/api/v1/auth/refresh-token", { refreshToken }, { "x-test-now-ms": String(ms) });

const sessionRow = (sid) =>
  app.db.prepare("SELECT refresh_jti, revoked_reason FROM sessions WHERE id = ?").bind(sid).first();
const currentJti = async (sid) => (await sessionRow(sid)).refresh_jti;
const revokedReason = async (sid) => (await sessionRow(sid)).revoked_reason;

/** Audit rows are written after the response: wait for one. */
async function waitForAudit(userId, event) {
  for (let i = 0; i < 50; i++) {
    const row = await app.db
      .prepare("SELECT 1 AS found FROM audit_events WHERE user_id = ? AND event = ?")
      .bind(userId, event)
      .first();
    if (row) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`no ${event} audit row for ${userId}`);
}

function assertUnauthorized(res) {
  assertEnvelope(res, 401);
  assert.equal(res.headers.get("www-authenticate"), "Bearer");
}

describe("refresh-token", () => {
  test("rotates: new pair, same session, the user profile", async () => {
    const s = await app.session();
    const data = assertEnvelope(await refresh(s.refreshToken), 200);
    assert.notEqual(data.refreshToken, s.refreshToken);
    assert.notEqual(data.accessToken, s.accessToken);
    assert.equal(data.expiresIn, 3600);
    assert.equal(data.user.email, s.email);
    assert.equal(decodeJwt(data.refreshToken).sid, decodeJwt(s.refreshToken).sid);
    assertEnvelope(await me(data.accessToken), 200);
  });

  test("a retired refresh token presented after the grace window revokes the whole session (theft)", async () => {
    const s = await app.session();
    const rotated = assertEnvelope(await refresh(s.refreshToken), 200);
    // Replayed by a thief once the window (REFRESH_REUSE_GRACE_SECONDS, 10 s) is over.
    assertUnauthorized(await refreshAt(s.refreshToken, Date.now() + 11_000));
    // The legitimate successor is dead too, and so is the session's access token.
    assertUnauthorized(await refresh(rotated.refreshToken));
    assertUnauthorized(await me(rotated.accessToken));
    const sid = decodeJwt(s.refreshToken).sid;
    assert.equal(await revokedReason(sid), "refresh_reuse");
    await waitForAudit(decodeJwt(s.refreshToken).sub, "refresh_reuse");
  });

  test("other sessions of the user survive a theft in one", async () => {
    const a = await app.session();
    const b = await app.session(a.email);
    await refresh(a.refreshToken);
    assertUnauthorized(await refreshAt(a.refreshToken, Date.now() + 11_000));
    assertEnvelope(await refresh(b.refreshToken), 200);
  });

  test("two concurrent refreshes of one token both succeed, onto one live chain", async () => {
    const s = await app.session();
    const sid = decodeJwt(s.refreshToken).sid;
    const [a, b] = (await Promise.all([refresh(s.refreshToken), refresh(s.refreshToken)])).map((res) =>
      assertEnvelope(res, 200));
    // One caller rotated, the other was handed the same current token: both
    // hold the refresh token the session accepts next.
    const current = await currentJti(sid);
    assert.equal(decodeJwt(a.refreshToken).jti, current);
    assert.equal(decodeJwt(b.refreshToken).jti, current);
    assertEnvelope(await me(a.accessToken), 200);
    assertEnvelope(await me(b.accessToken), 200);
    // Either token refreshes next; the other, right behind it, is the grace case again.
    const next = assertEnvelope(await refresh(a.refreshToken), 200);
    const late = assertEnvelope(await refresh(b.refreshToken), 200);
    assert.equal(decodeJwt(late.refreshToken).jti, decodeJwt(next.refreshToken).jti);
    assert.equal(await revokedReason(sid), null);
  });

  test("a retry inside the window gets the session's current refresh token", async () => {
    const s = await app.session();
    const sid = decodeJwt(s.refreshToken).sid;
    const first = assertEnvelope(await refresh(s.refreshToken), 200);
    // The answer was lost; the client retries with what it had, 9 s later.
    const retry = assertEnvelope(await refreshAt(s.refreshToken, Date.now() + 9_000), 200);
    assert.equal(decodeJwt(retry.refreshToken).jti, decodeJwt(first.refreshToken).jti);
    assert.equal(decodeJwt(retry.refreshToken).jti, await currentJti(sid));
    assert.equal(retry.user.email, s.email);
    assertEnvelope(await me(retry.accessToken), 200);
    assertEnvelope(await refresh(retry.refreshToken), 200);
    assert.equal(await revokedReason(sid), null);
  });

  test("a token two rotations back revokes the session, even inside the window", async () => {
    const s = await app.session();
    const first = assertEnvelope(await refresh(s.refreshToken), 200);
    const second = assertEnvelope(await refresh(first.refreshToken), 200);
    assertUnauthorized(await refresh(s.refreshToken));
    assertUnauthorized(await refresh(second.refreshToken));
    assertUnauthorized(await me(second.accessToken));
    assert.equal(await revokedReason(decodeJwt(s.refreshToken).sid), "refresh_reuse");
  });

  test("an access token is not a refresh token", async () => {
    const s = await app.session();
    assertUnauthorized(await refresh(s.accessToken));
  });

  test("tampered, foreign and garbage tokens are 401", async () => {
    const s = await app.session();
    const [h, p, sig] = s.refreshToken.split(".");
    const claims = JSON.parse(Buffer.from(p, "base64url"));
    claims.sub = "someone-else";
    const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${sig}`;
    assertUnauthorized(await refresh(forged));
    assertUnauthorized(await refresh("not-a-jwt"));
    const none = `${Buffer.from('{"alg":"none"}').toString("base64url")}.${p}.`;
    assertUnauthorized(await refresh(none));
    assertEnvelope(await refresh(42), 400);
  });

  test("an expired session cannot refresh", async () => {
    const s = await app.session();
    const sid = decodeJwt(s.refreshToken).sid;
    await app.db.prepare("UPDATE sessions SET expires_at = '2000-01-01T00:00:00.000Z' WHERE id = ?").bind(sid).run();
    assertUnauthorized(await refresh(s.refreshToken));
  });
});

describe("bearer authentication", () => {
  test("missing, malformed or alg:none tokens are 401 with WWW-Authenticate", async () => {
    const s = await app.session();
    assertUnauthorized(await app.get("/api/v1/users/me"));
    assertUnauthorized(await app.get("/api/v1/users/me", { authorization: s.accessToken }));
    assertUnauthorized(await me("abc.def.ghi"));
    const [, payload] = s.accessToken.split(".");
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString("base64url")}.${payload}.`;
    assertUnauthorized(await me(none));
    const hs = `${Buffer.from('{"alg":"HS256","typ":"JWT"}').toString("base64url")}.${payload}.${"A".repeat(43)}`;
    assertUnauthorized(await me(hs));
  });

  test("a refresh token is not an access token", async () => {
    const s = await app.session();
    assertUnauthorized(await me(s.refreshToken));
  });
});

describe("logout", () => {
  const logout = (s, body) => app.authed("POST", "/api/v1/auth/logout", s.accessToken, body);

  test("revokes this session only", async () => {
    const a = await app.session();
    const b = await app.session(a.email);
    const data = assertEnvelope(await logout(a, { refreshToken: a.refreshToken }), 200);
    assert.deepEqual(data, { revokedSessions: 1 });
    assertUnauthorized(await refresh(a.refreshToken));
    assertUnauthorized(await me(a.accessToken));
    assertEnvelope(await me(b.accessToken), 200);
  });

  test("allSessions revokes every session of the user", async () => {
    const a = await app.session();
    const b = await app.session(a.email);
    const data = assertEnvelope(await logout(a, { allSessions: true }), 200);
    assert.deepEqual(data, { revokedSessions: 2 });
    assertUnauthorized(await refresh(b.refreshToken));
  });

  test("the access token of a logged-out session cannot end the user's other sessions", async () => {
    const a = await app.session();
    const b = await app.session(a.email);
    assertEnvelope(await logout(a, { refreshToken: a.refreshToken }), 200);
    // Its signature and expiry are still good for up to an hour; the session is not.
    assertUnauthorized(await logout(a, { allSessions: true }));
    assertUnauthorized(await logout(a, { refreshToken: b.refreshToken }));
    assertEnvelope(await me(b.accessToken), 200);
    assertEnvelope(await refresh(b.refreshToken), 200);
  });

  test("nor can the access token of a session revoked for refresh reuse (a stolen chain)", async () => {
    const a = await app.session();
    const b = await app.session(a.email);
    assertEnvelope(await refresh(a.refreshToken), 200);
    // The replay, after the grace window, revokes session a.
    assertUnauthorized(await refreshAt(a.refreshToken, Date.now() + 11_000));
    assertUnauthorized(await logout(a, { allSessions: true }));
    assertEnvelope(await me(b.accessToken), 200);
    const rows = await app.db
      .prepare("SELECT COUNT(*) AS live FROM sessions WHERE id = ? AND revoked_at IS NULL")
      .bind(decodeJwt(b.refreshToken).sid)
      .first();
    assert.equal(rows.live, 1);
  });

  test("needs a bearer token, and cannot end another user's session", async () => {
    const a = await app.session();
    const other = await app.session();
    assertUnauthorized(await app.post("/api/v1/auth/logout", { refreshToken: a.refreshToken }));
    assertUnauthorized(await logout(a, { refreshToken: other.refreshToken }));
    assertEnvelope(await refresh(other.refreshToken), 200);
    assertEnvelope(await logout(a, {}), 400);
  });
});
