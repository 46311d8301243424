// How an app uses the package's types; compiled (not run) by package.test.mjs.
import {
  AuthError,
  createAuthClient,
  SignedOutError,
  type CodeSent,
  type ErrorCode,
  type Session,
  type TokenStore,
  type User,
} from "@allmine/auth-client";

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

/** Asks for a code; answers how many digits to ask the user for, and the login id to keep across a restart. */
export async function askForCode(email: string, solveChallenge: () => Promise<string>): Promise<{ digits: number; loginId?: string }> {
  let sent: CodeSent;
  try {
    sent = await auth.sendCode(email, { locale: "tr" });
  } catch (err) {
    if (!(err instanceof AuthError) || err.code !== "challenge_required") throw err;
    sent = await auth.sendCode(email, { turnstileToken: await solveChallenge() });
  }
  const digits: number = sent.codeLength;
  const loginId: string | undefined = sent.loginId;
  return loginId ? { digits, loginId } : { digits };
}

export function signIn(email: string, code: string, loginId?: string): Promise<User> {
  return auth.verifyCode(email, code, loginId ? { loginId } : {});
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

/** The devices screen: one line per session, and a button that ends one. */
export async function devices(): Promise<string[]> {
  const sessions: Session[] = await auth.sessions();
  return sessions.map((s) => {
    const place = [s.city, s.country].filter((p): p is string => p !== null).join(", ");
    const seen: string = s.refreshedAt ?? s.createdAt;
    return `${s.deviceLabel ?? "Unknown device"}${place ? ` (${place})` : ""}, ${seen}${s.current ? " (this device)" : ""}`;
  });
}

export async function endDevice(session: Session): Promise<void> {
  try {
    await auth.endSession(session.id);
  } catch (err) {
    // Already ended elsewhere: the list was out of date.
    if (!(err instanceof AuthError) || err.code !== "session_not_found") throw err;
  }
}
