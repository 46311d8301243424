import type { components, paths } from "./generated/api.js";
import { AuthError, errorFrom, SignedOutError } from "./errors.js";
import { tokenClaims } from "./jwt.js";
import { memoryStore, type Tokens, type TokenStore } from "./store.js";

type Schemas = components["schemas"];
/** How a session ended: the app logged out, or the service refused to refresh it. */
export type SignedOutReason = "logout" | "session_ended";
export type User = Schemas["User"];
/**
 * What a send answers: `codeLength`, the digits the mailed code has (ask for
 * that many: the service's length, or 8 when the send needed a solved
 * challenge), `expiresIn`, `resendAfter`, and `loginId`, which names this login
 * (opaque). The client carries `loginId` to the verify and to a resend by itself.
 */
export type CodeSent = Schemas["CodeSent"];
/** One device the user is signed in on: a live session and where its login came from. */
export type Session = Schemas["Session"];
type SessionTokens = Schemas["SessionTokens"];
type LoggedOut = Schemas["LoggedOut"];
type SessionList = Schemas["SessionList"];

/** `fetch`, or anything that answers like it. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

export interface AuthClientOptions {
  /** Where the service is, e.g. `https://auth.allmine.app` (a path prefix is kept). */
  baseUrl: string | URL;
  /** Where tokens live; in memory by default. */
  store?: TokenStore;
  /** The `fetch` to call; the global one by default. */
  fetch?: FetchLike;
  /** Called whenever the session ends: `logout`, or `session_ended` (the service refused to refresh it). */
  onSignedOut?: (reason: SignedOutReason) => void;
}

export interface SendCodeOptions {
  /** BCP 47 tag for the email's language (`tr…` Turkish, anything else English). */
  locale?: string;
  /** A solved Turnstile challenge, after a send failed with `challenge_required`. */
  turnstileToken?: string;
}

export interface VerifyCodeOptions {
  /** The send's `loginId`; by default the one the last send to this address answered. */
  loginId?: string;
}

export interface AuthClient {
  /**
   * Mails a code to `email`; answers how many digits it has (`codeLength`:
   * 8 after a challenge), how long it lives, and when another may be asked
   * for. Throws `AuthError`: `challenge_required` (403)
   * means render the Turnstile widget and call again with its token;
   * `resend_cooldown`, `hourly_cap`, `daily_cap`, `locked_out`… (429) carry
   * `retryAfter`.
   */
  sendCode(email: string, options?: SendCodeOptions): Promise<CodeSent>;
  /**
   * Exchanges the code for a session, stores its tokens, and answers the user.
   * Throws `AuthError`: `wrong_code` (400), `no_pending_code` (404),
   * `too_many_attempts` (429), `account_deleted` (409), `validation` (400).
   */
  verifyCode(email: string, code: string, options?: VerifyCodeOptions): Promise<User>;
  /**
   * `fetch` with `Authorization: Bearer <access token>`: refreshes first when
   * the token is about to expire, and once more on a 401, then sends again.
   * One refresh serves every concurrent caller. A path (`/api/v1/...`) is taken
   * relative to `baseUrl`. Throws `SignedOutError` when there is no session or
   * the service refused to refresh it (the store is then cleared).
   */
  authFetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /** The signed-in user (`GET /api/v1/users/me`). */
  me(): Promise<User>;
  /**
   * Ends this session at the service and clears the store. The store is
   * cleared even when the service cannot be reached (the error is thrown after).
   */
  logout(): Promise<void>;
  /** Ends every session of the user, this one included; answers how many ended. */
  logoutAll(): Promise<number>;
  /**
   * The devices the user is signed in on (`GET /api/v1/users/me/sessions`):
   * the live sessions, this one first (`current: true`), then the others, most
   * recently active first.
   */
  sessions(): Promise<Session[]>;
  /**
   * Ends one of the user's sessions by its `id` from `sessions()`, a lost
   * phone's say: its refresh token stops working at once. Ending this session
   * is a logout (the store is cleared and `onSignedOut("logout")` called, even
   * when the service cannot be reached). Throws `AuthError`
   * `session_not_found` (404) for an id that is not one of the user's live sessions.
   */
  endSession(id: string): Promise<void>;
  /** A current access token (refreshed if it was about to expire), for transports `authFetch` does not cover. */
  getAccessToken(): Promise<string>;
  /** Whether the store holds a session (it may still turn out to have ended). */
  isSignedIn(): Promise<boolean>;
  /** Adds a listener for the end of the session; answers a function that removes it. */
  onSignedOut(listener: (reason: SignedOutReason) => void): () => void;
}

