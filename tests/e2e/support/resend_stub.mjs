// A stand-in for Resend, the one third-party SaaS the service talks to. It speaks
// the part of Resend's HTTP API the worker uses (POST /emails with a bearer key),
// records what it was sent, and can be told to fail.
import http from "node:http";

export const API_KEY = "re_test_key";

export async function startResendStub() {
  const sent = [];
  let failWith = null;
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
      if (req.headers.authorization !== `Bearer ${API_KEY}`) {
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
      sent.push({ ...body, headers: req.headers });
      if (failWith === "hang") return; // never answers: a provider that timed out
      if (failWith) {
        return reply(failWith, { statusCode: failWith, name: "application_error", message: "Down" });
      }
      reply(200, { id: `email_${sent.length}` });
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    sent,
    /** Makes every following call answer `status`, or "hang" (null to recover). */
    failWith(status) {
      failWith = status;
    },
    /** The code in the last email sent to `to`, read the way a person would. */
    codeFor(to) {
      const mail = [...sent].reverse().find((m) => m.to.includes(to));
      if (!mail) throw new Error(`no email was sent to ${to}`);
      const line = mail.text.split("\n").find((l) => /^\d{4,8}$/.test(l.trim()));
      if (!line) throw new Error(`no code in email to ${to}: ${mail.text}`);
      return line.trim();
    },
    close: () =>
      new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections();
      }),
  };
}
