// The pre-deploy check (scripts/predeploy-check.mjs, run by `npm run deploy`)
// against recorded wrangler output (secret and queue lists) and a fixture
// wrangler.toml: it passes a ready environment and names whatever is missing;
// then scripts/deploy.sh itself, in order, with a fake wrangler.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { test } from "node:test";
import { unstable_readConfig } from "wrangler";
import { issuerProblem, problems, requiredSecrets } from "../../scripts/predeploy-check.mjs";
import { listQueues, parseQueueList, queuesOf } from "../../scripts/wrangler-output.mjs";
import { ROOT } from "../../harness/worker_options.mjs";

const FIXTURES = `${ROOT}tests/e2e/fixtures/deploy/`;
const ALL_THREE = ["JWT_PRIVATE_KEY", "OTP_HASH_KEY", "EMAIL_API_KEY"];
/** What production needs on top: the Turnstile secret. */
const PRODUCTION_FOUR = [...ALL_THREE, "TURNSTILE_SECRET_KEY"];

/** Runs the check as deploy.sh does; `secrets` is a fixture file or, with `stdin`, piped in. */
function check(env, secrets, { stdin = false, config = `${FIXTURES}wrangler.toml` } = {}) {
  const file = `${FIXTURES}${secrets}`;
  const args = [`${ROOT}scripts/predeploy-check.mjs`, "--env", env, "--config", config];
  const run = stdin
    ? spawnSync(process.execPath, args, { input: readFileSync(file), encoding: "utf8" })
    : spawnSync(process.execPath, [...args, file], { encoding: "utf8" });
  return { status: run.status, out: run.stdout, err: run.stderr };
}

test("a ready environment with every secret set passes", () => {
  const { status, out, err } = check("ready", "secrets-all.json");
  assert.equal(status, 0, err);
  assert.match(out, /JWT_PRIVATE_KEY, OTP_HASH_KEY, EMAIL_API_KEY, TURNSTILE_SECRET_KEY set/);
});

