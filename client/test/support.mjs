// What the client's tests share: the real worker (harness/app.mjs: workerd via
// Miniflare, local KV and D1, the Resend stand-in), a fetch that records every
// call the client makes and can stand in for the network's failures, and a
// sign-in that reads the code from the mailbox as a user would.
import { randomUUID } from "node:crypto";
import { createAuthClient } from "@allmine/auth-client";

export { freshEmail, fromNetwork, fromPlace, spawnApp } from "../../harness/app.mjs";

/**
 * A `fetch` for the client: sends to the app from its own client network (so
 * per-network limits of one test do not spill into the next), at the service
 * clock `serverOffsetMs` ahead of Date.now() (test builds read `X-Test-Now-Ms`),
 * and records each call's path and body. `headers` go with every call (a
 * device's User-Agent, a place through `fromPlace`). `intercept(call, forward)`
 * may stand in for the network: it gets the call and a function that sends it.
 */
export function networkFetch({ ip = `203.0.113.${1 + Math.floor(Math.random() * 250)}`, headers: device = {} } = {}) {
  const net = {
    calls: [],
    serverOffsetMs: 0,
    intercept: null,
    /** The calls to a path, e.g. "/api/v1/auth/refresh-token". */
    to: (path) => net.calls.filter((c) => c.path === path),
    fetch: async (input, init = {}) => {
      const request = new Request(input, init);
      const headers = new Headers(request.headers);
      for (const [name, value] of Object.entries(device)) headers.set(name, value);
      headers.set("cf-connecting-ip", ip);
      headers.set("x-test-now-ms", String(Date.now() + net.serverOffsetMs));
      const body = request.method === "GET" ? undefined : await request.text();
      const call = {
        path: new URL(request.url).pathname,
        method: request.method,
        authorization: headers.get("authorization"),
        body: body ? JSON.parse(body) : undefined,
        headers,
      };
      net.calls.push(call);
      const forward = () => fetch(request.url, { method: request.method, headers: call.headers, body });
      return net.intercept ? net.intercept(call, forward) : forward();
    },
  };
  return net;
}

/** A client of `app` over its own recorded network, and its store's contents. */
export function clientOf(app, { ip, headers, ...options } = {}) {
  const net = networkFetch({ ip, headers });
  let stored = null;
  const store = {
    get: async () => stored,
    set: async (tokens) => {
      stored = tokens;
    },
    clear: async () => {
      stored = null;
    },
  };
  const ended = [];
  const client = createAuthClient({ baseUrl: app.url, store, fetch: net.fetch, onSignedOut: (r) => ended.push(r), ...options });
  return { client, net, ended, tokens: () => stored, setTokens: (t) => (stored = t) };
}

/** Signs in through the client, reading the code from the mailbox. */
export async function signIn(app, client, email = `client-${randomUUID().slice(0, 8)}@example.com`) {
  await client.sendCode(email);
  const user = await client.verifyCode(email, app.mail.codeFor(email));
  return { email, user };
}

/** The claims of a JWT (unchecked). */
export function claims(token) {
  return JSON.parse(Buffer.from(token.split(".")[1], "base64url"));
}

/** Moves this process's clock (the device's, as the client reads it) `ms` ahead until `undo()`. */
export function shiftDeviceClock(ms) {
  const real = Date.now;
  Date.now = () => real() + ms;
  return () => {
    Date.now = real;
  };
}
