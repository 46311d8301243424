// The Turnstile round trip through the built client against the real worker:
// a send the service answers challenge_required, the app renders the widget,
// and the same send again with the token the widget gave, which mails a longer
// code (the send's codeLength says how long, for the app's input).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { AuthError } from "@allmine/auth-client";
import { SOLVED_TOKEN, startTurnstileStub } from "../../harness/turnstile_stub.mjs";
import { clientOf, freshEmail, spawnApp } from "./support.mjs";

let app, turnstile;
before(async () => {
  turnstile = await startTurnstileStub();
  // An address past its daily sends needs a solved challenge (the same rule as
  // a spent failure budget, quicker to reach).
  app = await spawnApp({
    vars: {
      OTP_ADDRESS_SENDS_PER_DAY: "3",
      ...turnstile.vars,
    },
  });
});
after(async () => {
  await app?.dispose();
  await turnstile?.close();
});

test("challenge_required, then the same send with the widget's token: an 8-digit code is mailed and signs in", async () => {
  const { client, net } = clientOf(app);
  const email = freshEmail("challenged");
  const first = await client.sendCode(email);
  assert.equal(first.codeLength, 6);
  for (let i = 0; i < 2; i++) await client.sendCode(email);

  const asked = await client.sendCode(email).catch((e) => e);
  assert.ok(asked instanceof AuthError, `${asked}`);
  assert.equal(asked.status, 403);
  assert.equal(asked.code, "challenge_required");

  const forged = await client.sendCode(email, { turnstileToken: "forged" }).catch((e) => e);
  assert.equal(forged.code, "challenge_required");

  const mails = app.mail.sent.length;
  const sent = await client.sendCode(email, { turnstileToken: SOLVED_TOKEN });
  assert.equal(sent.codeLength, 8);
  assert.equal(app.mail.sent.length, mails + 1);
  const code = app.mail.codeFor(email);
  assert.match(code, /^\d{8}$/);
  assert.deepEqual(net.to("/api/v1/auth/send-otp-email").at(-1).body, {
    email,
    turnstileToken: SOLVED_TOKEN,
    loginId: first.loginId,
  });
  assert.equal(sent.loginId, first.loginId);
  assert.equal(turnstile.calls.at(-1).response, SOLVED_TOKEN);

  const user = await client.verifyCode(email, code);
  assert.equal(user.email, email);
  assert.equal(net.to("/api/v1/auth/verify-otp-email")[0].body.loginId, first.loginId);
});
