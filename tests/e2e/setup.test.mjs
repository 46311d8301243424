// `npm run setup` (scripts/setup.mjs) against recorded wrangler output
// (fixtures/deploy/wrangler/, recorded by its record.mjs) replayed by a fake
// `wrangler` on PATH, on a temporary copy of wrangler.toml: it creates what
// is missing, writes the ids in place of production's placeholders only, and
// a second run creates nothing and leaves the file byte for byte as it was.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { test } from "node:test";
import { setBindingId } from "../../scripts/setup.mjs";
import { ROOT } from "../../harness/worker_options.mjs";

const RECORDED = `${ROOT}tests/e2e/fixtures/deploy/wrangler/`;
// The account before setup: someone else's namespace and database, and
// production's events queue but not its dead-letter queue. After a create,
// the listings are those recorded with the resource there.
const FAKE_WRANGLER = `#!/usr/bin/env node
const { appendFileSync, readFileSync } = require("node:fs");
const log = process.env.FAKE_WRANGLER_LOG;
const line = process.argv.slice(2).join(" ");
const created = (what) => readFileSync(log, "utf8").includes(what);
appendFileSync(log, line + "\\n");
const replay = (file) => { process.stdout.write(readFileSync("${RECORDED}" + file)); process.exit(0); };
if (line.startsWith("kv namespace list")) replay(created("kv namespace create") ? "kv-list-after.json" : "kv-list-before.json");
if (line.startsWith("d1 list --json")) replay(created("d1 create") ? "d1-list-after.json" : "d1-list-before.json");
if (line.startsWith("queues list --page 1 ")) replay(created("queues create") ? "queues-list-both.txt" : "queues-list-no-dlq.txt");
if (line.startsWith("queues list --page ")) replay("queues-list-empty.txt");
if (line.startsWith("kv namespace create allmine-auth-OTP_CODES ")) replay("kv-create.txt");
if (line.startsWith("d1 create allmine-auth ")) replay("d1-create.txt");
if (line.startsWith("queues create allmine-auth-events-dlq ")) replay("queues-create.txt");
process.exit(1);
`;

/** One run; its calls are the log's new lines (the log itself, the fake's
 * memory of what was created, is kept across runs). */
function setupIn(dir, env) {
  const seen = readFileSync(`${dir}/calls.log`, "utf8").length;
  const run = spawnSync(process.execPath, [`${ROOT}scripts/setup.mjs`, "--env", env, "--config", `${dir}/wrangler.toml`], {
    encoding: "utf8",
    env: { ...process.env, PATH: `${dir}/bin:${process.env.PATH}`, FAKE_WRANGLER_LOG: `${dir}/calls.log` },
  });
  const calls = readFileSync(`${dir}/calls.log`, "utf8").slice(seen).split("\n").filter(Boolean);
  return { status: run.status, out: run.stdout, err: run.stderr, calls: calls.map((c) => c.replace(` --config ${dir}/wrangler.toml`, "")) };
}

function withCopy(check) {
  const dir = mkdtempSync(`${tmpdir()}/setup-`);
  try {
    mkdirSync(`${dir}/bin`);
    writeFileSync(`${dir}/bin/wrangler`, FAKE_WRANGLER);
    chmodSync(`${dir}/bin/wrangler`, 0o755);
    writeFileSync(`${dir}/calls.log`, "");
    writeFileSync(`${dir}/wrangler.toml`, readFileSync(`${ROOT}wrangler.toml`));
    check(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("setup creates what production lacks, writes its ids, and a second run changes nothing", () => {
  withCopy((dir) => {
    const original = readFileSync(`${ROOT}wrangler.toml`, "utf8");
    const first = setupIn(dir, "production");
    assert.equal(first.status, 0, first.err);
    assert.deepEqual(first.calls, [
      "kv namespace list",
      "kv namespace create allmine-auth-OTP_CODES",
      "kv namespace list",
      "d1 list --json",
      "d1 create allmine-auth",
      "d1 list --json",
      "queues list --page 1",
      "queues list --page 2",
      "queues create allmine-auth-events-dlq",
    ]);
    const written = readFileSync(`${dir}/wrangler.toml`, "utf8");
    // Exactly production's two placeholders replaced: development's stay.
    assert.equal(
      written,
      original
        .replace('id = "REPLACE_WITH_PRODUCTION_KV_NAMESPACE_ID"', 'id = "3f7a0c9e1b2d4e6f8a0b1c2d3e4f5a6b"')
        .replace('database_id = "REPLACE_WITH_PRODUCTION_D1_DATABASE_ID"', 'database_id = "9b1e6c3a-7d24-4f58-a0c2-3e5f7a9b1d40"'),
    );
    assert.match(written, /REPLACE_WITH_DEVELOPMENT_KV_NAMESPACE_ID/);
    assert.match(first.out, /created KV namespace allmine-auth-OTP_CODES/);
    assert.match(first.out, /created queue allmine-auth-events-dlq/);

    const second = setupIn(dir, "production");
    assert.equal(second.status, 0, second.err);
    assert.ok(!second.calls.some((c) => c.includes("create")), second.calls.join("\n"));
    assert.equal(readFileSync(`${dir}/wrangler.toml`, "utf8"), written, "byte-identical");
    assert.match(second.out, /nothing to do/);
  });
});

test("setup finds what already exists by name instead of creating it again", () => {
  withCopy((dir) => {
    // The namespace and database exist (created earlier, ids never pasted in).
    writeFileSync(`${dir}/calls.log`, "kv namespace create\nd1 create\nqueues create\n");
    const run = setupIn(dir, "production");
    assert.equal(run.status, 0, run.err);
    assert.ok(!run.calls.some((c) => c.includes("create")), run.calls.join("\n"));
    assert.match(readFileSync(`${dir}/wrangler.toml`, "utf8"), /id = "3f7a0c9e1b2d4e6f8a0b1c2d3e4f5a6b"/);
    assert.match(run.out, /found KV namespace allmine-auth-OTP_CODES/);
  });
});

test("setup refuses an environment wrangler.toml does not define, naming those it does", () => {
  withCopy((dir) => {
    const run = setupIn(dir, "staging");
    assert.equal(run.status, 1);
    assert.match(run.err, /no environment "staging" .*known: development production/);
    assert.deepEqual(run.calls, []);
  });
});

test("setBindingId edits only the named environment's binding, or says it cannot", () => {
  const toml = [
    "[[env.a.kv_namespaces]]",
    'binding = "X"',
    'id = "REPLACE_WITH_A"',
    "",
    "[[env.b.kv_namespaces]]",
    'binding = "X"',
    'id = "REPLACE_WITH_B" ',
  ].join("\n");
  assert.equal(setBindingId(toml, "b", "kv_namespaces", "X", "id", "new"), toml.replace('id = "REPLACE_WITH_B" ', 'id = "new"'));
  assert.throws(() => setBindingId(toml, "c", "kv_namespaces", "X", "id", "new"), /no id line for X under \[\[env\.c\.kv_namespaces\]\]/);
});
