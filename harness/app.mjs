// Starts the built worker (build/ + worker/entry.mjs) in workerd through Miniflare,
// with wrangler.toml's bindings, fresh in-memory KV and D1, the migrations applied
// the way wrangler applies them, and a Resend stand-in. One app per test file.
import { readdirSync, readFileSync } from "node:fs";
import { randomBytes, randomUUID } from "node:crypto";
import { Log, LogLevel, Miniflare } from "miniflare";
import { unstable_splitSqlQuery } from "wrangler";
import { cloudflareMailbox } from "./cloudflare_mail.mjs";
import { API_KEY, startResendStub } from "./resend_stub.mjs";
import { builtWorkerOptions, ROOT } from "./worker_options.mjs";


export const TEST_SECRETS = {
  JWT_PRIVATE_KEY: randomBytes(32).toString("base64url"),
  OTP_HASH_KEY: randomBytes(32).toString("base64url"),
  EMAIL_API_KEY: API_KEY,
};

/**
 * Waits, if needed, so that the next `needMs` fall inside one window of the
 * local rate-limiting bindings. Miniflare counts them in fixed windows of their
 * period aligned to the clock (Date.now() / period), so a test that counts
 * requests up to a limit would otherwise see the count reset mid-test now and
 * then. Returns at once when the current window has room.
 */
export async function withinOneLimiterWindow(needMs = 15_000, periodMs = 60_000) {
  const left = periodMs - (Date.now() % periodMs);
  if (left < needMs) await new Promise((resolve) => setTimeout(resolve, left + 100));
}

/** Headers of a request from one client network (an IPv4 address). */
export function fromNetwork(ip) {
  return { "cf-connecting-ip": ip };
}

/**
 * Headers that give one request its own `request.cf` (e.g. `{ country: "TR",
 * city: "Istanbul" }`), in place of the app's `cf`: Miniflare's entry worker
 * reads the request's `cf` from this header.
 */
export function fromPlace(cf) {
  return { "MF-CF-Blob": JSON.stringify(cf) };
}

/** A unique address per call, so tests sharing an app never share state. */
export function freshEmail(tag = "user") {
  return `${tag}-${randomUUID().slice(0, 8)}@example.com`;
}

/**
 * Per-address send limits are relaxed by default so tests can send many codes
 * to one address; tests of the limits pass the real defaults back in `vars`.
 */
export const RELAXED_LIMITS = { OTP_RESEND_COOLDOWN_SECONDS: "0", OTP_SENDS_PER_HOUR: "1000" };

/**
 * Starts the app, trying again if Miniflare's synchronous storage proxy trips
 * while the migrations are applied (a harness race seen on a starved CPU).
 */
export async function spawnApp(options = {}) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startApp(options);
    } catch (err) {
      if (attempt >= 3) throw err;
      console.error(`spawnApp attempt ${attempt} failed, retrying: ${err.message}`);
    }
  }
}

/**
 * `mail`: "resend" (default: the Resend stand-in) or "cloudflare" (the
 * send_email binding EMAIL, Miniflare's local one; `app.mail` is then a
 * `cloudflareMailbox`, whose `codeFor` waits for the binding's log line).
 * `sendEmail`: extra settings for that binding, as wrangler.toml's
 * `[[send_email]]` takes them (`allowed_destination_addresses` …).
 * `cf`: every request's `request.cf` (e.g. `{ country: "TR", city: "Istanbul" }`);
 * by default Miniflare's stand-in, which places everyone in Austin, US.
 */