test("the secret list can come on stdin, as piped from wrangler", () => {
  assert.equal(check("ready", "secrets-all.json", { stdin: true }).status, 0);
  const missing = check("ready", "secrets-none.json", { stdin: true });
  assert.equal(missing.status, 1);
  assert.match(missing.err, /missing secrets: JWT_PRIVATE_KEY, OTP_HASH_KEY, EMAIL_API_KEY, TURNSTILE_SECRET_KEY \(/);
});

test("missing secrets stop the deploy, named, and only those", () => {
  const { status, err } = check("ready", "secrets-jwt-only.json");
  assert.equal(status, 1);
  assert.match(err, /nothing was deployed/);
  assert.match(err, /missing secrets: OTP_HASH_KEY, EMAIL_API_KEY, TURNSTILE_SECRET_KEY \(/);
  assert.match(err, /wrangler secret put NAME --env ready/);
});

test("TURNSTILE_SECRET_KEY is required in production unless ALLOW_WEAK_SETTINGS is true", () => {
  const ready = check("ready", "secrets-no-turnstile.json");
  assert.equal(ready.status, 1);
  assert.match(ready.err, /missing secrets: TURNSTILE_SECRET_KEY \(/);
  const weak = check("weak", "secrets-no-turnstile.json");
  assert.equal(weak.status, 0, weak.err);
  assert.match(weak.out, /secrets JWT_PRIVATE_KEY, OTP_HASH_KEY, EMAIL_API_KEY set/);
  // Any environment the worker holds to production's rules (staging too), as src/config/ does.
  const vars = { EMAIL_PROVIDER: "resend" };
  for (const ENVIRONMENT of ["production", "staging", " production "]) {
    assert.deepEqual(requiredSecrets({ ...vars, ENVIRONMENT }), PRODUCTION_FOUR, ENVIRONMENT);
    // Anything but "true" is no override (the worker refuses it, too).
    assert.deepEqual(requiredSecrets({ ...vars, ENVIRONMENT, ALLOW_WEAK_SETTINGS: "yes" }), PRODUCTION_FOUR);
    assert.deepEqual(requiredSecrets({ ...vars, ENVIRONMENT, ALLOW_WEAK_SETTINGS: "true" }), ALL_THREE);
  }
  for (const ENVIRONMENT of ["local", "development"]) {
    assert.deepEqual(requiredSecrets({ ...vars, ENVIRONMENT }), ALL_THREE, ENVIRONMENT);
  }
  // A secret, never a var, wherever it is set.
  assert.deepEqual(
    problems({ vars: { ...vars, ENVIRONMENT: "development", TURNSTILE_SECRET_KEY: "0x4AAA" } }, ALL_THREE, "x"),
    ["TURNSTILE_SECRET_KEY is a plain var in wrangler.toml; it must be a secret only"],
  );
});

test("EMAIL_API_KEY is required only where mail goes through Resend", () => {
  assert.equal(check("logmail", "secrets-no-mail.json").status, 0);
  const ready = check("ready", "secrets-no-mail.json");
  assert.equal(ready.status, 1);
  assert.match(ready.err, /missing secrets: EMAIL_API_KEY \(/);
});

test("WEBHOOK_SECRET is required only where events go to webhook endpoints", () => {
  const vars = { EMAIL_PROVIDER: "resend" };
  assert.ok(!requiredSecrets({ ...vars, WEBHOOK_ENDPOINTS: " " }).includes("WEBHOOK_SECRET"));
  assert.deepEqual(
    problems({ vars: { ...vars, WEBHOOK_ENDPOINTS: "https://crm.example/in" } }, ALL_THREE, "x"),
    ["missing secrets: WEBHOOK_SECRET (set each with: npx wrangler secret put NAME --env x)"],
  );
  // Receivers with their own secrets (WEBHOOK_SECRETS) may need no shared one.
  const own = { ...vars, WEBHOOK_ENDPOINTS: "https://crm.example/in" };
  assert.deepEqual(problems({ vars: own }, [...ALL_THREE, "WEBHOOK_SECRETS"], "x"), []);
  // ...which is a secret, never a var.
  assert.deepEqual(
    problems({ vars: { ...own, WEBHOOK_SECRETS: "https://crm.example/in whsec_x" } }, [...ALL_THREE, "WEBHOOK_SECRET"], "x"),
    ["WEBHOOK_SECRETS is a plain var in wrangler.toml; it must be a secret only"],
  );
});

test("the signing key required is the configured algorithm's", () => {
  const vars = { EMAIL_PROVIDER: "resend" };
  assert.deepEqual(requiredSecrets({ ...vars, JWT_ALGORITHM: "EdDSA" }), ALL_THREE);
  const es256 = { ...vars, JWT_ALGORITHM: "ES256" };
  assert.deepEqual(requiredSecrets(es256), ["JWT_ES256_PRIVATE_KEY", "OTP_HASH_KEY", "EMAIL_API_KEY"]);
  // An EdDSA key alone does not sign ES256 tokens.
  assert.deepEqual(problems({ vars: es256 }, ALL_THREE, "x"), [
    "missing secrets: JWT_ES256_PRIVATE_KEY (set each with: npx wrangler secret put NAME --env x)",
  ]);
  assert.deepEqual(problems({ vars: es256 }, ["JWT_ES256_PRIVATE_KEY", "OTP_HASH_KEY", "EMAIL_API_KEY"], "x"), []);
  assert.deepEqual(problems({ vars: { ...vars, JWT_ALGORITHM: "RS256" } }, ALL_THREE, "x"), [
    'JWT_ALGORITHM must be EdDSA or ES256 (it is "RS256")',
  ]);
  // Either signing key is a secret, never a var, whichever algorithm signs.
  assert.deepEqual(problems({ vars: { ...vars, JWT_ES256_PRIVATE_KEY: "x" } }, ALL_THREE, "x"), [
    "JWT_ES256_PRIVATE_KEY is a plain var in wrangler.toml; it must be a secret only",
  ]);
});

test("REVIEW_LOGINS is optional, and a secret, never a var", () => {
  const vars = { EMAIL_PROVIDER: "resend" };
  for (const ENVIRONMENT of ["production", "development"]) {
    assert.ok(!requiredSecrets({ ...vars, ENVIRONMENT }).includes("REVIEW_LOGINS"), ENVIRONMENT);
  }
  // Ready without it, and with it set as a secret.
  assert.deepEqual(problems({ vars }, ALL_THREE, "x"), []);
  assert.deepEqual(problems({ vars }, [...ALL_THREE, "REVIEW_LOGINS"], "x"), []);
  const leaked = problems({ vars: { ...vars, REVIEW_LOGINS: "review@allmine.app:482916" } }, ALL_THREE, "x");
  assert.deepEqual(leaked, ["REVIEW_LOGINS is a plain var in wrangler.toml; it must be a secret only"]);
  assert.doesNotMatch(leaked.join("\n"), /482916|review@/, "the value is never echoed");
});

test("placeholder binding ids are named", () => {
  const { status, err } = check("placeholders", "secrets-all.json");
  assert.equal(status, 1);
  assert.match(err, /KV namespace OTP_CODES id .*placeholder/);
  assert.match(err, /D1 database DB database_id .*placeholder/);
  assert.doesNotMatch(err, /missing secrets/);
});

test("a secret written into wrangler.toml as a var is refused", () => {
  const { status, err } = check("leaky", "secrets-all.json");
  assert.equal(status, 1);
  assert.match(err, /OTP_HASH_KEY is a plain var in wrangler.toml/);
  assert.doesNotMatch(err, /committed-by-mistake/, "the value is never echoed");
});

test("output that is not wrangler's secret list, or an unknown environment, is an error", () => {
  const garbage = check("ready", "secrets-garbage.txt");
  assert.equal(garbage.status, 2);
  assert.match(garbage.err, /no JSON array of secrets/);
  assert.equal(check("staging", "secrets-all.json").status, 2);
});

test("the project's own environments need their secrets (production Turnstile's too), and no secret is a var", () => {
  for (const [env, secrets] of [["development", ALL_THREE], ["production", PRODUCTION_FOUR]]) {
    const config = unstable_readConfig({ config: `${ROOT}wrangler.toml`, env }, { hideWarnings: true });
    assert.deepEqual(requiredSecrets(config.vars), secrets, env);
    // Whatever else is reported (binding ids until the operator fills them in),
    // no secret is missing or misplaced once these are set.
    const found = problems(config, secrets, env);
    assert.ok(found.every((p) => /placeholder/.test(p)), found.join("\n"));
    assert.match(problems(config, [], env).join("\n"), new RegExp(`missing secrets: ${secrets.join(", ")} \\(`));
  }
});

// scripts/deploy.sh itself, run from a copy of the scripts beside a fake
// `wrangler` (in the copy's node_modules/.bin, which the script puts first on
// PATH) that records its calls and never reaches Cloudflare; the real
// wrangler package reads the copy's wrangler.toml. The fake's dry run writes
// a bundle (entry.js and a .wasm containing FAKE_BUNDLE); `secret list`
// prints FAKE_SECRETS (fails without it); `queues list` replays recorded
// output (FAKE_QUEUES, page 1; an empty page after); migrations and the
// upload succeed. A deploy that would run the [build] command (its config
// still has one) is recorded as "BUILD": the real wrangler would rebuild.
const RECORDED = `${FIXTURES}wrangler/`;
const FAKE_WRANGLER = `#!/usr/bin/env node
const { appendFileSync, readFileSync, writeFileSync } = require("node:fs");
const args = process.argv.slice(2);
const line = args.join(" ");
appendFileSync(process.env.FAKE_WRANGLER_LOG, line + "\\n");
const flag = (name) => args[args.indexOf(name) + 1];
if (args[0] === "deploy") {
  const config = readFileSync(args.includes("--config") ? flag("--config") : "wrangler.toml", "utf8");
  if (/^command *=/m.test(config)) appendFileSync(process.env.FAKE_WRANGLER_LOG, "BUILD\\n");
  if (args.includes("--dry-run")) {
    writeFileSync(flag("--outdir") + "/entry.js", "import wasm from './0f-index_bg.wasm';");
    writeFileSync(flag("--outdir") + "/0f-index_bg.wasm", process.env.FAKE_BUNDLE);
  }
  process.exit(0);
}
if (line.startsWith("secret list") && process.env.FAKE_SECRETS) {
  process.stdout.write(readFileSync(process.env.FAKE_SECRETS));
  process.exit(0);
}
if (line.startsWith("queues list")) {
  const file = flag("--page") === "1" ? process.env.FAKE_QUEUES : "${RECORDED}queues-list-empty.txt";
  process.stdout.write(readFileSync(file));
  process.exit(0);
}
if (line.startsWith("d1 migrations apply")) process.exit(0);
process.exit(1);
`;

/** The project's wrangler.toml with production's binding ids filled in, as
 * `npm run setup` would leave it; `edit` changes it further. */
function readyConfig(edit = (toml) => toml) {
  const toml = readFileSync(`${ROOT}wrangler.toml`, "utf8")
    .replace("REPLACE_WITH_PRODUCTION_KV_NAMESPACE_ID", "3f7a0c9e1b2d4e6f8a0b1c2d3e4f5a6b")
    .replace("REPLACE_WITH_PRODUCTION_D1_DATABASE_ID", "9b1e6c3a-7d24-4f58-a0c2-3e5f7a9b1d40");
  return edit(toml);
}

function deploy(env, bundle, { args = ["--env", "production"], config = readyConfig(), secrets, queues } = {}) {
  const dir = mkdtempSync(`${tmpdir()}/deploy-sh-`);
  try {
    mkdirSync(`${dir}/scripts`);
    mkdirSync(`${dir}/node_modules/.bin`, { recursive: true });
    for (const f of ["deploy.sh", "toolchain.sh", "predeploy-check.mjs", "wrangler-output.mjs"]) {
      copyFileSync(`${ROOT}scripts/${f}`, `${dir}/scripts/${f}`);
    }
    // The real package, for its config reader (unstable_readConfig).
    symlinkSync(`${ROOT}node_modules/wrangler`, `${dir}/node_modules/wrangler`);
    writeFileSync(`${dir}/wrangler.toml`, config);
    // The lock first, then the stamp: npm packages count as installed.
    writeFileSync(`${dir}/package-lock.json`, "{}");
    writeFileSync(`${dir}/node_modules/.package-lock.json`, "{}");
    writeFileSync(`${dir}/node_modules/.bin/wrangler`, FAKE_WRANGLER);
    chmodSync(`${dir}/node_modules/.bin/wrangler`, 0o755);
    const log = `${dir}/calls.log`;
    writeFileSync(log, "");
    const { WORKER_FEATURES: _, ...inherited } = process.env;
    const run = spawnSync("bash", [`${dir}/scripts/deploy.sh`, ...args], {
      encoding: "utf8",
      env: {
        ...inherited,
        ...env,
        FAKE_WRANGLER_LOG: log,
        FAKE_BUNDLE: bundle,
        FAKE_SECRETS: secrets ? `${FIXTURES}${secrets}` : "",
        FAKE_QUEUES: `${RECORDED}${queues ?? "queues-list-both.txt"}`,
      },
    });
    const calls = readFileSync(log, "utf8").split("\n").filter(Boolean);
    return { status: run.status, out: run.stdout, err: run.stderr, calls };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The calls' verbs: "deploy --dry-run", "secret list", "d1 migrations", ... */
const verbs = (calls) =>
  calls.map((c) =>
    c === "BUILD" ? c
    : c.startsWith("deploy") ? (c.includes("--dry-run") ? "build" : c.includes("--no-bundle") ? "upload" : "deploy")
    : c.split(" ").slice(0, 2).join(" "),
  );

test("deploy.sh refuses a shell that builds the test worker, before calling wrangler at all", () => {
  const { status, err, calls } = deploy({ WORKER_FEATURES: "fault-injection" }, "release wasm");
  assert.notEqual(status, 0);
  assert.match(err, /WORKER_FEATURES=fault-injection builds a test worker/);
  assert.deepEqual(calls, []);
});

test("deploy.sh refuses a bundle with the fault routes before anything remote", () => {
  const { status, err, calls } = deploy({}, "wasm with the route /__faults/panic", { secrets: "secrets-all.json" });
  assert.notEqual(status, 0);
  assert.match(err, /is a test build \(it has the \/__faults routes\); nothing was deployed/);
  assert.deepEqual(verbs(calls), ["build", "BUILD"], `no secret list, no migration, no deploy: ${calls}`);
  assert.match(calls[0], /^deploy --dry-run --env production --outdir /);
});

test("deploy.sh builds once, checks, migrates, then uploads the bundle it built without rebuilding", () => {
  const { status, out, err, calls } = deploy({ WORKER_FEATURES: "" }, "release wasm", { secrets: "secrets-all.json" });
  assert.equal(status, 0, err);
  // The one build (the [build] command runs in the dry run) comes first; the
  // upload's config has no [build] command, so nothing after it builds.
  assert.deepEqual(verbs(calls), ["build", "BUILD", "secret list", "queues list", "queues list", "d1 migrations", "upload"]);
  const outdir = calls[0].match(/--outdir (\S+)/)[1];
  const upload = calls.at(-1);
  assert.match(upload, /^deploy --no-bundle --config \S+\.wrangler-upload\.\d+\.toml --env production /);
  assert.ok(upload.endsWith(` ${outdir}/entry.js`), `the built bundle is uploaded: ${upload}`);
  assert.match(out, /pre-deploy check for production: .*queues there; JWT_ISSUER served here/);
});

test("deploy.sh passes wrangler deploy options on to the upload, and refuses those it sets itself", () => {
  const passed = deploy({}, "release wasm", { secrets: "secrets-all.json", args: ["--env", "production", "--message", "v2"] });
  assert.equal(passed.status, 0, passed.err);
  assert.match(passed.calls.at(-1), /entry\.js --message v2$/);
  const refused = deploy({}, "release wasm", { secrets: "secrets-all.json", args: ["--env", "production", "--config", "x.toml"] });
  assert.notEqual(refused.status, 0);
  assert.match(refused.err, /npm run deploy sets --config itself/);
  assert.deepEqual(refused.calls, []);
});

test("deploy.sh refuses missing secrets after the build and before the migration", () => {
  const { status, err, calls } = deploy({}, "release wasm", { secrets: "secrets-jwt-only.json" });
  assert.notEqual(status, 0);
  assert.match(err, /missing secrets: OTP_HASH_KEY, EMAIL_API_KEY, TURNSTILE_SECRET_KEY/);
  assert.deepEqual(verbs(calls), ["build", "BUILD", "secret list", "queues list", "queues list"]);
});

test("a missing queue is refused before the migration", () => {
  const { status, err, calls } = deploy({}, "release wasm", { secrets: "secrets-all.json", queues: "queues-list-no-dlq.txt" });
  assert.notEqual(status, 0);
  assert.match(err, /missing queues: allmine-auth-events-dlq \(create them with: npm run setup -- --env production\)/);
  assert.match(err, /nothing was deployed/);
  assert.ok(!verbs(calls).includes("d1 migrations") && !verbs(calls).includes("upload"), calls.join("\n"));
});

test("a JWT_ISSUER on a host the worker is not routed on is refused before the migration", () => {
  const config = readyConfig((toml) => toml.replace('JWT_ISSUER = "https://auth.allmine.app"', 'JWT_ISSUER = "https://login.allmine.app"'));
  const { status, err, calls } = deploy({}, "release wasm", { secrets: "secrets-all.json", config });
  assert.notEqual(status, 0);
  assert.match(err, /JWT_ISSUER's host login\.allmine\.app is not one this worker is served on \(auth\.allmine\.app\)/);
  assert.deepEqual(verbs(calls), ["build", "BUILD", "secret list", "queues list", "queues list"]);
});

// An [env.staging] added to (a copy of) wrangler.toml deploys like the
// others; a name wrangler.toml does not define is refused, naming those it does.
const STAGING = `
[env.staging]
name = "allmine-auth-staging"
routes = [{ pattern = "auth-staging.allmine.app", custom_domain = true }]
[env.staging.vars]
ENVIRONMENT = "staging"
JWT_ISSUER = "https://auth-staging.allmine.app"
EMAIL_PROVIDER = "resend"
[[env.staging.kv_namespaces]]
binding = "OTP_CODES"
id = "5e0d2c4b6a8f4e1d9c3b7a5f2e4d6c8b"
[[env.staging.d1_databases]]
binding = "DB"
database_name = "allmine-auth-staging"
database_id = "4c2a9e7b-1f3d-4a6c-8e0b-2d4f6a8c0e1f"
migrations_dir = "migrations"
`;

test("deploy.sh deploys any environment wrangler.toml defines (staging), and refuses others by name", () => {
  const config = readyConfig((toml) => toml + STAGING);
  const staging = deploy({}, "release wasm", { secrets: "secrets-all.json", config, args: ["--env", "staging"] });
  assert.equal(staging.status, 0, staging.err);
  assert.match(staging.calls.at(-1), /^deploy --no-bundle --config \S+ --env staging /);
  // No queues in this staging: none are asked for.
  assert.deepEqual(verbs(staging.calls), ["build", "BUILD", "secret list", "d1 migrations", "upload"]);

  const unknown = deploy({}, "release wasm", { config, args: ["--env", "stagng"] });
  assert.notEqual(unknown.status, 0);
  assert.match(unknown.err, /no environment "stagng" in wrangler\.toml; known: development production staging/);
  assert.deepEqual(unknown.calls, []);
  const none = deploy({}, "release wasm", { config, args: [] });
  assert.notEqual(none.status, 0);
  assert.match(none.err, /usage: npm run deploy -- --env NAME .*one of: development production staging/);
});

test("JWT_ISSUER's host must be a route, a custom domain, or (workers_dev on) the worker's workers.dev address", () => {
  const config = (issuer, more) => ({ name: "allmine-auth", vars: { JWT_ISSUER: issuer }, ...more });
  const domain = { routes: [{ pattern: "auth.allmine.app", custom_domain: true }] };
  assert.equal(issuerProblem(config("https://auth.allmine.app", domain)), undefined);
  assert.match(issuerProblem(config("https://allmine.app", domain)), /host allmine\.app is not one/);
  const route = { routes: ["auth.allmine.app/*", { pattern: "*.eu.allmine.app/api/*", zone_name: "allmine.app" }] };
  assert.equal(issuerProblem(config("https://auth.allmine.app", route)), undefined);
  assert.equal(issuerProblem(config("https://auth.eu.allmine.app", route)), undefined);
  assert.match(issuerProblem(config("https://eu.allmine.app", route)), /not one this worker is served on/);
  assert.equal(issuerProblem(config("https://auth.allmine.app", { route: "https://auth.allmine.app/*" })), undefined);
  const dev = "https://allmine-auth.acme.workers.dev";
  assert.equal(issuerProblem(config(dev, { workers_dev: true })), undefined);
  assert.match(issuerProblem(config(dev, { workers_dev: false })), /no routes, workers_dev off/);
  assert.match(issuerProblem(config("https://other.acme.workers.dev", { workers_dev: true })), /allmine-auth\.<subdomain>\.workers\.dev/);
  assert.match(issuerProblem(config("http://auth.allmine.app", domain)), /must be an https URL/);
  assert.equal(issuerProblem({ vars: {} }), undefined, "no JWT_ISSUER var: nothing to compare");
});

test("queue lists: recorded wrangler tables are read; anything else is an error", () => {
  const read = (f) => parseQueueList(readFileSync(`${RECORDED}${f}`, "utf8"));
  assert.deepEqual(read("queues-list-both.txt"), ["someone-elses-queue", "allmine-auth-events", "allmine-auth-events-dlq"]);
  assert.deepEqual(read("queues-list-empty.txt"), []);
  assert.throws(() => parseQueueList("│ a │ b │\n│ 1 │ 2 │\n"), /table of queues/);
  // Pages are read until one is empty or brings nothing new.
  const pages = { 1: "queues-list-no-dlq.txt", 2: "queues-list-both.txt", 3: "queues-list-both.txt" };
  const asked = [];
  const run = (args) => {
    asked.push(args.at(-1));
    return readFileSync(`${RECORDED}${pages[args.at(-1)]}`, "utf8");
  };
  assert.deepEqual(listQueues(run), ["someone-elses-queue", "allmine-auth-events", "allmine-auth-events-dlq"]);
  assert.deepEqual(asked, ["1", "2", "3"]);
  assert.deepEqual(queuesOf(unstable_readConfig({ config: `${ROOT}wrangler.toml`, env: "production" }, { hideWarnings: true })), [
    "allmine-auth-events",
    "allmine-auth-events-dlq",
  ]);
});

test("Cloudflare mail needs the environment's own send_email binding and a sender", () => {
  const vars = { EMAIL_PROVIDER: "cloudflare", EMAIL_FROM: "Allmine <login@allmine.app>" };
  const secrets = ["JWT_PRIVATE_KEY", "OTP_HASH_KEY"];
  assert.deepEqual(problems({ vars, send_email: [{ name: "EMAIL" }] }, secrets, "x"), []);
  assert.deepEqual(problems({ vars }, secrets, "x"), [
    'EMAIL_PROVIDER is cloudflare but [[env.x.send_email]] with name = "EMAIL" is missing',
  ]);
  assert.deepEqual(problems({ vars: { EMAIL_PROVIDER: "cloudflare" }, send_email: [{ name: "EMAIL" }] }, secrets, "x"), [
    "EMAIL_PROVIDER is cloudflare but EMAIL_FROM is not set",
  ]);
});
