// The user's devices through the built client against the real worker:
// sessions() lists the live sessions with the device and place of each login,
// endSession(id) ends one (a lost phone's), and ending this one is a logout.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { AuthError, SignedOutError } from "@allmine/auth-client";
import { claims, clientOf, fromPlace, signIn, spawnApp } from "./support.mjs";

const IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
const MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
const SESSIONS = "/api/v1/users/me/sessions";

let app;
before(async () => (app = await spawnApp()));
after(() => app?.dispose());

/** A client on a device (its User-Agent) in a place (its `request.cf`). */
const deviceOf = (userAgent, cf = {}) => clientOf(app, { headers: { "user-agent": userAgent, ...fromPlace(cf) } });
/** The session of the tokens a client holds. */
const sid = (device) => claims(device.tokens().accessToken).sid;
const lostAnswer = () => Promise.reject(new TypeError("fetch failed"));

test("sessions() lists the devices, this one first; endSession(id) ends another, which is signed out at its next call", async () => {
  const phone = deviceOf(IPHONE, { country: "TR", city: "Istanbul" });
  const laptop = deviceOf(MAC, { country: "DE", city: "Berlin" });
  const { email } = await signIn(app, phone.client);
  await signIn(app, laptop.client, email);

  const listed = await phone.client.sessions();
  assert.deepEqual(
    listed.map((s) => [s.id, s.deviceLabel, s.country, s.city, s.current, s.refreshedAt]),
    [
      [sid(phone), "Safari on iPhone", "TR", "Istanbul", true, null],
      [sid(laptop), "Chrome on macOS", "DE", "Berlin", false, null],
    ],
  );
  assert.equal(phone.net.to(SESSIONS)[0].authorization, `Bearer ${phone.tokens().accessToken}`);

  const laptopId = sid(laptop);
  assert.equal(await phone.client.endSession(laptopId), undefined);
  const ending = phone.net.calls.find((c) => c.method === "DELETE");
  assert.equal(ending.path, `${SESSIONS}/${laptopId}`);
  // The phone goes on.
  assert.deepEqual(phone.ended, []);
  assert.ok(phone.tokens());
  assert.deepEqual((await phone.client.sessions()).map((s) => s.id), [sid(phone)]);

  const err = await laptop.client.me().catch((e) => e);
  assert.ok(err instanceof SignedOutError, `${err}`);
  assert.equal(err.reason, "session_ended");
  assert.equal(laptop.tokens(), null);
  assert.deepEqual(laptop.ended, ["session_ended"]);
});

test("ending this session is a logout: the store is cleared, onSignedOut('logout'), its refresh token refused", async () => {
  const { client, ended, tokens } = deviceOf(IPHONE);
  await signIn(app, client);
  const { refreshToken } = tokens();
  const [mine] = await client.sessions();
  assert.equal(mine.current, true);

  await client.endSession(mine.id);
  assert.equal(tokens(), null);
  assert.deepEqual(ended, ["logout"]);
  const refused = await app.post("/api/v1/auth/refresh-token", { refreshToken });
  assert.equal(refused.status, 401);
  const err = await client.sessions().catch((e) => e);
  assert.ok(err instanceof SignedOutError, `${err}`);
  assert.equal(err.reason, "no_session");
});

test("a lost answer: ending this session still signs out here; ending another leaves this one as it was", async () => {
  const phone = deviceOf(IPHONE);
  const laptop = deviceOf(MAC);
  const { email } = await signIn(app, phone.client);
  await signIn(app, laptop.client, email);
  for (const device of [phone, laptop]) {
    device.net.intercept = (call, forward) => (call.method === "DELETE" ? lostAnswer() : forward());
  }

  await assert.rejects(phone.client.endSession(sid(laptop)), TypeError);
  assert.ok(phone.tokens());
  assert.deepEqual(phone.ended, []);

  await assert.rejects(laptop.client.endSession(sid(laptop)), TypeError);
  assert.equal(laptop.tokens(), null);
  assert.deepEqual(laptop.ended, ["logout"]);
});

test("an id that is no live session of the user is session_not_found, and nothing ends", async () => {
  const alice = deviceOf(IPHONE);
  const bob = deviceOf(MAC);
  await signIn(app, alice.client);
  await signIn(app, bob.client);

  for (const id of [sid(bob), randomUUID(), "not-a-session", "../../auth/logout", "%2e%2e", "..", ".", ""]) {
    const err = await alice.client.endSession(id).catch((e) => e);
    assert.ok(err instanceof AuthError, `${id}: ${err}`);
    assert.equal(err.status, 404, id);
    assert.equal(err.code, "session_not_found", id);
  }
  // Every request stayed on the sessions route: the client sends no "." or
  // ".." a URL would read as a step up ("/sessions/.." is "/users/me/").
  const deletes = alice.net.calls.filter((c) => c.method === "DELETE");
  assert.equal(deletes.length, 5);
  for (const call of deletes) assert.match(call.path, /^\/api\/v1\/users\/me\/sessions\/[^/]+$/);

  assert.deepEqual(alice.ended, []);
  assert.deepEqual((await alice.client.sessions()).map((s) => s.id), [sid(alice)]);
  assert.deepEqual((await bob.client.sessions()).map((s) => s.id), [sid(bob)]);
});
