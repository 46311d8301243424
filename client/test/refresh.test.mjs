// The refresh dance through the built client against the real worker: one
// refresh for every concurrent caller across an expiry, a refresh whose answer
// was lost (the service's grace window decides what follows), and a session
// the service refuses to refresh.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { SignedOutError } from "@allmine/auth-client";
import { claims, clientOf, shiftDeviceClock, signIn, spawnApp } from "./support.mjs";

const REFRESH = "/api/v1/auth/refresh-token";
const ME = "/api/v1/users/me";
const HOUR_AND_A_MINUTE = 3_660_000; // past an access token's 3600 s and the service's 30 s leeway

let app;
before(async () => (app = await spawnApp()));
after(() => app?.dispose());

const sessionRow = (sid) => app.db.prepare("SELECT refresh_jti, revoked_reason FROM sessions WHERE id = ?").bind(sid).first();
const twenty = (client) => Promise.all(Array.from({ length: 20 }, () => client.me()));

test("twenty concurrent calls after the access token expired: one refresh, and no call sent with the expired token", async () => {
  const { client, net, tokens } = clientOf(app);
  const { email } = await signIn(app, client);
  const expired = tokens();
  // An hour and a minute later, for the device and the service alike.
  const undo = shiftDeviceClock(HOUR_AND_A_MINUTE);
  try {
    const users = await twenty(client);
    assert.ok(users.every((u) => u.email === email));
    assert.equal(net.to(REFRESH).length, 1);
    assert.equal(net.to(REFRESH)[0].body.refreshToken, expired.refreshToken);
    const calls = net.to(ME);
    assert.equal(calls.length, 20);
    assert.notEqual(tokens().accessToken, expired.accessToken);
    assert.ok(calls.every((c) => c.authorization === `Bearer ${tokens().accessToken}`), "each sent with the new token");
  } finally {
    undo();
  }
});

