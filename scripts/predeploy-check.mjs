// The pre-deploy check (scripts/deploy.sh runs it before touching anything):
// stops a deploy that would come up broken because a secret was never set or
// wrangler.toml still holds a placeholder binding id, naming what is missing.
//
//   wrangler secret list --env production --format json > secrets.json
//   node scripts/predeploy-check.mjs --env production [--config wrangler.toml] [secrets.json | -]
//
// The secret list is read from the file, or from stdin without one (or with -).
// Exit status: 0 ready, 1 something missing, 2 the input could not be read.
// (wrangler's experimental `secrets.required` is not relied on.)
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { unstable_readConfig } from "wrangler";

const ROOT = new URL("../", import.meta.url).pathname;
const PLACEHOLDER = /^REPLACE_WITH_/;

/** The secrets the worker refuses to run without, given the environment's vars
 * and the secrets set (the same rules as src/config/). */
export function requiredSecrets(vars, secretNames = []) {
  // Each JWT_ALGORITHM signs with its own secret (src/config/tokens.rs).
  const signingKey = (vars.JWT_ALGORITHM ?? "EdDSA") === "ES256" ? "JWT_ES256_PRIVATE_KEY" : "JWT_PRIVATE_KEY";
  const required = [signingKey, "OTP_HASH_KEY"];
  if ((vars.EMAIL_PROVIDER ?? "log") === "resend") required.push("EMAIL_API_KEY");
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

/** Every problem that would break `env`'s deployed worker, as sentences.
 * `config` is wrangler's resolved configuration of that environment. */
export function problems(config, secretNames, env) {
  const found = [];
  const vars = config.vars ?? {};
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
  // WEBHOOK_SECRETS and both signing keys hold secrets whenever they are set.
  const secretOnly = [...requiredSecrets(vars), "WEBHOOK_SECRETS", "JWT_PRIVATE_KEY", "JWT_ES256_PRIVATE_KEY"];
  for (const name of new Set(secretOnly)) {
    if (name in vars) found.push(`${name} is a plain var in wrangler.toml; it must be a secret only`);
  }
  const ids = [
    ...(config.kv_namespaces ?? []).map((kv) => [`KV namespace ${kv.binding} id`, kv.id]),
    ...(config.d1_databases ?? []).map((db) => [`D1 database ${db.binding} database_id`, db.database_id]),
  ];
  for (const [what, id] of ids) {
    if (!id || PLACEHOLDER.test(id)) found.push(`${what} in wrangler.toml is a placeholder (${id ?? "empty"})`);
  }
  return found;
}

function parseArgs(args) {
  const options = { config: `${ROOT}wrangler.toml`, input: "-" };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split(/=(.*)/s, 2);
    const value = () => inline ?? args[++i];
    if (flag === "--env" || flag === "-e") options.env = value();
    else if (flag === "--config" || flag === "-c") options.config = value();
    else options.input = args[i];
  }
  if (!options.env) throw new Error("usage: predeploy-check.mjs --env <env> [--config wrangler.toml] [secrets.json | -]");
  return options;
}

function main() {
  let options, config, secretNames;
  try {
    options = parseArgs(process.argv.slice(2));
    config = unstable_readConfig({ config: options.config, env: options.env }, { hideWarnings: true });
    secretNames = parseSecretList(readFileSync(options.input === "-" ? 0 : options.input, "utf8"));
  } catch (err) {
    console.error(`pre-deploy check: ${err.message}`);
    process.exit(2);
  }
  const found = problems(config, secretNames, options.env);
  if (found.length > 0) {
    console.error(`pre-deploy check for ${options.env} failed; nothing was deployed:`);
    for (const problem of found) console.error(`  - ${problem}`);
    process.exit(1);
  }
  console.log(`pre-deploy check for ${options.env}: secrets ${requiredSecrets(config.vars, secretNames).join(", ")} set; binding ids filled in`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
