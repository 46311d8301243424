// The pre-deploy check (scripts/predeploy-check.mjs, run by `npm run deploy`)
// against recorded `wrangler secret list --format json` output and a fixture
// wrangler.toml: it passes a ready environment and names whatever is missing.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { test } from "node:test";
import { unstable_readConfig } from "wrangler";
import { problems, requiredSecrets } from "../../scripts/predeploy-check.mjs";
import { ROOT } from "../../harness/worker_options.mjs";

const FIXTURES = `${ROOT}tests/e2e/fixtures/deploy/`;
const ALL_THREE = ["JWT_PRIVATE_KEY", "OTP_HASH_KEY", "EMAIL_API_KEY"];

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
  assert.match(out, /JWT_PRIVATE_KEY, OTP_HASH_KEY, EMAIL_API_KEY set/);
});

test("the secret list can come on stdin, as piped from wrangler", () => {
  assert.equal(check("ready", "secrets-all.json", { stdin: true }).status, 0);
  const missing = check("ready", "secrets-none.json", { stdin: true });
  assert.equal(missing.status, 1);
  assert.match(missing.err, /missing secrets: JWT_PRIVATE_KEY, OTP_HASH_KEY, EMAIL_API_KEY/);
});

test("missing secrets stop the deploy, named, and only those", () => {
  const { status, err } = check("ready", "secrets-jwt-only.json");
  assert.equal(status, 1);
  assert.match(err, /nothing was deployed/);
  assert.match(err, /missing secrets: OTP_HASH_KEY, EMAIL_API_KEY \(/);
  assert.match(err, /wrangler secret put NAME --env ready/);
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

test("the project's own environments need the three secrets, and no secret is a var", () => {
  for (const env of ["development", "production"]) {
    const config = unstable_readConfig({ config: `${ROOT}wrangler.toml`, env }, { hideWarnings: true });
    assert.deepEqual(requiredSecrets(config.vars), ALL_THREE, env);
    // Whatever else is reported (binding ids until the operator fills them in),
    // no secret is missing or misplaced once the three are set.
    const found = problems(config, ALL_THREE, env);
    assert.ok(found.every((p) => /placeholder/.test(p)), found.join("\n"));
    assert.match(problems(config, [], env).join("\n"), /missing secrets: JWT_PRIVATE_KEY, OTP_HASH_KEY, EMAIL_API_KEY/);
  }
});

// scripts/deploy.sh itself, run from a copy of the scripts beside a fake
// `wrangler` (in the copy's node_modules/.bin, which the script puts first on
// PATH) that records its calls and never reaches Cloudflare. Its dry run
// writes a bundle containing FAKE_BUNDLE; `secret list` fails, so a bundle
// that passes stops at the first remote call, recorded.
const FAKE_WRANGLER = `#!/bin/sh
echo "$*" >> "$FAKE_WRANGLER_LOG"
if [ "$1 $2" = "deploy --dry-run" ]; then
  while [ $# -gt 0 ]; do [ "$1" = "--outdir" ] && out="$2"; shift; done
  printf '%s' "$FAKE_BUNDLE" > "$out/index_bg.wasm"
  exit 0
fi
exit 1
`;

function deploy(env, bundle) {
  const dir = mkdtempSync(`${tmpdir()}/deploy-sh-`);
  try {
    mkdirSync(`${dir}/scripts`);
    mkdirSync(`${dir}/node_modules/.bin`, { recursive: true });
    for (const f of ["deploy.sh", "toolchain.sh"]) copyFileSync(`${ROOT}scripts/${f}`, `${dir}/scripts/${f}`);
    // The lock first, then the stamp: npm packages count as installed.
    writeFileSync(`${dir}/package-lock.json`, "{}");
    writeFileSync(`${dir}/node_modules/.package-lock.json`, "{}");
    writeFileSync(`${dir}/node_modules/.bin/wrangler`, FAKE_WRANGLER);
    chmodSync(`${dir}/node_modules/.bin/wrangler`, 0o755);
    const log = `${dir}/calls.log`;
    writeFileSync(log, "");
    const { WORKER_FEATURES: _, ...inherited } = process.env;
    const run = spawnSync("bash", [`${dir}/scripts/deploy.sh`, "--env", "production"], {
      encoding: "utf8",
      env: { ...inherited, ...env, FAKE_WRANGLER_LOG: log, FAKE_BUNDLE: bundle },
    });
    const calls = readFileSync(log, "utf8").split("\n").filter(Boolean);
    return { status: run.status, err: run.stderr, calls };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("deploy.sh refuses a shell that builds the test worker, before calling wrangler at all", () => {
  const { status, err, calls } = deploy({ WORKER_FEATURES: "fault-injection" }, "release wasm");
  assert.notEqual(status, 0);
  assert.match(err, /WORKER_FEATURES=fault-injection builds a test worker/);
  assert.deepEqual(calls, []);
});

test("deploy.sh refuses a bundle with the fault routes before anything remote", () => {
  const { status, err, calls } = deploy({}, "wasm with the route /__faults/panic");
  assert.notEqual(status, 0);
  assert.match(err, /is a test build \(it has the \/__faults routes\); nothing was deployed/);
  assert.equal(calls.length, 1, `no secret list, no migration, no deploy: ${calls}`);
  assert.match(calls[0], /^deploy --dry-run --env production --outdir /);
});

test("deploy.sh passes a release bundle on to the remote steps", () => {
  // The control: the same fake with a clean bundle reaches \`secret list\`.
  const { status, calls } = deploy({ WORKER_FEATURES: "" }, "release wasm");
  assert.notEqual(status, 0, "the fake's secret list fails");
  assert.match(calls[0], /^deploy --dry-run --env production --outdir /);
  assert.deepEqual(calls.slice(1), ["secret list --env production --format json"]);
});
