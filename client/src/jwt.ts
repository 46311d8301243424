// Reads a JWT's claims without checking it: the service checks every token; the
// client only needs to know when an access token is about to expire, and which
// session it belongs to. No atob (older React Native lacks it), no Buffer (Node only).

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/**
 * `exp` and `iat` (seconds since the epoch) and `sid` (the session's id) of a
 * JWT; each absent when unreadable.
 */
export function tokenClaims(token: string): { exp?: number; iat?: number; sid?: string } {
  try {
    const claims = JSON.parse(utf8(base64url(token.split(".")[1] ?? ""))) as Record<string, unknown>;
    const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
    return { exp: num(claims.exp), iat: num(claims.iat), sid: typeof claims.sid === "string" ? claims.sid : undefined };
  } catch {
    return {};
  }
}

function base64url(text: string): number[] {
  const bytes: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const ch of text) {
    const value = ALPHABET.indexOf(ch);
    if (value < 0) throw new Error("not base64url");
    buffer = (buffer << 6) | value;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((buffer >> bits) & 0xff);
      buffer &= (1 << bits) - 1;
    }
  }
  return bytes;
}

function utf8(bytes: number[]): string {
  return decodeURIComponent(bytes.map((b) => `%${b.toString(16).padStart(2, "0")}`).join(""));
}
