// The login id through the built client against the real worker: a send
// answers `loginId`, the client carries it to the verify and to a resend, and
// so strangers guessing at the address from other networks never make the
// code fail for the client that asked for it.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { AuthError } from "@allmine/auth-client";
import { clientOf, freshEmail, fromNetwork, spawnApp } from "./support.mjs";

const SEND = "/api/v1/auth/send-otp-email";
const VERIFY = "/api/v1/auth/verify-otp-email";
const OWNER = "192.0.2.10";
const LOGIN_ID = /^[0-9a-f]{32}$/;

let app;
before(async () => (app = await spawnApp()));
after(() => app?.dispose());

const wrong = (code) => (code.startsWith("0") ? "1" : "0") + code.slice(1);

/** Wrong guesses at `email` from `count` networks of strangers, as the documented request (no login id). */
async function strangersGuess(email, code, count = 20) {
  for (let n = 1; n <= count; n++) {
    const res = await app.verifyOtp(email, wrong(code), fromNetwork(`198.51.100.${n}`));
    assert.ok(res.status === 400 || res.status === 429, `guess ${n}: ${res.status}`);
  }
}

test("strangers' guesses from other networks spend the address's attempts; the client that asked still signs in", async () => {
  const owner = clientOf(app, { ip: OWNER });
  const email = freshEmail("login-id");
  const sent = await owner.client.sendCode(email);
  assert.match(sent.loginId, LOGIN_ID);
  assert.deepEqual(owner.net.to(SEND)[0].body, { email }, "a first send names no login");
  const code = app.mail.codeFor(email);

  await strangersGuess(email, code);

  // The attempts without a login id are spent: a client that did not ask for
  // this code (so has no login id) is refused, even with the right code…
  const bystander = clientOf(app, { ip: OWNER });
  const refused = await bystander.client.verifyCode(email, code).catch((e) => e);
  assert.ok(refused instanceof AuthError, `${refused}`);
  assert.equal(refused.status, 429);
  assert.equal(refused.code, "too_many_attempts");
  assert.deepEqual(Object.keys(bystander.net.to(VERIFY)[0].body).sort(), ["code", "email"]);

  // …and the client that asked, carrying the send's login id, signs in.
  const user = await owner.client.verifyCode(email, code);
  assert.equal(user.email, email);
  assert.deepEqual(owner.net.to(VERIFY)[0].body, { email, code, loginId: sent.loginId });
  assert.equal(await owner.client.isSignedIn(), true);
});

test("an app restarted between send and verify passes the login id it kept, and signs in the same", async () => {
  const before = clientOf(app, { ip: OWNER });
  const email = freshEmail("restart");
  const { loginId } = await before.client.sendCode(email);
  const code = app.mail.codeFor(email);
  await strangersGuess(email, code);

  const after = clientOf(app, { ip: OWNER });
  const user = await after.client.verifyCode(email, code, { loginId });
  assert.equal(user.email, email);
  assert.equal(after.net.to(VERIFY)[0].body.loginId, loginId);
});

test("a resend carries the login id and keeps it; a sign-in ends it, and the next send starts another", async () => {
  const { client, net } = clientOf(app, { ip: OWNER });
  const email = freshEmail("resend");
  const first = await client.sendCode(email);
  const firstCode = app.mail.codeFor(email);
  const again = await client.sendCode(email);
  assert.equal(net.to(SEND)[1].body.loginId, first.loginId);
  assert.equal(again.loginId, first.loginId);

  // Either mail's code signs in with it. (Two codes are live, so each guess
  // is two checks: four stay under the address's budget of ten, which, spent
  // on an app without Turnstile, would lock the address for everyone.)
  await strangersGuess(email, firstCode, 4);
  assert.equal((await client.verifyCode(email, firstCode)).email, email);
  assert.equal(net.to(VERIFY)[0].body.loginId, first.loginId);

  const next = await client.sendCode(email);
  assert.equal(net.to(SEND)[2].body.loginId, undefined);
  assert.match(next.loginId, LOGIN_ID);
  assert.notEqual(next.loginId, first.loginId);
});

test("the client's own wrong code is a wrong_code with attempts left, and the right one then signs in", async () => {
  const { client } = clientOf(app, { ip: OWNER });
  const email = freshEmail("typo");
  await client.sendCode(email);
  const code = app.mail.codeFor(email);
  await strangersGuess(email, code);
  const typo = await client.verifyCode(email, wrong(code)).catch((e) => e);
  assert.ok(typo instanceof AuthError, `${typo}`);
  assert.equal(typo.code, "wrong_code");
  assert.equal((await client.verifyCode(email, code)).email, email);
});
