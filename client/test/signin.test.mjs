// Sign-in, sign-out and error answers, through the built client against the real worker.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { AuthError, SignedOutError } from "@allmine/auth-client";
import { claims, clientOf, freshEmail, signIn, spawnApp } from "./support.mjs";

const ERROR_CODES = JSON.parse(readFileSync(new URL("../../api/openapi.json", import.meta.url), "utf8")).components.schemas
  .ErrorCode.enum;

let app;
// The real resend cooldown, so a second send answers resend_cooldown.
before(async () => (app = await spawnApp({ vars: { OTP_RESEND_COOLDOWN_SECONDS: "30" } })));
after(() => app?.dispose());

/** The AuthError `promise` rejects with, checked against the document's codes. */
async function authError(promise) {
  const err = await promise.then(
    () => assert.fail("expected an AuthError"),
    (e) => e,
  );
  assert.ok(err instanceof AuthError, `${err}`);
  assert.ok(ERROR_CODES.includes(err.code), `${err.code} is an ErrorCode of api/openapi.json`);
  return err;
}

test("signs in with the mailed code: the pair is stored, requests carry it, me() is the user", async () => {
  const { client, net, tokens } = clientOf(app);
  const email = freshEmail("client");
  assert.equal(await client.isSignedIn(), false);
  const sent = await client.sendCode(email, { locale: "tr" });
  assert.equal(sent.codeLength, 6);
  assert.equal(sent.expiresIn, 300);
  assert.equal(sent.resendAfter, 30);
  assert.deepEqual(net.to("/api/v1/auth/send-otp-email")[0].body, { email, locale: "tr" });
  assert.ok(app.mail.lastMailTo(email), "a code was mailed");

  const user = await client.verifyCode(email, app.mail.codeFor(email));
  assert.equal(user.email, email);
  assert.equal(user.isRegistrationComplete, false);
  assert.equal(await client.isSignedIn(), true);
  const pair = tokens();
  assert.equal(claims(pair.accessToken).token_use, "access");
  assert.equal(claims(pair.refreshToken).token_use, "refresh");

  const me = await client.me();
  assert.equal(me.email, email);
  assert.equal(net.to("/api/v1/users/me")[0].authorization, `Bearer ${pair.accessToken}`);
  assert.equal(await client.getAccessToken(), pair.accessToken);
  // Nothing needed refreshing.
  assert.equal(net.to("/api/v1/auth/refresh-token").length, 0);
});

test("authFetch takes paths relative to the base URL, keeps the caller's headers, and answers as fetch does", async () => {
  const { client, net } = clientOf(app);
  await signIn(app, client);
  const patched = await client.authFetch("/api/v1/users/me", {
    method: "PATCH",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ bio: "hello" }),
  });
  assert.equal(patched.status, 200);
  assert.equal((await patched.json()).data.bio, "hello");
  // A Request works too, and an error answer is handed back, not thrown.
  const missing = await client.authFetch(new Request(`${app.url}api/v1/nowhere`));
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get("error-code"), "route_not_found");
  assert.equal(net.to("/api/v1/nowhere")[0].authorization, net.to("/api/v1/users/me")[0].authorization);
});

test("error answers carry their Error-Code, one of the document's ErrorCode values", async () => {
  const { client, tokens } = clientOf(app);
  const email = freshEmail("errors");

  const noCode = await authError(client.verifyCode(email, "123456"));
  assert.equal(noCode.status, 404);
  assert.equal(noCode.code, "no_pending_code");

  const invalid = await authError(client.sendCode("not-an-address"));
  assert.equal(invalid.status, 400);
  assert.equal(invalid.code, "validation");
  assert.ok(invalid.messages.length >= 1);

  await client.sendCode(email);
  const code = app.mail.codeFor(email);
  const wrong = await authError(client.verifyCode(email, code === "000000" ? "111111" : "000000"));
  assert.equal(wrong.status, 400);
  assert.equal(wrong.code, "wrong_code");
  assert.match(wrong.messages[0], /attempt/);
  assert.equal(tokens(), null, "nothing stored");

  const cooldown = await authError(client.sendCode(email));
  assert.equal(cooldown.status, 429);
  assert.equal(cooldown.code, "resend_cooldown");
  assert.ok(cooldown.retryAfter > 0 && cooldown.retryAfter <= 30, `retryAfter ${cooldown.retryAfter}`);

  // The right code still signs in after all that.
  assert.equal((await client.verifyCode(email, code)).email, email);
});

test("logout ends the session at the service and clears the store", async () => {
  const { client, ended, tokens } = clientOf(app);
  await signIn(app, client);
  const { refreshToken } = tokens();
  await client.logout();
  assert.equal(tokens(), null);
  assert.deepEqual(ended, ["logout"]);
  const refused = await app.post("/api/v1/auth/refresh-token", { refreshToken });
  assert.equal(refused.status, 401);
  const err = await client.me().catch((e) => e);
  assert.ok(err instanceof SignedOutError);
  assert.equal(err.reason, "no_session");
  await client.logout(); // signed out already: nothing to do
  assert.deepEqual(ended, ["logout"]);
});

test("logoutAll ends every session; the other device finds itself signed out at its next call", async () => {
  const phone = clientOf(app);
  const laptop = clientOf(app);
  const { email } = await signIn(app, phone.client);
  await signIn(app, laptop.client, email);
  assert.equal(await phone.client.logoutAll(), 2);
  assert.deepEqual(phone.ended, ["logout"]);

  const err = await laptop.client.me().catch((e) => e);
  assert.ok(err instanceof SignedOutError, `${err}`);
  assert.equal(err.reason, "session_ended");
  assert.equal(err.cause.status, 401);
  assert.equal(err.cause.code, "unauthorized");
  assert.equal(laptop.tokens(), null);
  assert.deepEqual(laptop.ended, ["session_ended"]);
});
