import type { ErrorCode } from "./generated/api.js";

/**
 * An error answer of the service. Branch on `code` (the `Error-Code` header,
 * one of the `ErrorCode` values of the API document) and show your own words;
 * `messages` are the envelope's English sentences, for logs, and may change.
 */
export class AuthError extends Error {
  /** The HTTP status. */
  readonly status: number;
  /**
   * The stable code from the `Error-Code` header; `null` when the answer had
   * none (then it did not come from the service: a proxy or gateway in front).
   */
  readonly code: ErrorCode | null;
  /** The envelope's `errors`. */
  readonly messages: string[];
  /** Seconds to wait, from `Retry-After` (a 429); `null` when absent. */
  readonly retryAfter: number | null;

  constructor(status: number, code: ErrorCode | null, messages: string[], retryAfter: number | null = null) {
    super(`${status}${code ? ` ${code}` : ""}${messages.length ? `: ${messages.join("; ")}` : ""}`);
    this.name = "AuthError";
    this.status = status;
    this.code = code;
    this.messages = messages;
    this.retryAfter = retryAfter;
  }
}


/**
 * There is no live session: the store is empty (`no_session`), or the service
 * refused the refresh token (`session_ended`: the session expired, was logged
 * out elsewhere, or was revoked because a retired refresh token came back).
 * The store has been cleared; show the sign-in screen.
 */
export class SignedOutError extends Error {
  readonly reason: "no_session" | "session_ended";
  /** The service's answer that ended the session, when there was one. */
  readonly cause: AuthError | undefined;

  constructor(reason: "no_session" | "session_ended", cause?: AuthError) {
    super(reason === "no_session" ? "Not signed in" : `The session has ended${cause ? ` (${cause.message})` : ""}`);
    this.name = "SignedOutError";
    this.reason = reason;
    this.cause = cause;
  }
}

/** The AuthError an error answer stands for; `body` is its parsed JSON, if any. */
export function errorFrom(res: Response, body: unknown): AuthError {
  const errors = (body as { errors?: unknown } | undefined)?.errors;
  const messages = Array.isArray(errors) ? errors.filter((e): e is string => typeof e === "string") : [];
  const retry = Number(res.headers.get("retry-after"));
  const code = res.headers.get("error-code") as ErrorCode | null;
  return new AuthError(res.status, code || null, messages, Number.isFinite(retry) && retry > 0 ? retry : null);
}
