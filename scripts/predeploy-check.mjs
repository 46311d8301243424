// The pre-deploy check (scripts/deploy.sh runs it after the build and before
// the migration, so a refusal leaves the database and the worker as they
// were): stops a deploy that would come up broken because a secret was never
// set, wrangler.toml still holds a placeholder binding id, a queue the worker
// needs does not exist, or JWT_ISSUER names a host this worker is not served
// on (verifiers would fetch the keys from the wrong place), naming what is wrong.
//
//   wrangler secret list --env production --format json > secrets.json
//   node scripts/predeploy-check.mjs --env production [--config wrangler.toml] [--queues list.txt] [secrets.json | -]
//   node scripts/predeploy-check.mjs --environments [--config wrangler.toml]
//
// The secret list is read from the file, or from stdin without one (or with -).
// The account's queues: `wrangler queues list`, run here page by page, or its
// recorded output with --queues. --environments prints the environments
// wrangler.toml defines, one a line (deploy.sh refuses any other name).
// Exit status: 0 ready, 1 something missing, 2 the input could not be read.
// (wrangler's experimental `secrets.required` is not relied on.)
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { unstable_readConfig } from "wrangler";
import { listQueues, parseQueueList, queuesOf } from "./wrangler-output.mjs";

const ROOT = new URL("../", import.meta.url).pathname;
const PLACEHOLDER = /^REPLACE_WITH_/;

/** Whether the worker holds `vars` to production's rules: an ENVIRONMENT
 * other than local and development (staging too), unless ALLOW_WEAK_SETTINGS
 * is "true" (src/config/bounds.rs). */
function heldToProduction(vars) {
  const environment = typeof vars.ENVIRONMENT === "string" ? vars.ENVIRONMENT.trim() : undefined;
  const production = environment !== undefined && !["local", "development"].includes(environment);
  return production && String(vars.ALLOW_WEAK_SETTINGS ?? "").trim() !== "true";
}

/** The secrets the worker refuses to run without, given the environment's vars
 * and the secrets set (the same rules as src/config/). */
export function requiredSecrets(vars, secretNames = []) {
  // Each JWT_ALGORITHM signs with its own secret (src/config/tokens.rs).
  const signingKey = (vars.JWT_ALGORITHM ?? "EdDSA") === "ES256" ? "JWT_ES256_PRIVATE_KEY" : "JWT_PRIVATE_KEY";
  const required = [signingKey, "OTP_HASH_KEY"];
  if ((vars.EMAIL_PROVIDER ?? "log") === "resend") required.push("EMAIL_API_KEY");
  // Without a challenge to offer, a spent failure budget locks an address for
  // everyone, its owner included (docs/security.md, "Rate limits").
  if (heldToProduction(vars)) required.push("TURNSTILE_SECRET_KEY");
  // Events cannot be signed without it (they wait in the queue until it is set).
  // With WEBHOOK_SECRETS set, receivers may all have their own: whether every
  // one does is in the values, which only the worker reads (/health says).
  if ((vars.WEBHOOK_ENDPOINTS ?? "").trim() !== "" && !secretNames.includes("WEBHOOK_SECRETS")) {
    required.push("WEBHOOK_SECRET");
  }
  return required;
}

/** The names in `wrangler secret list --format json` output: `[{name, type}]`. */
export function parseSecretList(text) {
  // The array starts the input or a line: anything wrangler printed before it
  // (a warning, say) is skipped.
  const start = text.startsWith("[") ? 0 : text.indexOf("\n[") + 1;
  let list;
  try {
    list = JSON.parse(text.slice(start));
  } catch {
    throw new Error("no JSON array of secrets in the input");
  }
  if (!Array.isArray(list) || !list.every((s) => typeof s?.name === "string")) {
    throw new Error("expected wrangler's JSON list of secrets: [{\"name\": ..., \"type\": ...}]");
  }
  return list.map((s) => s.name);
}

/** The host a route serves: `auth.allmine.app/*`, `https://x.example/api*`
 * or `{pattern, custom_domain}` give `auth.allmine.app`, `x.example`. */
