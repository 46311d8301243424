// Miniflare options for the built worker, read from wrangler.toml the way
// wrangler reads them: one place for the tests and the benchmark.
import { existsSync, readFileSync } from "node:fs";
import { unstable_getMiniflareWorkerOptions } from "wrangler";

export const ROOT = new URL("../", import.meta.url).pathname;

/** A top-level table of wrangler.toml's text (`build`, `assets`), up to the next table or comment. */
const table = (name) => new RegExp(`^\\[${name}\\]\\n(?:[^[\\n].*\\n|\\n)*?(?=\\n\\[|\\n#)`, "m");

/** wrangler.toml's text without the table `name`; throws if it had none. */
export function withoutTable(text, name) {
  if (!table(name).test(text)) throw new Error(`no [${name}] table in wrangler.toml`);
  return text.replace(table(name), "");
}

/**
 * Our `[assets]` table for another worker (the reference, in the bench): the
 * same files by absolute path and the same `run_worker_first`, without our
 * binding or comments, so both pay workerd's assets router alike.
 */
export function assetsTableFor(text) {
  const assets = text.match(table("assets"))?.[0];
  if (!assets?.includes("run_worker_first")) throw new Error("no [assets] table with run_worker_first in wrangler.toml");
  return assets
    .replace(/^directory = .*$/m, `directory = ${JSON.stringify(`${ROOT}build/assets`)}`)
    .replace(/^(?:binding = |#).*\n/gm, "");
}

/**
 * The names a developer's `.dev.vars` sets (local secrets for `npm run dev`).
 * wrangler merges them into the bindings; a test must not see them, or it
 * would depend on what `npm run dev` once generated on this machine.
 */
function devVarNames() {
  const file = `${ROOT}.dev.vars`;
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .map((line) => /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(line)?.[1])
    .filter(Boolean);
}

/**
 * `devVars`: keep what `.dev.vars` sets (the bench runs the worker as `npm
 * run dev` does); tests leave it out and set their own secrets.
 */
export function builtWorkerOptions({ devVars = false } = {}) {
  const { workerOptions } = unstable_getMiniflareWorkerOptions(`${ROOT}wrangler.toml`);
  if (!devVars) for (const name of devVarNames()) delete workerOptions.bindings?.[name];
  return {
    ...workerOptions,
    rootPath: ROOT,
    scriptPath: "worker/entry.mjs",
    modules: true,
    modulesRoot: ROOT,
    // worker-build emits ES modules with a .js extension (build/package.json says
    // "type": "module", which Miniflare does not read).
    modulesRules: [
      { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
  };
}