async function startApp({ vars = {}, secrets = TEST_SECRETS, ratelimits, without = [], persist, port, mail: provider = "resend", sendEmail, cf = false } = {}) {
  const cloudflare = provider === "cloudflare";
  const mail = cloudflare ? cloudflareMailbox() : await startResendStub();
  const workerOptions = builtWorkerOptions();
  if (sendEmail) {
    const bindings = workerOptions.email?.send_email ?? [{ name: "EMAIL" }];
    workerOptions.email = { send_email: bindings.map((b) => (b.name === "EMAIL" ? { ...b, ...sendEmail } : b)) };
  }
  // `without` drops bindings, to see how the worker copes when one is missing.
  for (const name of without) {
    delete workerOptions.kvNamespaces?.[name];
    delete workerOptions.d1Databases?.[name];
    if (workerOptions.email?.send_email) {
      workerOptions.email.send_email = workerOptions.email.send_email.filter((b) => b.name !== name);
    }
  }
  const logs = [];
  // The whole Miniflare configuration for given vars and secrets: at start,
  // and again when a test redeploys with other settings (`app.restart`).
  const options = (vars, secrets) => ({
    ...workerOptions,
    bindings: {
      ...Object.fromEntries(
        Object.entries(workerOptions.bindings).filter(([k]) => !(k in TEST_SECRETS)),
      ),
      ...(cloudflare ? { EMAIL_PROVIDER: "cloudflare" } : { EMAIL_PROVIDER: "resend", EMAIL_API_URL: mail.url }),
      ...RELAXED_LIMITS,
      ...secrets,
      ...vars,
    },
    ...(ratelimits ? { ratelimits } : {}),
    // `port`: a known one (harness/ports.mjs), for an issuer that names where it is served.
    ...(port ? { port } : {}),
    // `persist`: keep D1 and KV in this folder (SQLite files), to read them afterwards.
    ...(persist ? { d1Persist: `${persist}/d1`, kvPersist: `${persist}/kv` } : {}),
    cf,
    log: cloudflare ? mail.log : new Log(LogLevel.WARN),
    handleRuntimeStdio(stdout, stderr) {
      for (const stream of [stdout, stderr]) {
        stream.on("data", (chunk) => logs.push(chunk.toString()));
      }
    },
  });
  const mf = new Miniflare(options(vars, secrets));
  let url, db, kv;
  try {
    url = await mf.ready;
    db = without.includes("DB") ? null : await mf.getD1Database("DB");
    kv = without.includes("OTP_CODES") ? null : await mf.getKVNamespace("OTP_CODES");
    if (db) await applyMigrations(db);
  } catch (err) {
    await mf.dispose().catch(() => {});
    await mail.close();
    throw err;
  }

  // Each request comes from its own client IP unless a test names one, so the
  // per-IP flood limits only bite in the tests about them.
  const raw = async (method, path, { body, headers = {} } = {}) => {
    headers = { "cf-connecting-ip": `198.51.100.${1 + Math.floor(Math.random() * 250)}`, ...headers };
    let res;
    try {
      res = await fetch(new URL(path, url), { method, headers, body, duplex: "half" });
    } catch (err) {
      throw new Error(`${method} ${path}: ${err.message}: ${err.cause?.code ?? ""} ${err.cause?.message ?? err.cause}`);
    }
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, body: json, text };
  };
  // A JSON call: objects are serialised, strings sent as they are.
  const call = (method, path, body, headers = {}) =>
    body === undefined
      ? raw(method, path, { headers })
      : raw(method, path, {
          body: typeof body === "string" ? body : JSON.stringify(body),
          headers: { "content-type": "application/json", ...headers },
        });

  const app = {
    url,
    mf,
    db,
    kv,
    mail,
    logs,
    get: (path, headers) => call("GET", path, undefined, headers),
    post: (path, body, headers) => call("POST", path, body, headers),
    call,
    /** Any request, with exactly the body and headers given (no content type added). */
    raw,
    /**
     * GET /health, and the configuration problems the worker logged for it:
     * the public answer names no setting, the log names each.
     */
    health: async () => {
      const start = logs.length;
      const res = await call("GET", "/health");
      let problems = [];
      for (let waited = 0; res.status === 503 && waited < 5000; waited += 50) {
        const line = logs
          .slice(start)
          .join("")
          .split("\n")
          .map((text) => {
            try {
              return JSON.parse(text.slice(text.indexOf("{")));
            } catch {
              return undefined;
            }
          })
          .find((entry) => entry?.event === "error" && entry.status === 503);
        if (line) {
          problems = line.cause.split("\n").filter((cause) => cause.startsWith("Configuration: "));
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return { ...res, problems };
    },
    sendOtp: (email, extra = {}, headers = {}) =>
      call("POST", "/api/v1/auth/send-otp-email", { email, ...extra }, headers),
    /** `extra`: more body fields (`loginId`). */
    verifyOtp: (email, code, headers = {}, extra = {}) =>
      call("POST", "/api/v1/auth/verify-otp-email", { email, code, ...extra }, headers),
    /** Sends a code and reads it from the mailbox, as a user would. */
    async requestCode(email, extra, headers) {
      const res = await app.sendOtp(email, extra, headers);
      if (res.status !== 200) throw new Error(`send-otp-email answered ${res.status}: ${res.text}`);
      return mail.codeFor(email.trim().toLowerCase());
    },
    /** The whole login: send, read the mail, verify. */
    async login(email) {
      const code = await app.requestCode(email);
      return app.verifyOtp(email, code);
    },
    /** Logs in and returns the token pair, failing the test otherwise. */
    async session(email = freshEmail()) {
      const res = await app.login(email);
      if (res.status !== 200) throw new Error(`login answered ${res.status}: ${res.text}`);
      return { email, ...res.body.data };
    },
    /** A call with `Authorization: Bearer <accessToken>`. */
    authed(method, path, accessToken, body) {
      return call(method, path, body, { authorization: `Bearer ${accessToken}` });
    },
    /**
     * Schedules the deletion of a session's account as an app does: a code
     * mailed to the account's address (the step-up), read from the mailbox,
     * then the request with it. `extra`: more of the body (`locale`).
     */
    async scheduleDeletion(s, extra = {}) {
      const code = await app.requestCode(s.email);
      return app.authed("POST", "/api/v1/users/me/deletion", s.accessToken, { code, ...extra });
    },
    /**
     * Makes the scheduled deletion of `email` due now, as if its grace period
     * had passed with its owner told (the notice out for over a day).
     */
    async makeDeletionDue(email) {
      const past = "2000-01-01T00:00:00.000Z";
      await db.batch([
        db.prepare("UPDATE users SET account_deletion_scheduled_for = ? WHERE email = ?").bind(past, email),
        db.prepare(
          "UPDATE deletion_notices SET sent_at = ? WHERE user_id = (SELECT id FROM users WHERE email = ?)",
        ).bind(past, email),
      ]);
    },
    /** Runs the Cron Trigger now, as Cloudflare would on schedule. */
    async runScheduled() {
      const worker = await mf.getWorker();
      return worker.scheduled({ cron: "*/15 * * * *", scheduledTime: new Date() });
    },
    /**
     * A new deployment over the same data: restarts workerd with these vars and
     * secrets (in place of the ones given at start), keeping KV and D1, which
     * Miniflare holds across option changes. Fresh isolates, so the worker
     * parses its configuration again.
     */
    async restart({ vars: newVars = {}, secrets: newSecrets = TEST_SECRETS } = {}) {
      await mf.setOptions(options(newVars, newSecrets));
      url = await mf.ready;
      app.url = url;
      if (db) app.db = db = await mf.getD1Database("DB");
      if (kv) app.kv = kv = await mf.getKVNamespace("OTP_CODES");
    },
    async dispose() {
      await mf.dispose();
      await mail.close();
    },
  };
  return app;
}

async function applyMigrations(db) {
  const dir = `${ROOT}migrations`;
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".sql")).sort()) {
    const statements = unstable_splitSqlQuery(readFileSync(`${dir}/${file}`, "utf8"));
    await db.batch(statements.map((sql) => db.prepare(sql)));
  }
}
