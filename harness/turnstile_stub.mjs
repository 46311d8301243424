// A stand-in for Cloudflare Turnstile's siteverify API (POST with `secret`,
// `response` and `remoteip`, as JSON or a form; answers `{success, ...}`):
// the token "solved-token" is a solved challenge, anything else is not.
import http from "node:http";

export const TURNSTILE_SECRET = "0x4AAAAAAAtest-secret";
export const SOLVED_TOKEN = "solved-token";
// Where and for what the stand-in's widget was solved (siteverify's `hostname` and `action`).
export const TURNSTILE_HOSTNAME = "allmine.test";
export const TURNSTILE_ACTION = "send-otp-email";

export async function startTurnstileStub() {
  const calls = [];
  const server = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (chunk) => (raw += chunk));
    req.on("end", () => {
      const type = req.headers["content-type"] ?? "";
      const body = type.includes("json") ? JSON.parse(raw || "{}") : Object.fromEntries(new URLSearchParams(raw));
      calls.push(body);
      const errors = [];
      if (body.secret !== TURNSTILE_SECRET) errors.push("invalid-input-secret");
      if (!body.response) errors.push("missing-input-response");
      else if (body.response !== SOLVED_TOKEN) errors.push("invalid-input-response");
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ success: errors.length === 0, "error-codes": errors, hostname: TURNSTILE_HOSTNAME, action: TURNSTILE_ACTION }));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}/turnstile/v0/siteverify`;
  return {
    url,
    /** The worker's settings that turn Turnstile on against this stand-in. */
    vars: {
      TURNSTILE_SECRET_KEY: TURNSTILE_SECRET,
      TURNSTILE_VERIFY_URL: url,
      TURNSTILE_HOSTNAMES: TURNSTILE_HOSTNAME,
      TURNSTILE_ACTION,
    },
    calls,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