test("twenty concurrent calls the service refuses as expired (its clock ahead of the device's): one refresh, each sent again once", async () => {
  const { client, net, tokens } = clientOf(app);
  await signIn(app, client);
  const stale = tokens().accessToken;
  net.serverOffsetMs = HOUR_AND_A_MINUTE;
  // One refusal reaches the client only after the refresh has answered: that
  // caller takes the new token too, without a refresh of its own.
  let refreshed;
  const afterRefresh = new Promise((resolve) => (refreshed = resolve));
  let held = false;
  net.intercept = async (call, forward) => {
    const res = await forward();
    if (call.path === REFRESH) refreshed();
    if (call.path === ME && call.authorization === `Bearer ${stale}` && !held) {
      held = true;
      await afterRefresh;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return res;
  };
  await twenty(client);
  assert.equal(net.to(REFRESH).length, 1);
  const calls = net.to(ME);
  assert.equal(calls.length, 40);
  assert.equal(calls.filter((c) => c.authorization === `Bearer ${stale}`).length, 20);
  assert.equal(calls.filter((c) => c.authorization === `Bearer ${tokens().accessToken}`).length, 20);
  // The new token's `iat` taught the client the service's clock: no refresh
  // before each call from now on, and none after either.
  await client.me();
  assert.equal(net.to(REFRESH).length, 1);
  assert.equal(net.to(ME).length, 41);
});

test("a device clock hours ahead of the service: one refresh, then the client goes by the service's clock", async () => {
  const { client, net } = clientOf(app);
  await signIn(app, client);
  const undo = shiftDeviceClock(2 * HOUR_AND_A_MINUTE);
  net.serverOffsetMs = -2 * HOUR_AND_A_MINUTE; // the service's clock stays where it was
  try {
    for (let i = 0; i < 3; i++) await client.me();
    assert.equal(net.to(REFRESH).length, 1, "the fresh token's iat showed the device's clock is ahead");
  } finally {
    undo();
  }
});

/**
 * Signs in, then makes the service see the token expired and loses the answer
 * to the first refresh after the service has rotated (the client sees a network
 * error). `lateMs`: how much later on the service's clock the client's retry
 * arrives. Answers what the lost answer carried and what the client ended with.
 */
async function loseRefreshAnswer({ lateMs = 0 } = {}) {
  const c = clientOf(app);
  const { email } = await signIn(app, c.client);
  const before = c.tokens();
  let lost;
  c.net.intercept = async (call, forward) => {
    if (call.path !== REFRESH || lost) return forward();
    const res = await forward();
    assert.equal(res.status, 200, "the service rotated");
    lost = (await res.json()).data;
    c.net.serverOffsetMs += lateMs;
    throw new TypeError("fetch failed: the connection dropped before the answer arrived");
  };
  c.net.serverOffsetMs = HOUR_AND_A_MINUTE;
  const outcome = await c.client.me().catch((e) => e);
  assert.equal(c.net.to(REFRESH).length, 2, "sent once more, and no more");
  assert.ok(c.net.to(REFRESH).every((call) => call.body.refreshToken === before.refreshToken));
  return { ...c, email, before, lost, outcome, sid: claims(before.refreshToken).sid };
}

test("a refresh whose answer was lost is sent again at once: within the grace window the service answers the session's current token, and the session goes on", async () => {
  const { client, net, tokens, ended, email, lost, outcome, sid } = await loseRefreshAnswer();
  assert.ok(!(outcome instanceof Error), `${outcome}`);
  assert.equal(outcome.email, email);
  // The retry got the token the lost answer carried: one chain, nothing revoked.
  assert.equal(claims(tokens().refreshToken).jti, claims(lost.refreshToken).jti);
  assert.deepEqual(await sessionRow(sid), { refresh_jti: claims(lost.refreshToken).jti, revoked_reason: null });
  assert.deepEqual(ended, []);
  // The next expiry rotates as usual.
  net.serverOffsetMs += HOUR_AND_A_MINUTE;
  await client.me();
  assert.equal(net.to(REFRESH).length, 3);
  assert.equal((await sessionRow(sid)).revoked_reason, null);
});

test("a refresh whose answer was lost, retried only past the grace window, is reuse: the service revokes the session and the client ends cleanly signed out", async () => {
  const { tokens, ended, lost, outcome, sid } = await loseRefreshAnswer({ lateMs: 11_000 });
  assert.ok(outcome instanceof SignedOutError, `${outcome}`);
  assert.equal(outcome.reason, "session_ended");
  assert.equal(outcome.cause.code, "unauthorized");
  assert.equal(tokens(), null, "the store is cleared");
  assert.deepEqual(ended, ["session_ended"]);
  // The whole session is revoked: even the lost answer's tokens are refused.
  assert.equal((await sessionRow(sid)).revoked_reason, "refresh_reuse");
  const at = { "x-test-now-ms": String(Date.now() + HOUR_AND_A_MINUTE + 11_000) };
  assert.equal((await app.call("GET", ME, undefined, { ...at, authorization: `Bearer ${lost.accessToken}` })).status, 401);
  assert.equal((await app.post(REFRESH, { refreshToken: lost.refreshToken }, at)).status, 401);
});

test("a refresh that never reached the service is sent again and rotates as usual", async () => {
  const { client, net, tokens, ended } = clientOf(app);
  await signIn(app, client);
  const before = tokens();
  let dropped = false;
  net.intercept = async (call, forward) => {
    if (call.path === REFRESH && !dropped) {
      dropped = true;
      throw new TypeError("fetch failed: no network");
    }
    return forward();
  };
  net.serverOffsetMs = HOUR_AND_A_MINUTE;
  await client.me();
  assert.equal(net.to(REFRESH).length, 2);
  assert.notEqual(claims(tokens().refreshToken).jti, claims(before.refreshToken).jti);
  assert.deepEqual(ended, []);
});

test("when the service refuses the refresh (the session ended elsewhere), every waiting caller is signed out, and the app hears it once", async () => {
  const { client, net, tokens, ended } = clientOf(app);
  await signIn(app, client);
  const endedElsewhere = await app.authed("POST", "/api/v1/auth/logout", tokens().accessToken, { allSessions: true });
  assert.equal(endedElsewhere.status, 200);
  const outcomes = await Promise.allSettled(Array.from({ length: 5 }, () => client.me()));
  assert.ok(outcomes.every((o) => o.status === "rejected" && o.reason instanceof SignedOutError && o.reason.reason === "session_ended"));
  assert.equal(net.to(REFRESH).length, 1);
  assert.equal(tokens(), null);
  assert.deepEqual(ended, ["session_ended"]);
});
