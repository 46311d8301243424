// A downstream service's webhook endpoint: a small local HTTP server that
// records every delivery attempt (headers and the raw body), answers 200, or
// an error status for the attempts a test asks it to fail. It verifies nothing itself:
// tests check signatures with `verifyWebhook`, written from the Standard
// Webhooks specification as a receiver would write it.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { spawnApp, TEST_SECRETS } from "./app.mjs";

/** A fresh signing secret in the spec's format: whsec_ + base64 of 32 random bytes. */
export function newWebhookSecret() {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

/**
 * Verifies a delivery as the spec says: all three headers present, the
 * timestamp within `toleranceSeconds` of now, and one of the space-separated
 * `v1,<base64>` signatures equal (in constant time) to
 * HMAC-SHA256(base64-decoded secret after whsec_, "{id}.{timestamp}.{body}").
 * Returns the parsed payload; throws on any failure.
 */
export function verifyWebhook(secret, headers, body, { toleranceSeconds = 300 } = {}) {
  const id = headers["webhook-id"];
  const timestamp = headers["webhook-timestamp"];
  const signatures = headers["webhook-signature"];
  if (!id || !timestamp || !signatures) throw new Error("missing webhook headers");
  if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > toleranceSeconds) {
    throw new Error(`webhook-timestamp ${timestamp} is outside the tolerance`);
  }
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest();
  for (const signature of signatures.split(" ")) {
    const [version, value] = signature.split(",");
    if (version !== "v1" || !value) continue;
    const given = Buffer.from(value, "base64");
    if (given.length === expected.length && timingSafeEqual(given, expected)) return JSON.parse(body);
  }
  throw new Error("no valid webhook signature");
}

/**
 * The worker publishing its events to a new receiver, signed with a new
 * secret: the setup of the tests that read webhooks. `dispose` stops both.
 */
export async function spawnAppWithWebhooks() {
  const secret = newWebhookSecret();
  const receiver = await startWebhookReceiver();
  try {
    const app = await spawnApp({
      vars: { WEBHOOK_ENDPOINTS: receiver.url },
      secrets: { ...TEST_SECRETS, WEBHOOK_SECRET: secret },
    });
    return { app, receiver, secret, dispose: () => app.dispose().finally(() => receiver.close()) };
  } catch (err) {
    await receiver.close();
    throw err;
  }
}

export async function startWebhookReceiver() {
  const attempts = [];
  // Attempts to fail: [predicate(body), remaining count, status, extra headers].
  const failures = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const failure = failures.find(([matches, left]) => left > 0 && matches(body));
      if (failure) failure[1]--;
      const status = failure ? failure[2] : 200;
      attempts.push({ method: req.method, path: req.url, headers: req.headers, body, status });
      res.writeHead(status, { "content-type": "text/plain", ...failure?.[3] });
      res.end(status === 200 ? "ok" : "receiver down");
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();

  const receiver = {
    url: `http://127.0.0.1:${port}/hooks/allmine`,
    /** Every attempt, failed ones included, in arrival order. */
    attempts,
    /** Answers `status` (500) to the next `times` attempts whose raw body contains `text`. */
    failNext(text, times = 1, status = 500) {
      failures.push([(body) => body.includes(text), times, status]);
    },
    /** Answers a redirect (307) to `location` to the next `times` attempts whose raw body contains `text`. */
    redirectNext(text, location, times = 1, status = 307) {
      failures.push([(body) => body.includes(text), times, status, { location }]);
    },
    /** The attempts answered 200 whose body mentions `text` (a user id, an address). */
    accepted(text) {
      return attempts.filter((a) => a.status === 200 && a.body.includes(text));
    },
    /** Waits until `check()` returns something truthy, and returns it. */
    async waitFor(check, what, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = check();
        if (found) return found;
        if (Date.now() > deadline) {
          throw new Error(`timed out waiting for ${what}; received: ${JSON.stringify(attempts.map((a) => [a.status, a.body]))}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
  return receiver;
}
