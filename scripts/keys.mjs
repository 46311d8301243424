// `npm run keys [-- --env production] [--alg ES256]`: a fresh key pair for
// signing tokens (Ed25519 by default, P-256 with --alg ES256), and the steps of
// a key rotation (docs/operations.md, "Key rotation"). Prints the private key:
// run it on a trusted machine, paste it into `wrangler secret put`, and keep it
// nowhere else.
// `npm run keys -- --setting-of '<a JWK from the JWK Set>'` prints the value
// JWT_PREVIOUS_PUBLIC_KEYS takes for a published key.
import { createHash, generateKeyPairSync } from "node:crypto";
import { pathToFileURL } from "node:url";

/** The JWK Set's Cache-Control max-age (KEY_SET_MAX_AGE_SECONDS in
 * src/domain/token.rs; tests/e2e/key_rotation.test.mjs checks they agree). */
export const KEY_SET_MAX_AGE_SECONDS = 600;
/** The rotation rule: publish the next key this long before it signs. */
export const NEXT_KEY_LEAD_SECONDS = 2 * KEY_SET_MAX_AGE_SECONDS;
/** Refresh tokens' lifetime: how long a retired key stays published. */
export const REFRESH_TTL_DAYS = 30;

/** The algorithms JWT_ALGORITHM takes: the secret each signs with, and its curve. */
export const ALGORITHMS = {
  EdDSA: { secret: "JWT_PRIVATE_KEY", curve: "Ed25519", describe: "Ed25519, EdDSA" },
  ES256: { secret: "JWT_ES256_PRIVATE_KEY", curve: "P-256", describe: "P-256, ES256" },
};

/** RFC 7638 thumbprint of a public JWK: the `kid` the worker gives it (the
 * required members only, in lexicographic order). */
export function thumbprint(jwk) {
  const canonical =
    jwk.kty === "EC"
      ? JSON.stringify({ crv: jwk.crv, kty: "EC", x: jwk.x, y: jwk.y })
      : JSON.stringify({ crv: jwk.crv, kty: "OKP", x: jwk.x });
  return createHash("sha256").update(canonical).digest("base64url");
}

/** The value JWT_NEXT_PUBLIC_KEY / JWT_PREVIOUS_PUBLIC_KEYS take for a public
 * JWK: Ed25519, its `x`; P-256, the uncompressed point 0x04 ‖ x ‖ y. */
export function publicKeySetting(jwk) {
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519") return jwk.x;
  if (jwk.kty === "EC" && jwk.crv === "P-256") {
    const point = [Buffer.from([4]), Buffer.from(jwk.x, "base64url"), Buffer.from(jwk.y, "base64url")];
    return Buffer.concat(point).toString("base64url");
  }
  throw new Error(`not an Ed25519 or P-256 key: kty ${jwk.kty}, crv ${jwk.crv}`);
}

/** A new signing key of `alg`: the private key for its secret (Ed25519: the
 * 32-byte seed; P-256: the 32-byte scalar, a JWK's `d`), base64url; its public
 * key as the settings take it; and its kid. */
export function generateTokenKey(alg = "EdDSA") {
  const { privateKey } =
    alg === "ES256"
      ? generateKeyPairSync("ec", { namedCurve: "P-256" })
      : generateKeyPairSync("ed25519");
  const jwk = privateKey.export({ format: "jwk" });
  return { alg, privateKey: jwk.d, publicKey: publicKeySetting(jwk), kid: thumbprint(jwk) };
}

function option(args, name, fallback) {
  const at = args.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (at < 0) return fallback;
  return args[at].includes("=") ? args[at].slice(name.length + 1) : args[at + 1];
}

function main() {
  const args = process.argv.slice(2);
  const jwk = option(args, "--setting-of");
  if (jwk !== undefined) {
    console.log(publicKeySetting(JSON.parse(jwk)));
    return;
  }
  const env = option(args, "--env", "<env>");
  const alg = option(args, "--alg", "EdDSA");
  if (!(alg in ALGORITHMS)) {
    console.error(`--alg must be one of ${Object.keys(ALGORITHMS).join(", ")}`);
    process.exit(2);
  }
  const { secret, describe } = ALGORITHMS[alg];
  const key = generateTokenKey(alg);
  const minutes = NEXT_KEY_LEAD_SECONDS / 60;
  const pad = (name) => name.padEnd(22);
  console.log(`A new token signing key (${describe})

  ${pad("kid")}${key.kid}
  ${pad("JWT_NEXT_PUBLIC_KEY")}${key.publicKey}
  ${pad(secret)}${key.privateKey}

${secret} is the secret: paste it into \`wrangler secret put\` only, never
into wrangler.toml, a chat or a ticket. The other two are public.

A new environment: set JWT_ALGORITHM = "${alg}" in [env.${env}.vars], then
\`npx wrangler secret put ${secret} --env ${env}\`, paste ${secret}, done
(leave JWT_NEXT_PUBLIC_KEY empty).

Rotating the key of an environment that is live:
 1. Publish. In wrangler.toml, [env.${env}.vars]:
      JWT_NEXT_PUBLIC_KEY = "${key.publicKey}"
      JWT_PREVIOUS_PUBLIC_KEYS = "<the current key>"
    The current key is the first of https://<issuer host>/.well-known/jwks.json:
    its \`x\` for an Ed25519 key (kty OKP); for a P-256 key (kty EC), the output of
    \`npm run keys -- --setting-of '<that JWK>'\`. Also keep any previous keys still
    listed. Then \`npm run deploy -- --env ${env}\`
    and check that the JWK Set lists kid ${key.kid}.
 2. Wait at least ${minutes} minutes (twice the JWK Set's max-age of ${KEY_SET_MAX_AGE_SECONDS} s), so
    every cached copy of the key set holds the new key before it signs.
 3. Switch. \`npx wrangler secret put ${secret} --env ${env}\` and paste
    ${secret}.${alg === "ES256" ? ` If JWT_ALGORITHM is not ES256 yet (a switch from
    EdDSA), the secret waits unused: set JWT_ALGORITHM = "ES256" in
    [env.${env}.vars] and deploy, which is the switch.` : ` If JWT_ALGORITHM is not EdDSA (a switch from ES256), also set
    JWT_ALGORITHM = "EdDSA" in [env.${env}.vars] and deploy, which is the switch.`}
    It takes effect at once: new tokens carry kid ${key.kid};
    tokens the old key signed keep working (it is in JWT_PREVIOUS_PUBLIC_KEYS).
 4. Tidy, with your next deploy: JWT_NEXT_PUBLIC_KEY = "".
 5. Retire. ${REFRESH_TTL_DAYS} days and ${minutes} minutes after step 3, when the last refresh token
    the old key signed has expired, remove it from JWT_PREVIOUS_PUBLIC_KEYS and deploy.

A leaked key: skip the wait and do not list the leaked key anywhere; everyone
signs in again. Gateways that pin one algorithm: see docs/integrating.md,
"Gateways and algorithms".`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
