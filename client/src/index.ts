// @allmine/auth-client: sign in to Allmine auth with an email code.
export { createAuthClient } from "./client.js";
export type {
  AuthClient,
  AuthClientOptions,
  CodeSent,
  FetchLike,
  SendCodeOptions,
  Session,
  SignedOutReason,
  User,
  VerifyCodeOptions,
} from "./client.js";
export { AuthError, SignedOutError } from "./errors.js";
export { memoryStore } from "./store.js";
export type { Tokens, TokenStore } from "./store.js";
/** The API's own types, generated from its OpenAPI document. */
export type { components, ErrorCode, paths } from "./generated/api.js";
