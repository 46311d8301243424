// Events for downstream services: written to the outbox with the change they
// describe, put on the EVENTS queue (Miniflare's local queue) after the
// response or by the Cron Trigger, and delivered by the worker's own queue
// consumer to a local receiver as Standard Webhooks, which the tests verify
// as a receiver would.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { decodeJwt } from "jose";
import { spawnApp, TEST_SECRETS } from "../../harness/app.mjs";
import { assertEnvelope } from "../../harness/envelope.mjs";
import { newWebhookSecret, spawnAppWithWebhooks, startWebhookReceiver, verifyWebhook } from "../../harness/webhook_receiver.mjs";

let app, receiver, WEBHOOK_SECRET, setup;
before(async () => {
  setup = await spawnAppWithWebhooks();
  ({ app, receiver, secret: WEBHOOK_SECRET } = setup);
});
after(() => setup?.dispose());

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const userId = (s) => decodeJwt(s.accessToken).sub;

/** The verified payloads of the deliveries the receiver accepted for this user. */
function eventsOf(id) {
  return receiver.accepted(id).map((a) => ({ id: a.headers["webhook-id"], ...verifyWebhook(WEBHOOK_SECRET, a.headers, a.body) }));
}

/** Waits for the user's event of `type` and returns it (verified). */
function eventOf(id, type) {
  return receiver.waitFor(() => eventsOf(id).find((e) => e.type === type), `${type} for ${id}`);
}

/** The outbox rows of a user, oldest first. */
async function outboxOf(id) {
  const { results } = await app.db
    .prepare("SELECT id, type, created_at, sent_at FROM event_outbox WHERE user_id = ? ORDER BY created_at")
    .bind(id)
    .all();
  return results;
}

function registration() {
  return {
    name: "Ada", surname: "Lovelace", username: `ada_${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}`,
    birthDate: "1990-01-15", gender: "female", interests: ["music"], privacyPolicyAccepted: true,
    privacyPolicyVersion: "1.2.0", termsOfUseAccepted: true, termsOfUseVersion: "1.1.0",
    consentFormAccepted: true, consentFormVersion: "1.0.0",
  };
}

