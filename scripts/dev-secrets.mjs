// Prints fresh local secrets in .dev.vars format. Also usable for production:
//   node scripts/dev-secrets.mjs  -> copy each value into `wrangler secret put NAME`
//   node scripts/dev-secrets.mjs NAME...  -> only those (scripts/toolchain.sh adds
//   a secret an older .dev.vars lacks this way)
import { randomBytes } from "node:crypto";
import { generateTokenKey } from "./keys.mjs";

const b64url = (bytes) => bytes.toString("base64url");
const SECRETS = {
  // The signing keys of both algorithms, so `npm run dev -- --var JWT_ALGORITHM:ES256`
  // works as well as the default (EdDSA): each algorithm reads its own secret.
  JWT_PRIVATE_KEY: () => generateTokenKey("EdDSA").privateKey,
  JWT_ES256_PRIVATE_KEY: () => generateTokenKey("ES256").privateKey,
  OTP_HASH_KEY: () => b64url(randomBytes(32)),
  EMAIL_API_KEY: () => "re_local_development_key",
  // Standard Webhooks' format: whsec_ and the base64 of 24 to 64 random bytes.
  WEBHOOK_SECRET: () => `whsec_${randomBytes(32).toString("base64")}`,
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !(name in SECRETS));
if (unknown.length > 0) {
  console.error(`dev-secrets: no such secret: ${unknown.join(", ")}`);
  process.exit(2);
}
if (wanted.length === 0) console.log("# Local secrets for wrangler dev. Never commit this file.");
for (const name of wanted.length > 0 ? wanted : Object.keys(SECRETS)) {
  console.log(`${name}=${SECRETS[name]()}`);
}
