/** The pair a sign-in or a refresh gives. */
export interface Tokens {
  accessToken: string;
  refreshToken: string;
}

/**
 * Where the client keeps the tokens. The app supplies one that survives
 * restarts and keeps the refresh token safe (the Keychain or Keystore through
 * expo-secure-store or react-native-keychain on a phone); each method may be
 * async. The client writes only through it, and reads it before every call, so
 * two clients over one store see each other's refreshes.
 */
export interface TokenStore {
  get(): Tokens | null | undefined | Promise<Tokens | null | undefined>;
  set(tokens: Tokens): void | Promise<void>;
  clear(): void | Promise<void>;
}

/** The default: tokens in memory, gone when the process or page goes. */
export function memoryStore(initial?: Tokens): TokenStore {
  let tokens: Tokens | null = initial ?? null;
  return {
    get: () => tokens,
    set: (next) => {
      tokens = { accessToken: next.accessToken, refreshToken: next.refreshToken };
    },
    clear: () => {
      tokens = null;
    },
  };
}