describe("events for downstream services", () => {
  test("a first login raises user.created, signed, with the address; later logins raise none", async () => {
    const s = await app.session();
    const id = userId(s);
    const event = await eventOf(id, "user.created");
    assert.deepEqual(Object.keys(event).sort(), ["data", "id", "timestamp", "type"]);
    assert.deepEqual(event.data, { userId: id, email: s.email });
    assert.match(event.id, /^evt_[0-9a-f]{32}$/);
    assert.ok(Math.abs(Date.parse(event.timestamp) - Date.now()) < 60_000);
    const [delivery] = receiver.accepted(id);
    assert.equal(delivery.method, "POST");
    assert.equal(delivery.headers["content-type"], "application/json");

    await app.session(s.email); // a later login of the same account
    await sleep(2500);
    const created = receiver.accepted(s.email).filter((a) => a.body.includes('"user.created"'));
    assert.equal(created.length, 1, "one user.created for the address, whatever its id");
    const rows = await outboxOf(id);
    assert.equal(rows.length, 1);
    assert.ok(rows[0].sent_at, "marked sent once the queue took it");
  });

  test("a forged or re-signed body fails verification (the receiver's check can fail)", async () => {
    const s = await app.session();
    await eventOf(userId(s), "user.created");
    const [delivery] = receiver.accepted(userId(s));
    const tampered = delivery.body.replace(s.email, "mallory@example.com");
    assert.throws(() => verifyWebhook(WEBHOOK_SECRET, delivery.headers, tampered), /no valid webhook signature/);
    assert.throws(() => verifyWebhook(newWebhookSecret(), delivery.headers, delivery.body), /no valid webhook signature/);
  });

  test("registration, a scheduled deletion and logout everywhere each raise one event, with the id alone", async () => {
    const s = await app.session();
    const id = userId(s);
    assertEnvelope(await app.authed("POST", "/api/v1/auth/complete-registration", s.accessToken, registration()), 200);
    assert.deepEqual((await eventOf(id, "user.registration_completed")).data, { userId: id });

    const user = assertEnvelope(await app.scheduleDeletion(s), 200);
    const scheduled = await eventOf(id, "user.deletion_scheduled");
    assert.deepEqual(scheduled.data, { userId: id, scheduledFor: user.accountDeletionScheduledFor });

    await app.session(s.email); // a second session
    const logout = (body) => app.authed("POST", "/api/v1/auth/logout", s.accessToken, body);
    assert.deepEqual(assertEnvelope(await logout({ allSessions: true }), 200), { revokedSessions: 2 });
    assert.deepEqual((await eventOf(id, "session.revoked_all")).data, { userId: id });
    // The caller's session has ended too: refused, and no second event.
    assertEnvelope(await logout({ allSessions: true }), 401);

    await sleep(2500);
    const types = eventsOf(id).map((e) => e.type).sort();
    assert.deepEqual(types, ["session.revoked_all", "user.created", "user.deletion_scheduled", "user.registration_completed"]);
    assert.equal(new Set(eventsOf(id).map((e) => e.id)).size, 4, "each event has its own webhook-id");
  });

  test("a refused change raises nothing: a taken username, a second registration", async () => {
    const a = await app.session();
    const b = await app.session();
    const body = registration();
    assertEnvelope(await app.authed("POST", "/api/v1/auth/complete-registration", a.accessToken, body), 200);
    // b's update fails on the unique username: its event rolls back with it.
    const taken = { ...registration(), username: body.username.toUpperCase() };
    assertEnvelope(await app.authed("POST", "/api/v1/auth/complete-registration", b.accessToken, taken), 409);
    assertEnvelope(await app.authed("POST", "/api/v1/auth/complete-registration", a.accessToken, registration()), 409);
    await eventOf(userId(a), "user.registration_completed");
    await sleep(1500);
    assert.deepEqual((await outboxOf(userId(b))).map((r) => r.type), ["user.created"]);
    assert.deepEqual((await outboxOf(userId(a))).map((r) => r.type), ["user.created", "user.registration_completed"]);
  });

  test("racing verifies of one code create one user and one user.created", async () => {
    const email = `racer-${Date.now()}@example.com`;
    const code = await app.requestCode(email);
    const answers = await Promise.all(Array.from({ length: 8 }, () => app.verifyOtp(email, code)));
    assert.equal(answers.filter((r) => r.status === 200).length, 1);
    const { n } = await app.db
      .prepare("SELECT count(*) AS n FROM event_outbox WHERE type = 'user.created' AND payload LIKE ?")
      .bind(`%${email}%`)
      .first();
    assert.equal(n, 1);
  });

  test("a finalised deletion raises user.deleted with the id alone", async () => {
    const s = await app.session();
    const id = userId(s);
    assertEnvelope(await app.scheduleDeletion(s), 200);
    await app.makeDeletionDue(s.email);
    await app.runScheduled();
    const deleted = await eventOf(id, "user.deleted");
    assert.deepEqual(deleted.data, { userId: id });
    const delivery = receiver.accepted(id).find((a) => a.headers["webhook-id"] === deleted.id);
    assert.ok(!delivery.body.includes(s.email), "no address in user.deleted");
  });

  test("an event survives a failed first delivery and is accepted once", async () => {
    const email = `flaky-${Date.now()}@example.com`;
    receiver.failNext(email, 1);
    const s = await app.session(email);
    const id = userId(s);
    const event = await eventOf(id, "user.created");
    const tries = receiver.attempts.filter((a) => a.headers["webhook-id"] === event.id);
    assert.deepEqual(tries.map((a) => a.status), [500, 200], "retried by the queue after the 500");
    for (const attempt of tries) verifyWebhook(WEBHOOK_SECRET, attempt.headers, attempt.body);
    assert.equal(tries[0].body, tries[1].body, "the same payload on every attempt");
    await sleep(3000);
    assert.equal(receiver.accepted(id).length, 1, "accepted exactly once");
  });

  test("a receiver that is down for good gets max_retries + 1 attempts, then the queue stops", async () => {
    const email = `down-${Date.now()}@example.com`;
    receiver.failNext(email, 100);
    await app.session(email);
    // wrangler.toml, locally: max_retries = 5, retry_delay = 1 s; then the dead-letter queue.
    const tries = () => receiver.attempts.filter((a) => a.body.includes(email));
    await receiver.waitFor(() => tries().length >= 6, "six attempts", 30_000);
    await sleep(4000);
    assert.equal(tries().length, 6);
    assert.equal(new Set(tries().map((a) => a.headers["webhook-id"])).size, 1);
  });

  test("a receiver that answers 410 Gone is not retried", async () => {
    const email = `gone-${Date.now()}@example.com`;
    receiver.failNext(email, 100, 410);
    await app.session(email);
    await receiver.waitFor(() => receiver.attempts.some((a) => a.body.includes(email)), "the attempt");
    await sleep(3000);
    assert.deepEqual(receiver.attempts.filter((a) => a.body.includes(email)).map((a) => a.status), [410]);
  });

  test("an event the queue refused stays in the outbox and the Cron Trigger sends it", async () => {
    assertEnvelope(await app.post("/__faults", { queue: 1 }), 200);
    let s;
    try {
      s = await app.session();
    } finally {
      assertEnvelope(await app.post("/__faults", {}), 200);
    }
    const id = userId(s);
    await sleep(1500);
    const [row] = await outboxOf(id);
    assert.equal(row.type, "user.created");
    assert.equal(row.sent_at, null, "not marked sent: the queue never took it");
    assert.equal(receiver.accepted(id).length, 0);

    // A fresh event is its own request's to send: the cron leaves it alone.
    await app.runScheduled();
    assert.equal((await outboxOf(id))[0].sent_at, null);

    // Left over (older than a minute): the cron sends it.
    await app.db.prepare("UPDATE event_outbox SET created_at = '2000-01-01T00:00:00.000Z' WHERE id = ?").bind(row.id).run();
    await app.runScheduled();
    const event = await eventOf(id, "user.created");
    assert.equal(event.id, row.id);
    assert.ok((await outboxOf(id))[0].sent_at);

    // Sent a day ago: purged (the row held the address).
    await app.db.prepare("UPDATE event_outbox SET sent_at = '2000-01-01T00:00:00.000Z' WHERE id = ?").bind(row.id).run();
    await app.runScheduled();
    assert.deepEqual(await outboxOf(id), []);
  });
});

