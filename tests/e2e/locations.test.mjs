// Many locations: D1 read replication with read-your-writes bookmarks, and
// (below) codes that verify wherever they are typed, whatever KV holds there.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { spawnApp } from "./support/app.mjs";
import { assertEnvelope } from "./support/envelope.mjs";

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
