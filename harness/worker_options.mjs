// Miniflare options for the built worker, read from wrangler.toml the way
// wrangler reads them: one place for the tests and the benchmark.
import { unstable_getMiniflareWorkerOptions } from "wrangler";

export const ROOT = new URL("../", import.meta.url).pathname;

export function builtWorkerOptions() {
  const { workerOptions } = unstable_getMiniflareWorkerOptions(`${ROOT}wrangler.toml`);
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
