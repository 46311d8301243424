// Prints fresh local secrets in .dev.vars format. Also usable for production:
//   node scripts/dev-secrets.mjs  -> copy each value into `wrangler secret put NAME`
import { randomBytes } from "node:crypto";

const b64url = (bytes) => bytes.toString("base64url");
console.log("# Local secrets for wrangler dev. Never commit this file.");
console.log(`JWT_PRIVATE_KEY=${b64url(randomBytes(32))}`);
console.log(`OTP_HASH_KEY=${b64url(randomBytes(32))}`);
console.log("EMAIL_API_KEY=re_local_development_key");
// Standard Webhooks' format: whsec_ and the base64 of 24 to 64 random bytes.
console.log(`WEBHOOK_SECRET=whsec_${randomBytes(32).toString("base64")}`);