const SEND = "/api/v1/auth/send-otp-email" satisfies keyof paths;
const VERIFY = "/api/v1/auth/verify-otp-email" satisfies keyof paths;
const REFRESH = "/api/v1/auth/refresh-token" satisfies keyof paths;
const LOGOUT = "/api/v1/auth/logout" satisfies keyof paths;
const ME = "/api/v1/users/me" satisfies keyof paths;
const SESSIONS = "/api/v1/users/me/sessions" satisfies keyof paths;
const SESSION = "/api/v1/users/me/sessions/{id}" satisfies keyof paths;

/** Refresh this many seconds before the access token's `exp`, so it does not expire in flight. */
const EXPIRY_MARGIN_SECONDS = 10;

/** Lets go of an answer's body that will not be read (React Native's fetch has no body stream). */
async function discard(res: Response) {
  await res.body?.cancel().catch(() => {});
}

export function createAuthClient(options: AuthClientOptions): AuthClient {
  const base = String(options.baseUrl).replace(/\/+$/, "");
  const store = options.store ?? memoryStore();
  // Called through a function so the global is looked up per call and called
  // with its own `this` (browsers refuse `fetch` detached from `window`).
  const fetchImpl: FetchLike = options.fetch ?? ((input, init) => fetch(input, init));
  const listeners = new Set<(reason: SignedOutReason) => void>();
  if (options.onSignedOut) listeners.add(options.onSignedOut);
  /** The last send's `loginId` per address. */
  const loginIds = new Map<string, string>();
  /** The service's clock minus ours, in seconds, from the `iat` of the last tokens received. */
  let skew = 0;
  /** The refresh in flight, which every caller that needs one joins. */
  let refreshing: Promise<Tokens> | null = null;

  const url = (path: string) => `${base}${path}`;
  const addressKey = (email: string) => email.trim().toLowerCase();

  function signedOut(reason: SignedOutReason) {
    for (const listener of [...listeners]) {
      try {
        listener(reason);
      } catch (err) {
        // A listener's failure is the app's; it must not break the sign-out.
        setTimeout(() => {
          throw err;
        });
      }
    }
  }

  async function keep(tokens: SessionTokens): Promise<Tokens> {
    const pair = { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken };
    const { iat } = tokenClaims(pair.accessToken);
    if (iat !== undefined) skew = iat - Date.now() / 1000;
    await store.set(pair);
    return pair;
  }

  function expiresSoon(accessToken: string): boolean {
    const { exp } = tokenClaims(accessToken);
    // A token without a readable `exp` is sent as it is; a 401 refreshes it.
    return exp !== undefined && exp - (Date.now() / 1000 + skew) <= EXPIRY_MARGIN_SECONDS;
  }

  function postJson(path: string, body: unknown): Promise<Response> {
    return fetchImpl(url(path), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  }

  /** The envelope's `data`, or the AuthError the answer stands for. */
  async function dataOf<T>(res: Response): Promise<T> {
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!res.ok) throw errorFrom(res, body);
    if (!body || typeof body !== "object" || !("data" in body)) {
      throw new AuthError(res.status, null, ["The answer is not the service's envelope"]);
    }
    return (body as { data: T }).data;
  }

  async function stored(): Promise<Tokens> {
    const tokens = await store.get();
    if (!tokens) throw new SignedOutError("no_session");
    return tokens;
  }

  /** Tokens whose access token is not about to expire, refreshing if it is. */
  async function fresh(): Promise<Tokens> {
    const tokens = await stored();
    return expiresSoon(tokens.accessToken) ? refreshAfter(tokens) : tokens;
  }

  /**
   * New tokens in place of `seen`, which turned out expired or refused. One
   * refresh at a time: callers that come while one runs wait for it, and a
   * caller whose `seen` was already replaced gets the store's newer tokens
   * without asking the service again.
   */
  function refreshAfter(seen: Tokens): Promise<Tokens> {
    if (!refreshing) {
      refreshing = refresh(seen).finally(() => {
        refreshing = null;
      });
    }
    return refreshing;
  }

  async function refresh(seen: Tokens): Promise<Tokens> {
    const current = await stored();
    if (current.accessToken !== seen.accessToken) return current;
    const ask = () => postJson(REFRESH, { refreshToken: current.refreshToken });
    let res: Response;
    try {
      res = await ask();
    } catch {
      // The answer was lost: the service may have rotated the token, and this
      // copy would then be retired. Presented again at once, within the
      // service's grace window (REFRESH_REUSE_GRACE_SECONDS, 10 s by default),
      // it is answered with the session's current token; later it would count
      // as reuse and end the session. So: one retry, now, and no more.
      res = await ask();
    }
    if (res.status >= 500) {
      // Whether it rotated is unknown too; the same single retry covers it.
      await discard(res);
      res = await ask();
    }
    try {
      return await keep(await dataOf<SessionTokens>(res));
    } catch (err) {
      if (err instanceof AuthError && err.status === 401) {
        // Refused: expired, logged out, or revoked as reuse. The session is over.
        await store.clear();
        signedOut("session_ended");
        throw new SignedOutError("session_ended", err);
      }
      throw err;
    }
  }

  function send(input: string | URL | Request, init: RequestInit | undefined, accessToken: string) {
    if (typeof Request !== "undefined" && input instanceof Request) {
      const headers = new Headers(init?.headers ?? input.headers);
      headers.set("authorization", `Bearer ${accessToken}`);
      return fetchImpl(new Request(input.clone(), { ...init, headers }));
    }
    const headers = new Headers(init?.headers);
    headers.set("authorization", `Bearer ${accessToken}`);
    const target = typeof input === "string" && input.startsWith("/") ? url(input) : input;
    return fetchImpl(target, { ...init, headers });
  }

  /** A body that can be sent twice: not a stream, which the first send consumes. */
  function replayable(input: string | URL | Request, init: RequestInit | undefined): boolean {
    const body = init?.body as { getReader?: unknown } | null | undefined;
    if (body && typeof body.getReader === "function") return false;
    return !(typeof Request !== "undefined" && input instanceof Request && input.bodyUsed);
  }

  async function authFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    const tokens = await fresh();
    const res = await send(input, init, tokens.accessToken);
    if (res.status !== 401 || !replayable(input, init)) return res;
    await discard(res);
    const renewed = await refreshAfter(tokens);
    return send(input, init, renewed.accessToken);
  }

  /**
   * Sends a request that ends sessions and answers how many ended. When it
   * ends this one, the store is cleared and `logout` signalled afterwards,
   * whatever the answer, even none.
   */
  async function endSessions(request: () => Promise<Response>, endsThisOne: boolean): Promise<number> {
    try {
      return (await dataOf<LoggedOut>(await request())).revokedSessions;
    } catch (err) {
      // Refused as already ended: then there is nothing left to end.
      if (endsThisOne && err instanceof SignedOutError) return 0;
      throw err;
    } finally {
      if (endsThisOne && (await store.get())) {
        await store.clear();
        signedOut("logout");
      }
    }
  }

  function logoutWith(body: { refreshToken: string } | { allSessions: true }): Promise<number> {
    const request = () =>
      authFetch(LOGOUT, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    return endSessions(request, true);
  }

  return {
    async sendCode(email, { locale, turnstileToken } = {}) {
      const key = addressKey(email);
      const loginId = loginIds.get(key);
      const res = await postJson(SEND, {
        email,
        ...(locale ? { locale } : {}),
        ...(turnstileToken ? { turnstileToken } : {}),
        ...(loginId ? { loginId } : {}),
      });
      const sent = await dataOf<CodeSent>(res);
      if (sent.loginId) loginIds.set(key, sent.loginId);
      return sent;
    },

    async verifyCode(email, code, options = {}) {
      const key = addressKey(email);
      // Sent only when known: the service ignores fields it does not know, but
      // there is nothing to send before a send named one.
      const loginId = options.loginId ?? loginIds.get(key);
      const res = await postJson(VERIFY, { email, code, ...(loginId ? { loginId } : {}) });
      const session = await dataOf<SessionTokens>(res);
      await keep(session);
      loginIds.delete(key);
      return session.user;
    },

    authFetch,

    async me() {
      return dataOf<User>(await authFetch(ME));
    },

    async logout() {
      const tokens = await store.get();
      if (!tokens) return;
      await logoutWith({ refreshToken: tokens.refreshToken });
    },

    async logoutAll() {
      return logoutWith({ allSessions: true });
    },

    async sessions() {
      return (await dataOf<SessionList>(await authFetch(SESSIONS))).sessions;
    },

    async endSession(id) {
      // A URL reads "." and ".." as steps up the path, however they are
      // escaped, so they would reach another route: no session has such an
      // id, and the answer is the service's for one that names none.
      if (id === "" || id === "." || id === "..") {
        throw new AuthError(404, "session_not_found", ["No such session"]);
      }
      const tokens = await store.get();
      const thisOne = !!tokens && tokenClaims(tokens.accessToken).sid === id;
      const path = SESSION.replace("{id}", encodeURIComponent(id));
      await endSessions(() => authFetch(path, { method: "DELETE" }), thisOne);
    },

    async getAccessToken() {
      return (await fresh()).accessToken;
    },

    async isSignedIn() {
      return Boolean(await store.get());
    },

    onSignedOut(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