export function routeHost(route) {
  const pattern = typeof route === "string" ? route : route?.pattern ?? "";
  return pattern.replace(/^[a-z]+:\/\//i, "").split("/")[0].toLowerCase();
}

/** Whether a route's host (possibly `*.example.com` or `*example.com`,
 * wildcards Cloudflare allows only in front) covers `host`. */
function hostMatches(pattern, host) {
  if (!pattern.startsWith("*")) return pattern === host;
  return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
}

/** Why JWT_ISSUER would send verifiers elsewhere, if it would. Its host must
 * be one this environment's worker is served on: a route or custom domain,
 * or, with workers_dev on, its workers.dev address (`<name>.<account
 * subdomain>.workers.dev`; the account subdomain is not in wrangler.toml, so
 * any is accepted). No check without a JWT_ISSUER var. */
export function issuerProblem(config) {
  const issuer = (config.vars ?? {}).JWT_ISSUER;
  if (issuer === undefined) return undefined;
  let url;
  try {
    url = new URL(String(issuer));
  } catch {
    return `JWT_ISSUER ${JSON.stringify(issuer)} is not a URL`;
  }
  if (url.protocol !== "https:") return `JWT_ISSUER ${JSON.stringify(issuer)} must be an https URL`;
  const host = url.hostname.toLowerCase();
  const routes = [...(config.routes ?? []), ...(config.route ? [config.route] : [])];
  const hosts = routes.map(routeHost).filter(Boolean);
  if (hosts.some((pattern) => hostMatches(pattern, host))) return undefined;
  const workersDev = config.workers_dev === true && host.startsWith(`${config.name}.`) && host.endsWith(".workers.dev");
  if (workersDev) return undefined;
  const served = [...hosts, ...(config.workers_dev ? [`${config.name}.<subdomain>.workers.dev`] : [])];
  return (
    `JWT_ISSUER's host ${host} is not one this worker is served on ` +
    `(${served.length > 0 ? served.join(", ") : "no routes, workers_dev off"}): ` +
    `verifiers would fetch the keys from ${host}`
  );
}

/** Every problem that would break `env`'s deployed worker, as sentences.
 * `config` is wrangler's resolved configuration of that environment;
 * `existingQueues`, the account's queue names (not checked when undefined). */
export function problems(config, secretNames, env, existingQueues) {
  const found = [];
  const vars = config.vars ?? {};
  // `local` lets codes be logged and tokens be issued over http: never deployed.
  if (vars.ENVIRONMENT === "local") found.push("ENVIRONMENT is local, which is never deployed");
  const missing = requiredSecrets(vars, secretNames).filter((name) => !secretNames.includes(name));
  if (missing.length > 0) {
    found.push(
      `missing secrets: ${missing.join(", ")} ` +
        `(set each with: npx wrangler secret put NAME --env ${env})`,
    );
  }
  if (!["EdDSA", "ES256", undefined].includes(vars.JWT_ALGORITHM)) {
    found.push(`JWT_ALGORITHM must be EdDSA or ES256 (it is ${JSON.stringify(vars.JWT_ALGORITHM)})`);
  }
  // WEBHOOK_SECRETS, both signing keys, Turnstile's and the review logins hold secrets
  // whenever they are set (REVIEW_LOGINS is optional: never required).
  const secretOnly = [
    ...requiredSecrets(vars), "WEBHOOK_SECRETS", "JWT_PRIVATE_KEY", "JWT_ES256_PRIVATE_KEY", "TURNSTILE_SECRET_KEY",
    "REVIEW_LOGINS",
  ];
  for (const name of new Set(secretOnly)) {
    if (name in vars) found.push(`${name} is a plain var in wrangler.toml; it must be a secret only`);
  }
  const ids = [
    ...(config.kv_namespaces ?? []).map((kv) => [`KV namespace ${kv.binding} id`, kv.id]),
    ...(config.d1_databases ?? []).map((db) => [`D1 database ${db.binding} database_id`, db.database_id]),
  ];
  for (const [what, id] of ids) {
    if (!id || PLACEHOLDER.test(id)) {
      found.push(`${what} in wrangler.toml is a placeholder (${id ?? "empty"}): npm run setup -- --env ${env}`);
    }
  }
  if (existingQueues) {
    const missing = queuesOf(config).filter((q) => !existingQueues.includes(q));
    if (missing.length > 0) {
      found.push(`missing queues: ${missing.join(", ")} (create them with: npm run setup -- --env ${env})`);
    }
  }
  const issuer = issuerProblem(config);
  if (issuer) found.push(issuer);
  // send_email is not inherited by environments: each must declare its own.
  if (vars.EMAIL_PROVIDER === "cloudflare") {
    if (!(config.send_email ?? []).some((binding) => binding.name === "EMAIL")) {
      found.push(`EMAIL_PROVIDER is cloudflare but [[env.${env}.send_email]] with name = "EMAIL" is missing`);
    }
    if (!vars.EMAIL_FROM) found.push("EMAIL_PROVIDER is cloudflare but EMAIL_FROM is not set");
  }
  return found;
}

/** The environments a wrangler config defines (`[env.NAME]`). */
export function environments(configPath) {
  return unstable_readConfig({ config: configPath }, { hideWarnings: true }).definedEnvironments ?? [];
}

function parseArgs(args) {
  const options = { config: `${ROOT}wrangler.toml`, input: "-" };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split(/=(.*)/s, 2);
    const value = () => inline ?? args[++i];
    if (flag === "--env" || flag === "-e") options.env = value();
    else if (flag === "--config" || flag === "-c") options.config = value();
    else if (flag === "--queues") options.queues = value();
    else if (flag === "--environments") options.environments = true;
    else options.input = args[i];
  }
  if (!options.env && !options.environments) {
    throw new Error("usage: predeploy-check.mjs --env <env> [--config wrangler.toml] [--queues list.txt] [secrets.json | -]");
  }
  return options;
}

function main() {
  let options, config, secretNames, existingQueues;
  try {
    options = parseArgs(process.argv.slice(2));
    if (options.environments) {
      for (const name of environments(options.config)) console.log(name);
      return;
    }
    config = unstable_readConfig({ config: options.config, env: options.env }, { hideWarnings: true });
    secretNames = parseSecretList(readFileSync(options.input === "-" ? 0 : options.input, "utf8"));
    // Asked of Cloudflare only when this environment uses queues.
    if (queuesOf(config).length > 0) {
      existingQueues = options.queues ? parseQueueList(readFileSync(options.queues, "utf8")) : listQueues();
    }
  } catch (err) {
    console.error(`pre-deploy check: ${err.message}`);
    process.exit(2);
  }
  const found = problems(config, secretNames, options.env, existingQueues);
  if (found.length > 0) {
    console.error(`pre-deploy check for ${options.env} failed; nothing was deployed:`);
    for (const problem of found) console.error(`  - ${problem}`);
    process.exit(1);
  }
  console.log(
    `pre-deploy check for ${options.env}: secrets ${requiredSecrets(config.vars, secretNames).join(", ")} set; ` +
      `binding ids filled in; queues there; JWT_ISSUER served here`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
