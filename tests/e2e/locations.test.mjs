// Many locations: D1 read replication with read-your-writes bookmarks, and
// (below) codes that verify wherever they are typed, whatever KV holds there.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { freshEmail, spawnApp } from "../../harness/app.mjs";
import { assertEnvelope } from "../../harness/envelope.mjs";

let app;
before(async () => (app = await spawnApp()));
after(() => app?.dispose());

const sessionStarts = () =>
  app.logs.join("").split("\n").filter((l) => l.includes('"event":"d1_session"')).map((l) => JSON.parse(l.slice(l.indexOf("{"))).start);

describe("reads near the user", () => {
  test("a profile change returns a bookmark, and the next read starts from it", async () => {
    const s = await app.session();
    const patched = await app.call("PATCH", "/api/v1/users/me", { bio: "near" }, { authorization: `Bearer ${s.accessToken}` });
    assertEnvelope(patched, 200);
    const bookmark = patched.headers.get("x-d1-bookmark");
    assert.match(bookmark ?? "", /^[0-9a-f-]+$/i, "the write hands back its bookmark");

    const before = sessionStarts().length;
    const read = await app.call("GET", "/api/v1/users/me", undefined, {
      authorization: `Bearer ${s.accessToken}`,
      "x-d1-bookmark": bookmark,
    });
    assert.equal(assertEnvelope(read, 200).bio, "near");
    assert.deepEqual(sessionStarts().slice(before), ["bookmark"], "the read's D1 session starts at the bookmark");
    const next = read.headers.get("x-d1-bookmark");
    assert.ok(next && next >= bookmark, "the read's bookmark is at least as fresh");

    const plain = await app.authed("GET", "/api/v1/users/me", s.accessToken);
    assertEnvelope(plain, 200);
    assert.deepEqual(sessionStarts().slice(before + 1), ["unconstrained"]);
  });

  test("a bookmark that is not one is ignored, not an error", async () => {
    const s = await app.session();
    for (const junk of ["'; DROP TABLE users; --", "x".repeat(300)]) {
      const read = await app.call("GET", "/api/v1/users/me", undefined, {
        authorization: `Bearer ${s.accessToken}`,
        "x-d1-bookmark": junk,
      });
      assertEnvelope(read, 200);
    }
  });

  test("whether the session is live is decided by the primary: logout takes effect at once", async () => {
    const s = await app.session();
    assertEnvelope(await app.authed("POST", "/api/v1/auth/logout", s.accessToken, { refreshToken: s.refreshToken }), 200);
    assertEnvelope(await app.authed("GET", "/api/v1/users/me", s.accessToken), 401);
  });
});

// The request log line of the last call to `path`: its storage round trips.
function lastTrips(path) {
  const lines = app.logs.join("").split("\n").filter((l) => l.includes('"event":"request"') && l.includes(`"path":"${path}"`));
  return JSON.parse(lines.at(-1).slice(lines.at(-1).indexOf("{"))).trips;
}

const VERIFY = "/api/v1/auth/verify-otp-email";
const failuresCounted = async () =>
  (await app.db.prepare("SELECT total(count) AS c FROM rate_limits WHERE key LIKE '%failures:%'").first()).c;

describe("a code verifies wherever it is typed", () => {
  test("the common path: KV current, two sequential round trips", async () => {
    const email = freshEmail();
    const code = await app.requestCode(email);
    assertEnvelope(await app.verifyOtp(email, code), 200);
    const trips = lastTrips(VERIFY);
    assert.equal(trips.sequential, 2, JSON.stringify(trips));
    assert.deepEqual([trips.kv, trips.d1], [1, 1]);
  });

  test("a live code verifies where KV has no copy yet, counting nothing", async () => {
    const email = freshEmail();
    const code = await app.requestCode(email);
    await app.kv.delete(`otp:${email}`); // a location the write has not reached
    const before = await failuresCounted();
    assertEnvelope(await app.verifyOtp(email, code), 200);
    assert.equal(await failuresCounted(), before, "no failure counted against anyone");
    assert.equal(lastTrips(VERIFY).sequential, 3, "one more round trip on the fallback");
  });

  test("a live code verifies where KV still holds the issuance it replaced, counting nothing", async () => {
    const email = freshEmail();
    await app.requestCode(email);
    const stale = await app.kv.get(`otp:${email}`);
    await app.requestCode(email);
    const newest = await app.requestCode(email); // replaces both codes KV held before
    await app.kv.put(`otp:${email}`, stale); // a location still holding the old copy
    const before = await failuresCounted();
    const attemptsBefore = await app.db.prepare("SELECT total(attempts) AS a FROM otp_codes WHERE email = ?").bind(email).first();
    assertEnvelope(await app.verifyOtp(email, newest), 200);
    assert.equal(await failuresCounted(), before, "no failure counted against anyone");
    const codes = await app.db.prepare("SELECT code_id, attempts, consumed_by FROM otp_codes WHERE email = ? ORDER BY issued_at").bind(email).all();
    assert.equal(codes.results.filter((c) => c.consumed_by && c.consumed_by !== "retired").length, 1);
    assert.equal(codes.results.reduce((n, c) => n + c.attempts, 0), attemptsBefore.a + 1, "only the use itself");
  });

  test("a wrong code where KV is stale is counted once, against D1's codes", async () => {
    const email = freshEmail();
    const code = await app.requestCode(email);
    await app.kv.delete(`otp:${email}`);
    const wrong = code === "000000" ? "111111" : "000000";
    const res = await app.verifyOtp(email, wrong);
    assertEnvelope(res, 400);
    assert.match(res.body.errors[0], /4 attempt\(s\) left/);
    const row = await app.db.prepare("SELECT attempts FROM otp_codes WHERE email = ?").bind(email).first();
    assert.equal(row.attempts, 1);
    assertEnvelope(await app.verifyOtp(email, code), 200);
  });

  // The state a resend whose mail failed leaves when its withdrawal fails too:
  // KV lists the new code, D1 holds it `unsent`. It must get the answer a
  // current copy would give (a wrong code, counted), not "no pending code".
  test("a code KV lists but D1 does not hold usable is a wrong code while another is pending", async () => {
    const email = freshEmail();
    const delivered = await app.requestCode(email);
    const failed = await app.requestCode(email); // KV now lists both
    await app.db
      .prepare("UPDATE otp_codes SET consumed_by = 'unsent' WHERE code_id = (SELECT code_id FROM otp_codes WHERE email = ?1 ORDER BY issued_at DESC LIMIT 1)")
      .bind(email)
      .run();
    const res = await app.verifyOtp(email, failed);
    assertEnvelope(res, 400);
    assert.match(res.body.errors[0], /4 attempt\(s\) left/);
    // The code is there but not delivered: the login batch that could not
    // use it counts the guess as a wrong one itself.
    assert.equal(lastTrips(VERIFY).sequential, 2, "KV, then the login batch that counts it");
    assertEnvelope(await app.verifyOtp(email, delivered), 200);
  });

  test("an expired code is refused whether KV is missing or stale", async () => {
    const email = freshEmail();
    const old = await app.requestCode(email);
    const stale = await app.kv.get(`otp:${email}`);
    await app.db.prepare("UPDATE otp_codes SET expires_at = ? WHERE email = ?").bind(Date.now() - 1, email).run();
    await app.kv.delete(`otp:${email}`);
    assertEnvelope(await app.verifyOtp(email, old), 404);
    await app.kv.put(`otp:${email}`, stale);
    assertEnvelope(await app.verifyOtp(email, old), 404);
  });
});
