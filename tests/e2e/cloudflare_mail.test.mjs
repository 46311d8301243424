// EMAIL_PROVIDER=cloudflare: the code email through the send_email binding EMAIL
// (Miniflare's local one, which writes each message to files and logs their
// paths; harness/cloudflare_mail.mjs reads them back as a person reads a mail).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { freshEmail, spawnApp } from "../../harness/app.mjs";
import { assertEnvelope } from "../../harness/envelope.mjs";

const ALLOWED = "allowed@example.com";

let app;
// No request.cf at all, as when the edge cannot place a client.
before(async () => (app = await spawnApp({ mail: "cloudflare", cf: {} })));
after(() => app?.dispose());

describe("mailing codes through Cloudflare Email Service", () => {
  test("a whole login: the code arrives through the binding and signs in once", async () => {
    const email = freshEmail();
    const code = await app.requestCode(email);
    assert.match(code, /^\d{6}$/);
    const mail = await app.mail.lastMailTo(email);
    assert.equal(mail.from, "Allmine <login@allmine.local>");
    assert.deepEqual(mail.to, [email]);
    assert.equal(mail.subject, "Your Allmine sign-in code");
    assert.ok(existsSync(mail.textPath) && existsSync(mail.htmlPath), "the binding wrote both parts");
    assert.ok(mail.html.includes(`>${code}<`));
    assert.match(mail.text, /from an unknown device in an unknown place\./);

    const data = assertEnvelope(await app.verifyOtp(email, code), 200);
    assert.ok(data.accessToken && data.refreshToken);
    assertEnvelope(await app.verifyOtp(email, code), 404);
  });

  test("writes in the asked language here too", async () => {
    const email = freshEmail();
    await app.requestCode(email, { locale: "tr" });
    const mail = await app.mail.lastMailTo(email);
    assert.equal(mail.subject, "Allmine giriş kodunuz");
  });

  test("a message the binding refuses answers 502 and leaves no usable code", async () => {
    // Miniflare enforces a binding's allowed_destination_addresses as Cloudflare does.
    const strict = await spawnApp({ mail: "cloudflare", sendEmail: { allowed_destination_addresses: [ALLOWED] } });
    try {
      const email = freshEmail();
      const res = await strict.sendOtp(email);
      assertEnvelope(res, 502);
      assert.deepEqual(res.body.errors, ["The email could not be sent; try again later"]);
      assert.equal(await strict.kv.get(`otp:${email}`), null);
      assert.equal(strict.mail.sent.length, 0);
      // The same app mails an allowed address: the refusal was the binding's.
      const code = await strict.requestCode(ALLOWED);
      assertEnvelope(await strict.verifyOtp(ALLOWED, code), 200);
    } finally {
      await strict.dispose();
    }
  });

  test("without the binding, sending answers 503 and stores nothing", async () => {
    const unbound = await spawnApp({ mail: "cloudflare", without: ["EMAIL"] });
    try {
      const email = freshEmail();
      const res = await unbound.sendOtp(email);
      assertEnvelope(res, 503);
      assert.deepEqual(res.body.errors, ["email provider is unavailable"]);
      assert.equal(await unbound.kv.get(`otp:${email}`), null);
    } finally {
      await unbound.dispose();
    }
  });

  test("without EMAIL_FROM the configuration is refused and the log names it", async () => {
    const unsigned = await spawnApp({ mail: "cloudflare", vars: { EMAIL_FROM: "" } });
    try {
      const health = await unsigned.health();
      assertEnvelope(health, 503);
      assert.deepEqual(health.problems, ["Configuration: EMAIL_FROM is not set"]);
      assertEnvelope(await unsigned.sendOtp(freshEmail()), 500);
    } finally {
      await unsigned.dispose();
    }
  });
});
