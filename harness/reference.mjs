// The TypeScript reference (../shared/reference/ts-worker), prepared to run
// under `wrangler dev` the way its run.sh does, for the bench and the memory
// control: a private copy (its own files stay untouched), its npm packages, a
// signing key and pepper in .dev.vars, and its D1 migrated at `persistTo`.
import { execFileSync } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DevServer } from "./devserver.mjs";
import { ROOT as OURS } from "./worker_options.mjs";

export const REFERENCE_SRC = join(OURS, "../shared/reference/ts-worker");

/** Copies `src` to `dir` (kept between runs: packages install once) and returns `dir`. */
export function prepareReference({ src = REFERENCE_SRC, dir, persistTo, log = () => {} }) {
  mkdirSync(dir, { recursive: true });
  for (const part of ["src", "migrations", "package.json", "package-lock.json", "wrangler.toml"]) {
    cpSync(join(src, part), join(dir, part), { recursive: true, force: true });
  }
  execFileSync("chmod", ["-R", "u+w", dir]);
  if (!existsSync(join(dir, "node_modules"))) {
    log("installing the reference's npm packages");
    execFileSync("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: dir, stdio: "ignore" });
  }
  if (!existsSync(join(dir, ".dev.vars"))) {
    const jwk = generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" });
    Object.assign(jwk, { kid: "reference-1", alg: "EdDSA" });
    writeFileSync(join(dir, ".dev.vars"), `JWT_PRIVATE_JWK='${JSON.stringify(jwk)}'\nOTP_PEPPER=${randomBytes(32).toString("hex")}\n`);
  }
  execFileSync("npx", ["wrangler", "d1", "migrations", "apply", "peer-db", "--local", "--persist-to", persistTo], {
    cwd: dir, stdio: "ignore", env: { ...process.env, CI: "true" },
  });
  return dir;
}

/**
 * `ours` (this repository, `npm run dev`) or the `reference` under `wrangler
 * dev`, as a DevServer (not started), its state and console log under
 * `scratch`; the reference mails the Resend stand-in at `mailUrl`.
 */
export function devServerFor(what, { scratch, port, inspectorPort, mailUrl, apiKey, src, log }) {
  const persistTo = join(scratch, "state");
  const logFile = join(scratch, "dev.log");
  if (what === "ours") return new DevServer({ root: OURS, port, persistTo, logFile, inspectorPort, vars: {} });
  // The private copy is kept between runs, so its packages install once.
  const dir = prepareReference({ src, dir: join(tmpdir(), "allmine-reference-under-dev"), persistTo, log });
  return new DevServer({
    root: dir, port, persistTo, logFile, inspectorPort,
    vars: { EMAIL_PROVIDER: "resend", EMAIL_API_URL: mailUrl, EMAIL_API_KEY: apiKey },
    args: ["--ip", "127.0.0.1", "--port", String(port), "--persist-to", persistTo],
  });
}