// Several receivers, each with its own secret (WEBHOOK_SECRETS), beside the
// shared WEBHOOK_SECRET, and a host no one configured (`elsewhere`): where a
// redirect points, and where a receiver taken out of WEBHOOK_ENDPOINTS listens.
describe("receivers: their own secrets, no redirects, only those configured", () => {
  const A_SECRET = newWebhookSecret();
  const B_SECRET = newWebhookSecret();
  let app2, a, b, elsewhere;
  before(async () => {
    [a, b, elsewhere] = await Promise.all([startWebhookReceiver(), startWebhookReceiver(), startWebhookReceiver()]);
    app2 = await spawnApp({
      vars: { WEBHOOK_ENDPOINTS: `${a.url},${b.url}` },
      secrets: { ...TEST_SECRETS, WEBHOOK_SECRET, WEBHOOK_SECRETS: `${a.url} ${A_SECRET}, ${b.url} ${B_SECRET}` },
    });
  });
  after(async () => {
    await app2?.dispose();
    await Promise.all([a, b, elsewhere].map((r) => r?.close()));
  });

  test("each receiver's deliveries verify with its own secret only", async () => {
    const s = await app2.session();
    const id = userId(s);
    const [toA] = await a.waitFor(() => a.accepted(id).length && a.accepted(id), "a's delivery");
    const [toB] = await b.waitFor(() => b.accepted(id).length && b.accepted(id), "b's delivery");
    assert.equal(verifyWebhook(A_SECRET, toA.headers, toA.body).data.userId, id);
    assert.equal(verifyWebhook(B_SECRET, toB.headers, toB.body).data.userId, id);
    // Neither can sign as the other, and the shared secret signs for neither.
    for (const secret of [B_SECRET, WEBHOOK_SECRET]) {
      assert.throws(() => verifyWebhook(secret, toA.headers, toA.body), /no valid webhook signature/);
    }
    for (const secret of [A_SECRET, WEBHOOK_SECRET]) {
      assert.throws(() => verifyWebhook(secret, toB.headers, toB.body), /no valid webhook signature/);
    }
  });

  test("a redirect is not followed: its target never gets the body, and the event is retried", async () => {
    const email = `redirected-${Date.now()}@example.com`;
    a.redirectNext(email, elsewhere.url);
    const s = await app2.session(email);
    const tries = () => a.attempts.filter((t) => t.body.includes(email));
    await a.waitFor(() => a.accepted(email).length, "the retry after the 307");
    // The 307 acknowledged nothing: the queue tried again, and a took it.
    assert.deepEqual(tries().map((t) => t.status), [307, 200]);
    assert.equal(tries()[0].headers["webhook-id"], tries()[1].headers["webhook-id"]);
    await b.waitFor(() => b.accepted(email).length, "b's delivery");
    await sleep(1500);
    assert.deepEqual(elsewhere.attempts, [], "the redirect's target received nothing");
    assert.equal(a.accepted(userId(s)).length, 1);
  });

  test("a queued message for a receiver no longer configured is dropped, not delivered or retried", async () => {
    // Messages as the publisher queued them while `elsewhere` was configured
    // (or replayed from the dead-letter queue after its removal), beside one
    // for a configured receiver, which shows the batch was consumed.
    const queue = await app2.mf.getQueueProducer("EVENTS");
    const payload = (marker) =>
      JSON.stringify({ id: `evt_${marker}`, type: "user.deleted", timestamp: new Date().toISOString(), data: { userId: marker } });
    const removed = `removed${Date.now()}`;
    const kept = `kept${Date.now()}`;
    await queue.send(JSON.stringify({ id: `evt_${removed}`, endpoint: elsewhere.url, payload: payload(removed) }), { contentType: "text" });
    await queue.send(JSON.stringify({ id: `evt_${kept}`, endpoint: a.url, payload: payload(kept) }), { contentType: "text" });
    await a.waitFor(() => a.accepted(kept).length, "the configured receiver's delivery");
    // Long enough for max_retries (5) at retry_delay (1 s) had it been retried.
    await sleep(3000);
    assert.deepEqual(elsewhere.attempts, [], "no delivery, no retry");
    assert.ok(app2.logs.join("").includes("webhook_receiver_removed"), "the drop is logged");
    assert.equal(a.accepted(kept).length, 1);
  });
});
