// `npm run keys [-- --env production]`: a fresh Ed25519 key pair for signing
// tokens, and the steps of a key rotation (docs/operations.md, "Key rotation").
// Prints the private seed: run it on a trusted machine, paste the seed into
// `wrangler secret put`, and keep it nowhere else.
import { createHash, generateKeyPairSync } from "node:crypto";
import { pathToFileURL } from "node:url";

/** The JWK Set's Cache-Control max-age (KEY_SET_MAX_AGE_SECONDS in
 * src/domain/token.rs; tests/e2e/key_rotation.test.mjs checks they agree). */
export const KEY_SET_MAX_AGE_SECONDS = 600;
/** The rotation rule: publish the next key this long before it signs. */
export const NEXT_KEY_LEAD_SECONDS = 2 * KEY_SET_MAX_AGE_SECONDS;
/** Refresh tokens' lifetime: how long a retired key stays published. */
export const REFRESH_TTL_DAYS = 30;

/** RFC 7638 thumbprint of an Ed25519 public key: the `kid` the worker gives it. */
export function thumbprint(x) {
  const canonical = JSON.stringify({ crv: "Ed25519", kty: "OKP", x });
  return createHash("sha256").update(canonical).digest("base64url");
}

/** A new signing key: the seed for JWT_PRIVATE_KEY, its public key and kid. */
export function generateTokenKey() {
  const jwk = generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" });
  return { privateKey: jwk.d, publicKey: jwk.x, kid: thumbprint(jwk.x) };
}

function envFromArgs(args) {
  const at = args.findIndex((a) => a === "--env" || a.startsWith("--env="));
  if (at < 0) return "<env>";
  return args[at].includes("=") ? args[at].slice("--env=".length) : args[at + 1];
}

function main() {
  const env = envFromArgs(process.argv.slice(2));
  const key = generateTokenKey();
  const minutes = NEXT_KEY_LEAD_SECONDS / 60;
  console.log(`A new token signing key (Ed25519)

  kid                  ${key.kid}
  JWT_NEXT_PUBLIC_KEY  ${key.publicKey}
  JWT_PRIVATE_KEY      ${key.privateKey}

JWT_PRIVATE_KEY is the secret: paste it into \`wrangler secret put\` only, never
into wrangler.toml, a chat or a ticket. The other two are public.

A new environment: \`npx wrangler secret put JWT_PRIVATE_KEY --env ${env}\`, paste
JWT_PRIVATE_KEY, done (leave JWT_NEXT_PUBLIC_KEY empty).

Rotating the key of an environment that is live:
 1. Publish. In wrangler.toml, [env.${env}.vars]:
      JWT_NEXT_PUBLIC_KEY = "${key.publicKey}"
      JWT_PREVIOUS_PUBLIC_KEYS = "<x of the current key>"
    The current key is the first of https://<issuer host>/.well-known/jwks.json
    (also add any previous keys still listed). Then \`npm run deploy -- --env ${env}\`
    and check that the JWK Set lists kid ${key.kid}.
 2. Wait at least ${minutes} minutes (twice the JWK Set's max-age of ${KEY_SET_MAX_AGE_SECONDS} s), so
    every cached copy of the key set holds the new key before it signs.
 3. Switch. \`npx wrangler secret put JWT_PRIVATE_KEY --env ${env}\` and paste
    JWT_PRIVATE_KEY. It takes effect at once: new tokens carry kid ${key.kid};
    tokens the old key signed keep working (it is in JWT_PREVIOUS_PUBLIC_KEYS).
 4. Tidy, with your next deploy: JWT_NEXT_PUBLIC_KEY = "".
 5. Retire. ${REFRESH_TTL_DAYS} days and ${minutes} minutes after step 3, when the last refresh token
    the old key signed has expired, remove it from JWT_PREVIOUS_PUBLIC_KEYS and deploy.

A leaked key: skip the wait and do not list the leaked key anywhere; everyone
signs in again.`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
