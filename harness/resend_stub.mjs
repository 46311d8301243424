// A stand-in for Resend, the one third-party SaaS the service talks to. It speaks
// the part of Resend's HTTP API the worker uses (POST /emails with a bearer key),
// records what it was sent, and can be told to fail: every call (`failWith`), or
// a share of calls (`failShare`, for fault phases under load in the soak).
import http from "node:http";

export const API_KEY = "re_test_key";

/**
 * The code in an email, read the way a person would: the line that is only
 * digits (ours), or the digits after "code is" (the TypeScript reference's
 * "Your Allmine code is 123456.", which the bench mails through this stand-in too).
 */
export function codeIn(mail) {
  const text = String(mail.text ?? "");
  const line = text.split("\n").find((l) => /^\d{4,8}$/.test(l.trim()));
  const code = line?.trim() ?? /code is (\d{4,8})/.exec(text)?.[1];
  if (!code) throw new Error(`no code in email to ${mail.to}: ${text}`);
  return code;
}

/**
 * Options (all optional; the tests use none):
 * - `keep`: how many emails `sent` keeps (oldest dropped first; default all).
 *   `lastMailTo` and `codeFor` still know the last email of every address.
 * - `hangMs`: a hanging call is closed unanswered after this long (default never).
 * - `anyKey`: accept any bearer key (the bench mails for two workers, each with its own).
 */
export async function startResendStub({ keep = Infinity, hangMs = 0, anyKey = false } = {}) {
  const sent = [];
  const last = new Map(); // address -> the last email to it, with its outcome
  const counts = { delivered: 0, failed: 0, hung: 0 };
  const hanging = new Set();
  let failWith = null;
  let share = null; // { share, status, hangShare }

  // What happens to this call: "delivered", a status to fail with, or "hang".
  const outcome = () => {
    if (failWith) return failWith;
    if (share) {
      const r = Math.random();
      if (r < share.hangShare) return "hang";
      if (r < share.hangShare + share.share) return share.status;
    }
    return "delivered";
  };

  const server = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (chunk) => (raw += chunk));
    req.on("end", () => {
      const reply = (status, body) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      if (req.method !== "POST" || req.url !== "/emails") {
        return reply(404, { statusCode: 404, name: "not_found", message: "Not found" });
      }
      const authorized = anyKey ? /^Bearer \S+$/.test(req.headers.authorization ?? "") : req.headers.authorization === `Bearer ${API_KEY}`;
      if (!authorized) {
        return reply(401, { statusCode: 401, name: "missing_api_key", message: "Invalid key" });
      }
      let body;
      try {
        body = JSON.parse(raw);
      } catch {
        return reply(422, { statusCode: 422, name: "validation_error", message: "Invalid JSON" });
      }
      const valid =
        typeof body.from === "string" &&
        Array.isArray(body.to) &&
        body.to.every((t) => typeof t === "string") &&
        typeof body.subject === "string" &&
        (typeof body.text === "string" || typeof body.html === "string");
      if (!valid) {
        return reply(422, { statusCode: 422, name: "validation_error", message: "Missing fields" });
      }
      const fate = outcome();
      const mail = { ...body, headers: req.headers, outcome: fate, at: Date.now() };
      sent.push(mail);
      if (sent.length > keep) sent.shift();
      for (const to of body.to) last.set(to, mail);
      if (fate === "hang") {
        // Never answers: a provider that timed out.
        counts.hung++;
        hanging.add(res);
        res.on("close", () => hanging.delete(res));
        if (hangMs > 0) setTimeout(() => res.destroy(), hangMs).unref();
        return;
      }
      if (fate !== "delivered") {
        counts.failed++;
        return reply(fate, { statusCode: fate, name: "application_error", message: "Down" });
      }
      counts.delivered++;
      reply(200, { id: `email_${counts.delivered + counts.failed + counts.hung}` });
    });
  });
  // Under load the workers reuse their connections: keep them open between calls.
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    sent,
    counts,
    /** Makes every following call answer `status`, or "hang" (null to recover). */
    failWith(status) {
      failWith = status;
    },
    /**
     * Makes a share of the following calls fail: `share` of them answer `status`,
     * `hangShare` of them never answer. `failShare(null)` recovers.
     */
    failShare(options) {
      share = options ? { status: 503, hangShare: 0, share: 0, ...options } : null;
    },
    /** The last email to `to` with its `outcome` ("delivered", a status, "hang"), or undefined. */
    lastMailTo(to) {
      return last.get(to);
    },
    /** The code in the last email sent to `to`, read the way a person would. */
    codeFor(to) {
      const mail = last.get(to);
      if (!mail) throw new Error(`no email was sent to ${to}`);
      return codeIn(mail);
    },
    close: () =>
      new Promise((resolve) => {
        for (const res of hanging) res.destroy();
        server.close(resolve);
        server.closeAllConnections();
      }),
  };
}
