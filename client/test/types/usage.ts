// How an app uses the package's types; compiled (not run) by package.test.mjs.
import { AuthError, createAuthClient, SignedOutError, type ErrorCode, type TokenStore, type User } from "@allmine/auth-client";

const saved = new Map<string, string>();
// An async store, as expo-secure-store would back it.
const store: TokenStore = {
  async get() {
    const raw = saved.get("tokens");
    return raw ? JSON.parse(raw) : null;
  },
  async set(tokens) {
    saved.set("tokens", JSON.stringify(tokens));
  },
  async clear() {
    saved.delete("tokens");
  },
};

const auth = createAuthClient({ baseUrl: "https://auth.allmine.app", store, onSignedOut: (reason) => console.log(reason) });

export async function signIn(email: string, code: string, solveChallenge: () => Promise<string>): Promise<User> {
  try {
    await auth.sendCode(email, { locale: "tr" });
  } catch (err) {
    if (!(err instanceof AuthError) || err.code !== "challenge_required") throw err;
    await auth.sendCode(email, { turnstileToken: await solveChallenge() });
  }
  return auth.verifyCode(email, code);
}

export function wording(err: unknown): string {
  if (err instanceof SignedOutError) return "Oturumunuz sona erdi";
  if (!(err instanceof AuthError)) return "Bağlantı yok";
  const code: ErrorCode | null = err.code;
  switch (code) {
    case "wrong_code":
      return "Kod yanlış";
    case "resend_cooldown":
      return `${err.retryAfter ?? 30} saniye bekleyin`;
    default:
      return err.messages.join(" ");
  }
}

export async function profile(): Promise<string> {
  const me = await auth.me();
  const res = await auth.authFetch("/api/v1/users/me", { method: "PATCH", body: JSON.stringify({ bio: "merhaba" }) });
  return `${me.email} ${res.status} ${await auth.logoutAll()}`;
}
